/*
 * test_metrics.c - the Prometheus text of a node's counters: the series
 * per namespace (how long holds lasted, the oldest hold now), their cap
 * and label escaping, and the hand-over histogram.
 *
 * With LOCKFS_METRICS_OUT set, the text of the first test is also written
 * to that file, for `promtool check metrics` or tests/lib/promcheck.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static char *render(const struct metrics *m, const struct metrics_now *now)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(metrics_render(m, now, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	return text;
}

static void assert_has(const char *text, const char *line)
{
	if (strstr(text, line) == NULL)
		fail_msg("not in the text: %s", line);
}

static void assert_lacks(const char *text, const char *part)
{
	if (strstr(text, part) != NULL)
		fail_msg("in the text: %s", part);
}

static void write_out(const char *text)
{
	const char *path = getenv("LOCKFS_METRICS_OUT");
	FILE *f;

	if (path == NULL)
		return;
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void no_holds(double *oldest_s)
{
	for (size_t i = 0; i < METRICS_NS_SLOTS; i++)
		oldest_s[i] = -1;
}

static void test_holds_by_namespace(void **state)
{
	struct metrics m = {0};
	struct metrics_histogram handoff = {0};
	double oldest_s[METRICS_NS_SLOTS];
	struct metrics_now now = {.node = "n1", .amqp_up = 1,
				  .oldest_hold_s = oldest_s,
				  .handoff = &handoff};
	char *text;

	(void)state;
	metrics_hold_ended(&m, "", 0.5);
	metrics_hold_ended(&m, "a/b", 30);
	metrics_hold_ended(&m, "a/b", 7200);
	no_holds(oldest_s);
	oldest_s[metrics_namespace(&m, "a/b")] = 12.5;
	oldest_s[metrics_namespace(&m, "c")] = 3; /* held, never ended */
	metrics_handoff(&handoff, 0.02);
	metrics_wait(&m, 0.2);
	text = render(&m, &now);
	write_out(text);
	assert_has(text, "# HELP lockfs_hold_seconds ");
	assert_has(text, "# TYPE lockfs_hold_seconds histogram\n");
	assert_has(text, "\nlockfs_hold_seconds_bucket{node=\"n1\","
			 "namespace=\"/\",le=\"0.1\"} 0\n");
	assert_has(text, "\nlockfs_hold_seconds_bucket{node=\"n1\","
			 "namespace=\"/\",le=\"1\"} 1\n");
	assert_has(text, "\nlockfs_hold_seconds_bucket{node=\"n1\","
			 "namespace=\"/a/b\",le=\"60\"} 1\n");
	assert_has(text, "\nlockfs_hold_seconds_bucket{node=\"n1\","
			 "namespace=\"/a/b\",le=\"14400\"} 2\n");
	assert_has(text, "\nlockfs_hold_seconds_bucket{node=\"n1\","
			 "namespace=\"/a/b\",le=\"86400\"} 2\n");
	assert_has(text, "\nlockfs_hold_seconds_bucket{node=\"n1\","
			 "namespace=\"/a/b\",le=\"+Inf\"} 2\n");
	assert_has(text, "\nlockfs_hold_seconds_sum{node=\"n1\","
			 "namespace=\"/a/b\"} 7230\n");
	assert_has(text, "\nlockfs_hold_seconds_count{node=\"n1\","
			 "namespace=\"/a/b\"} 2\n");
	assert_has(text, "\nlockfs_hold_seconds_count{node=\"n1\","
			 "namespace=\"/c\"} 0\n");
	assert_lacks(text, "namespace=\"other\"");
	assert_has(text, "# TYPE lockfs_oldest_hold_seconds gauge\n");
	assert_has(text, "\nlockfs_oldest_hold_seconds{node=\"n1\","
			 "namespace=\"/a/b\"} 12.5\n");
	assert_has(text, "\nlockfs_oldest_hold_seconds{node=\"n1\","
			 "namespace=\"/c\"} 3\n");
	/* the root holds nothing now */
	assert_lacks(text, "lockfs_oldest_hold_seconds{node=\"n1\","
			   "namespace=\"/\"}");
	assert_has(text, "# TYPE lockfs_handoff_seconds histogram\n");
	assert_has(text, "\nlockfs_handoff_seconds_bucket{node=\"n1\","
			 "le=\"0.01\"} 0\n");
	assert_has(text, "\nlockfs_handoff_seconds_bucket{node=\"n1\","
			 "le=\"0.025\"} 1\n");
	assert_has(text, "\nlockfs_handoff_seconds_bucket{node=\"n1\","
			 "le=\"10\"} 1\n");
	assert_has(text, "\nlockfs_handoff_seconds_count{node=\"n1\"} 1\n");
	/* the rest is as before */
	assert_has(text, "\nlockfs_acquire_wait_seconds_count{node=\"n1\"} 1\n");
	assert_has(text, "\nlockfs_amqp_up{node=\"n1\"} 1\n");
	free(text);
	metrics_clear(&m);
}

