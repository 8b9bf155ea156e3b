/*
 * ops_lock.c - lock files: lookup and getattr (the mount root's too), create
 * and open (acquiring, waiting, the flock view's plain opens), and read (the
 * lock's state as text).  See ops_i.h.
 */
#include "ops_i.h"

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
		ns_remember(in, &res->ns);
		ns_attr_to_stat(&res->ns, in->ino, &st);
	} else if (res->kind == STORE_LOCK && lock_shown(fs, &res->lock)) {
		in = inodes_intern(fs->inodes, op->path, INODE_LOCK);
		if (in == NULL)
			goto nomem;
		file_seen(in, &res->lock);
		lock_attr(op, &res->lock, in->ino, &st);
	} else {
		in = inodes_find(fs->inodes, op->path);
		if (!(in && (in->placeholders || retry_pending(in))) &&
		    !node_lost_shows(fs->node, op->path, op->owner.id,
				     STALE_RETRY_MS)) {
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
 * was lost.  The same goes for the getattr the kernel sends right after a
 * create; a stat later than that asks Redis.
 */
#define OWN_LEASE_FRESH_MS 500

/* `op`'s owner's fresh lease on its path as attributes of `ino`. */
static bool own_lease_attr(struct op *op, uint64_t ino, struct stat *st)
{
	const struct lock_holder *h =
		node_lease_fresh(op->fs->node, op->path, op->owner.id,
				 OWN_LEASE_FRESH_MS);
	struct lock_state ls = {.mode = h ? h->mode : LOCK_MODE_EXCLUSIVE,
				.nholders = 1};

	/* (a flock view shows a lock file's own attributes: ask Redis) */
	if (h == NULL || h->kind != HOLDER_LEASE || op->fs->opt->open_flock)
		return false;
	ls.token = h->token;
	ls.holders = (struct lock_holder *)h;
	lock_attr(op, &ls, ino, st);
	return true;
}

static bool lookup_own_lease(struct op *op)
{
	struct inode *in;
	struct stat st;
	const struct lock_holder *h =
		node_lease_fresh(op->fs->node, op->path, op->owner.id,
				 OWN_LEASE_FRESH_MS);

	if (h == NULL || h->kind != HOLDER_LEASE || op->fs->opt->open_flock)
		return false;
	in = inodes_intern(op->fs->inodes, op->path, INODE_LOCK);
	if (in == NULL || !own_lease_attr(op, in->ino, &st))
		return false;
	reply_entry(op->fs, op->req, in, &st);
	op_free(op);
	return true;
}

void lockfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
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
	op_started(op, node_stat(fs->node, op->path, lookup_done, op));
}

static void forget_one(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	inodes_forget(fs_of(req)->inodes, ino, n);
}

void lockfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(req, ino, nlookup);
	fuse_reply_none(req);
}

