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

/* Now by the Redis clock, as this node saw it last (the wall clock
 * before Redis ever answered): event times, the ages of holds. */
int64_t node_redis_time(const struct node *n);

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

/* A grant nobody will receive: forgotten here, released in Redis. */
void node_disown(struct node *n, const char *path, const char *holder_id,
		 int64_t token, const char *why);

/*
 * Grant `h` of `path` reached its requester; `is_new` for a new grant (not
 * a renewal), which waited `waited_s` seconds; `now_ms` the Redis clock.
 */
void node_granted(struct node *n, const char *path,
		  const struct lock_holder *h, bool is_new, double waited_s,
		  int64_t now_ms);
/*
 * A lock set `paths` in `modes` granted to `h` (res: its tokens) reached
 * its requester; or did not, and is disowned (node_disown) with `why`.
 */
void node_granted_set(struct node *n, char *const *paths,
		      const enum lock_mode *modes, size_t count,
		      const struct store_holder *h,
		      const struct store_result *res, double waited_s);
void node_disown_set(struct node *n, char *const *paths, size_t count,
		     const char *holder_id, const struct store_result *res,
		     const char *why);

/*
 * The holds `h[0..nh)` of `path` ended by `event` ("released", "broken",
 * "owner-exit", "expired") at `now_ms`: each is told to the cluster
 * (node_publish; `wakes`: a queued request may be sleeping on it) and
 * marked lost in the lease table, so that its owner hears ESTALE if it
 * was not the one that ended it.  Counts one release.
 */
void node_ended(struct node *n, const char *event, const char *path,
		const struct lock_holder *h, size_t nh, int64_t now_ms,
		bool wakes);

/*
 * Publish a lock event (the events stream) for lock file `path`: `event`
 * is acquired, released, expired, broken, owner-exit or waiting.  Ends go
 * to the lock's routing key, so they also wake its waiters; the others to
 * an events-only key that wakes nobody.  Only while some node of the tree
 * reads events (node_watch_events() there tells every node), or, for an
 * end, when `wakes` (a queued request may sleep on it): otherwise nobody
 * would hear it, and the broker is spared.  It is counted either way.
 */
void node_publish(struct node *n, const char *event, const char *path,
		  const struct lock_holder *h, int64_t time_ms, bool wakes);

#endif
