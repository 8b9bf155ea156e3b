/*
 * walk.c - gathering the lock tree for a prefix (see walk.h).
 *
 * The walk is a queue of jobs, each one store call: list a namespace, stat
 * a namespace (its attributes), stat a lock (its holders and waiters).  At
 * most WALK_IN_FLIGHT run at once.  A listed entry that is gone by the time
 * it is asked for (released, removed) is simply left out; any other failure
 * ends the walk with that error once the calls in flight are back.
 *
 * Every call ends in exactly one callback (store.h), so a walk that is
 * abandoned stays allocated until its last call is back, and only then is
 * freed, without calling anybody.
 */
#include "walk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

#define WALK_IN_FLIGHT 8

enum walk_job_kind { JOB_LIST, JOB_STAT_NS, JOB_STAT_LOCK };

struct walk_job {
	struct walk *w;
	enum walk_job_kind kind;
	char *path;
	struct walk_job *next;
};

struct walk {
	struct node *node;
	char *prefix;
	size_t max_items;
	walk_done_cb *cb;
	void *arg;
	bool abandoned, finished;
	struct walk_job *head, *tail; /* not yet sent */
	size_t in_flight;
	size_t locks_asked, ns_asked;
	struct walk_result res;
	size_t locks_cap, ns_cap;
};

