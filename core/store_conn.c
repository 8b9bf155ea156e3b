/*
 * store_conn.c - the store's connection (see store.h, store_i.h), the
 * lowest of its layers: it calls nothing above it, and tells the calls
 * what they must hear (ready for calls; Redis answered) through the
 * conn_hooks conn_open() was handed.
 *
 * Owns one asynchronous hiredis connection attached to the caller's libevent
 * loop.  The connection reconnects by itself with a capped backoff; the
 * scripts' library is loaded again on every connect.  Everything runs on
 * the loop thread.
 *
 * With a sentinel:// or cluster:// URL (locator.h) the address is not
 * fixed.  Every (re)connection first asks the sentinels (or the cluster's
 * nodes, for the master of the tree's slot) where the master is, and calls
 * are sent only once ROLE on the new connection said "master".  Three
 * things make the store look for a new master: the connection breaking, a
 * -READONLY reply (the server was demoted to a replica) or a cluster's
 * redirection (MOVED, ASK, TRYAGAIN, CLUSTERDOWN), and the sentinels
 * naming another address when asked, once a second, by the watch timer.
 * Then the connection is dropped: calls in flight on it fail with EIO at
 * once (their outcome is unknown, as on any broken connection), a call
 * refused with READONLY is queued again (a replica wrote nothing), queued
 * calls wait for the new master until their deadline.  The sentinels are
 * asked asynchronously (a round never blocks the loop), so FUSE requests
 * go on being answered from the node's own state while the master moves.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "store_i.h"
#include <hiredis/adapters/libevent.h>

#include "locator.h"

static void store_connect(struct store *st);

/* ---- connection ---------------------------------------------------- */

static void on_library_loaded(redisAsyncContext *ac, void *r,
			      void *privdata)
{
	struct store *st = ac->data;
	redisReply *reply = r;

	(void)privdata;
	if (reply == NULL || st == NULL)
		return;
	st->hooks->answered(st);
	/* loaded now, or by another daemon of this very build before */
	if (reply->type == REDIS_REPLY_ERROR &&
	    strstr(reply->str, "already exists") == NULL)
		log_warnx("redis: cannot load the scripts (library %s): %s",
			  lua_library_id, reply->str);
}

/*
 * The scripts' library on this connection, once, ahead of the calls that
 * follow (Redis runs one connection's commands in order).  A server that
 * has it (from any daemon of this build) says so, and nothing changes.
 */
void conn_load_library(struct store *st)
{
	if (st->library_sent || st->ac == NULL)
		return;
	if (redisAsyncCommand(st->ac, on_library_loaded, NULL,
			      "FUNCTION LOAD %s", lua_library) == REDIS_OK)
		st->library_sent = true;
}

static void on_setup_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	redisReply *reply = r;

	(void)ac;
	if (reply && reply->type == REDIS_REPLY_ERROR)
		log_warnx("redis: %s: %s", (const char *)privdata, reply->str);
}

void conn_reconnect_later(struct store *st)
{
	struct timeval tv;

	if (st->freeing || evtimer_pending(st->reconnect, NULL))
		return;
	tv.tv_sec = st->backoff_ms / 1000;
	tv.tv_usec = (st->backoff_ms % 1000) * 1000;
	evtimer_add(st->reconnect, &tv);
	st->backoff_ms = st->backoff_ms * 2 > 1000 ? 1000 : st->backoff_ms * 2;
}

/* Remember when store_up() last changed, for status. */
void conn_note_state(struct store *st)
{
	bool up = st->connected && st->answering;

	if (up != st->was_up) {
		st->was_up = up;
		st->since_ms = wall_ms();
	}
}

/*
 * The connection is ready for calls: load the scripts and have what waited
 * for it sent (the ready hook).  Redis runs commands in order, so the
 * library is loaded before the first FCALL arrives.
 */
