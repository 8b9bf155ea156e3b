/*
 * request.h - request handles, the opens of /.lockfs/request (the README,
 * "Waiting without a thread"): a lock set queued with no caller waiting,
 * and its outcome, read when the program likes.
 *
 * One handle carries at most one request.  Its write returns once Redis
 * has queued the request (or granted it, or refused it: then the write
 * fails and the handle stays empty); a read waits for the outcome line,
 * poll() says POLLIN once it is there, and closing the handle before the
 * grant withdraws the request.  Loop thread only.
 */
#ifndef LOCKFS_REQUEST_H
#define LOCKFS_REQUEST_H

#include "lockfs.h"

struct request;

/* A new, empty request for an open of the file.  0 or -ENOMEM. */
int request_new(struct lockfs *fs, struct request **out);

/*
 * The handle's last close: a request still waiting is withdrawn (a grant
 * on its way released); a granted one stays held.  NULL is a no-op.
 */
void request_free(struct request *r);

/*
 * A write of `size` bytes `buf` from `req`, one lock-set line, for holder
 * `h` (its strings need only last the call).  Replies to `req` itself:
 * when queued or granted (the size), or with the error (EBUSY: the
 * handle has a request already).
 */
void request_write(struct request *r, fuse_req_t req, const char *buf,
		   size_t size, const struct store_holder *h);

/* A read of up to `size` bytes; `nonblock` as the descriptor is now. */
void request_read(struct request *r, fuse_req_t req, size_t size,
		  bool nonblock);

/* A poll: POLLIN once the outcome is there, POLLOUT while empty. */
void request_poll(struct request *r, fuse_req_t req,
		  struct fuse_pollhandle *ph);

#endif
