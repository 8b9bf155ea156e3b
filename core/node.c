/*
 * node.c - this node's side of the lock service (see node.h): the one
 * place where a grant and the end of a hold are counted, published and
 * recorded.
 *
 * Routing keys: the end of a hold goes to "l.<hash of lock node>", the key
 * every waiter of that lock is bound to (waitq.h), so a release wakes them;
 * an acquired or waiting event goes to "e.<hash>", which only the event
 * stream's "#" binding receives.
 */
#include "node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "event.h"
#include "lease.h"
#include "name.h"
#include "log.h"
#include "notify.h"
#include "store.h"
#include "waitq.h"

#include "node_i.h"

int node_new(const char *name, struct leases *leases, struct notifier *nt,
	     struct node **out)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n == NULL || (n->name = strdup(name)) == NULL) {
		free(n);
		return -ENOMEM;
	}
	n->leases = leases;
	n->nt = nt;
	*out = n;
	return 0;
}

void node_free(struct node *n)
{
	if (n == NULL)
		return;
	if (n->free_parts)
		n->free_parts(n);
	metrics_clear(&n->metrics);
	free(n->name);
	free(n);
}

int64_t node_redis_time(const struct node *n)
{
	int64_t now = store_redis_now(n->st);

	return now ? now : wall_ms();
}

void node_heard_watch(struct node *n)
{
	n->watched_until_ms = mono_ms() + WATCHED_FOR_MS;
}

/* The namespace of lock file `path` (the directory it is in, "" for the
 * root) into `ns`, NAME_PATH_MAX + 1 bytes. */
static void lock_namespace(const char *path, char *ns)
{
	const char *slash = strrchr(path, '/');

	snprintf(ns, NAME_PATH_MAX + 1, "%.*s",
		 slash ? (int)(slash - path) : 0, path);
}

/* Seconds from `from_ms` to `to_ms`, never negative. */
static double seconds_between(int64_t from_ms, int64_t to_ms)
{
	return to_ms > from_ms ? (to_ms - from_ms) / 1000.0 : 0;
}

/*
 * Hold `h` of `path` ended at `time_ms` (the Redis clock): how long it
 * lasted, if it was taken through this node (its holder's node is this
 * one) and its start is known.
 */
static void count_hold(struct node *n, const char *path,
		       const struct lock_holder *h, int64_t time_ms)
{
	char ns[NAME_PATH_MAX + 1];

	if (h->node == NULL || strcmp(h->node, n->name) != 0 ||
	    h->acquired_ms <= 0)
		return;
	lock_namespace(path, ns);
	metrics_hold_ended(&n->metrics, ns,
			   seconds_between(h->acquired_ms, time_ms));
}

void node_publish(struct node *n, const char *event, const char *path,
		  const struct lock_holder *h, int64_t time_ms, bool wakes)
{
	char key[WAITQ_KEY_MAX], *lnode = NULL, *line = NULL;
	size_t len;
	bool ends = strcmp(event, "acquired") != 0 &&
		    strcmp(event, "waiting") != 0 &&
		    strcmp(event, "deadlock") != 0;
	bool watched = mono_ms() < n->watched_until_ms;

	metrics_event(&n->metrics, event);
	if (ends)
		count_hold(n, path, h, time_ms);
	if (!watched && !(ends && wakes))
		return; /* nobody would hear it */
	if (n->nt == NULL || name_lock_node(path, &lnode) < 0)
		return;
	waitq_lock_key(lnode, key, sizeof(key));
	if (!ends)
		key[0] = 'e'; /* events only: must not wake waiters */
	if (event_format(time_ms, event, path, h->token, h->node, h->uid,
			 h->mode, &line, &len) == 0)
		notifier_publish(n->nt, key, line, len);
	free(line);
	free(lnode);
}

