/*
 * test_lease.c - the lease table (lease.h) on its own, one test per promise
 * of its header: what a grant records and replaces, several holders of one
 * path, forgetting, holds lost with and without notice (the "lost" event
 * and the onlost= signal, once per grant, never to a reused pid), stale
 * tokens, the told-stale lookups and their window, fresh holds, handle
 * locks found by their owner, the count, and what the keepalive tick does
 * with leases and handle locks whose owners live or are gone.
 *
 * A fake store (linked in place of the real one) records each call the
 * tick makes for the test to answer; a fake procfs tree, its pids above any
 * real pid_max, decides which sessions live.
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lease.h"
#include "store.h"

#define S_LEADER 9000100   /* a session whose leader lives */
#define S_MEMBERS 9000200  /* a session with members but no leader */
#define S_GONE 9000300     /* a session with nobody left */
#define PID_GONE 9000400   /* a process that does not exist */
#define TICK_AND_SOME_MS 300 /* one keepalive tick (250 ms) and a margin */

/* ---- the fake store --------------------------------------------------- */

enum fake_kind { FAKE_RENEW, FAKE_RELEASE };

struct fake_call {
	enum fake_kind kind;
	char path[64];
	char holder_id[64];
	int64_t token;
	bool force;
	store_cb *cb;
	void *arg;
	bool answered;
};

#define FAKE_MAX 32
static struct fake_call calls[FAKE_MAX];
static int ncalls;

static int fake_record(enum fake_kind kind, const char *path,
		       const char *holder_id, int64_t token, bool force,
		       store_cb *cb, void *arg)
{
	struct fake_call *c;

	assert_true(ncalls < FAKE_MAX);
	c = &calls[ncalls++];
	*c = (struct fake_call){.kind = kind, .token = token, .force = force,
				.cb = cb, .arg = arg};
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(c->holder_id, sizeof(c->holder_id), "%s", holder_id);
	return 0;
}

int store_renew(struct store *st, const char *path, const char *holder_id,
		int64_t token, const struct command *cmd, store_cb *cb,
		void *arg)
{
	(void)st, (void)cmd;
	return fake_record(FAKE_RENEW, path, holder_id, token, false, cb, arg);
}

int store_release(struct store *st, const char *path, const char *holder_id,
		  int64_t token, bool force, store_cb *cb, void *arg)
{
	(void)st;
	return fake_record(FAKE_RELEASE, path, holder_id, token, force, cb,
			   arg);
}

static void answer(int i, const struct store_result *res)
{
	assert_true(i < ncalls);
	assert_false(calls[i].answered);
	calls[i].answered = true;
	calls[i].cb(calls[i].arg, res);
}

static void answer_err(int i, int err)
{
	answer(i, &(struct store_result){.err = err, .extra = ""});
}

/* ---- events and signals ------------------------------------------------ */

struct seen_event {
	char path[64], reason[16], holder_id[64];
	int64_t token;
};

#define EVENTS_MAX 16
struct events {
	struct seen_event e[EVENTS_MAX];
	int n;
};

static void record_event(void *arg, const char *path, const char *reason,
			 const struct lock_holder *h)
{
	struct events *ev = arg;
	struct seen_event *e;

	assert_true(ev->n < EVENTS_MAX);
	e = &ev->e[ev->n++];
	snprintf(e->path, sizeof(e->path), "%s", path);
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	snprintf(e->holder_id, sizeof(e->holder_id), "%s", h->id);
	e->token = h->token;
}

static volatile sig_atomic_t usr1_received;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_received++;
}

/* ---- fixture: a table on a fake procfs tree ---------------------------- */

struct fixture {
	char procfs[64];
	struct event_base *base;
	struct leases *lt;
	struct events ev;
	struct sigaction old_usr1;
};

