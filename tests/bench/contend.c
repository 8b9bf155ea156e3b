/*
 * contend.c - the client of the contended measure: many owners on several
 * nodes fight over one lock with blocking opens.
 *
 *   contend SECONDS HOLD_US LOCKPATH [LOCKPATH ...]
 *
 * Each LOCKPATH is the same lock seen through another mount (another node).
 * Eight processes per path, each in a session of its own (the README:
 * another owner, so its blocking open waits instead of renewing), loop:
 * open(path, O_CREAT|O_WRONLY) blocks until granted; hold HOLD_US; unlink
 * (the release); close.  Every grant is recorded, with the time its request
 * started waiting, in an array shared by all processes.  After SECONDS a
 * repeating SIGALRM interrupts the opens still waiting (EINTR withdraws
 * them); grants after the deadline are released but not counted.  Prints:
 *
 *   name=contend procs=P seconds=S grants=G grants_per_s=.. fifo_inversions=K
 *   max_wait_ms=.. p50_wait_ms=.. p99_wait_ms=.. max_unserved_ms=..
 *
 * on one line.  A FIFO inversion is a pair of grants where A started waiting
 * more than 5 ms before B but B was granted first; informative only.
 * max_unserved_ms is the longest wait still unserved at the deadline.  Times
 * are on CLOCK_MONOTONIC.  A failed call (other than the final EINTR) stops
 * that process with a message; the line is still printed, then exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

#define PROCS_PER_PATH 8
#define MAX_GRANTS (1L << 21)
#define INVERSION_NS (5 * 1000000LL)
#define ALARM_REPEAT_US 10000
#define GRACE_S 30

struct grant {
	int64_t start_ns; /* the open that got it was called */
	int64_t grant_ns; /* that open returned */
	int32_t pid;
	uint32_t rank; /* analysis only: 1-based rank by grant_ns */
};

/* The mapping shared by the parent and every contender. */
struct shared {
	atomic_long next;      /* grants taken, recorded or not */
	int64_t unserved_ns[]; /* per process: wait cut by deadline */
};

struct run {
	int64_t seconds;
	int64_t hold_us;
	long procs;
	struct shared *sh;
	struct grant *grants; /* MAX_GRANTS, shared */
	int ready_fd;	      /* write one byte when set up */
	int go_fd;	      /* EOF: start */
};

static void on_alarm(int sig)
{
	/* Only there so that SIGALRM interrupts open() instead of killing. */
}

