/*
 * walk.h - the lock tree as this node sees it: every namespace and every
 * held lock (with its holders and first waiters) whose path starts with a
 * prefix, gathered from Redis by the node's ordinary calls (list and stat),
 * a few at a time so that a big tree never crowds out the file operations.
 * The HTTP API's /api/locks is this walk.
 *
 * A prefix is matched as a string on the path without a leading slash: a
 * namespace "db" is "db/", so "db/" gives what lies under db, "db" also
 * gives "dbx/...", and "" gives everything.  The walk lists only the
 * namespaces that can hold a match.  A walk is not one snapshot: it sees
 * each lock at the moment it asks for it.
 *
 * Loop thread only.
 */
#ifndef LOCKFS_WALK_H
#define LOCKFS_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "info.h"
#include "result.h"

struct node;
struct walk;

struct walk_ns {
	char *path; /* "" for the root, "a/b" */
	struct ns_attr attr;
};

struct walk_result {
	int err;         /* 0, or the first failure (-EIO: Redis away) */
	int64_t now_ms;  /* the Redis clock of the last answer (0: none) */
	bool truncated;  /* more than max_items matched; the rest left out */
	size_t nns;      /* namespaces, sorted by path */
	struct walk_ns *ns;
	size_t nlocks;   /* held locks, sorted by name */
	struct lock_state *locks;
};

/* The end of a walk; `res` and what it holds are valid during the call. */
typedef void walk_done_cb(void *arg, const struct walk_result *res);

/*
 * Start walking the tree of node `n` for `prefix` (copied), keeping at most
 * `max_items` namespaces and as many locks.  `cb` runs once, never inside
 * this call, unless the walk is abandoned first.  0, or -ENOMEM, or the
 * store's refusal of the first call (-EIO while Redis is away).
 */
int walk_start(struct node *n, const char *prefix, size_t max_items,
	       walk_done_cb *cb, void *arg, struct walk **out);

/*
 * Nobody wants the answer any more (before `cb` ran): `cb` will not run,
 * and the walk frees itself once its calls are back.  NULL is a no-op.
 */
void walk_abandon(struct walk *w);

#endif
