/*
 * locator.h - where the Redis master is when it may move: named by Redis
 * Sentinel, or the master of the tree's slot in a Redis Cluster.
 *
 * A URL "sentinel://HOST[:PORT],HOST[:PORT].../MASTER[/DB]" names a set of
 * sentinels (port 26379 by default; ';' separates them too, for places
 * where a comma is awkward) and the name of the master they watch.  The
 * master's address is whatever the sentinels answer to
 * SENTINEL get-master-addr-by-name MASTER: they are asked one after the
 * other, each with a short timeout, starting with the one that answered
 * last, and the first address given wins (the Sentinel client protocol).
 *
 * A URL "cluster://HOST[:PORT],HOST[:PORT]..." names some nodes of a Redis
 * Cluster (port 6379 by default; any of them will do): the master is the
 * one CLUSTER SLOTS names for the slot set with locator_set_slot() (the
 * slot of the tree's hash tag, locator_key_slot()), asked the same way.
 * The store follows MOVED and the other cluster redirections by asking
 * again (store_call.c).
 *
 * Two ways to ask: locator_resolve() blocks, for mount time, before any
 * loop runs; locator_attach() + locator_ask() ask on a libevent loop
 * without ever blocking it, for reconnections and for the store's periodic
 * check that the master has not moved.  The sentinels are never trusted
 * for the role: the caller asks the address itself (ROLE) before using it.
 *
 * Threading: the loop thread only.  Ownership: the sentinel owns every
 * string it hands out; they live as long as it does.
 */
#ifndef LOCKFS_LOCATOR_H
#define LOCKFS_LOCATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SENTINEL_DEFAULT_PORT 26379
#define CLUSTER_DEFAULT_PORT 6379
#define LOCATOR_MAX 16

struct event_base;
struct locator;

/* Whether `url` is a sentinel:// or a cluster:// URL. */
bool locator_is_url(const char *url);
bool locator_is_cluster(const struct locator *l);

/*
 * Cluster: look for the master of `slot` (0 for a new locator).  0 or
 * -ENOMEM.  locator_master_name() says "slot N" then.
 */
int locator_set_slot(struct locator *l, int slot);
/* The Redis Cluster slot of `key` (CRC16 of its hash tag, mod 16384). */
int locator_key_slot(const char *key, size_t len);

/*
 * Parse `url` into a new sentinel.  Returns 0, -EINVAL for a malformed URL
 * (no sentinel, more than LOCATOR_MAX, a bad port, an empty or odd master
 * name, a bad db) or -ENOMEM.
 */
int locator_new(const char *url, struct locator **out);
/* Close any connection, drop a round in progress unanswered; NULL is a no-op. */
void locator_free(struct locator *s);

size_t locator_count(const struct locator *s);
/* Host and port of sentinel `i` (0 <= i < locator_count()). */
const char *locator_host(const struct locator *s, size_t i);
int locator_port(const struct locator *s, size_t i);
const char *locator_master_name(const struct locator *s);
/* The database number after the master name, 0 without one. */
int locator_db(const struct locator *s);

/*
 * Ask the sentinels, synchronously, where the master is, giving each at
 * most `timeout_ms` to connect and as much to answer.  On success returns
 * 0 with the master's host (malloc'd, the caller frees it) in `*host` and
 * its port in `*port`; otherwise -EHOSTUNREACH with the last sentinel's
 * complaint in `why`.
 */
int locator_resolve(struct locator *s, int64_t timeout_ms, char **host,
		     int *port, char *why, size_t whylen);

/*
 * The answer of one round of locator_ask(): err 0 with the master's
 * address (valid during the call only), or -EHOSTUNREACH when no sentinel
 * gave one.
 */
typedef void locator_cb(void *arg, int err, const char *host, int port);

/*
 * Ask on `base` from now on, giving each sentinel `timeout_ms`; every round
 * ends in exactly one call of `cb`, never inside locator_ask().
 */
int locator_attach(struct locator *s, struct event_base *base,
		    int64_t timeout_ms, locator_cb *cb, void *arg);

/*
 * Start a round.  Returns 0, or -EALREADY when one is under way (its
 * answer will do), or -EINVAL before locator_attach().
 */
int locator_ask(struct locator *s);

#endif
