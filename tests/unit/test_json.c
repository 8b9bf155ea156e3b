/*
 * test_json.c - the JSON pieces of the HTTP endpoints (core/json.h) and
 * the bounded line queue of event readers (core/backlog.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backlog.h"
#include "json.h"

/* What one writer call puts out, as a C string the caller frees. */
struct out {
	char *buf;
	size_t size;
	FILE *f;
};

static void out_open(struct out *o)
{
	o->buf = NULL;
	o->size = 0;
	o->f = open_memstream(&o->buf, &o->size);
	assert_non_null(o->f);
}

static char *out_close(struct out *o)
{
	assert_int_equal(fclose(o->f), 0);
	return o->buf;
}

static void assert_string_as(const char *in, size_t len, const char *want)
{
	struct out o;
	char *got;

	out_open(&o);
	json_string(o.f, in, len);
	got = out_close(&o);
	assert_string_equal(got, want);
	free(got);
}

#define STRING_AS(lit, want) assert_string_as(lit, sizeof(lit) - 1, want)

static void test_strings(void **state)
{
	(void)state;
	STRING_AS("db/orders", "\"db/orders\"");
	STRING_AS("", "\"\"");
	STRING_AS("a\"b\\c", "\"a\\\"b\\\\c\"");
	STRING_AS("line\nnext", "\"line\\nnext\"");
	STRING_AS("\x01\x1f\x7f\t", "\"\\u0001\\u001f\\u007f\\u0009\"");
	STRING_AS("a\0b", "\"a\\u0000b\"");
	/* valid UTF-8 passes as it is: 2, 3 and 4 bytes */
	STRING_AS("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92",
		  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92\"");
	/* every byte that is not part of a valid sequence is U+FFFD */
	STRING_AS("\x80", "\"\\ufffd\"");                /* lone continuation */
	STRING_AS("\xc0\x80", "\"\\ufffd\\ufffd\"");     /* overlong NUL */
	STRING_AS("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""); /* overlong */
	STRING_AS("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
	STRING_AS("\xf4\x90\x80\x80",
		  "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* past U+10FFFF */
	STRING_AS("\xf5", "\"\\ufffd\"");
	STRING_AS("x\xe2\x82", "\"x\\ufffd\\ufffd\""); /* cut short */
	STRING_AS("\xe2\x82z", "\"\\ufffd\\ufffdz\"");
}

static void test_cstring_and_time(void **state)
{
	struct out o;
	char *got;

	(void)state;
	out_open(&o);
	json_cstring(o.f, NULL);
	fputc(' ', o.f);
	json_cstring(o.f, "n1");
	fputc(' ', o.f);
	json_time(o.f, 0);
	fputc(' ', o.f);
	json_time(o.f, 1795000000123);
	fputc(' ', o.f);
	json_time(o.f, 1500);
	fputc(' ', o.f);
	json_time(o.f, 7);
	got = out_close(&o);
	assert_string_equal(got, "null \"n1\" null 1795000000.123 1.500 0.007");
	free(got);
}

static void assert_kv_as(const char *text, const char *want)
{
	struct out o;
	char *got;

	out_open(&o);
	json_kv_object(o.f, text, strlen(text));
	got = out_close(&o);
	assert_string_equal(got, want);
	free(got);
}

static void test_kv_object(void **state)
{
	(void)state;
	assert_kv_as("", "{}");
	assert_kv_as("version=0.3.0\nnode=n1\nuptime=12\n",
		     "{\"version\":\"0.3.0\",\"node\":\"n1\",\"uptime\":12}");
	/* numbers as JSON takes them, anything else a string */
	assert_kv_as("a=1795000000.123\nb=-4\nc=0\nd=007\ne=1.\nf=.5\ng=1e3\nh=",
		     "{\"a\":1795000000.123,\"b\":-4,\"c\":0,\"d\":\"007\","
		     "\"e\":\"1.\",\"f\":\".5\",\"g\":\"1e3\",\"h\":\"\"}");
	/* a line without '=' is skipped; a value keeps further '=' */
	assert_kv_as("junk\nk=v=w", "{\"k\":\"v=w\"}");
	assert_kv_as("amqp_broker=\nhttp=127.0.0.1:9123",
		     "{\"amqp_broker\":\"\",\"http\":\"127.0.0.1:9123\"}");
}

static void test_backlog_order_and_bound(void **state)
{
	struct backlog *b;
	const char *line;
	size_t len;

	(void)state;
	assert_int_equal(backlog_new(2, &b), 0);
	assert_true(backlog_empty(b));
	assert_null(backlog_peek(b, &len));
	assert_int_equal(backlog_push(b, "one\n", 4), 0);
	assert_int_equal(backlog_push(b, "two\n", 4), 0);
	assert_false(backlog_empty(b));
	/* a third line drops the oldest: a slow reader loses the first */
	assert_int_equal(backlog_push(b, "three\n", 6), 0);
	line = backlog_peek(b, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(line, "two\n", 4);
	backlog_drop(b);
	line = backlog_peek(b, &len);
	assert_int_equal(len, 6);
	assert_memory_equal(line, "three\n", 6);
	backlog_drop(b);
	assert_true(backlog_empty(b));
	backlog_drop(b); /* dropping from an empty queue is harmless */
	/* an empty line is a line, and the copy is the queue's own */
	char mine[] = "mine";
	assert_int_equal(backlog_push(b, "", 0), 0);
	assert_int_equal(backlog_push(b, mine, 4), 0);
	mine[0] = 'X';
	assert_non_null(backlog_peek(b, &len));
	assert_int_equal(len, 0);
	backlog_drop(b);
	line = backlog_peek(b, &len);
	assert_memory_equal(line, "mine", 4);
	backlog_free(b);
	backlog_free(NULL);
}

static void test_backlog_many(void **state)
{
	struct backlog *b;
	char line[32], want[32];
	const char *got;
	size_t len;
	int n;

	(void)state;
	assert_int_equal(backlog_new(BACKLOG_EVENT_LINES, &b), 0);
	for (int i = 0; i < 3 * BACKLOG_EVENT_LINES; i++) {
		n = snprintf(line, sizeof(line), "%d\n", i);
		assert_int_equal(backlog_push(b, line, (size_t)n), 0);
	}
	/* exactly the newest BACKLOG_EVENT_LINES, oldest first */
	for (int i = 2 * BACKLOG_EVENT_LINES; i < 3 * BACKLOG_EVENT_LINES; i++) {
		n = snprintf(want, sizeof(want), "%d\n", i);
		got = backlog_peek(b, &len);
		assert_non_null(got);
		assert_int_equal(len, (size_t)n);
		assert_memory_equal(got, want, len);
		backlog_drop(b);
	}
	assert_true(backlog_empty(b));
	backlog_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_cstring_and_time),
		cmocka_unit_test(test_kv_object),
		cmocka_unit_test(test_backlog_order_and_bound),
		cmocka_unit_test(test_backlog_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
