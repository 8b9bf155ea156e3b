/*
 * ops.c - the FUSE low-level operations of lockfs: the helpers every
 * operation uses, creates retried as opens, extended attributes, refused
 * and trivial operations, and the operation table (see ops_i.h for the
 * other files).
 *
 * No operation blocks the loop thread: an operation that needs Redis parks
 * its fuse_req_t in a `struct op`, and the store's callback sends exactly one
 * reply and frees the op.  Operations that need nothing from Redis (the
 * control directory, placeholders, refusals) answer at once.
 *
 * -EIO means Redis did not answer within backend_timeout.  The kernel
 * checks permissions itself (default_permissions) from the modes reported
 * here: lock files always show 0666 and their holder's uid/gid; namespaces
 * their stored mode.
 */
#include "clock.h"
#include "ops_i.h"

#include <poll.h>

/* ---- helpers --------------------------------------------------------- */

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

int request_owner(fuse_req_t req, struct owner *o)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct lockfs *fs = fs_of(req);

	return owner_from_request(fs->procfs, fs->opt->node, ctx->uid,
				  ctx->gid, ctx->pid, fs->opt->owner, o);
}

struct timespec ms_to_ts(int64_t ms)
{
	int64_t s = ms / 1000, r = ms % 1000;
	struct timespec ts;

	if (r < 0) { /* before 1970: nanoseconds stay positive */
		r += 1000;
		s--;
	}
	ts.tv_sec = s;
	ts.tv_nsec = r * 1000000;
	return ts;
}

/*
 * Attributes of a held lock as `op`'s caller sees them: owned by the holder,
 * or by the caller itself when it is one of the holders (a shared lock has
 * several) or held it through this node and lost it.  The kernel's sticky-bit
 * check then lets the caller's unlink through to us, so that it gets ESTALE
 * for a lost lock and releases its own share, instead of EPERM from the
 * kernel because someone else's uid shows.
 *
 * A lock file that exists as on a disk (ops_file.c) shows in the flock
 * view as that file: its mode, owner, size and times.  In the lease view
 * it shows as a lock (mode 0666, the size of its info), owned by its
 * holder or, unheld, by the file's owner.
 */
void lock_attr(const struct op *op, const struct lock_state *ls,
		      uint64_t ino, struct stat *st)
{
	struct lock_state named = *ls;
	const struct lock_holder *h = ls->nholders ? &ls->holders[0] : NULL;
	bool viewer = op->owner.id[0] != '\0'; /* a caller we know */
	bool flock_view = op->fs->opt->open_flock;
	char *text = NULL;
	size_t len = 0;

	if (flock_view && ls->file.exists) {
		file_attr(&ls->file, ino, st);
		return;
	}
	memset(st, 0, sizeof(*st));
	named.name = op->path;
	if (!flock_view && info_format(&named, &text, &len) == 0)
		free(text);
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0666;
	st->st_nlink = 1;
	st->st_size = len;
	st->st_blksize = 4096;
	if (h == NULL && ls->file.exists) {
		st->st_uid = ls->file.uid;
		st->st_gid = ls->file.gid;
		st->st_ctim = ms_to_ts(ls->file.ctime_ms);
		st->st_mtim = ms_to_ts(ls->file.mtime_ms);
		st->st_atim = st->st_mtim;
	}
	if (h == NULL)
		return;
	st->st_ctim = ms_to_ts(h->acquired_ms);
	st->st_mtim = ms_to_ts(h->renewed_ms);
	st->st_atim = st->st_mtim;
	for (size_t i = 0; viewer && i < ls->nholders; i++)
		if (ls->holders[i].uid == op->owner.uid) {
			h = &ls->holders[i];
			break;
		}
	st->st_uid = h->uid;
	st->st_gid = h->gid;
	if (viewer && h->uid != op->owner.uid &&
	    node_lease_token(op->fs->node, op->path, op->owner.id) != 0) {
		st->st_uid = op->owner.uid;
		st->st_gid = op->owner.gid;
	}
}

/*
 * Namespaces change rarely, and the kernel forgets a directory's
 * attributes after every create and unlink in it (and asks again before
 * its next permission check).  So what Redis said of a namespace is kept
 * on its inode and answers getattrs for NS_CACHE_S, like the kernel's own
 * cache, counted from when Redis said it: a change made on another node
 * still shows here within one second.
 */
void ns_remember(struct inode *in, const struct ns_attr *a)
{
	in->ns = *a;
	in->ns_mono_ms = mono_ms();
}

