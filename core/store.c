/*
 * store.c - the Redis store (see store.h).
 *
 * Owns one asynchronous hiredis connection attached to the caller's libevent
 * loop, the SHAs of the server-side scripts, and every call in flight.
 *
 * A call is a small state machine with exactly one answer: it is queued
 * while the connection is down, sent (EVALSHA, or EVAL until the SHA is
 * known or after a NOSCRIPT), and answered either by the reply or by its
 * deadline timer, whichever comes first.  A call answered by its deadline
 * stays alive until Redis replies or the connection drops, so a late grant
 * can be undone (compensated) instead of leaking a lock.
 *
 * The connection reconnects by itself with a capped backoff; scripts are
 * loaded again on every connect.  Everything runs on the loop thread.
 *
 * A circuit breaker keeps one frozen Redis from costing a caller one
 * backend_timeout per system call: once a call has gone unanswered for
 * backend_timeout, Redis counts as not answering and new calls fail with
 * EIO at once, while a PING is sent every STORE_PROBE_MS in the background;
 * the first reply of any kind closes the breaker again.  Calls already
 * queued or in flight keep their own deadlines.
 *
 * With a sentinel:// URL (sentinel.h) the address is not fixed.  Every
 * (re)connection first asks the sentinels where the master is, and calls
 * are sent only once ROLE on the new connection said "master".  Three
 * things make the store look for a new master: the connection breaking, a
 * -READONLY reply (the server was demoted to a replica), and the sentinels
 * naming another address when asked, once a second, by the watch timer.
 * Then the connection is dropped: calls in flight on it fail with EIO at
 * once (their outcome is unknown, as on any broken connection), a call
 * refused with READONLY is queued again (a replica wrote nothing), queued
 * calls wait for the new master until their deadline.  The sentinels are
 * asked asynchronously (a round never blocks the loop), so FUSE requests
 * go on being answered from the node's own state while the master moves.
 */
#include "store.h"

#include <errno.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "name.h"
#include "sentinel.h"

/* A connection not ready in this long is dropped and tried again. */
#define STORE_HANDSHAKE_MS 1000
/* Each sentinel gets this long to answer, asynchronously. */
#define STORE_SENTINEL_ASK_MS 500
/* At mount: the sentinels, one after the other, synchronously. */
#define STORE_SENTINEL_PROBE_MS 1000
/* How often the sentinels are asked whether the master moved. */
#define STORE_WATCH_MS 1000
/* While Redis is not answering: how often it is asked (PING). */
#define STORE_PROBE_MS 250

extern const char lua_acquire[], lua_acquire_set[], lua_renew[], lua_release[], lua_withdraw[],
	lua_stat[], lua_list[], lua_mkdir[], lua_rmdir[], lua_setattr[];

enum script {
	SCRIPT_ACQUIRE,
	SCRIPT_ACQUIRE_SET,
	SCRIPT_RENEW,
	SCRIPT_RELEASE,
	SCRIPT_WITHDRAW,
	SCRIPT_STAT,
	SCRIPT_LIST,
	SCRIPT_MKDIR,
	SCRIPT_RMDIR,
	SCRIPT_SETATTR,
	SCRIPT_COUNT
};

static const char *const script_body[SCRIPT_COUNT] = {
	lua_acquire, lua_acquire_set, lua_renew, lua_release, lua_withdraw, lua_stat,
	lua_list,    lua_mkdir, lua_rmdir,   lua_setattr,
};

static const char *const script_name[SCRIPT_COUNT] = {
	"acquire", "acquire_set", "renew", "release", "withdraw", "stat",
	"list",    "mkdir", "rmdir",   "setattr",
};

/* A growable argument vector (keys, then arguments) of binary strings. */
struct args {
	int n, cap;
	char **v;
	size_t *len;
};

struct call {
	struct store *st;
	enum script script;
	int nkeys;
	struct args a;
	store_cb *cb;
	void *arg;
	struct event *deadline;
	bool answered;
	bool in_flight;
	bool queued;
	int64_t sent_ns; /* monotonic, for the round-trip histogram */
	/* for compensation of a late grant */
	char *comp_path;
	char *comp_holder;
	TAILQ_ENTRY(call) link;
};

TAILQ_HEAD(call_queue, call);

struct store {
	struct event_base *base;
	redisAsyncContext *ac;
	bool connected;
	bool freeing;
	char *host;
	int port;
	char *unix_path;
	int db;
	char *password;
	char *keyprefix; /* "{prefix}:" */
	int64_t timeout_ms;
	char *sha[SCRIPT_COUNT];
	struct event *reconnect;
	struct event *handshake; /* armed while a connection is not ready */
	int64_t backoff_ms;
	struct call_queue queue;
	/* sentinel:// only: where the master is (host, port follow it) */
	struct sentinel *sentinel;
	struct event *watch;
	struct store_stats stats;
	unsigned readies; /* connections that became ready */
	/* the circuit breaker (above) */
	bool answering;
	bool probing;        /* a PING is in flight */
	struct event *probe; /* sends the PING while not answering */
	bool was_up;         /* store_up() as last noted */
	int64_t since_ms;    /* wall-clock ms of its last change */
};

static void store_connect(struct store *st);
static void store_drop(struct store *st);
static void set_answering(struct store *st, bool answering);
static void reconnect_later(struct store *st);
static void call_send(struct call *c);

/* ---- argument vectors ---------------------------------------------- */

static int args_add(struct args *a, const char *s, size_t len)
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

static int args_str(struct args *a, const char *s)
{
	return args_add(a, s, strlen(s));
}

