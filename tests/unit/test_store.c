/*
 * test_store.c - the Redis store against a real, private redis-server.
 *
 * Each test group starts its own redis-server on a unix socket in a temp
 * directory (so parallel runs never collide), drives the asynchronous store
 * on a libevent loop until each callback arrives, and checks what the
 * README promises: conflicts along the hierarchy in both
 * directions, shared mode, tokens that only grow, expiry by the server's
 * clock, namespaces, and EIO within backend_timeout from a frozen server
 * with the late grant undone.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "command.h"
#include "store.h"

struct server {
	char dir[64];
	char sock[128];
	char url[160];
	pid_t pid;
};

/* What a callback saw, copied out of the store's result. */
struct seen {
	bool done;
	int err;
	char extra[32];
	enum reply_word word;
	enum blocker_kind blocker;
	int64_t blocker_until;
	char blocker_what[64];
	enum store_kind kind;
	int64_t token;
	size_t nholders;
	char holder0[128];
	char note0[1100];
	int64_t ttl0;
	mode_t ns_mode;
	gid_t ns_gid;
	size_t nentries;
	char entries[16][64];
	int64_t exp0, now; /* the Redis clock */
	int64_t delayed_until;
	size_t nqueued;
	pid_t queued_pid[4];
	enum lock_mode queued_mode[4];
	size_t ngrants;
	char grant_wid[4][64];
	char grant_daemon[4][64];
	int64_t grant_token[4];
	/* the lock file, where one exists (file.lua) */
	bool file;
	int64_t file_id;
	mode_t file_mode;
	uid_t file_uid;
	char data[LOCK_FILE_DATA_MAX + 1];
	size_t data_len;
};

struct fixture {
	struct server srv;
	struct event_base *base;
	struct store *st;
	int64_t timeout_ms;
};

static void server_start(struct server *s)
{
	char cmd[512];

	if (s->dir[0] == '\0') { /* a restart keeps the directory */
		snprintf(s->dir, sizeof(s->dir),
			 "/tmp/lockfs-test-store-XXXXXX");
		assert_non_null(mkdtemp(s->dir));
	}
	snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
	snprintf(s->url, sizeof(s->url), "unix:%s", s->sock);
	unlink(s->sock);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		execlp("redis-server", "redis-server", "--port", "0",
		       "--unixsocket", s->sock, "--save", "",
		       "--appendonly", "no", "--dir", s->dir, "--loglevel",
		       "warning", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		struct stat st;

		if (stat(s->sock, &st) == 0)
			return;
		usleep(20000);
	}
	snprintf(cmd, sizeof(cmd), "redis-server did not start in %s", s->dir);
	fail_msg("%s", cmd);
}

static void server_stop(struct server *s)
{
	char cmd[128];

	kill(s->pid, SIGCONT);
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", s->dir);
}

static int setup_with_timeout(void **state, int64_t timeout_ms)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct store_config cfg = {0};
	char why[256];

	assert_non_null(f);
	server_start(&f->srv);
	f->timeout_ms = timeout_ms;
	f->base = event_base_new();
	assert_non_null(f->base);
	cfg.url = f->srv.url;
	cfg.prefix = "t";
	cfg.backend_timeout_ms = timeout_ms;
	assert_int_equal(store_probe(&cfg, why, sizeof(why)), 0);
	assert_int_equal(store_new(f->base, &cfg, &f->st), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with_timeout(state, 2000);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_free(f->st);
	event_base_free(f->base);
	server_stop(&f->srv);
	free(f);
	return 0;
}

static void record(void *arg, const struct store_result *r)
{
	struct seen *s = arg;

	memset(s, 0, sizeof(*s));
	s->done = true;
	s->err = r->err;
	snprintf(s->extra, sizeof(s->extra), "%s", r->extra ? r->extra : "");
	s->word = r->word;
	s->blocker = r->blocker.kind;
	s->blocker_until = r->blocker.until_ms;
	if (r->blocker.what)
		snprintf(s->blocker_what, sizeof(s->blocker_what), "%s",
			 r->blocker.what);
	s->kind = r->kind;
	if (r->kind == STORE_LOCK) {
		s->token = r->lock.token;
		s->nholders = r->lock.nholders;
		s->delayed_until = r->lock.delayed_until_ms;
		s->nqueued = r->lock.nqueued;
		for (size_t i = 0; i < r->lock.nqueued && i < 4; i++) {
			s->queued_pid[i] = r->lock.queued[i].pid;
			s->queued_mode[i] = r->lock.queued[i].mode;
		}
		s->file = r->lock.file.exists;
		s->file_id = r->lock.file.id;
		s->file_mode = r->lock.file.mode;
		s->file_uid = r->lock.file.uid;
		s->data_len = r->lock.file.len;
		if (r->lock.file.data)
			memcpy(s->data, r->lock.file.data, r->lock.file.len);
		if (r->lock.nholders) {
			snprintf(s->holder0, sizeof(s->holder0), "%s",
				 r->lock.holders[0].id);
			snprintf(s->note0, sizeof(s->note0), "%s",
				 r->lock.holders[0].note);
			s->ttl0 = r->lock.holders[0].ttl_ms;
			s->exp0 = r->lock.holders[0].expires_ms;
		}
	}
	s->now = r->now_ms;
	s->ngrants = r->ngrants;
	for (size_t i = 0; i < r->ngrants && i < 4; i++) {
		const struct store_grant *g = &r->grants[i];

		/* a wake notice shows as "wake:<namespace>" */
		snprintf(s->grant_wid[i], sizeof(s->grant_wid[i]), "%s%s",
			 g->wake_ns ? "wake:" : "",
			 g->wake_ns ? g->wake_ns : g->waiter_id);
		snprintf(s->grant_daemon[i], sizeof(s->grant_daemon[i]), "%s",
			 g->daemon ? g->daemon : "");
		s->grant_token[i] = g->token;
	}
	if (r->kind == STORE_NAMESPACE) {
		s->ns_mode = r->ns.mode;
		s->ns_gid = r->ns.gid;
	}
	if (r->kind == STORE_LISTING) {
		s->nentries = r->nentries;
		for (size_t i = 0; i < r->nentries && i < 16; i++)
			snprintf(s->entries[i], sizeof(s->entries[i]), "%s%s",
				 r->entries[i].name,
				 r->entries[i].is_namespace ? "/" : "");
	}
}

static void wait_for(struct fixture *f, struct seen *s)
{
	for (int i = 0; i < 100000 && !s->done; i++)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_true(s->done);
}