static void store_ready(struct store *st)
{
	st->connected = true;
	st->probing = false;
	conn_note_state(st);
	st->backoff_ms = 100;
	if (st->readies++ > 0)
		st->stats.reconnects++;
	evtimer_del(st->handshake);
	st->library_sent = false;
	conn_load_library(st);
	st->hooks->ready(st);
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
			 locator_master_name(st->addr.locator), st->addr.host,
			 st->addr.port);
		store_ready(st);
		return;
	}
	log_warnx("redis: %s:%d is not the master (role: %s); looking for "
		  "the master again",
		  st->addr.host, st->addr.port, role);
	conn_drop(st);
	conn_reconnect_later(st);
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
		conn_reconnect_later(st);
		return;
	}
	if (st->addr.unix_path == NULL) /* TCP only: it fails on unix sockets */
		redisEnableKeepAlive((redisContext *)&ac->c);
	if (st->addr.password)
		redisAsyncCommand(st->ac, on_setup_reply, "AUTH", "AUTH %s",
				  st->addr.password);
	if (st->addr.db)
		redisAsyncCommand(st->ac, on_setup_reply, "SELECT",
				  "SELECT %d", st->addr.db);
	if (st->addr.locator) {
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
	conn_note_state(st);
	evtimer_del(st->handshake);
	conn_reconnect_later(st);
}

/*
 * Close the connection now, without the disconnect callback: calls in
 * flight on it get EIO.  Inside one of its reply callbacks hiredis frees it
 * when the callback returns.  Never call this from on_connect(), which
 * hiredis does not guard.  The caller decides when to connect again.
 */
void conn_drop(struct store *st)
{
	redisAsyncContext *ac = st->ac;

	if (ac == NULL)
		return;
	st->ac = NULL;
	st->connected = false;
	st->probing = false;
	conn_note_state(st);
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
	if (st->addr.unix_path)
		log_warnx("redis: %s did not answer within %d ms; trying again",
			  st->addr.unix_path, STORE_HANDSHAKE_MS);
	else
		log_warnx("redis: %s:%d did not answer within %d ms; trying "
			  "again",
			  st->addr.host, st->addr.port, STORE_HANDSHAKE_MS);
	conn_drop(st);
	conn_reconnect_later(st);
}

/* Open a connection to the current address (st->addr.host or st->addr.unix_path). */
static void store_connect_to(struct store *st)
{
	struct timeval tv = {STORE_HANDSHAKE_MS / 1000,
			     (STORE_HANDSHAKE_MS % 1000) * 1000};
	redisAsyncContext *ac;

	if (st->addr.unix_path)
		ac = redisAsyncConnectUnix(st->addr.unix_path);
	else
		ac = redisAsyncConnect(st->addr.host, st->addr.port);
	if (ac == NULL || ac->err) {
		log_warnx("redis: cannot connect: %s",
			  ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		conn_reconnect_later(st);
		return;
	}
	ac->data = st;
	if (redisLibeventAttach(ac, st->base) != REDIS_OK) {
		redisAsyncFree(ac);
		conn_reconnect_later(st);
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
	if (st->addr.locator == NULL) {
		store_connect_to(st);
		return;
	}
	/* the answer comes to on_master(); a round under way will do */
	err = locator_ask(st->addr.locator);
	if (err < 0 && err != -EALREADY)
		conn_reconnect_later(st);
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
			log_warnx("redis: nobody named the master of '%s'",
				  locator_master_name(st->addr.locator));
			conn_reconnect_later(st);
		}
		return; /* the watch keeps what works */
	}
	if (st->ac != NULL) {
		if (st->addr.host && strcmp(st->addr.host, host) == 0 &&
		    st->addr.port == port)
			return;
		log_warnx("redis: the master of '%s' moved from %s:%d "
			  "to %s:%d",
			  locator_master_name(st->addr.locator), st->addr.host,
			  st->addr.port, host, port);
		conn_drop(st);
	}
	h = strdup(host);
	if (h == NULL) {
		conn_reconnect_later(st);
		return;
	}
	free(st->addr.host);
	st->addr.host = h;
	st->addr.port = port;
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
		(void)locator_ask(st->addr.locator);
}

/* cluster://: the master to find is that of the slot of `keyprefix`. */
static int set_tree_slot(struct store_addr *a, const char *keyprefix)
{
	if (a->locator == NULL || !locator_is_cluster(a->locator))
		return 0;
	return locator_set_slot(a->locator,
				locator_key_slot(keyprefix, strlen(keyprefix)));
}

/*
 * Parse "redis://[:password@]host[:port][/db]", "unix:/path",
 * "unix:///path", a sentinel:// or a cluster:// URL (locator.h) into `st`.
 */
