/*
 * metrics.c - the Prometheus text format of a node's counters (see
 * metrics.h).  Every sample carries the label node="<name>"; node names
 * are [A-Za-z0-9._-] (owner.h), so they need no escaping.
 */
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const event_names[METRICS_NEVENTS] = {
	"acquired", "released", "expired", "broken", "owner-exit", "waiting",
	"deadlock",
};

static const double wait_bounds[METRICS_WAIT_BUCKETS] = {
	0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 3600,
};

const double metrics_rtt_bounds[METRICS_RTT_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025,
	0.005,  0.01,    0.05,   0.25,  1,
};

void metrics_event(struct metrics *m, const char *event)
{
	for (int i = 0; i < METRICS_NEVENTS; i++)
		if (strcmp(event, event_names[i]) == 0)
			m->events[i]++;
}

void metrics_wait(struct metrics *m, double seconds)
{
	for (int i = 0; i < METRICS_WAIT_BUCKETS; i++)
		if (seconds <= wait_bounds[i])
			m->wait_buckets[i]++;
	m->wait_count++;
	m->wait_sum_s += seconds;
}

static void header(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const char *node, double v)
{
	fprintf(f, "%s{node=\"%s\"} %.15g\n", name, node, v);
}

static void one(FILE *f, const char *name, const char *type,
		const char *help, const char *node, double v)
{
	header(f, name, type, help);
	sample(f, name, node, v);
}

/* Buckets are cumulative already (each counts everything <= its bound). */
static void histogram(FILE *f, const char *name, const char *help,
		      const char *node, const double *bounds,
		      const uint64_t *buckets, size_t n, uint64_t count,
		      double sum)
{
	header(f, name, "histogram", help);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s_bucket{node=\"%s\",le=\"%g\"} %llu\n", name,
			node, bounds[i], (unsigned long long)buckets[i]);
	fprintf(f, "%s_bucket{node=\"%s\",le=\"+Inf\"} %llu\n", name, node,
		(unsigned long long)count);
	fprintf(f, "%s_sum{node=\"%s\"} %.9g\n", name, node, sum);
	fprintf(f, "%s_count{node=\"%s\"} %llu\n", name, node,
		(unsigned long long)count);
}

static void body(FILE *f, const struct metrics *m, const struct metrics_now *n)
{
	const char *node = n->node;

	one(f, "lockfs_up", "gauge", "1 while the daemon serves its mount.",
	    node, 1);
	one(f, "lockfs_uptime_seconds", "gauge", "Seconds since the mount.",
	    node, n->uptime_s);
	one(f, "lockfs_locks_held", "gauge",
	    "Leases and handle locks held through this node.", node,
	    (double)n->locks_held);
	one(f, "lockfs_waiters", "gauge",
	    "Requests on this node waiting for a lock.", node,
	    (double)n->waiters);
	one(f, "lockfs_event_readers", "gauge",
	    "Open readers of /.lockfs/events.", node,
	    (double)n->event_readers);
	header(f, "lockfs_lock_events_total", "counter",
	       "Lock events on this node by kind (README): grants, releases "
	       "by reason, waits started.");
	for (int i = 0; i < METRICS_NEVENTS; i++)
		fprintf(f,
			"lockfs_lock_events_total{node=\"%s\",event=\"%s\"} "
			"%llu\n",
			node, event_names[i],
			(unsigned long long)m->events[i]);
	one(f, "lockfs_grants_total", "counter",
	    "Locks granted to requests of this node.", node,
	    (double)n->grants);
	one(f, "lockfs_handoffs_total", "counter",
	    "Of those, grants handed over by the call that ended the hold "
	    "ahead, with no call of the waiter's own.", node,
	    (double)n->handoffs);
	histogram(f, "lockfs_acquire_wait_seconds",
		  "Time from an acquire request to its grant.", node,
		  wait_bounds, m->wait_buckets, METRICS_WAIT_BUCKETS,
		  m->wait_count, m->wait_sum_s);
	one(f, "lockfs_redis_up", "gauge", "1 while Redis is connected.",
	    node, n->redis_up);
	one(f, "lockfs_redis_calls_total", "counter",
	    "Server-side script calls made to Redis.", node,
	    (double)n->redis_calls);
	one(f, "lockfs_redis_errors_total", "counter",
	    "Redis calls that failed (connection lost, error reply).", node,
	    (double)n->redis_errors);
	one(f, "lockfs_redis_timeouts_total", "counter",
	    "Redis calls answered EIO after backend_timeout.", node,
	    (double)n->redis_timeouts);
	one(f, "lockfs_redis_reconnects_total", "counter",
	    "Connections made to Redis after the first.", node,
	    (double)n->redis_reconnects);
	if (n->redis_rtt_buckets)
		histogram(f, "lockfs_redis_call_seconds",
			  "Round trip of each Redis call.", node,
			  metrics_rtt_bounds, n->redis_rtt_buckets,
			  METRICS_RTT_BUCKETS, n->redis_calls,
			  n->redis_rtt_sum_s);
	if (n->amqp_up < 0)
		return;
	one(f, "lockfs_amqp_up", "gauge", "1 while RabbitMQ is connected.",
	    node, n->amqp_up);
	one(f, "lockfs_amqp_published_total", "counter",
	    "Notifications published.", node, (double)n->amqp_published);
	one(f, "lockfs_amqp_delivered_total", "counter",
	    "Notifications received.", node, (double)n->amqp_delivered);
	one(f, "lockfs_amqp_reconnects_total", "counter",
	    "Connections made to RabbitMQ after the first.", node,
	    (double)n->amqp_reconnects);
	one(f, "lockfs_amqp_bindings_total", "counter",
	    "Bindings and unbindings of routing keys asked of RabbitMQ.", node,
	    (double)n->amqp_bindings);
}

int metrics_render(const struct metrics *m, const struct metrics_now *now,
		   char **text, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL)
		return -ENOMEM;
	body(f, m, now);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*text = buf;
	*len = size;
	return 0;
}
