/*
 * test_node.c - the node service and the lease table against a fake store
 * and notifier: what a grant and the end of a hold do on this node (counts,
 * events on the right routing key, the lease table), which errno a failed
 * renewal gives, and the lease table's own rules (tokens of lost leases,
 * a handle lock found by its owner, lost entries, counts), and what the
 * metrics count of holds (how long they lasted, the oldest held now).
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "lease.h"
#include "node.h"
#include "node_i.h"
#include "notify.h"
#include "store.h"
#include "waitq.h"

/* ---- fakes ---------------------------------------------------------- */

static char published_key[64][WAITQ_KEY_MAX];
static int npublished;

int notifier_publish(struct notifier *n, const char *key, const char *body,
		     size_t len)
{
	(void)n;
	(void)body;
	(void)len;
	if (npublished < 64)
		snprintf(published_key[npublished++], WAITQ_KEY_MAX, "%s",
			 key);
	return 0;
}

/* waitq.c is linked for waitq_lock_key(); nothing here waits */
int notifier_bind(struct notifier *n, const char *key)
{
	(void)n;
	(void)key;
	return 0;
}
void notifier_unbind(struct notifier *n, const char *key)
{
	(void)n;
	(void)key;
}
bool notifier_connected(const struct notifier *n)
{
	(void)n;
	return true;
}
int store_acquire(struct store *st, const char *path,
		  const struct store_holder *h, bool excl,
		  const struct store_wait *wait, store_cb *cb, void *arg)
{
	(void)st, (void)path, (void)h, (void)excl, (void)wait, (void)cb;
	(void)arg;
	return -EIO;
}
int store_acquire_set(struct store *st, char *const *paths,
		      const enum lock_mode *modes, size_t n,
		      const struct store_holder *h,
		      const struct store_wait *wait, bool withdraw,
		      store_cb *cb, void *arg)
{
	(void)st, (void)paths, (void)modes, (void)n, (void)h, (void)wait;
	(void)withdraw, (void)cb, (void)arg;
	return -EIO;
}
int store_withdraw(struct store *st, const char *path, const char *waiter_id,
		   store_cb *cb, void *arg)
{
	(void)st, (void)path, (void)waiter_id, (void)cb, (void)arg;
	return -EIO;
}
int64_t store_redis_now(const struct store *st)
{
	(void)st;
	return 0; /* never asked here: no grant messages */
}

/* What the node service asked of the store, for the tests to answer. */
static int ndisowned;
static int64_t disowned_token;
static store_cb *end_cb; /* a release or unlink asked for, unanswered */
static void *end_arg;
static bool end_force;

void store_disown(struct store *st, const char *path, const char *holder_id,
		  int64_t token, const char *why)
{
	(void)st, (void)path, (void)holder_id, (void)why;
	ndisowned++;
	disowned_token = token;
}
int store_renew(struct store *st, const char *path, const char *holder_id,
		int64_t token, const struct command *cmd, store_cb *cb,
		void *arg)
{
	(void)st, (void)path, (void)holder_id, (void)token, (void)cmd;
	(void)cb, (void)arg;
	return -EIO;
}
int store_unlink(struct store *st, const char *path, const char *holder_id,
		 int64_t token, bool force, store_cb *cb, void *arg)
{
	(void)st, (void)path, (void)holder_id, (void)token;
	end_cb = cb;
	end_arg = arg;
	end_force = force;
	return 0;
}
int store_release(struct store *st, const char *path, const char *holder_id,
		  int64_t token, bool force, store_cb *cb, void *arg)
{
	(void)st, (void)path, (void)holder_id, (void)token, (void)force;
	end_cb = cb;
	end_arg = arg;
	return 0;
}

/* ---- fixture -------------------------------------------------------- */