static void walk_free(struct walk *w)
{
	struct walk_job *j;

	while ((j = w->head) != NULL) {
		w->head = j->next;
		free(j->path);
		free(j);
	}
	for (size_t i = 0; i < w->res.nlocks; i++)
		lock_state_clear(&w->res.locks[i]);
	free(w->res.locks);
	for (size_t i = 0; i < w->res.nns; i++)
		free(w->res.ns[i].path);
	free(w->res.ns);
	free(w->prefix);
	free(w);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Does namespace `path`, seen as "path/", match the prefix? */
static bool ns_matches(const struct walk *w, const char *path)
{
	size_t n = strlen(path), p = strlen(w->prefix);

	if (n == 0)
		return p == 0;
	if (p <= n)
		return strncmp(path, w->prefix, p) == 0;
	/* "path/" is shorter than the prefix only if it is the prefix */
	return p == n + 1 && strncmp(path, w->prefix, n) == 0 &&
	       w->prefix[n] == '/';
}

/* Can namespace `path` hold a match: it matches or is on the way to one. */
static bool ns_leads_to_match(const struct walk *w, const char *path)
{
	size_t n = strlen(path);

	return ns_matches(w, path) || n == 0 ||
	       (strncmp(w->prefix, path, n) == 0 && w->prefix[n] == '/');
}

static int add_job(struct walk *w, enum walk_job_kind kind, const char *ns,
		   const char *name)
{
	struct walk_job *j = calloc(1, sizeof(*j));
	size_t nlen = strlen(ns);

	if (j == NULL)
		return -ENOMEM;
	j->path = malloc(nlen + 1 + (name ? strlen(name) : 0) + 1);
	if (j->path == NULL) {
		free(j);
		return -ENOMEM;
	}
	strcpy(j->path, ns);
	if (name) {
		if (nlen)
			strcat(j->path, "/");
		strcat(j->path, name);
	}
	j->w = w;
	j->kind = kind;
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	return 0;
}

static int add_ns(struct walk *w, const struct walk_job *j,
		  const struct ns_attr *attr)
{
	struct walk_ns *ns;

	if (w->res.nns == w->ns_cap) {
		size_t cap = w->ns_cap ? 2 * w->ns_cap : 16;
		struct walk_ns *grown = realloc(w->res.ns, cap * sizeof(*grown));

		if (grown == NULL)
			return -ENOMEM;
		w->res.ns = grown;
		w->ns_cap = cap;
	}
	ns = &w->res.ns[w->res.nns];
	ns->attr = *attr;
	if ((ns->path = strdup(j->path)) == NULL)
		return -ENOMEM;
	w->res.nns++;
	return 0;
}

static int add_lock(struct walk *w, const struct walk_job *j,
		    const struct lock_state *st)
{
	struct lock_state *copy;
	char *name;
	int err;

	if (w->res.nlocks == w->locks_cap) {
		size_t cap = w->locks_cap ? 2 * w->locks_cap : 16;
		struct lock_state *grown =
			realloc(w->res.locks, cap * sizeof(*grown));

		if (grown == NULL)
			return -ENOMEM;
		w->res.locks = grown;
		w->locks_cap = cap;
	}
	/* named by the path asked for: the lock file's, as a user sees it */
	if ((name = strdup(j->path)) == NULL)
		return -ENOMEM;
	copy = &w->res.locks[w->res.nlocks];
	err = lock_state_copy(copy, st);
	if (err < 0) {
		free(name);
		return err;
	}
	free(copy->name);
	copy->name = name;
	w->res.nlocks++;
	return 0;
}

/* The jobs a namespace's listing brings: its locks, its children. */
static int add_listing(struct walk *w, const struct walk_job *j,
		       const struct store_result *res)
{
	int err = 0;

	for (size_t i = 0; i < res->nentries && err == 0; i++) {
		const struct store_entry *e = &res->entries[i];
		size_t len = strlen(j->path) + 1 + strlen(e->name) + 1;
		char *path = malloc(len);

		if (path == NULL)
			return -ENOMEM;
		snprintf(path, len, "%s%s%s", j->path, *j->path ? "/" : "",
			 e->name);
		if (!e->is_namespace) {
			if (!starts_with(path, w->prefix))
				; /* not asked for */
			else if (w->locks_asked >= w->max_items)
				w->res.truncated = true;
			else if ((err = add_job(w, JOB_STAT_LOCK, path, NULL)) == 0)
				w->locks_asked++;
		} else if (ns_leads_to_match(w, path)) {
			err = add_job(w, JOB_LIST, path, NULL);
			if (err == 0 && ns_matches(w, path)) {
				if (w->ns_asked >= w->max_items)
					w->res.truncated = true;
				else if ((err = add_job(w, JOB_STAT_NS, path,
							NULL)) == 0)
					w->ns_asked++;
			}
		}
		free(path);
	}
	return err;
}

static int by_ns_path(const void *a, const void *b)
{
	return strcmp(((const struct walk_ns *)a)->path,
		      ((const struct walk_ns *)b)->path);
}

static int by_lock_name(const void *a, const void *b)
{
	return strcmp(((const struct lock_state *)a)->name,
		      ((const struct lock_state *)b)->name);
}

static void pump(struct walk *w);

static void on_answer(void *arg, const struct store_result *res)
{
	struct walk_job *j = arg;
	struct walk *w = j->w;
	int err = res->err;

	w->in_flight--;
	if (res->now_ms > w->res.now_ms)
		w->res.now_ms = res->now_ms;
	if (err == -ENOENT || err == -ENOTDIR)
		err = 0; /* gone meanwhile: left out */
	else if (err == 0 && !w->abandoned && w->res.err == 0) {
		if (j->kind == JOB_LIST && res->kind == STORE_LISTING)
			err = add_listing(w, j, res);
		else if (j->kind == JOB_STAT_NS &&
			 res->kind == STORE_NAMESPACE)
			err = add_ns(w, j, &res->ns);
		else if (j->kind == JOB_STAT_LOCK && res->kind == STORE_LOCK &&
			 res->lock.nholders + res->lock.nqueued > 0)
			err = add_lock(w, j, &res->lock);
	}
	if (err < 0 && w->res.err == 0)
		w->res.err = err;
	free(j->path);
	free(j);
	pump(w);
}

/* Send what may be sent; end the walk when nothing is left. */
static void pump(struct walk *w)
{
	while (w->head && w->in_flight < WALK_IN_FLIGHT && w->res.err == 0 &&
	       !w->abandoned) {
		struct walk_job *j = w->head;
		int err;

		w->head = j->next;
		if (w->head == NULL)
			w->tail = NULL;
		w->in_flight++;
		err = j->kind == JOB_LIST ? node_list(w->node, j->path, false,
						      on_answer, j)
					  : node_stat(w->node, j->path,
						      on_answer, j);
		if (err < 0) {
			w->in_flight--;
			w->res.err = err;
			free(j->path);
			free(j);
		}
	}
	if (w->in_flight > 0)
		return;
	if (!w->abandoned && !w->finished) {
		w->finished = true;
		if (w->res.nns > 1)
			qsort(w->res.ns, w->res.nns, sizeof(*w->res.ns),
			      by_ns_path);
		if (w->res.nlocks > 1)
			qsort(w->res.locks, w->res.nlocks,
			      sizeof(*w->res.locks), by_lock_name);
		w->cb(w->arg, &w->res);
	}
	walk_free(w);
}

int walk_start(struct node *n, const char *prefix, size_t max_items,
	       walk_done_cb *cb, void *arg, struct walk **out)
{
	struct walk *w = calloc(1, sizeof(*w));
	const char *slash;
	char *start = NULL;
	int err = -ENOMEM;

	if (w == NULL)
		return -ENOMEM;
	while (*prefix == '/')
		prefix++;
	w->node = n;
	w->max_items = max_items;
	w->cb = cb;
	w->arg = arg;
	if ((w->prefix = strdup(prefix)) == NULL)
		goto out;
	/* the deepest namespace that holds every match */
	slash = strrchr(w->prefix, '/');
	start = strndup(w->prefix, slash ? (size_t)(slash - w->prefix) : 0);
	if (start == NULL)
		goto out;
	if ((err = add_job(w, JOB_LIST, start, NULL)) < 0 ||
	    (ns_matches(w, start) &&
	     (err = add_job(w, JOB_STAT_NS, start, NULL)) < 0))
		goto out;
	/*
	 * A first call refused at once (Redis away) is this call's error: the
	 * callback never runs inside walk_start().
	 */
	err = node_list(n, w->head->path, false, on_answer, w->head);
	if (err < 0)
		goto out;
	w->head = w->head->next;
	if (w->head == NULL)
		w->tail = NULL;
	w->in_flight = 1;
	pump(w);
	*out = w;
	w = NULL;
out:
	free(start);
	if (w)
		walk_free(w);
	return err;
}

void walk_abandon(struct walk *w)
{
	if (w)
		w->abandoned = true;
}
