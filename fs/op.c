/*
 * op.c - a FUSE request waiting for the lock service (op.h): its record,
 * its one answer, the signal that withdraws its wait; and what every
 * operation asks of its request (the caller as an owner and a holder, the
 * path of a child name).
 *
 * No operation blocks the loop thread: an operation that needs Redis
 * parks its fuse_req_t in a `struct op`, and the node service's callback
 * sends exactly one reply and frees the op.
 */
#include "clock.h"
#include "name.h"
#include "op.h"

struct lockfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

struct handle *handle_of(const struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

struct op *op_new(fuse_req_t req, struct inode *in, const char *path)
{
	struct op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->started_s = mono_s();
	op->fs = fs_of(req);
	op->req = req;
	op->in = in;
	if (path && (op->path = strdup(path)) == NULL) {
		free(op);
		return NULL;
	}
	return op;
}

struct op *op_of(fuse_req_t req, struct inode *in)
{
	struct op *op = op_new(req, in, in->path);

	if (op == NULL)
		fuse_reply_err(req, ENOMEM);
	return op;
}

void op_free(struct op *op)
{
	if (op == NULL)
		return;
	if (op->set) {
		lockset_clear(op->set);
		free(op->set);
	}
	free(op->path);
	free(op);
}

/* Answer `op` with an error and free it. */
void op_fail(struct op *op, int err)
{
	fuse_reply_err(op->req, -err);
	op_free(op);
}

/* Start: if the store call could not even start, answer now. */
void op_started(struct op *op, int err)
{
	if (err < 0)
		op_fail(op, err);
}

/* A signal (kill -9 included) withdraws the wait: the README. */
static void on_interrupt(fuse_req_t req, void *data)
{
	struct op *op = data;

	(void)req;
	node_cancel(op->waiter, -EINTR);
}

/*
 * The waitq took `op`'s request (`err` is what it returned): if it may
 * wait, let a signal withdraw it.  A request already marked interrupted
 * would have its function called inside fuse_req_interrupt_func(), with the
 * request's lock held while our reply frees it: cancel directly instead.
 * Returns `err`, for the caller to answer when it is an error.
 */
int op_parked(struct op *op, int err, bool block)
{
	if (err < 0 || !block)
		return err;
	if (fuse_req_interrupted(op->req))
		node_cancel(op->waiter, -EINTR);
	else
		fuse_req_interrupt_func(op->req, on_interrupt, op);
	return 0;
}

int request_owner(fuse_req_t req, struct owner *o)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct lockfs *fs = fs_of(req);

	return owner_from_request(fs->procfs, fs->opt->node, ctx->uid,
				  ctx->gid, ctx->pid, fs->opt->owner, o);
}

void request_owner_or_none(fuse_req_t req, struct owner *o)
{
	if (request_owner(req, o) < 0)
		o->id[0] = '\0';
}

/* The path of child `name` of directory inode `parent`, or -errno. */
int child_path(struct lockfs *fs, fuse_ino_t parent, const char *name,
	       struct inode **pin, char **path)
{
	struct inode *p = inodes_get(fs->inodes, parent);

	if (p == NULL)
		return -ESTALE;
	*pin = p;
	if (p->kind != INODE_NAMESPACE)
		return -ENOTDIR;
	return name_join(p->path, name, path);
}

bool is_control_name(const struct inode *parent, const char *name)
{
	return parent->ino == INO_ROOT && strcmp(name, NAME_CONTROL_DIR) == 0;
}

/*
 * An op for child `name` of directory `parent`, or NULL after answering the
 * request with the error: a bad name, or `control_err` for the control
 * directory's own name.
 */
struct op *child_op(fuse_req_t req, fuse_ino_t parent,
		    const char *name, int control_err)
{
	struct inode *p = NULL;
	struct op *op = NULL;
	char *path = NULL;
	int err = child_path(fs_of(req), parent, name, &p, &path);

	if (err == 0 && is_control_name(p, name))
		err = -control_err;
	if (err == 0 && (op = op_new(req, NULL, path)) == NULL)
		err = -ENOMEM;
	free(path);
	if (err < 0)
		fuse_reply_err(req, -err);
	return op;
}
void op_holder(struct lockfs *fs, fuse_req_t req, const struct owner *o,
	       enum holder_kind kind, enum lock_mode mode, gid_t *groups,
	       struct store_holder *h)
{
	int n = 0;

	memset(h, 0, sizeof(*h));
	h->id = o->id;
	h->node = fs->opt->node;
	h->uid = o->uid;
	h->gid = o->gid;
	h->pid = o->pid;
	h->session = o->session;
	h->kind = kind;
	h->mode = mode;
	h->ttl_ms = fs->opt->ttl_ms;
	h->lock_delay_ms = fs->opt->lock_delay_ms;
	h->keepalive = fs->opt->keepalive;
	/* root needs no groups: the store lets it take any lock */
	if (req && h->uid != 0)
		n = fuse_req_getgroups(req, GROUPS_MAX, groups);
	h->groups = groups;
	h->ngroups = n > 0 ? (n > GROUPS_MAX ? GROUPS_MAX : (size_t)n) : 0;
}
