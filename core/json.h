/*
 * json.h - the few pieces of JSON the daemon writes (its HTTP endpoints):
 * strings, times and flat key=value texts, written to a stdio stream.
 *
 * Lock names and notes are bytes, not necessarily UTF-8: a JSON string
 * carries valid UTF-8 sequences as they are and each byte that is not part
 * of one as U+FFFD, so that every answer parses.  Control characters, the
 * quote and the backslash are escaped.
 */
#ifndef LOCKFS_JSON_H
#define LOCKFS_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* `s[0..len)` as a JSON string, quotes included. */
void json_string(FILE *f, const char *s, size_t len);

/* A NUL-terminated `s` as a JSON string; NULL as null. */
void json_cstring(FILE *f, const char *s);

/* Unix milliseconds as seconds with three decimals; 0 as null. */
void json_time(FILE *f, int64_t ms);

/*
 * A text of `key=value` lines (the status file) as one JSON object: a
 * value that is a decimal number is a number, any other a string.  Lines
 * without '=' are skipped.
 */
void json_kv_object(FILE *f, const char *text, size_t len);

#endif
