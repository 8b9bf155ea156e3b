/*
 * test_waitq.c - the wait queue against a fake store and a fake notifier
 * (linked in place of the real ones): every way a request can end —
 * granted, interrupted, timed out, backend lost, unmounted — answers it
 * exactly once and leaves no queue entry behind, also when the ending comes
 * while a store call is still in flight; a late grant is disowned; a
 * message wakes only the waiters of its key; a grant handed over is
 * confirmed only when its hold outlives the first part of its life.
 *
 * The fake store records each call and lets the test answer it when it
 * likes, which is what makes the in-flight moments reachable.
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "metrics.h"
#include "notify.h"
#include "store.h"
#include "waitq.h"

/* ---- the fake store ----------------------------------------------- */

enum fake_kind { FAKE_ACQUIRE, FAKE_SET, FAKE_WITHDRAW, FAKE_RELEASE };

struct fake_call {
	enum fake_kind kind;
	char path[128];
	char waiter_id[96];
	bool withdraw; /* a lock set's withdrawal */
	store_cb *cb;
	void *arg;
	bool answered;
};

#define FAKE_MAX 256
static struct fake_call calls[FAKE_MAX];
static int ncalls;
static int fail_starts; /* > 0: that many calls fail to start with -EIO */
static int disowned;
static char bound[64][WAITQ_KEY_MAX];
static int nbound;

