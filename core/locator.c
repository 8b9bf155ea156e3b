/*
 * locator.c - finding the Redis master through Redis Sentinel, or the
 * master of the tree's slot in a Redis Cluster (see locator.h).
 *
 * Owns the parsed list of addresses to ask (sentinels, or cluster nodes),
 * the index of the one that answered last (asked first next time), and on
 * a loop one asynchronous connection to it, kept between rounds so the
 * store's once-a-second check costs one round trip, not a TCP handshake.
 * The two kinds differ only in the question (SENTINEL
 * get-master-addr-by-name, or CLUSTER SLOTS) and in how the answer names
 * the master; everything else is shared.
 *
 * A round is a small state machine: ask address `cur`, arm its deadline;
 * an address ends the round; an error, a nil (that one does not know the
 * master), a broken connection or the deadline drop the connection and
 * move on to the next address, until every one was asked once.  Whatever
 * happens, the round ends in exactly one callback, always from the loop
 * (a reply or a timer), never from locator_ask().
 *
 * hiredis runs a context's pending callbacks with a NULL reply while it
 * frees it.  A context we drop on purpose has its `data` cleared first, so
 * those callbacks know to stay quiet; one that hiredis drops (the sentinel
 * went away) still has it, and its NULL reply moves the round on.
 */
#include "locator.h"

#include <errno.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct locator {
	bool cluster; /* cluster://: ask for the master of `slot` */
	int slot;
	const char *what; /* "sentinel" or "cluster node", for messages */
	size_t n;
	char *host[LOCATOR_MAX];
	int port[LOCATOR_MAX];
	char *master; /* sentinel:// the master's name; cluster:// "slot N" */
	int db;
	size_t cur; /* answered last: asked first */

	/* asynchronous rounds, after locator_attach() */
	struct event_base *base;
	int64_t timeout_ms;
	locator_cb *cb;
	void *arg;
	redisAsyncContext *ac; /* to sentinel `cur`, or NULL */
	struct event *deadline;
	bool asking;
	bool start_failed; /* the deadline fires at once: no complaint */
	size_t tried;      /* sentinels asked in this round */
};

static void ask_current(struct locator *s);

bool locator_is_url(const char *url)
{
	return url != NULL && (strncmp(url, "sentinel://", 11) == 0 ||
			       strncmp(url, "cluster://", 10) == 0);
}

bool locator_is_cluster(const struct locator *l)
{
	return l->cluster;
}

/*
 * Parse one "HOST[:PORT]" or "[V6ADDR][:PORT]" of `len` bytes at `p` into
 * sentinel slot s->n.
 */