static int args_fmt(struct args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int args_fmt(struct args *a, const char *fmt, ...)
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

/* Append the key "{prefix}:<type>:<name>" where name is `len` bytes. */
static int args_key(struct args *a, const struct store *st, const char *type,
		    const char *name, size_t len)
{
	size_t plen = strlen(st->keyprefix), tlen = strlen(type);
	char *k = malloc(plen + tlen + 1 + len + 1);
	int err;

	if (k == NULL)
		return -ENOMEM;
	memcpy(k, st->keyprefix, plen);
	memcpy(k + plen, type, tlen);
	k[plen + tlen] = ':';
	memcpy(k + plen + tlen + 1, name, len);
	err = args_add(a, k, plen + tlen + 1 + len);
	free(k);
	return err;
}

static void args_clear(struct args *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	free(a->len);
	memset(a, 0, sizeof(*a));
}

/* ---- results ------------------------------------------------------- */

static void result_clear(struct store_result *r)
{
	free(r->tokens);
	lock_state_clear(&r->lock);
	for (size_t i = 0; i < r->nentries; i++)
		free(r->entries[i].name);
	free(r->entries);
	memset(r, 0, sizeof(*r));
}

static int errno_of(const char *status)
{
	static const struct {
		const char *name;
		int err;
	} map[] = {
		{"OK", 0},          {"EEXIST", EEXIST}, {"EAGAIN", EAGAIN},
		{"ENOENT", ENOENT}, {"EISDIR", EISDIR}, {"ESTALE", ESTALE},
		{"EPERM", EPERM},   {"ENOTEMPTY", ENOTEMPTY},
		{"EINVAL", EINVAL}, {"EACCES", EACCES},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(status, map[i].name) == 0)
			return -map[i].err;
	return -EIO;
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

#define HOLDER_FIELDS 15

static int parse_holder(redisReply **e, struct lock_holder *h)
{
	h->id = elem_dup(e[0], NULL);
	h->node = elem_dup(e[1], NULL);
	h->uid = elem_int(e[2]);
	h->gid = elem_int(e[3]);
	h->pid = elem_int(e[4]);
	h->session = elem_int(e[5]);
	h->kind = e[6]->len && strcmp(e[6]->str, "handle") == 0 ? HOLDER_HANDLE
								 : HOLDER_LEASE;
	h->mode = e[7]->len && e[7]->str[0] == 's' ? LOCK_MODE_SHARED
						  : LOCK_MODE_EXCLUSIVE;
	h->token = elem_int(e[8]);
	h->acquired_ms = elem_int(e[9]);
	h->renewed_ms = elem_int(e[10]);
	h->expires_ms = elem_int(e[11]);
	h->ttl_ms = elem_int(e[12]);
	h->keepalive = e[13]->len && strcmp(e[13]->str, "off") == 0
			       ? KEEPALIVE_OFF
			       : KEEPALIVE_SESSION;
	h->note = elem_dup(e[14], &h->note_len);
	if (h->id == NULL || h->node == NULL || h->note == NULL)
		return -ENOMEM;
	return 0;
}

static int parse_lock(const redisReply *r, size_t i, struct store_result *res)
{
	struct lock_state *ls = &res->lock;
	size_t n;

	if (r->elements < i + 4)
		return -EIO;
	ls->mode = r->element[i]->len && r->element[i]->str[0] == 's'
			   ? LOCK_MODE_SHARED
			   : LOCK_MODE_EXCLUSIVE;
	ls->token = elem_int(r->element[i + 1]);
	ls->waiters = elem_int(r->element[i + 2]);
	n = elem_int(r->element[i + 3]);
	i += 4;
	if (r->elements != i + n * HOLDER_FIELDS)
		return -EIO;
	ls->holders = calloc(n ? n : 1, sizeof(*ls->holders));
	if (ls->holders == NULL)
		return -ENOMEM;
	ls->nholders = n;
	for (size_t k = 0; k < n; k++) {
		int err = parse_holder(&r->element[i + k * HOLDER_FIELDS],
				       &ls->holders[k]);
		if (err < 0)
			return err;
	}
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

/* Turn a script reply into `res`; returns 0 or -EIO for a malformed one. */
static int parse_reply(const redisReply *r, struct store_result *res)
{
	char kind;

	if (r->type != REDIS_REPLY_ARRAY || r->elements < 4)
		return -EIO;
	for (int i = 0; i < 4; i++)
		if (i != 1 && r->element[i]->type != REDIS_REPLY_STRING)
			return -EIO;
	res->err = errno_of(r->element[0]->str);
	res->now_ms = elem_int(r->element[1]);
	res->extra = r->element[2]->str;
	kind = r->element[3]->len ? r->element[3]->str[0] : '-';
	switch (kind) {
	case 'N':
		if (r->elements != 9)
			return -EIO;
		res->kind = STORE_NAMESPACE;
		res->ns.mode = elem_int(r->element[4]);
		res->ns.uid = elem_int(r->element[5]);
		res->ns.gid = elem_int(r->element[6]);
		res->ns.ctime_ms = elem_int(r->element[7]);
		res->ns.mtime_ms = elem_int(r->element[8]);
		return 0;
	case 'L':
		res->kind = STORE_LOCK;
		return parse_lock(r, 4, res);
	case 'D':
		res->kind = STORE_LISTING;
		return parse_listing(r, res);
	case 'T':
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

/* ---- calls --------------------------------------------------------- */

static void call_free(struct call *c)
{
	if (c == NULL)
		return;
	if (c->deadline)
		event_free(c->deadline);
	args_clear(&c->a);
	free(c->comp_path);
	free(c->comp_holder);
	free(c);
}

static void call_answer(struct call *c, const struct store_result *res)
{
	if (c->answered)
		return;
	c->answered = true;
	if (c->deadline)
		evtimer_del(c->deadline);
	c->cb(c->arg, res);
}

static void call_fail(struct call *c, int err)
{
	struct store_result res = {.err = err, .extra = ""};

	call_answer(c, &res);
}

static void noop_cb(void *arg, const struct store_result *res)
{
	(void)arg;
	(void)res;
}

/* A grant arrived for a call whose caller was already told EIO: undo it. */
static void call_compensate(struct call *c, const struct store_result *res)
{
	if (c->comp_path == NULL || res->err != 0 || res->extra == NULL ||
	    strcmp(res->extra, "new") != 0)
		return;
	log_warnx("late grant of %s after a timeout: releasing it",
		  c->comp_path);
	if (store_release(c->st, c->comp_path, c->comp_holder,
			  res->lock.token, false, noop_cb, NULL) < 0)
		log_warnx("could not release %s; it expires with its ttl",
			  c->comp_path);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Metrics: every answered call's round trip, every failed one. */
static void count_reply(struct call *c, const redisReply *reply)
{
	struct store_stats *st = &c->st->stats;
	double rtt_s = (mono_ns() - c->sent_ns) / 1e9;

	if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
		st->errors++;
		return;
	}
	st->calls++;
	st->rtt_sum_s += rtt_s;
	for (int i = 0; i < METRICS_RTT_BUCKETS; i++)
		if (rtt_s <= metrics_rtt_bounds[i])
			st->rtt_buckets[i]++;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct call *c = privdata;
	redisReply *reply = r;
	struct store_result res = {.extra = ""};
	int err;

	c->in_flight = false;
	count_reply(c, reply);
	if (reply != NULL)
		set_answering(c->st, true);
	if (reply == NULL) { /* connection gone */
		call_fail(c, -EIO);
		goto done;
	}
	if (reply->type == REDIS_REPLY_ERROR && c->st->sentinel &&
	    strstr(reply->str, "READONLY") != NULL && !c->st->freeing) {
		/* a replica now: it wrote nothing, so this call may go again */
		if (ac->data == c->st && ac == c->st->ac) {
			log_warnx("redis: %s:%d is read-only now (a replica): "
				  "asking the sentinels for the master",
				  c->st->host, c->st->port);
			store_drop(c->st);
			reconnect_later(c->st);
		}
		if (!c->answered) {
			call_send(c);
			if (c->queued)
				return;
		}
		goto done;
	}
	if (reply->type == REDIS_REPLY_ERROR &&
	    strncmp(reply->str, "NOSCRIPT", 8) == 0 && !c->st->freeing) {
		free(c->st->sha[c->script]);
		c->st->sha[c->script] = NULL;
		call_send(c);
		if (c->in_flight || c->queued)
			return;
		goto done;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		log_warnx("redis: script %s: %s", script_name[c->script],
			  reply->str);
		call_fail(c, -EIO);
		goto done;
	}
	err = parse_reply(reply, &res);
	if (err < 0) {
		log_warnx("redis: malformed reply to script %s",
			  script_name[c->script]);
		call_fail(c, err);
		goto clear;
	}
	if (c->answered)
		call_compensate(c, &res);
	else
		call_answer(c, &res);
clear:
	result_clear(&res);
done:
	call_free(c);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;

	(void)fd;
	(void)what;
	if (c->queued) {
		TAILQ_REMOVE(&c->st->queue, c, link);
		c->queued = false;
	}
	log_warnx("redis: %s timed out", script_name[c->script]);
	c->st->stats.timeouts++;
	set_answering(c->st, false);
	call_fail(c, -EIO);
	if (!c->in_flight)
		call_free(c);
}

/*
 * Send `c` now if connected, else queue it until the next connect.  On a
 * failure to send, `c` is answered with an error; the caller frees it.
 */
static void call_send(struct call *c)
{
	struct store *st = c->st;
	const char **argv = NULL;
	size_t *lens = NULL;
	char nkeys[16];
	int argc = c->a.n + 3, i;

	if (!st->connected || st->ac == NULL) {
		if (!c->queued) {
			TAILQ_INSERT_TAIL(&st->queue, c, link);
			c->queued = true;
		}
		return;
	}
	argv = calloc(argc, sizeof(*argv));
	lens = calloc(argc, sizeof(*lens));
	if (argv == NULL || lens == NULL) {
		call_fail(c, -ENOMEM);
		goto out;
	}
	snprintf(nkeys, sizeof(nkeys), "%d", c->nkeys);
	if (st->sha[c->script]) {
		argv[0] = "EVALSHA";
		argv[1] = st->sha[c->script];
	} else {
		argv[0] = "EVAL";
		argv[1] = script_body[c->script];
	}
	argv[2] = nkeys;
	for (i = 0; i < 3; i++)
		lens[i] = strlen(argv[i]);
	for (i = 0; i < c->a.n; i++) {
		argv[i + 3] = c->a.v[i];
		lens[i + 3] = c->a.len[i];
	}
	if (redisAsyncCommandArgv(st->ac, on_reply, c, argc, argv, lens) !=
	    REDIS_OK) {
		call_fail(c, -EIO);
		goto out;
	}
	c->in_flight = true;
	c->sent_ns = mono_ns();
out:
	free(argv);
	free(lens);
}

/* Free `c` unless it still waits for Redis (queued or in flight). */
static void call_release_if_idle(struct call *c)
{
	if (!c->in_flight && !c->queued)
		call_free(c);
}

static struct call *call_new(struct store *st, enum script s, store_cb *cb,
			     void *arg)
{
	struct call *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->st = st;
	c->script = s;
	c->cb = cb;
	c->arg = arg;
	c->deadline = evtimer_new(st->base, on_deadline, c);
	if (c->deadline == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

/* Arm the deadline and send; takes ownership of `c` whatever happens. */
static int call_start(struct call *c, int err)
{
	struct timeval tv;

	if (err == 0 && c->st->freeing)
		err = -ESHUTDOWN;
	if (err == 0 && !c->st->answering)
		err = -EIO; /* the breaker is open: fail at once */
	if (err < 0) {
		call_free(c);
		return err;
	}
	tv.tv_sec = c->st->timeout_ms / 1000;
	tv.tv_usec = (c->st->timeout_ms % 1000) * 1000;
	evtimer_add(c->deadline, &tv);
	call_send(c);
	call_release_if_idle(c);
	return 0;
}

/* ---- the circuit breaker ------------------------------------------- */

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Remember when store_up() last changed, for status. */
static void note_state(struct store *st)
{
	bool up = st->connected && st->answering;

	if (up != st->was_up) {
		st->was_up = up;
		st->since_ms = real_ms();
	}
}

static void arm_probe(struct store *st)
{
	struct timeval tv = {0, STORE_PROBE_MS * 1000};

	if (!st->freeing)
		evtimer_add(st->probe, &tv);
}

static void set_answering(struct store *st, bool answering)
{
	if (st->answering == answering)
		return;
	st->answering = answering;
	if (answering) {
		log_info("redis: answering again");
		evtimer_del(st->probe);
	} else {
		log_warnx("redis: no answer within %lld ms; new calls fail "
			  "at once until it answers",
			  (long long)st->timeout_ms);
		arm_probe(st);
	}
	note_state(st);
}

static void on_probe_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct store *st = ac->data;

	(void)privdata;
	if (st == NULL)
		return;
	st->probing = false;
	if (r != NULL)
		set_answering(st, true);
}

static void on_probe(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;

	(void)fd;
	(void)what;
	if (st->answering)
		return;
	if (st->connected && st->ac && !st->probing &&
	    redisAsyncCommand(st->ac, on_probe_reply, NULL, "PING") ==
		    REDIS_OK)
		st->probing = true;
	arm_probe(st);
}

/* ---- connection ---------------------------------------------------- */

static void on_script_loaded(redisAsyncContext *ac, void *r, void *privdata)
{
	struct store *st = ac->data;
	redisReply *reply = r;
	long s = (long)privdata;

	if (reply == NULL || st == NULL)
		return;
	set_answering(st, true);
	if (reply->type != REDIS_REPLY_STRING) {
		log_warnx("redis: cannot load script %s: %s", script_name[s],
			  reply->type == REDIS_REPLY_ERROR ? reply->str : "?");
		return;
	}
	free(st->sha[s]);
	st->sha[s] = strdup(reply->str);
}

static void on_setup_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	redisReply *reply = r;

	(void)ac;
	if (reply && reply->type == REDIS_REPLY_ERROR)
		log_warnx("redis: %s: %s", (const char *)privdata, reply->str);
}

static void reconnect_later(struct store *st)
{
	struct timeval tv;

	if (st->freeing || evtimer_pending(st->reconnect, NULL))
		return;
	tv.tv_sec = st->backoff_ms / 1000;
	tv.tv_usec = (st->backoff_ms % 1000) * 1000;
	evtimer_add(st->reconnect, &tv);
	st->backoff_ms = st->backoff_ms * 2 > 1000 ? 1000 : st->backoff_ms * 2;
}

/*
 * The connection is ready for calls: load the scripts and send what waited
 * for it.  Redis runs commands in order, so the scripts are loaded before
 * the first EVALSHA arrives.
 */
static void store_ready(struct store *st)
{
	struct call *c;

	st->connected = true;
	st->probing = false;
	note_state(st);
	st->backoff_ms = 100;
	if (st->readies++ > 0)
		st->stats.reconnects++;
	evtimer_del(st->handshake);
	for (long s = 0; s < SCRIPT_COUNT; s++)
		redisAsyncCommand(st->ac, on_script_loaded, (void *)s,
				  "SCRIPT LOAD %s", script_body[s]);
	while ((c = TAILQ_FIRST(&st->queue)) != NULL) {
		TAILQ_REMOVE(&st->queue, c, link);
		c->queued = false;
		call_send(c);
		call_release_if_idle(c);
	}
}

/* Sentinel mode: use the new connection only if its server is the master. */
static void on_role(redisAsyncContext *ac, void *r, void *privdata)
{
	struct store *st = ac->data;
	redisReply *reply = r;
	const char *role = "?";

	(void)privdata;
	if (st == NULL || reply == NULL || ac != st->ac)
		return;
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
	    reply->element[0]->type == REDIS_REPLY_STRING)
		role = reply->element[0]->str;
	else if (reply->type == REDIS_REPLY_ERROR)
		role = reply->str;
	if (strcmp(role, "master") == 0) {
		log_info("redis: connected to master '%s' at %s:%d",
			 sentinel_master_name(st->sentinel), st->host,
			 st->port);
		store_ready(st);
		return;
	}
	log_warnx("redis: %s:%d is not the master (role: %s); asking the "
		  "sentinels again",
		  st->host, st->port, role);
	store_drop(st);
	reconnect_later(st);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct store *st = ac->data;

	if (st == NULL)
		return;
	if (status != REDIS_OK) {
		log_warnx("redis: cannot connect: %s", ac->errstr);
		st->ac = NULL; /* hiredis frees it after this callback */
		evtimer_del(st->handshake);
		reconnect_later(st);
		return;
	}
	if (st->unix_path == NULL) /* TCP only: it fails on unix sockets */
		redisEnableKeepAlive((redisContext *)&ac->c);
	if (st->password)
		redisAsyncCommand(st->ac, on_setup_reply, "AUTH", "AUTH %s",
				  st->password);
	if (st->db)
		redisAsyncCommand(st->ac, on_setup_reply, "SELECT",
				  "SELECT %d", st->db);
	if (st->sentinel) {
		redisAsyncCommand(st->ac, on_role, NULL, "ROLE");
		return;
	}
	log_info("redis: connected");
	store_ready(st);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct store *st = ac->data;

	if (st == NULL)
		return;
	if (status != REDIS_OK)
		log_warnx("redis: connection lost: %s", ac->errstr);
	st->ac = NULL;
	st->connected = false;
	st->probing = false;
	note_state(st);
	evtimer_del(st->handshake);
	reconnect_later(st);
}

/*
 * Close the connection now, without the disconnect callback: calls in
 * flight on it get EIO.  Inside one of its reply callbacks hiredis frees it
 * when the callback returns.  Never call this from on_connect(), which
 * hiredis does not guard.  The caller decides when to connect again.
 */
static void store_drop(struct store *st)
{
	redisAsyncContext *ac = st->ac;

	if (ac == NULL)
		return;
	st->ac = NULL;
	st->connected = false;
	st->probing = false;
	note_state(st);
	evtimer_del(st->handshake);
	ac->data = NULL;
	redisAsyncFree(ac);
}

static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	store_connect(arg);
}

/* A connection that did not become ready in time: try again. */
static void on_handshake(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;

	(void)fd;
	(void)what;
	if (st->ac == NULL || st->connected)
		return;
	if (st->unix_path)
		log_warnx("redis: %s did not answer within %d ms; trying again",
			  st->unix_path, STORE_HANDSHAKE_MS);
	else
		log_warnx("redis: %s:%d did not answer within %d ms; trying "
			  "again",
			  st->host, st->port, STORE_HANDSHAKE_MS);
	store_drop(st);
	reconnect_later(st);
}

/* Open a connection to the current address (st->host or st->unix_path). */
static void store_connect_to(struct store *st)
{
	struct timeval tv = {STORE_HANDSHAKE_MS / 1000,
			     (STORE_HANDSHAKE_MS % 1000) * 1000};
	redisAsyncContext *ac;

	if (st->unix_path)
		ac = redisAsyncConnectUnix(st->unix_path);
	else
		ac = redisAsyncConnect(st->host, st->port);
	if (ac == NULL || ac->err) {
		log_warnx("redis: cannot connect: %s",
			  ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		reconnect_later(st);
		return;
	}
	ac->data = st;
	if (redisLibeventAttach(ac, st->base) != REDIS_OK) {
		redisAsyncFree(ac);
		reconnect_later(st);
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	st->ac = ac;
	evtimer_add(st->handshake, &tv);
}

static void store_connect(struct store *st)
{
	int err;

	if (st->ac != NULL || st->freeing)
		return;
	if (st->sentinel == NULL) {
		store_connect_to(st);
		return;
	}
	/* the answer comes to on_master(); a round under way will do */
	err = sentinel_ask(st->sentinel);
	if (err < 0 && err != -EALREADY)
		reconnect_later(st);
}

/*
 * What the sentinels said, for a (re)connection or for the watch: connect
 * to the master they name unless already there.
 */
static void on_master(void *arg, int err, const char *host, int port)
{
	struct store *st = arg;
	char *h;

	if (st->freeing)
		return;
	if (err < 0) {
		if (st->ac == NULL) {
			log_warnx("redis: no sentinel named the master '%s'",
				  sentinel_master_name(st->sentinel));
			reconnect_later(st);
		}
		return; /* the watch keeps what works */
	}
	if (st->ac != NULL) {
		if (st->host && strcmp(st->host, host) == 0 &&
		    st->port == port)
			return;
		log_warnx("redis: the sentinels moved master '%s' from %s:%d "
			  "to %s:%d",
			  sentinel_master_name(st->sentinel), st->host,
			  st->port, host, port);
		store_drop(st);
	}
	h = strdup(host);
	if (h == NULL) {
		reconnect_later(st);
		return;
	}
	free(st->host);
	st->host = h;
	st->port = port;
	evtimer_del(st->reconnect);
	store_connect_to(st);
}

/* Once a second: has the master moved?  (Asked only while connected.) */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;

	(void)fd;
	(void)what;
	if (st->connected)
		(void)sentinel_ask(st->sentinel);
}

/*
 * Parse "redis://[:password@]host[:port][/db]", "unix:/path",
 * "unix:///path" or a sentinel URL (sentinel.h) into `st`.
 */
static int parse_url(struct store *st, const char *url)
{
	const char *p, *at, *colon, *slash;
	char *end;

	if (sentinel_is_url(url)) {
		int err = sentinel_new(url, &st->sentinel);

		if (err == 0)
			st->db = sentinel_db(st->sentinel);
		return err;
	}
	if (strncmp(url, "unix:", 5) == 0) {
		p = url + 5;
		if (strncmp(p, "//", 2) == 0)
			p += 2;
		if (*p != '/')
			return -EINVAL;
		st->unix_path = strdup(p);
		return st->unix_path ? 0 : -ENOMEM;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return -EINVAL;
	p = url + 8;
	at = strrchr(p, '@');
	if (at) {
		const char *pw = memchr(p, ':', at - p);

		if (pw && pw + 1 < at && st->password == NULL) {
			st->password = strndup(pw + 1, at - pw - 1);
			if (st->password == NULL)
				return -ENOMEM;
		}
		p = at + 1;
	}
	slash = strchr(p, '/');
	colon = memchr(p, ':', slash ? (size_t)(slash - p) : strlen(p));
	st->port = 6379;
	if (colon) {
		long port = strtol(colon + 1, &end, 10);

		if (end == colon + 1 || port <= 0 || port > 65535 ||
		    (*end && *end != '/'))
			return -EINVAL;
		st->port = port;
	}
	st->host = strndup(p, colon ? (size_t)(colon - p)
				    : slash ? (size_t)(slash - p)
					    : strlen(p));
	if (st->host == NULL)
		return -ENOMEM;
	if (*st->host == '\0')
		return -EINVAL;
	if (slash && slash[1]) {
		long db = strtol(slash + 1, &end, 10);

		if (*end || db < 0 || db > 1000)
			return -EINVAL;
		st->db = db;
	}
	return 0;
}

int store_new(struct event_base *base, const struct store_config *cfg,
	      struct store **out)
{
	struct store *st = calloc(1, sizeof(*st));
	int err = -ENOMEM;

	if (st == NULL)
		return -ENOMEM;
	st->base = base;
	TAILQ_INIT(&st->queue);
	st->timeout_ms = cfg->backend_timeout_ms > 0 ? cfg->backend_timeout_ms
						     : 5000;
	st->backoff_ms = 100;
	if (cfg->password) {
		st->password = strdup(cfg->password);
		if (st->password == NULL)
			goto fail;
	}
	if (cfg->prefix == NULL || *cfg->prefix == '\0' ||
	    strpbrk(cfg->prefix, "{}") != NULL) {
		err = -EINVAL;
		goto fail;
	}
	if (asprintf(&st->keyprefix, "{%s}:", cfg->prefix) < 0) {
		st->keyprefix = NULL;
		goto fail;
	}
	err = parse_url(st, cfg->url ? cfg->url : "redis://127.0.0.1:6379");
	if (err < 0)
		goto fail;
	st->answering = true; /* until a call goes unanswered */
	st->since_ms = real_ms();
	st->reconnect = evtimer_new(base, on_reconnect, st);
	st->handshake = evtimer_new(base, on_handshake, st);
	st->probe = evtimer_new(base, on_probe, st);
	if (st->reconnect == NULL || st->handshake == NULL ||
	    st->probe == NULL) {
		err = -ENOMEM;
		goto fail;
	}
	if (st->sentinel) {
		struct timeval tv = {STORE_WATCH_MS / 1000,
				     (STORE_WATCH_MS % 1000) * 1000};

		err = sentinel_attach(st->sentinel, base,
				      STORE_SENTINEL_ASK_MS, on_master, st);
		if (err < 0)
			goto fail;
		st->watch = event_new(base, -1, EV_PERSIST, on_watch, st);
		if (st->watch == NULL || event_add(st->watch, &tv) < 0) {
			err = -ENOMEM;
			goto fail;
		}
	}
	store_connect(st);
	*out = st;
	return 0;
fail:
	store_free(st);
	return err;
}

void store_free(struct store *st)
{
	struct call *c;

	if (st == NULL)
		return;
	st->freeing = true;
	while ((c = TAILQ_FIRST(&st->queue)) != NULL) {
		TAILQ_REMOVE(&st->queue, c, link);
		c->queued = false;
		call_fail(c, -EIO);
		call_free(c);
	}
	if (st->ac) {
		redisAsyncContext *ac = st->ac;

		st->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac); /* fails what is in flight with NULL */
	}
	sentinel_free(st->sentinel); /* a round under way ends unanswered */
	if (st->watch)
		event_free(st->watch);
	if (st->handshake)
		event_free(st->handshake);
	if (st->probe)
		event_free(st->probe);
	if (st->reconnect)
		event_free(st->reconnect);
	for (int s = 0; s < SCRIPT_COUNT; s++)
		free(st->sha[s]);
	free(st->host);
	free(st->unix_path);
	free(st->password);
	free(st->keyprefix);
	free(st);
}

bool store_connected(const struct store *st)
{
	return st->connected && st->answering;
}

int64_t store_since_ms(const struct store *st)
{
	return st->since_ms;
}

void store_get_stats(const struct store *st, struct store_stats *out)
{
	*out = st->stats;
}

/*
 * Sentinel mode, at mount: ask the sentinels where the master is, into
 * tmp->host and tmp->port.
 */
static int probe_sentinels(struct store *tmp, const char *url, char *why,
			   size_t whylen)
{
	char said[256];
	int err;

	err = sentinel_resolve(tmp->sentinel, STORE_SENTINEL_PROBE_MS,
			       &tmp->host, &tmp->port, said, sizeof(said));
	if (err < 0)
		snprintf(why, whylen,
			 "no sentinel of %s named master '%s' (%s)", url,
			 sentinel_master_name(tmp->sentinel), said);
	return err;
}

/* Sentinel mode, at mount: the address the sentinels gave is a master. */
static int probe_role(redisContext *rc, const struct store *tmp, char *why,
		      size_t whylen)
{
	redisReply *r = redisCommand(rc, "ROLE");
	int err = 0;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements == 0 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "master") != 0) {
		snprintf(why, whylen,
			 "redis at %s:%d, named master '%s' by the sentinels, "
			 "is not a master (%s)",
			 tmp->host, tmp->port,
			 sentinel_master_name(tmp->sentinel),
			 r == NULL ? rc->errstr
			 : r->type == REDIS_REPLY_ERROR ? r->str
			 : r->type == REDIS_REPLY_ARRAY && r->elements &&
					 r->element[0]->type ==
						 REDIS_REPLY_STRING
				 ? r->element[0]->str
				 : "unexpected ROLE reply");
		err = -EHOSTUNREACH;
	}
	if (r)
		freeReplyObject(r);
	return err;
}

int store_probe(const struct store_config *cfg, char *why, size_t whylen)
{
	struct store tmp = {0};
	struct timeval tv = {2, 0};
	redisContext *rc = NULL;
	redisReply *r = NULL;
	const char *url = cfg->url ? cfg->url : "redis://127.0.0.1:6379";
	char where[512];
	int err;

	err = parse_url(&tmp, url);
	if (err < 0) {
		snprintf(why, whylen, "bad redis URL '%s'", url);
		goto out;
	}
	snprintf(where, sizeof(where), "%s", url);
	if (tmp.sentinel) {
		err = probe_sentinels(&tmp, url, why, whylen);
		if (err < 0)
			goto out;
		snprintf(where, sizeof(where), "%s:%d (master '%s' of %s)",
			 tmp.host, tmp.port,
			 sentinel_master_name(tmp.sentinel), url);
	}
	if (cfg->password && tmp.password == NULL)
		tmp.password = strdup(cfg->password);
	rc = tmp.unix_path ? redisConnectUnixWithTimeout(tmp.unix_path, tv)
			   : redisConnectWithTimeout(tmp.host, tmp.port, tv);
	if (rc == NULL || rc->err) {
		snprintf(why, whylen, "cannot reach redis at %s: %s", where,
			 rc ? rc->errstr : "out of memory");
		err = -EHOSTUNREACH;
		goto out;
	}
	redisSetTimeout(rc, tv);
	if (tmp.password) {
		r = redisCommand(rc, "AUTH %s", tmp.password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			snprintf(why, whylen, "redis refused the password");
			err = -EACCES;
			goto out;
		}
		freeReplyObject(r);
		r = NULL;
	}
	if (tmp.sentinel && (err = probe_role(rc, &tmp, why, whylen)) < 0)
		goto out;
	r = redisCommand(rc, "PEXPIRETIME lockfs-probe");
	if (r == NULL) {
		snprintf(why, whylen, "redis at %s does not answer: %s",
			 where, rc->errstr);
		err = -ETIMEDOUT;
		goto out;
	}
	if (r->type == REDIS_REPLY_ERROR &&
	    (strncmp(r->str, "NOAUTH", 6) == 0 ||
	     strncmp(r->str, "WRONGPASS", 9) == 0)) {
		snprintf(why, whylen,
			 "redis at %s refuses us: give its password "
			 "(redis_password in the config file, or "
			 "LOCKFS_REDIS_PASSWORD): %s",
			 where, r->str);
		err = -EACCES;
		goto out;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, whylen,
			 "redis at %s is too old (lockfs needs 7.0+): %s",
			 where, r->str);
		err = -ENOTSUP;
		goto out;
	}
	err = 0;
out:
	if (r)
		freeReplyObject(r);
	if (rc)
		redisFree(rc);
	sentinel_free(tmp.sentinel);
	free(tmp.host);
	free(tmp.unix_path);
	free(tmp.password);
	return err;
}

/* ---- operations ---------------------------------------------------- */

static bool is_root(const char *path)
{
	return path[0] == '\0';
}

/*
 * The keys of acquire, renew, release and withdraw: the lock layout at the
 * top of lib.lua (K_*).  Returns the node of `path` too, in `*node`.
 */
static int lock_keys(struct call *c, const char *path, char **node)
{
	static const char *const per_node[] = {"l", "dx", "ds",
					       "q", "wx", "ws"};
	struct store *st = c->st;
	size_t lens[NAME_DEPTH_MAX + 1], n;
	char *ns = NULL;
	int err;

	err = name_parent(path, &ns);
	if (err < 0)
		goto out;
	err = name_lock_node(path, node);
	if (err < 0)
		goto out;
	n = name_ancestor_lengths(*node, lens, NAME_DEPTH_MAX + 1);
	err = -ENAMETOOLONG;
	if (n > NAME_DEPTH_MAX + 1)
		goto out;
	if ((err = args_key(&c->a, st, "token", "", 0)) < 0 ||
	    (err = args_key(&c->a, st, "n", ns, strlen(ns))) < 0 ||
	    (err = args_key(&c->a, st, "f", ns, strlen(ns))) < 0 ||
	    (err = args_key(&c->a, st, "n", path, strlen(path))) < 0 ||
	    (err = args_key(&c->a, st, "wr", "", 0)) < 0 ||
	    (err = args_key(&c->a, st, "wseq", "", 0)) < 0)
		goto out;
	for (size_t i = 0; i <= n; i++) {
		/* the node itself first, then its ancestors, root first */
		size_t len = i == 0 ? strlen(*node) : lens[i - 1];

		for (size_t k = 0; k < 6; k++)
			if ((err = args_key(&c->a, st, per_node[k], *node,
					    len)) < 0)
				goto out;
	}
	c->nkeys = c->a.n;
out:
	free(ns);
	return err;
}

int store_acquire(struct store *st, const char *path,
		  const struct store_holder *h, bool excl,
		  const struct store_wait *wait, store_cb *cb, void *arg)
{
	char flags[3] = "";
	struct call *c = call_new(st, SCRIPT_ACQUIRE, cb, arg);
	char *node = NULL;
	const char *leaf = name_base(path);
	int err;

	if (c == NULL)
		return -ENOMEM;
	if (excl)
		strcat(flags, "e");
	if (wait)
		strcat(flags, "w");
	err = lock_keys(c, path, &node);
	if (err < 0)
		goto out;
	c->comp_path = strdup(path);
	c->comp_holder = strdup(h->id);
	if (c->comp_path == NULL || c->comp_holder == NULL) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = args_str(&c->a, h->id)) < 0 ||
	    (err = args_str(&c->a, h->mode == LOCK_MODE_SHARED ? "s" : "x")) <
		    0 ||
	    (err = args_fmt(&c->a, "%lld", (long long)h->ttl_ms)) < 0 ||
	    (err = args_str(&c->a, flags)) < 0 ||
	    (err = args_str(&c->a, leaf)) < 0 ||
	    (err = args_str(&c->a, node)) < 0 ||
	    (err = args_str(&c->a, strchr(path, '/') ? "0" : "1")) < 0 ||
	    (err = args_str(&c->a, name_is_dir_lock(leaf) ? "1" : "0")) < 0 ||
	    (err = args_str(&c->a, h->node)) < 0 ||
	    (err = args_fmt(&c->a, "%u", (unsigned)h->uid)) < 0 ||
	    (err = args_fmt(&c->a, "%u", (unsigned)h->gid)) < 0 ||
	    (err = args_fmt(&c->a, "%d", (int)h->pid)) < 0 ||
	    (err = args_fmt(&c->a, "%d", (int)h->session)) < 0 ||
	    (err = args_str(&c->a, holder_kind_name(h->kind))) < 0 ||
	    (err = args_str(&c->a, keepalive_name(h->keepalive))) < 0 ||
	    (err = args_str(&c->a, h->note ? h->note : "")) < 0 ||
	    (err = args_str(&c->a, wait ? wait->waiter_id : "")) < 0 ||
	    (err = args_fmt(&c->a, "%lld",
			    (long long)(wait ? wait->lease_ms : 0))) < 0 ||
	    (err = args_str(&c->a, wait ? wait->daemon_node : "")) < 0 ||
	    (err = args_str(&c->a, h->absorb_id ? h->absorb_id : "")) < 0)
		goto out;
	for (size_t i = 0; i < h->ngroups && err == 0; i++)
		err = args_fmt(&c->a, "%u", (unsigned)h->groups[i]);
