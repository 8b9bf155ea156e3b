/*
 * waitq_i.h - the wait queue's insides, shared by waitq.c (the queue's
 * public side: submit, cancel, wake) and the layer below it,
 * waitq_waiter.c (a waiter's life: ask, park, withdraw, end; and a grant
 * another call made: handed over, answered from, confirmed).  Nothing
 * outside those two files includes it.
 */
#ifndef LOCKFS_WAITQ_I_H
#define LOCKFS_WAITQ_I_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "metrics.h"
#include "waitq.h"

struct event;

/* A call Redis did not answer (or that could not start) is tried again
 * this long after */
#define RETRY_AFTER_EIO_MS 1000
#define WAITQ_BUCKETS 4096 /* per index; a power of two */

/*
 * Where a waiter is in its life.  The first two are before its answer,
 * the last three after it (waiter_answered()); "its end" is
 * waiter_destroy().  Whether a store call is in flight is kept apart
 * (in_flight), as is a wake-up heard meanwhile (wake_pending).
 */
enum waiter_state {
	/*
	 * Its first call is in flight; Redis has not said it is queued.
	 * Leads to QUEUED (the reply says wait), GRANTED (a grant handed
	 * over before that reply), ENDING (cancelled, timed out, unmounted,
	 * or a reply of -EIO), or its end (granted or refused at once).
	 */
	WAITER_ASKING,
	/*
	 * Redis said it holds its queue entry (a later reply of -EIO keeps
	 * it here): it sleeps on a routing key and its re-check timer, or
	 * asks again (in_flight).  Leads to GRANTED (a grant handed over),
	 * ENDING (cancelled, timed out, unmounted), or its end (a re-check
	 * granted or refused it).
	 */
	WAITER_QUEUED,
	/*
	 * Answered from a grant another call made (waiter_granted); it waits
	 * for its confirm timer, or for the reply to the call that was in
	 * flight, which may confirm it.  Leads to CONFIRMING, or its end
	 * (confirmed by that reply, no longer held, or past its life).
	 */
	WAITER_GRANTED,
	/*
	 * Its confirmation (acquire.lua's 'c') is in flight, or is tried
	 * again on the re-check timer while Redis does not answer.  Leads to
	 * its end only.
	 */
	WAITER_CONFIRMING,
	/*
	 * Answered otherwise (cancelled, timed out, unmounted, refused): the
	 * reply to a call still in flight is undone, then a blocking
	 * waiter's queue entry is withdrawn, again on the re-check timer
	 * while Redis does not answer.  Leads to its end only.
	 */
	WAITER_ENDING,
};

struct waiter {
	struct waitq *wq;
	char *path;
	struct store_holder h;
	char *h_id, *h_node, *h_note, *h_absorb; /* owned copies behind h */
	gid_t *h_groups;
	bool excl, block;
	char **set_paths; /* a lock set when nset > 0 */
	enum lock_mode *set_modes;
	size_t nset;
	char id[WAITQ_KEY_MAX - 8];
	waiter_done_cb *cb;
	void *arg;
	waiter_queued_cb *queued_hook; /* told once, when first queued */
	enum waiter_state state;
	bool in_flight;    /* a store call is in flight: at most one */
	bool wake_pending; /* woken while in flight: ask again on the reply */
	int64_t entry_until; /* monotonic ms: any entry is dead by then */
	int64_t grant_token; /* GRANTED, CONFIRMING: the grant handed over */
	char key[WAITQ_KEY_MAX]; /* bound routing key, "" for none */
	char own_key[WAITQ_KEY_MAX]; /* its own lock's key, bound throughout */
	struct event *recheck;
	struct event *deadline;
	LIST_ENTRY(waiter) link;
	LIST_ENTRY(waiter) by_key;     /* in key_index while key[0] */
	LIST_ENTRY(waiter) by_own_key; /* in own_index while own_key[0] */
	LIST_ENTRY(waiter) by_id;      /* in id_index throughout */
};