/* Run the loop for `ms`, so that the store's timers and replies go on. */
static void pump(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/*
 * The answer of a store call that returned `rc`: its callback's, or -EIO at
 * once while the store counts Redis as not answering (its breaker), after
 * which the loop runs a little, so that the store's probe can see Redis back.
 */
static void answer(struct fixture *f, int rc, struct seen *s)
{
	if (rc < 0) {
		assert_int_equal(rc, -EIO);
		s->done = true;
		s->err = rc;
		pump(f->base, 20);
		return;
	}
	wait_for(f, s);
}

static struct seen acquire_as(struct fixture *f, const char *path,
			      const char *id, enum lock_mode mode,
			      int64_t ttl_ms, bool excl)
{
	struct store_holder h = {
		.id = id, .node = "n1", .uid = 1000, .gid = 1000,
		.pid = 42, .session = 40, .kind = HOLDER_LEASE,
		.mode = mode, .ttl_ms = ttl_ms, .keepalive = KEEPALIVE_OFF,
	};
	struct seen s = {0};

	answer(f, store_acquire(f->st, path, &h, excl, NULL, record, &s), &s);
	return s;
}

/* A lease of `ttl_ms` whose lock stays unavailable `delay_ms` after it
 * expires. */
static struct seen acquire_delayed(struct fixture *f, const char *path,
				   const char *id, int64_t ttl_ms,
				   int64_t delay_ms)
{
	struct store_holder h = {
		.id = id, .node = "n1", .uid = 1000, .gid = 1000,
		.pid = 42, .session = 40, .kind = HOLDER_LEASE,
		.mode = LOCK_MODE_EXCLUSIVE, .ttl_ms = ttl_ms,
		.keepalive = KEEPALIVE_OFF, .lock_delay_ms = delay_ms,
	};
	struct seen s = {0};

	answer(f, store_acquire(f->st, path, &h, false, NULL, record, &s), &s);
	return s;
}

static struct seen acquire(struct fixture *f, const char *path,
			   const char *id)
{
	return acquire_as(f, path, id, LOCK_MODE_EXCLUSIVE, 10000, false);
}

/* A blocking request `wid` of daemon "d-<wid>" (queued when busy), or
 * with `confirm` only the confirmation of a grant made to it. */
static struct seen acquire_wait(struct fixture *f, const char *path,
				const char *id, enum lock_mode mode,
				const char *wid, bool confirm)
{
	struct store_holder h = {
		.id = id, .node = "n2", .uid = 1000, .gid = 1000,
		.pid = 43, .session = 41, .kind = HOLDER_LEASE,
		.mode = mode, .ttl_ms = 60000, .keepalive = KEEPALIVE_OFF,
	};
	char daemon[64];
	struct store_wait w = {.waiter_id = wid, .lease_ms = 3000,
			       .daemon_node = daemon, .confirm = confirm};
	struct seen s = {0};

	snprintf(daemon, sizeof(daemon), "d-%s", wid);
	answer(f, store_acquire(f->st, path, &h, false, &w, record, &s), &s);
	return s;
}

/* Would holder `id` (exclusive lease) wait for `path` now? */
static struct seen probe(struct fixture *f, const char *path, const char *id)
{
	struct store_holder h = {
		.id = id, .node = "n1", .uid = 1000, .gid = 1000,
		.pid = 42, .session = 40, .kind = HOLDER_LEASE,
		.mode = LOCK_MODE_EXCLUSIVE, .ttl_ms = 10000,
		.keepalive = KEEPALIVE_OFF,
	};
	struct seen s = {0};

	answer(f, store_acquire_probe(f->st, path, &h, record, &s), &s);
	return s;
}

static struct seen withdraw(struct fixture *f, const char *path,
			    const char *wid)
{
	struct seen s = {0};

	answer(f, store_withdraw(f->st, path, wid, record, &s), &s);
	return s;
}

static struct seen stat_of(struct fixture *f, const char *path)
{
	struct seen s = {0};

	answer(f, store_stat(f->st, path, record, &s), &s);
	return s;
}

static struct seen release(struct fixture *f, const char *path,
			   const char *id, int64_t token, bool force)
{
	struct seen s = {0};

	answer(f, store_release(f->st, path, id, token, force, record, &s), &s);
	return s;
}

static struct seen renew(struct fixture *f, const char *path, const char *id,
			 int64_t token, int64_t ttl, const char *note)
{
	struct command cmd = {.has_ttl = ttl > 0, .ttl_ms = ttl,
			      .has_note = note != NULL};
	struct seen s = {0};

	if (note) {
		cmd.note_len = strlen(note);
		memcpy(cmd.note, note, cmd.note_len + 1);
	}
	answer(f, store_renew(f->st, path, id, token, &cmd, record, &s), &s);
	return s;
}

static struct seen mkdir_ns(struct fixture *f, const char *path, mode_t mode)
{
	struct seen s = {0};

	answer(f, store_mkdir(f->st, path, mode, 1000, 1000, record, &s), &s);
	return s;
}

static struct seen rmdir_ns(struct fixture *f, const char *path)
{
	struct seen s = {0};

	answer(f, store_rmdir(f->st, path, record, &s), &s);
	return s;
}

static struct seen list_ns(struct fixture *f, const char *path)
{
	struct seen s = {0};

	answer(f, store_list(f->st, path, false, record, &s), &s);
	return s;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void test_acquire_table(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t tok;

	s = acquire(f, "job", "A");
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "new");
	assert_int_equal(s.word, WORD_NEW);
	assert_true(s.token > 0);
	tok = s.token;
	s = acquire(f, "job", "A"); /* held by the caller: a renewal */
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "renewed");
	assert_int_equal(s.word, WORD_RENEWED);
	assert_int_equal(s.token, tok);
	s = acquire_as(f, "job", "A", LOCK_MODE_EXCLUSIVE, 10000, true);
	assert_int_equal(s.err, -EEXIST);
	s = acquire(f, "job", "B");
	assert_int_equal(s.err, -EAGAIN);
	s = acquire_as(f, "job", "B", LOCK_MODE_EXCLUSIVE, 10000, true);
	assert_int_equal(s.err, -EEXIST);
	s = stat_of(f, "job");
	assert_int_equal(s.kind, STORE_LOCK);
	assert_string_equal(s.holder0, "A");
	s = stat_of(f, "other");
	assert_int_equal(s.err, 0);
	assert_int_equal(s.kind, STORE_NONE);
}

/*
 * A probe says whether an acquire would wait, and changes nothing: no
 * hold, no queue entry.
 */
static void test_acquire_probe(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t t0;

	assert_int_equal(mkdir_ns(f, "a", 0755).err, 0);
	s = probe(f, "a/x", "A");
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "free");
	assert_int_equal(s.word, WORD_FREE);
	s = acquire(f, "a/.lock", "B");
	assert_int_equal(s.err, 0);
	t0 = s.token;
	/* blocked by an ancestor, the name itself free */
	assert_int_equal(probe(f, "a/x", "A").err, -EAGAIN);
	assert_int_equal(probe(f, "a/.lock", "A").err, -EAGAIN);
	assert_int_equal(probe(f, "a/.lock", "B").err, 0);
	assert_int_equal(release(f, "a/.lock", "B", 0, false).err, 0);
	/* nothing was queued or held by the probes: C gets it at once */
	s = acquire(f, "a/x", "C");
	assert_int_equal(s.err, 0);
	assert_true(s.token > t0);
	assert_string_equal(probe(f, "a/x", "C").extra, "held");
	assert_int_equal(probe(f, "a/x", "A").err, -EAGAIN);
	assert_int_equal(release(f, "a/x", "C", 0, false).err, 0);
	s = probe(f, "a/x", "A");
	assert_int_equal(s.err, 0);
	assert_int_equal(s.nholders, 0);
}