/* Task `tid` of process `tgid` in session `sid`, as /proc shows it. */
static void fake_task(struct fixture *f, pid_t tid, pid_t tgid, pid_t sid)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%d", f->procfs, (int)tid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%d/stat", f->procfs, (int)tid);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "%d (t) S 1 %d %d 0 -1 0 0 0 0\n", (int)tid, (int)sid,
		(int)sid);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/%d/status", f->procfs, (int)tid);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "Name:\tt\nTgid:\t%d\nPid:\t%d\n", (int)tgid, (int)tid);
	fclose(fp);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sigaction sa = {.sa_handler = on_usr1};

	assert_non_null(f);
	ncalls = 0;
	usr1_received = 0;
	snprintf(f->procfs, sizeof(f->procfs), "/tmp/lockfs-lease-XXXXXX");
	assert_non_null(mkdtemp(f->procfs));
	fake_task(f, S_LEADER, S_LEADER, S_LEADER);
	fake_task(f, S_MEMBERS + 1, S_MEMBERS + 1, S_MEMBERS);
	assert_int_equal(sigaction(SIGUSR1, &sa, &f->old_usr1), 0);
	f->base = event_base_new();
	assert_non_null(f->base);
	assert_int_equal(leases_new(f->base, NULL, f->procfs, &f->lt), 0);
	leases_set_event_cb(f->lt, record_event, &f->ev);
	*state = f;
	return 0;
}

/* Frees the table with whatever entries it still has (AddressSanitizer
 * reports leaks), failing calls in flight first as the real store does. */
static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	for (int i = 0; i < ncalls; i++)
		if (!calls[i].answered)
			answer_err(i, -EIO);
	leases_free(f->lt);
	event_base_free(f->base);
	sigaction(SIGUSR1, &f->old_usr1, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->procfs);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void run_loop(struct fixture *f, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
}

static struct lock_holder holder(const char *id, enum holder_kind kind,
				 int64_t token)
{
	struct lock_holder h = {
		.id = (char *)id, .node = "n1", .uid = 1000, .gid = 1000,
		.pid = PID_GONE, .session = S_LEADER, .kind = kind,
		.token = token, .ttl_ms = 60000,
		.keepalive = KEEPALIVE_SESSION,
	};
	return h;
}

/* ---- what a grant records ---------------------------------------------- */

static void test_granted_keeps_a_copy(void **state)
{
	struct fixture *f = *state;
	char path[] = "db/orders", id[] = "n1:1000:s9000100";
	struct lock_holder h = holder(id, HOLDER_LEASE, 7);
	const struct lock_holder *got;

	assert_int_equal(leases_granted(f->lt, path, &h, 0), 0);
	/* the caller's strings change: the table kept its own */
	memset(path, 'x', sizeof(path) - 1);
	memset(id, 'y', sizeof(id) - 1);
	got = leases_get(f->lt, "db/orders", "n1:1000:s9000100");
	assert_non_null(got);
	assert_string_equal(got->id, "n1:1000:s9000100");
	assert_string_equal(got->node, "n1");
	assert_int_equal(got->token, 7);
	assert_int_equal(got->uid, 1000);
	assert_int_equal(got->session, S_LEADER);
	assert_int_equal(got->kind, HOLDER_LEASE);
	assert_int_equal(got->ttl_ms, 60000);
	assert_null(leases_get(f->lt, path, "n1:1000:s9000100"));
	assert_int_equal(leases_count(f->lt), 1);
}

static void test_granted_replaces_the_same_owner_and_path(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("o", HOLDER_LEASE, 1);

	assert_int_equal(leases_granted(f->lt, "p", &h, 0), 0);
	leases_lost(f->lt, "p", "o");
	h.token = 2;
	h.ttl_ms = 5000;
	assert_int_equal(leases_granted(f->lt, "p", &h, 0), 0);
	/* one entry, the new grant, no longer lost */
	assert_int_equal(leases_count(f->lt), 1);
	assert_int_equal(leases_token(f->lt, "p", "o"), 2);
	assert_int_equal(leases_get(f->lt, "p", "o")->ttl_ms, 5000);
	assert_false(leases_is_lost(f->lt, "p", "o"));
	assert_false(leases_is_stale(f->lt, "p", "o", 2));
	leases_forget(f->lt, "p", "o");
	assert_int_equal(leases_count(f->lt), 0);
	assert_int_equal(leases_token(f->lt, "p", "o"), 0);
}