static int parse_url(struct store_addr *a, const char *url)
{
	const char *p, *at, *colon, *slash;
	char *end;

	if (locator_is_url(url)) {
		int err = locator_new(url, &a->locator);

		if (err == 0)
			a->db = locator_db(a->locator);
		return err;
	}
	if (strncmp(url, "unix:", 5) == 0) {
		p = url + 5;
		if (strncmp(p, "//", 2) == 0)
			p += 2;
		if (*p != '/')
			return -EINVAL;
		a->unix_path = strdup(p);
		return a->unix_path ? 0 : -ENOMEM;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return -EINVAL;
	p = url + 8;
	at = strrchr(p, '@');
	if (at) {
		const char *pw = memchr(p, ':', at - p);

		if (pw && pw + 1 < at && a->password == NULL) {
			a->password = strndup(pw + 1, at - pw - 1);
			if (a->password == NULL)
				return -ENOMEM;
		}
		p = at + 1;
	}
	slash = strchr(p, '/');
	colon = memchr(p, ':', slash ? (size_t)(slash - p) : strlen(p));
	a->port = 6379;
	if (colon) {
		long port = strtol(colon + 1, &end, 10);

		if (end == colon + 1 || port <= 0 || port > 65535 ||
		    (*end && *end != '/'))
			return -EINVAL;
		a->port = port;
	}
	a->host = strndup(p, colon ? (size_t)(colon - p)
				    : slash ? (size_t)(slash - p)
					    : strlen(p));
	if (a->host == NULL)
		return -ENOMEM;
	if (*a->host == '\0')
		return -EINVAL;
	if (slash && slash[1]) {
		long db = strtol(slash + 1, &end, 10);

		if (*end || db < 0 || db > 1000)
			return -EINVAL;
		a->db = db;
	}
	return 0;
}

int conn_open(struct store *st, const struct store_config *cfg,
	      const struct conn_hooks *hooks)
{
	int err;

	st->hooks = hooks;
	st->backoff_ms = 100;
	if (cfg->password) {
		st->addr.password = strdup(cfg->password);
		if (st->addr.password == NULL)
			return -ENOMEM;
	}
	err = parse_url(&st->addr, cfg->url ? cfg->url : "redis://127.0.0.1:6379");
	if (err == 0)
		err = set_tree_slot(&st->addr, st->keyprefix);
	if (err < 0)
		return err;
	st->reconnect = evtimer_new(st->base, on_reconnect, st);
	st->handshake = evtimer_new(st->base, on_handshake, st);
	if (st->reconnect == NULL || st->handshake == NULL)
		return -ENOMEM;
	if (st->addr.locator) {
		struct timeval tv = {STORE_WATCH_MS / 1000,
				     (STORE_WATCH_MS % 1000) * 1000};

		err = locator_attach(st->addr.locator, st->base,
				      STORE_SENTINEL_ASK_MS, on_master, st);
		if (err < 0)
			return err;
		/* a cluster says so itself (MOVED) when the slot moves */
		if (!locator_is_cluster(st->addr.locator) &&
		    ((st->watch = event_new(st->base, -1, EV_PERSIST, on_watch,
					    st)) == NULL ||
		     event_add(st->watch, &tv) < 0))
			return -ENOMEM;
	}
	store_connect(st);
	return 0;
}

void conn_close(struct store *st)
{
	if (st->ac) {
		redisAsyncContext *ac = st->ac;

		st->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac); /* fails what is in flight with NULL */
	}
	locator_free(st->addr.locator); /* a round under way ends unanswered */
	if (st->watch)
		event_free(st->watch);
	if (st->handshake)
		event_free(st->handshake);
	if (st->reconnect)
		event_free(st->reconnect);
	free(st->addr.host);
	free(st->addr.unix_path);
	free(st->addr.password);
}

/*
 * Sentinel mode, at mount: ask the sentinels where the master is, into
 * addr->host and addr->port.
 */
static int probe_sentinels(struct store_addr *addr, const char *url, char *why,
			   size_t whylen)
{
	char said[256];
	int err;

	err = locator_resolve(addr->locator, STORE_SENTINEL_PROBE_MS,
			       &addr->host, &addr->port, said, sizeof(said));
	if (err < 0)
		snprintf(why, whylen,
			 "nobody of %s named master '%s' (%s)", url,
			 locator_master_name(addr->locator), said);
	return err;
}

