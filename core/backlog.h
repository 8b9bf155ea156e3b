/*
 * backlog.h - one reader's queue of event lines (a reader of
 * /.lockfs/events, an HTTP event stream): lines wait here until the reader
 * takes them, and a reader that does not keep up loses the oldest ones
 * beyond the queue's bound, so that a stalled reader costs bounded memory
 * and never slows anybody else.
 *
 * Loop thread only.  The lines are copies owned by the queue.
 */
#ifndef LOCKFS_BACKLOG_H
#define LOCKFS_BACKLOG_H

#include <stdbool.h>
#include <stddef.h>

struct backlog;

/* How far a reader of the events stream may fall behind. */
#define BACKLOG_EVENT_LINES 10000

/* A queue of at most `max_lines` lines: 0 or -ENOMEM. */
int backlog_new(size_t max_lines, struct backlog **out);
void backlog_free(struct backlog *b); /* NULL is a no-op */

/* Add a copy of `line[0..len)`, dropping the oldest past the bound. */
int backlog_push(struct backlog *b, const char *line, size_t len);

bool backlog_empty(const struct backlog *b);

/* The oldest line (valid until it is dropped), or NULL when empty. */
const char *backlog_peek(const struct backlog *b, size_t *len);
void backlog_drop(struct backlog *b);

#endif