static int parse_addr(struct locator *s, const char *p, size_t len)
{
	const char *end = p + len, *host = p, *hend, *colon = NULL;
	long port = s->cluster ? CLUSTER_DEFAULT_PORT : SENTINEL_DEFAULT_PORT;

	if (s->n == LOCATOR_MAX)
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
static int parse_master(struct locator *s, const char *p)
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

int locator_new(const char *url, struct locator **out)
{
	struct locator *s;
	const char *p, *slash;
	int err;

	if (!locator_is_url(url))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->cluster = url[0] == 'c';
	s->what = s->cluster ? "cluster node" : "sentinel";
	p = url + (s->cluster ? 10 : 11);
	slash = strchr(p, '/');
	if (s->cluster && slash == NULL) /* no master name, no db */
		slash = p + strlen(p);
	err = -EINVAL;
	if (slash == NULL || (s->cluster && *slash && slash[1]))
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
	err = s->cluster ? locator_set_slot(s, 0) : parse_master(s, slash + 1);
	if (err < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	locator_free(s);
	return err;
}

/* Drop the connection to the current sentinel, quietly. */
static void drop_conn(struct locator *s)
{
	redisAsyncContext *ac = s->ac;

	if (ac == NULL)
		return;
	s->ac = NULL;
	ac->data = NULL;
	redisAsyncFree(ac); /* inside one of its callbacks: afterwards */
}

void locator_free(struct locator *s)
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

size_t locator_count(const struct locator *s)
{
	return s->n;
}

const char *locator_host(const struct locator *s, size_t i)
{
	return i < s->n ? s->host[i] : NULL;
}

int locator_port(const struct locator *s, size_t i)
{
	return i < s->n ? s->port[i] : 0;
}

const char *locator_master_name(const struct locator *s)
{
	return s->master;
}

int locator_db(const struct locator *s)
{
	return s->db;
}

int locator_set_slot(struct locator *l, int slot)
{
	char name[32];

	snprintf(name, sizeof(name), "slot %d", slot);
	free(l->master);
	l->master = strdup(name);
	l->slot = slot;
	return l->master ? 0 : -ENOMEM;
}

/* CRC16-CCITT (XMODEM), as Redis Cluster hashes keys to slots. */
static unsigned crc16(const char *buf, size_t len)
{
	unsigned crc = 0;

	for (size_t i = 0; i < len; i++) {
		crc ^= (unsigned)(unsigned char)buf[i] << 8;
		for (int b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
		crc &= 0xffff;
	}
	return crc;
}

int locator_key_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len), *close;

	/* the hash tag: what is between the first '{' and the next '}' */
	if (open) {
		close = memchr(open + 1, '}', key + len - open - 1);
		if (close && close > open + 1)
			return crc16(open + 1, close - open - 1) & 16383;
	}
	return crc16(key, len) & 16383;
}

/* A port as a string (Sentinel) or an integer (CLUSTER SLOTS), or 0. */
static int reply_port(const redisReply *r)
{
	long p = 0;
	char *e;

	if (r->type == REDIS_REPLY_INTEGER)
		p = r->integer;
	else if (r->type == REDIS_REPLY_STRING) {
		p = strtol(r->str, &e, 10);
		if (*e)
			p = 0;
	}
	return p > 0 && p <= 65535 ? (int)p : 0;
}

/*
 * The master in `r`, the answer of the address `asked`: for a sentinel an
 * array of host and port; for a cluster node the CLUSTER SLOTS entry
 * whose range holds our slot, master first (an empty host means the node
 * asked).  Copies the host into `host` and sets `*port`.
 */
static bool reply_master(const struct locator *l, const redisReply *r,
			 const char *asked, char *host, size_t size, int *port)
{
	const redisReply *m = r;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return false;
	if (l->cluster) {
		m = NULL;
		for (size_t i = 0; i < r->elements && m == NULL; i++) {
			const redisReply *e = r->element[i];

			if (e->type == REDIS_REPLY_ARRAY && e->elements >= 3 &&
			    e->element[0]->type == REDIS_REPLY_INTEGER &&
			    e->element[1]->type == REDIS_REPLY_INTEGER &&
			    e->element[0]->integer <= l->slot &&
			    l->slot <= e->element[1]->integer)
				m = e->element[2];
		}
		if (m == NULL)
			return false;
	}
	if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
	    m->element[0]->type != REDIS_REPLY_STRING ||
	    (*port = reply_port(m->element[1])) == 0)
		return false;
	if (m->element[0]->len == 0 && !l->cluster)
		return false;
	snprintf(host, size, "%s", m->element[0]->len ? m->element[0]->str
						       : asked);
	return strlen(host) < size - 1;
}

static const char *reply_complaint(const struct locator *l,
				   const redisReply *r)
{
	if (r->type == REDIS_REPLY_ERROR)
		return r->str;
	if (l->cluster && r->type == REDIS_REPLY_ARRAY)
		return "no master serves the slot";
	if (r->type == REDIS_REPLY_NIL)
		return "does not know the master";
	return "unexpected reply";
}

/* The question, on a synchronous connection. */
static redisReply *ask_sync(const struct locator *l, redisContext *rc)
{
	if (l->cluster)
		return redisCommand(rc, "CLUSTER SLOTS");
	return redisCommand(rc, "SENTINEL get-master-addr-by-name %s",
			    l->master);
}

/* ---- synchronous ----------------------------------------------------- */

