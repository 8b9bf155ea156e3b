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
#include "notify.h"
#include "report.h"

int report_status(struct lockfs *fs, char **text, size_t *len)
{
	struct node_stats ns;
	int64_t redis_since, amqp_since;
	bool redis_up;
	int amqp_up;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL)
		return -ENOMEM;
	node_get_stats(fs->node, &ns);
	redis_up = node_redis_up(fs->node, &redis_since);
	amqp_up = node_amqp_up(fs->node, &amqp_since);
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
		redis_up ? "connected" : "disconnected",
		(long long)(redis_since / 1000), (long long)(redis_since % 1000),
		amqp_up < 0 ? "none" : amqp_up ? "connected" : "disconnected",
		(long long)(amqp_since / 1000), (long long)(amqp_since % 1000),
		node_amqp_broker(fs->node), node_leases(fs->node), node_waits(fs->node),
		(unsigned long long)ns.grants,
		(unsigned long long)ns.releases,
		(unsigned long long)ns.handoffs,
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
	struct metrics_now now = {
		.node = fs->opt->node,
		.locks_held = node_leases(fs->node),
		.waiters = node_waits(fs->node),
		.event_readers = count_readers(fs),
		.redis_up = node_redis_up(fs->node, NULL),
		.amqp_up = node_amqp_up(fs->node, NULL),
	};
	struct store_stats ss;
	struct notifier_stats amqp = {0};
	struct node_stats ns;

	node_get_stats(fs->node, &ns);
	now.grants = ns.grants;
	now.handoffs = ns.handoffs;
	now.uptime_s = (wall_ms() - fs->started_ms) / 1000.0;
	node_redis_stats(fs->node, &ss);
	now.redis_calls = ss.calls;
	now.redis_errors = ss.errors;
	now.redis_timeouts = ss.timeouts;
	now.redis_reconnects = ss.reconnects;
	now.redis_rtt_buckets = ss.rtt_buckets;
	now.redis_rtt_sum_s = ss.rtt_sum_s;
	if (node_amqp_stats(fs->node, &amqp)) {
		now.amqp_published = amqp.published;
		now.amqp_delivered = amqp.delivered;
		now.amqp_reconnects = amqp.reconnects;
		now.amqp_bindings = amqp.bindings;
	}
	return metrics_render(node_metrics(fs->node), &now, text, len);
}
