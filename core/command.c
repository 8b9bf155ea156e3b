/*
 * command.c - the lines written into a lock file (see command.h).
 *
 * The whole write is checked before anything is taken from it, so a bad
 * line anywhere leaves the lock unchanged.
 */
#include "command.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "duration.h"

const char *keepalive_name(enum keepalive k)
{
	return k == KEEPALIVE_OFF ? "off" : "session";
}

int keepalive_parse(const char *s, size_t len, enum keepalive *out)
{
	if (len == 7 && memcmp(s, "session", 7) == 0)
		*out = KEEPALIVE_SESSION;
	else if (len == 3 && memcmp(s, "off", 3) == 0)
		*out = KEEPALIVE_OFF;
	else
		return -EINVAL;
	return 0;
}

static bool starts_with(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

static int add_note_line(struct command *cmd, const char *line, size_t len)
{
	size_t need = cmd->note_len + (cmd->has_note ? 1 : 0) + len;

	if (need > COMMAND_NOTE_MAX)
		return -EINVAL;
	if (cmd->has_note)
		cmd->note[cmd->note_len++] = '\n';
	memcpy(cmd->note + cmd->note_len, line, len);
	cmd->note_len += len;
	cmd->note[cmd->note_len] = '\0';
	cmd->has_note = true;
	return 0;
}

int signal_parse(const char *s, size_t len, int *sig)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = {
		{"none", 0},     {"HUP", SIGHUP},   {"INT", SIGINT},
		{"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
		{"USR2", SIGUSR2}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
		{"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
		{"PWR", SIGPWR},
	};

	if (len > 3 && memcmp(s, "SIG", 3) == 0) {
		s += 3;
		len -= 3;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == len &&
		    memcmp(names[i].name, s, len) == 0) {
			*sig = names[i].sig;
			return 0;
		}
	return -EINVAL;
}

static int parse_line(struct command *cmd, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return 0;
	if (starts_with(line, len, "ttl=")) {
		if (cmd->has_ttl)
			return -EINVAL;
		cmd->has_ttl = true;
		return duration_parse_ttl(line + 4, len - 4, &cmd->ttl_ms);
	}
	if (starts_with(line, len, "keepalive=")) {
		if (cmd->has_keepalive)
			return -EINVAL;
		cmd->has_keepalive = true;
		return keepalive_parse(line + 10, len - 10, &cmd->keepalive);
	}
	if (starts_with(line, len, "onlost=")) {
		if (cmd->has_onlost)
			return -EINVAL;
		cmd->has_onlost = true;
		return signal_parse(line + 7, len - 7, &cmd->onlost);
	}
	if (starts_with(line, len, "lock_delay=")) {
		if (cmd->has_lock_delay)
			return -EINVAL;
		cmd->has_lock_delay = true;
		if (len == 12 && line[11] == '0') {
			cmd->lock_delay_ms = 0;
			return 0;
		}
		return duration_parse(line + 11, len - 11, &cmd->lock_delay_ms);
	}
	return add_note_line(cmd, line, len);
}

int command_parse(const char *buf, size_t len, struct command *cmd)
{
	size_t start = 0;

	memset(cmd, 0, sizeof(*cmd));
	if (len > COMMAND_WRITE_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = buf[i];

		bool line_end_cr = c == '\r' && (i + 1 == len ||
						  buf[i + 1] == '\n');

		/* control bytes are refused; a CR only ends a line (CRLF) */
		if ((c < 0x20 && c != '\t' && c != '\n' && !line_end_cr) ||
		    c == 0x7f)
			return -EINVAL;
	}
	while (start < len) {
		const char *nl = memchr(buf + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - buf) : len;
		int err = parse_line(cmd, buf + start, end - start);

		if (err < 0) {
			memset(cmd, 0, sizeof(*cmd));
			return -EINVAL;
		}
		start = end + 1;
	}
	return 0;
}
