/*
 * store_fixture.c - the store's unit suites' fixture (store_fixture.h):
 * the server, the loop, and one helper per store call.
 */
#include "store_fixture.h"

void server_start(struct server *s)
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
		       "--unixsocket", s->sock, "--save", "", "--appendonly",
		       "no", "--dir", s->dir, "--loglevel", "warning",
		       (char *)NULL);
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

void server_stop(struct server *s)
{
	char cmd[128];

	kill(s->pid, SIGCONT);
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", s->dir);
}

int setup_with_timeout(void **state, int64_t timeout_ms)
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

int setup(void **state)
{
	return setup_with_timeout(state, 2000);
}

int teardown(void **state)
{
	struct fixture *f = *state;

	store_free(f->st);
	event_base_free(f->base);
	server_stop(&f->srv);
	free(f);
	return 0;
}

void record(void *arg, const struct store_result *r)
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

void wait_for(struct fixture *f, struct seen *s)
{
	for (int i = 0; i < 100000 && !s->done; i++)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_true(s->done);
}

/* Run the loop for `ms`, so that the store's timers and replies go on. */
void pump(struct event_base *base, int ms)
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
void answer(struct fixture *f, int rc, struct seen *s)
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

/* Holder `id`'s lease, as process 42 of session 40 on node n1. */
static struct store_holder lease_holder(const char *id, enum lock_mode mode,
					int64_t ttl_ms)
{
	struct store_holder h = {
		.id = id, .node = "n1", .uid = 1000, .gid = 1000, .pid = 42,
		.session = 40, .kind = HOLDER_LEASE, .mode = mode,
		.ttl_ms = ttl_ms, .keepalive = KEEPALIVE_OFF,
	};

	return h;
}

struct seen acquire_as(struct fixture *f, const char *path, const char *id,
		       enum lock_mode mode, int64_t ttl_ms, bool excl)
{
	struct store_holder h = lease_holder(id, mode, ttl_ms);
	struct seen s = {0};

	answer(f, store_acquire(f->st, path, &h, excl, NULL, record, &s), &s);
	return s;
}

/* A lease of `ttl_ms` whose lock stays unavailable `delay_ms` after it
 * expires. */
struct seen acquire_delayed(struct fixture *f, const char *path, const char *id,
			    int64_t ttl_ms, int64_t delay_ms)
{
	struct store_holder h =
		lease_holder(id, LOCK_MODE_EXCLUSIVE, ttl_ms);
	struct seen s = {0};

	h.lock_delay_ms = delay_ms;
	answer(f, store_acquire(f->st, path, &h, false, NULL, record, &s), &s);
	return s;
}

struct seen acquire(struct fixture *f, const char *path, const char *id)
{
	return acquire_as(f, path, id, LOCK_MODE_EXCLUSIVE, 10000, false);
}

/* A blocking request `wid` of daemon "d-<wid>" (queued when busy), or
 * with `confirm` only the confirmation of a grant made to it. */
struct seen acquire_wait(struct fixture *f, const char *path, const char *id,
			 enum lock_mode mode, const char *wid, bool confirm)
{
	struct store_holder h = {
	    .id = id,
	    .node = "n2",
	    .uid = 1000,
	    .gid = 1000,
	    .pid = 43,
	    .session = 41,
	    .kind = HOLDER_LEASE,
	    .mode = mode,
	    .ttl_ms = 60000,
	    .keepalive = KEEPALIVE_OFF,
	};
	char daemon[64];
	struct store_wait w = {.waiter_id = wid,
			       .lease_ms = 3000,
			       .daemon_node = daemon,
			       .confirm = confirm};
	struct seen s = {0};

	snprintf(daemon, sizeof(daemon), "d-%s", wid);
	answer(f, store_acquire(f->st, path, &h, false, &w, record, &s), &s);
	return s;
}

/* Would holder `id` (exclusive lease) wait for `path` now? */
struct seen probe(struct fixture *f, const char *path, const char *id)
{
	struct store_holder h = lease_holder(id, LOCK_MODE_EXCLUSIVE, 10000);
	struct seen s = {0};

	answer(f, store_acquire_probe(f->st, path, &h, record, &s), &s);
	return s;
}

struct seen withdraw(struct fixture *f, const char *path, const char *wid)
{
	struct seen s = {0};

	answer(f, store_withdraw(f->st, path, wid, record, &s), &s);
	return s;
}

struct seen stat_of(struct fixture *f, const char *path)
{
	struct seen s = {0};

	answer(f, store_stat(f->st, path, record, &s), &s);
	return s;
}

struct seen release(struct fixture *f, const char *path, const char *id,
		    int64_t token, bool force)
{
	struct seen s = {0};

	answer(f, store_release(f->st, path, id, token, force, record, &s), &s);
	return s;
}

struct seen renew(struct fixture *f, const char *path, const char *id,
		  int64_t token, int64_t ttl, const char *note)
{
	struct command cmd = {
	    .has_ttl = ttl > 0, .ttl_ms = ttl, .has_note = note != NULL};
	struct seen s = {0};

	if (note) {
		cmd.note_len = strlen(note);
		memcpy(cmd.note, note, cmd.note_len + 1);
	}
	answer(f, store_renew(f->st, path, id, token, &cmd, record, &s), &s);
	return s;
}

struct seen mkdir_ns(struct fixture *f, const char *path, mode_t mode)
{
	struct seen s = {0};

	answer(f, store_mkdir(f->st, path, mode, 1000, 1000, record, &s), &s);
	return s;
}

struct seen rmdir_ns(struct fixture *f, const char *path)
{
	struct seen s = {0};

	answer(f, store_rmdir(f->st, path, record, &s), &s);
	return s;
}

struct seen list_ns(struct fixture *f, const char *path)
{
	struct seen s = {0};

	answer(f, store_list(f->st, path, false, record, &s), &s);
	return s;
}

void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* One change of a flock-view lock file (file.lua). */
struct seen file_do(struct fixture *f, const char *path, struct file_change fc)
{
	struct seen s = {0};

	answer(f, store_file(f->st, path, &fc, record, &s), &s);
	return s;
}

struct seen file_write(struct fixture *f, const char *path, int64_t id,
		       int64_t off, const char *data)
{
	return file_do(f, path,
		       (struct file_change){.op = FILE_WRITE,
					    .id = id,
					    .mode = 0644,
					    .uid = 1000,
					    .gid = 1000,
					    .offset = off,
					    .data = data,
					    .len = strlen(data)});
}

struct seen unlink_lock(struct fixture *f, const char *path, const char *id)
{
	struct seen s = {0};

	answer(f, store_unlink(f->st, path, id, 0, false, record, &s), &s);
	return s;
}

struct seen acquire_set(struct fixture *f, const char *id, const char *wid,
			bool withdraw, size_t n, ...)
{
	struct store_holder h = lease_holder(id, LOCK_MODE_EXCLUSIVE, 10000);
	struct store_wait w = {
	    .waiter_id = wid, .lease_ms = 5000, .daemon_node = "n1"};
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
	answer(f,
	       store_acquire_set(f->st, paths, modes, n, &h, wid ? &w : NULL,
				 withdraw, record, &s),
	       &s);
	return s;
}

struct seen set_limit(struct fixture *f, const char *path, long limit,
		      uid_t caller)
{
	struct seen s = {0};

	answer(f, store_set_limit(f->st, path, limit, caller, record, &s), &s);
	return s;
}

int setup_short(void **state)
{
	return setup_with_timeout(state, 300);
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}
