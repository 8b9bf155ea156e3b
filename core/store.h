/*
 * store.h - the Redis store: every lock and namespace operation as one
 * atomic server-side script call, asynchronous on the caller's libevent
 * loop: nothing blocks it, and every call ends in exactly one callback.
 *
 * A call takes a callback and an opaque argument and always ends in exactly
 * one callback: with the script's answer, or with -EIO when Redis did not
 * answer within backend_timeout (unreachable, frozen, or the connection
 * broke).  The callback never runs inside the call that starts it.  While
 * Redis is unreachable calls wait for a reconnection up to their deadline;
 * once one went unanswered that long, new calls fail with -EIO at once
 * (returned by the call, no callback) until Redis answers again.
 * An acquire that times out but is later found granted is released again
 * by the store, so a caller that saw EIO never holds a lock it did not get.
 *
 * Paths are as in name.h ("" root, "a/b", "a/b/.lock").  All keys are built
 * here from the prefix: "{PREFIX}:<type>:<name>", one hash tag per tree.
 *
 * Ownership: struct store_result and everything in it belong to the store
 * and are valid only during the callback.
 */
#ifndef LOCKFS_STORE_H
#define LOCKFS_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "info.h"
#include "lockfs_config.h"
#include "metrics.h"
#include "result.h"

struct command;

struct event_base;
struct store;

/*
 * Create a store on `base` and start connecting.  Returns 0 or -errno
 * (-EINVAL for a bad URL or prefix).
 */
int store_new(struct event_base *base, const struct store_config *cfg,
	      struct store **out);
/* Fail every pending call with -EIO and free; NULL is a no-op. */
void store_free(struct store *st);

/*
 * Whether Redis is connected and answering (not after a call went
 * unanswered for backend_timeout: then new calls fail with -EIO at once
 * until it answers again), and since when (wall-clock ms).
 */
bool store_connected(const struct store *st);
int64_t store_since_ms(const struct store *st);
/*
 * What the Redis server's clock (TIME) says now, in Unix ms: its last
 * answer carried forward on this machine's monotonic clock, so that a
 * jump of this machine's wall clock changes nothing; 0 before any answer.
 */
int64_t store_redis_now(const struct store *st);

void store_get_stats(const struct store *st, struct store_stats *out);

/*
 * The layout of a tree's keys in Redis, stamped in {PREFIX}:layout and in
 * the name of the scripts' library (meson.build's lockfs_layout).
 * 2: a flock view's lock files (f:<ns>, fseq) beside 0.3's keys.
 */
#define STORE_LAYOUT LOCKFS_LAYOUT

/*
 * Check once, synchronously, that Redis at `cfg` answers and has the
 * commands lockfs needs; `why` gets a message on failure.  For mount time.
 * With a sentinel URL: that a sentinel names the master and that the
 * server there says it is one (ROLE).  Stamps the tree's layout when it
 * has none, and fails with -EPROTO (touching nothing) when it has another.
 */
int store_probe(const struct store_config *cfg, char *why, size_t whylen);

/* What `path` is (STORE_NONE, STORE_NAMESPACE or STORE_LOCK). */
int store_stat(struct store *st, const char *path, store_cb *cb, void *arg);

/*
 * The entries of namespace `ns` (STORE_LISTING).  In the flock view
 * (`flock_view`) a lock held only as handle locks is listed only while its
 * lock file exists (store_file()).
 */
int store_list(struct store *st, const char *ns, bool flock_view,
	       store_cb *cb, void *arg);

/* How a blocking acquire queues (see acquire.lua). */
struct store_wait {
	const char *waiter_id;   /* unique per request, same on re-checks */
	int64_t lease_ms;        /* the queue entry dies unless re-checked */
	const char *daemon_node; /* the waiting daemon: where grants go */
	bool confirm;            /* only confirm a grant made to it */
};

/*
 * Take lock file `path` for `h`.  `excl` is O_EXCL.  With `wait`, a busy
 * request is queued (FIFO across the cluster) and extra says what blocks
 * it: "h|<expiry ms>|<lock node>" or "w|<expiry ms>|<waiter id>".  Result:
 * 0 with extra "new" or "renewed" and the lock; -EEXIST, -EAGAIN (busy),
 * -ENOENT, -EISDIR.
 */
int store_acquire(struct store *st, const char *path,
		  const struct store_holder *h, bool excl,
		  const struct store_wait *wait, store_cb *cb, void *arg);

/*
 * Would store_acquire() of `path` for `h` (no O_EXCL) wait now?  Nothing
 * is changed.  Result: 0 with extra "free" (it would be granted) or "held"
 * (`h` holds it), -EAGAIN (it would wait), or as store_acquire.
 */
int store_acquire_probe(struct store *st, const char *path,
			const struct store_holder *h, store_cb *cb, void *arg);

