/*
 * ops.c - the FUSE low-level operations: each maps one file operation to one
 * store call and answers from the store's callback (the README).
 *
 * No operation blocks the loop thread: an operation that needs Redis parks
 * its fuse_req_t in a `struct op`, and the store's callback sends exactly one
 * reply and frees the op.  Operations that need nothing from Redis (the
 * control directory, placeholders, refusals) answer at once.
 *
 * Error mapping follows the README; -EIO means Redis did not answer
 * within backend_timeout.  The kernel checks permissions itself
 * (default_permissions) from the modes reported here: lock files always
 * show 0666 and their holder's uid/gid; namespaces their stored mode.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "command.h"
#include "info.h"
#include "lease.h"
#include "lockfs.h"
#include "log.h"
#include "name.h"
#include "owner.h"
#include "store.h"
#include "notify.h"
#include "waitq.h"
#include "event.h"
#include "lockset.h"

#define XATTR_TOKEN "user.lockfs.token"

/* One request waiting for the store. */
struct op {
	struct lockfs *fs;
	fuse_req_t req;
	struct inode *in;
	char *path;
	struct owner owner;
	struct fuse_file_info fi;
	struct handle *h;
	size_t size;
	off_t off;
	int to_set;
	bool is_create;
	bool retry_as_open; /* a busy create becomes ESTALE + an open */
	struct waiter *waiter;
	char lease_id[OWNER_ID_MAX]; /* handle locks: the requester's lease */
	struct lockset *set;         /* a lock-set write */
	double started_s;            /* monotonic, for the wait histogram */
};

static void drop_handle_locks(struct lockfs *fs, const struct handle *h,
			      const struct fuse_file_info *fi, bool flock);
static void handle_lock_id(struct lockfs *fs, uint64_t lock_owner,
			   bool posix, char *buf, size_t size);
static void handle_unlock(struct lockfs *fs, fuse_req_t req, const char *path,
			  const char *id);

/* ---- helpers --------------------------------------------------------- */

static struct lockfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct handle *handle_of(const struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

void handle_free(struct handle *h)
{
	if (h == NULL)
		return;
	free(h->text);
	for (size_t i = 0; i < h->nentries; i++)
		free(h->entries[i].name);
	free(h->entries);
	free(h);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct op *op_new(fuse_req_t req, struct inode *in, const char *path)
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

static void op_free(struct op *op)
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
static void op_fail(struct op *op, int err)
{
	fuse_reply_err(op->req, -err);
	op_free(op);
}

/* Start: if the store call could not even start, answer now. */
static void op_started(struct op *op, int err)
{
	if (err < 0)
		op_fail(op, err);
}

static int request_owner(fuse_req_t req, struct owner *o)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct lockfs *fs = fs_of(req);

	return owner_from_request(fs->procfs, fs->opt->node, ctx->uid,
				  ctx->gid, ctx->pid, fs->opt->owner, o);
}

static struct timespec ms_to_ts(int64_t ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	return ts;
}

/*
 * Attributes of a held lock as `op`'s caller sees them: owned by the holder,
 * or by the caller itself when it is one of the holders (a shared lock has
 * several) or held it through this node and lost it.  The kernel's sticky-bit
 * check then lets the caller's unlink through to us, so that it gets ESTALE
 * for a lost lock and releases its own share, instead of EPERM from the
 * kernel because someone else's uid shows.
 */
static void lock_attr(const struct op *op, const struct lock_state *ls,
		      uint64_t ino, struct stat *st)
{
	struct lock_state named = *ls;
	const struct lock_holder *h = ls->nholders ? &ls->holders[0] : NULL;
	bool viewer = op->owner.id[0] != '\0'; /* a caller we know */
	char *text = NULL;
	size_t len = 0;

	memset(st, 0, sizeof(*st));
	named.name = op->path;
	if (info_format(&named, &text, &len) == 0)
		free(text);
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0666;
	st->st_nlink = 1;
	st->st_size = len;
	st->st_blksize = 4096;
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
	    leases_token(op->fs->leases, op->path, op->owner.id) != 0) {
		st->st_uid = op->owner.uid;
		st->st_gid = op->owner.gid;
	}
}

