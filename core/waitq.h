/*
 * waitq.h - acquiring a lock, waiting for it if need be (the README,
 * "Waiting"): a wait holds memory, never a thread.
 *
 * Every acquire goes through here.  A blocking request that finds the lock
 * busy is queued in Redis (FIFO across the cluster, see acquire.lua) and
 * parked here as a small state machine with exactly one ending: granted,
 * cancelled (a signal: EINTR), timed out (ETIMEDOUT), or failed (EIO at
 * shutdown or when its first attempt cannot reach Redis).  It holds no
 * thread: it sleeps until a RabbitMQ message says its blocker moved, until
 * its blocker's known expiry, or until its re-check timer, and then asks
 * Redis again.  While the broker is down it re-checks at least every
 * WAITQ_BROKER_DOWN_MS.
 *
 * Routing keys (topic exchange, every legal lock name works because names
 * are hashed): "l.<hash of lock node>" carries releases of that lock,
 * "w.<waiter id>" says a queued request left the queue (granted or gone).
 *
 * Loop thread only.  The waitq owns its waiters; a `struct waiter *` handed
 * out stays valid until its done callback has run.
 */
#ifndef LOCKFS_WAITQ_H
#define LOCKFS_WAITQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define WAITQ_BROKER_DOWN_MS 1000
#define WAITQ_KEY_MAX 128

struct event_base;
struct metrics_histogram;
struct notifier;
struct waitq;
struct waiter;

/* A request was queued (once per request): for the `waiting` event. */
typedef void waitq_queued_cb(void *arg, const char *path,
			     const struct store_holder *h, int64_t now_ms);

/*
 * A request answered from a grant another call made (waitq_waiter.c)
 * confirmed it (`res`: 0 and the lock) or learned it is gone (-ESTALE or
 * another error): holder `holder_id`, grant `token`.
 */
typedef void waitq_confirmed_cb(void *arg, const char *path,
				const char *holder_id, int64_t token,
				const struct store_result *res);

/*
 * Does holder `holder_id` still hold grant `token` of `path` on this node?
 * A grant handed over is confirmed only if it is still held a little
 * later (waitq_waiter.c): a short hold ends before it needs confirming.
 */
typedef bool waitq_held_cb(void *arg, const char *path, const char *holder_id,
			   int64_t token);

struct waitq_config {
	const char *node;  /* this daemon's node name */
	int64_t lease_ms;  /* a queue entry lives this long unless re-checked */
	waitq_queued_cb *queued_cb; /* may be NULL */
	waitq_queued_cb *deadlock_cb; /* a request refused with EDEADLK */
	void *queued_arg;  /* for both callbacks */
	waitq_confirmed_cb *confirmed_cb; /* may be NULL */
	waitq_held_cb *held_cb; /* may be NULL: every grant is confirmed */
};

/*
 * The end of one acquire: 0 and the store's result (granted: extra "new" or
 * "renewed"), or -errno and possibly a result (for -EAGAIN/-EEXIST the
 * lock's state).  `res` is valid during the call only.
 */
typedef lock_done_cb waiter_done_cb;

int waitq_new(struct event_base *base, struct store *st,
	      struct notifier *nt, const struct waitq_config *cfg,
	      struct waitq **out);
/* Fails what still waits with -EIO, then frees; NULL is a no-op. */
void waitq_free(struct waitq *wq);

/*
 * Acquire `path` for `h` (strings are copied).  `block` false: one attempt,
 * -EAGAIN if busy.  `timeout_ms` > 0 bounds a wait (-ETIMEDOUT).  `*out`
 * (may be NULL) receives a handle for waiter_cancel().  Returns 0 (the
 * callback will run, never before this returns) or -errno (it will not).
 */
int waitq_acquire(struct waitq *wq, const char *path,
		  const struct store_holder *h, bool excl, bool block,
		  int64_t timeout_ms, waiter_done_cb *cb, void *arg,
		  struct waiter **out);

/*
 * The same for a lock set: all `n` lock files `paths` in `modes` at once,
 * or none (store_acquire_set).  Strings and arrays are copied.
 */
int waitq_acquire_set(struct waitq *wq, char *const *paths,
		      const enum lock_mode *modes, size_t n,
		      const struct store_holder *h, bool block,
		      int64_t timeout_ms, waiter_done_cb *cb, void *arg,
		      struct waiter **out);

/*
 * Tell `cb(arg)` (the acquire's own `arg`) once, when Redis first says
 * `w` is queued: a request that is granted at once or fails is never
 * told.  Set it right after the acquire returns.
 */
typedef void waiter_queued_cb(void *arg);
void waiter_when_queued(struct waiter *w, waiter_queued_cb *cb);

/*
 * Withdraw `w`: its callback runs now with `err`, its queue entry is
 * removed from Redis, and a grant that was already on its way is released.
 */
void waiter_cancel(struct waiter *w, int err);

/* End every pending acquire with `err` (unmount, shutdown). */
void waitq_fail_all(struct waitq *wq, int err);

/* Requests waiting now on this node. */
size_t waitq_count(const struct waitq *wq);

/* Feed the notifier's deliveries and connection changes in. */
void waitq_on_message(struct waitq *wq, const char *key, const char *body,
		      size_t len);
void waitq_on_broker(struct waitq *wq, bool up);

/*
 * Tell the grantees of the grants in `res` (a store reply: a release or a
 * withdrawal handed the lock on) that they hold it: each grantee's daemon,
 * directly when it is this one.  Run before the reply's own callback.
 */
void waitq_hand_over(struct waitq *wq, const struct store_result *res);

/* Requests answered from a grant another call made, since the start. */
uint64_t waitq_handoffs(const struct waitq *wq);
/* ... and how long each took from its release (waitq_waiter.c). */
const struct metrics_histogram *waitq_handoff_times(const struct waitq *wq);

/* "l.<16 hex digits>": where releases of lock node `node` are published. */
void waitq_lock_key(const char *node, char *buf, size_t size);
/* "s.<16 hex digits>": where a freed slot of namespace `ns`'s limit is. */
void waitq_semaphore_key(const char *ns, char *buf, size_t size);

#endif
