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
 * It is also the FUSE adapter's one door into the lock service: node_start()
 * builds the store, the lease table, the notifier and the wait queue, and
 * the calls below reach them, so that fs/ needs no header of theirs.
 *
 * Loop thread only.  A node made by node_start() owns those parts; one made
 * by node_new() (unit tests) borrows the lease table and notifier given.
 */
#ifndef LOCKFS_NODE_H
#define LOCKFS_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "info.h"
#include "metrics.h"
#include "result.h"

struct event_base;
struct waiter;

struct leases;
struct notifier;
struct node;
struct command;

struct node_stats {
	uint64_t grants, releases;
	uint64_t handoffs; /* grants answered from a release elsewhere */
};

/* This node now, for the status file, metrics and HTTP (node_status). */
struct node_status {
	struct node_stats counts;
	size_t holds;  /* holds taken through this node and kept alive */
	size_t waits;  /* requests waiting */
	bool redis_up; /* connected and answering */
	int64_t redis_since_ms; /* wall clock: since when up or down */
	struct store_stats redis;
	int amqp_up; /* 1 up, 0 down, -1 no broker configured */
	int64_t amqp_since_ms;
	const char *amqp_broker; /* "host:port" in use, "" for none */
	struct notifier_stats amqp; /* zero without a broker */
	/* release-to-grant times of grants handed over; NULL: no queue */
	const struct metrics_histogram *handoff_times;
};
void node_status(const struct node *n, struct node_status *out);

struct node_config {
	const char *name;                  /* this node's name */
	const struct store_config *store;  /* where Redis is */
	const char *amqp_url;              /* NULL or "": no broker */
	const char *amqp_cacert;           /* NULL: the system's */
	const char *prefix;                /* the exchange is lockfs.PREFIX */
	int64_t ttl_ms;                    /* a queue entry's lease */
	const char *procfs;                /* "/proc" */
	int onlost_sig;                    /* onlost=: 0 for none */
	/* a lock event line from the broker (for /.lockfs/events) */
	void (*event_line)(void *arg, const char *line, size_t len);
	/* a hold of `path` taken through this node was lost (for poll) */
	void (*lost)(void *arg, const char *path);
	void *arg;
};

/* Build the whole service on `base` and start connecting; 0 or -errno. */
int node_start(struct event_base *base, const struct node_config *cfg,
	       struct node **out);

/* Check once, synchronously, that Redis answers (store_probe). */
int node_probe(const struct store_config *cfg, char *why, size_t whylen);

/* ---- acquiring and waiting (waitq.h) ------------------------------- */

int node_acquire(struct node *n, const char *path,
		 const struct store_holder *h, bool excl, bool block,
		 int64_t timeout_ms, lock_done_cb *cb, void *arg,
		 struct waiter **out);
int node_acquire_set(struct node *n, char *const *paths,
		     const enum lock_mode *modes, size_t count,
		     const struct store_holder *h, bool block,
		     int64_t timeout_ms, lock_done_cb *cb, void *arg,
		     struct waiter **out);
void node_cancel(struct waiter *w, int err);
/* Tell `cb` once when `w` is first queued (waiter_when_queued). */
void node_when_queued(struct waiter *w, void (*cb)(void *arg));
/* End every wait with `err` (unmount, shutdown). */
void node_fail_all(struct node *n, int err);

/* ---- one call each (store.h) --------------------------------------- */

int node_stat(struct node *n, const char *path, store_cb *cb, void *arg);
/* Would a blocking acquire of `path` by `h` wait now? (store_acquire_probe) */
int node_acquire_probe(struct node *n, const char *path,
		       const struct store_holder *h, store_cb *cb, void *arg);
int node_list(struct node *n, const char *ns, bool flock_view, store_cb *cb,
	      void *arg);
/* A flock-view lock file's change (store_file) */
int node_file(struct node *n, const char *path, const struct file_change *fc,
	      store_cb *cb, void *arg);
int node_mkdir(struct node *n, const char *path, mode_t mode, uid_t uid,
	       gid_t gid, store_cb *cb, void *arg);
int node_rmdir(struct node *n, const char *path, store_cb *cb, void *arg);
/* user.lockfs.limit of a namespace (store_set_limit). */
int node_set_limit(struct node *n, const char *path, long limit,
		   uid_t caller_uid, store_cb *cb, void *arg);
int node_setattr(struct node *n, const char *path, long mode, long uid,
		 long gid, store_cb *cb, void *arg);
/* Is `id`'s grant `token` of `path`, taken through this node, lost? */
bool node_hold_stale(struct node *n, const char *path, const char *id,
		     int64_t token);
int node_renew(struct node *n, const char *path, const char *holder_id,
	       int64_t token, const struct command *cmd, store_cb *cb,
	       void *arg);
/* The first half of a handle lock's conversion: release it quietly (its
 * lease table entry went in node_handle_plan). */
int node_release(struct node *n, const char *path, const char *holder_id,
		 int64_t token, bool force, store_cb *cb, void *arg);

/* ---- grants and ends of holds, as file operations meet them --------- */