struct fixture {
	struct event_base *base;
	struct leases *lt;
	struct node *node;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	npublished = 0;
	ndisowned = 0;
	end_cb = NULL;
	f->base = event_base_new();
	assert_int_equal(leases_new(f->base, NULL, "/proc", &f->lt), 0);
	assert_int_equal(
		node_new("n1", f->lt, (struct notifier *)f, &f->node), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	node_free(f->node);
	leases_free(f->lt);
	event_base_free(f->base);
	free(f);
	return 0;
}

static struct lock_holder holder(const char *id, enum holder_kind kind,
				 int64_t token)
{
	struct lock_holder h = {
		.id = (char *)id, .node = "n1", .uid = 1000, .gid = 1000,
		.pid = 42, .session = 40, .kind = kind, .token = token,
		.ttl_ms = 15000, .keepalive = KEEPALIVE_OFF,
	};
	return h;
}

/* ---- the node service ---------------------------------------------- */

static void test_grant_counts_tells_and_records(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:1000:s40", HOLDER_LEASE, 7);
	struct node_stats st;
	char key[WAITQ_KEY_MAX];

	node_granted(f->node, "db/orders", &h, true, 0.25, 1000);
	node_get_stats(f->node, &st);
	assert_int_equal(st.grants, 1);
	/* nobody reads events: the broker hears nothing of a grant */
	assert_int_equal(npublished, 0);
	node_heard_watch(f->node); /* some node reads them now */
	node_granted(f->node, "db/orders", &h, true, 0.25, 1000);
	assert_int_equal(npublished, 1);
	waitq_lock_key("db/orders", key, sizeof(key));
	key[0] = 'e'; /* an acquired event wakes nobody */
	assert_string_equal(published_key[0], key);
	node_get_stats(f->node, &st);
	assert_int_equal(st.grants, 2);
	assert_non_null(leases_get(f->lt, "db/orders", h.id));
	assert_int_equal(leases_token(f->lt, "db/orders", h.id), 7);
	assert_int_equal(leases_count(f->lt), 1);
	/* a renewal is no new grant: recorded, not counted, not told */
	node_granted(f->node, "db/orders", &h, false, 0, 1100);
	node_get_stats(f->node, &st);
	assert_int_equal(st.grants, 2);
	assert_int_equal(npublished, 1);
}

static void test_end_wakes_waiters_and_marks_lost(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:1000:s40", HOLDER_LEASE, 9);
	struct node_stats st;
	char key[WAITQ_KEY_MAX];

	node_granted(f->node, "a/b", &h, true, 0, 1000);
	/* an end nobody waits for, nobody reads: not told */
	node_ended(f->node, "released", "a/b", &h, 1, 1500, false);
	assert_int_equal(npublished, 0);
	node_granted(f->node, "a/b", &h, true, 0, 1600);
	node_ended(f->node, "broken", "a/b", &h, 1, 2000, true);
	node_get_stats(f->node, &st);
	assert_int_equal(st.releases, 2);
	assert_int_equal(npublished, 1);
	waitq_lock_key("a/b", key, sizeof(key)); /* "l.": waiters hear it */
	assert_string_equal(published_key[npublished - 1], key);
	assert_null(leases_get(f->lt, "a/b", h.id)); /* lost ... */
	assert_true(leases_is_lost(f->lt, "a/b", h.id));
	/* ... but its token is remembered, so its unlink says ESTALE */
	assert_int_equal(leases_token(f->lt, "a/b", h.id), 9);
	assert_int_equal(leases_count(f->lt), 0);
	/* a directory lock's events go to its directory's node */
	node_publish(f->node, "released", "a/.lock", &h, 3000, true);
	waitq_lock_key("a", key, sizeof(key));
	assert_string_equal(published_key[npublished - 1], key);
}

static void test_renew_errors(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:1000:s40", HOLDER_LEASE, 3);
	struct store_result held = {.err = -ESTALE, .extra = "held",
				    .word = WORD_HELD};
	struct store_result free_ = {.err = -ESTALE, .extra = "free",
				     .word = WORD_FREE};
	struct store_result eio = {.err = -EIO, .extra = ""};

	/* a stranger writing to another's lock: EPERM */
	assert_int_equal(node_renew_error(f->node, "x", "stranger", &held,
					  false),
			 -EPERM);
	/* nothing held by anyone, never ours: ESTALE (nothing to renew) */
	assert_int_equal(node_renew_error(f->node, "x", "stranger", &free_,
					  false),
			 -ESTALE);
	/* an owner whose lease through this node was lost: ESTALE, kept */
	node_granted(f->node, "x", &h, true, 0, 1000);
	assert_int_equal(node_renew_error(f->node, "x", h.id, &held, false),
			 -ESTALE);
	assert_true(leases_is_lost(f->lt, "x", h.id));
	assert_int_equal(node_renew_error(f->node, "x", h.id, &held, false),
			 -ESTALE); /* and again, for the VFS's retry */
	/* through a descriptor that held it: always ESTALE */
	assert_int_equal(node_renew_error(f->node, "y", "fd", &held, true),
			 -ESTALE);
	assert_int_equal(node_renew_error(f->node, "x", h.id, &eio, false),
			 -EIO);
}

/* ---- the lease table ----------------------------------------------- */

static void test_handle_of_its_owner(void **state)
{
	struct fixture *f = *state;
	struct lock_holder hl = holder("n1:F0000000000000abc", HOLDER_HANDLE, 5);
	const struct lock_holder *found;

	node_granted(f->node, "jobs/x", &hl, true, 0, 1000);
	found = leases_handle_of(f->lt, "jobs/x", 1000, 40);
	assert_non_null(found); /* the same uid and session: its own lock */
	assert_string_equal(found->id, hl.id);
	assert_null(leases_handle_of(f->lt, "jobs/x", 1000, 41));
	assert_null(leases_handle_of(f->lt, "jobs/x", 1001, 40));
	assert_null(leases_handle_of(f->lt, "jobs/y", 1000, 40));
	leases_lost(f->lt, "jobs/x", hl.id);
	assert_null(leases_handle_of(f->lt, "jobs/x", 1000, 40));
}

static void test_forget_and_regrant(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("o", HOLDER_LEASE, 1);

	node_granted(f->node, "p", &h, true, 0, 1000);
	leases_lost(f->lt, "p", "o");
	assert_true(leases_is_stale(f->lt, "p", "o", 0));
	h.token = 2; /* a new grant replaces the lost one */
	node_granted(f->node, "p", &h, true, 0, 2000);
	assert_false(leases_is_lost(f->lt, "p", "o"));
	assert_int_equal(leases_token(f->lt, "p", "o"), 2);
	leases_forget(f->lt, "p", "o");
	assert_int_equal(leases_token(f->lt, "p", "o"), 0);
	assert_null(leases_get_fresh(f->lt, "p", "o", 1000));
}

static void test_what_a_file_renews(void **state)
{
	struct fixture *f = *state;
	struct node_lock_ref ref = {0xabcULL, false};
	struct lock_holder lease = holder("n1:1000:s40", HOLDER_LEASE, 3);
	struct lock_holder handle = holder("", HOLDER_HANDLE, 4);
	struct node_file file = {.lease_id = lease.id, .lease_token = 3,
				 .locks = &ref, .nlocks = 1};
	char hid[64], id[64];
	int64_t token = 0;

	node_handle_id(f->node, &ref, hid, sizeof(hid));
	assert_string_equal(hid, "n1:F0000000000000abc");
	handle.id = hid;
	/* its own lease first */
	node_granted(f->node, "w", &lease, true, 0, 1000);
	assert_int_equal(node_file_hold(f->node, "w", &file, id, sizeof(id),
					&token),
			 1);
	assert_string_equal(id, lease.id);
	assert_int_equal(token, 3);
	/* the lease became a handle lock taken through the file (flock) */
	leases_forget(f->lt, "w", lease.id);
	node_granted(f->node, "w", &handle, true, 0, 1100);
	assert_int_equal(node_file_hold(f->node, "w", &file, id, sizeof(id),
					&token),
			 1);
	assert_string_equal(id, hid);
	assert_int_equal(token, 4);
	/* that handle lock lost: ESTALE, not silence */
	leases_lost(f->lt, "w", hid);
	assert_int_equal(node_file_hold(f->node, "w", &file, id, sizeof(id),
					&token),
			 -ESTALE);
	/* a file opened by an owner whose handle lock holds the lock */
	handle.token = 5;
	node_granted(f->node, "v", &handle, true, 0, 1200);
	file = (struct node_file){.opener_known = true, .uid = 1000,
				  .session = 40};
	assert_int_equal(node_file_hold(f->node, "v", &file, id, sizeof(id),
					&token),
			 1);
	assert_int_equal(token, 5);
	file.session = 41; /* another session holds nothing here */
	assert_int_equal(node_file_hold(f->node, "v", &file, id, sizeof(id),
					&token),
			 0);
}

static void test_handle_plan(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:F01", HOLDER_HANDLE, 8);

	assert_int_equal(node_handle_plan(f->node, "q", h.id,
					  LOCK_MODE_EXCLUSIVE),
			 NODE_LOCK_TAKE);
	h.mode = LOCK_MODE_SHARED;
	node_granted(f->node, "q", &h, true, 0, 1000);
	assert_int_equal(node_handle_plan(f->node, "q", h.id, LOCK_MODE_SHARED),
			 NODE_LOCK_HELD);
	/* the other mode: let go first (forgotten here), then ask again */
	assert_int_equal(node_handle_plan(f->node, "q", h.id,
					  LOCK_MODE_EXCLUSIVE),
			 NODE_LOCK_CONVERT);
	assert_null(leases_get(f->lt, "q", h.id));
	assert_int_equal(node_handle_plan(f->node, "q", h.id,
					  LOCK_MODE_EXCLUSIVE),
			 NODE_LOCK_TAKE);
}

/* ---- grants delivered or not, ends of holds ------------------------- */

static struct store_result granted(struct lock_holder *h, enum reply_word w)
{
	struct store_result res = {.now_ms = 1000, .kind = STORE_LOCK,
				   .word = w};