static void test_hierarchy_both_ways(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "a", 0755).err, 0);
	assert_int_equal(mkdir_ns(f, "a/b", 0755).err, 0);
	assert_int_equal(acquire(f, "a/b/c", "A").err, 0);
	/* a descendant held blocks its ancestors' directory locks */
	assert_int_equal(acquire(f, "a/b/.lock", "B").err, -EAGAIN);
	assert_int_equal(acquire(f, "a/.lock", "B").err, -EAGAIN);
	assert_int_equal(acquire(f, ".lock", "B").err, -EAGAIN);
	/* a sibling is unrelated */
	assert_int_equal(acquire(f, "a/b/d", "B").err, 0);
	assert_int_equal(release(f, "a/b/c", "A", 0, false).err, 0);
	assert_int_equal(release(f, "a/b/d", "B", 0, false).err, 0);
	/* now the ancestor's lock is free, and blocks what is below */
	s = acquire(f, "a/.lock", "B");
	assert_int_equal(s.err, 0);
	assert_int_equal(acquire(f, "a/b/c", "A").err, -EAGAIN);
	assert_int_equal(acquire(f, "a/b/.lock", "A").err, -EAGAIN);
	assert_int_equal(acquire(f, ".lock", "A").err, -EAGAIN);
	assert_int_equal(release(f, "a/.lock", "B", 0, false).err, 0);
	assert_int_equal(acquire(f, ".lock", "A").err, 0);
	assert_int_equal(acquire(f, "a/b/c", "B").err, -EAGAIN);
	assert_int_equal(release(f, ".lock", "A", 0, false).err, 0);
}

/*
 * The summaries of what is held below a namespace follow every change,
 * deep down and both ways: the blocker a waiter is told is the lock
 * itself, however deep; a release lowers them to what is left.
 */
static void test_summaries_deep(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "a", 0777).err, 0);
	assert_int_equal(mkdir_ns(f, "a/b", 0777).err, 0);
	assert_int_equal(mkdir_ns(f, "a/b/c", 0777).err, 0);
	assert_int_equal(mkdir_ns(f, "a/e", 0777).err, 0);
	assert_int_equal(acquire_as(f, "a/b/c/d", "A", LOCK_MODE_EXCLUSIVE,
				    20000, false).err, 0);
	assert_int_equal(acquire_as(f, "a/e/.lock", "B", LOCK_MODE_EXCLUSIVE,
				    90000, false).err, 0);
	s = acquire_wait(f, ".lock", "W", LOCK_MODE_EXCLUSIVE, "wW", false);
	assert_int_equal(s.err, -EAGAIN);
	/* the nearest expiry first: A's lock, named to the waiter */
	assert_true(strstr(s.extra, "|a/b/c/d") != NULL);
	assert_int_equal(s.blocker, BLOCKER_HOLDER);
	assert_string_equal(s.blocker_what, "a/b/c/d");
	assert_true(s.blocker_until > s.now);
	assert_int_equal(s.word, WORD_NONE);
	assert_int_equal(withdraw(f, ".lock", "wW").err, 0);
	/* a shared request below a shared summary is not blocked */
	assert_int_equal(acquire_as(f, "a/b/c/s", "S", LOCK_MODE_SHARED, 5000,
				    false).err, 0);
	assert_int_equal(acquire_as(f, "a/b/.lock", "T", LOCK_MODE_SHARED,
				    5000, false).err, -EAGAIN); /* A is x */
	assert_int_equal(release(f, "a/b/c/d", "A", 0, false).err, 0);
	assert_int_equal(acquire_as(f, "a/b/.lock", "T", LOCK_MODE_SHARED,
				    5000, false).err, 0);
	assert_int_equal(release(f, "a/b/.lock", "T", 0, false).err, 0);
	/* the later expiry went: the root still sees the other one */
	assert_int_equal(release(f, "a/e/.lock", "B", 0, false).err, 0);
	s = acquire_wait(f, "a/.lock", "W2", LOCK_MODE_EXCLUSIVE, "wW2",
			 false);
	assert_true(strstr(s.extra, "|a/b/c/s") != NULL);
	assert_string_equal(s.blocker_what, "a/b/c/s");
	assert_int_equal(withdraw(f, "a/.lock", "wW2").err, 0);
	assert_int_equal(release(f, "a/b/c/s", "S", 0, false).err, 0);
	/* nothing left below: the root is free, and a listing is empty */
	assert_int_equal(acquire(f, ".lock", "R").err, 0);
	assert_int_equal(list_ns(f, "a/b/c").nentries, 0);
	/* an expired hold counts as nothing, without anyone releasing it */
	assert_int_equal(release(f, ".lock", "R", 0, false).err, 0);
	assert_int_equal(acquire_as(f, "a/b/c/t", "E", LOCK_MODE_EXCLUSIVE,
				    200, false).err, 0);
	assert_int_equal(acquire(f, "a/.lock", "P").err, -EAGAIN);
	sleep_ms(300);
	assert_int_equal(acquire(f, "a/.lock", "P").err, 0);
	assert_int_equal(rmdir_ns(f, "a/b/c").err, 0);
}

static void test_shared_mode(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mkdir_ns(f, "db", 0755).err, 0);
	assert_int_equal(
		acquire_as(f, "db/.lock", "A", LOCK_MODE_SHARED, 10000, false)
			.err,
		0);
	assert_int_equal(
		acquire_as(f, "db/.lock", "B", LOCK_MODE_SHARED, 10000, false)
			.err,
		0);
	assert_int_equal(
		acquire_as(f, "db/t1", "C", LOCK_MODE_SHARED, 10000, false).err,
		0);
	assert_int_equal(stat_of(f, "db/.lock").nholders, 2);
	/* exclusive conflicts with shared, on the node and below it */
	assert_int_equal(acquire(f, "db/.lock", "D").err, -EAGAIN);
	assert_int_equal(acquire(f, "db/t2", "D").err, -EAGAIN);
	assert_int_equal(acquire(f, ".lock", "D").err, -EAGAIN);
	/* a shared root lock coexists with shared ones below */
	assert_int_equal(
		acquire_as(f, ".lock", "D", LOCK_MODE_SHARED, 10000, false).err,
		0);
}

static void test_tokens_only_grow(void **state)
{
	struct fixture *f = *state;
	int64_t last = 0;
	struct seen s;

	for (int i = 0; i < 3; i++) {
		s = acquire(f, "t", "A");
		assert_int_equal(s.err, 0);
		assert_true(s.token > last);
		last = s.token;
		assert_int_equal(release(f, "t", "A", s.token, false).err, 0);
	}
	s = acquire_as(f, "t", "A", LOCK_MODE_EXCLUSIVE, 150, false);
	assert_true(s.token > last);
	last = s.token;
	sleep_ms(300);
	s = acquire(f, "t", "B"); /* after expiry */
	assert_int_equal(s.err, 0);
	assert_true(s.token > last);
}

static void test_expiry_by_server_clock(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "e", 0755).err, 0);
	s = acquire_as(f, "e/x", "A", LOCK_MODE_EXCLUSIVE, 200, false);
	assert_int_equal(s.err, 0);
	assert_int_equal(acquire(f, "e/.lock", "B").err, -EAGAIN);
	assert_int_equal(list_ns(f, "e").nentries, 1);
	sleep_ms(350);
	assert_int_equal(stat_of(f, "e/x").kind, STORE_NONE);
	assert_int_equal(list_ns(f, "e").nentries, 0);
	/* the expired descendant no longer blocks its ancestor */
	assert_int_equal(acquire(f, "e/.lock", "B").err, 0);
	/* and its owner learns it lost the lease */
	assert_int_equal(renew(f, "e/x", "A", s.token, 0, NULL).err, -ESTALE);
	assert_int_equal(release(f, "e/x", "A", 0, false).err, -ENOENT);
}

