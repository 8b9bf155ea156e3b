/*
 * duration.c - parsing and printing of durations (see duration.h).
 *
 * Values are kept in integer milliseconds; a fraction is accepted only when
 * it comes out as a whole number of milliseconds, so "1.5s" is 1500 ms and
 * "1.0001ms" is refused rather than rounded.
 */
#include "duration.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int64_t ms;
} units[] = {
	{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
};

/* Parse one unit at `s` (longest match: "ms" before "m"). */
static int64_t unit_at(const char *s, size_t len, size_t *used)
{
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t n = strlen(units[i].name);

		if (n <= len && memcmp(s, units[i].name, n) == 0 &&
		    !(n == 1 && units[i].name[0] == 'm' && len >= 2 &&
		      s[1] == 's')) {
			*used = n;
			return units[i].ms;
		}
	}
	return 0;
}

int duration_parse(const char *s, size_t len, int64_t *ms)
{
	int64_t total = 0;
	size_t i = 0;
	bool any = false;

	while (i < len) {
		int64_t whole = 0, frac = 0, frac_scale = 1, unit, value;
		size_t digits = 0, used = 0;

		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (whole > INT64_MAX / 10 - 10)
				return -EINVAL;
			whole = whole * 10 + (s[i++] - '0');
			digits++;
		}
		if (i < len && s[i] == '.') {
			i++;
			while (i < len && s[i] >= '0' && s[i] <= '9') {
				if (frac_scale > 1000000000LL)
					return -EINVAL;
				frac = frac * 10 + (s[i++] - '0');
				frac_scale *= 10;
				digits++;
			}
		}
		if (digits == 0)
			return -EINVAL;
		if (i == len) {
			/* a lone number means seconds; not after a unit */
			if (any)
				return -EINVAL;
			unit = 1000;
		} else {
			unit = unit_at(s + i, len - i, &used);
			if (unit == 0)
				return -EINVAL;
			i += used;
		}
		if (whole > INT64_MAX / unit)
			return -EINVAL;
		value = whole * unit;
		if ((frac * unit) % frac_scale != 0)
			return -EINVAL;
		if (value > INT64_MAX - frac * unit / frac_scale)
			return -EINVAL;
		value += frac * unit / frac_scale;
		if (total > INT64_MAX - value)
			return -EINVAL;
		total += value;
		any = true;
	}
	if (!any)
		return -EINVAL;
	*ms = total;
	return 0;
}

int duration_parse_ttl(const char *s, size_t len, int64_t *ms)
{
	int64_t v;
	int err = duration_parse(s, len, &v);

	if (err < 0)
		return err;
	if (v < DURATION_TTL_MIN_MS || v > DURATION_TTL_MAX_MS)
		return -EINVAL;
	*ms = v;
	return 0;
}

int duration_format(int64_t ms, char *buf, size_t size)
{
	char out[64];
	size_t n = 0;

	if (ms % 1000 != 0 || ms == 0) {
		n = snprintf(out, sizeof(out), "%lldms", (long long)ms);
	} else {
		int64_t s = ms / 1000;
		int64_t h = s / 3600, m = (s % 3600) / 60, sec = s % 60;

		if (h)
			n += snprintf(out + n, sizeof(out) - n, "%lldh",
				      (long long)h);
		if (m)
			n += snprintf(out + n, sizeof(out) - n, "%lldm",
				      (long long)m);
		if (sec)
			n += snprintf(out + n, sizeof(out) - n, "%llds",
				      (long long)sec);
	}
	if (n + 1 > size)
		return -ENOSPC;
	memcpy(buf, out, n + 1);
	return 0;
}