out:
	free(node);
	return call_start(c, err);
}

int store_renew(struct store *st, const char *path, const char *holder_id,
		int64_t token, int64_t ttl_ms, int keepalive, const char *note,
		size_t note_len, store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_RENEW, cb, arg);
	char *node = NULL;
	int err;

	if (c == NULL)
		return -ENOMEM;
	err = lock_keys(c, path, &node);
	if (err < 0)
		goto out;
	if ((err = args_str(&c->a, holder_id)) < 0 ||
	    (err = args_fmt(&c->a, "%lld", (long long)token)) < 0)
		goto out;
	err = ttl_ms > 0 ? args_fmt(&c->a, "%lld", (long long)ttl_ms)
			 : args_str(&c->a, "");
	if (err < 0)
		goto out;
	err = keepalive >= 0 ? args_str(&c->a, keepalive_name(keepalive))
			     : args_str(&c->a, "");
	if (err < 0)
		goto out;
	if ((err = args_str(&c->a, note ? "1" : "0")) < 0 ||
	    (err = args_add(&c->a, note ? note : "", note ? note_len : 0)) <
		    0 ||
	    (err = args_str(&c->a, name_base(path))) < 0 ||
	    (err = args_str(&c->a, node)) < 0)
		goto out;
out:
	free(node);
	return call_start(c, err);
}

