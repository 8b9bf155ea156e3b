/*
 * test_info.c - the text of a lock file and of an event: both are user
 * interfaces documented in README.md, so they are checked to the byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "info.h"

static struct lock_holder holder(const char *node, unsigned uid,
				 enum lock_mode mode, const char *note)
{
	struct lock_holder h = {
		.id = strdup("x"), .node = strdup(node), .uid = uid,
		.gid = uid, .pid = 4242, .session = 4200,
		.kind = HOLDER_LEASE, .mode = mode, .token = 42,
		.acquired_ms = 1795000000123, .renewed_ms = 1795000010456,
		.expires_ms = 1795000025456, .ttl_ms = 15000,
		.keepalive = KEEPALIVE_SESSION,
		.note = note ? strdup(note) : NULL,
		.note_len = note ? strlen(note) : 0,
	};

	return h;
}

static void test_one_holder(void **state)
{
	struct lock_state st = {.name = strdup("db/orders"), .token = 42,
				.nholders = 1, .waiters = 3};
	char *text = NULL;
	size_t len = 0;

	(void)state;
	st.holders = calloc(1, sizeof(*st.holders));
	st.holders[0] = holder("n1", 1000, LOCK_MODE_EXCLUSIVE,
			       "nightly backup\nsecond line");
	assert_int_equal(info_format(&st, &text, &len), 0);
	assert_string_equal(text, "name=db/orders\n"
				  "mode=exclusive\n"
				  "token=42\n"
				  "holders=1\n"
				  "node=n1\n"
				  "uid=1000\n"
				  "gid=1000\n"
				  "pid=4242\n"
				  "session=4200\n"
				  "kind=lease\n"
				  "acquired=1795000000.123\n"
				  "renewed=1795000010.456\n"
				  "expires=1795000025.456\n"
				  "ttl=15s\n"
				  "keepalive=session\n"
				  "note=nightly backup\\nsecond line\n"
				  "waiters=3\n");
	assert_int_equal(len, strlen(text));
	free(text);
	lock_state_clear(&st);
	assert_null(st.holders);
}

static void test_shared_holders(void **state)
{
	struct lock_state st = {.name = strdup("cfg/.lock"), .token = 43,
				.mode = LOCK_MODE_SHARED, .nholders = 2};
	char *text = NULL;
	size_t len = 0;

	(void)state;
	st.holders = calloc(2, sizeof(*st.holders));
	st.holders[0] = holder("n1", 1000, LOCK_MODE_SHARED, NULL);
	st.holders[1] = holder("n2", 1001, LOCK_MODE_SHARED, "x");
	st.holders[1].kind = HOLDER_HANDLE;
	st.holders[1].keepalive = KEEPALIVE_OFF;
	st.holders[1].ttl_ms = 500;
	assert_int_equal(info_format(&st, &text, &len), 0);
	assert_non_null(strstr(text, "mode=shared\ntoken=43\nholders=2\n"
				     "node=n1\n"));
	assert_non_null(strstr(text, "note=\nnode=n2\nuid=1001\n"));
	assert_non_null(strstr(text, "kind=handle\n"));
	assert_non_null(strstr(text, "ttl=500ms\nkeepalive=off\nnote=x\n"
				     "waiters=0\n"));
	free(text);
	lock_state_clear(&st);
}

static void test_event_line(void **state)
{
	char *line = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(event_format(1795000000123, "released", "db/my lock",
				      42, "n1", 1000, LOCK_MODE_EXCLUSIVE,
				      &line, &len),
			 0);
	assert_string_equal(
		line, "1795000000.123 released db/my\\x20lock 42 n1 1000 "
		      "exclusive\n");
	assert_int_equal(len, strlen(line));
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_holder),
		cmocka_unit_test(test_shared_holders),
		cmocka_unit_test(test_event_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
