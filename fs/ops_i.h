/*
 * ops_i.h - what the FUSE operations' files share (fs/ maps file
 * operations to core calls):
 *
 *   ops.c         helpers, creates retried as opens, xattrs, refusals, the
 *                 operation table;
 *   ops_lock.c    lock files: lookup, getattr, create and open, read;
 *   ops_renew.c   writes, truncation, utimens, lock sets, unlink;
 *   ops_ns.c      namespaces: mkdir, rmdir, readdir, setattr;
 *   ops_handle.c  handle locks: flock(2), fcntl(2), lockf(3);
 *   ops_file.c    the flock view's lock files, as files on a shared disk.
 *
 * Loop thread only, like all of the daemon.
 */
#ifndef LOCKFS_OPS_I_H
#define LOCKFS_OPS_I_H

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "clock.h"
#include "command.h"
#include "event.h"
#include "info.h"
#include "lockfs.h"
#include "lockset.h"
#include "log.h"
#include "name.h"
#include "node.h"
#include "owner.h"

#define XATTR_TOKEN "user.lockfs.token"
#define XATTR_INFO "user.lockfs.info" /* a lock's state, as a read shows it */
#define XATTR_LIMIT "user.lockfs.limit" /* a namespace's semaphore */
#define NS_CACHE_S 0.5
#define GROUPS_MAX 64
#define STALE_RETRY_MS 1000

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
			bool info; /* XATTR_INFO, not the token */
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

/* ops.c */
struct lockfs *fs_of(fuse_req_t req);
struct handle *handle_of(const struct fuse_file_info *fi);
struct timespec ms_to_ts(int64_t ms); /* Unix ms as a timespec */
struct op *op_new(fuse_req_t req, struct inode *in, const char *path);
void op_free(struct op *op);
void op_fail(struct op *op, int err);
void op_started(struct op *op, int err);
int request_owner(fuse_req_t req, struct owner *o);
void lock_attr(const struct op *op, const struct lock_state *ls, uint64_t ino,
	       struct stat *st);
void ns_attr_to_stat(const struct ns_attr *a, uint64_t ino, struct stat *st);
void ns_remember(struct inode *in, const struct ns_attr *a);
double ns_fresh_s(const struct inode *in);
void placeholder_attr(fuse_req_t req, uint64_t ino, struct stat *st);
double cache_s(const struct inode *in);
void fill_entry(struct fuse_entry_param *e, struct inode *in);
void reply_entry(struct lockfs *fs, fuse_req_t req, struct inode *in,
		 const struct stat *st);
const struct lock_holder *find_holder(const struct lock_state *ls,
				      const char *id);
int child_path(struct lockfs *fs, fuse_ino_t parent, const char *name,
	       struct inode **pin, char **path);
bool is_control_name(const struct inode *parent, const char *name);
struct op *child_op(fuse_req_t req, fuse_ino_t parent, const char *name,
		    int control_err);
void holder_groups(fuse_req_t req, gid_t *buf, struct store_holder *h);
bool retry_pending(const struct inode *in);
bool retry_arm(struct lockfs *fs, const char *path);

/* ops_handle.c */
void handle_lock_id(struct lockfs *fs, uint64_t lock_owner, bool posix,
		    char *buf, size_t size);
void handle_unlock(struct lockfs *fs, fuse_req_t req, const char *path,
		   const char *id);
void lockfs_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		  int op);
void lockfs_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		  struct flock *lock, int sleep);
void lockfs_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		  struct flock *lock);
void drop_handle_locks(struct lockfs *fs, const struct handle *h,
		       const struct fuse_file_info *fi, bool flock);

/* ops_file.c */
/* Does `ls` show as a file in this mount's view? */
bool lock_shown(const struct lockfs *fs, const struct lock_state *ls);
void file_attr(const struct lock_file *f, uint64_t ino, struct stat *st);
void file_seen(struct inode *in, const struct lock_state *ls);
/* Was the file `in` was last seen as (or descriptor `h` opened; NULL: the
 * inode's) unlinked since?  Then file_gone_attr() are its attributes, as
 * fstat(2) shows them. */
bool file_gone(const struct inode *in, const struct handle *h,
	       const struct lock_state *ls);
void file_gone_attr(fuse_req_t req, const struct inode *in,
		    const struct handle *h, struct stat *st);
void file_create(fuse_req_t req, const char *path, const struct inode *parent,
		 mode_t mode, struct fuse_file_info *fi);
void file_open(fuse_req_t req, struct inode *in, struct fuse_file_info *fi);
void file_write(fuse_req_t req, struct handle *h, const char *buf,
		size_t size, off_t off);
int file_text(const struct handle *h, const struct lock_state *ls,
	      char **text, size_t *len);
void file_setattr(fuse_req_t req, struct inode *in, const struct stat *attr,
		  int to_set, struct fuse_file_info *fi);
void file_unlink(struct op *op);

/* ops_lock.c */
void lockfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void lockfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void lockfs_forget_multi(fuse_req_t req, size_t count,
			 struct fuse_forget_data *forgets);
/* getattr (`h`: of an open file, fstat(2); NULL: none) */
void start_getattr(fuse_req_t req, struct inode *in, bool lenient,
		   struct handle *h);
void lockfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void holder_for(struct lockfs *fs, const struct owner *o, enum holder_kind kind,
		enum lock_mode mode, struct store_holder *h);
void acquired(struct op *op, const struct store_result *res, bool is_create);
int op_parked(struct op *op, int err, bool block);
void lockfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		   mode_t mode, struct fuse_file_info *fi);
void lockfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* Answer an open of `in` with descriptor `h` (NULL: ENOMEM); a failed
 * reply closes it again. */
void reply_open(fuse_req_t req, struct inode *in, struct fuse_file_info *fi,
		struct handle *h);
void lockfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* poll(): forget `h`'s pending one (at its release) */
void poll_forget(struct handle *h);
void lockfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);

/* ops_ns.c */
void lockfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode);
void lockfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void lockfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lockfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void lockfs_releasedir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);

/* ops_renew.c */
int own_hold(struct lockfs *fs, const struct handle *h, char *id, size_t size,
	     int64_t *token);
void lockfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		  off_t off, struct fuse_file_info *fi);
void setattr_lock(fuse_req_t req, struct inode *in, int to_set,
		  struct fuse_file_info *fi);
void lockfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		    int to_set, struct fuse_file_info *fi);
void lockfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
/* unlink `op`'s lock as the lease view does: release, break, ESTALE */
void unlink_lock(struct op *op);

#endif