int store_release(struct store *st, const char *path, const char *holder_id,
		  int64_t token, bool force, store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_RELEASE, cb, arg);
	char *node = NULL;
	int err;

	if (c == NULL)
		return -ENOMEM;
	err = lock_keys(c, path, &node);
	if (err < 0)
		goto out;
	if ((err = args_str(&c->a, holder_id)) < 0 ||
	    (err = args_fmt(&c->a, "%lld", (long long)token)) < 0 ||
	    (err = args_str(&c->a, force ? "1" : "0")) < 0 ||
	    (err = args_str(&c->a, name_base(path))) < 0 ||
	    (err = args_str(&c->a, node)) < 0)
		goto out;
out:
	free(node);
	return call_start(c, err);
}

/* The keys of one lock-set member: acquire_set.lua's per-member layout. */
static int set_member_keys(struct call *c, const char *path, char **node,
			   size_t *nanc)
{
	size_t before = c->a.n;
	int err;

	/* lock_keys() writes the globals first (token, n:ns, f:ns, n:path,
	 * wr, wseq): keep its n:ns, f:ns and n:path and drop the rest */
	err = lock_keys(c, path, node);
	if (err < 0)
		return err;
	for (int drop = 0; drop < 3; drop++) {
		static const int idx[3] = {5, 4, 0}; /* wseq, wr, token */
		int i = before + idx[drop];

		free(c->a.v[i]);
		memmove(&c->a.v[i], &c->a.v[i + 1],
			(c->a.n - i - 1) * sizeof(*c->a.v));
		memmove(&c->a.len[i], &c->a.len[i + 1],
			(c->a.n - i - 1) * sizeof(*c->a.len));
		c->a.n--;
	}
	*nanc = (c->a.n - before - 9) / 6;
	return 0;
}

