/*
 * waitq_grant.c - a grant another call made (see waitq.h): handed over
 * to its grantee, answered from, and confirmed.  The queue and the rest
 * of a waiter's life are waitq.c's; waitq_i.h is what the two share.
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
#include "waitq_i.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "notify.h"

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
	w->wq->handoffs++;
	waiter_answer_as(w, WAITER_GRANTED, 0, &res);
	/* confirmed a quarter into its provisional life, if still held then
	 * (waiter_confirm): most short holds end before, and cost no call */
	if (!w->in_flight)
		waitq_arm(w->recheck, confirm_delay(expires_ms - now_ms));
}

/* Grant `token` (until `expires`, Redis clock `now`) for our request `id`. */
static void grant_arrived(struct waitq *wq, const char *id, int64_t token,
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
		grant_arrived(wq, id, token, expires, now);
}

void waitq_hand_over(struct waitq *wq, const struct store_result *res)
{
	char key[WAITQ_KEY_MAX + 2], body[WAITQ_KEY_MAX + 64];
	int len;

	for (size_t i = 0; i < res->ngrants; i++) {
		const struct store_grant *g = &res->grants[i];

		if (g->wake_ns) {
			waitq_semaphore_key(g->wake_ns, key, sizeof(key));
			if (wq->nt)
				notifier_publish(wq->nt, key, "", 0);
			else
				waitq_on_message(wq, key, NULL, 0);
			continue;
		}
		if (strcmp(g->daemon, wq->daemon) == 0) { /* ours: directly */
			grant_arrived(wq, g->waiter_id, g->token, g->expires_ms,
				      res->now_ms);
			continue;
		}
		len = snprintf(body, sizeof(body), "%s %lld %lld %lld",
			       g->waiter_id, (long long)g->token,
			       (long long)g->expires_ms,
			       (long long)res->now_ms);
		if (len < 0 || (size_t)len >= sizeof(body))
			continue;
		snprintf(key, sizeof(key), "g.%s", g->daemon);
		if (wq->nt)
			notifier_publish(wq->nt, key, body, len);
	}
}

uint64_t waitq_handoffs(const struct waitq *wq)
{
	return wq->handoffs;
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
