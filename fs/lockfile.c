/*
 * lockfile.c - lock files in the lease view: a create or write open takes
 * the lock (waiting, without a thread, until it is granted), a read shows
 * its state (in the flock view, its content), a write renews it.  The
 * grant itself, its bookkeeping and its undoing when the reply fails are
 * the node service's (node_acquire, node_grant_delivered).
 */
#include "attr.h"
#include "clock.h"
#include "command.h"
#include "info.h"
#include "ops.h"

/* A grant for `op`'s open or create: answer it with a new descriptor. */
static void acquired(struct op *op, const struct store_result *res)
{
	struct lockfs *fs = op->fs;
	const struct lock_holder *mine =
		lock_state_holder(&res->lock, op->owner.id);
	struct handle *h = calloc(1, sizeof(*h));
	struct inode *in = op->in;
	struct node_grant grant = {
		.res = res,
		.holder_id = op->owner.id,
		.waited_s = mono_s() - op->started_s,
		.path = op->path,
	};
	struct fuse_entry_param e;
	int rc;

	if (h == NULL || mine == NULL)
		goto nomem;
	if (in == NULL && (in = inodes_intern(fs->inodes, op->path,
					      INODE_LOCK)) == NULL)
		goto nomem;
	h->type = HANDLE_LOCK;
	h->in = in;
	h->writer = true;
	h->owner = op->owner;
	h->token = mine->token;
	op->fi.fh = (uintptr_t)h;
	op->fi.direct_io = 1;
	op->fi.keep_cache = 0;
	inodes_open(in);
	if (op->is_create) {
		fill_entry(&e, in);
		lock_attr(op, &res->lock, in->ino, &e.attr);
		rc = fuse_reply_create(op->req, &e, &op->fi);
		if (rc == 0)
			inodes_ref(in);
	} else {
		rc = fuse_reply_open(op->req, &op->fi);
	}
	if (rc != 0) {
		inodes_close(fs->inodes, in);
		handle_free(h);
	}
	node_grant_delivered(fs->node, &grant, rc == 0);
	op_free(op);
	return;
nomem:
	free(h);
	node_grant_delivered(fs->node, &grant, false);
	op_fail(op, -ENOMEM);
}

static int start_acquire(struct op *op, bool excl);

static void acquire_done(void *arg, int err, const struct store_result *res)
{
	struct op *op = arg;

	if (err == 0) {
		acquired(op, res);
		return;
	}
	if (err == -EAGAIN && op->retry_as_open) {
		op->retry_as_open = false;
		if (retry_arm(op->fs, op->path))
			err = -ESTALE; /* the kernel asks again, as an open */
		else
			err = start_acquire(op, false); /* wait here, then */
		if (err == 0)
			return;
	}
	op_fail(op, err);
}

/*
 * Acquire for `op`, waiting unless O_NONBLOCK.  Returns 0 when the waitq
 * owns the reply, or -errno for the caller to answer.
 */
static int start_acquire(struct op *op, bool excl)
{
	struct lockfs *fs = op->fs;
	struct store_holder h;
	gid_t groups[GROUPS_MAX];
	bool block = !(op->fi.flags & O_NONBLOCK) && !op->retry_as_open;
	int err = 0;

	/* the caller's owner, unless the open looked it up already */
	if (op->owner.id[0] == '\0')
		err = request_owner(op->req, &op->owner);
	if (err < 0)
		return err;
	op_holder(fs, op->req, &op->owner, HOLDER_LEASE, LOCK_MODE_EXCLUSIVE,
		  groups, &h);
	err = node_acquire(fs->node, op->path, &h, excl, block,
			    fs->opt->acquire_timeout_ms, acquire_done, op,
			    &op->waiter);
	return op_parked(op, err, block);
}