int store_acquire_set(struct store *st, char *const *paths,
		      const enum lock_mode *modes, size_t n,
		      const struct store_holder *h,
		      const struct store_wait *wait, bool withdraw,
		      store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_ACQUIRE_SET, cb, arg);
	struct args members = {0};
	char flags[3] = "";
	int err = 0;

	if (c == NULL)
		return -ENOMEM;
	if (wait)
		strcat(flags, "w");
	if (withdraw)
		strcat(flags, "d");
	for (int i = 0; i < 4 && err == 0; i++)
		err = args_key(&c->a, st, "token", "", 0);
	if (err == 0)
		err = args_key(&c->a, st, "wr", "", 0);
	if (err == 0)
		err = args_key(&c->a, st, "wseq", "", 0);
	for (size_t i = 0; i < n && err == 0; i++) {
		char *node = NULL;
		size_t nanc = 0;

		const char *leaf = name_base(paths[i]);

		err = set_member_keys(c, paths[i], &node, &nanc);
		if (err == 0)
			err = args_str(&members, modes[i] == LOCK_MODE_SHARED
							 ? "s"
							 : "x");
		if (err == 0)
			err = args_str(&members, leaf);
		if (err == 0)
			err = args_str(&members, node);
		if (err == 0)
			err = args_str(&members,
				       strchr(paths[i], '/') ? "0" : "1");
		if (err == 0)
			err = args_str(&members,
				       name_is_dir_lock(leaf) ? "1" : "0");
		if (err == 0)
			err = args_fmt(&members, "%zu", nanc);
		free(node);
	}
	if (err < 0)
		goto out;
	c->nkeys = c->a.n;
	if ((err = args_str(&c->a, h->id)) < 0 ||
	    (err = args_fmt(&c->a, "%lld", (long long)h->ttl_ms)) < 0 ||
	    (err = args_str(&c->a, flags)) < 0 ||
	    (err = args_str(&c->a, wait ? wait->waiter_id : "")) < 0 ||
	    (err = args_fmt(&c->a, "%lld",
			    (long long)(wait ? wait->lease_ms : 0))) < 0 ||
	    (err = args_str(&c->a, wait ? wait->daemon_node : "")) < 0 ||
	    (err = args_str(&c->a, h->node)) < 0 ||
	    (err = args_fmt(&c->a, "%u", (unsigned)h->uid)) < 0 ||
	    (err = args_fmt(&c->a, "%u", (unsigned)h->gid)) < 0 ||
	    (err = args_fmt(&c->a, "%d", (int)h->pid)) < 0 ||
	    (err = args_fmt(&c->a, "%d", (int)h->session)) < 0 ||
	    (err = args_str(&c->a, keepalive_name(h->keepalive))) < 0 ||
	    (err = args_fmt(&c->a, "%zu", n)) < 0)
		goto out;
	for (int i = 0; i < members.n && err == 0; i++)
		err = args_add(&c->a, members.v[i], members.len[i]);
	for (size_t i = 0; i < h->ngroups && err == 0; i++)
		err = args_fmt(&c->a, "%u", (unsigned)h->groups[i]);