static void test_renew_and_release_rules(void **state)
{
	struct fixture *f = *state;
	struct seen s, r;

	s = acquire(f, "r", "A");
	r = renew(f, "r", "A", s.token, 30000, "backup of db1");
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ttl0, 30000);
	assert_string_equal(r.note0, "backup of db1");
	r = renew(f, "r", "A", s.token, 0, NULL); /* note kept */
	assert_string_equal(r.note0, "backup of db1");
	r = renew(f, "r", "B", 0, 0, NULL);
	assert_int_equal(r.err, -ESTALE);
	assert_string_equal(r.extra, "held");
	assert_int_equal(r.word, WORD_HELD);
	assert_int_equal(renew(f, "r", "A", s.token + 1000, 0, NULL).err,
			 -ESTALE);
	assert_int_equal(release(f, "r", "B", 0, false).err, -EPERM);
	assert_int_equal(release(f, "r", "A", s.token + 1000, false).err,
			 -ESTALE);
	r = release(f, "r", "B", 0, true);
	assert_int_equal(r.err, 0);
	assert_string_equal(r.extra, "broken");
	assert_int_equal(r.word, WORD_BROKEN);
	assert_string_equal(r.holder0, "A");
	assert_int_equal(stat_of(f, "r").kind, STORE_NONE);
	assert_int_equal(renew(f, "r", "A", s.token, 0, NULL).err, -ESTALE);
	/* A names the grant it lost: ESTALE, free or retaken, forced or not,
	 * and the new holder keeps its lock */
	assert_int_equal(release(f, "r", "A", s.token, false).err, -ESTALE);
	assert_int_equal(release(f, "r", "A", s.token, true).err, -ESTALE);
	r = acquire(f, "r", "B");
	assert_int_equal(r.err, 0);
	r = release(f, "r", "A", s.token, true);
	assert_int_equal(r.err, -ESTALE);
	assert_string_equal(r.extra, "lost");
	assert_int_equal(r.word, WORD_LOST);
	assert_int_equal(release(f, "r", "A", s.token, false).err, -ESTALE);
	assert_int_equal(stat_of(f, "r").kind, STORE_LOCK);
	/* knowing of no grant, root breaks and others are refused */
	assert_int_equal(release(f, "r", "A", 0, false).err, -EPERM);
	assert_int_equal(release(f, "r", "A", 0, true).err, 0);
}

/* One change of a flock-view lock file (file.lua). */
static struct seen file_do(struct fixture *f, const char *path,
			   struct file_change fc)
{
	struct seen s = {0};

	answer(f, store_file(f->st, path, &fc, record, &s), &s);
	return s;
}

static struct seen file_write(struct fixture *f, const char *path,
			      int64_t id, int64_t off, const char *data)
{
	return file_do(f, path, (struct file_change){
		.op = FILE_WRITE, .id = id, .mode = 0644, .uid = 1000,
		.gid = 1000, .offset = off, .data = data,
		.len = strlen(data)});
}

static struct seen unlink_lock(struct fixture *f, const char *path,
			       const char *id)
{
	struct seen s = {0};

	answer(f, store_unlink(f->st, path, id, 0, false, record, &s), &s);
	return s;
}

static void test_lock_files(void **state)
{
	struct fixture *f = *state;
	struct file_change create = {.op = FILE_CREATE, .mode = 0640,
				     .uid = 1000, .gid = 1000};
	struct file_change excl = create, unlink = {.op = FILE_UNLINK};
	char big[LOCK_FILE_DATA_MAX + 2];
	int64_t id;
	struct seen s;

	excl.excl = true;
	assert_int_equal(mkdir_ns(f, "d", 0777).err, 0);
	assert_int_equal(file_do(f, "nons/x", create).err, -ENOENT);
	assert_int_equal(file_do(f, "d", create).err, -EISDIR);
	s = file_do(f, "d/f", excl);
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "created");
	assert_int_equal(s.word, WORD_CREATED);
	assert_true(s.file);
	assert_int_equal(s.file_mode, 0640);
	assert_int_equal(s.nholders, 0);
	id = s.file_id;
	/* it exists, unheld: O_EXCL fails, in both views */
	assert_int_equal(file_do(f, "d/f", excl).err, -EEXIST);
	assert_int_equal(file_do(f, "d/f", create).file_id, id);
	assert_int_equal(acquire_as(f, "d/f", "A", LOCK_MODE_EXCLUSIVE, 10000,
				    true).err, -EEXIST);
	s = stat_of(f, "d/f");
	assert_int_equal(s.kind, STORE_LOCK);
	assert_true(s.file);
	s = list_ns(f, "d");
	assert_int_equal(s.nentries, 1);
	assert_string_equal(s.entries[0], "f");
	assert_int_equal(rmdir_ns(f, "d").err, -ENOTEMPTY);
	/* a name is a file or a namespace, never both */
	assert_int_equal(mkdir_ns(f, "d/f", 0755).err, -EEXIST);
	/* content: written, appended, truncated; at most 1 KiB */
	assert_int_equal(file_write(f, "d/f", id, 0, "hello").err, 0);
	assert_int_equal(file_write(f, "d/f", id, 3, "p!").err, 0);
	s = file_write(f, "d/f", id, 7, "x");
	assert_int_equal(s.data_len, 8);
	assert_memory_equal(s.data, "help!\0\0x", 8);
	memset(big, 'b', sizeof(big));
	big[LOCK_FILE_DATA_MAX + 1] = '\0';
	assert_int_equal(file_write(f, "d/f", id, 0, big).err, -EFBIG);
	big[LOCK_FILE_DATA_MAX] = '\0';
	assert_int_equal(file_write(f, "d/f", id, 0, big).data_len,
			 LOCK_FILE_DATA_MAX);
	s = file_do(f, "d/f", (struct file_change){.op = FILE_TRUNCATE,
						   .id = id, .offset = 2});
	assert_int_equal(s.data_len, 2);
	assert_int_equal(stat_of(f, "d/f").data_len, 2);
	s = file_do(f, "d/f", (struct file_change){.op = FILE_ATTR,
						   .mode = 0600, .uid = -1,
						   .gid = -1});
	assert_int_equal(s.file_mode, 0600);
	assert_int_equal(s.file_uid, 1000);
	/* a lock taken on it leaves the file; unlink ends no lock, and a new
	 * file of the name is another file, the lock still held */
	assert_int_equal(acquire(f, "d/f", "A").err, 0);
	assert_int_equal(file_do(f, "d/f", unlink).err, 0);
	assert_int_equal(file_do(f, "d/f", unlink).err, -ENOENT);
	s = stat_of(f, "d/f");
	assert_false(s.file);
	assert_int_equal(s.nholders, 1);
	s = file_do(f, "d/f", create);
	assert_true(s.file_id != id);
	assert_int_equal(s.nholders, 1);
	s = file_write(f, "d/f", id, 0, "old descriptor");
	assert_string_equal(s.extra, "gone");
	assert_int_equal(s.word, WORD_GONE);
	assert_int_equal(s.data_len, 0);
	/* the lease view's unlink: a release first, the file stays ... */
	s = unlink_lock(f, "d/f", "A");
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "released");
	assert_int_equal(s.word, WORD_RELEASED);
	assert_true(stat_of(f, "d/f").file);
	/* ... then, unheld, the file goes; a release never removes it */
	assert_int_equal(release(f, "d/f", "A", 0, false).err, -ENOENT);
	assert_true(stat_of(f, "d/f").file);
	s = unlink_lock(f, "d/f", "A");
	assert_string_equal(s.extra, "unlinked");
	assert_int_equal(s.word, WORD_UNLINKED);
	assert_int_equal(stat_of(f, "d/f").kind, STORE_NONE);
	assert_int_equal(unlink_lock(f, "d/f", "A").err, -ENOENT);
	/* O_TRUNC on a create empties a file that exists */
	assert_int_equal(file_do(f, "d/.lock", create).err, 0);
	assert_int_equal(file_write(f, "d/.lock", 0, 0, "abc").data_len, 3);
	create.truncate = true;
	assert_int_equal(file_do(f, "d/.lock", create).data_len, 0);
	assert_string_equal(list_ns(f, "d").entries[0], ".lock");
	assert_int_equal(file_do(f, "d/.lock", unlink).err, 0);
	assert_int_equal(rmdir_ns(f, "d").err, 0);
}

