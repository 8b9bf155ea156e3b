/*
 * backlog.c - a bounded queue of event lines (see backlog.h).
 */
#include "backlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

struct backlog_line {
	char *text;
	size_t len;
	STAILQ_ENTRY(backlog_line) link;
};

struct backlog {
	STAILQ_HEAD(, backlog_line) lines;
	size_t nlines, max_lines;
};

int backlog_new(size_t max_lines, struct backlog **out)
{
	struct backlog *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	STAILQ_INIT(&b->lines);
	b->max_lines = max_lines ? max_lines : 1;
	*out = b;
	return 0;
}

void backlog_drop(struct backlog *b)
{
	struct backlog_line *l = STAILQ_FIRST(&b->lines);

	if (l == NULL)
		return;
	STAILQ_REMOVE_HEAD(&b->lines, link);
	b->nlines--;
	free(l->text);
	free(l);
}

void backlog_free(struct backlog *b)
{
	if (b == NULL)
		return;
	while (!STAILQ_EMPTY(&b->lines))
		backlog_drop(b);
	free(b);
}

int backlog_push(struct backlog *b, const char *line, size_t len)
{
	struct backlog_line *l = calloc(1, sizeof(*l));

	if (l == NULL || (l->text = malloc(len ? len : 1)) == NULL) {
		free(l);
		return -ENOMEM;
	}
	memcpy(l->text, line, len);
	l->len = len;
	STAILQ_INSERT_TAIL(&b->lines, l, link);
	if (++b->nlines > b->max_lines)
		backlog_drop(b);
	return 0;
}

bool backlog_empty(const struct backlog *b)
{
	return STAILQ_EMPTY(&b->lines);
}

const char *backlog_peek(const struct backlog *b, size_t *len)
{
	const struct backlog_line *l = STAILQ_FIRST(&b->lines);

	if (l == NULL)
		return NULL;
	*len = l->len;
	return l->text;
}