static void ns_attr_to_stat(const struct ns_attr *a, uint64_t ino,
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
static void placeholder_attr(fuse_req_t req, uint64_t ino, struct stat *st)
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
#define NS_CACHE_S 0.5

static double cache_s(const struct inode *in)
{
	return in->kind == INODE_NAMESPACE ? NS_CACHE_S : 0;
}

static void fill_entry(struct fuse_entry_param *e, struct inode *in)
{
	memset(e, 0, sizeof(*e));
	e->ino = in->ino;
	e->generation = 1;
	e->attr_timeout = cache_s(in);
	e->entry_timeout = cache_s(in);
}

/* Reply with an entry for `in`; takes a lookup reference on success. */
static void reply_entry(struct lockfs *fs, fuse_req_t req, struct inode *in,
			const struct stat *st)
{
	struct fuse_entry_param e;

	fill_entry(&e, in);
	e.attr = *st;
	e.attr.st_ino = in->ino;
	if (fuse_reply_entry(req, &e) == 0)
		inodes_ref(in);
	else
		inodes_drop_if_unused(fs->inodes, in);
}

static const struct lock_holder *find_holder(const struct lock_state *ls,
					     const char *id)
{
	for (size_t i = 0; i < ls->nholders; i++)
		if (strcmp(ls->holders[i].id, id) == 0)
			return &ls->holders[i];
	return NULL;
}

/* The path of child `name` of directory inode `parent`, or -errno. */
static int child_path(struct lockfs *fs, fuse_ino_t parent, const char *name,
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

static bool is_control_name(const struct inode *parent, const char *name)
{
	return parent->ino == INO_ROOT && strcmp(name, NAME_CONTROL_DIR) == 0;
}

/*
 * An op for child `name` of directory `parent`, or NULL after answering the
 * request with the error: a bad name, or `control_err` for the control
 * directory's own name.
 */
static struct op *child_op(fuse_req_t req, fuse_ino_t parent,
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
#define GROUPS_MAX 64

static void holder_groups(fuse_req_t req, gid_t *buf,
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
#define STALE_RETRY_MS 1000

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool retry_pending(const struct inode *in)
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
static bool retry_arm(struct lockfs *fs, const char *path)
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

/* ---- lookup and getattr -------------------------------------------- */

static void lookup_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct lockfs *fs = op->fs;
	struct inode *in;
	struct stat st;

	if (res->err < 0)
		goto fail;
	if (res->kind == STORE_NAMESPACE) {
		in = inodes_intern(fs->inodes, op->path, INODE_NAMESPACE);
		if (in == NULL)
			goto nomem;
		ns_attr_to_stat(&res->ns, in->ino, &st);
	} else if (res->kind == STORE_LOCK) {
		in = inodes_intern(fs->inodes, op->path, INODE_LOCK);
		if (in == NULL)
			goto nomem;
		lock_attr(op, &res->lock, in->ino, &st);
	} else {
		in = inodes_find(fs->inodes, op->path);
		if (!(in && (in->placeholders || retry_pending(in))) &&
		    (!leases_is_stale(fs->leases, op->path, op->owner.id, 0) ||
		     leases_told_stale_within(fs->leases, op->path,
					      op->owner.id, STALE_RETRY_MS))) {
			op_fail(op, -ENOENT);
			return;
		}
		/* an open placeholder, or a lease its owner lost (so that
		 * its unlink reaches us and gets ESTALE) */
		in = inodes_intern(fs->inodes, op->path, INODE_LOCK);
		if (in == NULL)
			goto nomem;
		placeholder_attr(op->req, in->ino, &st);
	}
	reply_entry(fs, op->req, in, &st);
	op_free(op);
	return;
nomem:
	op_fail(op, -ENOMEM);
	return;
fail:
	op_fail(op, res->err);
}

/*
 * A lock the asking owner took or renewed through this node in the last
 * OWN_LEASE_FRESH_MS: answer from the lease table, without a Redis round
 * trip (the usual create-then-unlink needs one trip less).  A break from
 * another node shows here at most that much later, within the README's second;
 * the unlink or renew that follows asks Redis and gets ESTALE if the lease
 * was lost.  Attributes time out at once, so a stat still asks Redis.
 */
#define OWN_LEASE_FRESH_MS 50

static bool lookup_own_lease(struct op *op)
{
	const struct lock_holder *h =
		leases_get_fresh(op->fs->leases, op->path, op->owner.id,
				 OWN_LEASE_FRESH_MS);
	struct lock_state ls = {.mode = h ? h->mode : LOCK_MODE_EXCLUSIVE,
				.nholders = 1};
	struct inode *in;
	struct stat st;

	if (h == NULL || h->kind != HOLDER_LEASE)
		return false;
	in = inodes_intern(op->fs->inodes, op->path, INODE_LOCK);
	if (in == NULL)
		return false;
	ls.token = h->token;
	ls.holders = (struct lock_holder *)h;
	lock_attr(op, &ls, in->ino, &st);
	reply_entry(op->fs, op->req, in, &st);
	op_free(op);
	return true;
}

static void lockfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lockfs *fs = fs_of(req);
	struct inode *p = inodes_get(fs->inodes, parent), *in = NULL;
	struct stat st;
	struct op *op;
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
	if (in) {
		control_attr(fs, in, &st);
		reply_entry(fs, req, in, &st);
		return;
	}
	op = child_op(req, parent, name, EEXIST);
	if (op == NULL)
		return;
	err = request_owner(req, &op->owner);
	if (err < 0) {
		op_fail(op, err);
		return;
	}
	if (lookup_own_lease(op))
		return;
	op_started(op, store_stat(fs->st, op->path, lookup_done, op));
}

static void forget_one(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	inodes_forget(fs_of(req)->inodes, ino, n);
}

static void lockfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(req, ino, nlookup);
	fuse_reply_none(req);
}

static void lockfs_forget_multi(fuse_req_t req, size_t count,
				struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		forget_one(req, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void getattr_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct stat st;

	if (res->err < 0) {
		op_fail(op, res->err);
		return;
	}
	if (res->kind == STORE_NAMESPACE && op->in->kind == INODE_NAMESPACE) {
		ns_attr_to_stat(&res->ns, op->in->ino, &st);
	} else if (res->kind == STORE_LOCK && op->in->kind == INODE_LOCK) {
		lock_attr(op, &res->lock, op->in->ino, &st);
	} else if (op->in->kind == INODE_LOCK &&
		   (op->in->placeholders || retry_pending(op->in) ||
		    op->to_set ||
		    !leases_is_stale(op->fs->leases, op->path, op->owner.id,
				     0))) {
		/*
		 * Lock files are never cached, so a getattr of one follows
		 * its lookup in the same call (or is an fstat): a lock
		 * released in between must not fail the open that looked it
		 * up (README: a write open takes the lock with or without
		 * O_CREAT).  stat(2) of a released lock still gets ENOENT
		 * from its lookup.
		 */
		placeholder_attr(op->req, op->in->ino, &st);
	} else if (op->in->kind == INODE_LOCK) {
		/*
		 * An owner whose lease was lost: its lookup is positive (so
		 * that its unlink gets ESTALE, README); a stat or open gets
		 * ESTALE here, and the kernel's one retry of that call finds
		 * the name gone: a stat says ENOENT, a new open creates.
		 */
		leases_told_stale(op->fs->leases, op->path, op->owner.id);
		op_fail(op, -ESTALE);
		return;
	} else {
		op_fail(op, -ENOENT);
		return;
	}
	fuse_reply_attr(op->req, &st, cache_s(op->in));
	op_free(op);
}

/* getattr, also used to answer setattr calls that change nothing stored */
static void start_getattr(fuse_req_t req, struct inode *in, bool lenient)
{
	struct lockfs *fs = fs_of(req);
	struct op *op = op_new(req, in, in->path);

	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->to_set = lenient;
	if (in->kind == INODE_LOCK && request_owner(req, &op->owner) < 0)
		op->owner.id[0] = '\0'; /* no owner: none of its leases is lost */
	op_started(op, store_stat(fs->st, op->path, getattr_done, op));
}

/*
 * The mount root's attributes must answer whatever Redis does: every path
 * into the control directory needs them (the kernel checks search
 * permission on the root), and status exists for the moment Redis is away.
 * So a getattr of the root asks Redis but waits at most ROOT_ATTR_WAIT_MS,
 * then answers with what Redis said last; a late answer still refreshes it.
 */
#define ROOT_ATTR_WAIT_MS 200

struct root_query {
	struct lockfs *fs;
	fuse_req_t req;
	struct event *timer;
	bool answered;
};

static void root_answer(struct root_query *q)
{
	struct stat st;

	if (q->answered)
		return;
	q->answered = true;
	ns_attr_to_stat(&q->fs->root_attr, INO_ROOT, &st);
	fuse_reply_attr(q->req, &st, NS_CACHE_S);
}

static void root_query_free(struct root_query *q)
{
	if (q->timer)
		event_free(q->timer);
	free(q);
}

static void on_root_wait(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	root_answer(arg);
}

static void root_stat_done(void *arg, const struct store_result *res)
{
	struct root_query *q = arg;

	if (res->err == 0 && res->kind == STORE_NAMESPACE)
		q->fs->root_attr = res->ns;
	root_answer(q);
	root_query_free(q);
}

static void root_getattr(struct lockfs *fs, fuse_req_t req)
{
	struct root_query *q = calloc(1, sizeof(*q));
	struct timeval tv = {0, ROOT_ATTR_WAIT_MS * 1000};
	struct stat st;

	if (q == NULL) {
		ns_attr_to_stat(&fs->root_attr, INO_ROOT, &st);
		fuse_reply_attr(req, &st, NS_CACHE_S);
		return;
	}
	q->fs = fs;
	q->req = req;
	q->timer = evtimer_new(fs->base, on_root_wait, q);
	if (q->timer)
		evtimer_add(q->timer, &tv);
	if (q->timer == NULL || store_stat(fs->st, "", root_stat_done, q) < 0) {
		root_answer(q);
		root_query_free(q);
	}
}

static void lockfs_getattr(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	struct stat st;

	(void)fi;
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
		root_getattr(fs, req);
		return;
	}
	start_getattr(req, in, fi != NULL);
}

/* ---- acquiring: create and open ------------------------------------ */

static void holder_for(struct lockfs *fs, const struct owner *o,
		       enum holder_kind kind, enum lock_mode mode,
		       struct store_holder *h)
{
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
	/* a handle lock is kept alive for as long as its file holds it */
	h->keepalive = kind == HOLDER_HANDLE ? KEEPALIVE_SESSION
					     : fs->opt->keepalive;
}

static void undo_grant_done(void *arg, const struct store_result *res)
{
	(void)arg;
	(void)res;
}

/*
 * The caller of a granted create/open is gone (the reply failed): a lock
 * nobody will know about must not stay held.
 */
static void undo_grant(struct op *op, const char *extra, int64_t token)
{
	if (strcmp(extra, "new") != 0)
		return;
	log_info("%s: requester gone, releasing the new grant", op->path);
	leases_forget(op->fs->leases, op->path, op->owner.id);
	if (store_release(op->fs->st, op->path, op->owner.id, token, false,
			  undo_grant_done, NULL) < 0)
		log_warnx("%s: could not release; it expires with its ttl",
			  op->path);
}

static void acquired(struct op *op, const struct store_result *res,
		     bool is_create)
{
	struct lockfs *fs = op->fs;
	const struct lock_holder *mine = find_holder(&res->lock, op->owner.id);
	struct handle *h = calloc(1, sizeof(*h));
	struct inode *in = op->in;
	struct fuse_entry_param e;
	int rc;

	if (h == NULL || mine == NULL)
		goto nomem;
	if (in == NULL && (in = inodes_intern(fs->inodes, op->path,
					      INODE_LOCK)) == NULL)
		goto nomem;
	if (strcmp(res->extra, "new") == 0) {
		fs->grants++;
		metrics_wait(&fs->metrics, mono_s() - op->started_s);
		lockfs_publish(fs, "acquired", op->path, mine, res->now_ms);
	}
	leases_granted(fs->leases, op->path, mine, res->now_ms);
	h->type = HANDLE_LOCK;
	h->in = in;
	h->writer = true;
	h->owner = op->owner;
	h->token = mine->token;
	op->fi.fh = (uintptr_t)h;
	op->fi.direct_io = 1;
	op->fi.keep_cache = 0;
	inodes_open(in);
	if (is_create) {
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
		undo_grant(op, res->extra, mine->token);
	}
	op_free(op);
	return;
nomem:
	free(h);
	undo_grant(op, res->extra, mine ? mine->token : 0);
	op_fail(op, -ENOMEM);
}

static int start_acquire(struct op *op, bool excl);

static void acquire_done(void *arg, int err, const struct store_result *res)
{
	struct op *op = arg;

	if (err == 0) {
		acquired(op, res, op->is_create);
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

/* A signal (kill -9 included) withdraws the wait: the README. */
static void on_interrupt(fuse_req_t req, void *data)
{
	struct op *op = data;

	(void)req;
	waiter_cancel(op->waiter, -EINTR);
}

/*
 * Let a signal withdraw the wait of `op` (registered after the waitq took
 * it).  A request already marked interrupted would have its function called
 * inside fuse_req_interrupt_func(), with the request's lock held while our
 * reply frees it: cancel directly instead.
 */
static void interruptible(struct op *op)
{
	if (fuse_req_interrupted(op->req))
		waiter_cancel(op->waiter, -EINTR);
	else
		fuse_req_interrupt_func(op->req, on_interrupt, op);
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
	int err = request_owner(op->req, &op->owner);

	if (err < 0)
		return err;
	holder_for(fs, &op->owner, HOLDER_LEASE, LOCK_MODE_EXCLUSIVE, &h);
	holder_groups(op->req, groups, &h);
	err = waitq_acquire(fs->wq, op->path, &h, excl, block,
			    fs->opt->acquire_timeout_ms, acquire_done, op,
			    &op->waiter);
	if (err < 0)
		return err;
	if (block)
		interruptible(op);
	return 0;
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
	if (request_owner(req, &h->owner) < 0)
		h->owner.id[0] = '\0';
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

static void lockfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode, struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct inode *p = NULL;
	char *path = NULL;
	struct op *op;
	int err;

	(void)mode;
	err = child_path(fs, parent, name, &p, &path);
	if (err == 0 && is_control_name(p, name))
		err = -EEXIST;
	if (err < 0)
		goto fail;
	if ((fi->flags & O_ACCMODE) == O_RDONLY || fs->opt->open_flock) {
		create_placeholder(req, path, fi);
		free(path);
		return;
	}
	op = op_new(req, NULL, path);
	if (op == NULL) {
		err = -ENOMEM;
		goto fail;
	}
	op->fi = *fi;
	op->is_create = true;
	/* O_EXCL waits only when blocked by another node of the tree (the
	 * name is absent): a positive entry would make the kernel answer
	 * EEXIST, so that rare wait stays in CREATE (README) */
	op->retry_as_open = !(fi->flags & (O_EXCL | O_NONBLOCK));
	free(path);
	op_started(op, start_acquire(op, (fi->flags & O_EXCL) != 0));
	return;
fail:
	free(path);
	fuse_reply_err(req, -err);
}

/* An open that takes nothing; `owner` (may be NULL) is who opened it. */
static void open_plain(fuse_req_t req, struct inode *in,
		       struct fuse_file_info *fi, const struct owner *owner)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h->type = HANDLE_LOCK;
	h->in = in;
	if (owner)
		h->owner = *owner;
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	inodes_open(in);
	if (fuse_reply_open(req, fi) != 0) {
		inodes_close(fs_of(req)->inodes, in);
		handle_free(h);
	}
}

static void lockfs_open(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	struct owner owner;
	struct op *op;
	int err;

	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (in->kind == INODE_CONTROL_FILE) {
		err = control_open(fs, in, fi);
		if (err < 0)
			fuse_reply_err(req, -err);
		else if (fuse_reply_open(req, fi) != 0)
			control_release(fs, in, fi);
		return;
	}
	if (in->kind != INODE_LOCK) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) == O_RDONLY) {
		open_plain(req, in, fi, NULL);
		return;
	}
	/*
	 * The flock view never locks in open.  In either view, an owner
	 * whose handle lock holds the file opens it at once: its own lock,
	 * renewed by the writes through the new descriptor (own_hold()).
	 */
	err = request_owner(req, &owner);
	if (err == 0 && (fs->opt->open_flock ||
			 leases_handle_of(fs->leases, in->path, owner.uid,
					  owner.session))) {
		open_plain(req, in, fi, &owner);
		return;
	}
	op = op_new(req, in, in->path);
	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->fi = *fi;
	op_started(op, start_acquire(op, false));
}