void lockfs_forget_multi(fuse_req_t req, size_t count,
				struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		forget_one(req, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/*
 * An owner whose lease was lost: its lookup of the free name is positive
 * (so that its unlink gets ESTALE, README).  A stat or open of it gets
 * ESTALE here, and the kernel's one retry of that call finds the name
 * gone: a stat says ENOENT, a new open creates.  But a create that finds
 * the lock busy needs that one retry itself (ESTALE, retried
 * as an open), so when the name is free but taking it would wait (an
 * ancestor or a descendant is held, requests are queued) the getattr
 * answers as for a placeholder instead, and the kernel goes on with a
 * plain open, which waits as any does.  (A stat in that moment sees the
 * placeholder.)
 */
static void tell_lost(struct op *op)
{
	node_lost_told(op->fs->node, op->path, op->owner.id);
	op_fail(op, -ESTALE);
}

static void lost_probe_done(void *arg, const struct store_result *res)
{
	struct op *op = arg;
	struct stat st;

	if (res->err != -EAGAIN) {
		tell_lost(op);
		return;
	}
	placeholder_attr(op->req, op->in->ino, &st);
	fuse_reply_attr(op->req, &st, 0);
	op_free(op);
}

static void lost_getattr(struct op *op)
{
	struct lockfs *fs = op->fs;
	gid_t groups[GROUPS_MAX];
	struct store_holder h;
	int err;

	holder_for(fs, &op->owner, HOLDER_LEASE, LOCK_MODE_EXCLUSIVE, &h);
	holder_groups(op->req, groups, &h);
	err = node_acquire_probe(fs->node, op->path, &h, lost_probe_done, op);
	if (err < 0)
		tell_lost(op);
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
		ns_remember(op->in, &res->ns);
		ns_attr_to_stat(&res->ns, op->in->ino, &st);
	} else if (op->fs->opt->open_flock && op->in->kind == INODE_LOCK &&
		   file_gone(op->in, op->h,
			     res->kind == STORE_LOCK ? &res->lock
						     : &(struct lock_state){0})) {
		file_gone_attr(op->req, op->in, op->h, &st);
	} else if (res->kind == STORE_LOCK && op->in->kind == INODE_LOCK &&
		   lock_shown(op->fs, &res->lock)) {
		file_seen(op->in, &res->lock);
		lock_attr(op, &res->lock, op->in->ino, &st);
	} else if (op->in->kind == INODE_LOCK &&
		   (op->in->placeholders || retry_pending(op->in) ||
		    op->u.getattr.lenient ||
		    !node_lost(op->fs->node, op->path, op->owner.id))) {
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
		lost_getattr(op);
		return;
	} else {
		op_fail(op, -ENOENT);
		return;
	}
	fuse_reply_attr(op->req, &st, cache_s(op->in));
	op_free(op);
}

/* getattr, also used to answer setattr calls that change nothing stored */
void start_getattr(fuse_req_t req, struct inode *in, bool lenient,
		   struct handle *h)
{
	struct lockfs *fs = fs_of(req);
	double fresh = in->kind == INODE_NAMESPACE ? ns_fresh_s(in) : 0;
	struct op *op;
	struct stat st;

	if (fresh > 0) { /* what Redis said a moment ago (ns_remember) */
		ns_attr_to_stat(&in->ns, in->ino, &st);
		fuse_reply_attr(req, &st, fresh);
		return;
	}
	op = op_new(req, in, in->path);
	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->u.getattr.lenient = lenient;
	if (h && h->type == HANDLE_LOCK)
		op->h = h; /* an fstat(2) */
	if (in->kind == INODE_LOCK && request_owner(req, &op->owner) < 0)
		op->owner.id[0] = '\0'; /* no owner: none of its leases is lost */
	if (in->kind == INODE_LOCK && op->owner.id[0] &&
	    own_lease_attr(op, in->ino, &st)) {
		fuse_reply_attr(req, &st, 0);
		op_free(op);
		return;
	}
	op_started(op, node_stat(fs->node, op->path, getattr_done, op));
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
	if (q->timer == NULL || node_stat(fs->node, "", root_stat_done, q) < 0) {
		root_answer(q);
		root_query_free(q);
	}
}

void lockfs_getattr(fuse_req_t req, fuse_ino_t ino,
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
	start_getattr(req, in, fi != NULL, fi ? handle_of(fi) : NULL);
}

/* ---- acquiring: create and open ------------------------------------ */

void holder_for(struct lockfs *fs, const struct owner *o,
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
	h->lock_delay_ms = fs->opt->lock_delay_ms;
	/* a handle lock is kept alive for as long as its file holds it */
	h->keepalive = kind == HOLDER_HANDLE ? KEEPALIVE_SESSION
					     : fs->opt->keepalive;
}

/*
 * The caller of a granted create/open is gone (the reply failed): a lock
 * nobody will know about must not stay held.
 */
static void undo_grant(struct op *op, const char *extra, int64_t token)
{
	if (strcmp(extra, "new") != 0)
		return;
	node_disown(op->fs->node, op->path, op->owner.id, token,
		     "its requester is gone");
}

void acquired(struct op *op, const struct store_result *res,
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
	node_granted(fs->node, op->path, mine, strcmp(res->extra, "new") == 0,
		     mono_s() - op->started_s, res->now_ms);
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
	holder_for(fs, &op->owner, HOLDER_LEASE, LOCK_MODE_EXCLUSIVE, &h);
	holder_groups(op->req, groups, &h);
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

void lockfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode, struct fuse_file_info *fi)
{
	struct lockfs *fs = fs_of(req);
	struct inode *p = NULL;
	char *path = NULL;
	struct op *op;
	int err;

	err = child_path(fs, parent, name, &p, &path);
	if (err == 0 && is_control_name(p, name))
		err = -EEXIST;
	if (err < 0)
		goto fail;
	if (fs->opt->open_flock) {
		file_create(req, path, p, mode, fi);
		free(path);
		return;
	}
	if ((fi->flags & O_ACCMODE) == O_RDONLY) {
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
void reply_open(fuse_req_t req, struct inode *in, struct fuse_file_info *fi,
		struct handle *h)
{
	if (h == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	inodes_open(in);
	if (fuse_reply_open(req, fi) != 0) { /* the caller is gone */
		inodes_close(fs_of(req)->inodes, in);
		handle_free(h);
	}
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
	reply_open(req, in, fi, h);
}

void lockfs_open(fuse_req_t req, fuse_ino_t ino,
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
	if (fs->opt->open_flock) { /* never locks in open (ops_file.c) */
		file_open(req, in, fi);
		return;
	}
	if ((fi->flags & O_ACCMODE) == O_RDONLY) {
		open_plain(req, in, fi, NULL);
		return;
	}
	/*
	 * An owner whose handle lock holds the file opens it at once: its
	 * own lock, renewed by the writes through the new descriptor
	 * (own_hold()).
	 */
	err = request_owner(req, &owner);
	if (err == 0 && node_lease_handle_of(fs->node, in->path, owner.uid,
					     owner.session)) {
		open_plain(req, in, fi, &owner);
		return;
	}
	op = op_new(req, in, in->path);
	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->fi = *fi;
	if (err == 0)
		op->owner = owner;
	op_started(op, start_acquire(op, false));
}

void lockfs_release(fuse_req_t req, fuse_ino_t ino,
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
		if (node_lease(fs->node, h->in->path, id))
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
			poll_forget(h);
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
	if (op->fs->opt->open_flock) /* the file's content (ops_file.c) */
		err = file_text(op->h, &st, &op->h->text, &op->h->text_len);
	else
		err = info_format(&st, &op->h->text, &op->h->text_len);
	if (err < 0) {
		op_fail(op, err);
		return;
	}
	reply_text(op->req, op->h, op->size, op->u.read.off);
	op_free(op);
}

void lockfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
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
	op->u.read.off = off;
	op_started(op, node_stat(fs->node, op->path, read_done, op));
}
