/*
 * embed_lua.c - build-time helper: turns the server-side Lua into C, so
 * the daemon carries its scripts and loads them into Redis on connect.
 *
 * usage: embed-lua --library LAYOUT NAME OUTPUT NLIB LIB... SCRIPT...
 *        embed-lua --plain NAME OUTPUT FILE
 *
 * --library makes one Redis Functions library (loaded once per server
 * with FUNCTION LOAD, called with FCALL) of: the declarations of
 * script_iface.h as Lua constants (so the scripts name keys, arguments
 * and reply fields exactly as the C side lays them out), the NLIB files
 * LIB (lib.lua, lib_wait.lua: each may use what the ones before it
 * define) once, in order, and each SCRIPT's body as a function of its
 * own, registered as
 * "<id>_<its file name without .lua>".  <id>, "lockfs_<LAYOUT>_<hash of
 * the library's text>", also names the library (NAME_id in the C file):
 * two builds of one layout whose scripts differ never run each other's
 * code.  A body reads KEYS and ARGV as a script does: its registered
 * function sets them from its arguments first, and calls lib.lua's
 * call_begin(), which clears what one call keeps for itself.  The C file
 * defines `const char NAME[]` (the library) and `const char NAME_id[]`.
 *
 * --plain embeds one file as it is (the HTTP page, fs/http_page.html) as
 * `const char NAME[]`.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script_iface.h"

/* A growable text; on ENOMEM the program exits (a build tool). */
struct text {
	char *s;
	size_t len, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->s = realloc(t->s, t->cap);
		if (t->s == NULL) {
			perror("embed-lua");
			exit(1);
		}
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

static void text_fmt(struct text *t, const char *fmt, const char *a,
		     const char *b, const char *c)
{
	char line[512];
	int n = snprintf(line, sizeof(line), fmt, a, b, c);

	text_add(t, line, (size_t)n < sizeof(line) ? (size_t)n : 0);
}

static void text_int(struct text *t, const char *fmt, const char *name,
		     long v)
{
	char line[256];
	int n = snprintf(line, sizeof(line), fmt, name, v);

	text_add(t, line, (size_t)n < sizeof(line) ? (size_t)n : 0);
}

static int text_file(struct text *t, const char *path)
{
	char buf[4096];
	FILE *in = fopen(path, "rb");
	size_t n;
	int err;

	if (in == NULL) {
		perror(path);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		text_add(t, buf, n);
	err = ferror(in);
	fclose(in);
	return err ? -1 : 0;
}

/* One list of KEYS or ARGV positions: `local TABLE = {...}`, with
 * NAME = first, first + 1, ..., N = how many, and `tail` (when not NULL)
 * = first + N, where a variable tail of the list starts. */
struct positions {
	const char *table;
	const char *const *names;
	size_t n;
	long first;
	const char *tail;
};

/* One list of reply words: `local TABLE = {...}`, NAME = 'text'. */
struct words {
	const char *table;
	const char *const *names, *const *texts;
	size_t n;
};

#define NAME_OF(name) #name,
#define PAIR_NAME_OF(name, text) #name,
#define PAIR_TEXT_OF(name, text) #text,
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define POSITIONS(table, list, first, tail)                                   \
	{table, (const char *const[]){list(NAME_OF)},                         \
	 COUNT_OF(((const char *const[]){list(NAME_OF)})), first, tail}
#define WORDS(table, list)                                                    \
	{table, (const char *const[]){list(PAIR_NAME_OF)},                    \
	 (const char *const[]){list(PAIR_TEXT_OF)},                           \
	 COUNT_OF(((const char *const[]){list(PAIR_NAME_OF)}))}

static void add_positions(struct text *t, const struct positions *p)
{
	text_fmt(t, "local %s = {", p->table, NULL, NULL);
	for (size_t i = 0; i < p->n; i++)
		text_int(t, "%s = %ld, ", p->names[i], p->first + (long)i);
	if (p->tail)
		text_int(t, "%s = %ld, ", p->tail, p->first + (long)p->n);
	text_int(t, "%s = %ld}\n", "N", (long)p->n);
}

static void add_words(struct text *t, const struct words *w)
{
	text_fmt(t, "local %s = {", w->table, NULL, NULL);
	for (size_t i = 0; i < w->n; i++)
		text_fmt(t, "%s = '%s', ", w->names[i], w->texts[i], NULL);
	text_str(t, "}\n");
}

/* The Lua twin of script_iface.h. */
static void add_iface(struct text *t)
{
	static const char *const fixed[] = {LOCK_KEYS_FIXED(NAME_OF)};
	static const char *const per_node[] = {LOCK_KEYS_NODE(NAME_OF)};
	static const char *const fields[] = {HOLDER_FIELDS(NAME_OF)};
	const struct positions positions[] = {
		POSITIONS("A_ACQUIRE", ACQUIRE_ARGS, 1, "GROUPS"),
		POSITIONS("A_ACQUIRE_SET", ACQUIRE_SET_ARGS, 1, "MEMBERS"),
		/* within one member's run of keys, and of arguments */
		POSITIONS("K_SET_MEMBER", SET_MEMBER_KEYS, 0, "LOCK"),
		POSITIONS("A_SET_MEMBER", SET_MEMBER_ARGS, 0, NULL),
		POSITIONS("A_RENEW", RENEW_ARGS, 1, NULL),
		POSITIONS("A_RELEASE", RELEASE_ARGS, 1, NULL),
		POSITIONS("A_WITHDRAW", WITHDRAW_ARGS, 1, NULL),
		POSITIONS("K_STAT", STAT_KEYS, 1, NULL),
		POSITIONS("A_STAT", STAT_ARGS, 1, NULL),
		POSITIONS("K_LIST", LIST_KEYS, 1, NULL),
		POSITIONS("A_LIST", LIST_ARGS, 1, NULL),
		POSITIONS("K_MKDIR", MKDIR_KEYS, 1, NULL),
		POSITIONS("A_MKDIR", MKDIR_ARGS, 1, NULL),
		POSITIONS("K_RMDIR", RMDIR_KEYS, 1, NULL),
		POSITIONS("A_RMDIR", RMDIR_ARGS, 1, NULL),
		POSITIONS("K_SETATTR", SETATTR_KEYS, 1, NULL),
		POSITIONS("A_SETATTR", SETATTR_ARGS, 1, NULL),
		POSITIONS("K_FILE", FILE_KEYS, 1, NULL),
		POSITIONS("A_FILE", FILE_ARGS, 1, NULL),
	};
	const struct words words[] = {
		WORDS("WORD", REPLY_WORDS),
		WORDS("KIND", REPLY_KINDS),
		WORDS("BLOCKER", BLOCKER_KINDS),
	};
	static const char *const errors[] = {REPLY_ERRORS(NAME_OF)};
	long k = 1;

	text_str(t, "-- generated from script_iface.h by embed-lua\n");
	for (size_t i = 0; i < LOCK_KEYS_NFIXED; i++, k++)
		text_int(t, "local K_%s = %ld\n", fixed[i], k);
	text_int(t, "local K_%s = %ld\n", "NFIXED", LOCK_KEYS_NFIXED);
	for (size_t i = 0; i < LOCK_KEYS_STRIDE; i++)
		text_int(t, "local K_%s = %ld\n", per_node[i], k + (long)i);
	text_int(t, "local K_%s = %ld\n", "ANCESTORS", k + LOCK_KEYS_STRIDE);
	text_int(t, "local K_%s = %ld\n", "STRIDE", LOCK_KEYS_STRIDE);
	for (size_t i = 0; i < COUNT_OF(positions); i++)
		add_positions(t, &positions[i]);
	text_str(t, "local HOLDER_FIELDS = {");
	for (size_t i = 0; i < HOLDER_NFIELDS; i++)
		text_fmt(t, "'%s', ", fields[i], NULL, NULL);
	text_str(t, "}\nlocal STATUS = {OK = 'OK', ");
	for (size_t i = 0; i < COUNT_OF(errors); i++)
		text_fmt(t, "%s = '%s', ", errors[i], errors[i], NULL);
	text_str(t, "}\n");
	for (size_t i = 0; i < COUNT_OF(words); i++)
		add_words(t, &words[i]);
}

/* "acquire" of "../core/acquire.lua", into `out`. */
static void script_name_of(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	snprintf(out, size, "%.*s", (int)strcspn(base, "."), base);
}

/* The library of `layout` from the `nlib` library files that begin
 * `inputs` and the scripts after them, into `lib`; its id into `id`. */
static int make_library(const char *layout, int nlib, char **inputs,
			int ninputs, struct text *lib, char *id, size_t idsize)
{
	struct text body = {0};
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	char fname[128];
	int err = -1;

	text_str(&body, "local KEYS, ARGV -- set by each function below\n");
	add_iface(&body);
	for (int i = 0; i < nlib; i++)
		if (text_file(&body, inputs[i]) < 0)
			goto out;
	for (int i = nlib; i < ninputs; i++) {
		script_name_of(inputs[i], fname, sizeof(fname));
		text_fmt(&body, "\nlocal function body_%s()\n", fname, NULL,
			 NULL);
		if (text_file(&body, inputs[i]) < 0)
			goto out;
		text_str(&body, "\nend\n");
	}
	for (size_t k = 0; k < body.len; k++)
		h = (h ^ (unsigned char)body.s[k]) * 1099511628211ULL;
	snprintf(id, idsize, "lockfs_%s_%08llx", layout,
		 (unsigned long long)(h & 0xffffffffULL));
	text_fmt(lib, "#!lua name=%s\n", id, NULL, NULL);
	text_add(lib, body.s, body.len);
	for (int i = nlib; i < ninputs; i++) {
		script_name_of(inputs[i], fname, sizeof(fname));
		text_fmt(lib,
			 "redis.register_function('%s_%s', function(keys, args)"
			 "\n  KEYS, ARGV = keys, args\n  call_begin()\n",
			 id, fname, NULL);
		text_fmt(lib, "  return body_%s()\nend)\n", fname, NULL, NULL);
	}
	err = 0;
out:
	free(body.s);
	return err;
}

/* `t` as the bytes of a C array named `name`. */
static void write_array(FILE *out, const char *name, const struct text *t)
{
	fprintf(out, "const char %s[] = {\n", name);
	for (size_t i = 0; i < t->len; i++)
		fprintf(out, "%d,%s", (unsigned char)t->s[i],
			i % 20 == 19 ? "\n" : "");
	fprintf(out, "0};\n");
}

int main(int argc, char **argv)
{
	struct text t = {0};
	char id[64];
	FILE *out = NULL;
	int rc = 1;
	bool library = argc > 1 && strcmp(argv[1], "--library") == 0;
	char *end = NULL;
	long nlib = library && argc > 5 ? strtol(argv[5], &end, 10) : 0;

	if (!(library && end && *end == '\0' && nlib >= 1 &&
	      argc >= 6 + nlib) &&
	    !(argc == 5 && strcmp(argv[1], "--plain") == 0)) {
		fprintf(stderr, "usage: embed-lua --library LAYOUT NAME OUTPUT "
				"NLIB LIB... SCRIPT...\n"
				"       embed-lua --plain NAME OUTPUT FILE\n");
		return 2;
	}
	if (library ? make_library(argv[2], (int)nlib, argv + 6, argc - 6, &t,
				   id, sizeof(id)) < 0
		    : text_file(&t, argv[4]) < 0)
		goto out;
	out = fopen(argv[3 + library], "wb");
	if (out == NULL) {
		perror(argv[3 + library]);
		goto out;
	}
	fprintf(out, "/* generated by embed-lua */\n");
	if (library)
		fprintf(out, "const char %s_id[] = \"%s\";\n", argv[3], id);
	write_array(out, argv[2 + library], &t);
	rc = ferror(out) ? 1 : 0;
out:
	if (out && fclose(out) != 0)
		rc = 1;
	free(t.s);
	return rc;
}
