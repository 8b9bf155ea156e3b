/*
 * metrics.c - the Prometheus text format of a node's counters (see
 * metrics.h).  Every sample carries the label node="<name>"; node names
 * are [A-Za-z0-9._-] (owner.h), so they need no escaping.  A namespace
 * label is its path with a leading "/" ("/" for the root, "/a/b"), so
 * that no namespace can be shown as "other"; it is escaped as the format
 * wants, and a name that is not UTF-8 (which the format cannot carry) is
 * counted under "other".
 */
#include "metrics.h"

#include <errno.h>
#include <stdbool.h>
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

/* how long a hold lasted: 0.1 s to a day */
static const double hold_bounds[METRICS_HOLD_BUCKETS] = {
	0.1, 1, 10, 60, 300, 900, 3600, 14400, 86400,
};

/* from a release in Redis to the grant reaching its request here */
static const double handoff_bounds[METRICS_HANDOFF_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	0.25,  0.5,    1,     2.5,   5,    10,
};

_Static_assert(METRICS_WAIT_BUCKETS <= METRICS_BUCKETS_MAX &&
		       METRICS_HOLD_BUCKETS <= METRICS_BUCKETS_MAX &&
		       METRICS_HANDOFF_BUCKETS <= METRICS_BUCKETS_MAX &&
		       METRICS_RTT_BUCKETS <= METRICS_BUCKETS_MAX,
	       "a histogram has more buckets than struct metrics_histogram");

/* a Redis call's round trip */
static const double rtt_bounds[METRICS_RTT_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025,
	0.005,  0.01,    0.05,   0.25,  1,
};

void metrics_clear(struct metrics *m)
{
	for (size_t i = 0; i < METRICS_NS_SLOTS; i++)
		free(m->ns[i].name);
	memset(m, 0, sizeof(*m));
}

void metrics_event(struct metrics *m, const char *event)
{
	for (int i = 0; i < METRICS_NEVENTS; i++)
		if (strcmp(event, event_names[i]) == 0)
			m->events[i]++;
}

static void observe(struct metrics_histogram *h, const double *bounds,
		    size_t nbounds, double seconds)
{
	for (size_t i = 0; i < nbounds; i++)
		if (seconds <= bounds[i])
			h->buckets[i]++;
	h->count++;
	h->sum_s += seconds;
}

void metrics_wait(struct metrics *m, double seconds)
{
	observe(&m->wait, wait_bounds, METRICS_WAIT_BUCKETS, seconds);
}

void metrics_handoff(struct metrics_histogram *h, double seconds)
{
	observe(h, handoff_bounds, METRICS_HANDOFF_BUCKETS, seconds);
}

void metrics_rtt(struct metrics_histogram *h, double seconds)
{
	observe(h, rtt_bounds, METRICS_RTT_BUCKETS, seconds);
}

/* How many continuation bytes UTF-8 lead byte `c` wants, or -1. */
static int utf8_tail(unsigned char c)
{
	if (c < 0x80)
		return 0;
	if (c >= 0xc2 && c <= 0xdf)
		return 1;
	if (c >= 0xe0 && c <= 0xef)
		return 2;
	if (c >= 0xf0 && c <= 0xf4)
		return 3;
	return -1;
}

/* Is `s` well-formed UTF-8 (no overlong form, surrogate, or code point
 * past U+10FFFF)? */
