/*
 * op.h - one FUSE request waiting for the lock service (struct op): made
 * when an operation needs Redis, answered exactly once by the callback
 * that the node service calls, and freed there.  Also what every
 * operation asks of its request: the daemon, the open file, the caller as
 * an owner and as a holder, the path of a child name.
 *
 * The files of fs/ sit in layers, each calling only those below it:
 *
 *   ops.c                       the operation table: picks the file below
 *                               by the inode's kind and the mount's view
 *   lockfile.c flockfile.c      one file per kind of object: lock files
 *   handlelock.c ns.c xattr.c   (lease view, flock view), handle locks,
 *   setwrite.c control.c        namespaces, attributes, lock-set writes,
 *                               the control files
 *   hold.c report.c request.c   what they share, each calling only those
 *   getattr.c http.c            after it: a held lock's truncate and
 *                               unlink, the status and metrics text,
 *                               request handles, lookups and getattrs,
 *                               the HTTP endpoints
 *   attr.c                      attributes and entries
 *   op.c  handle.c  inode.c     a request and its parking; open files;
 *                               inodes
 *
 * None calls a file above it, nor (in the second row) another of its row.
 *
 * Loop thread only, like all of the daemon.
 */
#ifndef LOCKFS_OP_H
#define LOCKFS_OP_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lockfs.h"
#include "lockset.h"
#include "node.h"
#include "owner.h"

#define GROUPS_MAX 64

/* One request waiting for the store. */
struct op {
	struct lockfs *fs;
	fuse_req_t req;
	struct inode *in;
	char *path;
	struct owner owner;
	struct fuse_file_info fi;
	struct handle *h;
	size_t size;
	/* what only some requests carry, by the request */
	union {
		struct {
			off_t off;
		} read;
		struct {
			bool lenient; /* a placeholder's attributes will do */
		} getattr;
		struct {
			int type; /* F_RDLCK or F_WRLCK asked about */
		} getlk;
		struct {
			bool shared, block; /* the mode it converts to */
		} convert;
		struct {
			bool list; /* a listxattr, not a getxattr */
			bool info; /* the lock's state, not the token */
		} xattr;
		struct {
			int onlost; /* onlost= written: its signal, or -1 */
		} write;
		struct {
			int to_set; /* a setattr's FUSE_SET_ATTR_* */
		} setattr;
	} u;
	bool is_create;
	bool retry_as_open; /* a busy create becomes ESTALE + an open */
	struct waiter *waiter;
	char lease_id[OWNER_ID_MAX]; /* handle locks: the requester's lease */
	struct lockset *set;	     /* a lock-set write */
	double started_s;	     /* monotonic, for the wait histogram */
};

struct lockfs *fs_of(fuse_req_t req);
struct handle *handle_of(const struct fuse_file_info *fi);

/* A new op for `req` on `in` (may be NULL) and `path` (copied; may be
 * NULL), or NULL for ENOMEM. */
struct op *op_new(fuse_req_t req, struct inode *in, const char *path);
/* An op for a call on `in` (its path), or NULL after answering ENOMEM. */
struct op *op_of(fuse_req_t req, struct inode *in);
void op_free(struct op *op);
/* Answer `op` with -`err` and free it. */
void op_fail(struct op *op, int err);
/* A store call was started with result `err`: if it failed, answer now. */
void op_started(struct op *op, int err);
/*
 * The node service took `op`'s request (`err` is what it returned): if it
 * may wait, let a signal withdraw it (EINTR).  Returns `err`, for the
 * caller to answer when it is an error.
 */
int op_parked(struct op *op, int err, bool block);

/* The caller of `req` as an owner (procfs: its session). */
int request_owner(fuse_req_t req, struct owner *o);
/* The same, or an owner with an empty id, which holds nothing, when the
 * caller's owner cannot be read (a reply that does not need one). */
void request_owner_or_none(fuse_req_t req, struct owner *o);
/*
 * The holder `o` takes a lock as, of `kind` in `mode`, with `req`'s
 * supplementary groups (kept in `groups`, GROUPS_MAX of them, which must
 * live as long as `h` is used; NULL `req`: none).
 */
void op_holder(struct lockfs *fs, fuse_req_t req, const struct owner *o,
	       enum holder_kind kind, enum lock_mode mode, gid_t *groups,
	       struct store_holder *h);

/* The path of child `name` of directory inode `parent`, or -errno. */
int child_path(struct lockfs *fs, fuse_ino_t parent, const char *name,
	       struct inode **pin, char **path);
bool is_control_name(const struct inode *parent, const char *name);
/*
 * An op for child `name` of directory `parent`, or NULL after answering the
 * request with the error: a bad name, or `control_err` for the control
 * directory's own name.
 */
struct op *child_op(fuse_req_t req, fuse_ino_t parent, const char *name,
		    int control_err);

#endif