static void lockfs_release(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct handle *h = handle_of(fi);

	(void)ino;
	if (fi->flock_release)
		drop_handle_locks(fs, h, fi, true);
	for (size_t i = 0; h && h->in && i < h->nlocks; i++) {
		char id[OWNER_ID_MAX];

		handle_lock_id(fs, h->locks[i].lock_owner, h->locks[i].posix,
			       id, sizeof(id));
		if (leases_get(fs->leases, h->in->path, id))
			handle_unlock(fs, NULL, h->in->path, id);
	}
	if (h) {
		if (h->type == HANDLE_CONTROL) {
			control_release(fs, h->in, fi);
			h = NULL;
		} else {
			if (h->type == HANDLE_PLACEHOLDER &&
			    h->in->placeholders)
				h->in->placeholders--;
			inodes_close(fs->inodes, h->in);
		}
	}
	handle_free(h);
	fuse_reply_err(req, 0);
}

/* ---- read: the lock's state as text --------------------------------- */

static void reply_text(fuse_req_t req, const struct handle *h, size_t size,
		       off_t off)
{
	if (off < 0 || (size_t)off >= h->text_len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, h->text + off,
			       size < h->text_len - off ? size
							: h->text_len - off);
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
	err = info_format(&st, &op->h->text, &op->h->text_len);
	if (err < 0) {
		op_fail(op, err);
		return;
	}
	reply_text(op->req, op->h, op->size, op->off);
	op_free(op);
}

