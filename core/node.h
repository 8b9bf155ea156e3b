/*
 * node.h - this node's side of the lock service: what happens on this node
 * when a lock is granted or a hold ends, kept in one place instead of in
 * each file operation that can cause it.
 *
 * A grant that reached its requester is counted, its wait timed, told to
 * the cluster (an `acquired` event) and, for a lease or handle lock, put in
 * the lease table (keepalive, ESTALE).  A hold that ended (released,
 * broken, owner-exit, expired) is counted, forgotten and told to the
 * cluster on the lock's routing key, so that it also wakes the lock's
 * waiters on every node.  The events stream and the metrics read what this
 * module counts.
 *
 * Loop thread only.  The node borrows the store's, the lease table's and
 * the notifier's objects it is given; it owns only its counters.
 */
#ifndef LOCKFS_NODE_H
#define LOCKFS_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "info.h"
#include "metrics.h"
#include "store.h"

struct leases;
struct notifier;
struct node;

struct node_stats {
	uint64_t grants, releases;
};

/* `name` is copied; `leases` and `nt` (NULL: no broker) stay the caller's. */
int node_new(const char *name, struct leases *leases, struct notifier *nt,
	     struct node **out);
void node_free(struct node *n);

/*
 * Grant `h` of `path` reached its requester; `is_new` for a new grant (not
 * a renewal), which waited `waited_s` seconds; `now_ms` the Redis clock.
 */
void node_granted(struct node *n, const char *path,
		  const struct lock_holder *h, bool is_new, double waited_s,
		  int64_t now_ms);

/*
 * The holds `h[0..nh)` of `path` ended by `event` ("released", "broken",
 * "owner-exit", "expired") at `now_ms`: each is told to the cluster and
 * marked lost in the lease table, so that its owner hears ESTALE if it
 * was not the one that ended it.  Counts one release.
 */
void node_ended(struct node *n, const char *event, const char *path,
		const struct lock_holder *h, size_t nh, int64_t now_ms);

/*
 * Publish a lock event (the events stream) for lock file `path`: `event`
 * is acquired, released, expired, broken, owner-exit or waiting.  Ends go
 * to the lock's routing key, so they also wake its waiters; the others to
 * an events-only key that wakes nobody.
 */
void node_publish(struct node *n, const char *event, const char *path,
		  const struct lock_holder *h, int64_t time_ms);

/*
 * The errno a failed renewal of `holder_id`'s hold on `path` gives its
 * caller (`res` is the store's answer): ESTALE for an owner that lost its
 * lease (remembered in the lease table, so that the VFS's retry of a path
 * operation hears it again), EPERM for another owner writing to a lock it
 * never held.  `by_handle`: through a descriptor that held it.
 */
int node_renew_error(struct node *n, const char *path, const char *holder_id,
		     const struct store_result *res, bool by_handle);

/*
 * An owner whose lease on `path` was lost (expired, broken) must learn it
 * from its next operation, not find the name simply gone: its lookup of a
 * free name stays positive (so that its unlink reaches the daemon and gets
 * ESTALE), its stat or open gets ESTALE once, and the kernel's one retry of
 * that call, within `retry_ms`, finds the name gone.
 *
 * node_lost_shows(): should a lookup by `owner_id` of free `path` find it?
 * node_lost_told(): a stat or open of it was just told ESTALE.
 */
bool node_lost_shows(struct node *n, const char *path, const char *owner_id,
		     int64_t retry_ms);
bool node_lost(struct node *n, const char *path, const char *owner_id);
void node_lost_told(struct node *n, const char *path, const char *owner_id);

/*
 * A handle lock belongs to the open file description (flock, OFD) or to the
 * process (fcntl): the kernel names either by a lock owner number, and
 * this is the holder id of the lock it takes.
 */
struct node_lock_ref {
	uint64_t lock_owner;
	bool posix;
};
void node_handle_id(const struct node *n, const struct node_lock_ref *ref,
		    char *buf, size_t size);

/*
 * What an open file can renew when it is written to or truncated: the
 * lease it took or renewed at open (`lease_id`, NULL for none), else a
 * handle lock taken through it (a lease converted by flock/lockf lives on
 * as one), else a handle lock of the owner that opened it (uid, session:
 * `flock FILE -c 'echo $$ > FILE'`).  Returns 1 with `id` and `*token`
 * set, 0 for none, -ESTALE when a hold it had is lost.
 */
struct node_file {
	const char *lease_id;
	int64_t lease_token;
	const struct node_lock_ref *locks;
	size_t nlocks;
	bool opener_known;
	uid_t uid;
	pid_t session;
};
int node_file_hold(struct node *n, const char *path,
		   const struct node_file *f, char *id, size_t size,
		   int64_t *token);

void node_get_stats(const struct node *n, struct node_stats *out);
struct metrics *node_metrics(struct node *n);

#endif
