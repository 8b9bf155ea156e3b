/*
 * lease.h - the leases this node granted, kept for two jobs:
 *
 *  - keepalive (the README): a lease with keepalive=session is renewed
 *    while its owner's session (owner=process: its process; owner=user:
 *    the session of the process that took it) is alive on this node, and
 *    released with reason owner-exit as soon as it is gone (a release
 *    that finds the hold already gone drops the entry without an event);
 *  - ESTALE: an owner whose lease expired or was broken meanwhile gets
 *    ESTALE, not EPERM or ENOENT, when it next writes or unlinks, so a
 *    paused holder learns it lost the lock.  Lost leases are remembered for
 *    LEASE_STALE_MEMORY_MS.
 *
 * Handle locks (flock/fcntl, the README) are kept here too: the daemon
 * renews them for as long as their open file holds them, whatever the
 * session does, until they are unlocked or their file is closed.
 *
 * Redis stays the truth: this table only decides when to ask it.  Runs on
 * the loop thread; the table owns its entries and copies the strings it
 * keeps of a holder (not its note, which it never needs).
 */
#ifndef LOCKFS_LEASE_H
#define LOCKFS_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "info.h"
#include "owner.h"

#define LEASE_STALE_MEMORY_MS (10 * 60 * 1000)

struct event_base;
struct store;
struct leases;

/*
 * Called when keepalive ends a lease (reason "owner-exit"), sees a lease
 * with keepalive=off run out (reason "lost", then "expired"), or a hold is
 * lost against its holder's will (reason "lost", once per grant:
 * leases_lost_notice).
 */
typedef void leases_event_cb(void *arg, const char *path, const char *reason,
			     const struct lock_holder *h);

int leases_new(struct event_base *base, struct store *st, const char *procfs,
	       struct leases **out);
void leases_free(struct leases *lt);

void leases_set_event_cb(struct leases *lt, leases_event_cb *cb, void *arg);

/*
 * Record that holder `h` (a lease or a handle lock) holds `path` now, as a
 * store result reported; replaces an earlier entry of the same owner and
 * path.  Its age (leases_get_fresh) counts from this call; `now_ms`, the
 * Redis clock, is not used.
 */
int leases_granted(struct leases *lt, const char *path,
		   const struct lock_holder *h, int64_t now_ms);

/* The owner released `path` (or learned it lost it): forget the entry. */
void leases_forget(struct leases *lt, const char *path, const char *owner_id);

/* Mark the entry lost (expired or broken) so later calls give ESTALE. */
void leases_lost(struct leases *lt, const char *path, const char *owner_id);
/*
 * The same for a hold lost against its holder's will (expired, broken,
 * refused by Redis): its onlost= signal, if any, goes to its holder.
 */
void leases_lost_notice(struct leases *lt, const char *path,
			const char *owner_id);
/* onlost=: the signal (0: none) for one entry, or for every new one. */
void leases_set_onlost(struct leases *lt, const char *path,
		       const char *owner_id, int sig);
void leases_set_default_onlost(struct leases *lt, int sig);

/*
 * Did `owner_id` hold `path` through this node and lose it since (expired,
 * broken, or a different grant now)?  `current_token` is the token the owner
 * holds now (0 for none).
 */
bool leases_is_stale(struct leases *lt, const char *path,
		     const char *owner_id, int64_t current_token);

/*
 * The token of the grant `owner_id` got for `path` through this node, lost
 * or not (a lost one is remembered for LEASE_STALE_MEMORY_MS), or 0.  An
 * unlink names it, so that the store answers ESTALE when that grant is gone
 * instead of releasing or breaking whoever holds the lock now.
 */
int64_t leases_token(struct leases *lt, const char *path,
		     const char *owner_id);

/*
 * A stat or open by the owner of a lost lease was just told ESTALE; the
 * kernel repeats such a call once with a fresh lookup (two LOOKUPs of the
 * name: the revalidation of the old entry, then the lookup of a new one),
 * which must find the name gone (so that a new open creates, a stat says
 * ENOENT).  The lookups after those, as the unlink that follows a stat in
 * rm(1), find it again, so that the unlink still gets ESTALE.
 *
 * leases_take_told_stale(): true for each of the next `lookups`
 * (leases_told_stale's) lookups within `ms` of the ESTALE.
 */
void leases_told_stale(struct leases *lt, const char *path,
		       const char *owner_id, int lookups);
bool leases_take_told_stale(struct leases *lt, const char *path,
			    const char *owner_id, int64_t ms);

/*
 * The holder `id` of `path` as this node last saw it, or NULL when it does
 * not hold it (or lost it).  Valid until the table changes.
 */
const struct lock_holder *leases_get(struct leases *lt, const char *path,
				     const char *id);

/*
 * As leases_get(), but only when Redis confirmed the hold (grant or
 * renewal through this node) at most `max_age_ms` ago.
 */
const struct lock_holder *leases_get_fresh(struct leases *lt,
					   const char *path, const char *id,
					   int64_t max_age_ms);

/*
 * A handle lock on `path` this node keeps for a requester of uid `uid` in
 * session `session` (its own lock, when that owner opens the file again),
 * or NULL.  Valid until the table changes.
 */
const struct lock_holder *leases_handle_of(struct leases *lt,
					   const char *path, uid_t uid,
					   pid_t session);

/* Is `id`'s hold of `path` remembered as lost (expired, broken)? */
bool leases_is_lost(struct leases *lt, const char *path, const char *id);

/* How many holds this node keeps and has not lost, leases and handle
 * locks alike (for status). */
size_t leases_count(const struct leases *lt);

/* Call `cb` for each hold this node keeps and has not lost (the holds
 * leases_count() counts), with its path and holder as last reported. */
typedef void leases_each_cb(void *arg, const char *path,
			    const struct lock_holder *h);
void leases_each(const struct leases *lt, leases_each_cb *cb, void *arg);

#endif