static void lockfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct handle *h = handle_of(fi);
	struct op *op;

	(void)ino;
	if (h->type == HANDLE_CONTROL) {
		control_read(fs, req, h->in, size, off, fi);
		return;
	}
	if (off > 0 && h->text) {
		reply_text(req, h, size, off);
		return;
	}
	op = op_new(req, h->in, h->in->path);
	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->h = h;
	op->size = size;
	op->off = off;
	op_started(op, store_stat(fs->st, op->path, read_done, op));
}

/* ---- renewal: write, truncate, utimens ------------------------------ */

/*
 * The hold a write or truncate through `h` renews: the lease it took or
 * renewed at open, else a handle lock taken through it (a lease converted
 * by flock/lockf lives on as one), else a handle lock of its opener's
 * owner on the file (`flock FILE -c 'echo $$ > FILE'`).  Returns 1 with
 * `id` and `*token` set, 0 for none, -ESTALE when the hold it had is lost.
 */
static int own_hold(struct lockfs *fs, const struct handle *h, char *id,
		    size_t size, int64_t *token)
{
	const char *path = h->in->path;
	const struct lock_holder *l = NULL;
	bool lost = false;

	if (h->writer && (l = leases_get(fs->leases, path, h->owner.id)) &&
	    l->token != h->token)
		l = NULL;
	for (size_t i = 0; l == NULL && i < h->nlocks; i++) {
		handle_lock_id(fs, h->locks[i].lock_owner, h->locks[i].posix,
			       id, size);
		l = leases_get(fs->leases, path, id);
		lost = lost || (l == NULL && leases_is_lost(fs->leases, path,
							     id));
	}
	if (l == NULL && h->owner.id[0])
		l = leases_handle_of(fs->leases, path, h->owner.uid,
				     h->owner.session);
	if (l == NULL)
		return lost ? -ESTALE : 0;
	snprintf(id, size, "%s", l->id);
	*token = l->token;
	return 1;
}