static int fake_record(enum fake_kind kind, const char *path,
		       const char *waiter_id, store_cb *cb, void *arg)
{
	struct fake_call *c;

	if (fail_starts > 0) {
		fail_starts--;
		return -EIO;
	}
	assert_true(ncalls < FAKE_MAX);
	c = &calls[ncalls++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(c->waiter_id, sizeof(c->waiter_id), "%s",
		 waiter_id ? waiter_id : "");
	c->cb = cb;
	c->arg = arg;
	return 0;
}

int store_acquire(struct store *st, const char *path,
		  const struct store_holder *h, bool excl,
		  const struct store_wait *wait, store_cb *cb, void *arg)
{
	(void)st;
	(void)h;
	(void)excl;
	return fake_record(FAKE_ACQUIRE, path, wait ? wait->waiter_id : NULL,
			   cb, arg);
}

int store_acquire_set(struct store *st, char *const *paths,
		      const enum lock_mode *modes, size_t n,
		      const struct store_holder *h,
		      const struct store_wait *wait, bool withdraw,
		      store_cb *cb, void *arg)
{
	int err;

	(void)st;
	(void)modes;
	(void)n;
	(void)h;
	err = fake_record(withdraw ? FAKE_WITHDRAW : FAKE_SET, paths[0],
			  wait ? wait->waiter_id : NULL, cb, arg);
	if (err == 0)
		calls[ncalls - 1].withdraw = withdraw;
	return err;
}

int store_withdraw(struct store *st, const char *path, const char *waiter_id,
		   store_cb *cb, void *arg)
{
	(void)st;
	return fake_record(FAKE_WITHDRAW, path, waiter_id, cb, arg);
}

/* The Redis clock as the fake store last saw it: ahead of the wall clock
 * by redis_ahead_ms (0: the same), or unknown with redis_unknown. */
static int64_t redis_ahead_ms;
static bool redis_unknown;

int64_t store_redis_now(const struct store *st)
{
	struct timespec ts;

	(void)st;
	clock_gettime(CLOCK_REALTIME, &ts);
	return redis_unknown ? 0
			     : (int64_t)ts.tv_sec * 1000 +
				       ts.tv_nsec / 1000000 + redis_ahead_ms;
}

void store_disown(struct store *st, const char *path, const char *holder_id,
		  int64_t token, const char *why)
{
	(void)st;
	(void)path;
	(void)holder_id;
	(void)token;
	(void)why;
	disowned++;
}

/* ---- the fake notifier ------------------------------------------- */

bool notifier_connected(const struct notifier *n)
{
	(void)n;
	return true;
}

int notifier_bind(struct notifier *n, const char *key)
{
	(void)n;
	if (nbound < 64)
		snprintf(bound[nbound++], WAITQ_KEY_MAX, "%s", key);
	return 0;
}

void notifier_unbind(struct notifier *n, const char *key)
{
	(void)n;
	for (int i = 0; i < nbound; i++)
		if (strcmp(bound[i], key) == 0) {
			memmove(bound[i], bound[nbound - 1], WAITQ_KEY_MAX);
			nbound--;
			return;
		}
	fail_msg("unbind of %s, never bound", key);
}

static int npublished; /* messages published */

int notifier_publish(struct notifier *n, const char *key, const char *body,
		     size_t len)
{
	(void)n;
	(void)key;
	(void)body;
	(void)len;
	npublished++;
	return 0;
}

/* ---- answers ------------------------------------------------------ */

static void answer(int i, int err, const char *extra)
{
	struct store_result res = {.err = err, .now_ms = 1000000,
				   .extra = extra, .kind = STORE_NONE};
	struct lock_holder h = {.id = "owner", .node = "n1", .token = 7};

	char *what;

	/* (the store parses the extra into its word or blocker so) */
	if (strcmp(extra, "new") == 0)
		res.word = WORD_NEW;
	if (extra[0] == 'h' && extra[1] == '|') {
		res.blocker.kind = BLOCKER_HOLDER;
		res.blocker.until_ms = strtoll(extra + 2, &what, 10);
		res.blocker.what = what + 1;
	}

	assert_true(i < ncalls);
	assert_false(calls[i].answered);
	calls[i].answered = true;
	if (err == 0 && calls[i].kind == FAKE_ACQUIRE &&
	    strcmp(extra, "new") == 0) {
		res.kind = STORE_LOCK;
		res.lock.token = 7;
		res.lock.nholders = 1;
		res.lock.holders = &h;
	}
	calls[i].cb(calls[i].arg, &res);
}

/* The queued answer: blocked by a holder of lock node `node`. */
static void answer_queued(int i, const char *node)
{
	char extra[160];

	snprintf(extra, sizeof(extra), "h|%d|%s", 1000000 + 60000, node);
	answer(i, -EAGAIN, extra);
}

static int count_kind(enum fake_kind kind)
{
	int n = 0;

	for (int i = 0; i < ncalls; i++)
		n += calls[i].kind == kind;
	return n;
}

/* ---- the fixture ---------------------------------------------------- */

struct fixture {
	struct event_base *base;
	struct waitq *wq;
};

struct outcome {
	int calls;
	int err;
};

static void done(void *arg, int err, const struct store_result *res)
{
	struct outcome *o = arg;

	(void)res;
	o->calls++;
	o->err = err;
}

static bool grant_held; /* what the node says of a grant handed over */

static bool fake_held(void *arg, const char *path, const char *holder_id,
		      int64_t token)
{
	(void)arg;
	(void)path;
	(void)holder_id;
	(void)token;
	return grant_held;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct waitq_config cfg = {.node = "n1", .lease_ms = 3000,
				   .held_cb = fake_held};

	ncalls = 0;
	redis_ahead_ms = 0;
	redis_unknown = false;
	fail_starts = 0;
	disowned = 0;
	nbound = 0;
	f->base = event_base_new();
	/* a non-NULL notifier: the fake ignores it */
	assert_int_equal(waitq_new(f->base, NULL, (struct notifier *)f, &cfg,
				   &f->wq),
			 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	waitq_free(f->wq);
	assert_int_equal(nbound, 0); /* every binding given back */
	event_base_free(f->base);
	free(f);
	return 0;
}

static void run_ms(struct fixture *f, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
}

static struct waiter *acquire(struct fixture *f, struct outcome *o,
			      int64_t timeout_ms)
{
	struct store_holder h = {.id = "owner", .node = "n1",
				 .kind = HOLDER_LEASE};
	struct waiter *w = NULL;

	assert_int_equal(waitq_acquire(f->wq, "ns/lock", &h, false, true,
				       timeout_ms, done, o, &w),
			 0);
	return w;
}

/* ---- the outcomes --------------------------------------------------- */

static void test_granted_at_once(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};
	int bound_before = nbound; /* the daemon's own grant key */
	int published_before = npublished;

	acquire(f, &o, 0);
	assert_int_equal(ncalls, 1);
	/* nothing asked of the broker before Redis says it must wait */
	assert_int_equal(nbound, bound_before);
	answer(0, 0, "new");
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, 0);
	assert_int_equal(count_kind(FAKE_WITHDRAW), 0); /* granted: unqueued */
	assert_int_equal(waitq_count(f->wq), 0);
	assert_int_equal(nbound, bound_before);
	assert_int_equal(npublished, published_before); /* nobody to tell */
}