out:
	args_clear(&members);
	return call_start(c, err);
}

int store_withdraw(struct store *st, const char *path, const char *waiter_id,
		   store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_WITHDRAW, cb, arg);
	char *node = NULL;
	int err;

	if (c == NULL)
		return -ENOMEM;
	err = lock_keys(c, path, &node);
	if (err == 0)
		err = args_str(&c->a, waiter_id);
	free(node);
	return call_start(c, err);
}

int store_stat(struct store *st, const char *path, store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_STAT, cb, arg);
	char *ns = NULL, *node = NULL;
	const char *leaf = name_base(path);
	int err = 0;

	if (c == NULL)
		return -ENOMEM;
	if (is_root(path)) {
		err = args_key(&c->a, st, "n", "", 0);
		if (err < 0 || (err = args_key(&c->a, st, "l", "", 0)) < 0 ||
		    (err = args_key(&c->a, st, "n", "", 0)) < 0 ||
		    (err = args_key(&c->a, st, "q", "", 0)) < 0)
			goto out;
	} else {
		if ((err = name_parent(path, &ns)) < 0 ||
		    (err = name_lock_node(path, &node)) < 0 ||
		    (err = args_key(&c->a, st, "n", path, strlen(path))) < 0 ||
		    (err = args_key(&c->a, st, "l", node, strlen(node))) < 0 ||
		    (err = args_key(&c->a, st, "n", ns, strlen(ns))) < 0 ||
		    (err = args_key(&c->a, st, "q", node, strlen(node))) < 0)
			goto out;
	}
	c->nkeys = 4;
	if ((err = args_str(&c->a, is_root(path) ? "1" : "0")) < 0 ||
	    (err = args_str(&c->a, name_is_dir_lock(leaf) ? "1" : "0")) < 0 ||
	    (err = args_str(&c->a, ns && is_root(ns) ? "1" : "0")) < 0)
		goto out;
