/*
 * store_wire.c - the store's wire format (see store_i.h): argument vectors
 * of binary-safe strings going out (every key built from the prefix, under
 * one hash tag), and the scripts' flat replies coming back, turned into a
 * struct store_result: {status, now_ms, extra, kind, payload...}, with the
 * payload laid out as lib.lua's lock_reply, ns_reply and listings write it.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "script_iface.h"
#include "store_i.h"

/* ---- argument vectors ---------------------------------------------- */

int args_add(struct args *a, const char *s, size_t len)
{
	if (a->n == a->cap) {
		int cap = a->cap ? a->cap * 2 : 16;
		char **v = realloc(a->v, cap * sizeof(*v));
		size_t *l;

		if (v == NULL)
			return -ENOMEM;
		a->v = v;
		l = realloc(a->len, cap * sizeof(*l));
		if (l == NULL)
			return -ENOMEM;
		a->len = l;
		a->cap = cap;
	}
	a->v[a->n] = malloc(len + 1);
	if (a->v[a->n] == NULL)
		return -ENOMEM;
	memcpy(a->v[a->n], s, len);
	a->v[a->n][len] = '\0';
	a->len[a->n] = len;
	a->n++;
	return 0;
}

int args_str(struct args *a, const char *s)
{
	return args_add(a, s, strlen(s));
}

int args_fmt(struct args *a, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EINVAL;
	return args_add(a, buf, n);
}

char *key_new(const struct store *st, const char *type, const char *name,
	      size_t len)
{
	size_t plen = strlen(st->keyprefix), tlen = strlen(type);
	char *k = malloc(plen + tlen + 1 + len + 1);

	if (k == NULL)
		return NULL;
	memcpy(k, st->keyprefix, plen);
	memcpy(k + plen, type, tlen);
	k[plen + tlen] = ':';
	memcpy(k + plen + tlen + 1, name, len);
	k[plen + tlen + 1 + len] = '\0';
	return k;
}

/* Append the key "{prefix}:<type>:<name>" where name is `len` bytes. */
int args_key(struct args *a, const struct store *st, const char *type,
	     const char *name, size_t len)
{
	char *k = key_new(st, type, name, len);
	int err;

	if (k == NULL)
		return -ENOMEM;
	err = args_add(a, k, strlen(st->keyprefix) + strlen(type) + 1 + len);
	free(k);
	return err;
}

int args_keys(struct args *a, const struct store *st, const struct key *v,
	      size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n && err == 0; i++)
		err = v[i].type && v[i].name
			      ? args_key(a, st, v[i].type, v[i].name,
					 strlen(v[i].name))
			      : -EINVAL;
	return err;
}

int args_vec_bin(struct args *a, const char *const *v, size_t n, size_t bin,
		 size_t bin_len)
{
	int err = 0;

	for (size_t i = 0; i < n && err == 0; i++) {
		if (v[i] == NULL)
			err = -EINVAL;
		else if (i == bin)
			err = args_add(a, v[i], bin_len);
		else
			err = args_str(a, v[i]);
	}
	return err;
}

int args_vec(struct args *a, const char *const *v, size_t n)
{
	return args_vec_bin(a, v, n, n, 0);
}

const char *args_num(char buf[ARGS_NUM_MAX], long long v)
{
	snprintf(buf, ARGS_NUM_MAX, "%lld", v);
	return buf;
}

void args_clear(struct args *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	free(a->len);
	memset(a, 0, sizeof(*a));
}

/* ---- results ------------------------------------------------------- */

void result_clear(struct store_result *r)
{
	free(r->tokens);
	lock_state_clear(&r->lock);
	for (size_t i = 0; i < r->nentries; i++)
		free(r->entries[i].name);
	free(r->entries);
	free(r->grants);
	memset(r, 0, sizeof(*r));
}

/* A reply's status (script_iface.h's REPLY_ERRORS) as 0 or -errno. */
static int errno_of(const char *status)
{
#define ERRNO_OF(name) {#name, name},
	static const struct {
		const char *name;
		int err;
	} map[] = {{"OK", 0}, REPLY_ERRORS(ERRNO_OF)};
#undef ERRNO_OF

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(status, map[i].name) == 0)
			return -map[i].err;
	return -EIO;
}

