/*
 * ops_renew.c - what changes a held lock: writes (renewal, write commands,
 * notes), lock sets written to /.lockfs/acquire, truncation and utimens,
 * and unlink (release, break, ESTALE).  See ops_i.h.
 */
#include "ops_i.h"
#include "request.h"

/* ---- renewal: write, truncate, utimens ------------------------------ */

/* The hold a write or truncate through `h` renews: node_file_hold(). */
int own_hold(struct lockfs *fs, const struct handle *h, char *id,
	     size_t size, int64_t *token)
{
	struct node_file f = {
		.lease_id = h->writer ? h->owner.id : NULL,
		.lease_token = h->token,
		.locks = h->locks,
		.nlocks = h->nlocks,
		.opener_known = h->owner.id[0] != '\0',
		.uid = h->owner.uid,
		.session = h->owner.session,
	};

	return node_file_hold(fs->node, h->in->path, &f, id, size, token);
}


static void write_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	const struct lock_holder *mine;

	if (res->err < 0) {
		op_fail(op, node_renew_error(op->fs->node, op->path,
					     op->owner.id, res, true));
		return;
	}
	mine = find_holder(&res->lock, op->owner.id);
	if (mine)
		node_lease_renewed(op->fs->node, op->path, mine, res->now_ms);
	if (mine && op->u.write.onlost >= 0) /* onlost=: this node signals */
		node_lease_onlost(op->fs->node, op->path, op->owner.id,
				  op->u.write.onlost);
	fuse_reply_write(op->req, op->size);
	op_free(op);
}

/* ---- lock sets: a write to /.lockfs/acquire, the README --------- */

static void set_done(void *arg, int err, const struct store_result *res)
{
	struct op *op = arg;
	struct lockfs *fs = op->fs;
	const struct lockset *set = op->set;
	struct store_holder h;

	if (err < 0) {
		op_fail(op, err);
		return;
	}
	holder_for(fs, &op->owner, HOLDER_LEASE, LOCK_MODE_EXCLUSIVE, &h);
	node_granted_set(fs->node, set->paths, set->modes, set->n, &h, res,
			 mono_s() - op->started_s);
	if (fuse_reply_write(op->req, op->size) != 0) /* the caller is gone */
		node_disown_set(fs->node, set->paths, set->n, op->owner.id,
				res, "its requester is gone");
	op_free(op);
}

/* The holder a lock set is taken for: `o`'s leases, with `req`'s groups
 * (kept in `groups`) for the permission checks. */
static void lockset_holder(fuse_req_t req, const struct owner *o,
			   gid_t *groups, struct store_holder *h)
{
	holder_for(fs_of(req), o, HOLDER_LEASE, LOCK_MODE_EXCLUSIVE, h);
	holder_groups(req, groups, h);
}

static void lockset_write(fuse_req_t req, int flags, const char *buf,
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
static void request_write_as(fuse_req_t req, struct request *r,
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

void lockfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			 size_t size, off_t off, struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct handle *h = handle_of(fi);
	char id[OWNER_ID_MAX];
	int64_t token = 0;
	struct command cmd;
	struct op *op;
	int err, held;

	(void)ino;
	if (h->type == HANDLE_CONTROL && h->in->control_id == CONTROL_ACQUIRE) {
		lockset_write(req, fi->flags, buf, size);
		return;
	}
	if (h->type == HANDLE_CONTROL && h->request) {
		request_write_as(req, h->request, buf, size);
		return;
	}
	if (h->type != HANDLE_LOCK && h->type != HANDLE_PLACEHOLDER) {
		fuse_reply_err(req, h->type == HANDLE_CONTROL ? EPERM : EBADF);
		return;
	}
	if (fs->opt->open_flock) { /* the file's content (ops_file.c) */
		file_write(req, h, buf, size, off);
		return;
	}
	held = own_hold(fs, h, id, sizeof(id), &token);
	if (held == 0 && h->writer) { /* its lease, lost: ESTALE below */
		snprintf(id, sizeof(id), "%s", h->owner.id);
		token = h->token;
	} else if (held == 0) {
		fuse_reply_err(req, EBADF);
		return;
	} else if (held < 0) {
		fuse_reply_err(req, -held);
		return;
	}
	err = command_parse(buf, size, &cmd);
	if (err < 0) {
		fuse_reply_err(req, -err);
		return;
	}
	op = op_new(req, h->in, h->in->path);
	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->owner = h->owner;
	snprintf(op->owner.id, sizeof(op->owner.id), "%s", id);
	op->size = size;
	op->u.write.onlost = cmd.has_onlost ? cmd.onlost : -1;
	op_started(op, node_renew(fs->node, op->path, id, token, &cmd,
				   write_done, op));
}

static void setattr_lock_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	const struct lock_holder *mine;
	struct stat st;

	if (res->err < 0) {
		op_fail(op, node_renew_error(op->fs->node, op->path,
					     op->owner.id, res, op->h != NULL));
		return;
	}
	mine = find_holder(&res->lock, op->owner.id);
	if (mine)
		node_lease_renewed(op->fs->node, op->path, mine, res->now_ms);
	lock_attr(op, &res->lock, op->in->ino, &st);
	fuse_reply_attr(op->req, &st, 0);
	op_free(op);
}

