/*
 * test_command.c - durations and the write commands of the README.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"
#include "duration.h"

static int64_t ms_of(const char *s)
{
	int64_t ms = -1;

	assert_int_equal(duration_parse(s, strlen(s), &ms), 0);
	return ms;
}

static int parse_err(const char *s)
{
	int64_t ms;

	return duration_parse(s, strlen(s), &ms);
}

static void test_durations(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(ms_of("500ms"), 500);
	assert_int_equal(ms_of("30s"), 30000);
	assert_int_equal(ms_of("5m"), 300000);
	assert_int_equal(ms_of("24h"), 86400000);
	assert_int_equal(ms_of("2d"), 172800000);
	assert_int_equal(ms_of("1h30m"), 5400000);
	assert_int_equal(ms_of("1.5s"), 1500);
	assert_int_equal(ms_of("30"), 30000);
	assert_int_equal(ms_of("0.25m"), 15000);
	assert_int_equal(parse_err(""), -EINVAL);
	assert_int_equal(parse_err("banana"), -EINVAL);
	assert_int_equal(parse_err("5x"), -EINVAL);
	assert_int_equal(parse_err("-1s"), -EINVAL);
	assert_int_equal(parse_err("1.0001ms"), -EINVAL);
	/* the fraction must not overflow what the whole part left */
	assert_int_equal(parse_err("9223372036854775.9s"), -EINVAL);
	assert_int_equal(parse_err("106751991167.9d"), -EINVAL);
	assert_int_equal(parse_err("1s 2s"), -EINVAL);
	assert_int_equal(parse_err("s"), -EINVAL);
	assert_int_equal(parse_err("1m30"), -EINVAL);
	assert_int_equal(parse_err("99999999999999999999d"), -EINVAL);
	assert_int_equal(parse_err("9999999999999999d"), -EINVAL);
	assert_int_equal(duration_parse_ttl("50ms", 4, &(int64_t){0}),
			 -EINVAL);
	assert_int_equal(duration_parse_ttl("31d", 3, &(int64_t){0}),
			 -EINVAL);
	assert_int_equal(duration_parse_ttl("100ms", 5, &(int64_t){0}), 0);
	assert_int_equal(duration_format(15000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "15s");
	assert_int_equal(duration_format(500, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "500ms");
	assert_int_equal(duration_format(5400000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1h30m");
	assert_int_equal(duration_format(1500, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1500ms");
	assert_int_equal(duration_format(3600000, buf, 2), -ENOSPC);
}

static struct command parse_ok(const char *s)
{
	struct command c;

	assert_int_equal(command_parse(s, strlen(s), &c), 0);
	return c;
}

static int parse_bad(const char *s, size_t len)
{
	struct command c;

	return command_parse(s, len, &c);
}

static void test_commands(void **state)
{
	struct command c;
	char big[COMMAND_NOTE_MAX + 2];

	(void)state;
	c = parse_ok("ttl=30s\r\n");
	assert_int_equal(c.ttl_ms, 30000);
	assert_int_equal(parse_bad("a\rb", 3), -EINVAL); /* CR only ends lines */
	c = parse_ok("ttl=30s\n");
	assert_true(c.has_ttl);
	assert_int_equal(c.ttl_ms, 30000);
	assert_false(c.has_note);
	assert_false(c.has_keepalive);
	c = parse_ok("keepalive=off");
	assert_true(c.has_keepalive);
	assert_int_equal(c.keepalive, KEEPALIVE_OFF);
	c = parse_ok("4242\n");
	assert_true(c.has_note);
	assert_string_equal(c.note, "4242");
	c = parse_ok("ttl=5m\nbackup\nof db1\nkeepalive=session\n");
	assert_int_equal(c.ttl_ms, 300000);
	assert_int_equal(c.keepalive, KEEPALIVE_SESSION);
	assert_string_equal(c.note, "backup\nof db1");
	c = parse_ok("");
	assert_false(c.has_ttl || c.has_note || c.has_keepalive);
	c = parse_ok("\n\n");
	assert_false(c.has_note);
	c = parse_ok("a=b\tc");
	assert_string_equal(c.note, "a=b\tc");
	assert_int_equal(parse_bad("ttl=banana", 10), -EINVAL);
	assert_int_equal(parse_bad("ttl=", 4), -EINVAL);
	assert_int_equal(parse_bad("ttl=10ms", 8), -EINVAL); /* too short */
	assert_int_equal(parse_bad("keepalive=maybe", 15), -EINVAL);
	assert_int_equal(parse_bad("ttl=1s\nttl=2s", 13), -EINVAL);
	assert_int_equal(parse_bad("a\0b", 3), -EINVAL);
	assert_int_equal(parse_bad("a\x01", 2), -EINVAL);
	assert_int_equal(parse_bad("a\x7f", 2), -EINVAL);
	memset(big, 'x', sizeof(big));
	c = (struct command){0};
	assert_int_equal(command_parse(big, COMMAND_NOTE_MAX, &c), 0);
	assert_int_equal(c.note_len, COMMAND_NOTE_MAX);
	assert_int_equal(parse_bad(big, COMMAND_NOTE_MAX + 1), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
