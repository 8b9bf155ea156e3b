/*
 * hold.h - a held lock's truncate/utimens (renewal) and unlink (release,
 * break by root, ESTALE for a lost hold): what the lease view does, and
 * what the flock view does for a name that is a lease view's lock only.
 */
#ifndef LOCKFS_HOLD_H
#define LOCKFS_HOLD_H

#include "op.h"

/* setattr of lock file `in`: refuses mode and owner changes (EPERM);
 * renews what a write through `fi`'s descriptor (or the caller) would. */
void hold_setattr(fuse_req_t req, struct inode *in, int to_set,
		  struct fuse_file_info *fi);
/* unlink `op`'s lock (its owner set): release, break, ESTALE. */
void hold_unlink(struct op *op);

#endif