	res.extra = w == WORD_NEW ? "new" : "renewed";
	res.lock.token = h->token;
	res.lock.nholders = 1;
	res.lock.holders = h;
	return res;
}

static void test_grant_delivered_or_disowned(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:1000:s40", HOLDER_LEASE, 7);
	struct store_result res = granted(&h, WORD_NEW);
	struct node_grant g = {.res = &res, .holder_id = h.id, .path = "p"};
	struct node_stats st;

	node_grant_delivered(f->node, &g, true);
	node_get_stats(f->node, &st);
	assert_int_equal(st.grants, 1);
	assert_int_equal(leases_token(f->lt, "p", h.id), 7);
	assert_int_equal(ndisowned, 0);
	/* a new grant nobody received: not counted, not kept, released */
	leases_forget(f->lt, "p", h.id);
	node_grant_delivered(f->node, &g, false);
	node_get_stats(f->node, &st);
	assert_int_equal(st.grants, 1);
	assert_null(leases_get(f->lt, "p", h.id));
	assert_int_equal(ndisowned, 1);
	assert_int_equal(disowned_token, 7);
	/* a lease its holder had before, renewed by an open whose reply
	 * failed: still its holder's */
	res = granted(&h, WORD_RENEWED);
	node_grant_delivered(f->node, &g, false);
	assert_int_equal(ndisowned, 1);
	assert_non_null(leases_get(f->lt, "p", h.id));
	/* a handle lock nobody received is let go, new or not */
	h = holder("n1:F0001", HOLDER_HANDLE, 8);
	res = granted(&h, WORD_RENEWED);
	g.holder_id = h.id;
	node_grant_delivered(f->node, &g, false);
	assert_int_equal(ndisowned, 2);
	assert_int_equal(disowned_token, 8);
}

static void test_grant_absorbs_a_lease(void **state)
{
	struct fixture *f = *state;
	struct lock_holder lease = holder("n1:1000:s40", HOLDER_LEASE, 3);
	struct lock_holder h = holder("n1:F0001", HOLDER_HANDLE, 4);
	struct store_result res = granted(&h, WORD_NEW);
	struct node_grant g = {.res = &res, .holder_id = h.id, .path = "p",
			       .absorbed_id = lease.id};

	node_granted(f->node, "p", &lease, true, 0, 900);
	node_grant_delivered(f->node, &g, true);
	/* the handle lock took the lease's place: the lease is gone here */
	assert_null(leases_get(f->lt, "p", lease.id));
	assert_false(leases_is_lost(f->lt, "p", lease.id));
	assert_int_equal(leases_token(f->lt, "p", h.id), 4);
}

static void test_set_grant_delivered_or_disowned(void **state)
{
	struct fixture *f = *state;
	char *paths[] = {"a", "b"};
	enum lock_mode modes[] = {LOCK_MODE_EXCLUSIVE, LOCK_MODE_SHARED};
	int64_t tokens[] = {11, 12};
	struct store_holder sh = {.id = "n1:1000:s40", .node = "n1",
				  .uid = 1000, .kind = HOLDER_LEASE};
	struct store_result res = {.now_ms = 1000, .kind = STORE_TOKENS,
				   .tokens = tokens, .ntokens = 2};
	struct node_grant g = {.res = &res, .holder_id = sh.id,
			       .paths = paths, .modes = modes, .count = 2,
			       .set_holder = &sh};

	node_grant_delivered(f->node, &g, true);
	assert_int_equal(leases_token(f->lt, "a", sh.id), 11);
	assert_int_equal(leases_token(f->lt, "b", sh.id), 12);
	assert_int_equal(leases_get(f->lt, "b", sh.id)->mode,
			 LOCK_MODE_SHARED);
	node_grant_delivered(f->node, &g, false);
	assert_int_equal(ndisowned, 2);
	assert_null(leases_get(f->lt, "a", sh.id));
}

static int end_err;
static void on_end(void *arg, const struct store_result *res)
{
	(void)arg;
	end_err = res->err;
}

static void answer_end(struct store_result *res)
{
	store_cb *cb = end_cb;

	assert_non_null(cb);
	end_cb = NULL;
	cb(end_arg, res);
}

static void test_unlink_ends_a_hold(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:1000:s40", HOLDER_LEASE, 5);
	struct store_result ok = {.word = WORD_RELEASED, .extra = "released",
				  .now_ms = 2000, .wake = true,
				  .lock = {.holders = &h, .nholders = 1}};
	struct store_result stale = {.err = -ESTALE, .extra = "free",
				     .word = WORD_FREE};
	struct node_stats st;

	node_granted(f->node, "u", &h, true, 0, 1000);
	assert_int_equal(node_unlink_hold(f->node, "u", h.id, 1000, on_end,
					  NULL),
			 0);
	assert_false(end_force); /* only root breaks another's lock */
	answer_end(&ok);
	assert_int_equal(end_err, 0);
	assert_null(leases_get(f->lt, "u", h.id));
	assert_false(leases_is_lost(f->lt, "u", h.id));
	node_get_stats(f->node, &st);
	assert_int_equal(st.releases, 1);
	assert_int_equal(npublished, 1); /* its waiters hear it */
	/* a hold lost meanwhile: ESTALE, and remembered as lost */
	node_granted(f->node, "u", &h, true, 0, 3000);
	assert_int_equal(node_unlink_hold(f->node, "u", h.id, 0, on_end,
					  NULL),
			 0);
	assert_true(end_force);
	answer_end(&stale);
	assert_int_equal(end_err, -ESTALE);
	assert_true(leases_is_lost(f->lt, "u", h.id));
}

static void test_unlock_of_a_lock_already_gone(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:F0002", HOLDER_HANDLE, 6);
	struct store_result gone = {.err = -ENOENT, .extra = ""};

	node_granted(f->node, "k", &h, true, 0, 1000);
	assert_int_equal(node_unlock(f->node, "k", h.id, on_end, NULL), 0);
	/* forgotten when asked: a write through its file renews it no more */
	assert_null(leases_get(f->lt, "k", h.id));
	end_err = 1;
	answer_end(&gone);
	assert_int_equal(end_err, 0); /* unlocked all the same, as POSIX */
}

/* ---- metrics: how long holds lasted, the oldest held now ----------- */

static const struct metrics_histogram *hold_times(struct fixture *f,
						  const char *ns)
{
	struct metrics *m = node_metrics(f->node);

	return &m->ns[metrics_namespace(m, ns)].hold;
}

static void test_hold_ends_are_timed_by_namespace(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:1000:s40", HOLDER_LEASE, 9);
	struct lock_holder theirs = holder("n2:1000:s40", HOLDER_LEASE, 4);
	struct store_result released = {
		.now_ms = 4000, .kind = STORE_LOCK,
		.lock = {.nholders = 1, .holders = &h}};

	h.acquired_ms = 1000;
	node_granted(f->node, "db/orders", &h, true, 0, 1000);
	node_ended(f->node, "released", "db/orders", &h, 1, 3500, true);
	assert_int_equal(hold_times(f, "db")->count, 1);
	assert_true(hold_times(f, "db")->sum_s == 2.5);
	/* another node's hold, broken from here: not this node's */
	theirs.node = "n2";
	theirs.acquired_ms = 1000;
	node_ended(f->node, "broken", "db/orders", &theirs, 1, 5000, true);
	assert_int_equal(hold_times(f, "db")->count, 1);
	/* every end counts: expired (a root lock), owner-exit (a directory
	 * lock, in the directory it is in) */
	node_publish(f->node, "expired", "top", &h, 62000, false);
	assert_int_equal(hold_times(f, "")->count, 1);
	assert_int_equal(hold_times(f, "")->buckets[3], 0); /* > 60 s */
	assert_int_equal(hold_times(f, "")->buckets[4], 1); /* <= 300 s */
	node_ended(f->node, "owner-exit", "db/.lock", &h, 1, 1100, true);
	assert_int_equal(hold_times(f, "db")->count, 2);
	assert_int_equal(hold_times(f, "db")->buckets[0], 1); /* 0.1 s */
	/* what ends no hold is not timed */
	node_publish(f->node, "acquired", "db/orders", &h, 9000, false);
	assert_int_equal(hold_times(f, "db")->count, 2);
	/* an unlock, when its answer comes */
	node_granted(f->node, "db/orders", &h, true, 0, 1000);
	assert_int_equal(node_unlock(f->node, "db/orders", h.id, on_end, NULL),
			 0);
	answer_end(&released);
	assert_int_equal(hold_times(f, "db")->count, 3);
	assert_true(hold_times(f, "db")->sum_s == 2.5 + 0.1 + 3);
}

static void assert_about(double seconds, double want)
{
	if (seconds < want - 0.01 || seconds > want + 0.5)
		fail_msg("%g seconds, not about %g", seconds, want);
}

static void test_oldest_holds_by_namespace(void **state)
{
	struct fixture *f = *state;
	struct metrics *m = node_metrics(f->node);
	/* the fake store knows no Redis clock: the wall clock stands in */
	int64_t now = wall_ms();
	struct lock_holder a = holder("n1:1000:s40", HOLDER_LEASE, 1);
	struct lock_holder b = holder("n1:1001:s41", HOLDER_LEASE, 2);
	struct lock_holder lost = holder("n1:1002:s42", HOLDER_LEASE, 3);
	struct lock_holder top = holder("n1:F0001", HOLDER_HANDLE, 4);
	char *paths[] = {"sets/x"};
	enum lock_mode modes[] = {LOCK_MODE_EXCLUSIVE};
	int64_t tokens[] = {5};
	struct store_holder sh = {.id = "n1:1003:s43", .node = "n1",
				  .kind = HOLDER_LEASE};
	struct store_result set = {.now_ms = now - 3000,
				   .kind = STORE_TOKENS, .tokens = tokens,
				   .ntokens = 1};
	double oldest_s[METRICS_NS_SLOTS];
	int with_holds = 0;

	a.acquired_ms = now - 5000;
	b.acquired_ms = now - 1000;
	lost.acquired_ms = now - 9000;
	top.acquired_ms = now - 2000;
	node_granted(f->node, "db/a", &a, true, 0, now);
	node_granted(f->node, "db/b", &b, true, 0, now);
	node_granted(f->node, "db/c", &lost, true, 0, now);
	node_ended(f->node, "broken", "db/c", &lost, 1, now, false);
	node_granted(f->node, ".lock", &top, true, 0, now);
	/* a lock set's members start when the set was granted */
	node_granted_set(f->node, paths, modes, 1, &sh, &set, 0);
	node_oldest_holds(f->node, oldest_s);
	assert_about(oldest_s[metrics_namespace(m, "db")], 5);
	assert_about(oldest_s[metrics_namespace(m, "")], 2);
	assert_about(oldest_s[metrics_namespace(m, "sets")], 3);
	for (size_t i = 0; i < METRICS_NS_SLOTS; i++)
		with_holds += oldest_s[i] >= 0;
	assert_int_equal(with_holds, 3);
	/* nothing held: no namespace has an oldest hold */
	leases_forget(f->lt, "db/a", a.id);
	leases_forget(f->lt, "db/b", b.id);
	leases_forget(f->lt, ".lock", top.id);
	leases_forget(f->lt, "sets/x", sh.id);
	node_oldest_holds(f->node, oldest_s);
	for (size_t i = 0; i < METRICS_NS_SLOTS; i++)
		assert_true(oldest_s[i] < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_grant_counts_tells_and_records, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_end_wakes_waiters_and_marks_lost, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_renew_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_handle_of_its_owner,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_and_regrant, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_what_a_file_renews, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_handle_plan, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_grant_delivered_or_disowned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grant_absorbs_a_lease,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_set_grant_delivered_or_disowned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlink_ends_a_hold, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_unlock_of_a_lock_already_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_hold_ends_are_timed_by_namespace, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_oldest_holds_by_namespace, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
