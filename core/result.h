/*
 * result.h - the types the lock service's calls take and give back: how to
 * reach Redis, who asks for a lock, and what a call answers.  Shared by
 * the store (store.h), the wait queue and the node service (node.h), so
 * that the FUSE adapter can use answers without the store's own header.
 *
 * Ownership: struct store_result and everything in it belong to whoever
 * calls back with it and are valid only during the callback.
 */
#ifndef LOCKFS_RESULT_H
#define LOCKFS_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "info.h"
#include "metrics.h"
#include "script_iface.h"

struct store_config {
	/* redis://host:port[/db], unix:/path, or
	 * sentinel://host:port,host:port/master[/db] (locator.h) */
	const char *url;
	const char *password; /* NULL for none */
	const char *prefix;   /* the hash tag, e.g. "lockfs" */
	int64_t backend_timeout_ms;
	/* redis_replicas=: a change is answered only once WAIT says this many
	 * replicas have it (0: no WAIT) */
	int replicas;
};

enum store_kind {
	STORE_NONE = 0,
	STORE_NAMESPACE,
	STORE_LOCK,
	STORE_LISTING,
	STORE_TOKENS,
};

struct ns_attr {
	mode_t mode; /* permission bits incl. suid/sgid/sticky */
	uid_t uid;
	gid_t gid;
	int64_t ctime_ms;
	int64_t mtime_ms;
	int64_t limit; /* user.lockfs.limit: 0 for none */
};

struct store_entry {
	char *name;
	bool is_namespace;
};

/*
 * A queued request that a call granted on the way (a release, a
 * withdrawal: the hold ahead of it ended): provisional in Redis until its
 * daemon confirms it (acquire.lua).  The caller's node tells that daemon.
 */
struct store_grant {
	const char *waiter_id; /* NULL for a wake notice */
	const char *daemon;  /* the waiting daemon's id (store_wait) */
	int64_t token;
	int64_t expires_ms;  /* the Redis clock; until confirmed */
	/* or, instead of a grant: a slot of the semaphore of this namespace
	 * came free (or its queue moved): wake who waits for one */
	const char *wake_ns;
};

/* What holds a request back: a reply's extra "<kind>|<until>|<what>". */
struct store_blocker {
	enum blocker_kind kind; /* BLOCKER_NONE: the extra names none */
	int64_t until_ms;       /* the Redis clock: its end as known now */
	const char *what;       /* a lock node, a waiter id or a namespace */
};

struct store_result {
	int err;             /* 0 or -errno */
	int64_t now_ms;      /* the Redis clock when the script ran */
	const char *extra;   /* script-specific word, e.g. "new", "broken" */
	/* `extra` parsed (script_iface.h's REPLY_WORDS and BLOCKER_KINDS):
	 * a word (WORD_NONE for "" and for a blocker), or a blocker */
	enum reply_word word;
	struct store_blocker blocker;
	enum store_kind kind;
	struct ns_attr ns;        /* STORE_NAMESPACE */
	struct lock_state lock;   /* STORE_LOCK */
	size_t nentries;          /* STORE_LISTING */
	struct store_entry *entries;
	size_t ntokens;           /* STORE_TOKENS: one per lock-set member */
	int64_t *tokens;
	bool wake; /* STORE_LOCK: a queued request may sleep on this change
		    * (a release the broker must tell); else unknown */
	size_t ngrants;           /* any kind: grants this call made */
	struct store_grant *grants;
};

typedef void store_cb(void *arg, const struct store_result *res);

/* Who asks for a lock, and how. */
struct store_holder {
	const char *id;   /* owner id or handle id */
	const char *node;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	pid_t session;
	enum holder_kind kind;
	enum lock_mode mode;
	int64_t ttl_ms;
	enum keepalive keepalive;
	int64_t lock_delay_ms; /* the lock stays unavailable this long once
				* this hold expires (not when released) */
	const char *note; /* NULL for none */
	/*
	 * A handle lock's requester's own lease owner id (NULL for none): a
	 * lease of that owner on the lock is converted into this hold.
	 */
	const char *absorb_id;
	/* lock sets: the caller's supplementary groups, for permissions */
	const gid_t *groups;
	size_t ngroups;
};

/* One change of a flock-view lock file: store.h's store_file(). */
enum file_op { FILE_CREATE, FILE_WRITE, FILE_TRUNCATE, FILE_ATTR,
	       FILE_UNLINK };

struct file_change {
	enum file_op op;
	int64_t id;
	bool excl, append, truncate; /* O_EXCL, O_APPEND, O_TRUNC */
	long mode, uid, gid; /* -1: unchanged */
	int64_t offset;      /* a write's offset, a truncate's size */
	bool has_mtime;      /* FILE_ATTR: an mtime asked for (else now) */
	int64_t mtime_ms;    /* ... in Unix ms */
	const char *data;
	size_t len;
};

/* Counters for metrics: answered calls, failures, timeouts, reconnects. */
/* The notifier's counters (notify.h). */
struct notifier_stats {
	uint64_t published, delivered, reconnects, bindings;
};

struct store_stats {
	uint64_t calls, errors, timeouts, reconnects;
	struct metrics_histogram rtt; /* of the answered calls */
};

/* The end of one acquire: 0 and the store's result (granted: extra "new"
 * or "renewed"), or -errno and possibly a result. */
typedef void lock_done_cb(void *arg, int err, const struct store_result *res);

#endif
