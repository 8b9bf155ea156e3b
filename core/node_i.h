/*
 * node_i.h - the node service's insides, shared by node.c (the rules) and
 * node_start.c (the parts wired together, and the doors fs/ goes through).
 */
#ifndef LOCKFS_NODE_I_H
#define LOCKFS_NODE_I_H

#include "node.h"

struct store;
struct waitq;
struct leases;
struct notifier;

/* What /.lockfs/events readers make this node listen to: everything. */
#define EVENTS_BINDING "#"

struct node {
	char *name;
	/* set by node_start(), whose parts below are then the node's own */
	void (*free_parts)(struct node *n);
	struct store *st;
	struct waitq *wq;
	struct leases *leases;
	struct notifier *nt;
	void (*event_line)(void *arg, const char *line, size_t len);
	void (*lost)(void *arg, const char *path);
	void *arg;
	struct node_stats stats;
	struct metrics metrics;
	struct recent *recent; /* names seen free a moment ago (recent.h) */
};

/*
 * A request answered from a grant made by another call confirmed it, or
 * learned it is gone (waitq_confirmed_cb): keep the lease table true.
 */
void node_confirmed(void *arg, const char *path, const char *holder_id,
		    int64_t token, const struct store_result *res);

#endif
