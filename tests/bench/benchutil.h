/*
 * benchutil.h - the few helpers every benchmark tool shares: a monotonic
 * clock, sorting and nearest-rank percentiles of latencies, and waiting
 * for forked workers to say they are ready.
 */
#ifndef LOCKFS_BENCHUTIL_H
#define LOCKFS_BENCHUTIL_H

#include <stdint.h>
#include <time.h>
#include <unistd.h>

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank on the sorted @v (ns), in µs, as handoff.py does it. */
static inline double pct_us(const int64_t *v, long n, double p)
{
	long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);

	return (double)v[i < n ? i : n - 1] / 1000.0;
}

/* Wait for a ready byte from each of @procs workers; -1 if one died first. */
static inline int await_ready(int ready_rd, long procs)
{
	char b;

	for (long i = 0; i < procs; i++)
		if (read(ready_rd, &b, 1) != 1)
			return -1;
	return 0;
}

#endif