static bool is_utf8(const char *s)
{
	static const uint32_t least[4] = {0, 0x80, 0x800, 0x10000};
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int tail = utf8_tail(*p);
		uint32_t cp;

		if (tail < 0)
			return false;
		cp = *p & (tail ? 0xff >> (tail + 2) : 0x7f);
		for (int i = 1; i <= tail; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false; /* (a NUL stops here too) */
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if (cp < least[tail] || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += tail + 1;
	}
	return true;
}

size_t metrics_namespace(struct metrics *m, const char *ns)
{
	size_t i;

	if (!is_utf8(ns))
		return METRICS_NS_OTHER;
	for (i = 0; i < METRICS_NAMESPACES_MAX && m->ns[i].name; i++)
		if (strcmp(m->ns[i].name, ns) == 0)
			return i;
	if (i == METRICS_NAMESPACES_MAX ||
	    (m->ns[i].name = strdup(ns)) == NULL)
		return METRICS_NS_OTHER;
	return i;
}

void metrics_hold_ended(struct metrics *m, const char *ns, double seconds)
{
	struct metrics_namespace *slot = &m->ns[metrics_namespace(m, ns)];

	observe(&slot->hold, hold_bounds, METRICS_HOLD_BUCKETS, seconds);
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

/* The labels of one series: node="<node>", and its namespace's, if any
 * (`ns`: the name kept in a slot, "" for the root; NULL for "other"). */
struct series {
	const char *node;
	bool by_ns;
	const char *ns;
};

static void labels(FILE *f, const struct series *s)
{
	fprintf(f, "node=\"%s\"", s->node);
	if (!s->by_ns)
		return;
	fputs(",namespace=\"", f);
	if (s->ns == NULL)
		fputs("other", f);
	else
		fputc('/', f);
	for (const char *c = s->ns; c && *c; c++) {
		if (*c == '\\' || *c == '"')
			fputc('\\', f);
		if (*c == '\n')
			fputs("\\n", f);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

/* Buckets are cumulative already (each counts everything <= its bound). */
static void histogram_series(FILE *f, const char *name,
			     const struct series *s, const double *bounds,
			     size_t n, const struct metrics_histogram *h)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s_bucket{", name);
		labels(f, s);
		fprintf(f, ",le=\"%g\"} %llu\n", bounds[i],
			(unsigned long long)h->buckets[i]);
	}
	fprintf(f, "%s_bucket{", name);
	labels(f, s);
	fprintf(f, ",le=\"+Inf\"} %llu\n%s_sum{", (unsigned long long)h->count,
		name);
	labels(f, s);
	fprintf(f, "} %.9g\n%s_count{", h->sum_s, name);
	labels(f, s);
	fprintf(f, "} %llu\n", (unsigned long long)h->count);
}

static void histogram(FILE *f, const char *name, const char *help,
		      const char *node, const double *bounds, size_t n,
		      const struct metrics_histogram *h)
{
	struct series s = {.node = node};

	header(f, name, "histogram", help);
	histogram_series(f, name, &s, bounds, n, h);
}

/* A namespace slot in use: taken by a name, or "other" once it counted. */
static bool slot_used(const struct metrics *m, const struct metrics_now *n,
		      size_t i)
{
	if (m->ns[i].name)
		return true;
	return i == METRICS_NS_OTHER &&
	       (m->ns[i].hold.count || (n->oldest_hold_s &&
					n->oldest_hold_s[i] >= 0));
}

/* lockfs_hold_seconds and lockfs_oldest_hold_seconds, per namespace. */
static void by_namespace(FILE *f, const struct metrics *m,
			 const struct metrics_now *n)
{
	const char *hold = "lockfs_hold_seconds";
	const char *oldest = "lockfs_oldest_hold_seconds";

	header(f, hold, "histogram",
	       "How long holds taken through this node lasted, counted as "
	       "each ended (released, broken, expired, owner-exit), by the "
	       "namespace of the lock.");
	for (size_t i = 0; i < METRICS_NS_SLOTS; i++) {
		struct series s = {n->node, true, m->ns[i].name};

		if (slot_used(m, n, i))
			histogram_series(f, hold, &s, hold_bounds,
					 METRICS_HOLD_BUCKETS, &m->ns[i].hold);
	}
	if (n->oldest_hold_s == NULL)
		return;
	header(f, oldest, "gauge",
	       "Age of the oldest hold held now through this node, by the "
	       "namespace of the lock (only namespaces with a hold now).");
	for (size_t i = 0; i < METRICS_NS_SLOTS; i++) {
		struct series s = {n->node, true, m->ns[i].name};

		if (n->oldest_hold_s[i] < 0)
			continue;
		fprintf(f, "%s{", oldest);
		labels(f, &s);
		fprintf(f, "} %.15g\n", n->oldest_hold_s[i]);
	}
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
		  wait_bounds, METRICS_WAIT_BUCKETS, &m->wait);
	by_namespace(f, m, n);
	if (n->handoff)
		histogram(f, "lockfs_handoff_seconds",
			  "Time from a release in Redis to the grant it handed "
			  "over reaching its waiting request on this node, by "
			  "the Redis clock.", node, handoff_bounds,
			  METRICS_HANDOFF_BUCKETS, n->handoff);
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
	if (n->redis_rtt)
		histogram(f, "lockfs_redis_call_seconds",
			  "Round trip of each Redis call.", node,
			  rtt_bounds, METRICS_RTT_BUCKETS, n->redis_rtt);
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
