/*
 * ops.h - the files ops.c hands each FUSE operation to, one per kind of
 * object (see op.h for the layers).  Each answers its request exactly
 * once; none calls another of them.
 */
#ifndef LOCKFS_OPS_H
#define LOCKFS_OPS_H

#include "op.h"

struct request;

/* lockfile.c: lock files in the lease view (reads in either view) */
void lockfile_create(fuse_req_t req, const char *path,
		     struct fuse_file_info *fi);
void lockfile_open(fuse_req_t req, struct inode *in,
		   struct fuse_file_info *fi);
void lockfile_read(fuse_req_t req, struct handle *h, size_t size, off_t off);
void lockfile_write(fuse_req_t req, struct handle *h, const char *buf,
		    size_t size);

/* flockfile.c: lock files in the flock view, as files on a shared disk */
void flockfile_create(fuse_req_t req, const char *path,
		      const struct inode *parent, mode_t mode,
		      struct fuse_file_info *fi);
void flockfile_open(fuse_req_t req, struct inode *in,
		    struct fuse_file_info *fi);
void flockfile_write(fuse_req_t req, struct handle *h, const char *buf,
		     size_t size, off_t off);
void flockfile_setattr(fuse_req_t req, struct inode *in,
		       const struct stat *attr, int to_set,
		       struct fuse_file_info *fi);
void flockfile_unlink(struct op *op);

/* handlelock.c: flock(2), fcntl(2), lockf(3) */
void lockfs_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		  int op);
void lockfs_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		  struct flock *lock, int sleep);
void lockfs_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		  struct flock *lock);
/* A close: drop what this file (`flock`) or this owner (fcntl) holds. */
void handlelock_drop(struct lockfs *fs, const struct handle *h,
		     const struct fuse_file_info *fi, bool flock);
/* The last close of `h`: drop every handle lock taken through it. */
void handlelock_release(struct lockfs *fs, const struct handle *h);

/* ns.c: namespaces */
void ns_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode);
void ns_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void ns_opendir(fuse_req_t req, struct inode *in, struct fuse_file_info *fi);
void ns_readdir(fuse_req_t req, struct handle *h, fuse_ino_t ino,
		size_t size, off_t off);
void ns_releasedir(struct lockfs *fs, struct handle *h);
void ns_setattr(fuse_req_t req, struct inode *in, const struct stat *attr,
		int to_set);

/* xattr.c: user.lockfs.token, user.lockfs.info, user.lockfs.limit */
void xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name,
	       size_t size);
void xattr_list(fuse_req_t req, fuse_ino_t ino, size_t size);
void xattr_set(fuse_req_t req, fuse_ino_t ino, const char *name,
	       const char *value, size_t size, int flags);
void xattr_remove(fuse_req_t req, fuse_ino_t ino, const char *name);

/* setwrite.c: lock sets written to /.lockfs/acquire or a request handle */
void setwrite_acquire(fuse_req_t req, int flags, const char *buf,
		      size_t size);
void setwrite_request(fuse_req_t req, struct request *r, const char *buf,
		      size_t size);

#endif