static void test_queued_then_woken_and_granted(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};
	char key[WAITQ_KEY_MAX];
	int bound_before = nbound; /* the daemon's own grant key */

	acquire(f, &o, 0);
	assert_int_equal(nbound, bound_before);
	answer_queued(0, "ns/lock");
	assert_int_equal(o.calls, 0);
	assert_int_equal(waitq_count(f->wq), 1);
	waitq_lock_key("ns/lock", key, sizeof(key));
	/* queued: now it listens to its lock's releases */
	assert_true(nbound > bound_before);
	assert_string_equal(bound[bound_before], key);
	waitq_on_message(f->wq, key, NULL, 0); /* a release of its lock */
	assert_int_equal(count_kind(FAKE_ACQUIRE), 2);
	answer(1, 0, "new");
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, 0);
}

static void test_interrupted_while_first_call_in_flight(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};
	struct waiter *w = acquire(f, &o, 0);

	waiter_cancel(w, -EINTR);
	assert_int_equal(o.calls, 1); /* answered at once */
	assert_int_equal(o.err, -EINTR);
	assert_int_equal(count_kind(FAKE_WITHDRAW), 0); /* not yet: in flight */
	answer_queued(0, "ns/lock"); /* ...and that call queued it */
	assert_int_equal(count_kind(FAKE_WITHDRAW), 1);
	assert_string_equal(calls[1].waiter_id, calls[0].waiter_id);
	answer(1, 0, "removed");
	assert_int_equal(o.calls, 1); /* exactly one answer */
}

static void test_interrupted_call_turns_out_granted(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};
	struct waiter *w = acquire(f, &o, 0);

	waiter_cancel(w, -EINTR);
	answer(0, 0, "new"); /* granted to nobody */
	assert_int_equal(disowned, 1);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, -EINTR);
}

static void test_interrupted_while_queued(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};
	struct waiter *w = acquire(f, &o, 0);

	answer_queued(0, "ns/lock");
	waiter_cancel(w, -EINTR);
	assert_int_equal(o.err, -EINTR);
	assert_int_equal(count_kind(FAKE_WITHDRAW), 1);
	answer(1, 0, "removed");
	assert_int_equal(waitq_count(f->wq), 0);
}

static void test_timed_out(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};

	acquire(f, &o, 50);
	answer_queued(0, "ns/lock");
	run_ms(f, 80);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, -ETIMEDOUT);
	/* withdrawn, unless a re-check was in flight: then right after it */
	for (int i = 1; i < ncalls; i++)
		if (!calls[i].answered && calls[i].kind == FAKE_ACQUIRE)
			answer_queued(i, "ns/lock");
	assert_true(count_kind(FAKE_WITHDRAW) >= 1);
	for (int i = 1; i < ncalls; i++)
		if (!calls[i].answered)
			answer(i, 0, "removed");
	assert_int_equal(o.calls, 1);
}

static void test_first_call_eio_withdraws(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};

	acquire(f, &o, 0);
	answer(0, -EIO, ""); /* unknown outcome: it may have queued */
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, -EIO);
	assert_int_equal(count_kind(FAKE_WITHDRAW), 1);
	answer(1, 0, "removed");
}