/* No hold met yet: the families are announced, with no series. */
static void test_nothing_held_yet(void **state)
{
	struct metrics m = {0};
	double oldest_s[METRICS_NS_SLOTS];
	struct metrics_now now = {.node = "n1", .amqp_up = -1,
				  .oldest_hold_s = oldest_s};
	char *text;

	(void)state;
	no_holds(oldest_s);
	text = render(&m, &now);
	assert_has(text, "# TYPE lockfs_hold_seconds histogram\n");
	assert_lacks(text, "lockfs_hold_seconds_bucket");
	assert_lacks(text, "lockfs_oldest_hold_seconds{");
	assert_lacks(text, "lockfs_handoff_seconds"); /* no wait queue */
	free(text);
}

/* The first 64 namespaces keep their own series; the rest are "other". */
static void test_namespaces_are_capped(void **state)
{
	struct metrics m = {0};
	struct metrics_now now = {.node = "n1", .amqp_up = -1};
	char ns[32], *text;

	(void)state;
	for (int i = 0; i < METRICS_NAMESPACES_MAX + 6; i++) {
		snprintf(ns, sizeof(ns), "ns%d", i);
		metrics_hold_ended(&m, ns, 1);
	}
	assert_int_equal(metrics_namespace(&m, "ns0"), 0);
	assert_int_equal(metrics_namespace(&m, "ns63"), 63);
	assert_int_equal(metrics_namespace(&m, "ns64"), METRICS_NS_OTHER);
	assert_int_equal(metrics_namespace(&m, "new"), METRICS_NS_OTHER);
	/* a namespace called "other" is not the rest's series */
	metrics_hold_ended(&m, "other", 2);
	text = render(&m, &now);
	assert_has(text, "\nlockfs_hold_seconds_count{node=\"n1\","
			 "namespace=\"/ns63\"} 1\n");
	assert_lacks(text, "namespace=\"/ns64\"");
	assert_has(text, "\nlockfs_hold_seconds_count{node=\"n1\","
			 "namespace=\"other\"} 7\n");
	assert_lacks(text, "namespace=\"/other\"");
	free(text);
	metrics_clear(&m);
	/* cleared: it counts again from nothing */
	assert_int_equal(metrics_namespace(&m, "ns64"), 0);
	metrics_clear(&m);
}

/* Quotes, backslashes and newlines are escaped; a name that is not
 * UTF-8, which the format cannot carry, is counted as "other". */
static void test_namespace_labels(void **state)
{
	struct metrics m = {0};
	struct metrics_now now = {.node = "n1", .amqp_up = -1};
	char *text;

	(void)state;
	metrics_hold_ended(&m, "q\"b\\s\nl", 1);
	metrics_hold_ended(&m, "caf\xc3\xa9/\xe2\x82\xac", 1);
	assert_int_equal(metrics_namespace(&m, "\xff"), METRICS_NS_OTHER);
	assert_int_equal(metrics_namespace(&m, "a\xc3"), METRICS_NS_OTHER);
	assert_int_equal(metrics_namespace(&m, "\xc0\xaf"), METRICS_NS_OTHER);
	assert_int_equal(metrics_namespace(&m, "\xed\xa0\x80"),
			 METRICS_NS_OTHER);
	assert_int_equal(metrics_namespace(&m, "\xf4\x90\x80\x80"),
			 METRICS_NS_OTHER);
	assert_int_equal(metrics_namespace(&m, "\xf0\x9f\x94\x92"), 2);
	text = render(&m, &now);
	assert_has(text, "namespace=\"/q\\\"b\\\\s\\nl\",le=\"1\"} 1\n");
	assert_has(text, "namespace=\"/caf\xc3\xa9/\xe2\x82\xac\",le=\"1\"} 1\n");
	free(text);
	metrics_clear(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_holds_by_namespace),
		cmocka_unit_test(test_nothing_held_yet),
		cmocka_unit_test(test_namespaces_are_capped),
		cmocka_unit_test(test_namespace_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