/* The server loses its functions (FUNCTION FLUSH, as after a restart
 * without persistence): the next call loads them again and is answered. */
static void test_library_lost_and_loaded_again(void **state)
{
	struct fixture *f = *state;
	char cmd[512];

	assert_int_equal(acquire(f, "x", "A").err, 0);
	snprintf(cmd, sizeof(cmd), "redis-cli -s %s FUNCTION FLUSH >/dev/null",
		 f->srv.sock);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(acquire(f, "y", "A").err, 0);
	assert_int_equal(stat_of(f, "x").nholders, 1);
	assert_int_equal(release(f, "x", "A", 0, false).err, 0);
}

/* The library lives on between calls: what a call keeps for itself must
 * not pile up in the server's Lua memory, call after call. */
static long functions_memory(struct fixture *f)
{
	char cmd[512];
	long bytes = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "redis-cli -s %s INFO memory | "
		 "sed -n 's/^used_memory_vm_functions:\\([0-9]*\\).*/\\1/p'",
		 f->srv.sock);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (fscanf(p, "%ld", &bytes) != 1)
		bytes = -1;
	pclose(p);
	return bytes;
}

static void test_calls_leave_nothing_in_the_library(void **state)
{
	struct fixture *f = *state;
	char name[64];
	long before, after;

	assert_int_equal(acquire(f, "warm", "A").err, 0);
	before = functions_memory(f);
	assert_true(before > 0);
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "leak-check-%d", i);
		assert_int_equal(acquire(f, name, "A").err, 0);
		assert_int_equal(release(f, name, "A", 0, false).err, 0);
	}
	after = functions_memory(f);
	/* 3000 names kept would be hundreds of kB; the GC's slack is less */
	assert_true(after - before < 128 * 1024);
}

static void test_namespaces(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	s = stat_of(f, "");
	assert_int_equal(s.kind, STORE_NAMESPACE);
	assert_int_equal(s.ns_mode, 01777);
	assert_int_equal(mkdir_ns(f, "n", 0750).err, 0);
	assert_int_equal(mkdir_ns(f, "n", 0750).err, -EEXIST);
	assert_int_equal(mkdir_ns(f, "x/y", 0750).err, -ENOENT);
	assert_int_equal(stat_of(f, "n").ns_mode, 0750);
	assert_int_equal(mkdir_ns(f, "n/sub", 0755).err, 0);
	assert_int_equal(rmdir_ns(f, "n").err, -ENOTEMPTY);
	assert_int_equal(rmdir_ns(f, "n/sub").err, 0);
	assert_int_equal(acquire(f, "n/held", "A").err, 0);
	assert_int_equal(mkdir_ns(f, "n/held", 0755).err, -EEXIST);
	s = list_ns(f, "n");
	assert_int_equal(s.nentries, 1);
	assert_string_equal(s.entries[0], "held");
	assert_int_equal(rmdir_ns(f, "n").err, -ENOTEMPTY);
	assert_int_equal(release(f, "n/held", "A", 0, false).err, 0);
	assert_int_equal(acquire(f, "n/.lock", "A").err, 0);
	assert_int_equal(rmdir_ns(f, "n").err, -ENOTEMPTY);
	assert_int_equal(release(f, "n/.lock", "A", 0, false).err, 0);
	assert_int_equal(rmdir_ns(f, "n").err, 0);
	assert_int_equal(stat_of(f, "n").kind, STORE_NONE);
	assert_int_equal(rmdir_ns(f, "n").err, -ENOENT);
	/* a lock in a namespace that is gone */
	assert_int_equal(acquire(f, "n/x", "A").err, -ENOENT);
	/* set-group-id directories pass on their group */
	assert_int_equal(mkdir_ns(f, "g", 02770).err, 0);
	s = mkdir_ns(f, "g/h", 0700);
	assert_int_equal(s.ns_mode, 02700);
	assert_int_equal(s.ns_gid, 1000);
	s = (struct seen){0};
	answer(f, store_setattr(f->st, "g", 0711, -1, 55, record, &s), &s);
	assert_int_equal(s.ns_mode, 0711);
	assert_int_equal(s.ns_gid, 55);
	/* a namespace name is not a lock file */
	assert_int_equal(acquire(f, "g", "A").err, -EISDIR);
}

static struct seen acquire_set(struct fixture *f, const char *id,
			       const char *wid, bool withdraw, size_t n, ...)
{
	struct store_holder h = {
		.id = id, .node = "n1", .uid = 1000, .gid = 1000, .pid = 42,
		.session = 40, .kind = HOLDER_LEASE, .ttl_ms = 10000,
		.keepalive = KEEPALIVE_OFF,
	};
	struct store_wait w = {.waiter_id = wid, .lease_ms = 5000,
			       .daemon_node = "n1"};
	char *paths[8];
	enum lock_mode modes[8];
	struct seen s = {0};
	va_list ap;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		paths[i] = va_arg(ap, char *);
		modes[i] = va_arg(ap, int);
	}
	va_end(ap);
	answer(f, store_acquire_set(f->st, paths, modes, n, &h,
					   wid ? &w : NULL, withdraw, record,
					   &s), &s);
	return s;
}

