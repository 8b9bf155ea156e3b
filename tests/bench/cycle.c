/*
 * cycle.c - the client of the uncontended measure: one process takes and
 * releases a lock N times, through whatever mount DIR is on (lockfs, or
 * nullfs for the floor).
 *
 *   cycle DIR N            times open(O_CREAT|O_EXCL|O_WRONLY) + close +
 *                          unlink of DIR/cycle-PID, the whole cycle
 *   cycle --acquire DIR N  times only the open + close (the acquire); the
 *                          unlink that releases is not timed
 *
 * Prints one line, times in microseconds on CLOCK_MONOTONIC:
 *
 *   name=cycle dir=DIR n=N p50_us=.. p99_us=.. mean_us=..
 *   name=acquire dir=DIR n=N p50_us=.. p99_us=.. mean_us=..
 *
 * Any failed call stops the run: a message with the errno text on stderr
 * and exit status 1.  A benchmark client: it measures, it does not judge.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

static void print_stats(const char *name, const char *dir, int64_t *v, long n)
{
	double sum = 0;

	qsort(v, n, sizeof(*v), cmp_i64);
	for (long i = 0; i < n; i++)
		sum += (double)v[i];
	printf("name=%s dir=%s n=%ld p50_us=%.1f p99_us=%.1f mean_us=%.1f\n",
	       name, dir, n, pct_us(v, n, 50), pct_us(v, n, 99),
	       sum / (double)n / 1000.0);
}

/*
 * One lock cycle on @path; stores the time it took in *@took (the whole
 * cycle, or only the acquire when @acquire_only).  0 or -1 after printing
 * what failed.
 */
static int one_cycle(const char *path, int acquire_only, int64_t *took)
{
	int64_t t0 = now_ns();
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);

	if (fd < 0) {
		fprintf(stderr, "cycle: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (close(fd) != 0) {
		fprintf(stderr, "cycle: close %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (acquire_only)
		*took = now_ns() - t0;
	if (unlink(path) != 0) {
		fprintf(stderr, "cycle: unlink %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (!acquire_only)
		*took = now_ns() - t0;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: cycle [--acquire] DIR N\n");
	return 2;
}

int main(int argc, char *argv[])
{
	int acquire_only = argc > 1 && strcmp(argv[1], "--acquire") == 0;
	char path[PATH_MAX];
	int64_t *times = NULL;
	const char *dir;
	char *end;
	long n;
	int ret = 1;

	if (argc != 3 + acquire_only)
		return usage();
	dir = argv[1 + acquire_only];
	n = strtol(argv[2 + acquire_only], &end, 10);
	if (*end != '\0' || n <= 0)
		return usage();
	if (snprintf(path, sizeof(path), "%s/cycle-%ld", dir, (long)getpid()) >=
	    (int)sizeof(path)) {
		fprintf(stderr, "cycle: %s: %s\n", dir, strerror(ENAMETOOLONG));
		return 1;
	}
	times = calloc(n, sizeof(*times));
	if (times == NULL) {
		fprintf(stderr, "cycle: %s\n", strerror(errno));
		goto out;
	}
	for (long i = 0; i < n; i++)
		if (one_cycle(path, acquire_only, &times[i]) != 0)
			goto out;
	print_stats(acquire_only ? "acquire" : "cycle", dir, times, n);
	ret = 0;
out:
	free(times);
	return ret;
}
