/*
 * ops.c - the FUSE low-level operation table of lockfs, and the one place
 * that picks, for each operation, the file that answers it: by the
 * inode's kind (lock file, namespace, control file) and the mount's view
 * (lease or flock).  Also the refused and trivial operations.  See op.h
 * for how fs/ is laid out; the lock rules themselves are the node
 * service's (core/node.h).
 *
 * -EIO means Redis did not answer within backend_timeout.
 */
#include <poll.h>
#include <sys/statvfs.h>

#include "attr.h"
#include "getattr.h"
#include "hold.h"
#include "name.h"
#include "ops.h"
#include "request.h"

/* ---- entries and attributes ----------------------------------------- */

static void lockfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lockfs *fs = fs_of(req);
	struct inode *p = inodes_get(fs->inodes, parent), *in = NULL;
	struct stat st;
	int err = 0;

	/* the control directory and its files are local: no Redis */
	if (p && p->kind == INODE_CONTROL_DIR)
		err = control_lookup(fs, name, &in);
	else if (p && is_control_name(p, name))
		in = inodes_get(fs->inodes, INO_CONTROL_DIR);
	if (err < 0) {
		fuse_reply_err(req, -err);
		return;
	}
	if (in == NULL) {
		lookup_child(req, parent, name);
		return;
	}
	control_attr(fs, in, &st);
	reply_entry(fs, req, in, &st);
}

static void lockfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inodes_forget(fs_of(req)->inodes, ino, nlookup);
	fuse_reply_none(req);
}

static void lockfs_forget_multi(fuse_req_t req, size_t count,
				struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		inodes_forget(fs_of(req)->inodes, forgets[i].ino,
			      forgets[i].nlookup);
	fuse_reply_none(req);
}

static void lockfs_getattr(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	struct stat st;

	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (in->kind == INODE_CONTROL_DIR || in->kind == INODE_CONTROL_FILE) {
		control_attr(fs, in, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	if (ino == INO_ROOT) {
		getattr_root(fs, req);
		return;
	}
	getattr_start(req, in, fi != NULL, fi ? handle_of(fi) : NULL);
}

static void lockfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			   int to_set, struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);

	if (in == NULL)
		fuse_reply_err(req, ESTALE);
	else if (in->kind == INODE_LOCK && fs->opt->open_flock)
		flockfile_setattr(req, in, attr, to_set, fi);
	else if (in->kind == INODE_LOCK)
		hold_setattr(req, in, to_set, fi);
	else if (in->kind == INODE_NAMESPACE)
		ns_setattr(req, in, attr, to_set);
	else
		fuse_reply_err(req, EPERM);
}

/* ---- lock files: create, open, read, write, unlink, release ---------- */

static void lockfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode, struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct inode *p = NULL;
	char *path = NULL;
	int err = child_path(fs, parent, name, &p, &path);

	if (err == 0 && is_control_name(p, name))
		err = -EEXIST;
	if (err < 0)
		fuse_reply_err(req, -err);
	else if (fs->opt->open_flock)
		flockfile_create(req, path, p, mode, fi);
	else
		lockfile_create(req, path, fi);
	free(path);
}

static void lockfs_open(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	int err;

	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
	} else if (in->kind == INODE_CONTROL_FILE) {
		err = control_open(fs, in, fi);
		if (err < 0)
			fuse_reply_err(req, -err);
		else if (fuse_reply_open(req, fi) != 0)
			control_release(fs, in, fi);
	} else if (in->kind != INODE_LOCK) {
		fuse_reply_err(req, EISDIR);
	} else if (fs->opt->open_flock) { /* never locks in open */
		flockfile_open(req, in, fi);
	} else {
		lockfile_open(req, in, fi);
	}
}

static void lockfs_read(fuse_req_t req, fuse_ino_t ino, size_t size,
			off_t off, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	(void)ino;
	if (h->type == HANDLE_CONTROL)
		control_read(fs_of(req), req, h->in, size, off, fi);
	else
		lockfile_read(req, h, size, off);
}

static void lockfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			 size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	(void)ino;
	if (h->type == HANDLE_CONTROL && h->in->control_id == CONTROL_ACQUIRE)
		setwrite_acquire(req, fi->flags, buf, size);
	else if (h->type == HANDLE_CONTROL && h->request)
		setwrite_request(req, h->request, buf, size);
	else if (h->type != HANDLE_LOCK && h->type != HANDLE_PLACEHOLDER)
		fuse_reply_err(req, h->type == HANDLE_CONTROL ? EPERM : EBADF);
	else if (fs_of(req)->opt->open_flock) /* the file's content */
		flockfile_write(req, h, buf, size, off);
	else
		lockfile_write(req, h, buf, size);
}

static void lockfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct op *op = child_op(req, parent, name, EPERM);
	int err;

	if (op == NULL)
		return;
	err = request_owner(req, &op->owner);
	if (err < 0)
		op_fail(op, err);
	else if (op->fs->opt->open_flock)
		flockfile_unlink(op); /* as on a disk */
	else
		hold_unlink(op);
}

static void lockfs_flush(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	struct inode *in = h ? h->in : NULL;
	int err = 0;

	(void)ino;
	/* any close by a process ends its fcntl locks on the file */
	handlelock_drop(fs_of(req), h, fi, false);
	if (in && in->refused_pid && in->refused_pid == fuse_req_ctx(req)->pid) {
		in->refused_pid = 0; /* see hold_setattr() */
		err = -EPERM;
	}
	fuse_reply_err(req, -err);
}