/* Seconds `in`'s remembered attributes stay good for, or 0. */
double ns_fresh_s(const struct inode *in)
{
	int64_t age = mono_ms() - in->ns_mono_ms;

	if (in->ns_mono_ms == 0 || age >= NS_CACHE_S * 1000)
		return 0;
	return NS_CACHE_S - age / 1000.0;
}

void ns_attr_to_stat(const struct ns_attr *a, uint64_t ino,
			    struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | (a->mode & 07777);
	st->st_nlink = 2;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = 0;
	st->st_blksize = 4096;
	st->st_ctim = ms_to_ts(a->ctime_ms);
	st->st_mtim = ms_to_ts(a->mtime_ms);
	st->st_atim = st->st_mtim;
}

/* Attributes of an open read-only placeholder: nothing held, yours. */
void placeholder_attr(fuse_req_t req, uint64_t ino, struct stat *st)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0666;
	st->st_nlink = 1;
	st->st_uid = ctx->uid;
	st->st_gid = ctx->gid;
	st->st_ctim = st->st_mtim = st->st_atim = now;
}

/*
 * How long the kernel may cache an entry and its attributes.  Namespaces
 * change rarely and a path walk crosses each of them, so they are cached
 * for NS_CACHE_S (under the README's one second for changes to show on every
 * node).  Lock files are never cached: whether one exists decides what an
 * open means, and a stale positive entry would turn a create into an open.
 */

double cache_s(const struct inode *in)
{
	return in->kind == INODE_NAMESPACE ? NS_CACHE_S : 0;
}

void fill_entry(struct fuse_entry_param *e, struct inode *in)
{
	memset(e, 0, sizeof(*e));
	e->ino = in->ino;
	e->generation = 1;
	e->attr_timeout = cache_s(in);
	e->entry_timeout = cache_s(in);
}

/* Reply with an entry for `in`; takes a lookup reference on success. */
void reply_entry(struct lockfs *fs, fuse_req_t req, struct inode *in,
			const struct stat *st)
{
	struct fuse_entry_param e;

	fill_entry(&e, in);
	e.attr = *st;
	if (e.attr.st_ino == 0) /* (a flock-view file shows its own) */
		e.attr.st_ino = in->ino;
	if (fuse_reply_entry(req, &e) == 0)
		inodes_ref(in);
	else
		inodes_drop_if_unused(fs->inodes, in);
}

const struct lock_holder *find_holder(const struct lock_state *ls,
					     const char *id)
{
	for (size_t i = 0; i < ls->nholders; i++)
		if (strcmp(ls->holders[i].id, id) == 0)
			return &ls->holders[i];
	return NULL;
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

/*
 * The caller's supplementary groups into `h` (from `buf`, which must live
 * as long as `h` is used): the store decides with them whether the caller
 * may take a lock in a namespace.  Root needs none.
 */

void holder_groups(fuse_req_t req, gid_t *buf,
			  struct store_holder *h)
{
	int n = h->uid == 0 ? 0 : fuse_req_getgroups(req, GROUPS_MAX, buf);

	h->groups = buf;
	h->ngroups = n > 0 ? (n > GROUPS_MAX ? GROUPS_MAX : (size_t)n) : 0;
}

/* ---- creates retried as opens ------------------------------------- */

/*
 * A blocking create must not wait inside CREATE: the kernel holds the
 * directory's lock for the whole call, so every other create and unlink in
 * that directory on this node would wait behind it, including the unlink
 * that would release the lock it waits for.  So a busy create (without
 * O_EXCL) answers ESTALE; the kernel then repeats the open once with a
 * fresh lookup (do_filp_open's LOOKUP_REVAL retry), which finds the name as
 * a local placeholder for CREATE_RETRY_MS, and sends an OPEN, which waits
 * like any write open, outside the directory lock.  While that lasts the
 * inode is pinned (an open count) on fs->retry_pins; expired pins are
 * dropped at the next busy create.
 */
#define CREATE_RETRY_MS 1000

/* How long after a getattr's ESTALE the kernel's retry may come. */

bool retry_pending(const struct inode *in)
{
	return in->retry_until_ms > mono_ms();
}

static void retry_unpin_expired(struct lockfs *fs)
{
	struct inode **link = &fs->retry_pins, *in;

	while ((in = *link) != NULL) {
		if (retry_pending(in)) {
			link = &in->next_retry_pin;
			continue;
		}
		*link = in->next_retry_pin;
		in->next_retry_pin = NULL;
		in->retry_until_ms = 0;
		inodes_close(fs->inodes, in); /* may free it */
	}
}

/* Arm the retry of a busy create of `path`; false if it cannot be. */
bool retry_arm(struct lockfs *fs, const char *path)
{
	struct inode *in;

	retry_unpin_expired(fs);
	in = inodes_intern(fs->inodes, path, INODE_LOCK);
	if (in == NULL || in->kind != INODE_LOCK)
		return false;
	if (in->retry_until_ms == 0) {
		inodes_open(in);
		in->next_retry_pin = fs->retry_pins;
		fs->retry_pins = in;
	}
	in->retry_until_ms = mono_ms() + CREATE_RETRY_MS;
	return true;
}

/* ---- extended attributes: a lock's token and state, a namespace's limit */

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
	struct op *op = op_new(req, in, in->path);

	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->size = size;
	op->u.xattr.list = list;
	op->u.xattr.info = info;
	op_started(op, node_stat(fs->node, op->path, xattr_done, op));
}