static void sleep_us(int64_t us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void fail(const char *what, const char *path)
{
	fprintf(stderr, "contend[%d]: %s %s: %s\n", (int)getpid(), what, path,
		strerror(errno));
}

/*
 * A session of our own, SIGALRM that interrupts, then the common start.
 * The ready pipe is closed once written, so that a process that died before
 * writing shows up as EOF to the parent.
 */
static int set_up(const struct run *r)
{
	struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
	char b = 'r';
	ssize_t w;

	if (setsid() < 0 || sigaction(SIGALRM, &sa, NULL) != 0) {
		fail("set up", "");
		return -1;
	}
	w = write(r->ready_fd, &b, 1);
	close(r->ready_fd);
	if (w != 1 || read(r->go_fd, &b, 1) != 0) {
		fail("start", "");
		return -1;
	}
	return 0;
}

/* The first SIGALRM at @seconds, then one every ALARM_REPEAT_US. */
static int arm(int64_t seconds)
{
	struct itimerval it = {{0, ALARM_REPEAT_US}, {seconds, 0}};

	return setitimer(ITIMER_REAL, &it, NULL);
}

static void record(struct run *r, int64_t start, int64_t granted)
{
	long i = atomic_fetch_add(&r->sh->next, 1);

	if (i >= MAX_GRANTS)
		return;
	r->grants[i].start_ns = start;
	r->grants[i].grant_ns = granted;
	r->grants[i].pid = (int32_t)getpid();
}

/*
 * Holds the lock on @path that @fd took, then releases it: unlink, close.
 * SIGALRM is blocked meanwhile, so that the deadline never interrupts a
 * release (it is delivered, harmlessly, when unblocked).
 */
static int hold_and_release(const struct run *r, const char *path, int fd)
{
	sigset_t alrm, old;
	int ret = 0;

	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, &old);
	if (r->hold_us > 0)
		sleep_us(r->hold_us);
	if (unlink(path) != 0) {
		fail("unlink", path);
		ret = -1;
	}
	if (close(fd) != 0 && ret == 0) {
		fail("close", path);
		ret = -1;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* The body of contender @idx on @path; its exit status. */
static int contender(struct run *r, long idx, const char *path)
{
	int64_t deadline, start, granted;
	int fd;

	if (set_up(r) != 0)
		return 1;
	deadline = now_ns() + r->seconds * 1000000000;
	if (arm(r->seconds) != 0) {
		fail("setitimer", "");
		return 1;
	}
	while ((start = now_ns()) < deadline) {
		fd = open(path, O_CREAT | O_WRONLY, 0644);
		granted = now_ns();
		if (fd < 0 && errno == EINTR && granted >= deadline) {
			r->sh->unserved_ns[idx] = deadline - start;
			break;
		}
		if (fd < 0 && errno == EINTR)
			continue; /* not ours: the wait was withdrawn */
		if (fd < 0) {
			fail("open", path);
			return 1;
		}
		if (granted < deadline)
			record(r, start, granted);
		if (hold_and_release(r, path, fd) != 0)
			return 1;
	}
	return 0;
}

static int spawn(struct run *r, char **paths, pid_t *pids, int go_wr,
		 int ready_rd)
{
	for (long i = 0; i < r->procs; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			fail("fork", "");
			return -1;
		}
		if (pids[i] == 0) {
			close(go_wr);
			close(ready_rd);
			_exit(contender(r, i, paths[i / PROCS_PER_PATH]));
		}
	}
	return 0;
}

/*
 * Reaps the contenders, killing those still there @grace_s seconds after
 * the deadline (a wait that ignored the signal).  How many failed.
 */
static long reap(pid_t *pids, long procs, int64_t until_ns)
{
	long left = procs, failed = 0;
	int status;

	for (long i = 0; i < procs; i++)
		if (pids[i] <= 0)
			left--;
	while (left > 0) {
		for (long i = 0; i < procs; i++) {
			if (pids[i] <= 0 ||
			    waitpid(pids[i], &status, WNOHANG) != pids[i])
				continue;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				failed++;
			pids[i] = 0;
			left--;
		}
		if (left > 0 && now_ns() > until_ns) {
			for (long i = 0; i < procs; i++)
				if (pids[i] > 0)
					kill(pids[i], SIGKILL);
			fprintf(stderr, "contend: killed %ld stuck processes\n",
				left);
			until_ns = INT64_MAX;
		}
		if (left > 0)
			sleep_us(10000);
	}
	return failed;
}

static int by_grant(const void *a, const void *b)
{
	int64_t x = ((const struct grant *)a)->grant_ns;
	int64_t y = ((const struct grant *)b)->grant_ns;

	return (x > y) - (x < y);
}

static int by_start(const void *a, const void *b)
{
	int64_t x = ((const struct grant *)a)->start_ns;
	int64_t y = ((const struct grant *)b)->start_ns;

	return (x > y) - (x < y);
}

/*
 * Pairs (A, B) with A.start + 5 ms < B.start and B.grant < A.grant, in
 * O(n log n): sweep B by start, add each A that started early enough to a
 * Fenwick tree over grant ranks, count those added that were granted later.
 * Sorts @g by start; -1 when out of memory.
 */
static long long inversions(struct grant *g, long n)
{
	uint32_t *tree = calloc(n + 1, sizeof(*tree));
	long long count = 0;
	long added = 0;

	if (tree == NULL)
		return -1;
	qsort(g, n, sizeof(*g), by_grant);
	for (long i = 0; i < n; i++)
		g[i].rank = (uint32_t)(i + 1);
	qsort(g, n, sizeof(*g), by_start);
	for (long b = 0; b < n; b++) {
		long below = 0;

		for (; added < n &&
		       g[added].start_ns + INVERSION_NS < g[b].start_ns;
		     added++)
			for (long k = g[added].rank; k <= n; k += k & -k)
				tree[k]++;
		for (long k = g[b].rank; k > 0; k -= k & -k)
			below += tree[k];
		count += added - below;
	}
	free(tree);
	return count;
}

static double pct_ms(const int64_t *v, long n, double p)
{
	long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);

	return n > 0 ? (double)v[i < n ? i : n - 1] / 1e6 : 0.0;
}

