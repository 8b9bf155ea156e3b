/*
 * getattr.h - lookups and getattrs of lock files and namespaces, as Redis
 * (or, for a lease its owner took a moment ago, this node) says they are
 * now; also the answer to a setattr that changes nothing stored.
 */
#ifndef LOCKFS_GETATTR_H
#define LOCKFS_GETATTR_H

#include "op.h"

/* Look up child `name` of namespace `parent` (not the control directory). */
void lookup_child(fuse_req_t req, fuse_ino_t parent, const char *name);
/*
 * getattr of lock file or namespace `in`: `lenient` when a placeholder's
 * attributes will do (an open file's); `h` an open file's descriptor
 * (fstat(2)), or NULL.
 */
void getattr_start(fuse_req_t req, struct inode *in, bool lenient,
		   struct handle *h);
/* getattr of the mount root: at once, whatever Redis does. */
void getattr_root(struct lockfs *fs, fuse_req_t req);

#endif
