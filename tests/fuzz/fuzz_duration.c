/*
 * fuzz_duration.c - libFuzzer target for core/duration.c.
 *
 * The input is a duration as a user writes it ("1h30m", "1.5s").  A model
 * of the grammar in duration.h, computed exactly in 128-bit integers,
 * says what it is worth: every value duration_parse() accepts must be that
 * value (a whole number of ms, 0 .. INT64_MAX), and every value the model
 * finds valid must be accepted unless it uses numbers past the working
 * range granted here to the parser's conservative overflow guards
 * (integer parts of 10^18 or more, fractions of more than 10 digits).
 * duration_parse_ttl() must agree with the TTL bounds, and what
 * duration_format() prints must parse back to the same value (inside that
 * range).  The first 8 bytes of the input, as an int64, are also formatted
 * into buffers of every size, which must never be overrun, and turned
 * with the bytes after them into one more duration to parse (see
 * check_built()).
 */
#include <errno.h>
#include <stdbool.h>

#include "duration.h"
#include "fuzz.h"

#define WHOLE_LIMIT 1000000000000000000LL /* 10^18 */
#define FRAC_DIGITS_LIMIT 10

/*
 * The model.  Returns 1 and sets `*ms` for a valid duration, 0 for one
 * that is invalid by the grammar or not a whole number of ms or past
 * INT64_MAX.  `*in_range` says whether every number stayed inside the
 * parser's working range.
 */
static int model_parse(const char *s, size_t len, __int128 *ms, bool *in_range)
{
	static const struct {
		const char *name;
		__int128 ms;
	} units[] = {{"ms", 1},
		     {"s", 1000},
		     {"m", 60000},
		     {"h", 3600000},
		     {"d", 86400000}};
	__int128 total = 0;
	size_t i = 0, terms = 0;

	*in_range = true;
	while (i < len) {
		__int128 whole = 0, frac = 0, scale = 1, unit = 0, num;
		size_t digits = 0, fdigits = 0;

		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (whole < WHOLE_LIMIT)
				whole = whole * 10 + (s[i] - '0');
			else
				*in_range = false;
			i++;
			digits++;
		}
		if (whole >= WHOLE_LIMIT)
			*in_range = false;
		if (i < len && s[i] == '.') {
			i++;
			while (i < len && s[i] >= '0' && s[i] <= '9') {
				if (++fdigits > FRAC_DIGITS_LIMIT)
					*in_range = false;
				else {
					frac = frac * 10 + (s[i] - '0');
					scale *= 10;
				}
				i++;
				digits++;
			}
		}
		if (digits == 0)
			return 0;
		if (i == len) {
			if (terms > 0) /* a bare number only on its own */
				return 0;
			unit = 1000;
		} else {
			for (size_t u = 0; u < sizeof(units) / sizeof(units[0]);
			     u++) {
				size_t n = strlen(units[u].name);

				if (len - i >= n &&
				    memcmp(s + i, units[u].name, n) == 0) {
					unit = units[u].ms;
					i += n;
					break;
				}
			}
			if (unit == 0)
				return 0;
		}
		if ((frac * unit) % scale != 0)
			return 0;
		num = whole * unit + frac * unit / scale;
		total += num;
		if (total > INT64_MAX)
			return 0;
		terms++;
	}
	if (terms == 0)
		return 0;
	*ms = total;
	return 1;
}

/* duration_format(`v`) into buffers of every size; returns the text. */
static char *format_all_sizes(int64_t v)
{
	char big[128], *out;
	size_t n;

	FUZZ_CHECK(duration_format(v, big, sizeof(big)) == 0);
	n = strlen(big);
	FUZZ_CHECK(n > 0 && n < 64);
	for (size_t size = 0; size <= n + 1; size++) {
		char *buf = malloc(size ? size : 1);
		int err;

		FUZZ_CHECK(buf != NULL);
		err = duration_format(v, buf, size);
		if (size > n) {
			FUZZ_CHECK(err == 0 && strcmp(buf, big) == 0);
		} else {
			FUZZ_CHECK(err == -ENOSPC);
		}
		free(buf);
	}
	out = strdup(big);
	FUZZ_CHECK(out != NULL);
	return out;
}

/*
 * What duration_format() prints for `v` must parse back to `v`, at least
 * inside the parser's working range (below 10^18 ms, some 31 million
 * years; above it "9223372036854775806ms" may be refused).
 */
static void check_round_trip(int64_t v)
{
	char *text = format_all_sizes(v);
	int64_t back = -1;

	FUZZ_CHECK(strchr(text, '.') == NULL);
	if (v % 1000 != 0 || v == 0) {
		size_t n = strlen(text);

		FUZZ_CHECK(n >= 2 && strcmp(text + n - 2, "ms") == 0);
	}
	if (v >= 0 && v < WHOLE_LIMIT) {
		FUZZ_CHECK(duration_parse(text, strlen(text), &back) == 0);
		FUZZ_CHECK(back == v);
	} else if (duration_parse(text, strlen(text), &back) == 0) {
		FUZZ_CHECK(back == v);
	}
	free(text);
}

/* Parse `len` bytes of `s` and hold the result against the model. */
static void check_text(const char *s, size_t len)
{
	int64_t ms = -1, ttl = -1;
	__int128 want = 0;
	bool in_range;
	int valid = model_parse(s, len, &want, &in_range);
	int err = duration_parse(s, len, &ms);
	int err_ttl = duration_parse_ttl(s, len, &ttl);

	FUZZ_CHECK(err == 0 || err == -EINVAL);
	FUZZ_CHECK(err_ttl == 0 || err_ttl == -EINVAL);
	if (err == 0) {
		FUZZ_CHECK(valid);
		FUZZ_CHECK(ms >= 0 && (__int128)ms == want);
		check_round_trip(ms);
	} else if (valid && in_range) {
		FUZZ_CHECK(!"a valid duration in the working range refused");
	}
	if (err == 0 && ms >= DURATION_TTL_MIN_MS && ms <= DURATION_TTL_MAX_MS)
		FUZZ_CHECK(err_ttl == 0 && ttl == ms);
	else
		FUZZ_CHECK(err_ttl == -EINVAL);
}

/*
 * A duration built from binary input: the first 8 bytes as the integer
 * part, byte 8 picks the unit and whether a fraction follows, the next
 * bytes give its digits.  libFuzzer puts the operands of the parser's
 * comparisons (INT64_MAX / unit and the like) into binary input, so this
 * reaches the edges of the overflow guards that text input rarely does.
 */
static void check_built(const uint8_t *data, size_t size)
{
	static const char *const units[] = {"", "ms", "s", "m", "h", "d"};
	char text[64];
	int64_t whole;
	size_t n, nfrac;

	memcpy(&whole, data, sizeof(whole));
	n = snprintf(text, sizeof(text), "%llu",
		     (unsigned long long)(whole & INT64_MAX));
	if (size > 8 && data[8] & 1) {
		nfrac = size - 9 < 12 ? size - 9 : 12;
		text[n++] = '.';
		for (size_t i = 0; i < nfrac; i++)
			text[n++] = '0' + data[9 + i] % 10;
	}
	n += snprintf(text + n, sizeof(text) - n, "%s",
		      units[size > 8 ? (data[8] >> 1) % 6 : 0]);
	check_text(text, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_exact(data, size);
	int64_t raw;

	check_text(s, size);
	if (size >= sizeof(raw)) {
		memcpy(&raw, data, sizeof(raw));
		check_round_trip(raw);
		check_built(data, size);
	}
	free(s);
	return 0;
}
