/*
 * lease.c - the table of leases this node granted (see lease.h).
 *
 * A keepalive tick runs every LEASE_TICK_MS on the loop.  For each lease it
 * asks whether the owner lives (a session whose leader lives is alive; only
 * when a leader is gone is all of /proc scanned, once per tick), then either releases
 * it (owner gone), renews it (a third of its ttl passed since the last
 * renewal), or, for keepalive=off, notes that its ttl ran out.  Store calls
 * made by the tick carry a copy of (path, owner) and look the entry up
 * again on reply, so an entry may be forgotten while a call is in flight.
 *
 * Entries are kept in a list: a node holds at most thousands of leases and
 * the tick touches each anyway.
 */
#include "lease.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hash.h"
#include "log.h"
#include "store.h"

#define LEASE_TICK_MS 250
#define LEASE_BUCKETS 4096 /* the index by path; a power of two */

struct lease {
	char *path;
	char *owner_id;
	struct lock_holder h; /* copy of the holder as last reported */
	int64_t renewed_mono; /* local monotonic ms of the last grant/renewal */
	bool lost;
	int64_t lost_mono;
	int64_t told_mono; /* when a getattr last answered ESTALE for it */
	int told_lookups;  /* lookups since then that must find it gone */
	bool busy; /* a keepalive call is in flight */
	int onlost;      /* the signal its holder gets when it is lost, or 0 */
	bool signalled;  /* ... already sent, for this grant */
	TAILQ_ENTRY(lease) link;
	LIST_ENTRY(lease) by_path; /* in the table's index */
};

TAILQ_HEAD(lease_list, lease);
LIST_HEAD(lease_bucket, lease);

struct leases {
	struct event_base *base;
	struct store *st;
	char *procfs;
	struct event *tick;
	struct lease_list list;
	/* the same leases by path: a node may keep thousands, and every
	 * request on a lock file looks its own up */
	struct lease_bucket by_path[LEASE_BUCKETS];
	int default_onlost; /* onlost= of the mount */
	leases_event_cb *event_cb;
	void *event_arg;
};

struct lease_call {
	struct leases *lt;
	char *path;
	char *owner_id;
};

static void lease_free(struct lease *l)
{
	if (l == NULL)
		return;
	free(l->path);
	free(l->owner_id);
	lock_holder_clear(&l->h);
	free(l);
}

static struct lease_bucket *path_bucket(struct leases *lt, const char *path)
{
	return &lt->by_path[hash_str(path) & (LEASE_BUCKETS - 1)];
}

static struct lease *lease_find(struct leases *lt, const char *path,
				const char *owner_id)
{
	struct lease *l;

	LIST_FOREACH(l, path_bucket(lt, path), by_path)
		if (strcmp(l->path, path) == 0 &&
		    strcmp(l->owner_id, owner_id) == 0)
			return l;
	return NULL;
}

static void lease_drop(struct leases *lt, struct lease *l)
{
	TAILQ_REMOVE(&lt->list, l, link);
	LIST_REMOVE(l, by_path);
	lease_free(l);
}

static void lease_mark_lost(struct lease *l)
{
	if (!l->lost) {
		l->lost = true;
		l->lost_mono = mono_ms();
	}
}

/*
 * The hold was lost (expired, broken, gone from Redis), not given up: the
 * onlost= signal goes to its holder, once: a lease's owner's process group,
 * a handle lock's process.  Only while that process is still the one that
 * asked (same session), so a reused pid is never signalled.
 */
