/*
 * waitq.c - waiting for locks without threads (see waitq.h): the queue
 * of this daemon's requests and each one's life, from its first call to
 * its end.  A grant another call made for one of them (handed over,
 * answered from, confirmed) is waitq_grant.c's; waitq_i.h is what the two
 * share.
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

static struct waiter_list *bucket(struct waiter_list *index,
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
	LIST_INSERT_HEAD(bucket(w->wq->key_index, w->key), w, by_key);
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

static void waiter_answer(struct waiter *w, int err,
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
static void waiter_clean_up(struct waiter *w, const struct store_result *res)
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
static bool behind_local(const struct waiter *w)
{
	return strncmp(w->key, w->wq->local_key, strlen(w->wq->local_key)) ==
	       0;
}

static int64_t recheck_delay(struct waiter *w, int64_t blocker_in_ms)
{
	int64_t ms = w->wq->lease_ms / 3;

	if (blocker_in_ms + 20 < ms)
		ms = blocker_in_ms + 20;
	if (!notifier_connected(w->wq->nt) && !behind_local(w) &&
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
		LIST_INSERT_HEAD(bucket(w->wq->own_index, key), w, by_own_key);
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

/* Ask Redis (once) whether `w` can be granted now; 0 or -errno. */
static int waiter_send(struct waiter *w)
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

static void on_recheck(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	(void)fd;
	(void)what;
	if (waiter_answered(w))
		waiter_clean_up(w, NULL); /* a withdrawal to try again */
	else
		waiter_attempt(w);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	waiter_cancel(arg, -ETIMEDOUT);
}

int waitq_new(struct event_base *base, struct store *st,
	      struct notifier *nt, const struct waitq_config *cfg,
	      struct waitq **out)
{
	struct waitq *wq = calloc(1, sizeof(*wq));
	uint64_t rnd = 0;

	if (wq == NULL)
		return -ENOMEM;
	wq->base = base;
	wq->st = st;
	wq->nt = nt;
	wq->lease_ms = cfg->lease_ms > 300 ? cfg->lease_ms : 300;
	wq->queued_cb = cfg->queued_cb;
	wq->queued_arg = cfg->queued_arg;
	wq->confirmed_cb = cfg->confirmed_cb;
	wq->held_cb = cfg->held_cb;
	wq->deadlock_cb = cfg->deadlock_cb;
	wq->node = strdup(cfg->node);
	if (wq->node == NULL) {
		free(wq);
		return -ENOMEM;
	}
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)(uintptr_t)wq;
	snprintf(wq->nonce, sizeof(wq->nonce), "%016llx",
		 (unsigned long long)rnd);
	snprintf(wq->local_key, sizeof(wq->local_key), "w.%s.%s.", wq->node,
		 wq->nonce);
	snprintf(wq->daemon, sizeof(wq->daemon), "%s.%s", wq->node,
		 wq->nonce);
	snprintf(wq->grant_key, sizeof(wq->grant_key), "g.%s", wq->daemon);
	LIST_INIT(&wq->list);
	for (size_t i = 0; i < WAITQ_BUCKETS; i++) {
		LIST_INIT(&wq->key_index[i]);
		LIST_INIT(&wq->own_index[i]);
		LIST_INIT(&wq->id_index[i]);
	}
	if (nt && notifier_bind(nt, wq->grant_key) < 0) {
		free(wq->node);
		free(wq);
		return -ENOMEM;
	}
	*out = wq;
	return 0;
}

void waitq_free(struct waitq *wq)
{
	struct waiter *w;

	if (wq == NULL)
		return;
	waitq_fail_all(wq, -EIO);
	while ((w = LIST_FIRST(&wq->list)) != NULL)
		waiter_destroy(w);
	if (wq->nt)
		notifier_unbind(wq->nt, wq->grant_key);
	free(wq->node);
	free(wq);
}

static int copy_holder(struct waiter *w, const struct store_holder *h)
{
	w->h = *h;
	w->h_id = strdup(h->id);
	w->h_node = strdup(h->node);
	w->h_note = h->note ? strdup(h->note) : NULL;
	w->h_absorb = h->absorb_id ? strdup(h->absorb_id) : NULL;
	if (h->ngroups) {
		w->h_groups = calloc(h->ngroups, sizeof(*w->h_groups));
		if (w->h_groups == NULL)
			return -ENOMEM;
		memcpy(w->h_groups, h->groups,
		       h->ngroups * sizeof(*w->h_groups));
	}
	w->h.groups = w->h_groups;
	if (w->h_id == NULL || w->h_node == NULL ||
	    (h->note && w->h_note == NULL) ||
	    (h->absorb_id && w->h_absorb == NULL))
		return -ENOMEM;
	w->h.id = w->h_id;
	w->h.node = w->h_node;
	w->h.note = w->h_note;
	w->h.absorb_id = w->h_absorb;
	return 0;
}