out:
	free(ns);
	free(node);
	return call_start(c, err);
}

int store_list(struct store *st, const char *ns, store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_LIST, cb, arg);
	size_t len = strlen(ns);
	int err;

	if (c == NULL)
		return -ENOMEM;
	if ((err = args_key(&c->a, st, "n", ns, len)) < 0 ||
	    (err = args_key(&c->a, st, "c", ns, len)) < 0 ||
	    (err = args_key(&c->a, st, "f", ns, len)) < 0)
		goto out;
	c->nkeys = 3;
	err = args_str(&c->a, is_root(ns) ? "1" : "0");
out:
	return call_start(c, err);
}

int store_mkdir(struct store *st, const char *path, mode_t mode, uid_t uid,
		gid_t gid, store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_MKDIR, cb, arg);
	char *parent = NULL;
	size_t len = strlen(path);
	int err;

	if (c == NULL)
		return -ENOMEM;
	if ((err = name_parent(path, &parent)) < 0 ||
	    (err = args_key(&c->a, st, "n", parent, strlen(parent))) < 0 ||
	    (err = args_key(&c->a, st, "c", parent, strlen(parent))) < 0 ||
	    (err = args_key(&c->a, st, "n", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "l", path, len)) < 0)
		goto out;
	c->nkeys = 4;
	if ((err = args_str(&c->a, name_base(path))) < 0 ||
	    (err = args_fmt(&c->a, "%u", (unsigned)mode)) < 0 ||
	    (err = args_fmt(&c->a, "%u", (unsigned)uid)) < 0 ||
	    (err = args_fmt(&c->a, "%u", (unsigned)gid)) < 0 ||
	    (err = args_str(&c->a, is_root(parent) ? "1" : "0")) < 0)
		goto out;
