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

/*
 * "Some node reads events": a node with readers says so to every node on
 * this key at once and again every WATCH_EVERY_MS; a node that heard it in
 * the last WATCHED_FOR_MS publishes its events (node_publish).  A node that
 * (re)connects to the broker asks on WATCH_ASK_KEY, and the nodes with
 * readers say so at once.
 */
#define WATCH_KEY "ctl.watch"
#define WATCH_ASK_KEY "ctl.ask"
#define WATCH_EVERY_MS 2000
#define WATCHED_FOR_MS (3 * WATCH_EVERY_MS)

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
	unsigned watching;     /* node_watch_events() not yet undone */
	struct event *watch_timer; /* while watching: tells every node again */
	int64_t watched_until_ms; /* some node reads events (monotonic) */
};

/* A node said it reads events (WATCH_KEY). */
void node_heard_watch(struct node *n);

/*
 * A request answered from a grant made by another call confirmed it, or
 * learned it is gone (waitq_confirmed_cb): keep the lease table true.
 */
void node_confirmed(void *arg, const char *path, const char *holder_id,
		    int64_t token, const struct store_result *res);

/* Does the lease table still hold that grant (waitq_held_cb)? */
bool node_grant_held(void *arg, const char *path, const char *holder_id,
		     int64_t token);

#endif
