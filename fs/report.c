/*
 * report.c - this node's status (key=value lines) and metrics (the
 * Prometheus text format), rendered once per read: the control files
 * /.lockfs/status and /.lockfs/metrics and the HTTP endpoints serve the
 * same text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "http.h"
#include "lockfs_config.h"
#include "report.h"

int report_status(struct lockfs *fs, char **text, size_t *len)
{
	struct node_status ns;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL)
		return -ENOMEM;
	node_status(fs->node, &ns);
	fprintf(f,
		"version=%s\n"
		"node=%s\n"
		"prefix=%s\n"
		"redis=%s\n"
		"redis_since=%lld.%03lld\n"
		"amqp=%s\n"
		"amqp_since=%lld.%03lld\n"
		"amqp_broker=%s\n"
		"locks_held=%zu\n"
		"waits_pending=%zu\n"
		"grants=%llu\n"
		"releases=%llu\n"
		"handoffs=%llu\n"
		"uptime=%lld\n"
		"http=%s\n",
		LOCKFS_VERSION, fs->opt->node, fs->opt->prefix,
		ns.redis_up ? "connected" : "disconnected",
		(long long)(ns.redis_since_ms / 1000),
		(long long)(ns.redis_since_ms % 1000),
		ns.amqp_up < 0 ? "none" : ns.amqp_up ? "connected" : "disconnected",
		(long long)(ns.amqp_since_ms / 1000),
		(long long)(ns.amqp_since_ms % 1000), ns.amqp_broker, ns.holds,
		ns.waits, (unsigned long long)ns.counts.grants,
		(unsigned long long)ns.counts.releases,
		(unsigned long long)ns.counts.handoffs,
		(long long)(wall_ms() - fs->started_ms) / 1000,
		fs->http ? http_address(fs->http) : "off");
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*text = buf;
	*len = size;
	return 0;
}

/* Open event streams: /.lockfs/events readers and HTTP ones. */
static size_t count_readers(const struct lockfs *fs)
{
	return fs->nreaders + http_streams(fs->http);
}

int report_metrics(struct lockfs *fs, char **text, size_t *len)
{
	struct node_status ns;
	struct metrics_now now = {0};
	double oldest_s[METRICS_NS_SLOTS];

	node_status(fs->node, &ns);
	node_oldest_holds(fs->node, oldest_s);
	now.node = fs->opt->node;
	now.locks_held = ns.holds;
	now.waiters = ns.waits;
	now.event_readers = count_readers(fs);
	now.redis_up = ns.redis_up;
	now.amqp_up = ns.amqp_up;
	now.grants = ns.counts.grants;
	now.handoffs = ns.counts.handoffs;
	now.uptime_s = (wall_ms() - fs->started_ms) / 1000.0;
	now.redis_calls = ns.redis.calls;
	now.redis_errors = ns.redis.errors;
	now.redis_timeouts = ns.redis.timeouts;
	now.redis_reconnects = ns.redis.reconnects;
	now.redis_rtt = &ns.redis.rtt;
	now.amqp_published = ns.amqp.published;
	now.amqp_delivered = ns.amqp.delivered;
	now.amqp_reconnects = ns.amqp.reconnects;
	now.amqp_bindings = ns.amqp.bindings;
	now.oldest_hold_s = oldest_s;
	now.handoff = ns.handoff_times;
	return metrics_render(node_metrics(fs->node), &now, text, len);
}