static void test_several_holders_of_one_path(void **state)
{
	struct fixture *f = *state;
	struct lock_holder a = holder("a", HOLDER_LEASE, 3);
	struct lock_holder b = holder("b", HOLDER_LEASE, 4);

	a.mode = b.mode = LOCK_MODE_SHARED;
	assert_int_equal(leases_granted(f->lt, "shared", &a, 0), 0);
	assert_int_equal(leases_granted(f->lt, "shared", &b, 0), 0);
	assert_int_equal(leases_count(f->lt), 2);
	assert_int_equal(leases_token(f->lt, "shared", "a"), 3);
	assert_int_equal(leases_token(f->lt, "shared", "b"), 4);
	/* what happens to one is its own */
	leases_lost(f->lt, "shared", "a");
	assert_true(leases_is_lost(f->lt, "shared", "a"));
	assert_false(leases_is_lost(f->lt, "shared", "b"));
	assert_non_null(leases_get(f->lt, "shared", "b"));
	assert_int_equal(leases_count(f->lt), 1);
	leases_forget(f->lt, "shared", "b");
	assert_null(leases_get(f->lt, "shared", "b"));
	assert_true(leases_is_lost(f->lt, "shared", "a"));
	assert_int_equal(leases_token(f->lt, "shared", "a"), 3);
}

/* Every question about a path or id never granted answers "nothing", and
 * every change to one changes nothing. */
static void test_unknown_path_or_id(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("o", HOLDER_HANDLE, 5);

	assert_int_equal(leases_count(f->lt), 0);
	assert_int_equal(leases_granted(f->lt, "p", &h, 0), 0);
	for (int i = 0; i < 2; i++) {
		const char *path = i == 0 ? "q" : "p";
		const char *id = i == 0 ? "o" : "other";

		assert_null(leases_get(f->lt, path, id));
		assert_null(leases_get_fresh(f->lt, path, id, 60000));
		assert_int_equal(leases_token(f->lt, path, id), 0);
		assert_false(leases_is_stale(f->lt, path, id, 0));
		assert_false(leases_is_stale(f->lt, path, id, 5));
		assert_false(leases_is_lost(f->lt, path, id));
		leases_told_stale(f->lt, path, id, 2);
		assert_false(leases_take_told_stale(f->lt, path, id, 60000));
		leases_lost(f->lt, path, id);
		leases_lost_notice(f->lt, path, id);
		leases_set_onlost(f->lt, path, id, SIGUSR1);
		leases_forget(f->lt, path, id);
	}
	assert_null(leases_handle_of(f->lt, "q", 1000, S_LEADER));
	/* the one real entry saw none of that */
	assert_int_equal(f->ev.n, 0);
	assert_false(leases_is_lost(f->lt, "p", "o"));
	assert_false(leases_take_told_stale(f->lt, "p", "o", 60000));
	assert_int_equal(leases_count(f->lt), 1);
}

/* ---- lost holds, stale tokens ------------------------------------------ */

static void test_stale_when_lost_or_another_token(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("o", HOLDER_LEASE, 9);

	assert_int_equal(leases_granted(f->lt, "a/b", &h, 0), 0);
	assert_false(leases_is_lost(f->lt, "a/b", "o"));
	assert_false(leases_is_stale(f->lt, "a/b", "o", 9));
	assert_true(leases_is_stale(f->lt, "a/b", "o", 10)); /* a new grant */
	assert_true(leases_is_stale(f->lt, "a/b", "o", 0));  /* none now */
	leases_lost(f->lt, "a/b", "o");
	assert_true(leases_is_lost(f->lt, "a/b", "o"));
	assert_true(leases_is_stale(f->lt, "a/b", "o", 9));
	assert_null(leases_get(f->lt, "a/b", "o"));
	assert_null(leases_get_fresh(f->lt, "a/b", "o", 60000));
	assert_int_equal(leases_token(f->lt, "a/b", "o"), 9);
	assert_int_equal(leases_count(f->lt), 0);
	/* a plain leases_lost() tells nobody */
	assert_int_equal(f->ev.n, 0);
	/* released by its owner: forgotten, so no longer stale either */
	leases_forget(f->lt, "a/b", "o");
	assert_false(leases_is_stale(f->lt, "a/b", "o", 9));
	assert_int_equal(leases_token(f->lt, "a/b", "o"), 0);
}