out:
	free(parent);
	return call_start(c, err);
}

int store_rmdir(struct store *st, const char *path, store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_RMDIR, cb, arg);
	char *parent = NULL;
	size_t len = strlen(path);
	int err;

	if (c == NULL)
		return -ENOMEM;
	if ((err = name_parent(path, &parent)) < 0 ||
	    (err = args_key(&c->a, st, "n", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "c", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "f", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "dx", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "wr", "", 0)) < 0 ||
	    (err = args_key(&c->a, st, "ds", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "l", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "n", parent, strlen(parent))) < 0 ||
	    (err = args_key(&c->a, st, "c", parent, strlen(parent))) < 0 ||
	    (err = args_key(&c->a, st, "q", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "wx", path, len)) < 0 ||
	    (err = args_key(&c->a, st, "ws", path, len)) < 0)
		goto out;
	c->nkeys = 12;
	if ((err = args_str(&c->a, name_base(path))) < 0 ||
	    (err = args_str(&c->a, is_root(parent) ? "1" : "0")) < 0)
		goto out;
out:
	free(parent);
	return call_start(c, err);
}

int store_setattr(struct store *st, const char *path, long mode, long uid,
		  long gid, store_cb *cb, void *arg)
{
	struct call *c = call_new(st, SCRIPT_SETATTR, cb, arg);
	int err;

	if (c == NULL)
		return -ENOMEM;
	if ((err = args_key(&c->a, st, "n", path, strlen(path))) < 0)
		goto out;
	c->nkeys = 1;
	if ((err = args_str(&c->a, is_root(path) ? "1" : "0")) < 0)
		goto out;
	err = mode >= 0 ? args_fmt(&c->a, "%ld", mode) : args_str(&c->a, "");
	if (err < 0)
		goto out;
	err = uid >= 0 ? args_fmt(&c->a, "%ld", uid) : args_str(&c->a, "");
	if (err < 0)
		goto out;
	err = gid >= 0 ? args_fmt(&c->a, "%ld", gid) : args_str(&c->a, "");
out:
	return call_start(c, err);
}
