/*
 * ns.c - namespaces (directories): mkdir, rmdir, opendir and readdir (a
 * snapshot per open), releasedir, and chmod/chown of a namespace.
 */
#include "attr.h"
#include "getattr.h"
#include "hash.h"
#include "name.h"
#include "ops.h"

static void mkdir_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct inode *in;
	struct stat st;

	if (res->err < 0) {
		op_fail(op, res->err);
		return;
	}
	in = inodes_intern(op->fs->inodes, op->path, INODE_NAMESPACE);
	if (in == NULL) {
		op_fail(op, -ENOMEM);
		return;
	}
	ns_remember(in, &res->ns);
	ns_attr_to_stat(&res->ns, in->ino, &st);
	reply_entry(op->fs, op->req, in, &st);
	op_free(op);
}

void ns_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct op *op;

	if (name_is_dir_lock(name)) {
		fuse_reply_err(req, EINVAL); /* reserved for the lock */
		return;
	}
	op = child_op(req, parent, name, EEXIST);
	if (op)
		op_started(op, node_mkdir(op->fs->node, op->path, mode & 07777,
					   ctx->uid, ctx->gid, mkdir_done, op));
}

static void rmdir_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;

	fuse_reply_err(op->req, -res->err);
	op_free(op);
}

void ns_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct op *op = child_op(req, parent, name, EBUSY);

	if (op)
		op_started(op, node_rmdir(op->fs->node, op->path, rmdir_done,
					   op));
}

static void opendir_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct handle *h;

	if (res->err < 0) {
		op_fail(op, res->err);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL || (res->nentries && (h->entries = calloc(
				 res->nentries, sizeof(*h->entries))) == NULL))
		goto nomem;
	h->type = HANDLE_DIR;
	h->in = op->in;
	for (size_t i = 0; i < res->nentries; i++) {
		h->entries[i].name = strdup(res->entries[i].name);
		if (h->entries[i].name == NULL)
			goto nomem;
		h->entries[i].is_namespace = res->entries[i].is_namespace;
		h->nentries++;
	}
	op->fi.fh = (uintptr_t)h;
	inodes_open(op->in);
	if (fuse_reply_open(op->req, &op->fi) != 0) {
		inodes_close(op->fs->inodes, op->in);
		handle_free(h);
	}
	op_free(op);
	return;
nomem:
	handle_free(h);
	op_fail(op, -ENOMEM);
}

void ns_opendir(fuse_req_t req, struct inode *in, struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct op *op = op_of(req, in);

	if (op == NULL)
		return;
	op->fi = *fi;
	op_started(op, node_list(fs->node, in->path, fs->opt->open_flock,
				 opendir_done, op));
}

static uint64_t entry_ino(struct lockfs *fs, const char *dir, const char *name)
{
	char *path = NULL;
	struct inode *in;
	uint64_t h = hash_str("");

	if (name_join(dir, name, &path) == 0) {
		in = inodes_find(fs->inodes, path);
		if (in) {
			free(path);
			return in->ino;
		}
		h = hash_str(path);
		free(path);
	}
	return h | (1ULL << 62);
}

struct listing {
	struct lockfs *fs;
	const struct handle *h;
	fuse_ino_t ino;
	size_t extra; /* ".", "..", and ".lockfs" at the root */
};

static void listing_entry(void *arg, size_t i, const char **name,
			  struct stat *st)
{
	const struct listing *l = arg;
	const struct store_entry *e;

	st->st_mode = S_IFDIR;
	if (i == 0) {
		*name = ".";
		st->st_ino = l->ino;
	} else if (i == 1) {
		*name = "..";
		st->st_ino = INO_ROOT;
	} else if (i == 2 && l->extra == 3) {
		*name = NAME_CONTROL_DIR;
		st->st_ino = INO_CONTROL_DIR;
	} else {
		e = &l->h->entries[i - l->extra];
		*name = e->name;
		st->st_mode = e->is_namespace ? S_IFDIR : S_IFREG;
		st->st_ino = entry_ino(l->fs, l->h->in->path, e->name);
	}
}

void ns_readdir(fuse_req_t req, struct handle *h, fuse_ino_t ino,
		size_t size, off_t off)
{
	struct listing l = {.fs = fs_of(req), .h = h, .ino = ino,
			    .extra = ino == INO_ROOT ? 3 : 2};

	reply_dir(req, size, off, l.extra + l.h->nentries, listing_entry, &l);
}

void ns_releasedir(struct lockfs *fs, struct handle *h)
{
	if (h)
		inodes_close(fs->inodes, h->in);
	handle_free(h);
}

static void setattr_done(void *arg, const struct store_result *res)
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

void ns_setattr(fuse_req_t req, struct inode *in, const struct stat *attr,
		int to_set)
{
	struct op *op;

	if (to_set & FUSE_SET_ATTR_SIZE) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (!(to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			FUSE_SET_ATTR_GID))) {
		getattr_start(req, in, false, NULL); /* times: no-op */
		return;
	}
	op = op_of(req, in);
	if (op == NULL)
		return;
	op_started(op, node_setattr(op->fs->node, in->path,
				    to_set & FUSE_SET_ATTR_MODE
					    ? (long)(attr->st_mode & 07777)
					    : -1,
				    to_set & FUSE_SET_ATTR_UID
					    ? (long)attr->st_uid
					    : -1,
				    to_set & FUSE_SET_ATTR_GID
					    ? (long)attr->st_gid
					    : -1,
				    setattr_done, op));
}