#define TEXT_OF(name, text) #text,

/* The word `s` is (REPLY_WORDS), or -1. */
static int word_of(const char *s)
{
	static const char *const words[REPLY_NWORDS] = {REPLY_WORDS(TEXT_OF)};

	for (int i = 0; i < REPLY_NWORDS; i++)
		if (strcmp(s, words[i]) == 0)
			return i;
	return -1;
}

/* A reply's kind (REPLY_KINDS); anything else counts as none. */
static enum reply_kind kind_of(const redisReply *e)
{
	static const char *const kinds[REPLY_NKINDS] = {REPLY_KINDS(TEXT_OF)};

	for (int i = 0; i < REPLY_NKINDS; i++)
		if (strcmp(e->str, kinds[i]) == 0)
			return i;
	return REPLY_KIND_NONE;
}

/* "<kind>|<until ms>|<what>" (BLOCKER_KINDS) into `b`; -EINVAL if not. */
static int blocker_of(const char *s, struct store_blocker *b)
{
	static const char *const kinds[BLOCKER_NKINDS] = {
		[BLOCKER_NONE] = "", BLOCKER_KINDS(TEXT_OF)};
	const char *bar = strchr(s, '|');
	char *end;

	if (bar == NULL)
		return -EINVAL;
	for (int i = BLOCKER_NONE + 1; i < BLOCKER_NKINDS; i++) {
		if (strlen(kinds[i]) != (size_t)(bar - s) ||
		    strncmp(s, kinds[i], bar - s) != 0)
			continue;
		b->until_ms = strtoll(bar + 1, &end, 10);
		if (end == bar + 1 || *end != '|')
			return -EINVAL;
		b->kind = i;
		b->what = end + 1;
		return 0;
	}
	return -EINVAL;
}

#undef TEXT_OF

/* A reply's extra: a word, or a blocker; -EIO for anything else. */
static int parse_extra(const char *extra, struct store_result *res)
{
	int word = word_of(extra);

	if (word >= 0) {
		res->word = word;
		return 0;
	}
	res->word = WORD_NONE;
	return blocker_of(extra, &res->blocker) == 0 ? 0 : -EIO;
}

static int64_t elem_int(const redisReply *r)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return r->integer;
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
		return strtoll(r->str, NULL, 10);
	return 0;
}

