/*
 * node_start.c - the node service put together (see node.h): node_start()
 * builds the store, the lease table, the notifier and the wait queue and
 * wires their callbacks to the node's rules (node.c); the doors below are
 * how the FUSE adapter reaches them, one line each, so that fs/ includes
 * no header of theirs.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "lease.h"
#include "log.h"
#include "node_i.h"
#include "notify.h"
#include "store.h"
#include "waitq.h"

/* ---- the parts, wired together ------------------------------------ */

static void free_parts(struct node *n)
{
	if (n->watch_timer)
		event_free(n->watch_timer);
	store_free(n->st); /* runs what is in flight, with EIO */
	waitq_free(n->wq);
	notifier_free(n->nt);
	leases_free(n->leases);
}

/* Tell every node that this one reads events (and so itself, at once). */
static void tell_watching(struct node *n)
{
	notifier_publish(n->nt, WATCH_KEY, "watch", 5);
}

static void on_watch_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tell_watching(arg);
}

static void on_broker_message(void *arg, const char *key, const char *body,
			      size_t len)
{
	struct node *n = arg;

	/* (an empty message is the notifier's own "you may have missed
	 * something" after a reconnection: no one said it) */
	if (strcmp(key, WATCH_KEY) == 0) {
		if (len)
			node_heard_watch(n);
		return;
	}
	if (strcmp(key, WATCH_ASK_KEY) == 0) {
		if (len && n->watching)
			tell_watching(n);
		return;
	}
	/* l.* (ends of holds) and e.* (other events) carry event lines */
	if ((key[0] == 'l' || key[0] == 'e') && key[1] == '.' && len &&
	    n->event_line)
		n->event_line(n->arg, body, len);
	waitq_on_message(n->wq, key, body, len);
}

static void on_grants(void *arg, const struct store_result *res)
{
	struct node *n = arg;

	if (n->wq)
		waitq_hand_over(n->wq, res);
}

static void on_broker_state(void *arg, bool up)
{
	struct node *n = arg;

	waitq_on_broker(n->wq, up);
	if (up) /* who reads events?  They say so at once */
		notifier_publish(n->nt, WATCH_ASK_KEY, "ask", 3);
}

static void on_lease_event(void *arg, const char *path, const char *reason,
			   const struct lock_holder *h)
{
	struct node *n = arg;

	if (strcmp(reason, "lost") == 0) {
		if (n->lost)
			n->lost(n->arg, path);
	} else if (strcmp(reason, "owner-exit") == 0)
		node_ended(n, reason, path, h, 1, node_redis_time(n), true);
	else /* its own node saw a keepalive=off lease run out (its
	      * waiters wake then by themselves) */
		node_publish(n, reason, path, h, node_redis_time(n), false);
}

static void publish_request(void *arg, const char *event, const char *path,
			    const struct store_holder *h, int64_t now_ms)
{
	struct lock_holder lh = {.node = (char *)h->node, .uid = h->uid,
				 .mode = h->mode};

	node_publish(arg, event, path, &lh, now_ms, false);
}

static void on_queued(void *arg, const char *path,
		      const struct store_holder *h, int64_t now_ms)
{
	publish_request(arg, "waiting", path, h, now_ms);
}

/* A wait refused because it would have closed a cycle (EDEADLK). */
static void on_deadlock(void *arg, const char *path,
			const struct store_holder *h, int64_t now_ms)
{
	log_warnx("%s: a wait by uid %u refused: it would close a cycle of "
		  "owners waiting on each other (EDEADLK)",
		  path, (unsigned)h->uid);
	publish_request(arg, "deadlock", path, h, now_ms);
}

int node_start(struct event_base *base, const struct node_config *cfg,
	       struct node **out)
{
	struct waitq_config wcfg = {.node = cfg->name, .lease_ms = cfg->ttl_ms,
				    .queued_cb = on_queued,
				    .deadlock_cb = on_deadlock,
				    .confirmed_cb = node_confirmed,
				    .held_cb = node_grant_held};
	struct node *n = NULL;
	char *exchange = NULL;
	int err = node_new(cfg->name, NULL, NULL, &n);

	if (err < 0)
		return err;
	n->free_parts = free_parts;
	n->event_line = cfg->event_line;
	n->lost = cfg->lost;
	n->arg = cfg->arg;
	wcfg.queued_arg = n;
	if ((err = store_new(base, cfg->store, &n->st)) < 0) {
		log_warn(err, "cannot set up the redis store");
		goto fail;
	}
	if ((err = leases_new(base, n->st, cfg->procfs, &n->leases)) < 0) {
		log_warn(err, "cannot set up keepalive");
		goto fail;
	}
	leases_set_event_cb(n->leases, on_lease_event, n);
	leases_set_default_onlost(n->leases, cfg->onlost_sig);
	if (cfg->amqp_url && *cfg->amqp_url) {
		err = -ENOMEM;
		if (asprintf(&exchange, "lockfs.%s", cfg->prefix) < 0)
			goto fail;
		err = notifier_new(base, cfg->amqp_url, cfg->amqp_cacert,
				   exchange, on_broker_message,
				   on_broker_state, n, &n->nt);
		free(exchange);
		if (err < 0) {
			log_warn(err, "cannot set up the amqp notifier");
			goto fail;
		}
		n->watch_timer = event_new(base, -1, EV_PERSIST, on_watch_timer,
					   n);
		err = -ENOMEM;
		if (n->watch_timer == NULL ||
		    (err = notifier_bind(n->nt, WATCH_KEY)) < 0 ||
		    (err = notifier_bind(n->nt, WATCH_ASK_KEY)) < 0)
			goto fail;
	}
	if ((err = waitq_new(base, n->st, n->nt, &wcfg, &n->wq)) < 0) {
		log_warn(err, "cannot set up the wait queue");
		goto fail;
	}
	store_set_grants_cb(n->st, on_grants, n);
	*out = n;
	return 0;
fail:
	node_free(n);
	return err;
}

