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
struct notifier_stats;

struct node_stats {
	uint64_t grants, releases;
	uint64_t handoffs; /* grants answered from a release elsewhere */
};

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
size_t node_waits(const struct node *n);

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
/* onlost=: the signal `id`'s hold of `path` sends its holder when lost. */
void node_lease_onlost(struct node *n, const char *path, const char *id,
		       int sig);
int node_renew(struct node *n, const char *path, const char *holder_id,
	       int64_t token, const struct command *cmd, store_cb *cb,
	       void *arg);
int node_release(struct node *n, const char *path, const char *holder_id,
		 int64_t token, bool force, store_cb *cb, void *arg);
/* unlink(2): a release that also removes an unheld lock file (store_unlink) */
int node_unlink(struct node *n, const char *path, const char *holder_id,
		int64_t token, bool force, store_cb *cb, void *arg);
/* A grant nobody will receive: forgotten here, released in Redis. */
void node_disown(struct node *n, const char *path, const char *holder_id,
		 int64_t token, const char *why);

/* ---- the lease table (lease.h) ------------------------------------- */

const struct lock_holder *node_lease(struct node *n, const char *path,
				     const char *id);
const struct lock_holder *node_lease_fresh(struct node *n, const char *path,
					   const char *id, int64_t max_age_ms);
const struct lock_holder *node_lease_handle_of(struct node *n,
					       const char *path, uid_t uid,
					       pid_t session);
int64_t node_lease_token(struct node *n, const char *path, const char *id);
void node_lease_renewed(struct node *n, const char *path,
			const struct lock_holder *h, int64_t now_ms);
void node_lease_forget(struct node *n, const char *path, const char *id);
void node_lease_lost(struct node *n, const char *path, const char *id);
size_t node_leases(const struct node *n);

/* ---- state, for status and metrics --------------------------------- */

/* Redis connected and answering, and since when (wall-clock ms). */
bool node_redis_up(const struct node *n, int64_t *since_ms);
/* The broker: 1 up, 0 down, -1 none configured; since when. */
int node_amqp_up(const struct node *n, int64_t *since_ms);
/* "host:port" of the broker in use ("" while none, or without a broker). */
const char *node_amqp_broker(const struct node *n);
void node_redis_stats(const struct node *n, struct store_stats *out);
/* false without a broker */
bool node_amqp_stats(const struct node *n, struct notifier_stats *out);
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
 * that call, within `retry_ms`, finds the name gone (its two lookups of
 * the name; the lookups after those find it again, so that the unlink
 * rm(1) sends after its stat still gets ESTALE).
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
};
int node_file_hold(struct node *n, const char *path,
		   const struct node_file *f, char *id, size_t size,
		   int64_t *token);

void node_get_stats(const struct node *n, struct node_stats *out);
struct metrics *node_metrics(struct node *n);

#endif