static void lockfs_release(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct handle *h = handle_of(fi);

	(void)ino;
	if (fi->flock_release)
		handlelock_drop(fs, h, fi, true);
	handlelock_release(fs, h);
	if (h && h->type == HANDLE_CONTROL)
		control_release(fs, h->in, fi);
	else
		handle_close(fs, h);
	fuse_reply_err(req, 0);
}

static void lockfs_poll(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct handle *h = handle_of(fi);

	(void)ino;
	if (h && h->type != HANDLE_CONTROL)
		handle_poll(fs_of(req), req, h, ph);
	else
		control_poll(fs_of(req), req, h, ph);
}

/* ---- namespaces ------------------------------------------------------ */

static void lockfs_opendir(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct inode *in = inodes_get(fs_of(req)->inodes, ino);

	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
	} else if (in->kind == INODE_CONTROL_DIR) {
		fi->fh = 0;
		fuse_reply_open(req, fi);
	} else if (in->kind != INODE_NAMESPACE) {
		fuse_reply_err(req, ENOTDIR);
	} else {
		ns_opendir(req, in, fi);
	}
}

static void lockfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	if (h == NULL) /* the control directory */
		control_readdir(fs_of(req), req, size, off);
	else
		ns_readdir(req, h, ino, size, off);
}

static void lockfs_releasedir(fuse_req_t req, fuse_ino_t ino,
			      struct fuse_file_info *fi)
{
	(void)ino;
	ns_releasedir(fs_of(req), handle_of(fi));
	fuse_reply_err(req, 0);
}

/* ---- refused and trivial operations --------------------------------- */

static void lockfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			  fuse_ino_t newparent, const char *newname,
			  unsigned int flags)
{
	(void)parent;
	(void)name;
	(void)newparent;
	(void)newname;
	(void)flags;
	fuse_reply_err(req, EPERM);
}

static void lockfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
			const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	fuse_reply_err(req, EPERM);
}

static void lockfs_symlink(fuse_req_t req, const char *link,
			   fuse_ino_t parent, const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}

static void lockfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, EPERM);
}

static void lockfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void lockfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = {0};

	(void)ino;
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_namemax = NAME_COMPONENT_MAX;
	sv.f_files = inodes_count(fs_of(req)->inodes);
	fuse_reply_statfs(req, &sv);
}

static void lockfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* never let the kernel emulate locks: they would be node-local */
	if (conn->capable & FUSE_CAP_FLOCK_LOCKS)
		conn->want |= FUSE_CAP_FLOCK_LOCKS;
	if (conn->capable & FUSE_CAP_POSIX_LOCKS)
		conn->want |= FUSE_CAP_POSIX_LOCKS;
	conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_EXPORT_SUPPORT |
			FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
}

int lockfs_inodes_init(struct lockfs *fs)
{
	/* the root namespace until Redis says otherwise (as lib.lua does) */
	fs->root_attr = (struct ns_attr){.mode = 01777};
	if (inodes_add_permanent(fs->inodes, INO_ROOT, "", INODE_NAMESPACE,
				 0) == NULL ||
	    inodes_add_permanent(fs->inodes, INO_CONTROL_DIR, NAME_CONTROL_DIR,
				 INODE_CONTROL_DIR, 0) == NULL ||
	    inodes_add_permanent(fs->inodes, INO_CONTROL_STATUS,
				 NAME_CONTROL_DIR "/status",
				 INODE_CONTROL_FILE, CONTROL_STATUS) == NULL ||
	    inodes_add_permanent(fs->inodes, INO_CONTROL_EVENTS,
				 NAME_CONTROL_DIR "/events",
				 INODE_CONTROL_FILE, CONTROL_EVENTS) == NULL ||
	    inodes_add_permanent(fs->inodes, INO_CONTROL_ACQUIRE,
				 NAME_CONTROL_DIR "/acquire",
				 INODE_CONTROL_FILE, CONTROL_ACQUIRE) == NULL ||
	    inodes_add_permanent(fs->inodes, INO_CONTROL_METRICS,
				 NAME_CONTROL_DIR "/metrics",
				 INODE_CONTROL_FILE, CONTROL_METRICS) == NULL ||
	    inodes_add_permanent(fs->inodes, INO_CONTROL_REQUEST,
				 NAME_CONTROL_DIR "/request",
				 INODE_CONTROL_FILE, CONTROL_REQUEST) == NULL)
		return -ENOMEM;
	return 0;
}

const struct fuse_lowlevel_ops lockfs_ops = {
	.init = lockfs_init,
	.lookup = lockfs_lookup,
	.forget = lockfs_forget,
	.forget_multi = lockfs_forget_multi,
	.getattr = lockfs_getattr,
	.setattr = lockfs_setattr,
	.mknod = lockfs_mknod,
	.mkdir = ns_mkdir,
	.unlink = lockfs_unlink,
	.rmdir = ns_rmdir,
	.symlink = lockfs_symlink,
	.rename = lockfs_rename,
	.link = lockfs_link,
	.open = lockfs_open,
	.read = lockfs_read,
	.write = lockfs_write,
	.flush = lockfs_flush,
	.release = lockfs_release,
	.fsync = lockfs_fsync,
	.opendir = lockfs_opendir,
	.readdir = lockfs_readdir,
	.releasedir = lockfs_releasedir,
	.statfs = lockfs_statfs,
	.setxattr = xattr_set,
	.getxattr = xattr_get,
	.listxattr = xattr_list,
	.removexattr = xattr_remove,
	.create = lockfs_create,
	.getlk = lockfs_getlk,
	.setlk = lockfs_setlk,
	.flock = lockfs_flock,
	.poll = lockfs_poll,
};
