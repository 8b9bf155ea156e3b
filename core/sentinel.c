/*
 * sentinel.c - finding the Redis master through Redis Sentinel (see
 * sentinel.h).
 *
 * Owns the parsed list of sentinels, the index of the one that answered
 * last (asked first next time), and on a loop one asynchronous connection
 * to that sentinel, kept between rounds so the store's once-a-second check
 * costs one round trip, not a TCP handshake.
 *
 * A round is a small state machine: ask sentinel `cur`, arm its deadline;
 * an address ends the round; an error, a nil (that sentinel does not know
 * the master), a broken connection or the deadline drop the connection and
 * move on to the next sentinel, until every one was asked once.  Whatever
 * happens, the round ends in exactly one callback, always from the loop
 * (a reply or a timer), never from sentinel_ask().
 *
 * hiredis runs a context's pending callbacks with a NULL reply while it
 * frees it.  A context we drop on purpose has its `data` cleared first, so
 * those callbacks know to stay quiet; one that hiredis drops (the sentinel
 * went away) still has it, and its NULL reply moves the round on.
 */
#include "sentinel.h"

#include <errno.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct sentinel {
	size_t n;
	char *host[SENTINEL_MAX];
	int port[SENTINEL_MAX];
	char *master;
	int db;
	size_t cur; /* answered last: asked first */

	/* asynchronous rounds, after sentinel_attach() */
	struct event_base *base;
	int64_t timeout_ms;
	sentinel_cb *cb;
	void *arg;
	redisAsyncContext *ac; /* to sentinel `cur`, or NULL */
	struct event *deadline;
	bool asking;
	bool start_failed; /* the deadline fires at once: no complaint */
	size_t tried;      /* sentinels asked in this round */
};

static void ask_current(struct sentinel *s);

bool sentinel_is_url(const char *url)
{
	return url != NULL && strncmp(url, "sentinel://", 11) == 0;
}

/*
 * Parse one "HOST[:PORT]" or "[V6ADDR][:PORT]" of `len` bytes at `p` into
 * sentinel slot s->n.
 */
static int parse_addr(struct sentinel *s, const char *p, size_t len)
{
	const char *end = p + len, *host = p, *hend, *colon = NULL;
	long port = SENTINEL_DEFAULT_PORT;

	if (s->n == SENTINEL_MAX)
		return -EINVAL;
	if (len > 0 && *p == '[') {
		host = p + 1;
		hend = memchr(host, ']', end - host);
		if (hend == NULL)
			return -EINVAL;
		if (hend + 1 < end) {
			if (hend[1] != ':')
				return -EINVAL;
			colon = hend + 1;
		}
	} else {
		colon = memchr(p, ':', len);
		hend = colon ? colon : end;
	}
	if (hend == host)
		return -EINVAL;
	for (const char *c = host; c < hend; c++)
		if (*c <= ' ' || *c == '@' || *c == '/' || *c == '[' ||
		    *c == ']' || (*c == ':' && *p != '['))
			return -EINVAL;
	if (colon) {
		char buf[8];
		char *e;
		size_t plen = end - colon - 1;

		if (plen == 0 || plen >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, colon + 1, plen);
		buf[plen] = '\0';
		port = strtol(buf, &e, 10);
		if (*e || port <= 0 || port > 65535)
			return -EINVAL;
	}
	s->host[s->n] = strndup(host, hend - host);
	if (s->host[s->n] == NULL)
		return -ENOMEM;
	s->port[s->n] = port;
	s->n++;
	return 0;
}

/* "MASTER[/DB]" at `p`. */
static int parse_master(struct sentinel *s, const char *p)
{
	const char *slash = strchr(p, '/');
	size_t len = slash ? (size_t)(slash - p) : strlen(p);

	if (len == 0 || len > 128)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f)
			return -EINVAL;
	if (slash) {
		char *e;
		long db = strtol(slash + 1, &e, 10);

		if (e == slash + 1 || *e || db < 0 || db > 1000)
			return -EINVAL;
		s->db = db;
	}
	s->master = strndup(p, len);
	return s->master ? 0 : -ENOMEM;
}

