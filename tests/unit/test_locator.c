/*
 * test_locator.c - sentinel:// and cluster:// URLs, slots, and asking
 * sentinels for the master.
 *
 * The URL grammar is pure logic.  The rest runs against real processes: a
 * private redis-server on a loopback port and a redis-server --sentinel
 * watching it (skipped when redis-server is missing), and ports where
 * nothing listens, for the paths where no sentinel answers.  The failover
 * itself is tests/integration/sentinel.sh.
 */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "locator.h"
#include "store.h"

/* ---- URL parsing ----------------------------------------------------- */

static void test_is_url(void **state)
{
	(void)state;
	assert_true(locator_is_url("sentinel://h/m"));
	assert_false(locator_is_url("redis://h:1"));
	assert_false(locator_is_url("unix:/x"));
	assert_false(locator_is_url(NULL));
}

static void test_parse_good(void **state)
{
	struct locator *s = NULL;

	(void)state;
	assert_int_equal(
		locator_new("sentinel://host1:26380,host2:26381/mymaster", &s),
		0);
	assert_int_equal(locator_count(s), 2);
	assert_string_equal(locator_host(s, 0), "host1");
	assert_int_equal(locator_port(s, 0), 26380);
	assert_string_equal(locator_host(s, 1), "host2");
	assert_int_equal(locator_port(s, 1), 26381);
	assert_null(locator_host(s, 2));
	assert_string_equal(locator_master_name(s), "mymaster");
	assert_int_equal(locator_db(s), 0);
	locator_free(s);

	/* default port, one sentinel, a db */
	assert_int_equal(locator_new("sentinel://10.0.0.1/m-1.x/3", &s), 0);
	assert_int_equal(locator_count(s), 1);
	assert_string_equal(locator_host(s, 0), "10.0.0.1");
	assert_int_equal(locator_port(s, 0), SENTINEL_DEFAULT_PORT);
	assert_string_equal(locator_master_name(s), "m-1.x");
	assert_int_equal(locator_db(s), 3);
	locator_free(s);

	/* ';' separates too; IPv6 in brackets, with and without a port */
	assert_int_equal(
		locator_new("sentinel://a;[::1]:7000;b:1,[fe80::2]/mm", &s),
		0);
	assert_int_equal(locator_count(s), 4);
	assert_string_equal(locator_host(s, 0), "a");
	assert_int_equal(locator_port(s, 0), SENTINEL_DEFAULT_PORT);
	assert_string_equal(locator_host(s, 1), "::1");
	assert_int_equal(locator_port(s, 1), 7000);
	assert_string_equal(locator_host(s, 2), "b");
	assert_int_equal(locator_port(s, 2), 1);
	assert_string_equal(locator_host(s, 3), "fe80::2");
	assert_int_equal(locator_port(s, 3), SENTINEL_DEFAULT_PORT);
	locator_free(s);

	locator_free(NULL);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"redis://h:6379",
		"sentinel://",
		"sentinel://h",          /* no master */
		"sentinel://h/",         /* empty master */
		"sentinel:///m",         /* no sentinel */
		"sentinel://h:/m",       /* empty port */
		"sentinel://h:0/m",
		"sentinel://h:65536/m",
		"sentinel://h:12x/m",
		"sentinel://h:1:2/m",    /* IPv6 needs brackets */
		"sentinel://h,/m",       /* trailing separator */
		"sentinel://,h/m",       /* empty sentinel */
		"sentinel://a,,b/m",
		"sentinel://[::1/m",
		"sentinel://[::1]x/m",
		"sentinel://[]/m",
		"sentinel://u:p@h/m",    /* no credentials in the URL */
		"sentinel://h/m x",      /* space in the master name */
		"sentinel://h/m/",       /* empty db */
		"sentinel://h/m/x",
		"sentinel://h/m/-1",
		"sentinel://h/m/1001",
		"sentinel://h/m/1/2",
		"sentinel://1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17/m",
	};
	char longname[160];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct locator *s = NULL;
		int err = locator_new(bad[i], &s);

		if (err != -EINVAL)
			fail_msg("'%s' gave %d, not -EINVAL", bad[i], err);
		assert_null(s);
	}
	memset(longname, 'x', sizeof(longname));
	memcpy(longname, "sentinel://h/", 13);
	longname[sizeof(longname) - 1] = '\0';
	{
		struct locator *s = NULL;

		assert_int_equal(locator_new(longname, &s), -EINVAL);
	}
}

