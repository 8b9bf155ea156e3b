/*
 * http.h - http=[ADDR:]PORT: this node's read-only HTTP endpoints (the
 * README, "A window on the cluster"), served from the daemon's own loop:
 *
 *   /             the live lock page (one self-contained HTML file)
 *   /metrics      the metrics file, for Prometheus
 *   /api/status   the status file as JSON
 *   /api/locks    the lock tree as JSON (core/walk.h), ?prefix=
 *   /events       the events stream as Server-Sent Events
 *
 * GET and HEAD only (405 otherwise).  Nothing here changes a lock.
 */
#ifndef LOCKFS_HTTP_H
#define LOCKFS_HTTP_H

#include <stddef.h>

#include "http_addr.h"

struct http;
struct lockfs;

/* The status and metrics texts it serves (report.h), each into a new
 * buffer: 0 or -ENOMEM. */
struct http_reports {
	int (*status)(struct lockfs *fs, char **text, size_t *len);
	int (*metrics)(struct lockfs *fs, char **text, size_t *len);
};

/* Serve on listening socket `fd` (taken over) from `fs`'s loop. */
int http_new(struct lockfs *fs, int fd, const struct http_reports *reports,
	     struct http **out);
void http_free(struct http *h); /* NULL is a no-op; ends every stream */

/* "ADDR:PORT" it listens on ("" for NULL). */
const char *http_address(const struct http *h);

/* An event line for every open event stream; NULL `h` is a no-op. */
void http_event(struct http *h, const char *line, size_t len);

/* How many event streams are open (0 for NULL). */
size_t http_streams(const struct http *h);

#endif