/* Why a renewal failed, as the README wants it told. */
static int renew_error(struct op *op, const struct store_result *res,
		       bool by_handle)
{
	struct lockfs *fs = op->fs;

	if (res->err != -ESTALE)
		return res->err;
	/*
	 * A lost lease is remembered (lease.h), not forgotten here: the VFS
	 * retries a path operation that got ESTALE once, and the retry must
	 * hear ESTALE again.
	 */
	if (by_handle || leases_is_stale(fs->leases, op->path, op->owner.id,
					 0)) {
		leases_lost(fs->leases, op->path, op->owner.id);
		return -ESTALE;
	}
	return strcmp(res->extra, "held") == 0 ? -EPERM : -ESTALE;
}

static void write_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	const struct lock_holder *mine;

	if (res->err < 0) {
		op_fail(op, renew_error(op, res, true));
		return;
	}
	mine = find_holder(&res->lock, op->owner.id);
	if (mine)
		leases_granted(op->fs->leases, op->path, mine, res->now_ms);
	fuse_reply_write(op->req, op->size);
	op_free(op);
}

/* ---- lock sets: a write to /.lockfs/acquire, the README --------- */

static void set_done(void *arg, int err, const struct store_result *res)
{
	struct op *op = arg;
	struct lockfs *fs = op->fs;
	const struct lockset *set = op->set;

	if (err < 0) {
		op_fail(op, err);
		return;
	}
	for (size_t i = 0; i < set->n && i < res->ntokens; i++) {
		struct lock_holder h = {
			.id = op->owner.id, .node = (char *)fs->opt->node,
			.uid = op->owner.uid, .gid = op->owner.gid,
			.pid = op->owner.pid, .session = op->owner.session,
			.kind = HOLDER_LEASE, .mode = set->modes[i],
			.token = res->tokens[i], .ttl_ms = fs->opt->ttl_ms,
			.keepalive = fs->opt->keepalive,
		};

		leases_granted(fs->leases, set->paths[i], &h, res->now_ms);
		lockfs_publish(fs, "acquired", set->paths[i], &h, res->now_ms);
		fs->grants++;
	}
	if (set->n)
		metrics_wait(&fs->metrics, mono_s() - op->started_s);
	if (fuse_reply_write(op->req, op->size) != 0) { /* the caller is gone */
		for (size_t i = 0; i < set->n && i < res->ntokens; i++) {
			leases_forget(fs->leases, set->paths[i], op->owner.id);
			store_release(fs->st, set->paths[i], op->owner.id,
				      res->tokens[i], false, undo_grant_done,
				      NULL);
		}
	}
	op_free(op);
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
	holder_for(fs, &op->owner, HOLDER_LEASE, LOCK_MODE_EXCLUSIVE, &h);
	holder_groups(req, groups, &h);
	err = waitq_acquire_set(fs->wq, op->set->paths, op->set->modes,
				op->set->n, &h, block,
				fs->opt->acquire_timeout_ms, set_done, op,
				&op->waiter);
	if (err < 0) {
		op_fail(op, err);
		return;
	}
	if (block)
		interruptible(op);
}