static void lockfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
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

static void lockfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
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
	struct op *op = op_new(req, in, in->path);

	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
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

static void lockfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
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

static void lockfs_removexattr(fuse_req_t req, fuse_ino_t ino,
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

/* ---- poll: POLLPRI|POLLERR once a descriptor's hold is lost ---------- */

/* Take `h`'s pending poll, if any, off its inode's list. */
void poll_forget(struct handle *h)
{
	struct handle **p;

	if (h == NULL || h->ph == NULL)
		return;
	for (p = &h->in->polls; *p; p = &(*p)->next_poll)
		if (*p == h) {
			*p = h->next_poll;
			break;
		}
	poll_drop(&h->ph);
}

/*
 * A lock file is always readable and writable; a descriptor whose lease or
 * handle lock was lost also reports POLLPRI|POLLERR.  Until then the poll
 * handle is kept, and lockfs_hold_lost() wakes it.
 */
static void lock_poll(fuse_req_t req, struct handle *h,
		      struct fuse_pollhandle *ph)
{
	struct lockfs *fs = fs_of(req);
	unsigned events = POLLIN | POLLOUT;
	char id[OWNER_ID_MAX];
	int64_t token;

	if (h && h->in && h->in->kind == INODE_LOCK) {
		if (own_hold(fs, h, id, sizeof(id), &token) == -ESTALE ||
		    (h->writer && node_hold_stale(fs->node, h->in->path,
						  h->owner.id, h->token))) {
			events |= POLLPRI | POLLERR;
		} else if (ph) {
			poll_forget(h);
			h->ph = ph;
			h->next_poll = h->in->polls;
			h->in->polls = h;
			ph = NULL;
		}
	}
	poll_drop(&ph);
	fuse_reply_poll(req, events);
}

void lockfs_hold_lost(struct lockfs *fs, const char *path)
{
	struct inode *in = inodes_find(fs->inodes, path);
	struct handle *h;

	while (in && (h = in->polls) != NULL) { /* the kernel polls again */
		in->polls = h->next_poll;
		poll_wake(&h->ph);
	}
}

/* ---- refused and trivial operations ------------------------------- */

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

static void lockfs_flush(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	(void)ino;
	struct handle *h = handle_of(fi);
	struct inode *in = h ? h->in : NULL;
	int err = 0;

	/* any close by a process ends its fcntl locks on the file */
	drop_handle_locks(fs_of(req), h, fi, false);
	if (in && in->refused_pid && in->refused_pid == fuse_req_ctx(req)->pid) {
		in->refused_pid = 0; /* see setattr_lock() */
		err = -EPERM;
	}
	fuse_reply_err(req, -err);
}

static void lockfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void lockfs_poll(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct handle *h = handle_of(fi);

	(void)ino;
	if (h && h->type != HANDLE_CONTROL) {
		lock_poll(req, h, ph);
		return;
	}
	control_poll(fs_of(req), req, h && h->type == HANDLE_CONTROL ? h : NULL,
		     ph);
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
	.mkdir = lockfs_mkdir,
	.unlink = lockfs_unlink,
	.rmdir = lockfs_rmdir,
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
	.setxattr = lockfs_setxattr,
	.getxattr = lockfs_getxattr,
	.listxattr = lockfs_listxattr,
	.removexattr = lockfs_removexattr,
	.create = lockfs_create,
	.getlk = lockfs_getlk,
	.setlk = lockfs_setlk,
	.flock = lockfs_flock,
	.poll = lockfs_poll,
};