/*
 * A grant the wait queue answered a request with (`res`), once the
 * request's reply was sent (`delivered`) or could not be (its requester
 * is gone).  Delivered: counted, timed (`waited_s`), told to the cluster
 * and put in the lease table.  Not delivered: disowned (forgotten here,
 * released in Redis), unless it only renewed a lease its holder had
 * before.  The same path for opens, handle locks and lock sets.
 */
struct node_grant {
	const struct store_result *res;
	const char *holder_id;
	double waited_s;
	/* one lock */
	const char *path;
	const char *absorbed_id; /* a handle lock's requester's lease, or NULL */
	/* or a lock set (count > 0), taken as `set_holder` */
	char *const *paths;
	const enum lock_mode *modes;
	size_t count;
	const struct store_holder *set_holder;
};
void node_grant_delivered(struct node *n, const struct node_grant *g,
			  bool delivered);

/*
 * unlink(2) of `path` by owner `owner_id` (uid `uid`): releases the grant
 * it took through this node (ESTALE when that is lost), or, for root,
 * breaks whoever holds it; in the flock view also removes an unheld lock
 * file.  The end is counted, published and the lease table kept true
 * before `cb` hears the store's answer.
 */
int node_unlink_hold(struct node *n, const char *path, const char *owner_id,
		     uid_t uid, store_cb *cb, void *arg);
/* Unlock handle lock `holder_id` of `path` (flock LOCK_UN, F_UNLCK, a
 * close): as node_unlink_hold; a lock already gone answers 0. */
int node_unlock(struct node *n, const char *path, const char *holder_id,
		store_cb *cb, void *arg);
/*
 * A renewal of `holder_id`'s hold of `path` answered `res`: recorded in
 * the lease table; or the errno its caller gets (node_renew_error).
 */
int node_renewed(struct node *n, const char *path, const char *holder_id,
		 const struct store_result *res, bool by_handle);

/* ---- what this node holds (the lease table) ------------------------ */

/* Does `id` hold `path` through this node (a handle lock, say)? */
bool node_holds(struct node *n, const char *path, const char *id);
/* Did `id` take `path` through this node (held now, or lost)? */
bool node_held_here(struct node *n, const char *path, const char *id);
/* `id`'s hold of `path` if it took or renewed it in the last
 * `max_age_ms` (a lookup or getattr answered without Redis). */
const struct lock_holder *node_lease_fresh(struct node *n, const char *path,
					   const char *id, int64_t max_age_ms);
/* The handle lock of `path` that owner (uid, session) holds, or NULL. */
const struct lock_holder *node_lease_handle_of(struct node *n,
					       const char *path, uid_t uid,
					       pid_t session);
/* onlost=: the signal `id`'s hold of `path` sends its holder when lost. */
void node_lease_onlost(struct node *n, const char *path, const char *id,
		       int sig);

/* ---- state, for status and metrics --------------------------------- */

/*
 * While someone reads /.lockfs/events (or an HTTP event stream): every
 * event comes here, and every node of the tree is told, again every
 * WATCH_EVERY_MS, that events are read, so that it publishes them.
 */
int node_watch_events(struct node *n);
void node_unwatch_events(struct node *n);

/* `name` is copied; `leases` and `nt` (NULL: no broker) stay the caller's. */
int node_new(const char *name, struct leases *leases, struct notifier *nt,
	     struct node **out);
void node_free(struct node *n);

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
 * that call, within a second, finds the name gone (its two lookups of
 * the name; the lookups after those find it again, so that the unlink
 * rm(1) sends after its stat still gets ESTALE).
 *
 * node_lost_shows(): should a lookup by `owner_id` of free `path` find it?
 * node_lost(): is `owner_id`'s lease on `path` lost (it hears ESTALE)?
 * node_lost_told(): a stat or open of it was just told ESTALE.
 * (node_lost.c)
 */
bool node_lost_shows(struct node *n, const char *path, const char *owner_id);
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
 * A handle lock `id` asks for `path` in `mode`: what must happen first.
 * NODE_LOCK_TAKE: ask for it; NODE_LOCK_HELD: it holds it so already,
 * nothing to do; NODE_LOCK_CONVERT: it holds it in the other mode, and a
 * conversion lets go first and then asks again, as flock(2) does on a
 * local file (the hold is forgotten here; release it, then take it).
 */
enum node_lock_plan { NODE_LOCK_TAKE, NODE_LOCK_HELD, NODE_LOCK_CONVERT };
enum node_lock_plan node_handle_plan(struct node *n, const char *path,
				     const char *id, enum lock_mode mode);

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
	/* then, when nothing it held is lost: its lease even when the table
	 * lost it (its renewal hears ESTALE); a handle lock of the caller */
	bool name_lost_lease;
	bool caller_known;
	uid_t caller_uid;
	pid_t caller_session;
};
int node_file_hold(struct node *n, const char *path,
		   const struct node_file *f, char *id, size_t size,
		   int64_t *token);

void node_get_stats(const struct node *n, struct node_stats *out);
struct metrics *node_metrics(struct node *n);
/*
 * The age (seconds, by the Redis clock) of the oldest hold this node keeps
 * now, per namespace slot of node_metrics() (METRICS_NS_SLOTS of them,
 * -1 for a namespace with no hold now), for lockfs_oldest_hold_seconds.
 * A namespace met here for the first time takes a slot.
 */
void node_oldest_holds(struct node *n, double *oldest_s);

#endif
