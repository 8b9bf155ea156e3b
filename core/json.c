/*
 * json.c - JSON strings, times and key=value objects (see json.h).
 */
#include "json.h"

#include <stdbool.h>
#include <string.h>

/* The length of the valid UTF-8 sequence at s[0..n), or 0 for none. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	size_t want;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		want = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		want = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		want = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < want)
		return 0;
	for (size_t i = 1; i < want; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and past U+10FFFF are not UTF-8 */
	if ((want == 3 && cp < 0x800) || (want == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return want;
}

void json_string(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	fputc('"', f);
	while (i < len) {
		size_t n = utf8_sequence(p + i, len - i);

		if (n == 0) {
			fputs("\\ufffd", f);
			i++;
		} else if (n > 1) {
			fwrite(p + i, 1, n, f);
			i += n;
		} else if (p[i] == '"' || p[i] == '\\') {
			fputc('\\', f);
			fputc(p[i++], f);
		} else if (p[i] == '\n') {
			fputs("\\n", f);
			i++;
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			fprintf(f, "\\u%04x", p[i++]);
		} else {
			fputc(p[i++], f);
		}
	}
	fputc('"', f);
}

void json_cstring(FILE *f, const char *s)
{
	if (s == NULL)
		fputs("null", f);
	else
		json_string(f, s, strlen(s));
}

void json_time(FILE *f, int64_t ms)
{
	if (ms <= 0)
		fputs("null", f);
	else
		fprintf(f, "%lld.%03lld", (long long)(ms / 1000),
			(long long)(ms % 1000));
}

/* Is v[0..n) a number JSON takes as it is: -?digits(.digits)? */
static bool is_json_number(const char *v, size_t n)
{
	size_t i = 0, digits = 0;

	if (i < n && v[i] == '-')
		i++;
	if (i < n && v[i] == '0' && i + 1 < n && v[i + 1] != '.')
		return false; /* no leading zeros */
	while (i < n && v[i] >= '0' && v[i] <= '9')
		i++, digits++;
	if (digits == 0)
		return false;
	if (i < n && v[i] == '.') {
		size_t frac = 0;

		for (i++; i < n && v[i] >= '0' && v[i] <= '9'; i++)
			frac++;
		if (frac == 0)
			return false;
	}
	return i == n;
}

void json_kv_object(FILE *f, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	bool first = true;

	fputc('{', f);
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p), *eq;
		const char *line_end = nl ? nl : end;

		eq = memchr(p, '=', line_end - p);
		if (eq) {
			size_t vlen = line_end - eq - 1;

			fputs(first ? "" : ",", f);
			first = false;
			json_string(f, p, eq - p);
			fputc(':', f);
			if (is_json_number(eq + 1, vlen))
				fwrite(eq + 1, 1, vlen, f);
			else
				json_string(f, eq + 1, vlen);
		}
		p = line_end + 1;
	}
	fputc('}', f);
}
