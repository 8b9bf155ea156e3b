/*
 * command.h - the small language written into a lock file (the README,
 * "Renew").
 *
 * A write is split into lines (a missing final newline is fine).  A line
 * "ttl=DURATION" sets the lease length; "keepalive=session" or
 * "keepalive=off" sets keepalive; "lock_delay=DURATION" (or "0") how long
 * the lock stays unavailable to others once this hold expires;
 * "onlost=SIGNAL" (signal_parse) what its holder gets when it is lost;
 * every other
 * non-empty line is part of the holder's note.  Note lines are joined with "\n" (no trailing newline); an
 * empty write or a write of only empty lines only renews.
 *
 * Refused with -EINVAL, so that the lock stays unchanged: a malformed ttl=,
 * keepalive= or lock_delay= value, a repeated such line, a note over
 * COMMAND_NOTE_MAX bytes, a write with a NUL byte or other control bytes
 * (anything below 0x20 but tab and newline, and 0x7f), a write over
 * COMMAND_WRITE_MAX bytes.
 */
#ifndef LOCKFS_COMMAND_H
#define LOCKFS_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COMMAND_NOTE_MAX 1024
#define COMMAND_WRITE_MAX 4096

enum keepalive {
	KEEPALIVE_SESSION = 0,
	KEEPALIVE_OFF = 1,
};

struct command {
	bool has_ttl;
	int64_t ttl_ms;
	bool has_keepalive;
	enum keepalive keepalive;
	bool has_lock_delay;
	int64_t lock_delay_ms;
	bool has_onlost;
	int onlost; /* a signal number, 0 for none */
	bool has_note;
	size_t note_len;
	char note[COMMAND_NOTE_MAX + 1]; /* NUL-terminated */
};

/*
 * A signal for onlost=: "none" (0), or a name with or without "SIG": HUP,
 * INT, QUIT, KILL, USR1, USR2, ALRM, TERM, CONT, STOP, TSTP, PWR.  0 or
 * -EINVAL.
 */
int signal_parse(const char *s, size_t len, int *sig);

/* Parse `len` bytes of `buf` into `*cmd`.  Returns 0 or -EINVAL. */
int command_parse(const char *buf, size_t len, struct command *cmd);

/* "session" / "off"; keepalive_parse returns 0 or -EINVAL. */
const char *keepalive_name(enum keepalive k);
int keepalive_parse(const char *s, size_t len, enum keepalive *out);

#endif