int sentinel_new(const char *url, struct sentinel **out)
{
	struct sentinel *s;
	const char *p, *slash;
	int err;

	if (!sentinel_is_url(url))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	p = url + 11;
	slash = strchr(p, '/');
	err = -EINVAL;
	if (slash == NULL)
		goto fail;
	while (p < slash) {
		const char *sep = p;

		while (sep < slash && *sep != ',' && *sep != ';')
			sep++;
		err = parse_addr(s, p, sep - p);
		if (err < 0)
			goto fail;
		p = sep < slash ? sep + 1 : sep;
		if (sep < slash && p == slash) { /* a trailing separator */
			err = -EINVAL;
			goto fail;
		}
	}
	err = -EINVAL;
	if (s->n == 0)
		goto fail;
	err = parse_master(s, slash + 1);
	if (err < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	sentinel_free(s);
	return err;
}

/* Drop the connection to the current sentinel, quietly. */
static void drop_conn(struct sentinel *s)
{
	redisAsyncContext *ac = s->ac;

	if (ac == NULL)
		return;
	s->ac = NULL;
	ac->data = NULL;
	redisAsyncFree(ac); /* inside one of its callbacks: afterwards */
}

void sentinel_free(struct sentinel *s)
{
	if (s == NULL)
		return;
	drop_conn(s);
	if (s->deadline)
		event_free(s->deadline);
	for (size_t i = 0; i < s->n; i++)
		free(s->host[i]);
	free(s->master);
	free(s);
}

size_t sentinel_count(const struct sentinel *s)
{
	return s->n;
}

const char *sentinel_host(const struct sentinel *s, size_t i)
{
	return i < s->n ? s->host[i] : NULL;
}

int sentinel_port(const struct sentinel *s, size_t i)
{
	return i < s->n ? s->port[i] : 0;
}

const char *sentinel_master_name(const struct sentinel *s)
{
	return s->master;
}

int sentinel_db(const struct sentinel *s)
{
	return s->db;
}

/*
 * Whether `r` is a master address as get-master-addr-by-name gives it: an
 * array of host and port.  Sets `*port`.
 */
static bool reply_addr(const redisReply *r, int *port)
{
	long p;
	char *e;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len == 0)
		return false;
	p = strtol(r->element[1]->str, &e, 10);
	if (*e || p <= 0 || p > 65535)
		return false;
	*port = p;
	return true;
}

static const char *reply_complaint(const redisReply *r)
{
	if (r->type == REDIS_REPLY_ERROR)
		return r->str;
	if (r->type == REDIS_REPLY_NIL)
		return "does not know the master";
	return "unexpected reply";
}

/* ---- synchronous ----------------------------------------------------- */

int sentinel_resolve(struct sentinel *s, int64_t timeout_ms, char **host,
		     int *port, char *why, size_t whylen)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

	snprintf(why, whylen, "no sentinel");
	for (size_t k = 0; k < s->n; k++) {
		size_t i = (s->cur + k) % s->n;
		redisContext *rc;
		redisReply *r;

		rc = redisConnectWithTimeout(s->host[i], s->port[i], tv);
		if (rc == NULL || rc->err) {
			snprintf(why, whylen, "sentinel %s:%d: %s", s->host[i],
				 s->port[i], rc ? rc->errstr : "out of memory");
			redisFree(rc);
			continue;
		}
		redisSetTimeout(rc, tv);
		r = redisCommand(rc, "SENTINEL get-master-addr-by-name %s",
				 s->master);
		if (r == NULL)
			snprintf(why, whylen, "sentinel %s:%d: %s", s->host[i],
				 s->port[i], rc->errstr);
		else if (!reply_addr(r, port))
			snprintf(why, whylen, "sentinel %s:%d on '%s': %s",
				 s->host[i], s->port[i], s->master,
				 reply_complaint(r));
		else {
			*host = strdup(r->element[0]->str);
			freeReplyObject(r);
			redisFree(rc);
			if (*host == NULL)
				return -ENOMEM;
			s->cur = i;
			return 0;
		}
		if (r)
			freeReplyObject(r);
		redisFree(rc);
	}
	return -EHOSTUNREACH;
}

/* ---- asynchronous ---------------------------------------------------- */

static void round_end(struct sentinel *s, int err, const char *host, int port)
{
	s->asking = false;
	evtimer_del(s->deadline);
	s->cb(s->arg, err, host, port);
}