static int report(const struct run *r)
{
	long taken = atomic_load(&r->sh->next);
	long n = taken < MAX_GRANTS ? taken : MAX_GRANTS;
	int64_t *waits = malloc((n + 1) * sizeof(*waits)), unserved = 0;
	long long inv;

	if (waits == NULL)
		return -1;
	for (long i = 0; i < n; i++)
		waits[i] = r->grants[i].grant_ns - r->grants[i].start_ns;
	qsort(waits, n, sizeof(*waits), cmp_i64);
	for (long i = 0; i < r->procs; i++)
		if (r->sh->unserved_ns[i] > unserved)
			unserved = r->sh->unserved_ns[i];
	inv = inversions(r->grants, n);
	if (taken > n)
		fprintf(stderr, "contend: only the first %ld grants analysed\n",
			n);
	printf("name=contend procs=%ld seconds=%ld grants=%ld grants_per_s=%.1f"
	       " fifo_inversions=%lld max_wait_ms=%.2f p50_wait_ms=%.2f"
	       " p99_wait_ms=%.2f max_unserved_ms=%.2f\n",
	       r->procs, (long)r->seconds, taken,
	       (double)taken / (double)r->seconds, inv,
	       n > 0 ? (double)waits[n - 1] / 1e6 : 0.0, pct_ms(waits, n, 50),
	       pct_ms(waits, n, 99), (double)unserved / 1e6);
	free(waits);
	return inv < 0 ? -1 : 0;
}

static void *shared_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int run(struct run *r, char **paths)
{
	size_t sh_size = sizeof(*r->sh) + r->procs * sizeof(int64_t);
	size_t g_size = MAX_GRANTS * sizeof(*r->grants);
	int go[2] = {-1, -1}, ready[2] = {-1, -1};
	pid_t *pids = calloc(r->procs, sizeof(*pids));
	int ret = 1;

	r->sh = shared_map(sh_size);
	r->grants = shared_map(g_size);
	if (pids == NULL || r->sh == NULL || r->grants == NULL ||
	    pipe(go) != 0 || pipe(ready) != 0) {
		fail("set up", "");
		goto out;
	}
	r->go_fd = go[0];
	r->ready_fd = ready[1];
	if (spawn(r, paths, pids, go[1], ready[0]) != 0)
		goto out_start;
	close(ready[1]);
	ready[1] = -1;
	if (await_ready(ready[0], r->procs) != 0) {
		fprintf(stderr, "contend: a process failed to start\n");
		goto out_start;
	}
	ret = 0;
out_start:
	close(go[1]); /* go, or (after a failure) let everyone finish */
	go[1] = -1;
	if (reap(pids, r->procs,
		 now_ns() + (r->seconds + GRACE_S) * 1000000000) != 0) {
		fprintf(stderr, "contend: some processes failed\n");
		ret = 1;
	}
	if (report(r) != 0) {
		fprintf(stderr, "contend: out of memory\n");
		ret = 1;
	}
out:
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (ready[i] >= 0)
			close(ready[i]);
	}
	if (r->grants != NULL)
		munmap(r->grants, g_size);
	if (r->sh != NULL)
		munmap(r->sh, sh_size);
	free(pids);
	return ret;
}

/* A number >= @min from @s, or -1. */
static long number(const char *s, long min)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *end == '\0' && end != s && v >= min ? v : -1;
}

int main(int argc, char *argv[])
{
	struct run r = {0};

	if (argc < 4 || (r.seconds = number(argv[1], 1)) < 0 ||
	    (r.hold_us = number(argv[2], 0)) < 0) {
		fprintf(
		    stderr,
		    "usage: contend SECONDS HOLD_US LOCKPATH [LOCKPATH ...]\n");
		return 2;
	}
	r.procs = (long)(argc - 3) * PROCS_PER_PATH;
	return run(&r, argv + 3);
}
