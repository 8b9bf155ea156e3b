/*
 * request.c - request handles (request.h): each open of /.lockfs/request
 * is one small state machine,
 *
 *   empty --write--> submitted --queued--> queued --end--> ended
 *                        |  (the write answers here)         ^
 *                        +--granted at once------------------+
 *
 * and a write that fails (a bad line, a missing namespace or permission,
 * EDEADLK, a signal before the request was queued) leaves it empty.  The
 * wait itself is core's (node_acquire_set): this file keeps the parked
 * write, read and poll of the handle, and the outcome line.
 */
#include "request.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "event.h"
#include "lockset.h"
#include "log.h"

enum request_state {
	REQUEST_EMPTY,
	REQUEST_SUBMITTED, /* sent; its write waits for Redis's word */
	REQUEST_QUEUED,    /* the write has returned; the wait goes on */
	REQUEST_ENDED,     /* the outcome is there */
};

struct request {
	struct lockfs *fs;
	enum request_state state;
	struct lockset set;
	char owner_id[OWNER_ID_MAX];
	struct store_holder holder; /* holder.id is owner_id */
	struct waiter *waiter;      /* while submitted or queued */
	int64_t written_ms;         /* monotonic, for the wait histogram */
	fuse_req_t write_req;       /* while submitted */
	size_t write_size;
	struct parked_read read;    /* a read waiting for the outcome */
	struct fuse_pollhandle *ph;
	char *outcome; /* the line, once ended */
	size_t outcome_len;
	size_t read_pos; /* what reads have taken of it */
};

static const char NO_MEMORY[] = "error ENOMEM\n";

int request_new(struct lockfs *fs, struct request **out)
{
	struct request *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -ENOMEM;
	r->fs = fs;
	*out = r;
	return 0;
}

static void reply_outcome(struct request *r, fuse_req_t req, size_t size)
{
	size_t left = r->outcome_len - r->read_pos;
	size_t n = size < left ? size : left;

	if (fuse_reply_buf(req, r->outcome + r->read_pos, n) == 0)
		r->read_pos += n;
}

/* The lock set granted to `r` was delivered to its requester, or not. */
static void request_grant(struct request *r, const struct store_result *res,
			  bool delivered)
{
	struct node_grant grant = {
		.res = res,
		.holder_id = r->owner_id,
		.waited_s = (mono_ms() - r->written_ms) / 1000.0,
		.paths = r->set.paths,
		.modes = r->set.modes,
		.count = r->set.n,
		.set_holder = &r->holder,
	};

	node_grant_delivered(r->fs->node, &grant, delivered);
}

/* The outcome is there: wake the read and the poll waiting for it. */
static void request_end(struct request *r, int err,
			const struct store_result *res)
{
	const int64_t *tokens = res ? res->tokens : NULL;
	bool told = event_outcome(r->set.paths, tokens, r->set.n, err,
				  &r->outcome, &r->outcome_len) == 0;

	if (err == 0) /* its outcome says which grants it holds */
		request_grant(r, res, told);
	if (!told) {
		r->outcome = (char *)NO_MEMORY;
		r->outcome_len = sizeof(NO_MEMORY) - 1;
	}
	r->state = REQUEST_ENDED;
	if (r->read.req) {
		size_t size;
		fuse_req_t req = read_unpark(&r->read, &size);

		reply_outcome(r, req, size);
	}
	poll_wake(&r->ph);
}

/* Back to empty: the write failed, nothing is queued or held. */
static void request_reset(struct request *r)
{
	lockset_clear(&r->set);
	r->state = REQUEST_EMPTY;
}

