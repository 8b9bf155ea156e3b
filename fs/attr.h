/*
 * attr.h - what a lock file or namespace looks like to stat(2) and to the
 * kernel's entry cache, computed from what Redis said (no store calls
 * here): the attributes of a lock in either view, of a namespace, of a
 * placeholder; entries and how long they are cached; the flock view's
 * files; and the pins that keep a busy create's name for its retry.
 */
#ifndef LOCKFS_ATTR_H
#define LOCKFS_ATTR_H

#include "op.h"

#define NS_CACHE_S 0.5

struct timespec ms_to_ts(int64_t ms); /* Unix ms as a timespec */

/* A lock's attributes as `op`'s caller sees them (either view). */
void lock_attr(const struct op *op, const struct lock_state *ls, uint64_t ino,
	       struct stat *st);
void ns_attr_to_stat(const struct ns_attr *a, uint64_t ino, struct stat *st);
/* Keep what Redis said of namespace `in`, and how fresh it still is. */
void ns_remember(struct inode *in, const struct ns_attr *a);
double ns_fresh_s(const struct inode *in);
/* Attributes of an open read-only placeholder: nothing held, yours. */
void placeholder_attr(fuse_req_t req, uint64_t ino, struct stat *st);

/* How long the kernel may cache `in`'s entry and attributes. */
double cache_s(const struct inode *in);
void fill_entry(struct fuse_entry_param *e, struct inode *in);
/* Reply with an entry for `in`; takes a lookup reference on success. */
void reply_entry(struct lockfs *fs, fuse_req_t req, struct inode *in,
		 const struct stat *st);

/* The flock view: does `ls` show as a file in this mount's view? */
bool lock_shown(const struct lockfs *fs, const struct lock_state *ls);
void file_attr(const struct lock_file *f, uint64_t ino, struct stat *st);
/* Remember which file `in` names now (a new file of the name is another). */
void file_seen(struct inode *in, const struct lock_state *ls);
/* Was the file `in` was last seen as (or descriptor `h` opened; NULL: the
 * inode's) unlinked since?  Then file_gone_attr() are its attributes, as
 * fstat(2) shows them. */
bool file_gone(const struct inode *in, const struct handle *h,
	       const struct lock_state *ls);
void file_gone_attr(fuse_req_t req, const struct inode *in,
		    const struct handle *h, struct stat *st);
/* What a read of lock `ls` through `h` returns, into a new buffer. */
int lock_text(const struct lockfs *fs, const struct handle *h,
	      const struct lock_state *ls, char **text, size_t *len);

/*
 * A busy create answers ESTALE and the kernel retries it as an open
 * (lockfile.c): meanwhile the name shows as a placeholder.
 * retry_arm(): pin `path`'s inode for that; false if it cannot be.
 * retry_pending(): is `in` pinned so now?
 */
bool retry_arm(struct lockfs *fs, const char *path);
bool retry_pending(const struct inode *in);

#endif
