/*
 * setwrite.c - writes that take lock sets: to /.lockfs/acquire (the write
 * waits until every lock of the set is granted) and to a request handle
 * of /.lockfs/request (request.c: queued, and answered by a read later).
 * A lock set is taken for the writer's own leases, with its groups.
 */
#include "clock.h"
#include "ops.h"
#include "request.h"

/* ---- lock sets: a write to /.lockfs/acquire, the README --------- */

static void set_done(void *arg, int err, const struct store_result *res)
{
	struct op *op = arg;
	struct lockfs *fs = op->fs;
	const struct lockset *set = op->set;
	struct store_holder h;
	struct node_grant grant = {
		.res = res,
		.holder_id = op->owner.id,
		.waited_s = mono_s() - op->started_s,
		.paths = set->paths,
		.modes = set->modes,
		.count = set->n,
		.set_holder = &h,
	};

	if (err < 0) {
		op_fail(op, err);
		return;
	}
	op_holder(fs, NULL, &op->owner, HOLDER_LEASE, LOCK_MODE_EXCLUSIVE,
		  NULL, &h);
	node_grant_delivered(fs->node, &grant,
			     fuse_reply_write(op->req, op->size) == 0);
	op_free(op);
}

/* The holder a lock set is taken for: `o`'s leases, with `req`'s groups
 * (kept in `groups`) for the permission checks. */
static void lockset_holder(fuse_req_t req, const struct owner *o,
			   gid_t *groups, struct store_holder *h)
{
	op_holder(fs_of(req), req, o, HOLDER_LEASE, LOCK_MODE_EXCLUSIVE, groups,
		  h);
}

void setwrite_acquire(fuse_req_t req, int flags, const char *buf,
		      size_t size)
{
	struct lockfs *fs = fs_of(req);
	bool block = !(flags & O_NONBLOCK); /* as the descriptor is now */
	gid_t groups[GROUPS_MAX];
	struct store_holder h;
	struct op *op = op_new(req, NULL, NULL);
	int err;

	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->size = size;
	op->set = calloc(1, sizeof(*op->set));
	if (op->set == NULL) {
		op_fail(op, -ENOMEM);
		return;
	}
	err = lockset_parse(buf, size, op->set);
	if (err == 0)
		err = request_owner(req, &op->owner);
	if (err < 0) {
		op_fail(op, err);
		return;
	}
	lockset_holder(req, &op->owner, groups, &h);
	err = node_acquire_set(fs->node, op->set->paths, op->set->modes,
				op->set->n, &h, block,
				fs->opt->acquire_timeout_ms, set_done, op,
				&op->waiter);
	if (op_parked(op, err, block) < 0)
		op_fail(op, err);
}

/* A write to a request handle, for its writer's owner. */
void setwrite_request(fuse_req_t req, struct request *r,
		      const char *buf, size_t size)
{
	gid_t groups[GROUPS_MAX];
	struct store_holder h;
	struct owner owner;
	int err = request_owner(req, &owner);

	if (err < 0) {
		fuse_reply_err(req, -err);
		return;
	}
	lockset_holder(req, &owner, groups, &h);
	request_write(r, req, buf, size, &h);
}
