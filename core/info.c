/*
 * info.c - the text of a lock file (see info.h for the format).
 */
#include "info.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "json.h"
#include "name.h"

const char *lock_mode_name(enum lock_mode m)
{
	return m == LOCK_MODE_SHARED ? "shared" : "exclusive";
}

const char *holder_kind_name(enum holder_kind k)
{
	return k == HOLDER_HANDLE ? "handle" : "lease";
}

void lock_holder_clear(struct lock_holder *h)
{
	free(h->id);
	free(h->node);
	free(h->note);
	memset(h, 0, sizeof(*h));
}

int lock_holder_copy(struct lock_holder *dst, const struct lock_holder *src,
		     bool with_note)
{
	*dst = *src;
	dst->id = strdup(src->id ? src->id : "");
	dst->node = strdup(src->node ? src->node : "");
	dst->note = NULL;
	dst->note_len = 0;
	if (with_note && src->note) {
		dst->note = malloc(src->note_len + 1);
		if (dst->note) {
			memcpy(dst->note, src->note, src->note_len);
			dst->note[src->note_len] = '\0';
			dst->note_len = src->note_len;
		}
	}
	if (dst->id == NULL || dst->node == NULL ||
	    (with_note && src->note && dst->note == NULL)) {
		lock_holder_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

int lock_state_copy(struct lock_state *dst, const struct lock_state *src)
{
	*dst = *src;
	dst->name = NULL;
	dst->holders = NULL;
	dst->queued = NULL;
	dst->file.data = NULL;
	dst->nholders = dst->nqueued = 0;
	if ((dst->name = strdup(src->name ? src->name : "")) == NULL)
		goto fail;
	if (src->file.data) {
		dst->file.data = malloc(src->file.len + 1);
		if (dst->file.data == NULL)
			goto fail;
		memcpy(dst->file.data, src->file.data, src->file.len + 1);
	}
	if (src->nholders &&
	    (dst->holders = calloc(src->nholders, sizeof(*dst->holders))) == NULL)
		goto fail;
	for (; dst->nholders < src->nholders; dst->nholders++)
		if (lock_holder_copy(&dst->holders[dst->nholders],
				     &src->holders[dst->nholders], true) < 0)
			goto fail;
	if (src->nqueued &&
	    (dst->queued = calloc(src->nqueued, sizeof(*dst->queued))) == NULL)
		goto fail;
	for (; dst->nqueued < src->nqueued; dst->nqueued++) {
		struct lock_waiter *w = &dst->queued[dst->nqueued];

		*w = src->queued[dst->nqueued];
		w->node = strdup(w->node ? w->node : "");
		if (w->node == NULL)
			goto fail;
	}
	return 0;
fail:
	lock_state_clear(dst);
	return -ENOMEM;
}

const struct lock_holder *lock_state_holder(const struct lock_state *st,
					    const char *id)
{
	for (size_t i = 0; i < st->nholders; i++)
		if (strcmp(st->holders[i].id, id) == 0)
			return &st->holders[i];
	return NULL;
}

void lock_state_clear(struct lock_state *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->nholders; i++)
		lock_holder_clear(&st->holders[i]);
	free(st->holders);
	for (size_t i = 0; i < st->nqueued; i++)
		free(st->queued[i].node);
	free(st->queued);
	free(st->name);
	free(st->file.data);
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

static void json_holder(FILE *f, const struct lock_holder *h)
{
	fputs("{\"node\":", f);
	json_cstring(f, h->node);
	fprintf(f, ",\"uid\":%u,\"gid\":%u,\"pid\":%d,\"session\":%d,"
		   "\"kind\":\"%s\",\"mode\":\"%s\",\"token\":%lld,"
		   "\"acquired\":",
		(unsigned)h->uid, (unsigned)h->gid, (int)h->pid,
		(int)h->session, holder_kind_name(h->kind),
		lock_mode_name(h->mode), (long long)h->token);
	json_time(f, h->acquired_ms);
	fputs(",\"renewed\":", f);
	json_time(f, h->renewed_ms);
	fputs(",\"expires\":", f);
	json_time(f, h->expires_ms);
	fprintf(f, ",\"ttl\":%lld.%03lld,\"keepalive\":\"%s\",\"note\":",
		(long long)(h->ttl_ms / 1000), (long long)(h->ttl_ms % 1000),
		keepalive_name(h->keepalive));
	if (h->note)
		json_string(f, h->note, h->note_len);
	else
		fputs("null", f);
	fputc('}', f);
}

static void json_waiter(FILE *f, const struct lock_waiter *w)
{
	fputs("{\"node\":", f);
	json_cstring(f, w->node);
	fprintf(f, ",\"uid\":%u,\"pid\":%d,\"session\":%d,\"mode\":\"%s\","
		   "\"since\":",
		(unsigned)w->uid, (int)w->pid, (int)w->session,
		lock_mode_name(w->mode));
	json_time(f, w->since_ms);
	fputc('}', f);
}

void info_json(const struct lock_state *st, FILE *f)
{
	fputs("{\"name\":", f);
	json_cstring(f, st->name ? st->name : "");
	fprintf(f, ",\"mode\":\"%s\",\"token\":%lld,\"delayed_until\":",
		lock_mode_name(st->mode), (long long)st->token);
	json_time(f, st->delayed_until_ms);
	fputs(",\"holders\":[", f);
	for (size_t i = 0; i < st->nholders; i++) {
		fputs(i ? "," : "", f);
		json_holder(f, &st->holders[i]);
	}
	fprintf(f, "],\"waiting\":%lld,\"waiters\":[", (long long)st->waiters);
	for (size_t i = 0; i < st->nqueued; i++) {
		fputs(i ? "," : "", f);
		json_waiter(f, &st->queued[i]);
	}
	fputs("]}", f);
}
