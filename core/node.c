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
#include "waitq.h"

#include "node_i.h"

/* The lookups of a name in the kernel's retry of a call told ESTALE. */
#define LOST_RETRY_LOOKUPS 2

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
	free(n->name);
	free(n);
}


void node_heard_watch(struct node *n)
{
	n->watched_until_ms = mono_ms() + WATCHED_FOR_MS;
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
	for (size_t i = 0; res->err == 0 && i < res->lock.nholders; i++)
		if (strcmp(res->lock.holders[i].id, holder_id) == 0)
			now = &res->lock.holders[i];
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
	return strcmp(res->extra, "held") == 0 ? -EPERM : -ESTALE;
}

bool node_hold_stale(struct node *n, const char *path, const char *id,
		     int64_t token)
{
	return leases_is_stale(n->leases, path, id, token);
}

bool node_lost(struct node *n, const char *path, const char *owner_id)
{
	return leases_is_stale(n->leases, path, owner_id, 0);
}

bool node_lost_shows(struct node *n, const char *path, const char *owner_id,
		     int64_t retry_ms)
{
	return node_lost(n, path, owner_id) &&
	       !leases_take_told_stale(n->leases, path, owner_id, retry_ms);
}

void node_lost_told(struct node *n, const char *path, const char *owner_id)
{
	leases_told_stale(n->leases, path, owner_id, LOST_RETRY_LOOKUPS);
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
	if (l == NULL)
		return lost ? -ESTALE : 0;
	snprintf(id, size, "%s", l->id);
	*token = l->token;
	return 1;
}

void node_get_stats(const struct node *n, struct node_stats *out)
{
	*out = n->stats;
	out->handoffs = n->wq ? waitq_handoffs(n->wq) : 0;
}

struct metrics *node_metrics(struct node *n)
{
	return &n->metrics;
}