/* ---- against processes ----------------------------------------------- */

/* A loopback port nothing listens on right now. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

struct round {
	int calls;
	int err;
	char host[64];
	int port;
};

static void on_round(void *arg, int err, const char *host, int port)
{
	struct round *r = arg;

	r->calls++;
	r->err = err;
	snprintf(r->host, sizeof(r->host), "%s", host ? host : "");
	r->port = port;
}

static void run_until(struct event_base *base, const int *calls, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (*calls == 0) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
			    (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    ms)
			break;
		usleep(1000);
	}
}

static void test_nobody_answers(void **state)
{
	struct event_base *base = event_base_new();
	struct locator *s = NULL;
	struct round r = {0};
	char url[128], why[256];
	char *host = NULL;
	int port = 0;

	(void)state;
	snprintf(url, sizeof(url), "sentinel://127.0.0.1:%d,127.0.0.1:%d/m",
		 free_port(), free_port());
	assert_int_equal(locator_new(url, &s), 0);
	assert_int_equal(locator_resolve(s, 300, &host, &port, why,
					  sizeof(why)),
			 -EHOSTUNREACH);
	assert_null(host);
	assert_non_null(strstr(why, "sentinel 127.0.0.1:"));

	assert_int_equal(locator_ask(s), -EINVAL); /* not attached */
	assert_int_equal(locator_attach(s, base, 300, on_round, &r), 0);
	assert_int_equal(locator_ask(s), 0);
	assert_int_equal(r.calls, 0); /* never inside locator_ask() */
	assert_int_equal(locator_ask(s), -EALREADY);
	run_until(base, &r.calls, 3000);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, -EHOSTUNREACH);
	/* a new round may start; free it while under way */
	assert_int_equal(locator_ask(s), 0);
	locator_free(s);
	event_base_free(base);
	assert_int_equal(r.calls, 1);
}

struct procs {
	char dir[64];
	pid_t redis, sentinel, other;
	int redis_port, locator_port, other_port;
};

static bool have_redis(void)
{
	return system("command -v redis-server >/dev/null 2>&1") == 0;
}

static void wait_ping(int port)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd),
		 "redis-cli -p %d ping 2>/dev/null | grep -q PONG", port);
	for (int i = 0; i < 200; i++) {
		if (system(cmd) == 0)
			return;
		usleep(25000);
	}
	fail_msg("nothing answers on port %d", port);
}

/* A redis-server on a free loopback port, logging into `dir`. */
static pid_t redis_start(const char *dir, int *port_out)
{
	char port[16], log[32];
	pid_t pid;

	*port_out = free_port();
	snprintf(port, sizeof(port), "%d", *port_out);
	snprintf(log, sizeof(log), "redis-%d.log", *port_out);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execlp("redis-server", "redis-server", "--port", port,
		       "--bind", "127.0.0.1", "--save", "", "--appendonly",
		       "no", "--dir", dir, "--logfile", log, (char *)NULL);
		_exit(127);
	}
	wait_ping(*port_out);
	return pid;
}