static void on_done(void *arg, int err, const struct store_result *res)
{
	struct request *r = arg;
	fuse_req_t write_req = r->write_req;

	r->waiter = NULL;
	r->write_req = NULL;
	if (err == 0 && (res == NULL || res->ntokens < r->set.n))
		err = -EIO; /* cannot happen: a grant names every lock */
	if (write_req && err < 0) { /* never queued: the write fails */
		fuse_reply_err(write_req, -err);
		request_reset(r);
		return;
	}
	if (write_req && fuse_reply_write(write_req, r->write_size) != 0) {
		/* the writer is gone before it heard: nobody knows of it */
		if (err == 0)
			request_grant(r, res, false);
		request_reset(r);
		return;
	}
	request_end(r, err, res);
}

static void on_queued(void *arg)
{
	struct request *r = arg;

	if (r->write_req == NULL)
		return;
	fuse_reply_write(r->write_req, r->write_size);
	r->write_req = NULL;
	r->state = REQUEST_QUEUED;
}

/* A signal before Redis queued the request: withdraw it, EINTR. */
static void on_write_interrupt(fuse_req_t req, void *data)
{
	struct request *r = data;

	if (r->write_req == req && r->waiter)
		node_cancel(r->waiter, -EINTR);
}

void request_write(struct request *r, fuse_req_t req, const char *buf,
		   size_t size, const struct store_holder *h)
{
	struct store_holder copy = *h;
	int err;

	if (r->state != REQUEST_EMPTY) {
		fuse_reply_err(req, EBUSY);
		return;
	}
	err = lockset_parse(buf, size, &r->set);
	if (err < 0) {
		fuse_reply_err(req, -err);
		return;
	}
	snprintf(r->owner_id, sizeof(r->owner_id), "%s", h->id);
	r->holder = copy;
	r->holder.id = r->owner_id;
	r->holder.groups = NULL; /* the call copies them; not kept */
	r->holder.ngroups = 0;
	r->written_ms = mono_ms();
	r->write_req = req;
	r->write_size = size;
	r->state = REQUEST_SUBMITTED;
	copy.id = r->owner_id;
	err = node_acquire_set(r->fs->node, r->set.paths, r->set.modes,
			       r->set.n, &copy, true,
			       r->fs->opt->acquire_timeout_ms, on_done, r,
			       &r->waiter);
	if (err < 0) {
		r->write_req = NULL;
		request_reset(r);
		fuse_reply_err(req, -err);
		return;
	}
	node_when_queued(r->waiter, on_queued);
	if (fuse_req_interrupted(req))
		on_write_interrupt(req, r);
	else
		fuse_req_interrupt_func(req, on_write_interrupt, r);
}

void request_read(struct request *r, fuse_req_t req, size_t size,
		  bool nonblock)
{
	if (r->state == REQUEST_ENDED || r->state == REQUEST_EMPTY) {
		if (r->state == REQUEST_EMPTY)
			fuse_reply_buf(req, NULL, 0); /* nothing asked */
		else
			reply_outcome(r, req, size);
		return;
	}
	if (nonblock || r->read.req) {
		fuse_reply_err(req, EAGAIN);
		return;
	}
	read_park(&r->read, req, size); /* a signal ends the read, not the
					 * request */
}

void request_poll(struct request *r, fuse_req_t req,
		  struct fuse_pollhandle *ph)
{
	unsigned events = 0;

	poll_keep(&r->ph, ph);
	if (r->state == REQUEST_ENDED)
		events |= POLLIN | POLLRDNORM;
	if (r->state == REQUEST_EMPTY)
		events |= POLLOUT | POLLWRNORM;
	fuse_reply_poll(req, events);
}

void request_free(struct request *r)
{
	if (r == NULL)
		return;
	if (r->waiter) /* still waiting: withdrawn, a grant on its way too */
		node_cancel(r->waiter, -ECANCELED);
	if (r->write_req) /* cannot be: a write keeps the file open */
		fuse_reply_err(r->write_req, EIO);
	if (r->read.req)
		fuse_reply_err(read_unpark(&r->read, NULL), EIO);
	poll_drop(&r->ph);
	if (r->outcome != NO_MEMORY)
		free(r->outcome);
	lockset_clear(&r->set);
	free(r);
}
