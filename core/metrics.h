/*
 * metrics.h - this node's counters, rendered in the Prometheus text format
 * for /.lockfs/metrics (node_exporter's textfile collector, or any scraper
 * reading the file).
 *
 * The daemon counts into a `struct metrics` on its loop thread (no locks);
 * gauges (what holds now) are read from their owners when the file is
 * opened and passed in a `struct metrics_now`.
 *
 * Series per namespace (the directory a lock file is in) are kept for the
 * first METRICS_NAMESPACES_MAX namespaces a node meets; every later one
 * is counted under namespace="other", so that a tree of many namespaces
 * cannot multiply the series a scraper stores.
 */
#ifndef LOCKFS_METRICS_H
#define LOCKFS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_WAIT_BUCKETS 12
#define METRICS_RTT_BUCKETS 10
#define METRICS_HOLD_BUCKETS 9
#define METRICS_HANDOFF_BUCKETS 13
#define METRICS_BUCKETS_MAX 13 /* the most of any histogram here */

#define METRICS_NAMESPACES_MAX 64
/* The namespaces' slots: one each, then the slot of "other" */
#define METRICS_NS_SLOTS (METRICS_NAMESPACES_MAX + 1)
#define METRICS_NS_OTHER METRICS_NAMESPACES_MAX

enum metrics_event {
	METRICS_ACQUIRED,
	METRICS_RELEASED,
	METRICS_EXPIRED,
	METRICS_BROKEN,
	METRICS_OWNER_EXIT,
	METRICS_WAITING,
	METRICS_DEADLOCK,
	METRICS_NEVENTS,
};

/*
 * One histogram: buckets[i] counts the observations at most its i-th
 * bound (cumulative, as the text format wants them), `count` all of them.
 */
struct metrics_histogram {
	uint64_t buckets[METRICS_BUCKETS_MAX];
	uint64_t count;
	double sum_s;
};

struct metrics_namespace {
	char *name; /* "" for the root; NULL: the slot is free */
	struct metrics_histogram hold; /* how long its holds lasted */
};

struct metrics {
	uint64_t events[METRICS_NEVENTS];
	/* time from request to grant of every granted acquire */
	struct metrics_histogram wait;
	/* per namespace, in the order met; [METRICS_NS_OTHER]: the rest */
	struct metrics_namespace ns[METRICS_NS_SLOTS];
};

/* Gauges and counters owned elsewhere, read at render time. */
struct metrics_now {
	const char *node;
	size_t locks_held, waiters, event_readers;
	uint64_t grants, handoffs;
	int redis_up, amqp_up; /* 1 or 0; amqp_up -1 without a broker */
	uint64_t redis_calls, redis_errors, redis_timeouts, redis_reconnects;
	const struct metrics_histogram *redis_rtt; /* or NULL */
	uint64_t amqp_published, amqp_delivered, amqp_reconnects;
	uint64_t amqp_bindings;
	double uptime_s;
	/* the age of the oldest hold now, per slot of the metrics' ns[];
	 * negative: none; NULL: no such gauge */
	const double *oldest_hold_s;
	/* release-to-grant time of grants handed over, or NULL */
	const struct metrics_histogram *handoff;
};

/* Free what `m` owns (its namespaces' names); it can count again after. */
void metrics_clear(struct metrics *m);

/* Count one lock event by its README name ("acquired", "released", ...). */
void metrics_event(struct metrics *m, const char *event);

/* Count one granted acquire that took `seconds` from request to grant. */
void metrics_wait(struct metrics *m, double seconds);

/*
 * The slot of namespace `ns` ("" for the root) in m->ns: its own, a new
 * one while fewer than METRICS_NAMESPACES_MAX are taken, else (or when
 * its name cannot be copied) METRICS_NS_OTHER.
 */
size_t metrics_namespace(struct metrics *m, const char *ns);

/* Count one hold of a lock in namespace `ns` that lasted `seconds`. */
void metrics_hold_ended(struct metrics *m, const char *ns, double seconds);

/* Count one grant handed over `seconds` after its release (`h` is kept
 * by its owner, the wait queue). */
void metrics_handoff(struct metrics_histogram *h, double seconds);
/* One Redis call's round trip, into `h` (the store's). */
void metrics_rtt(struct metrics_histogram *h, double seconds);

/* The whole text into a new buffer.  0 or -ENOMEM. */
int metrics_render(const struct metrics *m, const struct metrics_now *now,
		   char **text, size_t *len);

#endif