/*
 * A lock set (the README): take the `n` lock files `paths` in `modes`
 * as leases of `h` all at once, or none; with `wait`, queue for all of them
 * when busy (extra as for store_acquire).  With `withdraw`, only take the
 * set's queue entry out.  Result: 0 with STORE_TOKENS, -EAGAIN, -ENOENT,
 * -EISDIR.
 */
int store_acquire_set(struct store *st, char *const *paths,
		      const enum lock_mode *modes, size_t n,
		      const struct store_holder *h,
		      const struct store_wait *wait, bool withdraw,
		      store_cb *cb, void *arg);

/*
 * Every reply that carries grants (store_grant: a release or withdrawal
 * handed the lock on) is shown to `cb` first, before the call's own
 * callback or its compensation, so that the grantees hear of it whoever
 * made the call.
 */
typedef void store_grants_cb(void *arg, const struct store_result *res);
void store_set_grants_cb(struct store *st, store_grants_cb *cb, void *arg);

/*
 * Take waiter `waiter_id` of `path` out of every queue, undoing a grant
 * made to it that its daemon has not confirmed.  Result: 0.
 */
int store_withdraw(struct store *st, const char *path, const char *waiter_id,
		   store_cb *cb, void *arg);

/*
 * Renew `holder_id`'s hold on `path` (grant `token`, 0 for any), changing
 * what the write command `cmd` sets (ttl, keepalive, note, lock-delay;
 * NULL: nothing, a plain renewal).  Result: 0 and the lock, or -ESTALE
 * (extra "held" when another holder has the lock now, "free" otherwise).
 */
int store_renew(struct store *st, const char *path, const char *holder_id,
		int64_t token, const struct command *cmd, store_cb *cb,
		void *arg);

/*
 * End `holder_id`'s hold on `path` (grant `token`, 0 for any), or with
 * `force` every hold.  Result: 0 with extra "released" or "broken" and the
 * ended holds as the lock; -ENOENT, -ESTALE, -EPERM.
 */
int store_release(struct store *st, const char *path, const char *holder_id,
		  int64_t token, bool force, store_cb *cb, void *arg);

/*
 * unlink(2) of lock file `path`: store_release() without force, or with
 * it, and, when nobody holds the lock and `holder_id` names no grant
 * (`token` 0), the removal of the lock file that exists unheld (extra
 * "unlinked"; store_file()).
 */
int store_unlink(struct store *st, const char *path, const char *holder_id,
		 int64_t token, bool force, store_cb *cb, void *arg);

/*
 * The flock view's lock files, which exist as on a disk every node shares,
 * held or not, until unlinked (file.lua).  One change of lock file `path`:
 * FILE_CREATE (O_EXCL: `excl`; O_TRUNC: `truncate` empties one that
 * exists) with mode, uid, gid; FILE_WRITE of `len`
 * bytes `data` at `offset` (or at the end: `append`); FILE_TRUNCATE to
 * `offset` bytes; FILE_ATTR: mode, uid, gid where >= 0, and the mtime
 * (`mtime_ms` with `has_mtime`, else now);
 * FILE_UNLINK.  A write or truncate names the file its descriptor opened
 * (`id`, lock_file.id; 0: the one there is, made if none): one since
 * unlinked changes nothing (extra "gone").  None of them touches a lock.
 * Result: 0 with the lock and its file (lock.file); -EEXIST, -ENOENT,
 * -EISDIR, -EFBIG (over LOCK_FILE_DATA_MAX bytes).  (struct file_change:
 * result.h.)
 */
int store_file(struct store *st, const char *path,
	       const struct file_change *fc, store_cb *cb, void *arg);

/*
 * The one place that disowns a grant nobody will receive (its caller was
 * told EIO, was interrupted, or is gone): release grant `token` of
 * `holder_id` on `path`, fire and forget.  If Redis cannot be asked now,
 * the grant expires with its ttl.  `why` goes to the log.
 */
void store_disown(struct store *st, const char *path, const char *holder_id,
		  int64_t token, const char *why);

int store_mkdir(struct store *st, const char *path, mode_t mode, uid_t uid,
		gid_t gid, store_cb *cb, void *arg);
int store_rmdir(struct store *st, const char *path, store_cb *cb, void *arg);

/* chmod/chown a namespace: pass -1 for what stays. */
int store_setattr(struct store *st, const char *path, long mode, long uid,
		  long gid, store_cb *cb, void *arg);

/*
 * Set the limit of namespace `path`'s semaphore (user.lockfs.limit: at most
 * `limit` locks held at once directly in it; 0 for none), for a caller of
 * uid `caller_uid`: its owner or root.  Result: 0 'N' attrs; -ENOENT;
 * -EPERM.
 */
int store_set_limit(struct store *st, const char *path, long limit,
		    uid_t caller_uid, store_cb *cb, void *arg);

#endif