static void lease_lost_notice(struct leases *lt, struct lease *l)
{
	pid_t tgid, sid, target;

	lease_mark_lost(l);
	if (l->signalled)
		return;
	l->signalled = true;
	if (lt->event_cb) /* for poll(): POLLPRI|POLLERR on its descriptors */
		lt->event_cb(lt->event_arg, l->path, "lost", &l->h);
	if (l->onlost <= 0 || l->h.pid <= 1)
		return;
	if (owner_proc_ids(lt->procfs, l->h.pid, &tgid, &sid) < 0 ||
	    sid != l->h.session)
		return; /* gone: nobody to tell */
	target = l->h.kind == HOLDER_HANDLE ? l->h.pid : -getpgid(l->h.pid);
	if (target == 1 || target == -1 || target == 0)
		return;
	log_info("%s: lost; sending signal %d to %s %d", l->path, l->onlost,
		 target < 0 ? "process group" : "process",
		 target < 0 ? -target : target);
	if (kill(target, l->onlost) < 0)
		log_warn(errno, "%s: cannot signal its holder", l->path);
}

static struct lease_call *lease_call_new(struct leases *lt,
					 const struct lease *l)
{
	struct lease_call *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->lt = lt;
	c->path = strdup(l->path);
	c->owner_id = strdup(l->owner_id);
	if (c->path == NULL || c->owner_id == NULL) {
		free(c->path);
		free(c->owner_id);
		free(c);
		return NULL;
	}
	return c;
}

static void lease_call_free(struct lease_call *c)
{
	free(c->path);
	free(c->owner_id);
	free(c);
}

static void on_keepalive_renewed(void *arg, const struct store_result *res)
{
	struct lease_call *c = arg;
	struct lease *l = lease_find(c->lt, c->path, c->owner_id);

	if (l == NULL)
		goto out;
	l->busy = false;
	if (res->err == 0) {
		l->renewed_mono = mono_ms();
	} else if (res->err == -ESTALE) {
		log_info("lease %s of %s was lost", c->path, c->owner_id);
		lease_lost_notice(c->lt, l);
	}
out:
	lease_call_free(c);
}

static void on_owner_exit_released(void *arg, const struct store_result *res)
{
	struct lease_call *c = arg;
	struct lease *l = lease_find(c->lt, c->path, c->owner_id);

	if (res->err == 0 && res->kind == STORE_LOCK &&
	    res->lock.nholders > 0 && c->lt->event_cb)
		c->lt->event_cb(c->lt->event_arg, c->path, "owner-exit",
				&res->lock.holders[0]);
	if (l && res->err == -EIO) {
		l->busy = false; /* try again on a later tick */
	} else if (l) {
		lease_drop(c->lt, l);
	}
	lease_call_free(c);
}

/* What one tick knows of the sessions alive on this node. */
struct session_view {
	const char *procfs;
	pid_t *sids; /* every live session, once scanned */
	long n;      /* how many, or -errno when the scan failed */
	bool scanned;
};

/* Scan /proc once per tick, only when some session leader is gone. */
static void session_view_scan(struct session_view *v)
{
	size_t max = 4096;

	v->scanned = true;
	for (;;) {
		pid_t *grown = realloc(v->sids, max * sizeof(*v->sids));

		if (grown == NULL) {
			v->n = -ENOMEM;
			return;
		}
		v->sids = grown;
		v->n = owner_live_sessions(v->procfs, v->sids, max);
		if (v->n < 0 || (size_t)v->n < max)
			break;
		max *= 2;
	}
	if (v->n < 0)
		log_warn((int)v->n, "keepalive: cannot read %s", v->procfs);
}

static bool session_alive(struct session_view *v, pid_t sid)
{
	if (sid <= 0)
		return false;
	if (owner_session_leader_alive(v->procfs, sid))
		return true;
	if (!v->scanned)
		session_view_scan(v);
	if (v->n < 0)
		return true; /* cannot tell: keep the lease rather than drop it */
	return owner_session_in(v->sids, (size_t)v->n, sid);
}

/* Is the owner of `l` still around on this node? */
static bool lease_owner_alive(const struct lease *l, struct session_view *v)
{
	const char *scope = strrchr(l->owner_id, ':');

	if (l->h.kind == HOLDER_HANDLE)
		return true; /* held until unlocked or closed */
	if (scope && scope[1] == 'p')
		return l->h.pid > 0 &&
		       (kill(l->h.pid, 0) == 0 || errno == EPERM);
	return session_alive(v, l->h.session);
}

