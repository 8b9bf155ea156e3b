/*
 * store_call.c - the store's life and its calls (see store.h, store_i.h):
 * store_new() makes the store and opens its connection (store_conn.c,
 * the layer below, which reaches back up only through the conn_hooks
 * handed to it); store_free() fails what waits and frees it all.
 *
 * A call is a small state machine with exactly one answer: it is queued
 * while the connection is down, sent (FCALL of its function in the
 * library store_conn.c loads on connect, loaded again first when the
 * server says it has lost it), and answered either by the reply or by its
 * deadline timer, whichever comes first.  A call answered by its deadline
 * stays alive until Redis replies or the connection drops, so a late grant
 * can be undone (compensated) instead of leaking a lock.
 *
 * A circuit breaker keeps one frozen Redis from costing a caller one
 * backend_timeout per system call: once a call has gone unanswered for
 * backend_timeout, Redis counts as not answering and new calls fail with
 * EIO at once (undos excepted: withdrawals and disowned grants still go),
 * while a PING is sent every STORE_PROBE_MS in the background (and the
 * sentinels or the cluster are asked where the master is); the first
 * reply to anything sent after that closes the breaker again.  A late
 * reply to a call sent before does not: behind a partition or a WAIT for
 * absent replicas, late replies keep trickling in, and each would
 * otherwise let new calls wait out their own backend_timeout.  Calls
 * already queued or in flight keep their own deadlines.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "locator.h"
#include "log.h"
#include "script_iface.h"
#include "store_i.h"
#include "metrics.h"

const char *const script_name[SCRIPT_COUNT] = {
	"acquire", "acquire_set", "renew", "release", "withdraw", "stat",
	"list",    "mkdir", "rmdir",   "setattr", "file",
};

static void call_send(struct call *c);
static void set_answering(struct store *st, bool answering);

/* ---- calls --------------------------------------------------------- */

static void call_free(struct call *c)
{
	if (c == NULL)
		return;
	if (c->waits) { /* a WAIT reply still refers to it */
		c->free_pending = true;
		return;
	}
	if (c->held)
		freeReplyObject(c->held);
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
	if (res->now_ms > 0) { /* a Redis TIME, read a moment ago */
		c->st->redis_offset_ms = res->now_ms - mono_ms();
		c->st->redis_clock_known = true;
	}
	c->cb(c->arg, res);
}

static void call_fail(struct call *c, int err)
{
	struct store_result res = {.err = err, .extra = ""};

	call_answer(c, &res);
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
	metrics_rtt(&st->rtt, rtt_s);
}

/* A reply to `c`: Redis answers, if `c` was sent after it fell silent. */
static void heard_from(struct call *c)
{
	if (c->sent_ns > c->st->silent_ns)
		set_answering(c->st, true);
}

/*
 * An error that says "not here" and wrote nothing: READONLY (a replica),
 * or a Redis Cluster redirection (MOVED, ASK: the slot is, or is going,
 * elsewhere; TRYAGAIN, CLUSTERDOWN: not now).
 */
static bool is_redirection(const char *err)
{
	static const char *const words[] = {"READONLY", "MOVED", "ASK",
					    "TRYAGAIN", "CLUSTERDOWN"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strncmp(err, words[i], strlen(words[i])) == 0 &&
		    (err[strlen(words[i])] == ' ' ||
		     err[strlen(words[i])] == '\0'))
			return true;
	return strstr(err, "READONLY") != NULL;
}

/* A deep copy of `r` that freeReplyObject() frees; NULL on -ENOMEM. */
static redisReply *reply_copy(const redisReply *r)
{
	redisReply *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->type = r->type;
	c->integer = r->integer;
	if (r->str) {
		c->str = malloc(r->len + 1);
		if (c->str == NULL)
			goto fail;
		memcpy(c->str, r->str, r->len + 1);
		c->len = r->len;
	}
	if (r->elements) {
		c->element = calloc(r->elements, sizeof(*c->element));
		if (c->element == NULL)
			goto fail;
		for (; c->elements < r->elements; c->elements++)
			if ((c->element[c->elements] =
				     reply_copy(r->element[c->elements])) == NULL)
				goto fail;
	}
	return c;
fail:
	freeReplyObject(c);
	return NULL;
}