int locator_resolve(struct locator *s, int64_t timeout_ms, char **host,
		     int *port, char *why, size_t whylen)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	char found[256];

	snprintf(why, whylen, "no %s", s->what);
	for (size_t k = 0; k < s->n; k++) {
		size_t i = (s->cur + k) % s->n;
		redisContext *rc;
		redisReply *r;

		rc = redisConnectWithTimeout(s->host[i], s->port[i], tv);
		if (rc == NULL || rc->err) {
			snprintf(why, whylen, "%s %s:%d: %s", s->what,
				 s->host[i], s->port[i],
				 rc ? rc->errstr : "out of memory");
			redisFree(rc);
			continue;
		}
		redisSetTimeout(rc, tv);
		r = ask_sync(s, rc);
		if (r == NULL)
			snprintf(why, whylen, "%s %s:%d: %s", s->what,
				 s->host[i], s->port[i], rc->errstr);
		else if (!reply_master(s, r, s->host[i], found, sizeof(found),
				       port))
			snprintf(why, whylen, "%s %s:%d on '%s': %s", s->what,
				 s->host[i], s->port[i], s->master,
				 reply_complaint(s, r));
		else {
			*host = strdup(found);
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

static void round_end(struct locator *s, int err, const char *host, int port)
{
	s->asking = false;
	evtimer_del(s->deadline);
	s->cb(s->arg, err, host, port);
}

/* Address `cur` failed this round: try the next one, or give up. */
static void ask_next(struct locator *s)
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
	struct locator *s = ac->data;
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
			log_warnx("%s %s:%d: connection lost", s->what,
				  s->host[s->cur], s->port[s->cur]);
			ask_next(s);
		}
		return;
	}
	if (!s->asking)
		return;
	if (!reply_master(s, reply, s->host[s->cur], host, sizeof(host),
			  &port)) {
		log_warnx("%s %s:%d on '%s': %s", s->what, s->host[s->cur],
			  s->port[s->cur], s->master,
			  reply_complaint(s, reply));
		ask_next(s);
		return;
	}
	round_end(s, 0, host, port);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct locator *s = arg;

	(void)fd;
	(void)what;
	if (!s->asking)
		return;
	if (!s->start_failed)
		log_warnx("%s %s:%d: no answer within %lld ms", s->what,
			  s->host[s->cur], s->port[s->cur],
			  (long long)s->timeout_ms);
	ask_next(s);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct locator *s = ac->data;

	if (s == NULL || status == REDIS_OK)
		return;
	/* hiredis frees `ac` after this; its pending reply stays quiet */
	log_warnx("%s %s:%d: %s", s->what, s->host[s->cur], s->port[s->cur],
		  ac->errstr);
	s->ac = NULL;
	((redisAsyncContext *)ac)->data = NULL;
	if (s->asking)
		ask_next(s);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct locator *s = ac->data;

	(void)status;
	if (s == NULL)
		return;
	/* between rounds: connect again at the next one */
	s->ac = NULL;
	((redisAsyncContext *)ac)->data = NULL;
}

/*
 * Ask sentinel `cur`.  A failure to even start is left to the deadline,
 * fired at once, so that no round ends inside locator_ask().
 */
static void ask_current(struct locator *s)
{
	struct timeval tv = {s->timeout_ms / 1000,
			     (s->timeout_ms % 1000) * 1000};
	struct timeval now = {0, 0};
	redisAsyncContext *ac = s->ac;

	s->start_failed = true;
	if (ac == NULL) {
		ac = redisAsyncConnect(s->host[s->cur], s->port[s->cur]);
		if (ac == NULL || ac->err) {
			log_warnx("%s %s:%d: %s", s->what, s->host[s->cur],
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
	if ((s->cluster ? redisAsyncCommand(ac, on_reply, NULL, "CLUSTER SLOTS")
			: redisAsyncCommand(ac, on_reply, NULL,
					    "SENTINEL get-master-addr-by-name %s",
					    s->master)) != REDIS_OK) {
		drop_conn(s);
		evtimer_add(s->deadline, &now);
		return;
	}
	s->start_failed = false;
	evtimer_add(s->deadline, &tv);
}

int locator_attach(struct locator *s, struct event_base *base,
		    int64_t timeout_ms, locator_cb *cb, void *arg)
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

int locator_ask(struct locator *s)
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