static void lockfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
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
	(void)off;
	if (h->type == HANDLE_CONTROL && h->in->control_id == CONTROL_ACQUIRE) {
		lockset_write(req, fi->flags, buf, size);
		return;
	}
	if (h->type != HANDLE_LOCK && h->type != HANDLE_PLACEHOLDER) {
		fuse_reply_err(req, h->type == HANDLE_CONTROL ? EPERM : EBADF);
		return;
	}
	held = own_hold(fs, h, id, sizeof(id), &token);
	if (held == 0 && h->writer) { /* its lease, lost: ESTALE below */
		snprintf(id, sizeof(id), "%s", h->owner.id);
		token = h->token;
	} else if (held == 0) {
		/* the flock view: a non-holder's write changes nothing */
		if (fs->opt->open_flock)
			fuse_reply_write(req, size);
		else
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
	op_started(op, store_renew(fs->st, op->path, id, token,
				   cmd.has_ttl ? cmd.ttl_ms : 0,
				   cmd.has_keepalive ? (int)cmd.keepalive : -1,
				   cmd.has_note ? cmd.note : NULL,
				   cmd.note_len, write_done, op));
}

static void setattr_lock_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	const struct lock_holder *mine;
	struct stat st;

	if (res->err < 0) {
		op_fail(op, renew_error(op, res, op->h != NULL));
		return;
	}
	mine = find_holder(&res->lock, op->owner.id);
	if (mine)
		leases_granted(op->fs->leases, op->path, mine, res->now_ms);
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
	ns_attr_to_stat(&res->ns, op->in->ino, &st);
	fuse_reply_attr(op->req, &st, cache_s(op->in));
	op_free(op);
}

static void setattr_lock(fuse_req_t req, struct inode *in, int to_set,
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
		l = leases_handle_of(fs->leases, in->path, op->owner.uid,
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
		start_getattr(req, in, true);
		return;
	}
	if (id[0])
		snprintf(op->owner.id, sizeof(op->owner.id), "%s", id);
	op->h = h;
	op_started(op, store_renew(fs->st, op->path, op->owner.id, token, 0,
				   -1, NULL, 0, setattr_lock_done, op));
}

static void lockfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
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
		setattr_lock(req, in, to_set, fi);
		return;
	case INODE_NAMESPACE:
		if (to_set & FUSE_SET_ATTR_SIZE) {
			fuse_reply_err(req, EISDIR);
			return;
		}
		if (!(to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
				FUSE_SET_ATTR_GID))) {
			start_getattr(req, in, false); /* times: no-op */
			return;
		}
		op = op_new(req, in, in->path);
		if (op == NULL) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		op_started(op, store_setattr(
				       fs->st, in->path,
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

	if (err == 0) {
		fs->releases++;
		for (size_t i = 0; i < res->lock.nholders; i++) {
			leases_lost(fs->leases, op->path,
				    res->lock.holders[i].id);
			lockfs_publish(fs, res->extra, op->path,
				       &res->lock.holders[i], res->now_ms);
		}
		leases_forget(fs->leases, op->path, op->owner.id);
	} else if (err == -ESTALE) {
		/* remembered, not forgotten: see renew_error() */
		leases_lost(fs->leases, op->path, op->owner.id);
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

static void lockfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
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
	/* the grant it took through this node: if that is gone, ESTALE */
	op_started(op, store_release(op->fs->st, op->path, op->owner.id,
				     leases_token(op->fs->leases, op->path,
						  op->owner.id),
				     op->owner.uid == 0, unlink_done, op));
}

/* ---- namespaces ----------------------------------------------------- */

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
	ns_attr_to_stat(&res->ns, in->ino, &st);
	reply_entry(op->fs, op->req, in, &st);
	op_free(op);
}

static void lockfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
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
		op_started(op, store_mkdir(op->fs->st, op->path, mode & 07777,
					   ctx->uid, ctx->gid, mkdir_done, op));
}

static void rmdir_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;

	fuse_reply_err(op->req, -res->err);
	op_free(op);
}