static void test_lock_sets(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "db", 0755).err, 0);
	assert_int_equal(mkdir_ns(f, "cfg", 0755).err, 0);
	s = acquire_set(f, "A", NULL, false, 3, "db/customers",
			LOCK_MODE_EXCLUSIVE, "db/orders", LOCK_MODE_EXCLUSIVE,
			"cfg/.lock", LOCK_MODE_SHARED);
	assert_int_equal(s.err, 0);
	assert_int_equal(s.kind, STORE_TOKENS);
	assert_int_equal(stat_of(f, "db/orders").kind, STORE_LOCK);
	assert_int_equal(stat_of(f, "cfg/.lock").kind, STORE_LOCK);
	/* shared members coexist with shared requests */
	assert_int_equal(acquire_as(f, "cfg/x", "B", LOCK_MODE_SHARED, 10000,
				    false)
				 .err,
			 0);
	/* all or nothing: one busy member takes nothing */
	s = acquire_set(f, "B", NULL, false, 2, "db/free", LOCK_MODE_EXCLUSIVE,
			"db/orders", LOCK_MODE_EXCLUSIVE);
	assert_int_equal(s.err, -EAGAIN);
	assert_int_equal(stat_of(f, "db/free").kind, STORE_NONE);
	/* queued, it holds nothing and blocks later conflicting requests */
	s = acquire_set(f, "B", "wB", false, 2, "db/free", LOCK_MODE_EXCLUSIVE,
			"db/orders", LOCK_MODE_EXCLUSIVE);
	assert_int_equal(s.err, -EAGAIN);
	assert_true(strncmp(s.extra, "h|", 2) == 0);
	assert_int_equal(s.blocker, BLOCKER_HOLDER);
	assert_int_equal(stat_of(f, "db/free").kind, STORE_NONE);
	assert_int_equal(acquire(f, "db/free", "C").err, -EAGAIN);
	assert_int_equal(release(f, "db/orders", "A", 0, false).err, 0);
	s = acquire_set(f, "B", "wB", false, 2, "db/free", LOCK_MODE_EXCLUSIVE,
			"db/orders", LOCK_MODE_EXCLUSIVE);
	assert_int_equal(s.err, 0);
	assert_string_equal(stat_of(f, "db/free").holder0, "B");
	/* a withdrawn set leaves nothing queued */
	s = acquire_set(f, "C", "wC", false, 1, "db/orders",
			LOCK_MODE_EXCLUSIVE);
	assert_int_equal(s.err, -EAGAIN);
	s = acquire_set(f, "C", "wC", true, 1, "db/orders",
			LOCK_MODE_EXCLUSIVE);
	assert_int_equal(s.err, 0);
	assert_int_equal(release(f, "db/orders", "B", 0, false).err, 0);
	assert_int_equal(acquire(f, "db/orders", "D").err, 0);
}

/*
 * A dead waiter at the head of a queue whose record is already gone (its
 * daemon died; another call met it first and dropped the record) is
 * skipped by the release that hands the lock on: the release answers,
 * grants the live waiter behind it, and Redis is not left looping in the
 * script (which stalled every client of the server for good).
 */
static void test_release_skips_waiter_without_record(void **state)
{
	struct fixture *f = *state;
	char cmd[512];
	struct seen s;

	assert_int_equal(mkdir_ns(f, "r", 0777).err, 0);
	assert_int_equal(acquire(f, "r/x", "A").err, 0);
	assert_int_equal(acquire_wait(f, "r/x", "B", LOCK_MODE_EXCLUSIVE, "wB",
				      false).err, -EAGAIN);
	assert_int_equal(acquire_wait(f, "r/x", "C", LOCK_MODE_EXCLUSIVE, "wC",
				      false).err, -EAGAIN);
	snprintf(cmd, sizeof(cmd),
		 "test \"$(redis-cli -s '%s' HDEL '{t}:wr:' wB)\" = 1",
		 f->srv.sock);
	assert_int_equal(system(cmd), 0);
	s = release(f, "r/x", "A", 0, false);
	assert_int_equal(s.err, 0);
	assert_int_equal(s.ngrants, 1);
	assert_string_equal(s.grant_wid[0], "wC");
	assert_string_equal(stat_of(f, "r/x").holder0, "C");
}

/*
 * The call that ends a hold hands the lock to the head of its queue: a
 * provisional grant, named in the reply, that lasts as long as the queue
 * entry would have until the grantee's confirmation gives it its ttl; a
 * withdrawal undoes it and hands the lock on.
 */
static void test_release_hands_over(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t tok;

	assert_int_equal(mkdir_ns(f, "h", 0777).err, 0);
	assert_int_equal(acquire(f, "h/x", "A").err, 0);
	assert_int_equal(acquire_wait(f, "h/x", "B", LOCK_MODE_EXCLUSIVE, "wB",
				      false).err, -EAGAIN);
	assert_int_equal(acquire_wait(f, "h/x", "C", LOCK_MODE_EXCLUSIVE, "wC",
				      false).err, -EAGAIN);
	s = release(f, "h/x", "A", 0, false);
	assert_int_equal(s.err, 0);
	assert_int_equal(s.ngrants, 1); /* B only: C still waits behind it */
	assert_string_equal(s.grant_wid[0], "wB");
	assert_string_equal(s.grant_daemon[0], "d-wB");
	tok = s.grant_token[0];
	s = stat_of(f, "h/x");
	assert_string_equal(s.holder0, "B");
	assert_int_equal(s.token, tok);
	/* provisional: as long as B's queue entry (a 3 s lease), not its ttl */
	assert_true(s.exp0 - s.now <= 3000);
	assert_true(s.exp0 - s.now > 2000);
	/* a newcomer is refused, a withdrawal of B hands it on to C */
	assert_int_equal(acquire(f, "h/x", "D").err, -EAGAIN);
	s = withdraw(f, "h/x", "wB");
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "removed");
	assert_int_equal(s.word, WORD_REMOVED);
	assert_int_equal(s.ngrants, 1);
	assert_string_equal(s.grant_wid[0], "wC");
	assert_true(s.grant_token[0] > tok);
	assert_string_equal(stat_of(f, "h/x").holder0, "C");
	/* C's confirmation: 'new', with its full ttl; again: 'renewed' */
	s = acquire_wait(f, "h/x", "C", LOCK_MODE_EXCLUSIVE, "wC", true);
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "new");
	assert_int_equal(s.word, WORD_NEW);
	assert_true(s.exp0 - s.now > 50000);
	s = acquire_wait(f, "h/x", "C", LOCK_MODE_EXCLUSIVE, "wC", true);
	assert_string_equal(s.extra, "renewed");
	assert_int_equal(s.word, WORD_RENEWED);
	/* a confirmed grant is not undone by a late withdrawal */
	assert_int_equal(withdraw(f, "h/x", "wC").err, 0);
	assert_string_equal(stat_of(f, "h/x").holder0, "C");
	/* a confirmation of a grant that is gone: ESTALE, nothing taken */
	assert_int_equal(release(f, "h/x", "C", 0, false).err, 0);
	s = acquire_wait(f, "h/x", "E", LOCK_MODE_EXCLUSIVE, "wE", true);
	assert_int_equal(s.err, -ESTALE);
	assert_int_equal(stat_of(f, "h/x").kind, STORE_NONE);
	/* shared requests at the head all go at once, up to an exclusive one */
	assert_int_equal(acquire(f, "h/y", "X").err, 0);
	acquire_wait(f, "h/y", "S1", LOCK_MODE_SHARED, "wS1", false);
	acquire_wait(f, "h/y", "S2", LOCK_MODE_SHARED, "wS2", false);
	acquire_wait(f, "h/y", "E2", LOCK_MODE_EXCLUSIVE, "wE2", false);
	s = release(f, "h/y", "X", 0, false);
	assert_int_equal(s.ngrants, 2);
	assert_string_equal(s.grant_wid[0], "wS1");
	assert_string_equal(s.grant_wid[1], "wS2");
	/* first come, first served along the tree: W queued before the
	 * directory lock P and goes first; P, waiting on another node of the
	 * tree, is not granted by W's release but by its own re-check */
	assert_int_equal(mkdir_ns(f, "g", 0777).err, 0);
	assert_int_equal(acquire(f, "g/z", "Z").err, 0);
	acquire_wait(f, "g/z", "W", LOCK_MODE_EXCLUSIVE, "wW", false);
	assert_int_equal(acquire_wait(f, "g/.lock", "P", LOCK_MODE_EXCLUSIVE,
				      "wP", false).err, -EAGAIN);
	s = release(f, "g/z", "Z", 0, false);
	assert_int_equal(s.ngrants, 1);
	assert_string_equal(s.grant_wid[0], "wW");
	assert_int_equal(release(f, "g/z", "W", 0, false).ngrants, 0);
	s = acquire_wait(f, "g/.lock", "P", LOCK_MODE_EXCLUSIVE, "wP", false);
	assert_int_equal(s.err, 0);
	assert_string_equal(s.extra, "new");
	assert_int_equal(s.word, WORD_NEW);
}

