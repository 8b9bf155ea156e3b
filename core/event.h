/*
 * event.h - one line of the cluster-wide event stream (the README):
 *
 *   1795000000.123 acquired db/orders 42 n1 1000 exclusive
 *
 * time (Unix seconds with ms, Redis clock), event (acquired, released,
 * expired, broken, owner-exit, waiting), lock name, token, holder's node,
 * uid, mode; separated by one space, ended by a newline.  The name is
 * escaped as in name_escape() and spaces in it become "\x20", so every
 * field is one word.  This format is documented in README.md.
 */
#ifndef LOCKFS_EVENT_H
#define LOCKFS_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "info.h"

/*
 * Format an event into a new string `*line` (`*len` bytes, newline
 * included).  Returns 0 or -ENOMEM.
 */
int event_format(int64_t time_ms, const char *event, const char *name,
		 int64_t token, const char *node, uid_t uid,
		 enum lock_mode mode, char **line, size_t *len);

/*
 * The outcome line of a request handle (the README): "granted NAME=TOKEN
 * ..." for the `n` names of a granted lock set with their `tokens`, names
 * escaped as in event lines, or for `err` < 0 "error ERRNAME", newline
 * ended, in a new string `*line` of `*len` bytes.  0 or -ENOMEM.
 */
int event_outcome(char *const *names, const int64_t *tokens, size_t n,
		  int err, char **line, size_t *len);

#endif