void node_granted(struct node *n, const char *path,
		  const struct lock_holder *h, bool is_new, double waited_s,
		  int64_t now_ms)
{
	if (is_new) {
		n->stats.grants++;
		metrics_wait(&n->metrics, waited_s);
		node_publish(n, "acquired", path, h, now_ms, false);
	}
	leases_granted(n->leases, path, h, now_ms);
}

void node_granted_set(struct node *n, char *const *paths,
		      const enum lock_mode *modes, size_t count,
		      const struct store_holder *h,
		      const struct store_result *res, double waited_s)
{
	for (size_t i = 0; i < count && i < res->ntokens; i++) {
		struct lock_holder held = {
			.id = (char *)h->id, .node = (char *)h->node,
			.uid = h->uid, .gid = h->gid, .pid = h->pid,
			.session = h->session, .kind = HOLDER_LEASE,
			.mode = modes[i], .token = res->tokens[i],
			.acquired_ms = res->now_ms, .renewed_ms = res->now_ms,
			.ttl_ms = h->ttl_ms, .keepalive = h->keepalive,
		};

		node_granted(n, paths[i], &held, true, waited_s, res->now_ms);
	}
}

void node_ended(struct node *n, const char *event, const char *path,
		const struct lock_holder *h, size_t nh, int64_t now_ms,
		bool wakes)
{
	n->stats.releases++;
	for (size_t i = 0; i < nh; i++) {
		if (strcmp(event, "broken") == 0) /* against its holder's will */
			leases_lost_notice(n->leases, path, h[i].id);
		else
			leases_lost(n->leases, path, h[i].id);
		node_publish(n, event, path, &h[i], now_ms, wakes);
	}
}

bool node_grant_held(void *arg, const char *path, const char *holder_id,
		     int64_t token)
{
	struct node *n = arg;
	const struct lock_holder *held = leases_get(n->leases, path, holder_id);

	return held && held->token == token;
}

void node_confirmed(void *arg, const char *path, const char *holder_id,
		    int64_t token, const struct store_result *res)
{
	struct node *n = arg;
	const struct lock_holder *held = leases_get(n->leases, path, holder_id);
	const struct lock_holder *now = NULL;

	if (held == NULL || held->token != token)
		return; /* released or replaced meanwhile: nothing to keep */
	if (res->err == 0)
		now = lock_state_holder(&res->lock, holder_id);
	if (now && now->token == token) {
		leases_granted(n->leases, path, now, res->now_ms);
		return;
	}
	log_warnx("%s: the grant handed over to %s (token %lld) is gone",
		  path, holder_id, (long long)token);
	leases_lost_notice(n->leases, path, holder_id);
}

int node_renew_error(struct node *n, const char *path, const char *holder_id,
		     const struct store_result *res, bool by_handle)
{
	if (res->err != -ESTALE)
		return res->err;
	if (by_handle || leases_is_stale(n->leases, path, holder_id, 0)) {
		leases_lost_notice(n->leases, path, holder_id);
		return -ESTALE;
	}
	return res->word == WORD_HELD ? -EPERM : -ESTALE;
}

int node_renewed(struct node *n, const char *path, const char *holder_id,
		 const struct store_result *res, bool by_handle)
{
	const struct lock_holder *mine;

	if (res->err < 0)
		return node_renew_error(n, path, holder_id, res, by_handle);
	mine = lock_state_holder(&res->lock, holder_id);
	if (mine)
		leases_granted(n->leases, path, mine, res->now_ms);
	return 0;
}

bool node_holds(struct node *n, const char *path, const char *id)
{
	return leases_get(n->leases, path, id) != NULL;
}

bool node_held_here(struct node *n, const char *path, const char *id)
{
	return leases_token(n->leases, path, id) != 0;
}

bool node_hold_stale(struct node *n, const char *path, const char *id,
		     int64_t token)
{
	return leases_is_stale(n->leases, path, id, token);
}

void node_handle_id(const struct node *n, const struct node_lock_ref *ref,
		    char *buf, size_t size)
{
	snprintf(buf, size, "%s:%c%016llx", n->name, ref->posix ? 'P' : 'F',
		 (unsigned long long)ref->lock_owner);
}