static char *elem_dup(const redisReply *r, size_t *len)
{
	char *s;
	size_t n = 0;

	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
		n = r->len;
	s = malloc(n + 1);
	if (s == NULL)
		return NULL;
	if (n)
		memcpy(s, r->str, n);
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

/* One holder: HOLDER_NFIELDS elements in script_iface.h's order. */
static int parse_holder(redisReply **e, struct lock_holder *h)
{
	const redisReply *kind = e[HOLDER_F_kind], *mode = e[HOLDER_F_mode];
	const redisReply *ka = e[HOLDER_F_ka];

	h->id = elem_dup(e[HOLDER_F_id], NULL);
	h->node = elem_dup(e[HOLDER_F_node], NULL);
	h->uid = elem_int(e[HOLDER_F_uid]);
	h->gid = elem_int(e[HOLDER_F_gid]);
	h->pid = elem_int(e[HOLDER_F_pid]);
	h->session = elem_int(e[HOLDER_F_sid]);
	h->kind = kind->len && strcmp(kind->str, "handle") == 0
			  ? HOLDER_HANDLE
			  : HOLDER_LEASE;
	h->mode = mode->len && mode->str[0] == 's' ? LOCK_MODE_SHARED
						   : LOCK_MODE_EXCLUSIVE;
	h->token = elem_int(e[HOLDER_F_tok]);
	h->acquired_ms = elem_int(e[HOLDER_F_acq]);
	h->renewed_ms = elem_int(e[HOLDER_F_ren]);
	h->expires_ms = elem_int(e[HOLDER_F_exp]);
	h->ttl_ms = elem_int(e[HOLDER_F_ttl]);
	h->keepalive = ka->len && strcmp(ka->str, "off") == 0
			       ? KEEPALIVE_OFF
			       : KEEPALIVE_SESSION;
	h->note = elem_dup(e[HOLDER_F_note], &h->note_len);
	if (h->id == NULL || h->node == NULL || h->note == NULL)
		return -ENOMEM;
	return 0;
}

/* The waiters a lock reply lists after its holders: count, then per
 * waiter node, uid, pid, session, mode, since (lib_wait.lua's
 * queue_listing). */
#define WAITER_NFIELDS 6
static int parse_queued(const redisReply *r, size_t *at,
			struct lock_state *ls)
{
	size_t i = *at, m;

	if (r->elements < i + 1)
		return -EIO;
	m = elem_int(r->element[i++]);
	if (r->elements < i + m * WAITER_NFIELDS)
		return -EIO;
	*at = i + m * WAITER_NFIELDS;
	ls->queued = calloc(m ? m : 1, sizeof(*ls->queued));
	if (ls->queued == NULL)
		return -ENOMEM;
	for (size_t k = 0; k < m; k++, i += WAITER_NFIELDS) {
		struct lock_waiter *w = &ls->queued[k];
		const redisReply *mode = r->element[i + 4];

		w->node = elem_dup(r->element[i], NULL);
		if (w->node == NULL)
			return -ENOMEM;
		ls->nqueued++;
		w->uid = elem_int(r->element[i + 1]);
		w->pid = elem_int(r->element[i + 2]);
		w->session = elem_int(r->element[i + 3]);
		w->mode = mode->len && mode->str[0] == 's' ? LOCK_MODE_SHARED
							   : LOCK_MODE_EXCLUSIVE;
		w->since_ms = elem_int(r->element[i + 5]);
	}
	return 0;
}

/* The lock file that ends a lock reply: 0, or 1 and lib.lua's FILE_PACK
 * fields {id, mode, uid, gid, ctime, mtime, data}. */
#define FILE_NFIELDS 7
static int parse_file(const redisReply *r, size_t i, struct lock_file *f)
{
	if (r->elements < i + 1)
		return -EIO;
	if (elem_int(r->element[i]) == 0)
		return 0;
	i++;
	if (r->elements < i + FILE_NFIELDS)
		return -EIO;
	f->exists = true;
	f->id = elem_int(r->element[i]);
	f->mode = elem_int(r->element[i + 1]) & 07777;
	f->uid = elem_int(r->element[i + 2]);
	f->gid = elem_int(r->element[i + 3]);
	f->ctime_ms = elem_int(r->element[i + 4]);
	f->mtime_ms = elem_int(r->element[i + 5]);
	f->data = elem_dup(r->element[i + 6], &f->len);
	return f->data ? 0 : -ENOMEM;
}

static int parse_lock(const redisReply *r, size_t i, struct store_result *res)
{
	struct lock_state *ls = &res->lock;
	size_t n;
	int err;

	if (r->elements < i + 5)
		return -EIO;
	ls->mode = r->element[i]->len && r->element[i]->str[0] == 's'
			   ? LOCK_MODE_SHARED
			   : LOCK_MODE_EXCLUSIVE;
	ls->token = elem_int(r->element[i + 1]);
	ls->waiters = elem_int(r->element[i + 2]);
	ls->delayed_until_ms = elem_int(r->element[i + 3]);
	n = elem_int(r->element[i + 4]);
	i += 5;
	if (r->elements < i + n * HOLDER_NFIELDS + 1)
		return -EIO;
	ls->holders = calloc(n ? n : 1, sizeof(*ls->holders));
	if (ls->holders == NULL)
		return -ENOMEM;
	ls->nholders = n;
	for (size_t k = 0; k < n; k++) {
		err = parse_holder(&r->element[i + k * HOLDER_NFIELDS],
				   &ls->holders[k]);
		if (err < 0)
			return err;
	}
	i += n * HOLDER_NFIELDS;
	err = parse_queued(r, &i, ls);
	if (err == 0)
		err = parse_file(r, i, &ls->file);
	if (err < 0)
		return err;
	i += 1 + (ls->file.exists ? FILE_NFIELDS : 0);
	/* last: may a queued request sleep on this end (lib.lua)? */
	if (r->elements != i + 1)
		return -EIO;
	res->wake = elem_int(r->element[i]) != 0;
	return 0;
}

static int parse_listing(const redisReply *r, struct store_result *res)
{
	size_t n;

	if (r->elements < 5)
		return -EIO;
	n = elem_int(r->element[4]);
	if (r->elements != 5 + 2 * n)
		return -EIO;
	res->entries = calloc(n ? n : 1, sizeof(*res->entries));
	if (res->entries == NULL)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++) {
		const redisReply *t = r->element[5 + 2 * k + 1];

		res->entries[k].name = elem_dup(r->element[5 + 2 * k], NULL);
		if (res->entries[k].name == NULL)
			return -ENOMEM;
		res->entries[k].is_namespace = t->len && t->str[0] == 'd';
		res->nentries++;
	}
	return 0;
}

