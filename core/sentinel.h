/*
 * sentinel.h - finding the Redis master through Redis Sentinel.
 *
 * A URL "sentinel://HOST[:PORT],HOST[:PORT].../MASTER[/DB]" names a set of
 * sentinels (port 26379 by default; ';' separates them too, for places
 * where a comma is awkward) and the name of the master they watch.  The
 * master's address is whatever the sentinels answer to
 * SENTINEL get-master-addr-by-name MASTER: they are asked one after the
 * other, each with a short timeout, starting with the one that answered
 * last, and the first address given wins (the Sentinel client protocol).
 *
 * Two ways to ask: sentinel_resolve() blocks, for mount time, before any
 * loop runs; sentinel_attach() + sentinel_ask() ask on a libevent loop
 * without ever blocking it, for reconnections and for the store's periodic
 * check that the master has not moved.  The sentinels are never trusted
 * for the role: the caller asks the address itself (ROLE) before using it.
 *
 * Threading: the loop thread only.  Ownership: the sentinel owns every
 * string it hands out; they live as long as it does.
 */
#ifndef LOCKFS_SENTINEL_H
#define LOCKFS_SENTINEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SENTINEL_DEFAULT_PORT 26379
#define SENTINEL_MAX 16

struct event_base;
struct sentinel;

/* Whether `url` is a sentinel URL (it starts with "sentinel://"). */
bool sentinel_is_url(const char *url);

/*
 * Parse `url` into a new sentinel.  Returns 0, -EINVAL for a malformed URL
 * (no sentinel, more than SENTINEL_MAX, a bad port, an empty or odd master
 * name, a bad db) or -ENOMEM.
 */
int sentinel_new(const char *url, struct sentinel **out);
/* Close any connection, drop a round in progress unanswered; NULL is a no-op. */
void sentinel_free(struct sentinel *s);

size_t sentinel_count(const struct sentinel *s);
/* Host and port of sentinel `i` (0 <= i < sentinel_count()). */
const char *sentinel_host(const struct sentinel *s, size_t i);
int sentinel_port(const struct sentinel *s, size_t i);
const char *sentinel_master_name(const struct sentinel *s);
/* The database number after the master name, 0 without one. */
int sentinel_db(const struct sentinel *s);

/*
 * Ask the sentinels, synchronously, where the master is, giving each at
 * most `timeout_ms` to connect and as much to answer.  On success returns
 * 0 with the master's host (malloc'd, the caller frees it) in `*host` and
 * its port in `*port`; otherwise -EHOSTUNREACH with the last sentinel's
 * complaint in `why`.
 */
int sentinel_resolve(struct sentinel *s, int64_t timeout_ms, char **host,
		     int *port, char *why, size_t whylen);

/*
 * The answer of one round of sentinel_ask(): err 0 with the master's
 * address (valid during the call only), or -EHOSTUNREACH when no sentinel
 * gave one.
 */
typedef void sentinel_cb(void *arg, int err, const char *host, int port);

/*
 * Ask on `base` from now on, giving each sentinel `timeout_ms`; every round
 * ends in exactly one call of `cb`, never inside sentinel_ask().
 */
int sentinel_attach(struct sentinel *s, struct event_base *base,
		    int64_t timeout_ms, sentinel_cb *cb, void *arg);

/*
 * Start a round.  Returns 0, or -EALREADY when one is under way (its
 * answer will do), or -EINVAL before sentinel_attach().
 */
int sentinel_ask(struct sentinel *s);

#endif
