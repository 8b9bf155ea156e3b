/*
 * flockfile.c - the flock view's lock files as files on a disk that every
 * node shares (the README, "The flock view"): a file made here exists on
 * every node until unlinked, held or not; O_EXCL excludes across nodes;
 * what is written (at most LOCK_FILE_DATA_MAX bytes) is what every node
 * reads; unlink and chmod follow the file's mode as on a disk.  None of it
 * takes or ends a lock: flock(2)/fcntl(2) do that (handlelock.c), and a
 * write or truncate by a holder still renews its hold.  A name that is
 * only a lease view's lock is truncated, touched and unlinked as there
 * (hold.c).
 */
#include "attr.h"
#include "hold.h"
#include "ops.h"

/* ---- a holder's write renews its hold, as in the lease view ---------- */

static void renewed(void *arg, const struct store_result *res)
{
	struct op *op = arg;

	/* lost: remembered (poll, onlost); the write itself stands */
	(void)node_renewed(op->fs->node, op->path, op->owner.id, res, true);
	op_free(op);
}

/* Renew, in the background, the hold a write through `h` renews. */
static void renew_hold(struct lockfs *fs, const struct handle *h)
{
	char id[OWNER_ID_MAX];
	int64_t token = 0;
	struct op *op;

	if (h == NULL || handle_hold(fs, h, false, id, sizeof(id), &token) <= 0)
		return;
	op = calloc(1, sizeof(*op));
	if (op == NULL || (op->path = strdup(h->in->path)) == NULL) {
		free(op);
		return;
	}
	op->fs = fs;
	op->owner = h->owner;
	snprintf(op->owner.id, sizeof(op->owner.id), "%s", id);
	if (node_renew(fs->node, op->path, id, token, NULL, renewed, op) < 0)
		op_free(op);
}

/* A descriptor of lock file `in` (file `file_id`) for `req`. */
static struct handle *file_handle(fuse_req_t req, struct inode *in,
				  const struct fuse_file_info *fi,
				  int64_t file_id)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->type = HANDLE_LOCK;
	h->in = in;
	h->file_id = file_id;
	h->open_flags = fi->flags;
	request_owner_or_none(req, &h->owner);
	return h;
}

static void created(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct lockfs *fs = op->fs;
	struct fuse_entry_param e;
	struct handle *h = NULL;
	struct inode *in;

	if (res->err < 0) {
		op_fail(op, res->err);
		return;
	}
	in = inodes_intern(fs->inodes, op->path, INODE_LOCK);
	if (in == NULL ||
	    (h = file_handle(op->req, in, &op->fi, res->lock.file.id)) == NULL) {
		free(h);
		inodes_drop_if_unused(fs->inodes, in);
		op_fail(op, -ENOMEM);
		return;
	}
	file_seen(in, &res->lock);
	op->fi.fh = (uintptr_t)h;
	op->fi.direct_io = 1;
	inodes_open(in);
	fill_entry(&e, in);
	lock_attr(op, &res->lock, in->ino, &e.attr);
	if (fuse_reply_create(op->req, &e, &op->fi) == 0) {
		inodes_ref(in);
	} else {
		inodes_close(fs->inodes, in);
		handle_free(h);
	}
	op_free(op);
}

void flockfile_create(fuse_req_t req, const char *path, const struct inode *parent,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct op *op = op_new(req, NULL, path);
	struct file_change fc = {
		.op = FILE_CREATE,
		.excl = (fi->flags & O_EXCL) != 0,
		.truncate = (fi->flags & O_TRUNC) != 0,
		.mode = mode & 07777, /* the kernel applied the umask */
		.uid = ctx->uid,
		/* a set-group-ID namespace gives its group, as on a disk */
		.gid = parent->ns.mode & S_ISGID ? parent->ns.gid : ctx->gid,
	};

	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->fi = *fi;
	request_owner_or_none(req, &op->owner);
	op_started(op, node_file(fs->node, path, &fc, created, op));
}

static void truncated_at_open(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct handle *h;

	if (res->err < 0) {
		op_fail(op, res->err);
		return;
	}
	file_seen(op->in, &res->lock);
	h = file_handle(op->req, op->in, &op->fi, op->in->file_id);
	handle_reply_open(op->req, op->in, &op->fi, h);
	op_free(op);
}

void flockfile_open(fuse_req_t req, struct inode *in, struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct file_change fc = {
		.op = FILE_TRUNCATE,
		.id = in->file_id,
		.mode = 0666 & ~ctx->umask,
		.uid = ctx->uid,
		.gid = ctx->gid,
	};
	struct op *op;

	if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY) {
		op = op_of(req, in);
		if (op == NULL)
			return;
		op->fi = *fi;
		op_started(op, node_file(fs->node, in->path, &fc,
					 truncated_at_open, op));
		return;
	}
	handle_reply_open(req, in, fi, file_handle(req, in, fi, in->file_id));
}