/* The grants a reply ends with: {waiter id, daemon, token, expiry} each. */
static int parse_grants(const redisReply *g, struct store_result *res)
{
	res->grants = calloc(g->elements ? g->elements : 1,
			     sizeof(*res->grants));
	if (res->grants == NULL)
		return -ENOMEM;
	for (size_t k = 0; k < g->elements; k++) {
		const redisReply *e = g->element[k];

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    e->element[1]->type != REDIS_REPLY_STRING)
			return -EIO;
		if (e->elements == 2 &&
		    word_of(e->element[0]->str) == WORD_WAKE) {
			res->grants[k] = (struct store_grant){
				.wake_ns = e->element[1]->str};
			res->ngrants++;
			continue;
		}
		if (e->elements != 4)
			return -EIO;
		res->grants[k] = (struct store_grant){
			.waiter_id = e->element[0]->str,
			.daemon = e->element[1]->str,
			.token = elem_int(e->element[2]),
			.expires_ms = elem_int(e->element[3]),
		};
		res->ngrants++;
	}
	return 0;
}

/*
 * Turn a script reply into `res`; returns 0 or -EIO for a malformed one.
 * Any reply may end with one nested array: the grants the call made.
 */
int parse_reply(const redisReply *r, struct store_result *res)
{
	redisReply tail;
	int err;

	if (r->type == REDIS_REPLY_ARRAY && r->elements > 4 &&
	    r->element[r->elements - 1]->type == REDIS_REPLY_ARRAY) {
		err = parse_grants(r->element[r->elements - 1], res);
		if (err < 0)
			return err;
		tail = *r;
		tail.elements--;
		r = &tail;
	}

	if (r->type != REDIS_REPLY_ARRAY || r->elements < 4)
		return -EIO;
	for (int i = 0; i < 4; i++)
		if (i != 1 && r->element[i]->type != REDIS_REPLY_STRING)
			return -EIO;
	res->err = errno_of(r->element[0]->str);
	res->now_ms = elem_int(r->element[1]);
	res->extra = r->element[2]->str;
	err = parse_extra(res->extra, res);
	if (err < 0)
		return err;
	switch (kind_of(r->element[3])) {
	case REPLY_KIND_NAMESPACE:
		if (r->elements != 10)
			return -EIO;
		res->kind = STORE_NAMESPACE;
		res->ns.mode = elem_int(r->element[4]);
		res->ns.uid = elem_int(r->element[5]);
		res->ns.gid = elem_int(r->element[6]);
		res->ns.ctime_ms = elem_int(r->element[7]);
		res->ns.mtime_ms = elem_int(r->element[8]);
		res->ns.limit = elem_int(r->element[9]);
		return 0;
	case REPLY_KIND_LOCK:
		res->kind = STORE_LOCK;
		return parse_lock(r, 4, res);
	case REPLY_KIND_LISTING:
		res->kind = STORE_LISTING;
		return parse_listing(r, res);
	case REPLY_KIND_TOKENS:
		res->kind = STORE_TOKENS;
		if (r->elements < 5 ||
		    r->elements != 5 + (size_t)elem_int(r->element[4]))
			return -EIO;
		res->ntokens = r->elements - 5;
		res->tokens = calloc(res->ntokens + 1, sizeof(*res->tokens));
		if (res->tokens == NULL)
			return -ENOMEM;
		for (size_t k = 0; k < res->ntokens; k++)
			res->tokens[k] = elem_int(r->element[5 + k]);
		return 0;
	default:
		res->kind = STORE_NONE;
		return 0;
	}
}
