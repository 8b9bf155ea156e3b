/*
 * log.c - see log.h.  Writes one line per message, to stderr or syslog.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static struct {
	const char *ident;
	bool debug;
	bool syslog;
	FILE *file; /* NULL: stderr */
} log_conf = {"lockfs", false, false, NULL};

void log_setup(const char *ident, bool debug)
{
	log_conf.ident = ident;
	log_conf.debug = debug;
}

void log_to_syslog(void)
{
	openlog(log_conf.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_conf.syslog = true;
}

int log_to_file(const char *path)
{
	FILE *f = fopen(path, "ae");

	if (f == NULL)
		return -errno;
	setvbuf(f, NULL, _IOLBF, 0);
	log_conf.file = f;
	return 0;
}

static void log_vline(int prio, int err, const char *fmt, va_list ap)
{
	FILE *out = log_conf.file ? log_conf.file : stderr;
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_conf.syslog) {
		if (err)
			syslog(prio, "%s: %s", msg, strerror(err));
		else
			syslog(prio, "%s", msg);
		return;
	}
	if (err)
		fprintf(out, "%s: %s: %s\n", log_conf.ident, msg,
			strerror(err));
	else
		fprintf(out, "%s: %s\n", log_conf.ident, msg);
}

void log_warn(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_WARNING, err < 0 ? -err : err, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_conf.debug)
		return;
	va_start(ap, fmt);
	log_vline(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}
