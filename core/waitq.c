/*
 * waitq.c - waiting for locks without threads (see waitq.h): the queue's
 * public side.  A request is made a waiter here (its holder copied, its
 * timers armed, its first call sent), cancelled, failed with the rest at
 * shutdown, and woken by what the broker says (a release on the key it
 * sleeps on, a grant for this daemon, the broker going or coming back).
 * Its life between (waitq_waiter.c) is the layer below.
 */
#include "waitq_i.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>

#include "notify.h"

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
	LIST_INSERT_HEAD(waitq_bucket(wq->id_index, w->id), w, by_id);
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

void waitq_on_message(struct waitq *wq, const char *key, const char *body,
		      size_t len)
{
	struct waiter *w;

	if (strcmp(key, wq->grant_key) == 0) {
		waitq_on_grant(wq, body, len);
		return;
	}

	/* an attempt never ends (or rebinds) a waiter before its reply */
	LIST_FOREACH(w, waitq_bucket(wq->key_index, key), by_key)
		if (!waiter_answered(w) && strcmp(w->key, key) == 0)
			waiter_attempt(w);
	LIST_FOREACH(w, waitq_bucket(wq->own_index, key), by_own_key)
		if (!waiter_answered(w) && w->in_flight &&
		    strcmp(w->key, key) != 0 && strcmp(w->own_key, key) == 0)
			w->wake_pending = true; /* it may be about to sleep on it */
}

void waitq_on_broker(struct waitq *wq, bool up)
{
	struct waiter *w;

	LIST_FOREACH(w, &wq->list, link) {
		if (w->state != WAITER_QUEUED || waiter_behind_local(w))
			continue; /* its local predecessor will tell it */
		if (up)
			waiter_attempt(w); /* messages may have been missed */
		else if (!w->in_flight)
			waitq_arm(w->recheck, WAITQ_BROKER_DOWN_MS);
	}
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
			waitq_grant_arrived(wq, g->waiter_id, g->token, g->expires_ms,
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
	return wq->handoff_times.count;
}

const struct metrics_histogram *waitq_handoff_times(const struct waitq *wq)
{
	return &wq->handoff_times;
}