static void lockfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct op *op = child_op(req, parent, name, EBUSY);

	if (op)
		op_started(op, store_rmdir(op->fs->st, op->path, rmdir_done,
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

static void lockfs_opendir(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	struct op *op;

	if (in == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (in->kind == INODE_CONTROL_DIR) {
		fi->fh = 0;
		fuse_reply_open(req, fi);
		return;
	}
	if (in->kind != INODE_NAMESPACE) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	op = op_new(req, in, in->path);
	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->fi = *fi;
	op_started(op, store_list(fs->st, in->path, opendir_done, op));
}

static uint64_t entry_ino(struct lockfs *fs, const char *dir, const char *name)
{
	char *path = NULL;
	struct inode *in;
	uint64_t h = 1469598103934665603ULL;

	if (name_join(dir, name, &path) == 0) {
		in = inodes_find(fs->inodes, path);
		if (in) {
			free(path);
			return in->ino;
		}
		for (const char *s = path; *s; s++)
			h = (h ^ (unsigned char)*s) * 1099511628211ULL;
		free(path);
	}
	return h | (1ULL << 62);
}

static void lockfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct handle *h = handle_of(fi);
	char *buf, *p;
	size_t used = 0;
	size_t extra = ino == INO_ROOT ? 3 : 2; /* ".", "..", ".lockfs" */
	size_t total;

	if (h == NULL) {
		control_readdir(fs, req, size, off);
		return;
	}
	total = extra + h->nentries;
	buf = malloc(size);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p = buf;
	for (size_t i = off; i < total; i++) {
		struct stat st = {0};
		const char *name;
		size_t need;

		if (i == 0) {
			name = ".";
			st.st_ino = ino;
			st.st_mode = S_IFDIR;
		} else if (i == 1) {
			name = "..";
			st.st_ino = INO_ROOT;
			st.st_mode = S_IFDIR;
		} else if (i == 2 && extra == 3) {
			name = NAME_CONTROL_DIR;
			st.st_ino = INO_CONTROL_DIR;
			st.st_mode = S_IFDIR;
		} else {
			const struct store_entry *e = &h->entries[i - extra];

			name = e->name;
			st.st_mode = e->is_namespace ? S_IFDIR : S_IFREG;
			st.st_ino = entry_ino(fs, h->in->path, name);
		}
		need = fuse_add_direntry(req, p, size - used, name, &st, i + 1);
		if (need > size - used)
			break;
		p += need;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void lockfs_releasedir(fuse_req_t req, fuse_ino_t ino,
			      struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct handle *h = handle_of(fi);

	(void)ino;
	if (h)
		inodes_close(fs->inodes, h->in);
	handle_free(h);
	fuse_reply_err(req, 0);
}

/* ---- handle locks: flock(2) and fcntl(2), the README ------------ */

/*
 * A handle lock belongs to the open file description (flock) or to the
 * process's lock owner (fcntl): the kernel names either by `lock_owner`.
 */
static void handle_lock_id(struct lockfs *fs, uint64_t lock_owner,
			   bool posix, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%c%016llx", fs->opt->node, posix ? 'P' : 'F',
		 (unsigned long long)lock_owner);
}

static void unlock_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;

	if (res->err == 0) {
		op->fs->releases++;
		for (size_t i = 0; i < res->lock.nholders; i++)
			lockfs_publish(op->fs, "released", op->path,
				       &res->lock.holders[i], res->now_ms);
	}
	if (op->req)
		fuse_reply_err(op->req, res->err == -EIO ? EIO : 0);
	op_free(op);
}

/* Drop handle lock `id` on `path`; answers `req` (may be NULL) with 0. */
static void handle_unlock(struct lockfs *fs, fuse_req_t req, const char *path,
			  const char *id)
{
	struct op *op = calloc(1, sizeof(*op));
	int err;

	leases_forget(fs->leases, path, id);
	if (op == NULL || (op->path = strdup(path)) == NULL) {
		free(op);
		if (req)
			fuse_reply_err(req, ENOMEM);
		return;
	}
	op->fs = fs;
	op->req = req;
	err = store_release(fs->st, path, id, 0, false, unlock_done, op);
	if (err < 0) {
		if (req)
			fuse_reply_err(req, -err);
		op_free(op);
	}
}

static void lock_done(void *arg, int err, const struct store_result *res)
{
	struct op *op = arg;
	struct lockfs *fs = op->fs;
	const struct lock_holder *mine;

	if (err < 0) {
		op_fail(op, err == -EAGAIN ? -EWOULDBLOCK : err);
		return;
	}
	mine = find_holder(&res->lock, op->owner.id);
	if (!find_holder(&res->lock, op->lease_id)) /* converted, if any */
		leases_forget(fs->leases, op->path, op->lease_id);
	if (mine) {
		leases_granted(fs->leases, op->path, mine, res->now_ms);
		if (strcmp(res->extra, "new") == 0) {
			fs->grants++;
			metrics_wait(&fs->metrics, mono_s() - op->started_s);
			lockfs_publish(fs, "acquired", op->path, mine,
				       res->now_ms);
		}
	}
	if (fuse_reply_err(op->req, 0) != 0 && mine) /* the caller is gone */
		handle_unlock(fs, NULL, op->path, op->owner.id);
	op_free(op);
}

static void start_handle_lock(struct op *op, enum lock_mode mode, bool block)
{
	struct lockfs *fs = op->fs;
	struct store_holder h;
	gid_t groups[GROUPS_MAX];
	int err;

	holder_for(fs, &op->owner, HOLDER_HANDLE, mode, &h);
	holder_groups(op->req, groups, &h);
	h.absorb_id = op->lease_id;
	err = waitq_acquire(fs->wq, op->path, &h, false, block,
			    fs->opt->acquire_timeout_ms, lock_done, op,
			    &op->waiter);
	if (err < 0) {
		op_fail(op, err);
		return;
	}
	if (block)
		interruptible(op);
}

/* A conversion (shared <-> exclusive) lets go first, as flock(2) does. */
static void converted_release_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;

	(void)res;
	start_handle_lock(op, op->to_set ? LOCK_MODE_SHARED
					 : LOCK_MODE_EXCLUSIVE,
			  op->off != 0);
}

/* Lock, unlock or convert handle lock `id` on inode `ino`. */
static void handle_lock(fuse_req_t req, fuse_ino_t ino, uint64_t lock_owner,
			bool posix, int type, bool block)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	const struct lock_holder *held;
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
	held = leases_get(fs->leases, in->path, id);
	if (held && held->mode == mode) {
		fuse_reply_err(req, 0); /* already held so */
		return;
	}
	op = op_new(req, in, in->path);
	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	err = request_owner(req, &op->owner);
	if (err < 0) {
		op_fail(op, err);
		return;
	}
	snprintf(op->lease_id, sizeof(op->lease_id), "%s", op->owner.id);
	snprintf(op->owner.id, sizeof(op->owner.id), "%s", id);
	if (held) {
		op->to_set = mode == LOCK_MODE_SHARED;
		op->off = block;
		leases_forget(fs->leases, in->path, id);
		err = store_release(fs->st, in->path, id, 0, false,
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

static void lockfs_flock(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi, int op)
{
	int type = (op & LOCK_UN) ? F_UNLCK
		   : (op & LOCK_SH) ? F_RDLCK
				    : F_WRLCK;

	if (type != F_UNLCK)
		note_lock(fi, false);
	handle_lock(req, ino, fi->lock_owner, false, type, !(op & LOCK_NB));
}

static void lockfs_setlk(fuse_req_t req, fuse_ino_t ino,
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
		    (op->to_set == F_RDLCK && h->mode == LOCK_MODE_SHARED))
			continue;
		lk.l_type = h->mode == LOCK_MODE_SHARED ? F_RDLCK : F_WRLCK;
		lk.l_pid = h->pid;
		break;
	}
	fuse_reply_lock(op->req, &lk);
	op_free(op);
}

static void lockfs_getlk(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi, struct flock *lock)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	struct op *op;

	if (in == NULL || in->kind != INODE_LOCK) {
		fuse_reply_err(req, in ? EINVAL : ESTALE);
		return;
	}
	op = op_new(req, in, in->path);
	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	handle_lock_id(fs, fi->lock_owner, true, op->owner.id,
		       sizeof(op->owner.id));
	op->to_set = lock->l_type;
	op_started(op, store_stat(fs->st, op->path, getlk_done, op));
}