/*
 * A script's reply, as it is: parsed, its grants handed over (unless
 * `hand_over` is false: a change WAIT did not confirm), and answered, or
 * compensated when its caller was answered already.
 */
static void call_finish(struct call *c, const redisReply *reply,
			bool hand_over)
{
	struct store_result res = {.extra = ""};
	int err = parse_reply(reply, &res);

	if (err < 0) {
		log_warnx("redis: malformed reply to script %s",
			  script_name[c->script]);
		call_fail(c, err);
	} else {
		if (hand_over && res.ngrants && c->st->grants_cb)
			c->st->grants_cb(c->st->grants_arg, &res);
		if (c->answered) {
			if (c->late)
				c->late(c, &res);
		} else
			call_answer(c, &res);
	}
	result_clear(&res);
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct call *c = privdata;
	redisReply *reply = r;

	c->in_flight = false;
	count_reply(c, reply);
	if (reply != NULL)
		heard_from(c);
	if (reply == NULL) { /* connection gone */
		call_fail(c, -EIO);
		goto done;
	}
	if (reply->type == REDIS_REPLY_ERROR && c->st->addr.locator &&
	    is_redirection(reply->str) && !c->st->freeing) {
		/* a replica now, or the slot moved: it wrote nothing, so this
		 * call may go again, to the master found anew */
		if (ac->data == c->st && ac == c->st->ac) {
			log_warnx("redis: %s:%d answers '%s': looking for the "
				  "master again",
				  c->st->addr.host, c->st->addr.port, reply->str);
			conn_drop(c->st);
			conn_reconnect_later(c->st);
		}
		if (!c->answered) {
			call_send(c);
			if (c->queued)
				return;
		}
		goto done;
	}
	if (reply->type == REDIS_REPLY_ERROR &&
	    strstr(reply->str, "Function not found") && !c->st->freeing &&
	    !c->reloaded) {
		/* the server lost its functions (FLUSHALL, a restart without
		 * persistence): load them again, ahead of this call, once */
		c->reloaded = true;
		c->st->library_sent = false;
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
	if (c->waits) { /* redis_replicas=: until WAIT confirms it */
		c->held = reply_copy(reply);
		if (c->held == NULL)
			call_fail(c, -ENOMEM);
		return;
	}
	call_finish(c, reply, true);
done:
	call_free(c);
}

/*
 * The WAIT sent after a state change (redis_replicas=): with enough
 * replicas the held reply goes on as any reply; without, the caller hears
 * EIO and a grant it made is undone (its grants are not handed over).
 */
static void on_wait(redisAsyncContext *ac, void *r, void *privdata)
{
	struct call *c = privdata;
	redisReply *reply = r;
	bool confirmed = reply && reply->type == REDIS_REPLY_INTEGER &&
			 reply->integer >= c->st->replicas;

	(void)ac;
	c->waits--;
	if (c->held && c->waits == 0) {
		if (!confirmed) {
			log_warnx("redis: a %s was not confirmed by %d "
				  "replica(s) in time: EIO, undone",
				  script_name[c->script], c->st->replicas);
			call_fail(c, -EIO);
		}
		call_finish(c, c->held, confirmed);
		freeReplyObject(c->held);
		c->held = NULL;
	}
	if (c->waits == 0 && (c->free_pending || !c->in_flight))
		call_free(c);
}

/* Which scripts change what Redis holds (and so wait for replicas). */
static bool changes_state(enum script s)
{
	return s != SCRIPT_STAT && s != SCRIPT_LIST;
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

/* Where the stat call's keys and arguments are (store_stat builds them
 * by script_iface.h's STAT_KEYS and STAT_ARGS). */
enum {
	PEEK_PATH_NS = STAT_KEY_PATHNS, /* n:<path> */
	PEEK_LOCK = STAT_KEY_LOCK,      /* l:<node> */
	PEEK_NS = STAT_KEY_NS,          /* n:<ns> */
	PEEK_FILES = STAT_KEY_FILES,    /* f:<ns> */
	PEEK_NS_IS_ROOT = STAT_NKEYS + STAT_NS_IS_ROOT, /* '1' | '0' */
	PEEK_LEAF = STAT_NKEYS + STAT_LEAF,
};

/*
 * The answer to a peek (send_peek): TIME, then "how many of the name's
 * namespace and lock keys exist", "is there a lock file of that name",
 * and, unless the namespace holding it is the root, "does it exist".
 */
static bool peek_says_nothing(const struct call *c, const redisReply *r,
			      struct store_result *res)
{
	size_t want = c->a.v[PEEK_NS_IS_ROOT][0] == '1' ? 3 : 4; /* root: 3 */

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != want ||
	    r->element[0]->type != REDIS_REPLY_ARRAY ||
	    r->element[0]->elements != 2)
		return false;
	for (size_t i = 1; i < want; i++)
		if (r->element[i]->type != REDIS_REPLY_INTEGER)
			return false;
	if (r->element[1]->integer != 0 || r->element[2]->integer != 0 ||
	    (want == 4 && r->element[3]->integer != 1))
		return false;
	res->now_ms = strtoll(r->element[0]->element[0]->str, NULL, 10) * 1000 +
		      strtoll(r->element[0]->element[1]->str, NULL, 10) / 1000;
	res->kind = STORE_NONE;
	return true;
}

static void on_peek(redisAsyncContext *ac, void *r, void *privdata)
{
	struct call *c = privdata;
	struct store_result res = {.extra = ""};

	(void)ac;
	c->in_flight = false;
	c->peek = false;
	count_reply(c, r);
	if (r == NULL) { /* connection gone */
		call_fail(c, -EIO);
	} else if (peek_says_nothing(c, r, &res)) {
		heard_from(c);
		call_answer(c, &res);
	} else if (!c->answered && !c->st->freeing) {
		/* something is there (or the peek was refused: a moved
		 * slot): the script says what */
		heard_from(c);
		call_send(c);
		if (c->in_flight || c->queued)
			return;
	}
	call_free(c);
}

/*
 * Most lookups before a create find nothing; saying so takes Redis a few
 * plain commands, where the stat script costs it tens of microseconds.
 * One transaction, so that the answer is what one moment held: the keys
 * are stat.lua's (store_stat): n:<path>, l:<node>, n:<ns>, f:<ns>, and
 * the leaf.  Returns false when it could not be sent.
 */
static bool send_peek(struct call *c)
{
	redisAsyncContext *ac = c->st->ac;
	const struct args *a = &c->a;
	bool ns_is_root = a->v[PEEK_NS_IS_ROOT][0] == '1';

	if (redisAsyncCommand(ac, NULL, NULL, "MULTI") != REDIS_OK ||
	    redisAsyncCommand(ac, NULL, NULL, "TIME") != REDIS_OK ||
	    redisAsyncCommand(ac, NULL, NULL, "EXISTS %b %b",
			      a->v[PEEK_PATH_NS], a->len[PEEK_PATH_NS],
			      a->v[PEEK_LOCK], a->len[PEEK_LOCK]) != REDIS_OK ||
	    redisAsyncCommand(ac, NULL, NULL, "HEXISTS %b %b",
			      a->v[PEEK_FILES], a->len[PEEK_FILES],
			      a->v[PEEK_LEAF], a->len[PEEK_LEAF]) != REDIS_OK ||
	    (!ns_is_root &&
	     redisAsyncCommand(ac, NULL, NULL, "EXISTS %b", a->v[PEEK_NS],
			       a->len[PEEK_NS]) != REDIS_OK) ||
	    redisAsyncCommand(ac, on_peek, c, "EXEC") != REDIS_OK)
		return false;
	c->in_flight = true;
	c->sent_ns = mono_ns();
	return true;
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
	char nkeys[16], fn[128];
	int argc = c->a.n + 3, i;

	if (!st->connected || st->ac == NULL) {
		if (!c->queued) {
			TAILQ_INSERT_TAIL(&st->queue, c, link);
			c->queued = true;
		}
		return;
	}
	if (c->peek) {
		if (!send_peek(c) && !c->queued) { /* as below */
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
	snprintf(fn, sizeof(fn), "%s_%s", lua_library_id,
		 script_name[c->script]);
	conn_load_library(st);
	argv[0] = "FCALL";
	argv[1] = fn;
	argv[2] = nkeys;
	for (i = 0; i < 3; i++)
		lens[i] = strlen(argv[i]);
	for (i = 0; i < c->a.n; i++) {
		argv[i + 3] = c->a.v[i];
		lens[i + 3] = c->a.len[i];
	}
	if (redisAsyncCommandArgv(st->ac, on_reply, c, argc, argv, lens) !=
	    REDIS_OK) {
		/* the connection is going away: wait for the next one, or the
		 * deadline, rather than answer from inside the caller's own
		 * call (a caller that calls again from its callback would
		 * recurse without end) */
		if (!c->queued) {
			TAILQ_INSERT_TAIL(&st->queue, c, link);
			c->queued = true;
		}
		goto out;
	}
	/* redis_replicas=: a change is answered once replicas have it (the
	 * WAIT returns before the call's own deadline) */
	if (st->replicas > 0 && changes_state(c->script) &&
	    redisAsyncCommand(st->ac, on_wait, c, "WAIT %d %lld", st->replicas,
			      (long long)(st->timeout_ms * 3 / 4)) == REDIS_OK)
		c->waits++;
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

struct call *call_new(struct store *st, enum script s, store_cb *cb,
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
int call_start(struct call *c, int err)
{
	struct timeval tv;

	if (err == 0 && c->st->freeing)
		err = -ESHUTDOWN;
	if (err == 0 && !c->st->answering && !c->undo)
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
	if (!answering)
		st->silent_ns = mono_ns();
	if (answering) {
		log_info("redis: answering again");
		evtimer_del(st->probe);
	} else {
		log_warnx("redis: no answer within %lld ms; new calls fail "
			  "at once until it answers",
			  (long long)st->timeout_ms);
		arm_probe(st);
	}
	conn_note_state(st);
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
	/* behind a silent partition no redirection ever comes: ask where
	 * the master is now (a Redis Cluster has no watch of its own) */
	if (st->addr.locator)
		(void)locator_ask(st->addr.locator);
	arm_probe(st);
}

/* ---- the store's life ---------------------------------------------- */

/* The connection is ready (conn_hooks): send what waited for it. */
static void send_queued(struct store *st)
{
	struct call *c;

	while ((c = TAILQ_FIRST(&st->queue)) != NULL) {
		TAILQ_REMOVE(&st->queue, c, link);
		c->queued = false;
		call_send(c);
		call_release_if_idle(c);
	}
}

/* Redis answered what was no call (conn_hooks): the library load. */
static void answered(struct store *st)
{
	set_answering(st, true);
}

int store_new(struct event_base *base, const struct store_config *cfg,
	      struct store **out)
{
	static const struct conn_hooks hooks = {
		.ready = send_queued,
		.answered = answered,
	};
	struct store *st = calloc(1, sizeof(*st));
	int err = -ENOMEM;

	if (st == NULL)
		return -ENOMEM;
	st->base = base;
	TAILQ_INIT(&st->queue);
	st->timeout_ms = cfg->backend_timeout_ms > 0 ? cfg->backend_timeout_ms
						     : 5000;
	st->replicas = cfg->replicas > 0 ? cfg->replicas : 0;
	if (cfg->prefix == NULL || *cfg->prefix == '\0' ||
	    strpbrk(cfg->prefix, "{}") != NULL) {
		err = -EINVAL;
		goto fail;
	}
	if (asprintf(&st->keyprefix, "{%s}:", cfg->prefix) < 0) {
		st->keyprefix = NULL;
		goto fail;
	}
	st->answering = true; /* until a call goes unanswered */
	st->since_ms = wall_ms();
	st->probe = evtimer_new(base, on_probe, st);
	if (st->probe == NULL)
		goto fail;
	err = conn_open(st, cfg, &hooks);
	if (err < 0)
		goto fail;
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
	conn_close(st);
	if (st->probe)
		event_free(st->probe);
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

int64_t store_redis_now(const struct store *st)
{
	return st->redis_clock_known ? mono_ms() + st->redis_offset_ms : 0;
}

void store_get_stats(const struct store *st, struct store_stats *out)
{
	*out = st->stats;
}

void store_set_grants_cb(struct store *st, store_grants_cb *cb, void *arg)
{
	st->grants_cb = cb;
	st->grants_arg = arg;
}