static void test_lost_notice_tells_once_per_grant(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("o", HOLDER_LEASE, 20);

	assert_int_equal(leases_granted(f->lt, "n", &h, 0), 0);
	leases_lost_notice(f->lt, "n", "o");
	assert_true(leases_is_lost(f->lt, "n", "o"));
	assert_int_equal(f->ev.n, 1);
	assert_string_equal(f->ev.e[0].path, "n");
	assert_string_equal(f->ev.e[0].reason, "lost");
	assert_string_equal(f->ev.e[0].holder_id, "o");
	assert_int_equal(f->ev.e[0].token, 20);
	leases_lost_notice(f->lt, "n", "o");
	assert_int_equal(f->ev.n, 1);
	/* the same grant reported again is no news */
	assert_int_equal(leases_granted(f->lt, "n", &h, 0), 0);
	leases_lost_notice(f->lt, "n", "o");
	assert_int_equal(f->ev.n, 1);
	/* a new grant's loss is */
	h.token = 21;
	assert_int_equal(leases_granted(f->lt, "n", &h, 0), 0);
	leases_lost_notice(f->lt, "n", "o");
	assert_int_equal(f->ev.n, 2);
	assert_int_equal(f->ev.e[1].token, 21);
}

/* ---- onlost= ------------------------------------------------------------ */

static void test_onlost_signals_a_handle_locks_process(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:F01", HOLDER_HANDLE, 30);

	h.pid = getpid();
	fake_task(f, h.pid, h.pid, S_LEADER); /* still the one that asked */
	assert_int_equal(leases_granted(f->lt, "h", &h, 0), 0);
	leases_set_onlost(f->lt, "h", h.id, SIGUSR1);
	leases_lost_notice(f->lt, "h", h.id);
	assert_int_equal(usr1_received, 1);
	leases_lost_notice(f->lt, "h", h.id);
	assert_int_equal(usr1_received, 1);
}

static void test_onlost_never_signals_a_reused_pid(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:F02", HOLDER_HANDLE, 31);

	h.pid = getpid();
	fake_task(f, h.pid, h.pid, S_MEMBERS); /* its pid, another session */
	assert_int_equal(leases_granted(f->lt, "h", &h, 0), 0);
	leases_set_onlost(f->lt, "h", h.id, SIGUSR1);
	leases_lost_notice(f->lt, "h", h.id);
	assert_int_equal(usr1_received, 0);
	assert_true(leases_is_lost(f->lt, "h", h.id));
	assert_int_equal(f->ev.n, 1); /* lost all the same */
}

static void test_default_onlost_is_for_new_entries(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:F03", HOLDER_HANDLE, 32);

	h.pid = getpid();
	fake_task(f, h.pid, h.pid, S_LEADER);
	assert_int_equal(leases_granted(f->lt, "before", &h, 0), 0);
	leases_set_default_onlost(f->lt, SIGUSR1);
	assert_int_equal(leases_granted(f->lt, "after", &h, 0), 0);
	assert_int_equal(leases_granted(f->lt, "quiet", &h, 0), 0);
	leases_set_onlost(f->lt, "quiet", h.id, 0);
	leases_lost_notice(f->lt, "before", h.id);
	assert_int_equal(usr1_received, 0);
	leases_lost_notice(f->lt, "quiet", h.id);
	assert_int_equal(usr1_received, 0);
	leases_lost_notice(f->lt, "after", h.id);
	assert_int_equal(usr1_received, 1);
}

/* A lease's signal goes to its owner's whole process group: the owner is
 * a member that does not lead it, and its leader must die of it too. */