static void written(void *arg, const struct store_result *res)
{
	struct op *op = arg;

	if (res->err < 0) {
		op_fail(op, res->err);
		return;
	}
	renew_hold(op->fs, op->h);
	fuse_reply_write(op->req, op->size);
	op_free(op);
}

void flockfile_write(fuse_req_t req, struct handle *h, const char *buf,
		     size_t size, off_t off)
{
	struct lockfs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct file_change fc = {
		.op = FILE_WRITE,
		.id = h->file_id,
		.append = (h->open_flags & O_APPEND) != 0,
		.mode = 0666 & ~ctx->umask,
		.uid = ctx->uid,
		.gid = ctx->gid,
		.offset = off,
		.data = buf,
		.len = size,
	};
	struct op *op;

	if (off < 0 || off > LOCK_FILE_DATA_MAX ||
	    size > LOCK_FILE_DATA_MAX) {
		fuse_reply_err(req, off < 0 ? EINVAL : EFBIG);
		return;
	}
	op = op_of(req, h->in);
	if (op == NULL)
		return;
	op->h = h;
	op->size = size;
	op_started(op, node_file(fs->node, op->path, &fc, written, op));
}

static void attr_changed(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct stat st;

	if (res->err == -ENOENT) {
		/* no file of that name, only a lease view's lock: as there
		 * (a chmod refused, a truncate or touch by its holder renews) */
		int to_set = op->u.setattr.to_set;
		struct fuse_file_info fi = op->fi, *pfi = op->h ? &fi : NULL;
		fuse_req_t req = op->req;
		struct inode *in = op->in;

		op_free(op);
		hold_setattr(req, in, to_set, pfi);
		return;
	}
	if (res->err < 0) {
		op_fail(op, res->err);
		return;
	}
	file_seen(op->in, &res->lock);
	renew_hold(op->fs, op->h);
	lock_attr(op, &res->lock, op->in->ino, &st);
	fuse_reply_attr(op->req, &st, 0);
	op_free(op);
}

void flockfile_setattr(fuse_req_t req, struct inode *in, const struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct handle *h = fi ? handle_of(fi) : NULL;
	bool size = (to_set & FUSE_SET_ATTR_SIZE) != 0;
	struct file_change fc = {
		.op = size ? FILE_TRUNCATE : FILE_ATTR,
		.mode = -1,
		.uid = -1,
		.gid = -1,
		.offset = size ? attr->st_size : 0,
	};
	struct op *op;

	if (h && h->type != HANDLE_LOCK)
		h = NULL;
	if (size && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			       FUSE_SET_ATTR_GID))) {
		fuse_reply_err(req, EINVAL); /* never asked together */
		return;
	}
	if (size) {
		fc.id = h ? h->file_id : 0;
		fc.mode = 0666 & ~ctx->umask;
		fc.uid = ctx->uid;
		fc.gid = ctx->gid;
	} else {
		/* touch -d, utime(): the time asked for (not ..._MTIME_NOW) */
		if ((to_set & FUSE_SET_ATTR_MTIME) &&
		    !(to_set & FUSE_SET_ATTR_MTIME_NOW)) {
			fc.has_mtime = true;
			fc.mtime_ms = (int64_t)attr->st_mtim.tv_sec * 1000 +
				      attr->st_mtim.tv_nsec / 1000000;
		}
		if (to_set & FUSE_SET_ATTR_MODE)
			fc.mode = attr->st_mode & 07777;
		if (to_set & FUSE_SET_ATTR_UID)
			fc.uid = attr->st_uid;
		if (to_set & FUSE_SET_ATTR_GID)
			fc.gid = attr->st_gid;
	}
	op = op_of(req, in);
	if (op == NULL)
		return;
	op->h = h;
	if (fi)
		op->fi = *fi;
	op->u.setattr.to_set = to_set;
	op_started(op, node_file(fs->node, op->path, &fc, attr_changed, op));
}

static void file_unlinked(void *arg, const struct store_result *res)
{
	struct op *op = arg;

	if (res->err == -ENOENT) {
		/* no file of that name: a lease view's lock, unlinked as
		 * there (release by its owner, a break by root) */
		hold_unlink(op);
		return;
	}
	fuse_reply_err(op->req, -res->err);
	op_free(op);
}

void flockfile_unlink(struct op *op)
{
	struct file_change fc = {.op = FILE_UNLINK, .mode = -1, .uid = -1,
				 .gid = -1};

	op_started(op, node_file(op->fs->node, op->path, &fc, file_unlinked,
				 op));
}
