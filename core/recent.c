/*
 * recent.c - lock names this node saw free a moment ago (see recent.h):
 * RECENT_SLOTS slots, each one name and when, chosen by the name's hash.
 */
#include "recent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RECENT_SLOTS 256

struct slot {
	char *path; /* NULL: empty */
	int64_t seen_ms;
};

struct recent {
	struct slot slots[RECENT_SLOTS];
};

static struct slot *slot_of(const struct recent *r, const char *path)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const char *c = path; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	return (struct slot *)&r->slots[h % RECENT_SLOTS];
}

int recent_new(struct recent **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void recent_free(struct recent *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < RECENT_SLOTS; i++)
		free(r->slots[i].path);
	free(r);
}

void recent_saw_free(struct recent *r, const char *path, int64_t now_ms)
{
	struct slot *s = slot_of(r, path);
	char *copy;

	if (s->path && strcmp(s->path, path) == 0) {
		s->seen_ms = now_ms;
		return;
	}
	copy = strdup(path);
	if (copy == NULL)
		return; /* not remembered: Redis is asked, as without */
	free(s->path);
	s->path = copy;
	s->seen_ms = now_ms;
}

void recent_forget(struct recent *r, const char *path)
{
	struct slot *s = slot_of(r, path);

	if (s->path && strcmp(s->path, path) == 0) {
		free(s->path);
		s->path = NULL;
	}
}

bool recent_is_free(const struct recent *r, const char *path, int64_t now_ms,
		    int64_t fresh_ms)
{
	const struct slot *s = slot_of(r, path);

	return s->path && strcmp(s->path, path) == 0 &&
	       now_ms - s->seen_ms < fresh_ms;
}
