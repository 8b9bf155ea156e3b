/*
 * duration.h - lease lengths as users write them ("500ms", "30s", "5m",
 * "24h", "1h30m", "1.5s", "2d") and as lockfs prints them.
 *
 * Pure functions, no state.
 */
#ifndef LOCKFS_DURATION_H
#define LOCKFS_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Bounds accepted for a lease TTL: 100 ms .. 30 days. */
#define DURATION_TTL_MIN_MS 100
#define DURATION_TTL_MAX_MS (30LL * 24 * 3600 * 1000)

/*
 * Parse `len` bytes of `s`: one or more <number><unit> terms, unit one of
 * ms, s, m, h, d; a number may have a decimal fraction ("1.5s"); a lone
 * number without unit means seconds ("30").  No spaces, no sign.  The result,
 * in milliseconds, must be a whole number of ms and fit in int64.  Returns 0
 * and sets `*ms`, or -EINVAL.
 */
int duration_parse(const char *s, size_t len, int64_t *ms);

/* Like duration_parse, then checks the TTL bounds (-EINVAL outside). */
int duration_parse_ttl(const char *s, size_t len, int64_t *ms);

/*
 * Format `ms` the short way ("500ms", "15s", "5m", "1h30m", "1m0.5s" is
 * never produced: a value that is not a whole number of seconds prints as
 * "1500ms").  Writes at most `size` bytes including the NUL; returns 0 or
 * -ENOSPC.
 */
int duration_format(int64_t ms, char *buf, size_t size);

#endif
