/*
 * redis_floor.c - what the same work costs done straight against Redis with
 * hiredis (synchronous API), for the benchmarks to divide by:
 *
 *   redis_floor ping HOST PORT N
 *       N PING round trips
 *       -> name=ping n=N p50_us=.. p99_us=.. mean_us=..
 *   redis_floor cycle HOST PORT N
 *       N times SET key val NX PX 30000 + DEL key, one lock cycle each
 *       -> name=redis_cycle n=N p50_us=.. p99_us=.. mean_us=..
 *   redis_floor contend HOST PORT PROCS SECONDS HOLD_US
 *       PROCS processes fight over one lock for SECONDS the way client
 *       libraries do it: SET NX PX; on failure wait for a "released" message
 *       on a channel (subscribed once, on a second connection) for at most
 *       50 ms, then retry; hold HOLD_US; release with a compare-and-delete
 *       script that also publishes
 *       -> name=redis_contend procs=P seconds=S grants=G grants_per_s=..
 *
 * Times are on CLOCK_MONOTONIC.  Keys carry the parent's pid, so runs can
 * share a server; the contend keys expire by themselves if a run dies.  Any
 * Redis error stops the run with a message and exit status 1.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

#define WAIT_MS 50

static const char release_lua[] =
    "if redis.call('get',KEYS[1])==ARGV[1] then "
    "redis.call('del',KEYS[1]) redis.call('publish',KEYS[2],'r') end";

static void print_stats(const char *name, int64_t *v, long n)
{
	double sum = 0;

	qsort(v, n, sizeof(*v), cmp_i64);
	for (long i = 0; i < n; i++)
		sum += (double)v[i];
	printf("name=%s n=%ld p50_us=%.1f p99_us=%.1f mean_us=%.1f\n", name, n,
	       pct_us(v, n, 50), pct_us(v, n, 99), sum / (double)n / 1000.0);
}

static redisContext *connect_to(const char *host, int port)
{
	redisContext *c = redisConnect(host, port);

	if (c == NULL) {
		fprintf(stderr, "redis_floor: connect %s:%d: out of memory\n",
			host, port);
		return NULL;
	}
	if (c->err) {
		fprintf(stderr, "redis_floor: connect %s:%d: %s\n", host, port,
			c->errstr);
		redisFree(c);
		return NULL;
	}
	return c;
}

/*
 * Checks the reply @r of @what on @c: NULL (connection error) and error
 * replies are reported; otherwise 0 and, if @type is not 0, whether the
 * reply has that type (1) or not (0).  Frees @r in every case.
 */
static int check_reply(redisContext *c, redisReply *r, const char *what,
		       int type)
{
	int ret = 1;

	if (r == NULL) {
		fprintf(stderr, "redis_floor: %s: %s\n", what, c->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "redis_floor: %s: %s\n", what, r->str);
		ret = -1;
	} else if (type != 0) {
		ret = r->type == type;
	}
	freeReplyObject(r);
	return ret;
}

/* One timed operation of a latency run; 0 or -1. */
typedef int (*op_fn)(redisContext *c, const char *key);

static int op_ping(redisContext *c, const char *key)
{
	return check_reply(c, redisCommand(c, "PING"), "PING",
			   REDIS_REPLY_STATUS) == 1
		   ? 0
		   : -1;
}

static int op_cycle(redisContext *c, const char *key)
{
	if (check_reply(c, redisCommand(c, "SET %s v NX PX 30000", key),
			"SET NX", REDIS_REPLY_STATUS) != 1) {
		fprintf(stderr, "redis_floor: SET NX %s was refused\n", key);
		return -1;
	}
	return check_reply(c, redisCommand(c, "DEL %s", key), "DEL",
			   REDIS_REPLY_INTEGER) == 1
		   ? 0
		   : -1;
}