/* On close: drop what this file (flock) or this owner (fcntl) held. */
static void drop_handle_locks(struct lockfs *fs, const struct handle *h,
			      const struct fuse_file_info *fi, bool flock)
{
	char id[OWNER_ID_MAX];

	if (h == NULL || h->in == NULL || h->in->kind != INODE_LOCK)
		return;
	handle_lock_id(fs, fi->lock_owner, !flock, id, sizeof(id));
	if (leases_get(fs->leases, h->in->path, id))
		handle_unlock(fs, NULL, h->in->path, id);
}

/* ---- extended attributes: the fencing token ------------------------- */

static void xattr_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	char value[32];
	int len;

	if (res->err < 0) {
		op_fail(op, res->err);
		return;
	}
	if (res->kind != STORE_LOCK) {
		op_fail(op, -ENODATA);
		return;
	}
	len = snprintf(value, sizeof(value), "%lld",
		       (long long)res->lock.token);
	if (op->size == 0)
		fuse_reply_xattr(op->req, len);
	else if (op->size < (size_t)len)
		fuse_reply_err(op->req, ERANGE);
	else
		fuse_reply_buf(op->req, value, len);
	op_free(op);
}

static void lockfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			    size_t size)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	struct op *op;

	if (in == NULL || in->kind != INODE_LOCK ||
	    strcmp(name, XATTR_TOKEN) != 0) {
		fuse_reply_err(req, in ? ENODATA : ESTALE);
		return;
	}
	op = op_new(req, in, in->path);
	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->size = size;
	op_started(op, store_stat(fs->st, op->path, xattr_done, op));
}

static void lockfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct lockfs *fs = fs_of(req);
	struct inode *in = inodes_get(fs->inodes, ino);
	size_t len = sizeof(XATTR_TOKEN);

	if (in == NULL || in->kind != INODE_LOCK)
		len = 0;
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, XATTR_TOKEN, len);
}

static void lockfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			    const char *value, size_t size, int flags)
{
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	fuse_reply_err(req, EPERM);
}

static void lockfs_removexattr(fuse_req_t req, fuse_ino_t ino,
			       const char *name)
{
	(void)ino;
	(void)name;
	fuse_reply_err(req, EPERM);
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
		err = EPERM;
	}
	fuse_reply_err(req, err);
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
				 INODE_CONTROL_FILE, CONTROL_METRICS) == NULL)
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

void lockfs_publish(struct lockfs *fs, const char *event, const char *path,
		    const struct lock_holder *h, int64_t time_ms)
{
	char key[WAITQ_KEY_MAX], *node = NULL, *line = NULL;
	size_t len;
	bool release = strcmp(event, "acquired") != 0 &&
		       strcmp(event, "waiting") != 0;

	metrics_event(&fs->metrics, event);
	if (fs->nt == NULL || name_lock_node(path, &node) < 0)
		return;
	waitq_lock_key(node, key, sizeof(key));
	if (!release)
		key[0] = 'e'; /* events only: must not wake waiters */
	if (event_format(time_ms, event, path, h->token, h->node, h->uid,
			 h->mode, &line, &len) == 0)
		notifier_publish(fs->nt, key, line, len);
	free(line);
	free(node);
}
