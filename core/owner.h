/*
 * owner.h - who a request belongs to (the README).
 *
 * An owner is (node, uid, session id of the calling process) by default;
 * owner=process narrows the session to the process (thread group id),
 * owner=user widens it to the uid alone.  The owner id is the string the
 * store keys holders by: "<node>:<uid>:s<sid>", "<node>:<uid>:p<tgid>" or
 * "<node>:<uid>:u".  Node names are checked by owner_check_node() so that
 * ':' never appears in one.
 *
 * The /proc readers take the procfs root as a parameter so tests can point
 * them at a fake tree.
 */
#ifndef LOCKFS_OWNER_H
#define LOCKFS_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define OWNER_NODE_MAX 64
#define OWNER_ID_MAX 128

enum owner_scope {
	OWNER_SESSION = 0,
	OWNER_PROCESS = 1,
	OWNER_USER = 2,
};

struct owner {
	char node[OWNER_NODE_MAX + 1];
	uid_t uid;
	gid_t gid;
	pid_t pid;     /* the calling thread's process (tgid) */
	pid_t session; /* its session id */
	enum owner_scope scope;
	char id[OWNER_ID_MAX];
};

/* 0 if `node` is 1..64 bytes of [A-Za-z0-9._-], else -EINVAL. */
int owner_check_node(const char *node);

/* "session" / "process" / "user"; owner_scope_parse returns 0 or -EINVAL. */
const char *owner_scope_name(enum owner_scope s);
int owner_scope_parse(const char *s, enum owner_scope *out);

/*
 * Read the thread group id and session id of task `tid` from
 * `<procfs>/<tid>/stat` and `<procfs>/<tid>/status`.  Returns 0 or -errno
 * (-ESRCH when the task is gone).
 */
int owner_proc_ids(const char *procfs, pid_t tid, pid_t *tgid, pid_t *sid);

/*
 * Fill `*o` for a request from thread `tid` of user `uid`/`gid` on `node`
 * with `scope`.  A tid of 0 (a request the kernel makes on its own) or a
 * task already gone gives pid = session = 0, which still forms an id.
 * Returns 0 or -errno.
 */
int owner_from_request(const char *procfs, const char *node, uid_t uid,
		       gid_t gid, pid_t tid, enum owner_scope scope,
		       struct owner *o);

/* Build o->id from the other fields.  Returns 0 or -ENAMETOOLONG. */
int owner_make_id(struct owner *o);

/*
 * Fill `sids` (sorted ascending, unique) with the session ids of every live
 * process under `procfs`; returns how many, or -errno.  A return of `max`
 * means the array was too small: grow it and call again.  Used by
 * keepalive to learn which sessions are still alive.
 */
long owner_live_sessions(const char *procfs, pid_t *sids, size_t max);

/*
 * Is the leader of session `sid` alive (process `sid` exists and leads it)?
 * Then the session is alive, and nobody needs to scan all of /proc.
 */
bool owner_session_leader_alive(const char *procfs, pid_t sid);

/* Is `sid` in the sorted array `sids` of `n`? */
bool owner_session_in(const pid_t *sids, size_t n, pid_t sid);

#endif
