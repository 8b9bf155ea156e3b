/*
 * test_recent.c - names seen free a moment ago (core/recent.h): fresh for
 * as long as asked and no longer, forgotten when taken, never confused
 * with another name, kept apart in many slots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "recent.h"

static void test_fresh_then_stale(void **state)
{
	struct recent *r = NULL;

	(void)state;
	assert_int_equal(recent_new(&r), 0);
	assert_false(recent_is_free(r, "a/b", 1000, 500));
	recent_saw_free(r, "a/b", 1000);
	assert_true(recent_is_free(r, "a/b", 1000, 500));
	assert_true(recent_is_free(r, "a/b", 1499, 500));
	assert_false(recent_is_free(r, "a/b", 1500, 500));
	recent_saw_free(r, "a/b", 2000); /* seen again: fresh again */
	assert_true(recent_is_free(r, "a/b", 2100, 500));
	recent_forget(r, "a/b");
	assert_false(recent_is_free(r, "a/b", 2100, 500));
	recent_free(r);
}

static void test_names_apart(void **state)
{
	struct recent *r = NULL;
	char name[32];
	int kept = 0;

	(void)state;
	assert_int_equal(recent_new(&r), 0);
	recent_saw_free(r, "x", 0);
	assert_false(recent_is_free(r, "y", 0, 500));
	assert_false(recent_is_free(r, "x/", 0, 500));
	recent_forget(r, "y"); /* another name: x stays */
	assert_true(recent_is_free(r, "x", 0, 500));
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "ns/%d", i);
		recent_saw_free(r, name, 0);
	}
	/* a name may be pushed out by another, never answered for it */
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "ns/%d", i);
		kept += recent_is_free(r, name, 0, 500);
	}
	assert_true(kept > 0 && kept <= 256);
	assert_false(recent_is_free(r, "ns/1000", 0, 500));
	recent_free(r);
	recent_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_then_stale),
		cmocka_unit_test(test_names_apart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