static void test_withdrawal_retried_while_redis_is_away(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};
	struct waiter *w = acquire(f, &o, 0);

	answer_queued(0, "ns/lock");
	fail_starts = 1; /* the breaker refuses the first withdrawal */
	waiter_cancel(w, -EINTR);
	assert_int_equal(count_kind(FAKE_WITHDRAW), 0);
	run_ms(f, 1200);
	assert_int_equal(count_kind(FAKE_WITHDRAW), 1); /* tried again */
	answer(ncalls - 1, -EIO, ""); /* still away: once more */
	run_ms(f, 1200);
	assert_int_equal(count_kind(FAKE_WITHDRAW), 2);
	answer(ncalls - 1, 0, "removed");
	assert_int_equal(o.calls, 1);
}

static void test_unmounted(void **state)
{
	struct fixture *f = *state;
	struct outcome a = {0}, b = {0};

	acquire(f, &a, 0);
	acquire(f, &b, 0);
	answer_queued(0, "ns/lock");
	waitq_fail_all(f->wq, -EIO);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.err, -EIO);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.err, -EIO);
	assert_int_equal(count_kind(FAKE_WITHDRAW), 1); /* a's; b in flight */
	answer(1, -EAGAIN, ""); /* b's call: not queued after all */
	answer(2, 0, "removed");
	assert_true(count_kind(FAKE_WITHDRAW) >= 1);
	for (int i = 0; i < ncalls; i++)
		if (!calls[i].answered)
			answer(i, 0, "removed");
}

static void test_message_wakes_only_its_key(void **state)
{
	struct fixture *f = *state;
	struct outcome a = {0}, b = {0};
	struct store_holder h = {.id = "owner", .node = "n1",
				 .kind = HOLDER_LEASE};
	char key[WAITQ_KEY_MAX];

	assert_int_equal(waitq_acquire(f->wq, "ns/a", &h, false, true, 0,
				       done, &a, NULL),
			 0);
	assert_int_equal(waitq_acquire(f->wq, "ns/b", &h, false, true, 0,
				       done, &b, NULL),
			 0);
	answer_queued(0, "ns/a");
	answer_queued(1, "ns/b");
	waitq_lock_key("ns/b", key, sizeof(key));
	waitq_on_message(f->wq, key, NULL, 0);
	assert_int_equal(ncalls, 3);
	assert_string_equal(calls[2].path, "ns/b"); /* b only */
	answer(2, 0, "new");
	assert_int_equal(b.calls, 1);
	assert_int_equal(a.calls, 0);
	waitq_fail_all(f->wq, -EIO);
	for (int i = 0; i < ncalls; i++)
		if (!calls[i].answered)
			answer(i, 0, "removed");
}

/* A grant handed over to a queued request, as the releasing daemon sends
 * it to this one's own key (bound at start: bound[0]). */
static void hand_over(struct fixture *f, const char *waiter_id)
{
	char body[256];
	struct timespec ts;
	long long now;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	snprintf(body, sizeof(body), "%s 8 %lld %lld", waiter_id, now + 2000,
		 now);
	waitq_on_message(f->wq, bound[0], body, strlen(body));
}

/* A request queued, then answered from a grant handed over (no call). */
static void queued_then_handed_over(struct fixture *f, struct outcome *o)
{
	acquire(f, o, 0);
	answer_queued(0, "ns/lock");
	hand_over(f, calls[0].waiter_id);
	assert_int_equal(o->calls, 1); /* answered from the message */
	assert_int_equal(o->err, 0);
	assert_int_equal(ncalls, 1); /* no call yet */
}

static void test_handed_over_short_hold_needs_no_confirmation(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};

	queued_then_handed_over(f, &o);
	grant_held = false; /* released meanwhile */
	run_ms(f, 700);
	assert_int_equal(ncalls, 1); /* and none at all */
}

static void test_handed_over_long_hold_is_confirmed(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};

	queued_then_handed_over(f, &o);
	grant_held = true; /* still held a quarter into its life */
	run_ms(f, 700);
	assert_int_equal(ncalls, 2); /* confirmed, by the same request */
	assert_int_equal(calls[1].kind, FAKE_ACQUIRE);
	assert_string_equal(calls[1].waiter_id, calls[0].waiter_id);
	answer(1, 0, "new");
	assert_int_equal(o.calls, 1); /* exactly one answer */
}