/* A read-only O_CREAT of an absent lock: a local placeholder (README). */
static void create_placeholder(fuse_req_t req, const char *path,
			       struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_intern(fs->inodes, path, INODE_LOCK);
	struct handle *h = calloc(1, sizeof(*h));
	struct fuse_entry_param e;

	if (in == NULL || h == NULL) {
		free(h);
		inodes_drop_if_unused(fs->inodes, in);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h->type = HANDLE_PLACEHOLDER;
	h->in = in;
	request_owner_or_none(req, &h->owner);
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	in->placeholders++;
	inodes_open(in);
	fill_entry(&e, in);
	placeholder_attr(req, in->ino, &e.attr);
	if (fuse_reply_create(req, &e, fi) == 0) {
		inodes_ref(in);
		return;
	}
	in->placeholders--;
	inodes_close(fs->inodes, in);
	handle_free(h);
}

void lockfile_create(fuse_req_t req, const char *path,
		     struct fuse_file_info *fi)
{
	struct op *op;

	if ((fi->flags & O_ACCMODE) == O_RDONLY) {
		create_placeholder(req, path, fi);
		return;
	}
	op = op_new(req, NULL, path);
	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->fi = *fi;
	op->is_create = true;
	/* O_EXCL waits only when blocked by another node of the tree (the
	 * name is absent): a positive entry would make the kernel answer
	 * EEXIST, so that rare wait stays in CREATE (README) */
	op->retry_as_open = !(fi->flags & (O_EXCL | O_NONBLOCK));
	op_started(op, start_acquire(op, (fi->flags & O_EXCL) != 0));
}

static void open_plain(fuse_req_t req, struct inode *in,
		       struct fuse_file_info *fi, const struct owner *owner)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (h) {
		h->type = HANDLE_LOCK;
		h->in = in;
		if (owner)
			h->owner = *owner;
	}
	handle_reply_open(req, in, fi, h);
}

void lockfile_open(fuse_req_t req, struct inode *in,
		   struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct owner owner;
	struct op *op;
	int err;

	if ((fi->flags & O_ACCMODE) == O_RDONLY) {
		open_plain(req, in, fi, NULL);
		return;
	}
	/*
	 * An owner whose handle lock holds the file opens it at once: its
	 * own lock, renewed by the writes through the new descriptor
	 * (handle_hold()).
	 */
	err = request_owner(req, &owner);
	if (err == 0 && node_lease_handle_of(fs->node, in->path, owner.uid,
					     owner.session)) {
		open_plain(req, in, fi, &owner);
		return;
	}
	op = op_of(req, in);
	if (op == NULL)
		return;
	op->fi = *fi;
	if (err == 0)
		op->owner = owner;
	op_started(op, start_acquire(op, false));
}

static void read_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct lock_state empty = {0};
	struct lock_state st;
	int err;

	if (res->err < 0) {
		op_fail(op, res->err);
		return;
	}
	st = res->kind == STORE_LOCK ? res->lock : empty;
	st.name = op->path;
	free(op->h->text);
	op->h->text = NULL;
	err = lock_text(op->fs, op->h, &st, &op->h->text, &op->h->text_len);
	if (err < 0) {
		op_fail(op, err);
		return;
	}
	handle_reply_text(op->req, op->h, op->size, op->u.read.off);
	op_free(op);
}

void lockfile_read(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
	struct lockfs *fs = fs_of(req);
	struct op *op;

	if (off > 0 && h->text) {
		handle_reply_text(req, h, size, off);
		return;
	}
	op = op_of(req, h->in);
	if (op == NULL)
		return;
	op->h = h;
	op->size = size;
	op->u.read.off = off;
	op_started(op, node_stat(fs->node, op->path, read_done, op));
}

static void write_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	int err = node_renewed(op->fs->node, op->path, op->owner.id, res,
			       true);

	if (err < 0) {
		op_fail(op, err);
		return;
	}
	if (op->u.write.onlost >= 0) /* onlost=: this node signals */
		node_lease_onlost(op->fs->node, op->path, op->owner.id,
				  op->u.write.onlost);
	fuse_reply_write(op->req, op->size);
	op_free(op);
}

void lockfile_write(fuse_req_t req, struct handle *h, const char *buf,
		    size_t size)
{
	struct lockfs *fs = fs_of(req);
	char id[OWNER_ID_MAX];
	int64_t token = 0;
	struct command cmd;
	struct op *op;
	int err, held;

	held = handle_hold(fs, h, true, id, sizeof(id), &token);
	if (held <= 0) { /* nothing to renew, or a hold of it lost */
		fuse_reply_err(req, held < 0 ? -held : EBADF);
		return;
	}
	err = command_parse(buf, size, &cmd);
	if (err < 0) {
		fuse_reply_err(req, -err);
		return;
	}
	op = op_of(req, h->in);
	if (op == NULL)
		return;
	op->owner = h->owner;
	snprintf(op->owner.id, sizeof(op->owner.id), "%s", id);
	op->size = size;
	op->u.write.onlost = cmd.has_onlost ? cmd.onlost : -1;
	op_started(op, node_renew(fs->node, op->path, id, token, &cmd,
				  write_done, op));
}