int node_probe(const struct store_config *cfg, char *why, size_t whylen)
{
	return store_probe(cfg, why, whylen);
}

/* ---- the doors: one line each ------------------------------------- */

int node_acquire(struct node *n, const char *path,
		 const struct store_holder *h, bool excl, bool block,
		 int64_t timeout_ms, lock_done_cb *cb, void *arg,
		 struct waiter **out)
{
	struct store_holder taken = *h;

	/* a handle lock is kept alive for as long as its file holds it */
	if (taken.kind == HOLDER_HANDLE)
		taken.keepalive = KEEPALIVE_SESSION;
	return waitq_acquire(n->wq, path, &taken, excl, block, timeout_ms, cb,
			     arg, out);
}

int node_acquire_set(struct node *n, char *const *paths,
		     const enum lock_mode *modes, size_t count,
		     const struct store_holder *h, bool block,
		     int64_t timeout_ms, lock_done_cb *cb, void *arg,
		     struct waiter **out)
{
	return waitq_acquire_set(n->wq, paths, modes, count, h, block,
				 timeout_ms, cb, arg, out);
}

void node_cancel(struct waiter *w, int err)
{
	waiter_cancel(w, err);
}

void node_when_queued(struct waiter *w, void (*cb)(void *arg))
{
	waiter_when_queued(w, cb);
}

void node_fail_all(struct node *n, int err)
{
	if (n && n->wq)
		waitq_fail_all(n->wq, err);
}

int node_stat(struct node *n, const char *path, store_cb *cb, void *arg)
{
	return store_stat(n->st, path, cb, arg);
}

int node_acquire_probe(struct node *n, const char *path,
		       const struct store_holder *h, store_cb *cb, void *arg)
{
	return store_acquire_probe(n->st, path, h, cb, arg);
}

int node_list(struct node *n, const char *ns, bool flock_view, store_cb *cb,
	      void *arg)
{
	return store_list(n->st, ns, flock_view, cb, arg);
}

int node_file(struct node *n, const char *path, const struct file_change *fc,
	      store_cb *cb, void *arg)
{
	return store_file(n->st, path, fc, cb, arg);
}

int node_mkdir(struct node *n, const char *path, mode_t mode, uid_t uid,
	       gid_t gid, store_cb *cb, void *arg)
{
	return store_mkdir(n->st, path, mode, uid, gid, cb, arg);
}

int node_rmdir(struct node *n, const char *path, store_cb *cb, void *arg)
{
	return store_rmdir(n->st, path, cb, arg);
}

int node_set_limit(struct node *n, const char *path, long limit,
		   uid_t caller_uid, store_cb *cb, void *arg)
{
	return store_set_limit(n->st, path, limit, caller_uid, cb, arg);
}

int node_setattr(struct node *n, const char *path, long mode, long uid,
		 long gid, store_cb *cb, void *arg)
{
	return store_setattr(n->st, path, mode, uid, gid, cb, arg);
}

int node_renew(struct node *n, const char *path, const char *holder_id,
	       int64_t token, const struct command *cmd, store_cb *cb,
	       void *arg)
{
	return store_renew(n->st, path, holder_id, token, cmd, cb, arg);
}

int node_release(struct node *n, const char *path, const char *holder_id,
		 int64_t token, bool force, store_cb *cb, void *arg)
{
	return store_release(n->st, path, holder_id, token, force, cb, arg);
}

const struct lock_holder *node_lease_fresh(struct node *n, const char *path,
					   const char *id, int64_t max_age_ms)
{
	return leases_get_fresh(n->leases, path, id, max_age_ms);
}

const struct lock_holder *node_lease_handle_of(struct node *n,
					       const char *path, uid_t uid,
					       pid_t session)
{
	return leases_handle_of(n->leases, path, uid, session);
}

void node_lease_onlost(struct node *n, const char *path, const char *id,
		       int sig)
{
	leases_set_onlost(n->leases, path, id, sig);
}

void node_status(const struct node *n, struct node_status *out)
{
	memset(out, 0, sizeof(*out));
	node_get_stats(n, &out->counts);
	out->holds = leases_count(n->leases);
	out->waits = waitq_count(n->wq);
	out->redis_up = store_connected(n->st);
	out->redis_since_ms = store_since_ms(n->st);
	store_get_stats(n->st, &out->redis);
	out->handoff_times = n->wq ? waitq_handoff_times(n->wq) : NULL;
	out->amqp_up = -1;
	out->amqp_broker = "";
	if (n->nt) {
		out->amqp_up = notifier_connected(n->nt) ? 1 : 0;
		out->amqp_since_ms = notifier_since_ms(n->nt);
		out->amqp_broker = notifier_broker(n->nt);
		notifier_get_stats(n->nt, &out->amqp);
	}
}

int node_watch_events(struct node *n)
{
	struct timeval every = {WATCH_EVERY_MS / 1000,
				(WATCH_EVERY_MS % 1000) * 1000};
	int err;

	if (n->nt == NULL)
		return 0;
	err = notifier_bind(n->nt, EVENTS_BINDING);
	if (err == 0 && n->watching++ == 0) {
		tell_watching(n);
		evtimer_add(n->watch_timer, &every);
	}
	return err;
}

void node_unwatch_events(struct node *n)
{
	if (n->nt == NULL)
		return;
	notifier_unbind(n->nt, EVENTS_BINDING);
	if (n->watching && --n->watching == 0)
		evtimer_del(n->watch_timer);
}