LIST_HEAD(waiter_list, waiter);

struct waitq {
	struct event_base *base;
	struct store *st;
	struct notifier *nt;
	char *node;
	int64_t lease_ms;
	char nonce[17];
	char local_key[WAITQ_KEY_MAX]; /* "w.<node>.<nonce>.": ours */
	char daemon[WAITQ_KEY_MAX - 32]; /* "<node>.<nonce>": this daemon */
	char grant_key[WAITQ_KEY_MAX]; /* "g.<daemon>": grants made for us */
	uint64_t next_id;
	size_t count;
	struct waiter_list list;
	struct waiter_list key_index[WAITQ_BUCKETS];
	struct waiter_list own_index[WAITQ_BUCKETS];
	struct waiter_list id_index[WAITQ_BUCKETS];
	waitq_queued_cb *queued_cb;
	waitq_queued_cb *deadlock_cb;
	void *queued_arg;
	waitq_confirmed_cb *confirmed_cb;
	waitq_held_cb *held_cb;
	/* grants handed over and answered from (its count): the time from
	 * the release to the grant's arrival */
	struct metrics_histogram handoff_times;
};

/* Has its callback run (granted, confirming or ending)? */
static inline bool waiter_answered(const struct waiter *w)
{
	return w->state != WAITER_ASKING && w->state != WAITER_QUEUED;
}

/* ---- waitq_waiter.c: a waiter's life, what waitq.c calls --------------- */

/* The list of `index` that `key` hashes to. */
struct waiter_list *waitq_bucket(struct waiter_list *index, const char *key);
/* Arm timer `ev` to fire in `ms` (at least 1). */
void waitq_arm(struct event *ev, int64_t ms);
/* Ask Redis (once) whether `w` can be granted now; 0 or -errno. */
int waiter_send(struct waiter *w);
/* Ask Redis whether `w` can be granted now, or after the call in flight. */
void waiter_attempt(struct waiter *w);
/* Run `w`'s callback (once) with `err` and `res`: its answer. */
void waiter_answer(struct waiter *w, int err, const struct store_result *res);
/* After its answer: undo what the last call did (`res`, NULL for none),
 * then go away. */
void waiter_clean_up(struct waiter *w, const struct store_result *res);
/* Does `w` sleep behind another waiter of this daemon (not a chain head)? */
bool waiter_behind_local(const struct waiter *w);
/* Unbind, unindex and free `w`: its end. */
void waiter_destroy(struct waiter *w);
/* A message on this daemon's grant key ("g.<daemon>"). */
void waitq_on_grant(struct waitq *wq, const char *body, size_t len);
/* Grant `token` (expiring at `expires_ms`, the Redis clock `now_ms`) made
 * for this daemon's waiter `id`: answer it, or give the grant back. */
void waitq_grant_arrived(struct waitq *wq, const char *id, int64_t token,
			 int64_t expires_ms, int64_t now_ms);

/* ---- and within waitq_waiter.c ---------------------------------------- */

/* The waiter of this daemon with id `id`, or NULL. */
struct waiter *waitq_find_waiter(struct waitq *wq, const char *id);
/* Run `w`'s callback (once) and move it to `next`, an answered state. */
void waiter_answer_as(struct waiter *w, enum waiter_state next, int err,
		      const struct store_result *res);
/* The reply to an acquire call of `w` (`arg`): an attempt or a confirmation. */
void waiter_on_attempt(void *arg, const struct store_result *res);
/* Tell the requests chained behind `w` that it left the queue. */
void waiter_announce_left(struct waiter *w);
/*
 * `w` is GRANTED or CONFIRMING: `res`, the reply to the call that was in
 * flight (NULL: none was), may confirm it; otherwise confirm it now.
 */
void waiter_confirm(struct waiter *w, const struct store_result *res);

#endif
