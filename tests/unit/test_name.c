/*
 * test_name.c - lock names: every limit and reserved name of the README.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "name.h"

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void test_component_limits(void **state)
{
	char *c255 = repeat('a', 255), *c256 = repeat('a', 256);

	(void)state;
	assert_int_equal(name_check_component(c255, 255), 0);
	assert_int_equal(name_check_component(c256, 256), -ENAMETOOLONG);
	assert_int_equal(name_check_component("", 0), -EINVAL);
	assert_int_equal(name_check_component("a/b", 3), -EINVAL);
	assert_int_equal(name_check_component("a\0b", 3), -EINVAL);
	assert_int_equal(name_check_component(".", 1), -EINVAL);
	assert_int_equal(name_check_component("..", 2), -EINVAL);
	/* any other byte is legal */
	assert_int_equal(name_check_component("a\nb", 3), 0);
	assert_int_equal(name_check_component("\xff sp*#?.", 8), 0);
	assert_int_equal(name_check_component("...", 3), 0);
	free(c255);
	free(c256);
}

static void test_join_limits(void **state)
{
	char *path = NULL, *ns = strdup(""), *next, *c = repeat('b', 200);

	(void)state;
	assert_int_equal(name_join("", "a", &path), 0);
	assert_string_equal(path, "a");
	free(path);
	assert_int_equal(name_join("a/b", "c", &path), 0);
	assert_string_equal(path, "a/b/c");
	free(path);
	/* 32 components are fine, the 33rd is not */
	for (int i = 0; i < 32; i++) {
		assert_int_equal(name_join(ns, "d", &next), 0);
		free(ns);
		ns = next;
	}
	assert_int_equal(name_depth(ns), 32);
	assert_int_equal(name_join(ns, "e", &next), -ENAMETOOLONG);
	free(ns);
	/* 1024 bytes are fine, 1025 are not: 5 x 200 + 4 slashes = 1004 */
	ns = strdup("");
	for (int i = 0; i < 5; i++) {
		assert_int_equal(name_join(ns, c, &next), 0);
		free(ns);
		ns = next;
	}
	assert_int_equal(strlen(ns), 1004);
	assert_int_equal(name_join(ns, "0123456789012345678", &next), 0);
	assert_int_equal(strlen(next), 1024);
	free(next);
	assert_int_equal(name_join(ns, "01234567890123456789", &next),
			 -ENAMETOOLONG);
	free(ns);
	free(c);
}

static void test_nodes_and_parents(void **state)
{
	char *s = NULL;

	(void)state;
	assert_int_equal(name_lock_node("a/b/.lock", &s), 0);
	assert_string_equal(s, "a/b");
	free(s);
	assert_int_equal(name_lock_node(".lock", &s), 0);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(name_lock_node("a/b/c", &s), 0);
	assert_string_equal(s, "a/b/c");
	free(s);
	assert_int_equal(name_parent("a/b/c", &s), 0);
	assert_string_equal(s, "a/b");
	free(s);
	assert_int_equal(name_parent("a", &s), 0);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(name_parent("", &s), -EINVAL);
	assert_string_equal(name_base("a/b/c"), "c");
	assert_string_equal(name_base("c"), "c");
	assert_true(name_is_dir_lock(".lock"));
	assert_false(name_is_dir_lock(".locks"));
}

static void test_ancestors_and_relations(void **state)
{
	size_t lens[8];

	(void)state;
	assert_int_equal(name_ancestor_lengths("a/bb/c", lens, 8), 3);
	assert_int_equal(lens[0], 0);
	assert_int_equal(lens[1], 1);
	assert_int_equal(lens[2], 4);
	assert_int_equal(name_ancestor_lengths("", lens, 8), 0);
	assert_true(name_nodes_related("a", "a/b"));
	assert_true(name_nodes_related("a/b", "a"));
	assert_true(name_nodes_related("", "x/y"));
	assert_true(name_nodes_related("a/b", "a/b"));
	assert_false(name_nodes_related("a/b", "a/bc"));
	assert_false(name_nodes_related("a/b", "a/c"));
}

static void test_user_paths(void **state)
{
	char *s = NULL;

	(void)state;
	assert_int_equal(name_parse_user_path("/db/orders", 10, &s), 0);
	assert_string_equal(s, "db/orders");
	free(s);
	assert_int_equal(name_parse_user_path("cfg/.lock", 9, &s), 0);
	assert_string_equal(s, "cfg/.lock");
	free(s);
	assert_int_equal(name_parse_user_path("/.lock", 6, &s), 0);
	assert_string_equal(s, ".lock");
	free(s);
	assert_int_equal(name_parse_user_path("a//b", 4, &s), -EINVAL);
	assert_int_equal(name_parse_user_path("a/../b", 6, &s), -EINVAL);
	assert_int_equal(name_parse_user_path("a/./b", 5, &s), -EINVAL);
	assert_int_equal(name_parse_user_path(".lockfs/x", 9, &s), -EINVAL);
	assert_int_equal(name_parse_user_path("a/.lock/b", 9, &s), -EINVAL);
	assert_int_equal(name_parse_user_path("a/", 2, &s), -EINVAL);
	assert_int_equal(name_parse_user_path("", 0, &s), -EINVAL);
	assert_int_equal(name_parse_user_path("/", 1, &s), -EINVAL);
}

static void test_escape(void **state)
{
	char *s;

	(void)state;
	s = name_escape("a\\b\nc\td\x01\x7f\xc3\xa9", 11);
	assert_string_equal(s, "a\\\\b\\nc\\td\\x01\\x7f\xc3\xa9");
	free(s);
	s = name_escape("", 0);
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_component_limits),
		cmocka_unit_test(test_join_limits),
		cmocka_unit_test(test_nodes_and_parents),
		cmocka_unit_test(test_ancestors_and_relations),
		cmocka_unit_test(test_user_paths),
		cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