static int run_latency(const char *name, op_fn op, const char *host, int port,
		       long n)
{
	redisContext *c = NULL;
	int64_t *times = NULL, t0;
	char key[64];
	int ret = 1;

	snprintf(key, sizeof(key), "lockfs-bench:floor:%ld", (long)getpid());
	times = calloc(n, sizeof(*times));
	if (times == NULL) {
		fprintf(stderr, "redis_floor: %s\n", strerror(errno));
		goto out;
	}
	c = connect_to(host, port);
	if (c == NULL)
		goto out;
	for (long i = 0; i < n; i++) {
		t0 = now_ns();
		if (op(c, key) != 0)
			goto out;
		times[i] = now_ns() - t0;
	}
	print_stats(name, times, n);
	ret = 0;
out:
	if (c != NULL)
		redisFree(c);
	free(times);
	return ret;
}

/* What every contender shares: where, how long, and the start signal. */
struct contend {
	const char *host;
	int port;
	int64_t seconds;
	int64_t hold_us;
	char key[64];
	char channel[80];
	int ready_fd; /* write one byte when connected and subscribed */
	int go_fd;    /* EOF: start */
};

static void sleep_us(int64_t us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Waits until a message is available on the subscribed @sub, at most
 * WAIT_MS, and consumes every message already there: any release published
 * after the failed SET that sent us here is either consumed now (and the
 * caller retries after it) or still to come.  0, or -1 on a lost
 * connection.
 */
static int wait_released(redisContext *sub)
{
	struct pollfd pfd = {.fd = sub->fd, .events = POLLIN};
	void *msg = NULL;
	int got = 0;

	for (;;) {
		if (redisGetReplyFromReader(sub, &msg) != REDIS_OK)
			goto lost;
		if (msg != NULL) {
			freeReplyObject(msg);
			got = 1;
			continue;
		}
		if (poll(&pfd, 1, got ? 0 : WAIT_MS) <= 0)
			return 0;
		if (redisBufferRead(sub) != REDIS_OK)
			goto lost;
	}
lost:
	fprintf(stderr, "redis_floor: subscription: %s\n", sub->errstr);
	return -1;
}

static int subscribe(redisContext *sub, const char *channel)
{
	return check_reply(sub, redisCommand(sub, "SUBSCRIBE %s", channel),
			   "SUBSCRIBE", REDIS_REPLY_ARRAY) == 1
		   ? 0
		   : -1;
}

/*
 * Says we are ready and blocks until the parent closes the go pipe.  The
 * ready pipe is closed at once, so that once every live contender has
 * spoken, one that died before speaking shows up as EOF to the parent.
 */
static int start_together(const struct contend *ct)
{
	char b = 'r';
	ssize_t w = write(ct->ready_fd, &b, 1);

	close(ct->ready_fd);
	if (w != 1 || read(ct->go_fd, &b, 1) != 0) {
		fprintf(stderr, "redis_floor: start: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* One try at the lock: 1 granted (held, then released), 0 busy, -1 error. */
static int try_once(redisContext *c, const struct contend *ct,
		    const char *token)
{
	int ok = check_reply(
	    c, redisCommand(c, "SET %s %s NX PX 10000", ct->key, token),
	    "SET NX", REDIS_REPLY_STATUS);

	if (ok != 1)
		return ok;
	if (ct->hold_us > 0)
		sleep_us(ct->hold_us);
	if (check_reply(c,
			redisCommand(c, "EVAL %s 2 %s %s %s", release_lua,
				     ct->key, ct->channel, token),
			"EVAL release", 0) < 0)
		return -1;
	return 1;
}

/* The body of one contender: grants won before the deadline, or -1. */
static long contender(const struct contend *ct, int idx)
{
	redisContext *c = connect_to(ct->host, ct->port);
	redisContext *sub = connect_to(ct->host, ct->port);
	char token[64];
	int64_t deadline;
	long grants = -1, won = 0;
	int r;

	if (c == NULL || sub == NULL || subscribe(sub, ct->channel) != 0 ||
	    start_together(ct) != 0)
		goto out;
	deadline = now_ns() + ct->seconds * 1000000000;
	for (long i = 0; now_ns() < deadline; i++) {
		snprintf(token, sizeof(token), "%d:%d:%ld", idx, (int)getpid(),
			 i);
		r = try_once(c, ct, token);
		if (r < 0)
			goto out;
		if (r == 1)
			won++;
		else if (wait_released(sub) != 0)
			goto out;
	}
	grants = won;
out:
	if (sub != NULL)
		redisFree(sub);
	if (c != NULL)
		redisFree(c);
	return grants;
}

/* Forks @procs contenders; their grant counts land in @counts. */
static int spawn(struct contend *ct, long procs, long *counts, pid_t *pids,
		 int go_wr, int ready_rd)
{
	for (long i = 0; i < procs; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			fprintf(stderr, "redis_floor: fork: %s\n",
				strerror(errno));
			return -1;
		}
		if (pids[i] == 0) {
			close(go_wr);
			close(ready_rd);
			counts[i] = contender(ct, (int)i);
			_exit(counts[i] < 0 ? 1 : 0);
		}
	}
	return 0;
}

static int reap(const pid_t *pids, long procs)
{
	int status, failed = 0;

	for (long i = 0; i < procs; i++) {
		if (pids[i] <= 0)
			continue;
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed++;
	}
	return failed;
}

static int run_contend(const char *host, int port, long procs, int64_t seconds,
		       int64_t hold_us)
{
	struct contend ct = {
	    .host = host, .port = port, .seconds = seconds, .hold_us = hold_us};
	int go[2] = {-1, -1}, ready[2] = {-1, -1};
	pid_t *pids = NULL;
	long *counts = MAP_FAILED, grants = 0;
	int ret = 1;

	snprintf(ct.key, sizeof(ct.key), "lockfs-bench:contend:{%ld}",
		 (long)getpid());
	snprintf(ct.channel, sizeof(ct.channel), "%s:released", ct.key);
	pids = calloc(procs, sizeof(*pids));
	counts = mmap(NULL, procs * sizeof(*counts), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pids == NULL || counts == MAP_FAILED || pipe(go) != 0 ||
	    pipe(ready) != 0) {
		fprintf(stderr, "redis_floor: %s\n", strerror(errno));
		goto out;
	}
	ct.go_fd = go[0];
	ct.ready_fd = ready[1];
	if (spawn(&ct, procs, counts, pids, go[1], ready[0]) != 0)
		goto out_start;
	close(ready[1]);
	ready[1] = -1; /* so a contender that died shows up as EOF */
	if (await_ready(ready[0], procs) != 0) {
		fprintf(stderr, "redis_floor: a contender failed to start\n");
		goto out_start;
	}
	ret = 0;
out_start:
	close(go[1]); /* go, or (after a failure) let everyone finish */
	go[1] = -1;
	if (reap(pids, procs) != 0) {
		fprintf(stderr, "redis_floor: a contender failed\n");
		ret = 1;
	}
	if (ret == 0) {
		for (long i = 0; i < procs; i++)
			grants += counts[i];
		printf("name=redis_contend procs=%ld seconds=%ld grants=%ld "
		       "grants_per_s=%.1f\n",
		       procs, (long)seconds, grants,
		       (double)grants / (double)seconds);
	}
out:
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (ready[i] >= 0)
			close(ready[i]);
	}
	if (counts != MAP_FAILED)
		munmap(counts, procs * sizeof(*counts));
	free(pids);
	return ret;
}

/* A positive number from @s, or -1. */
static long positive(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *end == '\0' && end != s && v > 0 ? v : -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: redis_floor ping HOST PORT N\n"
			"       redis_floor cycle HOST PORT N\n"
			"       redis_floor contend HOST PORT PROCS SECONDS "
			"HOLD_US\n");
	return 2;
}

int main(int argc, char *argv[])
{
	long port, n, secs, hold;

	if (argc < 5)
		return usage();
	port = positive(argv[3]);
	n = positive(argv[4]);
	if (port < 0 || n < 0)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	if (argc == 5 && strcmp(argv[1], "ping") == 0)
		return run_latency("ping", op_ping, argv[2], (int)port, n);
	if (argc == 5 && strcmp(argv[1], "cycle") == 0)
		return run_latency("redis_cycle", op_cycle, argv[2], (int)port,
				   n);
	if (argc != 7 || strcmp(argv[1], "contend") != 0)
		return usage();
	secs = positive(argv[5]);
	hold = strcmp(argv[6], "0") == 0 ? 0 : positive(argv[6]);
	if (secs < 0 || hold < 0)
		return usage();
	return run_contend(argv[2], (int)port, n, secs, hold);
}
