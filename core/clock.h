/*
 * clock.h - the two clocks lockfs reads, in milliseconds: the monotonic
 * one for local intervals (timers, ages, deadlines) and the wall clock for
 * times shown to users (status, events).  Expiry never uses either: it
 * follows the Redis clock.
 */
#ifndef LOCKFS_CLOCK_H
#define LOCKFS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static inline int64_t wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

/* The monotonic clock in nanoseconds, and in seconds, for durations. */
static inline int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline double mono_s(void)
{
	return mono_ns() / 1e9;
}

#endif