static int procs_start(void **state)
{
	struct procs *p = calloc(1, sizeof(*p));
	char conf[128];
	FILE *f;

	assert_non_null(p);
	*state = p;
	if (!have_redis())
		return 0;
	snprintf(p->dir, sizeof(p->dir), "/tmp/lockfs-test-sentinel-XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	p->redis = redis_start(p->dir, &p->redis_port);
	p->locator_port = free_port();
	snprintf(conf, sizeof(conf), "%s/sentinel.conf", p->dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f,
		"port %d\nbind 127.0.0.1\ndir %s\nlogfile sentinel.log\n"
		"sentinel monitor mm 127.0.0.1 %d 1\n",
		p->locator_port, p->dir, p->redis_port);
	fclose(f);
	p->sentinel = fork();
	assert_true(p->sentinel >= 0);
	if (p->sentinel == 0) {
		execlp("redis-server", "redis-server", conf, "--sentinel",
		       (char *)NULL);
		_exit(127);
	}
	wait_ping(p->locator_port);
	return 0;
}

static int procs_stop(void **state)
{
	struct procs *p = *state;
	char cmd[128];

	if (p->sentinel > 0) {
		kill(p->sentinel, SIGKILL);
		waitpid(p->sentinel, NULL, 0);
	}
	if (p->redis > 0) {
		kill(p->redis, SIGKILL);
		waitpid(p->redis, NULL, 0);
	}
	if (p->other > 0) {
		kill(p->other, SIGKILL);
		waitpid(p->other, NULL, 0);
	}
	if (p->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", p->dir);
	}
	free(p);
	return 0;
}

static void test_sentinel_names_the_master(void **state)
{
	struct procs *p = *state;
	struct event_base *base;
	struct locator *s = NULL;
	struct round r = {0};
	char url[160], why[256];
	char *host = NULL;
	int port = 0;

	if (p->redis == 0)
		skip();
	/* the first sentinel is not there: the second one answers */
	snprintf(url, sizeof(url), "sentinel://127.0.0.1:%d,127.0.0.1:%d/mm",
		 free_port(), p->locator_port);
	assert_int_equal(locator_new(url, &s), 0);
	assert_int_equal(locator_resolve(s, 1000, &host, &port, why,
					  sizeof(why)),
			 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, p->redis_port);
	free(host);

	base = event_base_new();
	assert_int_equal(locator_attach(s, base, 500, on_round, &r), 0);
	for (int i = 0; i < 3; i++) { /* the connection is kept and reused */
		memset(&r, 0, sizeof(r));
		assert_int_equal(locator_ask(s), 0);
		run_until(base, &r.calls, 3000);
		assert_int_equal(r.calls, 1);
		assert_int_equal(r.err, 0);
		assert_string_equal(r.host, "127.0.0.1");
		assert_int_equal(r.port, p->redis_port);
	}
	locator_free(s);

	/* a name the sentinel does not watch */
	snprintf(url, sizeof(url), "sentinel://127.0.0.1:%d/other",
		 p->locator_port);
	assert_int_equal(locator_new(url, &s), 0);
	assert_int_equal(locator_resolve(s, 1000, &host, &port, why,
					  sizeof(why)),
			 -EHOSTUNREACH);
	assert_non_null(strstr(why, "does not know the master"));
	memset(&r, 0, sizeof(r));
	assert_int_equal(locator_attach(s, base, 500, on_round, &r), 0);
	assert_int_equal(locator_ask(s), 0);
	run_until(base, &r.calls, 3000);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, -EHOSTUNREACH);
	locator_free(s);
	event_base_free(base);
}

struct seen {
	bool done;
	int err;
	enum store_kind kind;
};

static void record(void *arg, const struct store_result *res)
{
	struct seen *s = arg;

	s->done = true;
	s->err = res->err;
	s->kind = res->kind;
}

/* The store through a sentinel URL: probe, connect, answer. */
static void test_store_through_sentinel(void **state)
{
	struct procs *p = *state;
	struct store_config cfg = {.prefix = "ts", .backend_timeout_ms = 3000};
	struct event_base *base;
	struct store *st = NULL;
	struct seen s = {0};
	char url[160], why[256];
	int calls = 0;

	if (p->redis == 0)
		skip();
	snprintf(url, sizeof(url), "sentinel://127.0.0.1:%d/mm",
		 p->locator_port);
	cfg.url = url;
	assert_int_equal(store_probe(&cfg, why, sizeof(why)), 0);
	base = event_base_new();
	assert_int_equal(store_new(base, &cfg, &st), 0);
	assert_int_equal(store_stat(st, "", record, &s), 0);
	for (int i = 0; i < 3000 && !s.done; i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_true(s.done);
	assert_int_equal(s.err, 0);
	assert_true(store_connected(st));
	/* the watch runs and keeps the connection where it is */
	run_until(base, &calls, 2500);
	assert_true(store_connected(st));
	store_free(st);
	event_base_free(base);

	/* a master name nobody knows: the probe says so */
	snprintf(url, sizeof(url), "sentinel://127.0.0.1:%d/nope",
		 p->locator_port);
	assert_int_equal(store_probe(&cfg, why, sizeof(why)), -EHOSTUNREACH);
	assert_non_null(strstr(why, "master 'nope'"));
	/* a bad URL */
	cfg.url = "sentinel://h:0/m";
	assert_int_equal(store_probe(&cfg, why, sizeof(why)), -EINVAL);
}

static void redis_cli(int port, const char *args)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "redis-cli -p %d %s >/dev/null", port, args);
	assert_int_equal(system(cmd), 0);
}

