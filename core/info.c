/*
 * info.c - the text of a lock file (see info.h for the format).
 */
#include "info.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "name.h"

const char *lock_mode_name(enum lock_mode m)
{
	return m == LOCK_MODE_SHARED ? "shared" : "exclusive";
}

const char *holder_kind_name(enum holder_kind k)
{
	return k == HOLDER_HANDLE ? "handle" : "lease";
}

void lock_state_clear(struct lock_state *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->nholders; i++) {
		free(st->holders[i].id);
		free(st->holders[i].node);
		free(st->holders[i].note);
	}
	free(st->holders);
	for (size_t i = 0; i < st->nqueued; i++)
		free(st->queued[i].node);
	free(st->queued);
	free(st->name);
	memset(st, 0, sizeof(*st));
}

static void put_time(FILE *f, const char *key, int64_t ms)
{
	fprintf(f, "%s=%lld.%03lld\n", key, (long long)(ms / 1000),
		(long long)(ms % 1000));
}

/* key=value with the value escaped; false on -ENOMEM. */
static bool put_escaped(FILE *f, const char *key, const char *v, size_t len)
{
	char *esc = name_escape(v ? v : "", v ? len : 0);

	if (esc == NULL)
		return false;
	fprintf(f, "%s=%s\n", key, esc);
	free(esc);
	return true;
}

static bool put_holder(FILE *f, const struct lock_holder *h)
{
	char ttl[32];

	if (!put_escaped(f, "node", h->node, h->node ? strlen(h->node) : 0))
		return false;
	fprintf(f, "uid=%u\ngid=%u\npid=%d\nsession=%d\nkind=%s\n",
		(unsigned)h->uid, (unsigned)h->gid, (int)h->pid,
		(int)h->session, holder_kind_name(h->kind));
	put_time(f, "acquired", h->acquired_ms);
	put_time(f, "renewed", h->renewed_ms);
	put_time(f, "expires", h->expires_ms);
	if (duration_format(h->ttl_ms, ttl, sizeof(ttl)) < 0)
		snprintf(ttl, sizeof(ttl), "%lldms", (long long)h->ttl_ms);
	fprintf(f, "ttl=%s\nkeepalive=%s\n", ttl, keepalive_name(h->keepalive));
	return put_escaped(f, "note", h->note, h->note_len);
}

/* One waiting request: a block of waiter_* keys, in queue order. */
static bool put_waiter(FILE *f, const struct lock_waiter *w)
{
	if (!put_escaped(f, "waiter_node", w->node,
			 w->node ? strlen(w->node) : 0))
		return false;
	fprintf(f, "waiter_uid=%u\nwaiter_pid=%d\nwaiter_session=%d\n"
		   "waiter_mode=%s\n",
		(unsigned)w->uid, (int)w->pid, (int)w->session,
		lock_mode_name(w->mode));
	put_time(f, "waiter_since", w->since_ms);
	return true;
}

int info_format(const struct lock_state *st, char **text, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	bool ok;

	if (f == NULL)
		return -ENOMEM;
	ok = put_escaped(f, "name", st->name, st->name ? strlen(st->name) : 0);
	fprintf(f, "mode=%s\ntoken=%lld\nholders=%zu\n",
		lock_mode_name(st->mode), (long long)st->token, st->nholders);
	for (size_t i = 0; ok && i < st->nholders; i++)
		ok = put_holder(f, &st->holders[i]);
	fprintf(f, "waiters=%lld\n", (long long)st->waiters);
	for (size_t i = 0; ok && i < st->nqueued; i++)
		ok = put_waiter(f, &st->queued[i]);
	if (st->delayed_until_ms > 0)
		fprintf(f, "delayed_until=%lld.%03lld\n",
			(long long)(st->delayed_until_ms / 1000),
			(long long)(st->delayed_until_ms % 1000));
	if (fclose(f) != 0 || !ok) {
		free(buf);
		return -ENOMEM;
	}
	*text = buf;
	*len = size;
	return 0;
}
