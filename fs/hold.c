/*
 * hold.c - a held lock's truncate, utimens and unlink (hold.h).  Which
 * hold a call renews and what a failed renewal means are the node
 * service's rules (node_file_hold, node_renew_error); ending a hold is one
 * node call (node_unlink_hold).
 */
#include "attr.h"
#include "getattr.h"
#include "hold.h"

static void setattr_lock_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct stat st;
	int err = node_renewed(op->fs->node, op->path, op->owner.id, res,
			       op->h != NULL);

	if (err < 0) {
		op_fail(op, err);
		return;
	}
	lock_attr(op, &res->lock, op->in->ino, &st);
	fuse_reply_attr(op->req, &st, 0);
	op_free(op);
}

/* The hold the caller of `op` renews with a truncate or touch: a handle
 * lock of its own (uid, session), if it holds one. */
static int caller_hold(struct op *op, char *id, size_t size, int64_t *token)
{
	struct node_file f = {.caller_known = true};
	int err = request_owner(op->req, &op->owner);

	if (err < 0)
		return err;
	f.caller_uid = op->owner.uid;
	f.caller_session = op->owner.session;
	return node_file_hold(op->fs->node, op->path, &f, id, size, token);
}

void hold_setattr(fuse_req_t req, struct inode *in, int to_set,
		  struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct handle *h = fi ? handle_of(fi) : NULL;
	char id[OWNER_ID_MAX] = "";
	int64_t token = 0;
	struct op *op;
	int held = 0;

	if (h && h->type != HANDLE_LOCK && h->type != HANDLE_PLACEHOLDER)
		h = NULL;
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
		      FUSE_SET_ATTR_GID)) {
		/* the same process's next close of it fails too: a copy into
		 * the mount that wants the file's mode kept (mv from another
		 * filesystem) fails before it throws the original away */
		in->refused_pid = fuse_req_ctx(req)->pid;
		fuse_reply_err(req, EPERM);
		return;
	}
	op = op_of(req, in);
	if (op == NULL)
		return;
	/* what it renews: as a write through `h` would, else the caller's */
	if (h) {
		op->owner = h->owner;
		held = handle_hold(fs, h, true, id, sizeof(id), &token);
	}
	if (held == 0)
		held = caller_hold(op, id, sizeof(id), &token);
	if (held < 0) {
		op_fail(op, held);
		return;
	}
	if (held == 0 && (fs->opt->open_flock ||
			  (h && h->type == HANDLE_PLACEHOLDER))) {
		/* a non-holder's truncate or touch changes nothing */
		op_free(op);
		getattr_start(req, in, true, h);
		return;
	}
	if (id[0])
		snprintf(op->owner.id, sizeof(op->owner.id), "%s", id);
	op->h = h;
	op_started(op, node_renew(fs->node, op->path, op->owner.id, token,
				  NULL, setattr_lock_done, op));
}

static void unlink_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct inode *in = inodes_find(op->fs->inodes, op->path);
	int err = res->err;

	if (err == -ENOENT && in && in->placeholders) {
		/* a file nobody holds, open here: gone, as asked; what is
		 * still open of it stays open, as an unlinked local file */
		in->placeholders = 0;
		err = 0;
	}
	fuse_reply_err(op->req, -err);
	op_free(op);
}

void hold_unlink(struct op *op)
{
	op_started(op, node_unlink_hold(op->fs->node, op->path, op->owner.id,
					op->owner.uid, unlink_done, op));
}