static void test_onlost_signals_a_leases_process_group(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:1000:s9000100", HOLDER_LEASE, 33);
	int pipefd[2], status = 0;
	pid_t leader, member;

	assert_int_equal(pipe(pipefd), 0);
	leader = fork();
	assert_true(leader >= 0);
	if (leader == 0) { /* both leader and member wait for the signal */
		setpgid(0, 0);
		member = fork();
		if (member != 0 &&
		    write(pipefd[1], &member, sizeof(member)) != sizeof(member))
			_exit(1);
		for (;;)
			pause();
	}
	assert_int_equal(read(pipefd[0], &h.pid, sizeof(h.pid)), sizeof(h.pid));
	close(pipefd[0]);
	close(pipefd[1]);
	fake_task(f, h.pid, h.pid, S_LEADER);
	assert_int_equal(leases_granted(f->lt, "g", &h, 0), 0);
	leases_set_onlost(f->lt, "g", h.id, SIGUSR2);
	leases_lost_notice(f->lt, "g", h.id);
	for (int i = 0; i < 100 && waitpid(leader, &status, WNOHANG) == 0; i++)
		usleep(10 * 1000);
	if (!WIFSIGNALED(status)) {
		kill(-leader, SIGKILL);
		waitpid(leader, &status, 0);
		fail_msg("the holder's process group got no signal");
	}
	assert_int_equal(WTERMSIG(status), SIGUSR2);
}

/* ---- the kernel's retry after ESTALE ------------------------------------ */

static void test_told_stale_hides_the_next_lookups(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("o", HOLDER_LEASE, 40);

	assert_int_equal(leases_granted(f->lt, "s", &h, 0), 0);
	leases_lost(f->lt, "s", "o");
	assert_false(leases_take_told_stale(f->lt, "s", "o", 60000));
	leases_told_stale(f->lt, "s", "o", 2);
	assert_true(leases_take_told_stale(f->lt, "s", "o", 60000));
	assert_true(leases_take_told_stale(f->lt, "s", "o", 60000));
	/* the lookups after those find it again */
	assert_false(leases_take_told_stale(f->lt, "s", "o", 60000));
	assert_true(leases_is_stale(f->lt, "s", "o", 40));
	/* told again: counted afresh */
	leases_told_stale(f->lt, "s", "o", 1);
	assert_true(leases_take_told_stale(f->lt, "s", "o", 60000));
	assert_false(leases_take_told_stale(f->lt, "s", "o", 60000));
}

static void test_told_stale_only_within_its_window(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("o", HOLDER_LEASE, 41);

	assert_int_equal(leases_granted(f->lt, "s", &h, 0), 0);
	leases_lost(f->lt, "s", "o");
	leases_told_stale(f->lt, "s", "o", 1);
	usleep(100 * 1000);
	assert_false(leases_take_told_stale(f->lt, "s", "o", 50));
	/* a lookup outside the window used up nothing */
	assert_true(leases_take_told_stale(f->lt, "s", "o", 60000));
}

/* ---- fresh holds, handle locks, the count ------------------------------- */

static void test_get_fresh_by_the_age_of_the_grant(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("o", HOLDER_LEASE, 50);

	assert_int_equal(leases_granted(f->lt, "fr", &h, 0), 0);
	assert_non_null(leases_get_fresh(f->lt, "fr", "o", 60000));
	usleep(100 * 1000);
	assert_null(leases_get_fresh(f->lt, "fr", "o", 50));
	assert_non_null(leases_get_fresh(f->lt, "fr", "o", 60000));
	assert_non_null(leases_get(f->lt, "fr", "o")); /* held all the same */
	/* a grant reported again makes it fresh again */
	assert_int_equal(leases_granted(f->lt, "fr", &h, 0), 0);
	assert_non_null(leases_get_fresh(f->lt, "fr", "o", 50));
}

