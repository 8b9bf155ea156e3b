/*
 * handlelock.c - handle locks: flock(2), fcntl(2) and lockf(3) on a lock
 * file take the distributed lock, owned by the open file description
 * (flock, OFD) or the process (fcntl); F_GETLK; and what a close lets go.
 * Which of them a request means (take, keep, convert) and what a grant or
 * an unlock records are the node service's (node_handle_plan,
 * node_grant_delivered, node_unlock).
 */
#include <sys/file.h>

#include "attr.h"
#include "clock.h"
#include "ops.h"

static void handle_lock_id(struct lockfs *fs, uint64_t lock_owner, bool posix,
			   char *buf, size_t size)
{
	struct node_lock_ref ref = {lock_owner, posix};

	node_handle_id(fs->node, &ref, buf, size);
}

static void unlock_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;

	if (op->req)
		fuse_reply_err(op->req, -res->err);
	op_free(op);
}

/* Drop handle lock `id` on `path`; answers `req` (may be NULL) with 0. */
static void handle_unlock(struct lockfs *fs, fuse_req_t req,
			  const char *path, const char *id)
{
	struct op *op = calloc(1, sizeof(*op));
	int err;

	if (op == NULL || (op->path = strdup(path)) == NULL) {
		free(op);
		if (req)
			fuse_reply_err(req, ENOMEM);
		return;
	}
	op->fs = fs;
	op->req = req;
	err = node_unlock(fs->node, path, id, unlock_done, op);
	if (err < 0) {
		if (req)
			fuse_reply_err(req, -err);
		op_free(op);
	}
}

static void lock_done(void *arg, int err, const struct store_result *res)
{
	struct op *op = arg;
	struct node_grant grant = {
		.res = res,
		.holder_id = op->owner.id,
		.waited_s = mono_s() - op->started_s,
		.path = op->path,
		.absorbed_id = op->lease_id,
	};

	if (err < 0) {
		op_fail(op, err == -EAGAIN ? -EWOULDBLOCK : err);
		return;
	}
	node_grant_delivered(op->fs->node, &grant,
			     fuse_reply_err(op->req, 0) == 0);
	op_free(op);
}

static void start_handle_lock(struct op *op, enum lock_mode mode, bool block)
{
	struct lockfs *fs = op->fs;
	struct store_holder h;
	gid_t groups[GROUPS_MAX];
	int err;

	op_holder(fs, op->req, &op->owner, HOLDER_HANDLE, mode, groups, &h);
	h.absorb_id = op->lease_id;
	err = node_acquire(fs->node, op->path, &h, false, block,
			    fs->opt->acquire_timeout_ms, lock_done, op,
			    &op->waiter);
	if (op_parked(op, err, block) < 0)
		op_fail(op, err);
}

/* A conversion (shared <-> exclusive) lets go first, as flock(2) does. */
static void converted_release_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;

	(void)res;
	start_handle_lock(op, op->u.convert.shared ? LOCK_MODE_SHARED
					 : LOCK_MODE_EXCLUSIVE,
			  op->u.convert.block);
}

/* Lock, unlock or convert handle lock `id` on inode `ino`. */
static void handle_lock(fuse_req_t req, fuse_ino_t ino, uint64_t lock_owner,
			bool posix, int type, bool block)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	enum node_lock_plan plan;
	enum lock_mode mode = type == F_RDLCK ? LOCK_MODE_SHARED
					       : LOCK_MODE_EXCLUSIVE;
	char id[OWNER_ID_MAX];
	struct op *op;
	int err;

	if (in == NULL || in->kind != INODE_LOCK) {
		fuse_reply_err(req, in ? EINVAL : ESTALE);
		return;
	}
	handle_lock_id(fs, lock_owner, posix, id, sizeof(id));
	if (type == F_UNLCK) {
		handle_unlock(fs, req, in->path, id);
		return;
	}
	plan = node_handle_plan(fs->node, in->path, id, mode);
	if (plan == NODE_LOCK_HELD) {
		fuse_reply_err(req, 0);
		return;
	}
	op = op_of(req, in);
	if (op == NULL)
		return;
	err = request_owner(req, &op->owner);
	if (err < 0) {
		op_fail(op, err);
		return;
	}
	snprintf(op->lease_id, sizeof(op->lease_id), "%s", op->owner.id);
	snprintf(op->owner.id, sizeof(op->owner.id), "%s", id);
	if (plan == NODE_LOCK_CONVERT) {
		op->u.convert.shared = mode == LOCK_MODE_SHARED;
		op->u.convert.block = block;
		err = node_release(fs->node, in->path, id, 0, false,
				    converted_release_done, op);
		if (err < 0)
			op_fail(op, err);
		return;
	}
	start_handle_lock(op, mode, block);
}

