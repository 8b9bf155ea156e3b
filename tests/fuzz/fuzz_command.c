/*
 * fuzz_command.c - libFuzzer target for core/command.c.
 *
 * The input is one write() to a lock file.  A model of command.h's rules
 * (lines; "ttl=", "keepalive=" and "lock_delay=" lines at most once each and well
 * formed; every other non-empty line joined into the note, at most
 * COMMAND_NOTE_MAX bytes; control bytes refused; at most COMMAND_WRITE_MAX
 * bytes) decides whether command_parse() must accept it and what the
 * result must be, field by field.  A CR is allowed only as a line's last
 * byte ("ttl=5s\r\n"), where it is taken off; anywhere else it is refused
 * like every control byte but tab and newline.
 * keepalive_parse() is checked on the raw input too.
 */
#include <errno.h>
#include <stdbool.h>

#include "command.h"
#include "duration.h"
#include "fuzz.h"

static bool has_prefix(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && memcmp(s, p, n) == 0;
}

/* The model; 0 and `*want` filled, or -EINVAL. */
static int model_parse(const char *buf, size_t len, struct command *want)
{
	size_t start = 0;

	memset(want, 0, sizeof(*want));
	if (len > COMMAND_WRITE_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = buf[i];

		if (c == '\r' && i + 1 < len && buf[i + 1] != '\n')
			return -EINVAL;
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    c == 0x7f)
			return -EINVAL;
	}
	while (start < len) {
		const char *nl = memchr(buf + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - buf) : len;
		const char *line = buf + start;
		size_t n = end - start;

		start = end + 1;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		if (has_prefix(line, n, "ttl=")) {
			if (want->has_ttl ||
			    duration_parse_ttl(line + 4, n - 4, &want->ttl_ms))
				return -EINVAL;
			want->has_ttl = true;
		} else if (has_prefix(line, n, "keepalive=")) {
			if (want->has_keepalive)
				return -EINVAL;
			if (n == 17 && memcmp(line + 10, "session", 7) == 0)
				want->keepalive = KEEPALIVE_SESSION;
			else if (n == 13 && memcmp(line + 10, "off", 3) == 0)
				want->keepalive = KEEPALIVE_OFF;
			else
				return -EINVAL;
			want->has_keepalive = true;
		} else if (has_prefix(line, n, "onlost=")) {
			if (want->has_onlost ||
			    signal_parse(line + 7, n - 7, &want->onlost))
				return -EINVAL;
			want->has_onlost = true;
		} else if (has_prefix(line, n, "lock_delay=")) {
			if (want->has_lock_delay)
				return -EINVAL;
			if (n == 12 && line[11] == '0')
				want->lock_delay_ms = 0;
			else if (duration_parse(line + 11, n - 11,
						&want->lock_delay_ms))
				return -EINVAL;
			want->has_lock_delay = true;
		} else {
			size_t sep = want->has_note ? 1 : 0;

			if (want->note_len + sep + n > COMMAND_NOTE_MAX)
				return -EINVAL;
			if (sep)
				want->note[want->note_len++] = '\n';
			memcpy(want->note + want->note_len, line, n);
			want->note_len += n;
			want->has_note = true;
		}
	}
	return 0;
}

static void check_keepalive(const char *s, size_t len)
{
	enum keepalive k = (enum keepalive)42;
	bool session = len == 7 && memcmp(s, "session", 7) == 0;
	bool off = len == 3 && memcmp(s, "off", 3) == 0;
	int err = keepalive_parse(s, len, &k);

	if (session || off) {
		FUZZ_CHECK(err == 0);
		FUZZ_CHECK(k == (session ? KEEPALIVE_SESSION : KEEPALIVE_OFF));
		FUZZ_CHECK(strcmp(keepalive_name(k),
				  session ? "session" : "off") == 0);
	} else {
		FUZZ_CHECK(err == -EINVAL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_exact(data, size);
	struct command *cmd = malloc(sizeof(*cmd));
	struct command *want = malloc(sizeof(*want));
	int err, model;

	FUZZ_CHECK(cmd != NULL && want != NULL);
	model = model_parse(buf, size, want);
	err = command_parse(buf, size, cmd);
	FUZZ_CHECK(err == model);
	if (err == 0) {
		FUZZ_CHECK(cmd->has_ttl == want->has_ttl);
		if (cmd->has_ttl) {
			FUZZ_CHECK(cmd->ttl_ms == want->ttl_ms);
			FUZZ_CHECK(cmd->ttl_ms >= DURATION_TTL_MIN_MS &&
				   cmd->ttl_ms <= DURATION_TTL_MAX_MS);
		}
		FUZZ_CHECK(cmd->has_keepalive == want->has_keepalive);
		if (cmd->has_keepalive)
			FUZZ_CHECK(cmd->keepalive == want->keepalive);
		FUZZ_CHECK(cmd->has_onlost == want->has_onlost);
		if (cmd->has_onlost)
			FUZZ_CHECK(cmd->onlost == want->onlost && cmd->onlost >= 0);
		FUZZ_CHECK(cmd->has_lock_delay == want->has_lock_delay);
		if (cmd->has_lock_delay)
			FUZZ_CHECK(cmd->lock_delay_ms == want->lock_delay_ms &&
				   cmd->lock_delay_ms >= 0);
		FUZZ_CHECK(cmd->has_note == want->has_note);
		FUZZ_CHECK(cmd->note_len == want->note_len);
		FUZZ_CHECK(cmd->note_len <= COMMAND_NOTE_MAX);
		FUZZ_CHECK(cmd->note[cmd->note_len] == '\0');
		FUZZ_CHECK(strlen(cmd->note) == cmd->note_len);
		FUZZ_CHECK(memcmp(cmd->note, want->note, want->note_len) == 0);
		if (cmd->has_note)
			FUZZ_CHECK(cmd->note_len > 0 && cmd->note[0] != '\n' &&
				   cmd->note[cmd->note_len - 1] != '\n');
	}
	check_keepalive(buf, size);
	free(want);
	free(cmd);
	free(buf);
	return 0;
}