static void test_handle_of_its_owner_only(void **state)
{
	struct fixture *f = *state;
	struct lock_holder lease = holder("n1:1000:s9000100", HOLDER_LEASE, 60);
	struct lock_holder mine = holder("n1:F10", HOLDER_HANDLE, 61);
	struct lock_holder other = holder("n1:F11", HOLDER_HANDLE, 62);
	const struct lock_holder *got;

	other.session = S_MEMBERS;
	assert_int_equal(leases_granted(f->lt, "j", &lease, 0), 0);
	/* a lease of that owner is no handle lock */
	assert_null(leases_handle_of(f->lt, "j", 1000, S_LEADER));
	assert_int_equal(leases_granted(f->lt, "j", &other, 0), 0);
	assert_int_equal(leases_granted(f->lt, "j", &mine, 0), 0);
	got = leases_handle_of(f->lt, "j", 1000, S_LEADER);
	assert_non_null(got);
	assert_string_equal(got->id, "n1:F10");
	got = leases_handle_of(f->lt, "j", 1000, S_MEMBERS);
	assert_non_null(got);
	assert_string_equal(got->id, "n1:F11");
	assert_null(leases_handle_of(f->lt, "j", 1001, S_LEADER));
	assert_null(leases_handle_of(f->lt, "k", 1000, S_LEADER));
	leases_lost(f->lt, "j", "n1:F10");
	assert_null(leases_handle_of(f->lt, "j", 1000, S_LEADER));
}

static void test_count_of_live_holds(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("o", HOLDER_LEASE, 70);
	struct lock_holder hl = holder("n1:F20", HOLDER_HANDLE, 71);

	assert_int_equal(leases_granted(f->lt, "c1", &h, 0), 0);
	assert_int_equal(leases_granted(f->lt, "c2", &h, 0), 0);
	assert_int_equal(leases_granted(f->lt, "c3", &h, 0), 0);
	assert_int_equal(leases_granted(f->lt, "c1", &hl, 0), 0);
	assert_int_equal(leases_granted(f->lt, "c1", &h, 0), 0); /* again */
	assert_int_equal(leases_count(f->lt), 4);
	leases_lost(f->lt, "c2", "o");
	assert_int_equal(leases_count(f->lt), 3);
	leases_forget(f->lt, "c3", "o");
	assert_int_equal(leases_count(f->lt), 2);
	assert_int_equal(leases_granted(f->lt, "c2", &h, 0), 0);
	assert_int_equal(leases_count(f->lt), 3);
}

/* Left in the table for teardown's leases_free(): live, lost and
 * handle entries, many on one path; AddressSanitizer finds any leak. */
static void test_free_with_entries_in_it(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("o", HOLDER_LEASE, 80);
	char path[32], id[32];

	h.note = "nightly backup";
	h.note_len = strlen(h.note);
	for (int i = 0; i < 50; i++) {
		snprintf(path, sizeof(path), "free/%d", i % 7);
		snprintf(id, sizeof(id), "o%d", i);
		h.id = id;
		h.kind = i % 3 == 0 ? HOLDER_HANDLE : HOLDER_LEASE;
		assert_int_equal(leases_granted(f->lt, path, &h, 0), 0);
		if (i % 4 == 0)
			leases_lost_notice(f->lt, path, id);
	}
	assert_int_equal(leases_count(f->lt), 50 - 13);
}

/* ---- keepalive ----------------------------------------------------------- */

/* Renewed once a third of its ttl passed, while its session lives: led by
 * its leader, or only by members once the leader is gone. */
static void test_keepalive_renews_while_the_session_lives(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:1000:s9000100", HOLDER_LEASE, 90);
	struct lock_holder m = holder("n1:1000:s9000200", HOLDER_LEASE, 91);
	struct lock_holder slow = holder("n1:1000:s9000100", HOLDER_LEASE, 92);
	struct lock_holder off = holder("n1:1000:s9000300", HOLDER_LEASE, 93);
	struct store_result ok = {.err = 0, .extra = ""};

	h.ttl_ms = m.ttl_ms = 300;
	m.session = S_MEMBERS;
	slow.ttl_ms = 30000;
	off.session = S_GONE;
	off.keepalive = KEEPALIVE_OFF; /* nobody renews nor releases it */
	assert_int_equal(leases_granted(f->lt, "k", &h, 0), 0);
	assert_int_equal(leases_granted(f->lt, "k", &m, 0), 0);
	assert_int_equal(leases_granted(f->lt, "slow", &slow, 0), 0);
	assert_int_equal(leases_granted(f->lt, "k", &off, 0), 0);
	run_loop(f, TICK_AND_SOME_MS);
	assert_int_equal(ncalls, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(calls[i].kind, FAKE_RENEW);
		assert_string_equal(calls[i].path, "k");
		assert_string_equal(calls[i].holder_id, i == 0 ? h.id : m.id);
		assert_int_equal(calls[i].token, i == 0 ? 90 : 91);
	}
	/* one renewal at a time */
	run_loop(f, TICK_AND_SOME_MS);
	assert_int_equal(ncalls, 2);
	assert_null(leases_get_fresh(f->lt, "k", h.id, 100));
	answer(0, &ok);
	assert_non_null(leases_get_fresh(f->lt, "k", h.id, 100));
	assert_non_null(leases_get(f->lt, "k", h.id));
}