/* Remember that a lock was asked for through `fi`'s open file. */
static void note_lock(struct fuse_file_info *fi, bool posix)
{
	struct handle *h = handle_of(fi);

	if (h == NULL ||
	    (h->type != HANDLE_LOCK && h->type != HANDLE_PLACEHOLDER))
		return;
	for (size_t i = 0; i < h->nlocks; i++)
		if (h->locks[i].lock_owner == fi->lock_owner &&
		    h->locks[i].posix == posix)
			return;
	if (h->nlocks < HANDLE_LOCKS_MAX) {
		h->locks[h->nlocks].lock_owner = fi->lock_owner;
		h->locks[h->nlocks].posix = posix;
		h->nlocks++;
	}
}

void lockfs_flock(fuse_req_t req, fuse_ino_t ino,
		  struct fuse_file_info *fi, int op)
{
	int type = (op & LOCK_UN) ? F_UNLCK
		   : (op & LOCK_SH) ? F_RDLCK
				    : F_WRLCK;

	if (type != F_UNLCK)
		note_lock(fi, false);
	handle_lock(req, ino, fi->lock_owner, false, type, !(op & LOCK_NB));
}

void lockfs_setlk(fuse_req_t req, fuse_ino_t ino,
		  struct fuse_file_info *fi, struct flock *lock,
		  int sleep)
{
	if (lock->l_type != F_UNLCK)
		note_lock(fi, true);
	handle_lock(req, ino, fi->lock_owner, true, lock->l_type, sleep != 0);
}

static void getlk_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct flock lk = {.l_type = F_UNLCK, .l_whence = SEEK_SET};

	if (res->err < 0) {
		op_fail(op, res->err);
		return;
	}
	for (size_t i = 0; res->kind == STORE_LOCK && i < res->lock.nholders;
	     i++) {
		const struct lock_holder *h = &res->lock.holders[i];

		if (strcmp(h->id, op->owner.id) == 0 ||
		    (op->u.getlk.type == F_RDLCK &&
		     h->mode == LOCK_MODE_SHARED))
			continue;
		lk.l_type = h->mode == LOCK_MODE_SHARED ? F_RDLCK : F_WRLCK;
		lk.l_pid = h->pid;
		break;
	}
	fuse_reply_lock(op->req, &lk);
	op_free(op);
}

void lockfs_getlk(fuse_req_t req, fuse_ino_t ino,
		  struct fuse_file_info *fi, struct flock *lock)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	struct op *op;

	if (in == NULL || in->kind != INODE_LOCK) {
		fuse_reply_err(req, in ? EINVAL : ESTALE);
		return;
	}
	op = op_of(req, in);
	if (op == NULL)
		return;
	handle_lock_id(fs, fi->lock_owner, true, op->owner.id,
		       sizeof(op->owner.id));
	op->u.getlk.type = lock->l_type;
	op_started(op, node_stat(fs->node, op->path, getlk_done, op));
}

void handlelock_drop(struct lockfs *fs, const struct handle *h,
		     const struct fuse_file_info *fi, bool flock)
{
	char id[OWNER_ID_MAX];

	if (h == NULL || h->in == NULL || h->in->kind != INODE_LOCK)
		return;
	handle_lock_id(fs, fi->lock_owner, !flock, id, sizeof(id));
	if (node_holds(fs->node, h->in->path, id))
		handle_unlock(fs, NULL, h->in->path, id);
}

void handlelock_release(struct lockfs *fs, const struct handle *h)
{
	char id[OWNER_ID_MAX];

	for (size_t i = 0; h && h->in && i < h->nlocks; i++) {
		handle_lock_id(fs, h->locks[i].lock_owner, h->locks[i].posix,
			       id, sizeof(id));
		if (node_holds(fs->node, h->in->path, id))
			handle_unlock(fs, NULL, h->in->path, id);
	}
}
