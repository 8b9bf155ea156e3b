/*
 * waitq_waiter.c - a waiting request's life (see waitq.h), from its first
 * call to its end, and a grant another call made for it (handed over,
 * answered from, confirmed, and timed from its release: the hand-over
 * histogram).  waitq.c, above it, is the queue's public side; waitq_i.h
 * is what the two share.
 *
 * A waiter is always in one state of enum waiter_state (waitq_i.h):
 * asking, queued (sleeping on a routing-key binding and a re-check timer,
 * or asking again), or, once its callback has run, granted, confirming or
 * ending, where it lingers only while a store call is still in flight or
 * to be retried, so that a late grant can be released and the queue entry
 * withdrawn, or a grant handed over confirmed.  At most one store call is
 * in flight at a time (in_flight), in every state.
 *
 * A blocking request may hold a queue entry from the moment its first call
 * is sent: that call can be answered after the waiter was (interrupt,
 * timeout, unmount), or not at all (EIO), and still have queued it in
 * Redis.  So every blocking waiter that sent a call withdraws its entry at
 * its end, whatever the last reply said, and keeps trying (every
 * RETRY_AFTER_EIO_MS) while Redis does not answer, until the entry's own
 * lease would have run out anyway.  Withdrawing is idempotent.
 * A wake-up (message, timer, broker reconnect) that arrives while a call is
 * in flight is remembered (wake_pending) and acted on when the call
 * returns, so no wake-up is lost and no two calls overlap.
 *
 * Waiters are parked per routing key, the way the Redis server parks its
 * blocked clients per key: a hash from the key a waiter sleeps on (and
 * from its own lock's key) to the waiters there, so a message costs
 * O(waiters of that key), not O(waiters of the node).
 *
 * Only the head of a chain on this node polls: a waiter whose predecessor
 * is a waiter of this same daemon hears it leave from this daemon itself
 * (its announcement is delivered locally, broker or not), so when the
 * broker goes away or comes back, and while it is away, one request per
 * waited lock asks Redis, not every waiter.
 *
 * Waiters form a chain: each sleeps on the nearest request ahead of it
 * ("w.<id>") or, at the head, on the lock that blocks it ("l.<hash>"), so a
 * release wakes one request, not all of them.  Every wake-up is only a hint;
 * the answer always comes from Redis.
 */
#include "waitq_i.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <time.h>

#include "clock.h"
#include "hash.h"
#include "log.h"
#include "name.h"
#include "notify.h"

#define RECHECK_AFTER_BIND_MS 100

void waitq_lock_key(const char *node, char *buf, size_t size)
{
	snprintf(buf, size, "l.%016llx", (unsigned long long)hash_str(node));
}

void waitq_semaphore_key(const char *ns, char *buf, size_t size)
{
	snprintf(buf, size, "s.%016llx", (unsigned long long)hash_str(ns));
}

struct waiter_list *waitq_bucket(struct waiter_list *index,
				 const char *key)
{
	return &index[hash_str(key) & (WAITQ_BUCKETS - 1)];
}

static void waiter_unbind(struct waiter *w)
{
	if (w->key[0]) {
		LIST_REMOVE(w, by_key);
		if (w->wq->nt)
			notifier_unbind(w->wq->nt, w->key);
	}
	w->key[0] = '\0';
}

/* Sleep on `key`; true when that is a new binding. */
static bool waiter_bind(struct waiter *w, const char *key)
{
	if (strcmp(w->key, key) == 0)
		return false;
	waiter_unbind(w);
	if (w->wq->nt && notifier_bind(w->wq->nt, key) < 0)
		return false;
	snprintf(w->key, sizeof(w->key), "%s", key);
	LIST_INSERT_HEAD(waitq_bucket(w->wq->key_index, w->key), w, by_key);
	return true;
}

void waiter_destroy(struct waiter *w)
{
	waiter_unbind(w);
	if (w->own_key[0]) {
		LIST_REMOVE(w, by_own_key);
		notifier_unbind(w->wq->nt, w->own_key);
	}
	if (w->recheck)
		event_free(w->recheck);
	if (w->deadline)
		event_free(w->deadline);
	LIST_REMOVE(w, link);
	LIST_REMOVE(w, by_id);
	w->wq->count--;
	for (size_t i = 0; i < w->nset; i++)
		free(w->set_paths[i]);
	free(w->set_paths);
	free(w->set_modes);
	free(w->path);
	free(w->h_id);
	free(w->h_node);
	free(w->h_note);
	free(w->h_absorb);
	free(w->h_groups);
	free(w);
}