static void test_keepalive_releases_when_the_session_is_gone(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:1000:s9000300", HOLDER_LEASE, 94);
	struct store_result released = {.err = 0, .extra = "released",
					.kind = STORE_LOCK};

	h.session = S_GONE;
	released.lock.nholders = 1;
	released.lock.holders = &h;
	assert_int_equal(leases_granted(f->lt, "x", &h, 0), 0);
	run_loop(f, TICK_AND_SOME_MS);
	assert_int_equal(ncalls, 1);
	assert_int_equal(calls[0].kind, FAKE_RELEASE);
	assert_string_equal(calls[0].path, "x");
	assert_string_equal(calls[0].holder_id, h.id);
	assert_int_equal(calls[0].token, 94);
	assert_false(calls[0].force);
	/* Redis did not answer: kept, and asked again on a later tick */
	answer_err(0, -EIO);
	assert_int_equal(leases_token(f->lt, "x", h.id), 94);
	run_loop(f, TICK_AND_SOME_MS);
	assert_int_equal(ncalls, 2);
	assert_int_equal(calls[1].kind, FAKE_RELEASE);
	answer(1, &released);
	assert_int_equal(f->ev.n, 1);
	assert_string_equal(f->ev.e[0].reason, "owner-exit");
	assert_string_equal(f->ev.e[0].path, "x");
	assert_string_equal(f->ev.e[0].holder_id, h.id);
	assert_int_equal(leases_token(f->lt, "x", h.id), 0);
	assert_int_equal(leases_count(f->lt), 0);
}

/* owner=process: a lease lives as long as its process; a handle lock as
 * long as its file holds it, whatever its session does. */
static void test_keepalive_of_processes_and_handle_locks(void **state)
{
	struct fixture *f = *state;
	char id[64];
	struct lock_holder live = holder(id, HOLDER_LEASE, 95);
	struct lock_holder gone = holder("n1:1000:p9000400", HOLDER_LEASE, 96);
	struct lock_holder hl = holder("n1:F30", HOLDER_HANDLE, 97);

	snprintf(id, sizeof(id), "n1:1000:p%d", (int)getpid());
	live.pid = getpid();
	live.session = hl.session = S_GONE; /* the session does not matter */
	live.ttl_ms = hl.ttl_ms = 300;
	gone.pid = PID_GONE;
	assert_int_equal(leases_granted(f->lt, "pl", &live, 0), 0);
	assert_int_equal(leases_granted(f->lt, "pg", &gone, 0), 0);
	assert_int_equal(leases_granted(f->lt, "hl", &hl, 0), 0);
	run_loop(f, TICK_AND_SOME_MS);
	assert_int_equal(ncalls, 3);
	assert_string_equal(calls[0].path, "pl");
	assert_int_equal(calls[0].kind, FAKE_RENEW);
	assert_string_equal(calls[1].path, "pg");
	assert_int_equal(calls[1].kind, FAKE_RELEASE);
	assert_string_equal(calls[2].path, "hl");
	assert_int_equal(calls[2].kind, FAKE_RENEW);
	assert_int_equal(calls[2].token, 97);
}

static void test_keepalive_off_runs_out(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:1000:s9000100", HOLDER_LEASE, 98);

	h.keepalive = KEEPALIVE_OFF;
	h.ttl_ms = 100;
	assert_int_equal(leases_granted(f->lt, "e", &h, 0), 0);
	run_loop(f, TICK_AND_SOME_MS);
	assert_int_equal(ncalls, 0);
	assert_true(leases_is_lost(f->lt, "e", h.id));
	assert_int_equal(f->ev.n, 2);
	assert_string_equal(f->ev.e[0].reason, "lost");
	assert_string_equal(f->ev.e[1].reason, "expired");
	assert_string_equal(f->ev.e[1].path, "e");
	assert_int_equal(f->ev.e[1].token, 98);
	/* remembered, not told again, on the ticks after */
	run_loop(f, TICK_AND_SOME_MS);
	assert_int_equal(f->ev.n, 2);
	assert_int_equal(leases_token(f->lt, "e", h.id), 98);
}