/*
 * A grant message older than half a second by the Redis clock (as the
 * store last saw it, not this machine's wall clock) only wakes its
 * request, whose own call then says what holds; so does one that arrives
 * before this daemon has any notion of the Redis clock.
 */
static void stale_grant_only_wakes(struct fixture *f, struct outcome *o)
{
	acquire(f, o, 0);
	answer_queued(0, "ns/lock");
	hand_over(f, calls[0].waiter_id);
	assert_int_equal(o->calls, 0); /* not answered from the message */
	assert_int_equal(ncalls, 2);   /* it asks instead */
	assert_int_equal(calls[1].kind, FAKE_ACQUIRE);
	answer(1, 0, "new");
	assert_int_equal(o->calls, 1);
	assert_int_equal(o->err, 0);
}

static void test_grant_stale_by_the_redis_clock_wakes(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};

	redis_ahead_ms = 2000; /* the message is two seconds old */
	stale_grant_only_wakes(f, &o);
	/* not answered from the message: no hand-over time */
	assert_int_equal(waitq_handoff_times(f->wq)->count, 0);
}

static void test_grant_before_any_redis_time_wakes(void **state)
{
	struct outcome o = {0};

	redis_unknown = true;
	stale_grant_only_wakes(*state, &o);
}

/* A grant handed over before the reply to the first call: answered from
 * it at once; that reply (queued) does not answer again, and the grant
 * still held then is confirmed by the same request. */
static void test_handed_over_while_first_call_in_flight(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};

	acquire(f, &o, 0);
	hand_over(f, calls[0].waiter_id);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, 0);
	assert_int_equal(ncalls, 1);
	grant_held = true;
	answer_queued(0, "ns/lock");
	assert_int_equal(ncalls, 2);
	assert_int_equal(calls[1].kind, FAKE_ACQUIRE);
	assert_string_equal(calls[1].waiter_id, calls[0].waiter_id);
	answer(1, 0, "new");
	assert_int_equal(o.calls, 1); /* exactly one answer */
	assert_int_equal(waitq_count(f->wq), 0);
}

/* A grant for a request interrupted meanwhile is given back at once. */
static void test_grant_after_interrupt_is_disowned(void **state)
{
	struct fixture *f = *state;
	struct outcome o = {0};
	struct waiter *w = acquire(f, &o, 0);

	answer_queued(0, "ns/lock");
	waiter_cancel(w, -EINTR);
	assert_int_equal(count_kind(FAKE_WITHDRAW), 1);
	hand_over(f, calls[0].waiter_id);
	assert_int_equal(disowned, 1);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, -EINTR);
	answer(1, 0, "removed");
}

/* The time from the release (the message's Redis clock) to the grant's
 * arrival here (store_redis_now) is counted. */
static void test_handed_over_time_is_counted(void **state)
{
	struct fixture *f = *state;
	const struct metrics_histogram *h = waitq_handoff_times(f->wq);
	struct outcome o = {0};

	redis_ahead_ms = 30; /* the message is 30 ms old */
	queued_then_handed_over(f, &o);
	assert_int_equal(waitq_handoffs(f->wq), 1);
	assert_int_equal(h->count, 1);
	assert_true(h->sum_s >= 0.03 && h->sum_s < 0.25);
	assert_int_equal(h->buckets[4], 0); /* not within 25 ms */
	assert_int_equal(h->buckets[7], 1); /* within 250 ms */
	grant_held = false;
	run_ms(f, 700);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_granted_at_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_queued_then_woken_and_granted, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_interrupted_while_first_call_in_flight, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_interrupted_call_turns_out_granted, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_interrupted_while_queued,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_timed_out, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_first_call_eio_withdraws,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_withdrawal_retried_while_redis_is_away, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_unmounted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_message_wakes_only_its_key,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_handed_over_short_hold_needs_no_confirmation,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_handed_over_long_hold_is_confirmed, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_grant_stale_by_the_redis_clock_wakes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_grant_before_any_redis_time_wakes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_handed_over_while_first_call_in_flight, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_grant_after_interrupt_is_disowned, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_handed_over_time_is_counted, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
