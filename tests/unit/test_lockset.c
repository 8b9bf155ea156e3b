/*
 * test_lockset.c - lock-set lines (the README): what is accepted and
 * every way a line is refused with EINVAL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lockset.h"

static int parse(const char *line, struct lockset *set)
{
	return lockset_parse(line, strlen(line), set);
}

static void test_accepted(void **state)
{
	struct lockset set;

	(void)state;
	assert_int_equal(
		parse("db/customers /db/orders\tshared:cfg/.lock\n", &set), 0);
	assert_int_equal(set.n, 3);
	assert_string_equal(set.paths[0], "db/customers");
	assert_string_equal(set.paths[1], "db/orders");
	assert_string_equal(set.paths[2], "cfg/.lock");
	assert_int_equal(set.modes[0], LOCK_MODE_EXCLUSIVE);
	assert_int_equal(set.modes[2], LOCK_MODE_SHARED);
	lockset_clear(&set);
	/* related names are fine when both are shared */
	assert_int_equal(parse("shared:db/.lock shared:db/x", &set), 0);
	assert_int_equal(set.n, 2);
	lockset_clear(&set);
	assert_int_equal(parse("exclusive:x", &set), 0);
	assert_int_equal(set.modes[0], LOCK_MODE_EXCLUSIVE);
	lockset_clear(&set);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"", "\n", "   ", "a//b", "../x", "a/./b", ".lockfs/status",
		"a a", "db/.lock db/x", "shared:db/.lock db/x", "/.lock a",
		"a\nb", "a/.lock/b",
	};
	struct lockset set;
	char many[64 * 4 + 16] = "";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &set), -EINVAL);
		assert_int_equal(set.n, 0);
	}
	for (int i = 0; i < 65; i++) {
		char w[8];

		snprintf(w, sizeof(w), "%d ", i);
		strcat(many, w);
	}
	assert_int_equal(parse(many, &set), -EINVAL);
	many[strlen(many) - 3] = '\0'; /* 64 names */
	assert_int_equal(parse(many, &set), 0);
	assert_int_equal(set.n, 64);
	lockset_clear(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