/* A renewal Redis refuses is a loss; one it did not answer is retried. */
static void test_renewal_refused_or_unanswered(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:1000:s9000100", HOLDER_LEASE, 99);

	h.ttl_ms = 300;
	assert_int_equal(leases_granted(f->lt, "refused", &h, 0), 0);
	assert_int_equal(leases_granted(f->lt, "unanswered", &h, 0), 0);
	run_loop(f, TICK_AND_SOME_MS);
	assert_int_equal(ncalls, 2);
	answer_err(0, -ESTALE);
	answer_err(1, -EIO);
	assert_true(leases_is_lost(f->lt, "refused", h.id));
	assert_false(leases_is_lost(f->lt, "unanswered", h.id));
	assert_int_equal(f->ev.n, 1);
	assert_string_equal(f->ev.e[0].path, "refused");
	assert_string_equal(f->ev.e[0].reason, "lost");
	run_loop(f, TICK_AND_SOME_MS); /* a lost lease is renewed no more */
	assert_int_equal(ncalls, 3);
	assert_string_equal(calls[2].path, "unanswered");
	assert_int_equal(calls[2].kind, FAKE_RENEW);
}

/* A renewal or release answered after its hold was forgotten changes
 * nothing (and touches no freed entry: AddressSanitizer). */
static void test_answer_for_a_forgotten_hold(void **state)
{
	struct fixture *f = *state;
	struct lock_holder h = holder("n1:1000:s9000100", HOLDER_LEASE, 101);
	struct lock_holder g = holder("n1:1000:s9000300", HOLDER_LEASE, 102);
	struct store_result ok = {.err = 0, .extra = ""};

	h.ttl_ms = 300;
	g.session = S_GONE;
	assert_int_equal(leases_granted(f->lt, "fh", &h, 0), 0);
	assert_int_equal(leases_granted(f->lt, "fg", &g, 0), 0);
	run_loop(f, TICK_AND_SOME_MS);
	assert_int_equal(ncalls, 2);
	leases_forget(f->lt, "fh", h.id);
	leases_forget(f->lt, "fg", g.id);
	answer_err(calls[0].kind == FAKE_RENEW ? 0 : 1, -ESTALE);
	answer(calls[0].kind == FAKE_RENEW ? 1 : 0, &ok);
	assert_int_equal(f->ev.n, 0);
	assert_int_equal(leases_token(f->lt, "fh", h.id), 0);
	assert_false(leases_is_lost(f->lt, "fh", h.id));
	assert_int_equal(leases_count(f->lt), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_granted_keeps_a_copy),
		T(test_granted_replaces_the_same_owner_and_path),
		T(test_several_holders_of_one_path),
		T(test_unknown_path_or_id),
		T(test_stale_when_lost_or_another_token),
		T(test_lost_notice_tells_once_per_grant),
		T(test_onlost_signals_a_handle_locks_process),
		T(test_onlost_never_signals_a_reused_pid),
		T(test_default_onlost_is_for_new_entries),
		T(test_onlost_signals_a_leases_process_group),
		T(test_told_stale_hides_the_next_lookups),
		T(test_told_stale_only_within_its_window),
		T(test_get_fresh_by_the_age_of_the_grant),
		T(test_handle_of_its_owner_only),
		T(test_count_of_live_holds),
		T(test_free_with_entries_in_it),
		T(test_keepalive_renews_while_the_session_lives),
		T(test_keepalive_releases_when_the_session_is_gone),
		T(test_keepalive_of_processes_and_handle_locks),
		T(test_keepalive_off_runs_out),
		T(test_renewal_refused_or_unanswered),
		T(test_answer_for_a_forgotten_hold),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