/* A new waiter for `path` (the first member of a set); NULL on -ENOMEM. */
static struct waiter *waiter_new(struct waitq *wq, const char *path,
				 const struct store_holder *h, bool block,
				 waiter_done_cb *cb, void *arg)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->wq = wq;
	w->state = WAITER_ASKING;
	LIST_INSERT_HEAD(&wq->list, w, link);
	wq->count++;
	w->block = block;
	w->cb = cb;
	w->arg = arg;
	snprintf(w->id, sizeof(w->id), "%s.%llu", wq->daemon,
		 (unsigned long long)++wq->next_id);
	LIST_INSERT_HEAD(bucket(wq->id_index, w->id), w, by_id);
	w->path = strdup(path);
	w->recheck = evtimer_new(wq->base, on_recheck, w);
	w->deadline = evtimer_new(wq->base, on_deadline, w);
	if (w->path == NULL || w->recheck == NULL || w->deadline == NULL ||
	    copy_holder(w, h) < 0) {
		waiter_destroy(w);
		return NULL;
	}
	return w;
}

/* The first attempt; takes `w` whatever happens. */
static int waiter_start(struct waiter *w, int64_t timeout_ms,
			struct waiter **out)
{
	int err = waiter_send(w);

	if (err < 0) {
		waiter_destroy(w);
		return err;
	}
	if (w->block && timeout_ms > 0)
		waitq_arm(w->deadline, timeout_ms);
	if (out)
		*out = w;
	return 0;
}

int waitq_acquire_set(struct waitq *wq, char *const *paths,
		      const enum lock_mode *modes, size_t n,
		      const struct store_holder *h, bool block,
		      int64_t timeout_ms, waiter_done_cb *cb, void *arg,
		      struct waiter **out)
{
	struct waiter *w;

	if (n == 0)
		return -EINVAL;
	w = waiter_new(wq, paths[0], h, block, cb, arg);
	if (w == NULL)
		return -ENOMEM;
	w->set_paths = calloc(n, sizeof(*w->set_paths));
	w->set_modes = calloc(n, sizeof(*w->set_modes));
	if (w->set_paths == NULL || w->set_modes == NULL)
		goto fail;
	for (; w->nset < n; w->nset++) {
		w->set_paths[w->nset] = strdup(paths[w->nset]);
		if (w->set_paths[w->nset] == NULL)
			goto fail;
		w->set_modes[w->nset] = modes[w->nset];
	}
	return waiter_start(w, timeout_ms, out);
fail:
	waiter_destroy(w);
	return -ENOMEM;
}

int waitq_acquire(struct waitq *wq, const char *path,
		  const struct store_holder *h, bool excl, bool block,
		  int64_t timeout_ms, waiter_done_cb *cb, void *arg,
		  struct waiter **out)
{
	struct waiter *w = waiter_new(wq, path, h, block, cb, arg);

	if (w == NULL)
		return -ENOMEM;
	w->excl = excl;
	return waiter_start(w, timeout_ms, out);
}

void waiter_when_queued(struct waiter *w, waiter_queued_cb *cb)
{
	w->queued_hook = cb;
}

void waiter_cancel(struct waiter *w, int err)
{
	if (w == NULL || waiter_answered(w))
		return;
	waiter_answer(w, err, NULL);
	if (!w->in_flight)
		waiter_clean_up(w, NULL);
}

void waitq_fail_all(struct waitq *wq, int err)
{
	struct waiter *w, *next;

	for (w = LIST_FIRST(&wq->list); w != NULL; w = next) {
		next = LIST_NEXT(w, link);
		if (!waiter_answered(w))
			waiter_cancel(w, err);
	}
}

size_t waitq_count(const struct waitq *wq)
{
	const struct waiter *w;
	size_t n = 0;

	LIST_FOREACH(w, &wq->list, link)
		if (w->state == WAITER_QUEUED)
			n++;
	return n;
}

struct waiter *waitq_find_waiter(struct waitq *wq, const char *id)
{
	struct waiter *w;

	LIST_FOREACH(w, bucket(wq->id_index, id), by_id)
		if (strcmp(w->id, id) == 0)
			return w;
	return NULL;
}

void waitq_on_message(struct waitq *wq, const char *key, const char *body,
		      size_t len)
{
	struct waiter *w;

	if (strcmp(key, wq->grant_key) == 0) {
		waitq_on_grant(wq, body, len);
		return;
	}

	/* an attempt never ends (or rebinds) a waiter before its reply */
	LIST_FOREACH(w, bucket(wq->key_index, key), by_key)
		if (!waiter_answered(w) && strcmp(w->key, key) == 0)
			waiter_attempt(w);
	LIST_FOREACH(w, bucket(wq->own_index, key), by_own_key)
		if (!waiter_answered(w) && w->in_flight &&
		    strcmp(w->key, key) != 0 && strcmp(w->own_key, key) == 0)
			w->wake_pending = true; /* it may be about to sleep on it */
}

void waitq_on_broker(struct waitq *wq, bool up)
{
	struct waiter *w;

	LIST_FOREACH(w, &wq->list, link) {
		if (w->state != WAITER_QUEUED || behind_local(w))
			continue; /* its local predecessor will tell it */
		if (up)
			waiter_attempt(w); /* messages may have been missed */
		else if (!w->in_flight)
			waitq_arm(w->recheck, WAITQ_BROKER_DOWN_MS);
	}
}
