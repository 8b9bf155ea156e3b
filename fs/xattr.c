/*
 * xattr.c - extended attributes: a lock's token (user.lockfs.token) and
 * state (user.lockfs.info), a namespace's semaphore limit
 * (user.lockfs.limit, which its owner or root sets and removes).  Other
 * user.* names are refused (EPERM); other namespaces (ACLs, security
 * labels) are not supported (EOPNOTSUPP), which tools that copy them skip.
 */
#include "attr.h"
#include "info.h"
#include "ops.h"

#define XATTR_TOKEN "user.lockfs.token"
#define XATTR_INFO "user.lockfs.info" /* a lock's state, as a read shows it */
#define XATTR_LIMIT "user.lockfs.limit" /* a namespace's semaphore */

/* Reply `value` (`len` bytes) to a getxattr or listxattr of `size`. */
static void reply_xattr_value(fuse_req_t req, size_t size, const char *value,
			      size_t len)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
}

/* A lock's state as its info text (XATTR_INFO), the value of `op`. */
static void reply_info(struct op *op, const struct store_result *res)
{
	struct lock_state st = res->lock;
	char *text = NULL;
	size_t len = 0;
	int err;

	if (res->kind != STORE_LOCK) {
		op_fail(op, -ENODATA);
		return;
	}
	st.name = op->path;
	err = info_format(&st, &text, &len);
	if (err < 0) {
		op_fail(op, err);
		return;
	}
	reply_xattr_value(op->req, op->size, text, len);
	free(text);
	op_free(op);
}

static void xattr_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	char value[32];
	int len = -1;

	if (res->err < 0) {
		op_fail(op, res->err);
		return;
	}
	if (op->u.xattr.info) {
		reply_info(op, res);
		return;
	}
	if (res->kind == STORE_LOCK)
		len = snprintf(value, sizeof(value), "%lld",
			       (long long)res->lock.token);
	else if (res->kind == STORE_NAMESPACE && res->ns.limit > 0)
		len = snprintf(value, sizeof(value), "%lld",
			       (long long)res->ns.limit);
	if (res->kind == STORE_NAMESPACE)
		ns_remember(op->in, &res->ns);
	if (len < 0 && op->u.xattr.list) { /* nothing to list */
		reply_xattr_value(op->req, op->size, "", 0);
		op_free(op);
		return;
	}
	if (len < 0) {
		op_fail(op, -ENODATA);
		return;
	}
	if (op->u.xattr.list) /* listxattr: the name, if it has a value */
		reply_xattr_value(op->req, op->size, XATTR_LIMIT,
				  sizeof(XATTR_LIMIT));
	else
		reply_xattr_value(op->req, op->size, value, len);
	op_free(op);
}

/* Which attribute inode `in` has: the token of a lock, the limit of a
 * namespace; NULL for the rest. */
static const char *xattr_of(const struct inode *in)
{
	if (in && in->kind == INODE_LOCK)
		return XATTR_TOKEN;
	if (in && in->kind == INODE_NAMESPACE)
		return XATTR_LIMIT;
	return NULL;
}

static void start_xattr(fuse_req_t req, struct inode *in, size_t size,
			bool list, bool info)
{
	struct lockfs *fs = fs_of(req);
	struct op *op = op_of(req, in);

	if (op == NULL)
		return;
	op->size = size;
	op->u.xattr.list = list;
	op->u.xattr.info = info;
	op_started(op, node_stat(fs->node, op->path, xattr_done, op));
}

void xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name,
	       size_t size)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	const char *mine = xattr_of(in);
	bool info = in && in->kind == INODE_LOCK && strcmp(name, XATTR_INFO) == 0;

	if (!info && (mine == NULL || strcmp(name, mine) != 0)) {
		fuse_reply_err(req, in ? ENODATA : ESTALE);
		return;
	}
	start_xattr(req, in, size, false, info);
}

void xattr_list(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);

	if (in && in->kind == INODE_NAMESPACE) {
		start_xattr(req, in, size, true, false); /* listed when set */
		return;
	}
	if (in == NULL || in->kind != INODE_LOCK)
		reply_xattr_value(req, size, "", 0);
	else
		reply_xattr_value(req, size, XATTR_TOKEN "\0" XATTR_INFO,
				  sizeof(XATTR_TOKEN) + sizeof(XATTR_INFO));
}

static void limit_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;

	if (res->err < 0) {
		op_fail(op, res->err);
		return;
	}
	if (res->kind == STORE_NAMESPACE)
		ns_remember(op->in, &res->ns);
	fuse_reply_err(op->req, 0);
	op_free(op);
}

/* Set (or with `limit` 0, remove) namespace `in`'s limit. */
static void set_limit(fuse_req_t req, struct inode *in, long limit)
{
	struct lockfs *fs = fs_of(req);
	struct op *op = op_of(req, in);

	if (op == NULL)
		return;
	op_started(op, node_set_limit(fs->node, op->path, limit,
				      fuse_req_ctx(req)->uid, limit_done, op));
}

/* A limit as setfattr writes it: a decimal number, 0 .. LIMIT_MAX. */
#define LIMIT_MAX 1000000
static long parse_limit(const char *value, size_t size)
{
	long n = 0;

	if (size == 0 || size > 7)
		return -1;
	for (size_t i = 0; i < size; i++) {
		if (value[i] < '0' || value[i] > '9')
			return -1;
		n = n * 10 + (value[i] - '0');
	}
	return n <= LIMIT_MAX ? n : -1;
}

/*
 * Why an attribute cannot be set or removed: a user.* name lockfs does not
 * keep is refused (EPERM); other namespaces (ACLs, security labels) are
 * not supported at all (EOPNOTSUPP), which tools that copy them skip.
 */
static int xattr_refusal(const struct inode *in, const char *name)
{
	if (in == NULL)
		return ESTALE;
	return strncmp(name, "user.", 5) == 0 ? EPERM : EOPNOTSUPP;
}

void xattr_set(fuse_req_t req, fuse_ino_t ino, const char *name,
	       const char *value, size_t size, int flags)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	long limit;

	(void)flags;
	if (in == NULL || in->kind != INODE_NAMESPACE ||
	    strcmp(name, XATTR_LIMIT) != 0) {
		fuse_reply_err(req, xattr_refusal(in, name));
		return;
	}
	limit = parse_limit(value, size);
	if (limit < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	set_limit(req, in, limit);
}

void xattr_remove(fuse_req_t req, fuse_ino_t ino,
		  const char *name)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);

	if (in == NULL || in->kind != INODE_NAMESPACE ||
	    strcmp(name, XATTR_LIMIT) != 0) {
		fuse_reply_err(req, xattr_refusal(in, name));
		return;
	}
	set_limit(req, in, 0);
}
