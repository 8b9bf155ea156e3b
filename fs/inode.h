/*
 * inode.h - the kernel's view of the tree: inode numbers for paths.
 *
 * The kernel names files by inode number; lockfs names them by path.  The
 * table hands out one number per path while the kernel remembers it
 * (lookup count) or a file handle is open on it, and reuses nothing: a
 * number is never given to another path.  Inodes 1 (root) and the control
 * directory's are permanent.
 *
 * The table owns its inodes; pointers stay valid until inodes_forget() or
 * inodes_close() drops the last reference.  Loop thread only.
 */
#ifndef LOCKFS_INODE_H
#define LOCKFS_INODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "result.h"

enum inode_kind {
	INODE_NAMESPACE,
	INODE_LOCK,
	INODE_CONTROL_DIR,
	INODE_CONTROL_FILE,
};

struct handle;

struct inode {
	uint64_t ino;
	char *path; /* "" for the root, as in name.h */
	enum inode_kind kind;
	int control_id;      /* INODE_CONTROL_FILE: which file */
	uint64_t nlookup;    /* the kernel's references */
	unsigned opens;      /* open file handles */
	unsigned placeholders; /* open read-only placeholders (README) */
	int64_t retry_until_ms; /* a create retried as an open (ops.c) */
	pid_t refused_pid; /* whose chmod/chown of this lock was refused */
	int64_t file_id; /* the flock view's lock file as last seen (flockfile.c) */
	/* a namespace's attributes as Redis last gave them, and when
	 * (monotonic ms, 0: never): see ns_remember() in ops.c */
	struct ns_attr ns;
	int64_t ns_mono_ms;
	struct inode *next_retry_pin; /* in lockfs.retry_pins while pinned */
	struct handle *polls; /* open handles with a poll() pending (ops.c) */
	bool permanent;
	struct inode *next_by_ino, *next_by_path;
};

struct inode_table;

int inodes_new(struct inode_table **out);
void inodes_free(struct inode_table *t);

struct inode *inodes_get(struct inode_table *t, uint64_t ino);
struct inode *inodes_find(struct inode_table *t, const char *path);

/*
 * The inode of `path`, created with `kind` if the table has none; an
 * existing one takes the new kind.  NULL on -ENOMEM.
 */
struct inode *inodes_intern(struct inode_table *t, const char *path,
			    enum inode_kind kind);

/* A permanent inode (root, control files) with a fixed number. */
struct inode *inodes_add_permanent(struct inode_table *t, uint64_t ino,
				   const char *path, enum inode_kind kind,
				   int control_id);

/* The kernel now knows `in` once more (after a successful entry reply). */
void inodes_ref(struct inode *in);
void inodes_forget(struct inode_table *t, uint64_t ino, uint64_t n);
void inodes_open(struct inode *in);
void inodes_close(struct inode_table *t, struct inode *in);

/* Free `in` if nothing references it any more (after a failed reply). */
void inodes_drop_if_unused(struct inode_table *t, struct inode *in);

size_t inodes_count(const struct inode_table *t);

#endif
