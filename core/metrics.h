/*
 * metrics.h - this node's counters, rendered in the Prometheus text format
 * for /.lockfs/metrics (node_exporter's textfile collector, or any scraper
 * reading the file).
 *
 * The daemon counts into a `struct metrics` on its loop thread (no locks);
 * gauges (what holds now) are read from their owners when the file is
 * opened and passed in a `struct metrics_now`.
 */
#ifndef LOCKFS_METRICS_H
#define LOCKFS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_WAIT_BUCKETS 12
#define METRICS_RTT_BUCKETS 10

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

struct metrics {
	uint64_t events[METRICS_NEVENTS];
	/* time from request to grant of every granted acquire */
	uint64_t wait_buckets[METRICS_WAIT_BUCKETS];
	uint64_t wait_count;
	double wait_sum_s;
};

/* Gauges and counters owned elsewhere, read at render time. */
struct metrics_now {
	const char *node;
	size_t locks_held, waiters, event_readers;
	uint64_t grants, handoffs;
	int redis_up, amqp_up; /* 1 or 0; amqp_up -1 without a broker */
	uint64_t redis_calls, redis_errors, redis_timeouts, redis_reconnects;
	const uint64_t *redis_rtt_buckets; /* METRICS_RTT_BUCKETS, or NULL */
	double redis_rtt_sum_s;
	uint64_t amqp_published, amqp_delivered, amqp_reconnects;
	uint64_t amqp_bindings;
	double uptime_s;
};

/* Count one lock event by its README name ("acquired", "released", ...). */
void metrics_event(struct metrics *m, const char *event);

/* Count one granted acquire that took `seconds` from request to grant. */
void metrics_wait(struct metrics *m, double seconds);

/* The bucket bounds (seconds) of a Redis round-trip histogram. */
extern const double metrics_rtt_bounds[METRICS_RTT_BUCKETS];

/* The whole text into a new buffer.  0 or -ENOMEM. */
int metrics_render(const struct metrics *m, const struct metrics_now *now,
		   char **text, size_t *len);

#endif