void waiter_announce_left(struct waiter *w)
{
	char key[WAITQ_KEY_MAX];

	/* a blocking waiter's first call went out before its acquire
	 * returned; one that never blocks is never in Redis's queue */
	if (!w->block || w->wq->nt == NULL)
		return; /* nobody sleeps behind it */
	snprintf(key, sizeof(key), "w.%s", w->id);
	notifier_publish(w->wq->nt, key, "", 0);
}

void waiter_answer_as(struct waiter *w, enum waiter_state next, int err,
		      const struct store_result *res)
{
	if (waiter_answered(w))
		return;
	w->state = next;
	evtimer_del(w->recheck);
	evtimer_del(w->deadline);
	w->cb(w->arg, err, res);
}

void waiter_answer(struct waiter *w, int err,
		   const struct store_result *res)
{
	waiter_answer_as(w, WAITER_ENDING, err, res);
}

void waitq_arm(struct event *ev, int64_t ms)
{
	struct timeval tv;

	if (ms < 1)
		ms = 1;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

static void on_withdrawn(void *arg, const struct store_result *res)
{
	struct waiter *w = arg;

	w->in_flight = false;
	if (res->err == -EIO && mono_ms() < w->entry_until) {
		/* Redis did not answer: the entry may live on; try again */
		waitq_arm(w->recheck, RETRY_AFTER_EIO_MS);
		return;
	}
	waiter_announce_left(w);
	waiter_destroy(w);
}

static int waiter_withdraw(struct waiter *w)
{
	if (w->nset)
		return store_acquire_set(w->wq->st, w->set_paths, w->set_modes,
					 w->nset, &w->h,
					 &(struct store_wait){w->id, 0, "", false},
					 true, on_withdrawn, w);
	return store_withdraw(w->wq->st, w->path, w->id, on_withdrawn, w);
}

/* After its answer: undo what the last call did, then go away. */
void waiter_clean_up(struct waiter *w, const struct store_result *res)
{
	if (w->state == WAITER_GRANTED || w->state == WAITER_CONFIRMING) {
		waiter_confirm(w, res);
		return;
	}
	if (res && res->err == 0 && res->kind == STORE_TOKENS) {
		for (size_t i = 0; i < res->ntokens && i < w->nset; i++)
			store_disown(w->wq->st, w->set_paths[i], w->h.id,
				     res->tokens[i],
				     "granted after its request was withdrawn");
	} else if (res && res->err == 0 && res->word == WORD_NEW) {
		store_disown(w->wq->st, w->path, w->h.id, res->lock.token,
			     "granted after its request was withdrawn");
	}
	if (w->block && mono_ms() < w->entry_until) {
		if (waiter_withdraw(w) == 0)
			w->in_flight = true;
		else /* Redis not answering now: again later */
			waitq_arm(w->recheck, RETRY_AFTER_EIO_MS);
		return;
	}
	waiter_announce_left(w);
	waiter_destroy(w);
}

/* The routing key that tells of the end of blocker `b` (the store parsed
 * it from the reply), or -EINVAL when the reply names none. */
static int blocker_key(const struct store_blocker *b, char *key, size_t size)
{
	switch (b->kind) {
	case BLOCKER_HOLDER:
		waitq_lock_key(b->what, key, size);
		return 0;
	case BLOCKER_SEMAPHORE: /* a namespace's limit: any slot freed */
		waitq_semaphore_key(b->what, key, size);
		return 0;
	case BLOCKER_WAITER:
		snprintf(key, size, "w.%s", b->what);
		return 0;
	default:
		return -EINVAL;
	}
}

/* Does `w` sleep behind another waiter of this daemon (not a chain head)? */
bool waiter_behind_local(const struct waiter *w)
{
	return strncmp(w->key, w->wq->local_key, strlen(w->wq->local_key)) ==
	       0;
}

static int64_t recheck_delay(struct waiter *w, int64_t blocker_in_ms)
{
	int64_t ms = w->wq->lease_ms / 3;

	if (blocker_in_ms + 20 < ms)
		ms = blocker_in_ms + 20;
	if (!notifier_connected(w->wq->nt) && !waiter_behind_local(w) &&
	    ms > WAITQ_BROKER_DOWN_MS)
		ms = WAITQ_BROKER_DOWN_MS;
	return ms;
}

/*
 * Most waits are for the lock itself: once Redis says `w` must wait,
 * listen for its releases for as long as the wait lasts (the bindings are
 * counted: one per lock per daemon).  Never before the first answer: an
 * acquire that is granted at once costs the broker nothing.  A release
 * between that answer and the binding taking hold is not lost: it hands
 * the lock to the queued request itself when it can (a grant, told on the
 * daemon's own key), and the first sleep re-checks soon (waiter_sleep).
 */
static void waiter_bind_own(struct waiter *w)
{
	char key[WAITQ_KEY_MAX], *node = NULL;

	if (w->own_key[0] || w->wq->nt == NULL ||
	    name_lock_node(w->path, &node) < 0)
		return;
	waitq_lock_key(node, key, sizeof(key));
	free(node);
	if (notifier_bind(w->wq->nt, key) == 0) {
		snprintf(w->own_key, sizeof(w->own_key), "%s", key);
		LIST_INSERT_HEAD(waitq_bucket(w->wq->own_index, key), w, by_own_key);
	}
}

/* Sleep on what blocks `w` (`res`); `first`: it was just queued. */
static void waiter_sleep(struct waiter *w, const struct store_result *res,
			 bool first)
{
	char key[WAITQ_KEY_MAX];
	int64_t exp = 0, delay;
	bool fresh;

	if (blocker_key(&res->blocker, key, sizeof(key)) == 0) {
		exp = res->blocker.until_ms;
	} else {
		key[0] = '\0';
		exp = res->now_ms + WAITQ_BROKER_DOWN_MS;
	}
	/* a binding is asynchronous: a new one (and the first one, made just
	 * before asking) may have missed a release; check again soon */
	fresh = key[0] && ((waiter_bind(w, key) &&
			    strcmp(key, w->own_key) != 0) ||
			   first);
	delay = recheck_delay(w, exp - res->now_ms);
	/* a release may have slipped by before the new binding took hold */
	if (fresh && delay > RECHECK_AFTER_BIND_MS)
		delay = RECHECK_AFTER_BIND_MS;
	waitq_arm(w->recheck, delay);
}

void waiter_on_attempt(void *arg, const struct store_result *res)
{
	struct waiter *w = arg;
	bool was_queued;

	w->in_flight = false;
	if (waiter_answered(w)) {
		waiter_clean_up(w, res);
		return;
	}
	was_queued = w->state == WAITER_QUEUED;
	if (res->err == -EAGAIN && w->block && res->extra[0]) {
		bool first = !was_queued;

		if (first && w->wq->queued_cb)
			w->wq->queued_cb(w->wq->queued_arg, w->path, &w->h,
					 res->now_ms);
		w->state = WAITER_QUEUED;
		waiter_bind_own(w);
		waiter_sleep(w, res, first);
		if (first && w->queued_hook)
			w->queued_hook(w->arg);
	} else if (res->err == -EIO && was_queued) {
		waitq_arm(w->recheck, RETRY_AFTER_EIO_MS); /* keep our place */
	} else {
		if (res->err == -EDEADLK && w->wq->deadlock_cb)
			w->wq->deadlock_cb(w->wq->queued_arg, w->path, &w->h,
					   res->now_ms);
		waiter_answer(w, res->err, res);
		if (res->err == -EIO) {
			/* unknown outcome: it may have queued us after all */
			waiter_clean_up(w, NULL);
			return;
		}
		/* one never queued has nobody chained behind it: granted at
		 * once, an acquire tells the broker nothing */
		if (was_queued)
			waiter_announce_left(w);
		waiter_destroy(w);
		return;
	}
	if (w->wake_pending) {
		w->wake_pending = false;
		waiter_attempt(w);
	}
}

int waiter_send(struct waiter *w)
{
	struct store_wait wait = {
		.waiter_id = w->id,
		.lease_ms = w->wq->lease_ms,
		.daemon_node = w->wq->daemon,
	};
	int err;

	if (w->nset)
		err = store_acquire_set(w->wq->st, w->set_paths, w->set_modes,
					w->nset, &w->h,
					w->block ? &wait : NULL, false,
					waiter_on_attempt, w);
	else
		err = store_acquire(w->wq->st, w->path, &w->h, w->excl,
				    w->block ? &wait : NULL, waiter_on_attempt,
				    w);
	if (err == 0) {
		w->in_flight = true;
		if (w->block)
			w->entry_until = mono_ms() + w->wq->lease_ms;
	}
	return err;
}

void waiter_attempt(struct waiter *w)
{
	if (w->in_flight) {
		w->wake_pending = true;
		return;
	}
	evtimer_del(w->recheck);
	if (waiter_send(w) < 0)
		waitq_arm(w->recheck, RETRY_AFTER_EIO_MS);
}

struct waiter *waitq_find_waiter(struct waitq *wq, const char *id)
{
	struct waiter *w;

	LIST_FOREACH(w, waitq_bucket(wq->id_index, id), by_id)
		if (strcmp(w->id, id) == 0)
			return w;
	return NULL;
}

/*
 * ---- a grant another call made: handed over, answered from, confirmed ----
 *
 * Most waits end without a question of their own: the call that ends the
 * hold ahead (a release or a withdrawal, on any node) grants the lock to
 * the head of the queue in the same script and hands the grant over
 * (waitq_hand_over: to this daemon's "g.<daemon id>" key, or directly when
 * the grantee is ours).  The grantee is answered from that message at
 * once, then confirms the grant in the background (acquire.lua's 'c'),
 * which gives it its full ttl; until then Redis holds it only as long as
 * its queue entry would have lived.  A grant that finds its request
 * already ended is released again; one that is lost is found by the
 * request's next re-check, which confirms it.
 */

/*
 * A grant message older than this (by the Redis clock it carries against
 * the Redis clock as this daemon last saw it, carried forward on the
 * monotonic clock: store_redis_now(); the daemon was paused, or the
 * message was held up) is not trusted to be still held: it only wakes its
 * request, whose own call then confirms the grant or finds it gone and
 * keeps waiting.  Well under the grant's provisional life (its queue
 * entry's: lib.lua's grant_waiting).
 */
#define GRANT_FRESH_MS 500
/* A grant handed over is confirmed this long after at most (confirm_delay) */
#define CONFIRM_AFTER_MAX_MS 500

/* When to confirm a grant handed over with `life_ms` to live unconfirmed:
 * early enough that the confirmation has most of that life to arrive. */
static int64_t confirm_delay(int64_t life_ms)
{
	int64_t ms = life_ms / 4;

	if (ms < 0)
		return 0;
	return ms > CONFIRM_AFTER_MAX_MS ? CONFIRM_AFTER_MAX_MS : ms;
}

/*
 * The lock `w` waits for was granted to it by another call (token `token`,
 * held until `expires_ms` unless confirmed, Redis clock `now_ms`): answer
 * its caller as its own acquire would have.
 */
static void waiter_granted(struct waiter *w, int64_t token,
			   int64_t expires_ms, int64_t now_ms)
{
	struct lock_holder mine = {
		.id = w->h_id, .node = w->h_node, .uid = w->h.uid,
		.gid = w->h.gid, .pid = w->h.pid, .session = w->h.session,
		.kind = w->h.kind, .mode = w->h.mode, .token = token,
		.acquired_ms = now_ms, .renewed_ms = now_ms,
		.expires_ms = expires_ms, .ttl_ms = w->h.ttl_ms,
		.keepalive = w->h.keepalive, .note = w->h_note,
		.note_len = w->h_note ? strlen(w->h_note) : 0,
	};
	struct store_result res = {
		.now_ms = now_ms, .extra = "new", .word = WORD_NEW,
		.kind = STORE_LOCK,
		.lock = {.mode = w->h.mode, .token = token, .nholders = 1,
			 .holders = &mine},
	};

	w->grant_token = token;
	waiter_answer_as(w, WAITER_GRANTED, 0, &res);
	/* confirmed a quarter into its provisional life, if still held then
	 * (waiter_confirm): most short holds end before, and cost no call */
	if (!w->in_flight)
		waitq_arm(w->recheck, confirm_delay(expires_ms - now_ms));
}

/* Grant `token` (until `expires`, Redis clock `now`) for our request `id`. */
void waitq_grant_arrived(struct waitq *wq, const char *id, int64_t token,
			 int64_t expires, int64_t now)
{
	struct waiter *w;
	int64_t redis_now;

	/* a request that is gone withdrew its entry, which undid the grant */
	if ((w = waitq_find_waiter(wq, id)) == NULL ||
	    w->state == WAITER_GRANTED || w->state == WAITER_CONFIRMING)
		return;
	if (w->state == WAITER_ENDING) { /* interrupted or timed out since */
		store_disown(wq->st, w->path, w->h.id, token,
			     "granted after its request ended");
		return;
	}
	redis_now = store_redis_now(w->wq->st); /* never our own wall clock */
	if (redis_now == 0 || redis_now - now > GRANT_FRESH_MS ||
	    expires - now < GRANT_FRESH_MS) {
		waiter_attempt(w); /* too old to trust: ask */
		return;
	}
	/* how long the grant took to get here, by the Redis clock */
	metrics_handoff(&wq->handoff_times,
			redis_now > now ? (redis_now - now) / 1000.0 : 0);
	waiter_granted(w, token, expires, now);
}

/* A grant message: "<waiter id> <token> <expiry> <now>". */
void waitq_on_grant(struct waitq *wq, const char *body, size_t len)
{
	char buf[WAITQ_KEY_MAX + 64], id[WAITQ_KEY_MAX];
	long long token, expires, now;

	if (len == 0 || len >= sizeof(buf))
		return;
	memcpy(buf, body, len);
	buf[len] = '\0';
	if (sscanf(buf, "%127s %lld %lld %lld", id, &token, &expires, &now) ==
	    4)
		waitq_grant_arrived(wq, id, token, expires, now);
}

/* A granted waiter's confirmation ended (`res`): tell the node, go away. */
static void waiter_confirmed(struct waiter *w, const struct store_result *res)
{
	if (w->wq->confirmed_cb)
		w->wq->confirmed_cb(w->wq->queued_arg, w->path, w->h.id,
				    w->grant_token, res);
	waiter_announce_left(w);
	waiter_destroy(w);
}

/*
 * After a grant that another call made reached `w` (and answered it):
 * `res`, the reply to what was in flight (NULL: nothing was), may already
 * confirm it; otherwise confirm it now, and keep trying while Redis does
 * not answer, as long as the grant can live.
 */
void waiter_confirm(struct waiter *w, const struct store_result *res)
{
	struct store_wait wait = {.waiter_id = w->id,
				  .lease_ms = w->wq->lease_ms,
				  .daemon_node = w->wq->daemon,
				  .confirm = true};
	struct store_result lost = {.err = -ESTALE, .extra = "lost",
				    .word = WORD_LOST};

	if (res && res->err == 0) {
		waiter_confirmed(w, res);
		return;
	}
	if (res && w->state == WAITER_CONFIRMING && res->err != -EIO) {
		waiter_confirmed(w, res); /* the grant is gone */
		return;
	}
	if (res && w->state == WAITER_CONFIRMING &&
	    mono_ms() < w->entry_until) {
		/* Redis away: again later */
		waitq_arm(w->recheck, RETRY_AFTER_EIO_MS);
		return;
	}
	if (mono_ms() >= w->entry_until) {
		waiter_confirmed(w, &lost);
		return;
	}
	if (w->state == WAITER_GRANTED && w->wq->held_cb &&
	    !w->wq->held_cb(w->wq->queued_arg, w->path, w->h.id,
			    w->grant_token)) {
		/* released (or lost) before it needed confirming */
		waiter_announce_left(w);
		waiter_destroy(w);
		return;
	}
	w->state = WAITER_CONFIRMING;
	if (store_acquire(w->wq->st, w->path, &w->h, false, &wait,
			  waiter_on_attempt, w) == 0)
		w->in_flight = true;
	else
		waitq_arm(w->recheck, RETRY_AFTER_EIO_MS);
}