static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void run_store_until(struct event_base *base, const bool *done,
			    int ms)
{
	int64_t end = mono_ms() + ms;

	while (!*done && mono_ms() < end) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

static struct seen acquire_once(struct event_base *base, struct store *st,
				const char *path)
{
	struct store_holder h = {
		.id = "o1", .node = "n1", .uid = 0, .gid = 0, .pid = 1,
		.session = 1, .kind = HOLDER_LEASE,
		.mode = LOCK_MODE_EXCLUSIVE, .ttl_ms = 60000,
		.keepalive = KEEPALIVE_OFF,
	};
	struct seen s = {0};
	int rc = store_acquire(st, path, &h, false, NULL, record, &s);

	if (rc < 0) { /* at once, while the store counts Redis as away */
		assert_int_equal(rc, -EIO);
		s.err = rc;
		run_store_until(base, &s.done, 100);
		return s;
	}
	run_store_until(base, &s.done, 10000);
	assert_true(s.done);
	return s;
}

/*
 * The master demoted behind the sentinels' back: a write gets -READONLY,
 * the store drops the connection, asks again, finds a replica where the
 * sentinels point (ROLE), and keeps the call queued until its deadline:
 * EIO in time, nothing written.  Once the server is a master again, the
 * store is back by itself.
 */
static void test_store_readonly_master(void **state)
{
	struct procs *p = *state;
	struct store_config cfg = {.prefix = "ro", .backend_timeout_ms = 1500};
	struct event_base *base;
	struct store *st = NULL;
	struct seen s;
	char url[160], why[256], args[64];
	int64_t t0;

	if (p->redis == 0)
		skip();
	p->other = redis_start(p->dir, &p->other_port);
	snprintf(url, sizeof(url), "sentinel://127.0.0.1:%d/mm",
		 p->locator_port);
	cfg.url = url;
	assert_int_equal(store_probe(&cfg, why, sizeof(why)), 0);
	base = event_base_new();
	assert_int_equal(store_new(base, &cfg, &st), 0);
	s = acquire_once(base, st, "a");
	assert_int_equal(s.err, 0);

	snprintf(args, sizeof(args), "REPLICAOF 127.0.0.1 %d", p->other_port);
	redis_cli(p->redis_port, args);
	t0 = mono_ms();
	s = acquire_once(base, st, "b");
	assert_int_equal(s.err, -EIO);
	assert_true(mono_ms() - t0 < 1500 + 500);
	assert_false(store_connected(st)); /* it will not use a replica */

	redis_cli(p->redis_port, "REPLICAOF NO ONE");
	/* queued until reconnected (the backoff may outlast one deadline),
	 * or refused at once until the store sees the master answer */
	for (int i = 0; i < 60; i++) {
		s = acquire_once(base, st, "c");
		if (s.err != -EIO)
			break;
	}
	assert_int_equal(s.err, 0);
	assert_true(store_connected(st));
	store_free(st);
	event_base_free(base);
}

/* cluster:// URLs, and the slot of a key as Redis Cluster computes it. */
static void test_cluster_urls_and_slots(void **state)
{
	struct locator *l = NULL;

	(void)state;
	assert_true(locator_is_url("cluster://h"));
	assert_int_equal(locator_new("cluster://h1:7000,h2", &l), 0);
	assert_true(locator_is_cluster(l));
	assert_int_equal(locator_count(l), 2);
	assert_int_equal(locator_port(l, 0), 7000);
	assert_int_equal(locator_port(l, 1), 6379);
	assert_int_equal(locator_db(l), 0);
	assert_int_equal(locator_set_slot(l, 42), 0);
	assert_string_equal(locator_master_name(l), "slot 42");
	locator_free(l);
	l = NULL;
	assert_int_equal(locator_new("cluster://", &l), -EINVAL);
	assert_int_equal(locator_new("cluster://h/m", &l), -EINVAL);
	assert_int_equal(locator_new("cluster://h:0", &l), -EINVAL);
	/* the values CLUSTER KEYSLOT gives */
	assert_int_equal(locator_key_slot("foo", 3), 12182);
	assert_int_equal(locator_key_slot("123456789", 9), 12739);
	assert_int_equal(locator_key_slot("{foo}:l:x", 9), 12182);
	/* an empty tag counts for nothing: the whole key is hashed */
	assert_int_not_equal(locator_key_slot("{}foo", 5), 12182);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_url),
		cmocka_unit_test(test_cluster_urls_and_slots),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_nobody_answers),
		cmocka_unit_test_setup_teardown(test_sentinel_names_the_master,
						procs_start, procs_stop),
		cmocka_unit_test_setup_teardown(test_store_through_sentinel,
						procs_start, procs_stop),
		cmocka_unit_test_setup_teardown(test_store_readonly_master,
						procs_start, procs_stop),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