static void lease_tick_one(struct leases *lt, struct lease *l, int64_t now,
			   struct session_view *v)
{
	struct lease_call *c;
	int err;

	if (l->lost) {
		if (now - l->lost_mono > LEASE_STALE_MEMORY_MS)
			lease_drop(lt, l);
		return;
	}
	if (l->busy)
		return;
	if (l->h.keepalive == KEEPALIVE_OFF) {
		/* only this node renews it, so it knows when it ran out (its
		 * clock starts after Redis's, so never too early) */
		if (now - l->renewed_mono > l->h.ttl_ms) {
			lease_lost_notice(lt, l);
			if (lt->event_cb)
				lt->event_cb(lt->event_arg, l->path, "expired",
					     &l->h);
		}
		return;
	}
	if (lease_owner_alive(l, v)) {
		if (now - l->renewed_mono < l->h.ttl_ms / 3)
			return;
		c = lease_call_new(lt, l);
		if (c == NULL)
			return;
		err = store_renew(lt->st, l->path, l->owner_id, l->h.token,
				  NULL, on_keepalive_renewed, c);
	} else {
		c = lease_call_new(lt, l);
		if (c == NULL)
			return;
		err = store_release(lt->st, l->path, l->owner_id, l->h.token,
				    false, on_owner_exit_released, c);
	}
	if (err < 0) {
		lease_call_free(c);
		return;
	}
	l->busy = true;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct leases *lt = arg;
	struct session_view v = {.procfs = lt->procfs};
	struct lease *l, *next;
	int64_t now = mono_ms();

	(void)fd;
	(void)what;
	for (l = TAILQ_FIRST(&lt->list); l != NULL; l = next) {
		next = TAILQ_NEXT(l, link);
		lease_tick_one(lt, l, now, &v);
	}
	free(v.sids);
}

int leases_new(struct event_base *base, struct store *st, const char *procfs,
	       struct leases **out)
{
	struct leases *lt = calloc(1, sizeof(*lt));
	struct timeval tv = {0, LEASE_TICK_MS * 1000};
	int err = -ENOMEM;

	if (lt == NULL)
		return -ENOMEM;
	TAILQ_INIT(&lt->list);
	lt->base = base;
	lt->st = st;
	lt->procfs = strdup(procfs);
	if (lt->procfs == NULL)
		goto fail;
	lt->tick = event_new(base, -1, EV_PERSIST, on_tick, lt);
	if (lt->tick == NULL || event_add(lt->tick, &tv) < 0)
		goto fail;
	*out = lt;
	return 0;
fail:
	leases_free(lt);
	return err;
}

void leases_free(struct leases *lt)
{
	struct lease *l;

	if (lt == NULL)
		return;
	while ((l = TAILQ_FIRST(&lt->list)) != NULL)
		lease_drop(lt, l);
	if (lt->tick)
		event_free(lt->tick);
	free(lt->procfs);
	free(lt);
}

void leases_set_event_cb(struct leases *lt, leases_event_cb *cb, void *arg)
{
	lt->event_cb = cb;
	lt->event_arg = arg;
}

int leases_granted(struct leases *lt, const char *path,
		   const struct lock_holder *h, int64_t now_ms)
{
	struct lease *l = lease_find(lt, path, h->id);
	int err;

	(void)now_ms;
	if (l == NULL) {
		l = calloc(1, sizeof(*l));
		if (l == NULL)
			return -ENOMEM;
		l->path = strdup(path);
		l->owner_id = strdup(h->id);
		if (l->path == NULL || l->owner_id == NULL) {
			lease_free(l);
			return -ENOMEM;
		}
		TAILQ_INSERT_TAIL(&lt->list, l, link);
		LIST_INSERT_HEAD(path_bucket(lt, l->path), l, by_path);
		l->onlost = lt->default_onlost;
	}
	if (l->h.token != h->token)
		l->signalled = false; /* a new grant: its loss is news again */
	lock_holder_clear(&l->h);
	err = lock_holder_copy(&l->h, h, false);
	if (err < 0) {
		lease_drop(lt, l);
		return err;
	}
	l->renewed_mono = mono_ms();
	l->lost = false;
	return 0;
}