static struct seen set_limit(struct fixture *f, const char *path, long limit,
			     uid_t caller)
{
	struct seen s = {0};

	answer(f, store_set_limit(f->st, path, limit, caller, record, &s), &s);
	return s;
}

/*
 * Semaphores: a namespace with a limit holds at most that many locks at
 * once directly in it; the next requests wait FIFO and a release wakes
 * them (a wake notice in its reply).
 */
static void test_semaphore(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "gpu", 0777).err, 0);
	assert_int_equal(mkdir_ns(f, "gpu/sub", 0777).err, 0);
	assert_int_equal(set_limit(f, "gpu", 2, 4242).err, -EPERM); /* not its owner */
	s = set_limit(f, "gpu", 2, 1000);
	assert_int_equal(s.err, 0);
	assert_int_equal(acquire(f, "gpu/a", "A").err, 0);
	assert_int_equal(acquire(f, "gpu/b", "B").err, 0);
	assert_int_equal(acquire(f, "gpu/c", "C").err, -EAGAIN); /* full */
	/* what is below, and the namespace's own lock, are not slots */
	assert_int_equal(acquire(f, "gpu/sub/x", "X").err, 0);
	assert_int_equal(release(f, "gpu/sub/x", "X", 0, false).err, 0);
	/* a second holder of a held shared lock takes no new slot */
	assert_int_equal(release(f, "gpu/b", "B", 0, false).ngrants, 1);
	assert_int_equal(acquire_as(f, "gpu/b", "B", LOCK_MODE_SHARED, 10000,
				    false).err, 0);
	assert_int_equal(acquire_as(f, "gpu/b", "B2", LOCK_MODE_SHARED, 10000,
				    false).err, 0);
	/* waiters: FIFO, held back by the limit */
	s = acquire_wait(f, "gpu/c", "C", LOCK_MODE_EXCLUSIVE, "wC", false);
	assert_int_equal(s.err, -EAGAIN);
	assert_true(strncmp(s.extra, "s|", 2) == 0);
	assert_true(strstr(s.extra, "|gpu") != NULL);
	assert_int_equal(s.blocker, BLOCKER_SEMAPHORE);
	assert_string_equal(s.blocker_what, "gpu");
	assert_int_equal(acquire_wait(f, "gpu/d", "D", LOCK_MODE_EXCLUSIVE, "wD",
				      false).err, -EAGAIN);
	s = release(f, "gpu/a", "A", 0, false);
	assert_int_equal(s.ngrants, 1);
	assert_string_equal(s.grant_wid[0], "wake:gpu");
	/* D asks first, but C came first: D waits, C gets it */
	assert_int_equal(acquire_wait(f, "gpu/d", "D", LOCK_MODE_EXCLUSIVE, "wD",
				      false).err, -EAGAIN);
	s = acquire_wait(f, "gpu/c", "C", LOCK_MODE_EXCLUSIVE, "wC", false);
	assert_int_equal(s.err, 0);
	assert_int_equal(s.ngrants, 1); /* its leaving wakes those behind */
	assert_int_equal(acquire_wait(f, "gpu/d", "D", LOCK_MODE_EXCLUSIVE, "wD",
				      false).err, -EAGAIN); /* still full */
	/* no limit any more: D goes */
	assert_int_equal(set_limit(f, "gpu", 0, 0).err, 0);
	assert_int_equal(acquire_wait(f, "gpu/d", "D", LOCK_MODE_EXCLUSIVE, "wD",
				      false).err, 0);
}

/*
 * Deadlocks: a wait that would close a cycle of owners waiting on each
 * other fails at once with EDEADLK, through holders and waiting requests,
 * and leaves nothing queued; a wait that closes none is queued.
 */
static void test_deadlock(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "k", 0777).err, 0);
	assert_int_equal(acquire(f, "k/x", "A").err, 0);
	assert_int_equal(acquire(f, "k/y", "B").err, 0);
	assert_int_equal(acquire(f, "k/z", "C").err, 0);
	/* A waits for y (B's), B for z (C's): no cycle yet */
	assert_int_equal(acquire_wait(f, "k/y", "A", LOCK_MODE_EXCLUSIVE, "wA",
				      false).err, -EAGAIN);
	assert_int_equal(acquire_wait(f, "k/z", "B", LOCK_MODE_EXCLUSIVE, "wB",
				      false).err, -EAGAIN);
	/* C asking for x (A's) would close C -> A -> B -> C */
	s = acquire_wait(f, "k/x", "C", LOCK_MODE_EXCLUSIVE, "wC", false);
	assert_int_equal(s.err, -EDEADLK);
	assert_int_equal(stat_of(f, "k/x").nholders, 1);
	/* not queued: the lock shows A's waiter-free state */
	assert_int_equal(stat_of(f, "k/x").nqueued, 0);
	/* a fourth owner waiting for x closes no cycle */
	assert_int_equal(acquire_wait(f, "k/x", "D", LOCK_MODE_EXCLUSIVE, "wD",
				      false).err, -EAGAIN);
	/* once A gives up waiting, C may wait for x */
	assert_int_equal(withdraw(f, "k/y", "wA").err, 0);
	assert_int_equal(acquire_wait(f, "k/x", "C", LOCK_MODE_EXCLUSIVE, "wC",
				      false).err, -EAGAIN);
}

/* Reading a lock lists its waiters in queue order, the count aside. */
static void test_queue_in_sight(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "q", 0777).err, 0);
	assert_int_equal(acquire(f, "q/x", "A").err, 0);
	assert_int_equal(stat_of(f, "q/x").nqueued, 0);
	acquire_wait(f, "q/x", "B", LOCK_MODE_SHARED, "wB", false);
	acquire_wait(f, "q/x", "C", LOCK_MODE_EXCLUSIVE, "wC", false);
	s = stat_of(f, "q/x");
	assert_int_equal(s.nqueued, 2);
	assert_int_equal(s.queued_mode[0], LOCK_MODE_SHARED); /* B first */
	assert_int_equal(s.queued_mode[1], LOCK_MODE_EXCLUSIVE);
	assert_int_equal(s.queued_pid[0], 43);
	assert_int_equal(withdraw(f, "q/x", "wB").err, 0);
	s = stat_of(f, "q/x");
	assert_int_equal(s.nqueued, 1);
	assert_int_equal(s.queued_mode[0], LOCK_MODE_EXCLUSIVE);
}