enum node_lock_plan node_handle_plan(struct node *n, const char *path,
				     const char *id, enum lock_mode mode)
{
	const struct lock_holder *held = leases_get(n->leases, path, id);

	if (held == NULL)
		return NODE_LOCK_TAKE;
	if (held->mode == mode)
		return NODE_LOCK_HELD;
	leases_forget(n->leases, path, id);
	return NODE_LOCK_CONVERT;
}

int node_file_hold(struct node *n, const char *path,
		   const struct node_file *f, char *id, size_t size,
		   int64_t *token)
{
	const struct lock_holder *l = NULL;
	bool lost = false;

	if (f->lease_id && (l = leases_get(n->leases, path, f->lease_id)) &&
	    l->token != f->lease_token)
		l = NULL;
	for (size_t i = 0; l == NULL && i < f->nlocks; i++) {
		node_handle_id(n, &f->locks[i], id, size);
		l = leases_get(n->leases, path, id);
		lost = lost || (l == NULL && leases_is_lost(n->leases, path, id));
	}
	if (l == NULL && f->opener_known)
		l = leases_handle_of(n->leases, path, f->uid, f->session);
	if (l == NULL && !lost && f->lease_id && f->name_lost_lease) {
		/* its lease, gone from the table: its renewal hears ESTALE */
		snprintf(id, size, "%s", f->lease_id);
		*token = f->lease_token;
		return 1;
	}
	if (l == NULL && !lost && f->caller_known)
		l = leases_handle_of(n->leases, path, f->caller_uid,
				     f->caller_session);
	if (l == NULL)
		return lost ? -ESTALE : 0;
	snprintf(id, size, "%s", l->id);
	*token = l->token;
	return 1;
}

void node_disown(struct node *n, const char *path, const char *holder_id,
		 int64_t token, const char *why)
{
	leases_forget(n->leases, path, holder_id);
	store_disown(n->st, path, holder_id, token, why);
}

void node_disown_set(struct node *n, char *const *paths, size_t count,
		     const char *holder_id, const struct store_result *res,
		     const char *why)
{
	for (size_t i = 0; i < count && i < res->ntokens; i++)
		node_disown(n, paths[i], holder_id, res->tokens[i], why);
}

void node_grant_delivered(struct node *n, const struct node_grant *g,
			  bool delivered)
{
	const struct store_result *res = g->res;
	const struct lock_holder *mine = NULL;
	bool is_new;

	if (g->count) {
		if (delivered)
			node_granted_set(n, g->paths, g->modes, g->count,
					 g->set_holder, res, g->waited_s);
		else
			node_disown_set(n, g->paths, g->count, g->holder_id,
					res, "its requester is gone");
		return;
	}
	mine = lock_state_holder(&res->lock, g->holder_id);
	/* a handle lock that converted its requester's lease: gone */
	if (g->absorbed_id && lock_state_holder(&res->lock, g->absorbed_id) == NULL)
		leases_forget(n->leases, g->path, g->absorbed_id);
	if (mine == NULL)
		return;
	is_new = res->word == WORD_NEW;
	if (delivered || (!is_new && mine->kind == HOLDER_LEASE))
		node_granted(n, g->path, mine, is_new && delivered,
			     g->waited_s, res->now_ms);
	else /* nobody knows of it: it must not stay held */
		node_disown(n, g->path, g->holder_id, mine->token,
			    "its requester is gone");
}

/* One end of a hold, asked for by a file operation: its bookkeeping runs
 * before the caller hears the answer. */
struct node_end {
	struct node *n;
	char *path;
	char *holder_id;
	bool unlink;
	store_cb *cb;
	void *arg;
};

static void node_end_free(struct node_end *e)
{
	free(e->path);
	free(e->holder_id);
	free(e);
}

