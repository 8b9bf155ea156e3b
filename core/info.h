/*
 * info.h - the state of one lock as the store reports it, and the text a
 * read of the lock file returns (the README, "Read").  The text format is
 * a user interface, documented in README.md and kept stable:
 *
 *   name=db/orders
 *   mode=exclusive
 *   token=42
 *   holders=1
 *   node=n1                 \
 *   uid=1000                 |
 *   gid=1000                 |
 *   pid=4242                 |
 *   session=4200             |  one block per holder, in grant order,
 *   kind=lease               |  keys repeated for each holder of a
 *   acquired=1795000000.123  |  shared lock
 *   renewed=1795000010.456   |
 *   expires=1795000025.456   |
 *   ttl=15s                  |
 *   keepalive=session        |
 *   note=nightly backup     /
 *   waiters=0
 *
 * Times are Unix seconds with milliseconds, from the Redis clock.  Values are
 * escaped with name_escape(), so every value is one line.
 *
 * The structs are plain values; lock_state_clear() frees what they own.
 */
#ifndef LOCKFS_INFO_H
#define LOCKFS_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "command.h"

enum lock_mode {
	LOCK_MODE_EXCLUSIVE = 0,
	LOCK_MODE_SHARED = 1,
};

enum holder_kind {
	HOLDER_LEASE = 0,
	HOLDER_HANDLE = 1,
};

struct lock_holder {
	char *id;    /* the store's holder id (owner or handle id), owned */
	char *node;  /* owned */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	pid_t session;
	enum holder_kind kind;
	enum lock_mode mode;
	int64_t token;
	int64_t acquired_ms; /* Unix ms, Redis clock */
	int64_t renewed_ms;
	int64_t expires_ms;
	int64_t ttl_ms;
	enum keepalive keepalive;
	char *note;  /* owned, may be NULL */
	size_t note_len;
};

/* A request waiting for a lock, as its info lists it (queue order). */
struct lock_waiter {
	char *node; /* owned */
	uid_t uid;
	pid_t pid;
	pid_t session;
	enum lock_mode mode;
	int64_t since_ms; /* when it queued: Unix ms, Redis clock */
};

/*
 * A lock file that exists as on a disk (the flock view: held or not, until
 * unlinked), as the store keeps it: what was written to it (at most
 * LOCK_FILE_DATA_MAX bytes), its mode and owner, and an id that a new file
 * of the same name does not share.
 */
#define LOCK_FILE_DATA_MAX 1024

struct lock_file {
	bool exists;
	int64_t id;
	mode_t mode; /* permission bits */
	uid_t uid;
	gid_t gid;
	int64_t ctime_ms; /* Unix ms, Redis clock */
	int64_t mtime_ms;
	char *data; /* owned, NUL-terminated too */
	size_t len;
};

struct lock_state {
	char *name;  /* the lock file's path, e.g. "db/.lock"; owned */
	enum lock_mode mode;
	int64_t token; /* newest grant's token; 0 when never granted */
	size_t nholders;
	struct lock_holder *holders; /* owned array */
	int64_t waiters;
	/* an expired hold's lock-delay keeps the lock until then (Unix ms,
	 * Redis clock); 0: none */
	int64_t delayed_until_ms;
	size_t nqueued; /* the first waiters, in queue order (a stat) */
	struct lock_waiter *queued; /* owned array */
	struct lock_file file; /* its lock file, where one exists unheld too */
};

const char *lock_mode_name(enum lock_mode m);     /* "exclusive"/"shared" */
const char *holder_kind_name(enum holder_kind k); /* "lease"/"handle" */

/* The holder of `st` with id `id`, or NULL. */
const struct lock_holder *lock_state_holder(const struct lock_state *st,
					    const char *id);
/* Free everything `st` owns and zero it; NULL is a no-op. */
void lock_state_clear(struct lock_state *st);
/* A deep copy into `*dst` (owned by the caller): 0 or -ENOMEM. */
int lock_state_copy(struct lock_state *dst, const struct lock_state *src);
/* A holder's deep copy (its note only `with_note`), and its freeing. */
int lock_holder_copy(struct lock_holder *dst, const struct lock_holder *src,
		     bool with_note);
void lock_holder_clear(struct lock_holder *h);

/*
 * Format `st` as the text above into a new buffer `*text` of `*len` bytes
 * (NUL-terminated too).  Returns 0 or -ENOMEM.
 */
int info_format(const struct lock_state *st, char **text, size_t *len);

/*
 * `st` as one JSON object (the HTTP API, the README): name, mode, token,
 * delayed_until, holders (node, uid, gid, pid, session, kind, mode, token,
 * acquired, renewed, expires, ttl, keepalive, note), waiting (how many)
 * and waiters (the first ones, in queue order).  Times are Unix seconds.
 */
void info_json(const struct lock_state *st, FILE *f);

#endif