/*
 * Lock-delay: a hold that expires keeps its lock from everyone else for
 * its delay (the lock reads as held by nobody, delayed_until= set); one
 * released does not.
 */
static void test_lock_delay(void **state)
{
	struct fixture *f = *state;
	struct seen s;

	assert_int_equal(mkdir_ns(f, "d", 0777).err, 0);
	assert_int_equal(acquire_delayed(f, "d/x", "A", 200, 700).err, 0);
	sleep_ms(300); /* expired, in its delay */
	assert_int_equal(acquire(f, "d/x", "B").err, -EAGAIN);
	s = stat_of(f, "d/x");
	assert_int_equal(s.kind, STORE_LOCK);
	assert_int_equal(s.nholders, 0);
	assert_true(s.delayed_until > s.now && s.delayed_until - s.now <= 700);
	/* its namespace's lock waits for it too */
	assert_int_equal(acquire(f, "d/.lock", "C").err, -EAGAIN);
	s = acquire_wait(f, "d/x", "B", LOCK_MODE_EXCLUSIVE, "wB", false);
	assert_true(strncmp(s.extra, "h|", 2) == 0); /* wakes at its end */
	assert_int_equal(s.blocker, BLOCKER_HOLDER);
	assert_int_equal(withdraw(f, "d/x", "wB").err, 0);
	sleep_ms(700);
	assert_int_equal(acquire(f, "d/x", "B").err, 0);
	assert_int_equal(stat_of(f, "d/x").delayed_until, 0);
	/* released, not expired: no delay */
	assert_int_equal(release(f, "d/x", "B", 0, false).err, 0);
	assert_int_equal(acquire_delayed(f, "d/y", "A", 5000, 5000).err, 0);
	assert_int_equal(release(f, "d/y", "A", 0, false).err, 0);
	assert_int_equal(acquire(f, "d/y", "B").err, 0);
	assert_int_equal(acquire(f, "d/.lock", "C").err, -EAGAIN); /* B */
	assert_int_equal(release(f, "d/y", "B", 0, false).err, 0);
	assert_int_equal(acquire(f, "d/.lock", "C").err, 0);
}

static int setup_short(void **state)
{
	return setup_with_timeout(state, 300);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void test_frozen_server_gives_eio_and_undoes_late_grant(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t t0;

	assert_int_equal(stat_of(f, "z").err, 0); /* connected */
	kill(f->srv.pid, SIGSTOP);
	t0 = now_ms();
	s = acquire(f, "z", "A");
	assert_int_equal(s.err, -EIO);
	assert_true(now_ms() - t0 >= 250);
	assert_true(now_ms() - t0 < 2000);
	kill(f->srv.pid, SIGCONT);
	/* the late grant is released again by the store */
	for (int i = 0; i < 50; i++) {
		s = stat_of(f, "z");
		if (s.kind == STORE_NONE)
			break;
		pump(f->base, 20);
	}
	assert_int_equal(s.kind, STORE_NONE);
	assert_int_equal(acquire(f, "z", "B").err, 0);
}

/*
 * The breaker: once a call went unanswered for backend_timeout, the next
 * fails at once, and the store notices by itself when Redis answers again.
 */
static void test_breaker_fails_fast_until_redis_answers(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t t0;

	assert_int_equal(stat_of(f, "z").err, 0);
	assert_true(store_connected(f->st));
	kill(f->srv.pid, SIGSTOP);
	assert_int_equal(stat_of(f, "z").err, -EIO); /* one backend_timeout */
	assert_false(store_connected(f->st));
	t0 = now_ms();
	s = acquire(f, "z", "A");
	assert_int_equal(s.err, -EIO);
	assert_true(now_ms() - t0 < 100); /* at once, not another timeout */
	kill(f->srv.pid, SIGCONT);
	for (int i = 0; i < 50 && !store_connected(f->st); i++)
		pump(f->base, 20);
	assert_true(store_connected(f->st)); /* its probe saw Redis answer */
	assert_int_equal(acquire(f, "z", "B").err, 0);
	assert_int_equal(stat_of(f, "z").kind, STORE_LOCK);
}

/*
 * Behind a partition late replies trickle in: a reply to a call sent
 * before Redis fell silent does not close the breaker, only an answer to
 * something sent since does; and an undo (a withdrawal) still goes while
 * it is open.
 */
static void test_breaker_ignores_late_replies(void **state)
{
	struct fixture *f = *state;
	struct store_stats before, now;
	struct seen w = {0};

	assert_int_equal(stat_of(f, "z").err, 0);
	kill(f->srv.pid, SIGSTOP);
	assert_int_equal(stat_of(f, "z").err, -EIO); /* the breaker opens */
	store_get_stats(f->st, &before);
	kill(f->srv.pid, SIGCONT);
	/* until the stat's late reply has come (its PING comes later) */
	for (int i = 0; i < 1000; i++) {
		store_get_stats(f->st, &now);
		if (now.calls > before.calls)
			break;
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(200);
	}
	assert_true(now.calls > before.calls);
	assert_false(store_connected(f->st));
	assert_int_equal(store_stat(f->st, "z", record, &w), -EIO);
	/* an undo is sent all the same, and its reply closes the breaker */
	assert_int_equal(store_withdraw(f->st, "z", "nobody", record, &w), 0);
	wait_for(f, &w);
	assert_int_equal(w.err, 0);
	assert_true(store_connected(f->st));
}

static void test_unreachable_server_gives_eio(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t t0;

	assert_int_equal(stat_of(f, "z").err, 0);
	kill(f->srv.pid, SIGKILL);
	waitpid(f->srv.pid, NULL, 0);
	t0 = now_ms();
	s = acquire(f, "z", "A");
	assert_int_equal(s.err, -EIO);
	assert_true(now_ms() - t0 < 2000);
	s = stat_of(f, "z");
	assert_int_equal(s.err, -EIO);
	server_start(&f->srv); /* same socket path: the store reconnects */
	for (int i = 0; i < 100; i++) {
		s = stat_of(f, "z");
		if (s.err == 0)
			break;
		pump(f->base, 50);
	}
	assert_int_equal(s.err, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_acquire_table, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_acquire_probe, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hierarchy_both_ways,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_mode, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tokens_only_grow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_expiry_by_server_clock,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_renew_and_release_rules,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_library_lost_and_loaded_again, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_calls_leave_nothing_in_the_library, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_lock_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_namespaces, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deadlock, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_semaphore, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_in_sight, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_delay, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_summaries_deep, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_release_skips_waiter_without_record, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_release_hands_over, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lock_sets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_frozen_server_gives_eio_and_undoes_late_grant,
			setup_short, teardown),
		cmocka_unit_test_setup_teardown(
			test_unreachable_server_gives_eio, setup_short,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_breaker_fails_fast_until_redis_answers,
			setup_short, teardown),
		cmocka_unit_test_setup_teardown(
			test_breaker_ignores_late_replies, setup_short,
			teardown),
	};

	signal(SIGPIPE, SIG_IGN); /* as the daemon: a dead server is EIO */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