void leases_forget(struct leases *lt, const char *path, const char *owner_id)
{
	struct lease *l = lease_find(lt, path, owner_id);

	if (l)
		lease_drop(lt, l);
}

void leases_lost(struct leases *lt, const char *path, const char *owner_id)
{
	struct lease *l = lease_find(lt, path, owner_id);

	if (l)
		lease_mark_lost(l);
}

void leases_lost_notice(struct leases *lt, const char *path,
			const char *owner_id)
{
	struct lease *l = lease_find(lt, path, owner_id);

	if (l)
		lease_lost_notice(lt, l);
}

void leases_set_onlost(struct leases *lt, const char *path,
		       const char *owner_id, int sig)
{
	struct lease *l = lease_find(lt, path, owner_id);

	if (l)
		l->onlost = sig;
}

void leases_set_default_onlost(struct leases *lt, int sig)
{
	lt->default_onlost = sig;
}

bool leases_is_stale(struct leases *lt, const char *path,
		     const char *owner_id, int64_t current_token)
{
	struct lease *l = lease_find(lt, path, owner_id);

	if (l == NULL)
		return false;
	return l->lost || l->h.token != current_token;
}

int64_t leases_token(struct leases *lt, const char *path,
		     const char *owner_id)
{
	struct lease *l = lease_find(lt, path, owner_id);

	return l ? l->h.token : 0;
}

void leases_told_stale(struct leases *lt, const char *path,
		       const char *owner_id, int lookups)
{
	struct lease *l = lease_find(lt, path, owner_id);

	if (l) {
		l->told_mono = mono_ms();
		l->told_lookups = lookups;
	}
}

bool leases_take_told_stale(struct leases *lt, const char *path,
			    const char *owner_id, int64_t ms)
{
	struct lease *l = lease_find(lt, path, owner_id);

	if (l == NULL || l->told_lookups <= 0 ||
	    mono_ms() - l->told_mono > ms)
		return false;
	l->told_lookups--;
	return true;
}

const struct lock_holder *leases_get(struct leases *lt, const char *path,
				     const char *id)
{
	struct lease *l = lease_find(lt, path, id);

	return l && !l->lost ? &l->h : NULL;
}

const struct lock_holder *leases_get_fresh(struct leases *lt,
					   const char *path, const char *id,
					   int64_t max_age_ms)
{
	struct lease *l = lease_find(lt, path, id);

	if (l == NULL || l->lost || mono_ms() - l->renewed_mono > max_age_ms)
		return NULL;
	return &l->h;
}

const struct lock_holder *leases_handle_of(struct leases *lt,
					   const char *path, uid_t uid,
					   pid_t session)
{
	struct lease *l;

	LIST_FOREACH(l, path_bucket(lt, path), by_path)
		if (!l->lost && l->h.kind == HOLDER_HANDLE &&
		    l->h.uid == uid && l->h.session == session &&
		    strcmp(l->path, path) == 0)
			return &l->h;
	return NULL;
}

bool leases_is_lost(struct leases *lt, const char *path, const char *id)
{
	struct lease *l = lease_find(lt, path, id);

	return l && l->lost;
}

size_t leases_count(const struct leases *lt)
{
	const struct lease *l;
	size_t n = 0;

	TAILQ_FOREACH(l, &lt->list, link)
		if (!l->lost)
			n++;
	return n;
}

void leases_each(const struct leases *lt, leases_each_cb *cb, void *arg)
{
	const struct lease *l;

	TAILQ_FOREACH(l, &lt->list, link)
		if (!l->lost)
			cb(arg, l->path, &l->h);
}