/* Sentinel mode, at mount: the address the sentinels gave is a master. */
static int probe_role(redisContext *rc, const struct store_addr *addr, char *why,
		      size_t whylen)
{
	redisReply *r = redisCommand(rc, "ROLE");
	int err = 0;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements == 0 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "master") != 0) {
		snprintf(why, whylen,
			 "redis at %s:%d, named the master of '%s', "
			 "is not a master (%s)",
			 addr->host, addr->port,
			 locator_master_name(addr->locator),
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

/*
 * The tree's layout: the first daemon of a tree stamps its key layout
 * (STORE_LAYOUT) in {PREFIX}:layout, and a daemon of another layout
 * refuses to mount that tree without touching any of its keys, so that two
 * versions that keep locks differently never share one (and grant a lock
 * twice).
 */
static int check_layout(redisContext *rc, const struct store_config *cfg,
			const char *where, char *why, size_t whylen)
{
	const char *prefix = cfg->prefix ? cfg->prefix : "lockfs";
	redisReply *r = redisCommand(rc, "SET {%s}:layout %s NX GET", prefix,
				     STORE_LAYOUT);
	int err = 0;

	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		snprintf(why, whylen, "redis at %s: cannot read the layout of "
			 "tree '%s': %s", where, prefix,
			 r ? r->str : rc->errstr);
		err = -EIO;
	} else if (r->type == REDIS_REPLY_STRING &&
		   strcmp(r->str, STORE_LAYOUT) != 0) {
		snprintf(why, whylen,
			 "tree '%s' in redis at %s keeps its locks in layout "
			 "%s, this lockfs in layout %s: it will not share "
			 "them (run one version of lockfs on every node of a "
			 "tree, or give this one another prefix=)",
			 prefix, where, r->str, STORE_LAYOUT);
		err = -EPROTO;
	}
	if (r)
		freeReplyObject(r);
	return err;
}

int store_probe(const struct store_config *cfg, char *why, size_t whylen)
{
	struct store_addr addr = {0};
	struct timeval tv = {2, 0};
	redisContext *rc = NULL;
	redisReply *r = NULL;
	const char *url = cfg->url ? cfg->url : "redis://127.0.0.1:6379";
	char where[512], *probe_key = NULL;
	int err;

	err = parse_url(&addr, url);
	if (err == 0 && asprintf(&probe_key, "{%s}:lockfs-probe",
				 cfg->prefix ? cfg->prefix : "lockfs") < 0) {
		probe_key = NULL;
		err = -ENOMEM;
	}
	if (err == 0)
		err = set_tree_slot(&addr, probe_key);
	if (err < 0) {
		snprintf(why, whylen, "bad redis URL '%s'", url);
		goto out;
	}
	snprintf(where, sizeof(where), "%s", url);
	if (addr.locator) {
		err = probe_sentinels(&addr, url, why, whylen);
		if (err < 0)
			goto out;
		snprintf(where, sizeof(where), "%s:%d (master '%s' of %s)",
			 addr.host, addr.port,
			 locator_master_name(addr.locator), url);
	}
	if (cfg->password && addr.password == NULL)
		addr.password = strdup(cfg->password);
	rc = addr.unix_path ? redisConnectUnixWithTimeout(addr.unix_path, tv)
			   : redisConnectWithTimeout(addr.host, addr.port, tv);
	if (rc == NULL || rc->err) {
		snprintf(why, whylen, "cannot reach redis at %s: %s", where,
			 rc ? rc->errstr : "out of memory");
		err = -EHOSTUNREACH;
		goto out;
	}
	redisSetTimeout(rc, tv);
	if (addr.password) {
		r = redisCommand(rc, "AUTH %s", addr.password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			snprintf(why, whylen, "redis refused the password");
			err = -EACCES;
			goto out;
		}
		freeReplyObject(r);
		r = NULL;
	}
	if (addr.locator && (err = probe_role(rc, &addr, why, whylen)) < 0)
		goto out;
	/* a key of the tree's own: in a cluster, of its slot */
	r = redisCommand(rc, "PEXPIRETIME %s", probe_key);
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
	freeReplyObject(r);
	r = NULL;
	err = check_layout(rc, cfg, where, why, whylen);
out:
	if (r)
		freeReplyObject(r);
	if (rc)
		redisFree(rc);
	locator_free(addr.locator);
	free(addr.host);
	free(addr.unix_path);
	free(addr.password);
	free(probe_key);
	return err;
}
