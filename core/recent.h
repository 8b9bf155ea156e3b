/*
 * recent.h - lock names this node saw free a moment ago.
 *
 * An owner that releases its exclusive lock through this node, with nobody
 * handed it on, knows the name is free at that moment; the kernel's lookup
 * of the same name in the next create (the usual take, release, take
 * again) is then answered from here for a short while instead of asking
 * Redis.  A change made by another node in between shows here that much
 * later, within the one second the README allows.  A lookup answered
 * wrongly "absent" is harmless for a create: the acquire that follows asks
 * Redis and waits or fails as it should.
 *
 * A small direct-mapped table: a name may be forgotten early (another one
 * took its slot), never kept late.  Loop thread only.
 */
#ifndef LOCKFS_RECENT_H
#define LOCKFS_RECENT_H

#include <stdbool.h>
#include <stdint.h>

struct recent;

int recent_new(struct recent **out); /* 0 or -ENOMEM */
void recent_free(struct recent *r);  /* NULL is a no-op */

/* `path` was seen free at `now_ms` (monotonic). */
void recent_saw_free(struct recent *r, const char *path, int64_t now_ms);
/* `path` may be held now: forget that it was free. */
void recent_forget(struct recent *r, const char *path);
/* Was `path` seen free within `fresh_ms` before `now_ms`? */
bool recent_is_free(const struct recent *r, const char *path, int64_t now_ms,
		    int64_t fresh_ms);

#endif