/* Sentinel `cur` failed this round: try the next one, or give up. */
static void ask_next(struct sentinel *s)
{
	drop_conn(s);
	evtimer_del(s->deadline);
	s->cur = (s->cur + 1) % s->n;
	if (++s->tried >= s->n) {
		round_end(s, -EHOSTUNREACH, NULL, 0);
		return;
	}
	ask_current(s);
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct sentinel *s = ac->data;
	redisReply *reply = r;
	char host[256];
	int port;

	(void)privdata;
	if (s == NULL)
		return;
	if (reply == NULL) { /* the connection broke; hiredis frees it */
		s->ac = NULL;
		ac->data = NULL;
		if (s->asking) {
			log_warnx("sentinel %s:%d: connection lost",
				  s->host[s->cur], s->port[s->cur]);
			ask_next(s);
		}
		return;
	}
	if (!s->asking)
		return;
	if (!reply_addr(reply, &port) ||
	    reply->element[0]->len >= sizeof(host)) {
		log_warnx("sentinel %s:%d on '%s': %s", s->host[s->cur],
			  s->port[s->cur], s->master,
			  reply_complaint(reply));
		ask_next(s);
		return;
	}
	memcpy(host, reply->element[0]->str, reply->element[0]->len + 1);
	round_end(s, 0, host, port);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct sentinel *s = arg;

	(void)fd;
	(void)what;
	if (!s->asking)
		return;
	if (!s->start_failed)
		log_warnx("sentinel %s:%d: no answer within %lld ms",
			  s->host[s->cur], s->port[s->cur],
			  (long long)s->timeout_ms);
	ask_next(s);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct sentinel *s = ac->data;

	if (s == NULL || status == REDIS_OK)
		return;
	/* hiredis frees `ac` after this; its pending reply stays quiet */
	log_warnx("sentinel %s:%d: %s", s->host[s->cur], s->port[s->cur],
		  ac->errstr);
	s->ac = NULL;
	((redisAsyncContext *)ac)->data = NULL;
	if (s->asking)
		ask_next(s);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct sentinel *s = ac->data;

	(void)status;
	if (s == NULL)
		return;
	/* between rounds: connect again at the next one */
	s->ac = NULL;
	((redisAsyncContext *)ac)->data = NULL;
}

/*
 * Ask sentinel `cur`.  A failure to even start is left to the deadline,
 * fired at once, so that no round ends inside sentinel_ask().
 */
static void ask_current(struct sentinel *s)
{
	struct timeval tv = {s->timeout_ms / 1000,
			     (s->timeout_ms % 1000) * 1000};
	struct timeval now = {0, 0};
	redisAsyncContext *ac = s->ac;

	s->start_failed = true;
	if (ac == NULL) {
		ac = redisAsyncConnect(s->host[s->cur], s->port[s->cur]);
		if (ac == NULL || ac->err) {
			log_warnx("sentinel %s:%d: %s", s->host[s->cur],
				  s->port[s->cur],
				  ac ? ac->errstr : "out of memory");
			if (ac)
				redisAsyncFree(ac);
			evtimer_add(s->deadline, &now);
			return;
		}
		if (redisLibeventAttach(ac, s->base) != REDIS_OK) {
			redisAsyncFree(ac);
			evtimer_add(s->deadline, &now);
			return;
		}
		ac->data = s;
		redisAsyncSetConnectCallback(ac, on_connect);
		redisAsyncSetDisconnectCallback(ac, on_disconnect);
		s->ac = ac;
	}
	if (redisAsyncCommand(ac, on_reply, NULL,
			      "SENTINEL get-master-addr-by-name %s",
			      s->master) != REDIS_OK) {
		drop_conn(s);
		evtimer_add(s->deadline, &now);
		return;
	}
	s->start_failed = false;
	evtimer_add(s->deadline, &tv);
}

int sentinel_attach(struct sentinel *s, struct event_base *base,
		    int64_t timeout_ms, sentinel_cb *cb, void *arg)
{
	s->deadline = evtimer_new(base, on_deadline, s);
	if (s->deadline == NULL)
		return -ENOMEM;
	s->base = base;
	s->timeout_ms = timeout_ms > 0 ? timeout_ms : 500;
	s->cb = cb;
	s->arg = arg;
	return 0;
}

int sentinel_ask(struct sentinel *s)
{
	if (s->base == NULL)
		return -EINVAL;
	if (s->asking)
		return -EALREADY;
	s->asking = true;
	s->tried = 0;
	ask_current(s);
	return 0;
}