static void on_end_answer(void *arg, const struct store_result *res)
{
	struct node_end *e = arg;
	struct store_result told = *res;

	if (e->unlink && res->err == 0 && res->word == WORD_UNLINKED) {
		/* an unheld lock file made in the flock view: gone */
	} else if (res->err == 0) {
		node_ended(e->n, e->unlink ? res->extra : "released", e->path,
			   res->lock.holders, res->lock.nholders, res->now_ms,
			   res->wake);
		if (e->unlink) /* (an unlock forgot it when it asked) */
			leases_forget(e->n->leases, e->path, e->holder_id);
	} else if (e->unlink && res->err == -ESTALE) {
		/* remembered, not forgotten: see node_renew_error() */
		leases_lost_notice(e->n->leases, e->path, e->holder_id);
	} else if (!e->unlink && (res->err == -ENOENT || res->err == -ESTALE)) {
		/* a lock already gone (expired, broken) is unlocked all the
		 * same, as POSIX unlocks what is not held */
		told.err = 0;
	}
	e->cb(e->arg, &told);
	node_end_free(e);
}

static int end_hold(struct node *n, const char *path, const char *holder_id,
		    bool unlink, bool force, store_cb *cb, void *arg)
{
	struct node_end *e = calloc(1, sizeof(*e));
	int64_t token = 0;
	int err;

	if (e == NULL || (e->path = strdup(path)) == NULL ||
	    (e->holder_id = strdup(holder_id)) == NULL) {
		if (e)
			node_end_free(e);
		return -ENOMEM;
	}
	e->n = n;
	e->unlink = unlink;
	e->cb = cb;
	e->arg = arg;
	if (unlink) {
		/* the grant it took through this node: if gone, ESTALE */
		token = leases_token(n->leases, path, holder_id);
		err = store_unlink(n->st, path, holder_id, token, force,
				   on_end_answer, e);
	} else {
		leases_forget(n->leases, path, holder_id);
		err = store_release(n->st, path, holder_id, 0, false,
				    on_end_answer, e);
	}
	if (err < 0)
		node_end_free(e);
	return err;
}

int node_unlink_hold(struct node *n, const char *path, const char *owner_id,
		     uid_t uid, store_cb *cb, void *arg)
{
	/* root breaks another's lock; anyone else ends only its own */
	return end_hold(n, path, owner_id, true, uid == 0, cb, arg);
}

int node_unlock(struct node *n, const char *path, const char *holder_id,
		store_cb *cb, void *arg)
{
	return end_hold(n, path, holder_id, false, false, cb, arg);
}

void node_get_stats(const struct node *n, struct node_stats *out)
{
	*out = n->stats;
	out->handoffs = n->wq ? waitq_handoffs(n->wq) : 0;
}

/* What node_oldest_holds() walks the lease table with. */
struct oldest_walk {
	struct metrics *m;
	int64_t now_ms;
	double *oldest_s;
};

static void oldest_one(void *arg, const char *path,
		       const struct lock_holder *h)
{
	struct oldest_walk *w = arg;
	char ns[NAME_PATH_MAX + 1];
	size_t slot;
	double age;

	if (h->acquired_ms <= 0)
		return; /* its start is unknown */
	lock_namespace(path, ns);
	slot = metrics_namespace(w->m, ns);
	age = seconds_between(h->acquired_ms, w->now_ms);
	if (age > w->oldest_s[slot])
		w->oldest_s[slot] = age;
}

void node_oldest_holds(struct node *n, double *oldest_s)
{
	/* the Redis clock, as the holds' acquired times are */
	struct oldest_walk w = {.m = &n->metrics, .oldest_s = oldest_s,
				.now_ms = node_redis_time(n)};

	for (size_t i = 0; i < METRICS_NS_SLOTS; i++)
		oldest_s[i] = -1;
	leases_each(n->leases, oldest_one, &w);
}

struct metrics *node_metrics(struct node *n)
{
	return &n->metrics;
}