static void setattr_ns_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct stat st;

	if (res->err < 0) {
		op_fail(op, res->err);
		return;
	}
	ns_remember(op->in, &res->ns);
	ns_attr_to_stat(&res->ns, op->in->ino, &st);
	fuse_reply_attr(op->req, &st, cache_s(op->in));
	op_free(op);
}

void setattr_lock(fuse_req_t req, struct inode *in, int to_set,
			 struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct handle *h = fi ? handle_of(fi) : NULL;
	const struct lock_holder *l;
	char id[OWNER_ID_MAX] = "";
	int64_t token = 0;
	struct op *op;
	int err, held;

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
	op = op_new(req, in, in->path);
	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* what it renews: as a write through `h` would, else the caller's */
	if (h)
		op->owner = h->owner;
	held = h ? own_hold(fs, h, id, sizeof(id), &token) : 0;
	if (held == 0 && h && h->writer) {
		token = h->token;
		held = 1;
	} else if (held == 0) {
		err = request_owner(req, &op->owner);
		if (err < 0) {
			op_fail(op, err);
			return;
		}
		l = node_lease_handle_of(fs->node, in->path, op->owner.uid,
				     op->owner.session);
		if (l) {
			snprintf(id, sizeof(id), "%s", l->id);
			token = l->token;
			held = 1;
		}
	}
	if (held < 0) {
		op_fail(op, held);
		return;
	}
	if (held == 0 && (fs->opt->open_flock ||
			  (h && h->type == HANDLE_PLACEHOLDER))) {
		/* a non-holder's truncate or touch changes nothing */
		op_free(op);
		start_getattr(req, in, true, h);
		return;
	}
	if (id[0])
		snprintf(op->owner.id, sizeof(op->owner.id), "%s", id);
	op->h = h;
	op_started(op, node_renew(fs->node, op->path, op->owner.id, token,
				   NULL, setattr_lock_done, op));
}

void lockfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			   int to_set, struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	struct op *op;

	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	switch (in->kind) {
	case INODE_LOCK:
		if (fs->opt->open_flock) /* as on a disk (ops_file.c) */
			file_setattr(req, in, attr, to_set, fi);
		else
			setattr_lock(req, in, to_set, fi);
		return;
	case INODE_NAMESPACE:
		if (to_set & FUSE_SET_ATTR_SIZE) {
			fuse_reply_err(req, EISDIR);
			return;
		}
		if (!(to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
				FUSE_SET_ATTR_GID))) {
			start_getattr(req, in, false, NULL); /* times: no-op */
			return;
		}
		op = op_new(req, in, in->path);
		if (op == NULL) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		op_started(op, node_setattr(
				       fs->node, in->path,
				       to_set & FUSE_SET_ATTR_MODE
					       ? (long)(attr->st_mode & 07777)
					       : -1,
				       to_set & FUSE_SET_ATTR_UID
					       ? (long)attr->st_uid
					       : -1,
				       to_set & FUSE_SET_ATTR_GID
					       ? (long)attr->st_gid
					       : -1,
				       setattr_ns_done, op));
		return;
	default:
		fuse_reply_err(req, EPERM);
	}
}

/* ---- release: unlink ---------------------------------------------- */

static void unlink_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct lockfs *fs = op->fs;
	struct inode *in;
	int err = res->err;

	if (err == 0 && strcmp(res->extra, "unlinked") == 0) {
		/* an unheld lock file made in the flock view: gone */
	} else if (err == 0) {
		node_ended(fs->node, res->extra, op->path, res->lock.holders,
			   res->lock.nholders, res->now_ms, res->wake);
		node_lease_forget(fs->node, op->path, op->owner.id);
	} else if (err == -ESTALE) {
		/* remembered, not forgotten: see node_renew_error() */
		node_lease_lost(fs->node, op->path, op->owner.id);
	} else if (err == -ENOENT && (in = inodes_find(fs->inodes, op->path)) &&
		   in->placeholders) {
		/* a file nobody holds, open here: gone, as asked; what is
		 * still open of it stays open, as an unlinked local file */
		in->placeholders = 0;
		err = 0;
	}
	fuse_reply_err(op->req, -err);
	op_free(op);
}

void lockfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct op *op = child_op(req, parent, name, EPERM);
	int err;

	if (op == NULL)
		return;
	err = request_owner(req, &op->owner);
	if (err < 0) {
		op_fail(op, err);
		return;
	}
	if (op->fs->opt->open_flock)
		file_unlink(op); /* as on a disk (ops_file.c) */
	else
		unlink_lock(op);
}

void unlink_lock(struct op *op)
{
	/* the grant it took through this node: if that is gone, ESTALE */
	op_started(op, node_unlink(op->fs->node, op->path, op->owner.id,
				   node_lease_token(op->fs->node, op->path,
						    op->owner.id),
				   op->owner.uid == 0, unlink_done, op));
}
