/*
 * getattr.c - lookups and getattrs (getattr.h): what a name is now, from
 * Redis, from this node's fresh leases, or, for an owner whose lease was
 * lost, ESTALE once (core's lost-lease rules, node_lost*()).
 */
#include <event2/event.h>

#include "attr.h"
#include "getattr.h"

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
		    !node_lost_shows(fs->node, op->path, op->owner.id)) {
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
 * another node shows here at most that much later, within the README's
 * second; the unlink or renew that follows asks Redis and gets ESTALE if
 * the lease was lost.  The same goes for the getattr the kernel sends
 * right after a create; a stat later than that asks Redis.
 */
#define OWN_LEASE_FRESH_MS 500

/* `op`'s owner's lease on its path, if fresh and shown as a lease. */
static const struct lock_holder *own_fresh_lease(const struct op *op)
{
	const struct lock_holder *h =
		node_lease_fresh(op->fs->node, op->path, op->owner.id,
				 OWN_LEASE_FRESH_MS);

	/* (a flock view shows a lock file's own attributes: ask Redis) */
	if (h == NULL || h->kind != HOLDER_LEASE || op->fs->opt->open_flock)
		return NULL;
	return h;
}

/* Lease `h` of `op`'s owner as attributes of `ino`. */
static void own_lease_attr(const struct op *op, const struct lock_holder *h,
			   uint64_t ino, struct stat *st)
{
	struct lock_state ls = {.mode = h->mode, .token = h->token,
				.nholders = 1,
				.holders = (struct lock_holder *)h};

	lock_attr(op, &ls, ino, st);
}

static bool lookup_own_lease(struct op *op)
{
	const struct lock_holder *h = own_fresh_lease(op);
	struct inode *in;
	struct stat st;

	if (h == NULL ||
	    (in = inodes_intern(op->fs->inodes, op->path, INODE_LOCK)) == NULL)
		return false;
	own_lease_attr(op, h, in->ino, &st);
	reply_entry(op->fs, op->req, in, &st);
	op_free(op);
	return true;
}

void lookup_child(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct op *op = child_op(req, parent, name, EEXIST);
	int err;

	if (op == NULL)
		return;
	err = request_owner(req, &op->owner);
	if (err < 0) {
		op_fail(op, err);
		return;
	}
	if (lookup_own_lease(op))
		return;
	op_started(op, node_stat(op->fs->node, op->path, lookup_done, op));
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

	op_holder(fs, op->req, &op->owner, HOLDER_LEASE, LOCK_MODE_EXCLUSIVE,
		  groups, &h);
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

void getattr_start(fuse_req_t req, struct inode *in, bool lenient,
		   struct handle *h)
{
	struct lockfs *fs = fs_of(req);
	double fresh = in->kind == INODE_NAMESPACE ? ns_fresh_s(in) : 0;
	const struct lock_holder *own;
	struct op *op;
	struct stat st;

	if (fresh > 0) { /* what Redis said a moment ago (ns_remember) */
		ns_attr_to_stat(&in->ns, in->ino, &st);
		fuse_reply_attr(req, &st, fresh);
		return;
	}
	op = op_of(req, in);
	if (op == NULL)
		return;
	op->u.getattr.lenient = lenient;
	if (h && h->type == HANDLE_LOCK)
		op->h = h; /* an fstat(2) */
	if (in->kind == INODE_LOCK) /* no owner: none of its leases is lost */
		request_owner_or_none(req, &op->owner);
	if (in->kind == INODE_LOCK && op->owner.id[0] &&
	    (own = own_fresh_lease(op)) != NULL) {
		own_lease_attr(op, own, in->ino, &st);
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

void getattr_root(struct lockfs *fs, fuse_req_t req)
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
