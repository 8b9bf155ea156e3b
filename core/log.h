/*
 * log.h - the daemon's tiny logging API, after OpenBSD's log.c: log_warn()
 * appends strerror of the errno it is given, log_warnx() does not; there is
 * no fatal() here because only main() decides to exit.
 *
 * Messages go to stderr until log_to_syslog() or log_to_file() is called
 * (the daemon's log= option).  That switch and the verbosity are the only
 * process-wide state, set once at start-up before any other thread exists.
 */
#ifndef LOCKFS_LOG_H
#define LOCKFS_LOG_H

#include <stdbool.h>

void log_setup(const char *ident, bool debug);
void log_to_syslog(void);
/* Append to file `path` from now on (line-buffered); 0 or -errno. */
int log_to_file(const char *path);

void log_warn(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
