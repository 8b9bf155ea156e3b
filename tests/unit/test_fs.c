/*
 * test_fs.c - fs/'s two mappings, from a FUSE operation to the node call it
 * makes and from that call's answer to the request's one reply, with fs/
 * linked as it is and fakes of libfuse and the node service in this file.
 * struct fuse_req, struct node and struct waiter are opaque to fs/, so the
 * test defines them: a request records its replies, a node records each
 * call and its callback, for the test to answer with the errno or result
 * it chooses.  Nothing is global: each test has its own struct lockfs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include <cmocka.h>

#include "lockfs.h"
#include "request.h"

/* ---- the fake request: its caller, and the replies it got ----------- */

struct fuse_req {
	struct lockfs *fs;
	struct fuse_ctx ctx;
	int reply_rc;      /* what a reply returns: -ENOENT, the caller gone */
	int replies;       /* how many were sent: must end as 1 */
	const char *reply; /* the last one: "fuse_reply_open", ... */
	int err;           /* fuse_reply_err()'s errno */
	size_t count;      /* fuse_reply_write()'s count */
	uint64_t fh;       /* the descriptor an open or create answered */
	fuse_interrupt_func_t interrupt; /* fuse_req_interrupt_func()'s */
	void *interrupt_data;
};

static int record_reply(fuse_req_t req, const char *reply)
{
	req->replies++;
	req->reply = reply;
	req->interrupt = NULL; /* libfuse forgets it with the request */
	req->interrupt_data = NULL;
	return req->reply_rc;
}

/* libfuse's replies, each recorded on its request */
int fuse_reply_err(fuse_req_t req, int err)
{
	req->err = err;
	return record_reply(req, __func__);
}
void fuse_reply_none(fuse_req_t req)
{
	record_reply(req, __func__);
}
int fuse_reply_entry(fuse_req_t req, const struct fuse_entry_param *e)
{
	return record_reply(req, __func__);
}
int fuse_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
		      const struct fuse_file_info *fi)
{
	req->fh = fi->fh;
	return record_reply(req, __func__);
}
int fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi)
{
	req->fh = fi->fh;
	return record_reply(req, __func__);
}
int fuse_reply_attr(fuse_req_t req, const struct stat *attr, double timeout)
{
	return record_reply(req, __func__);
}
int fuse_reply_write(fuse_req_t req, size_t count)
{
	req->count = count;
	return record_reply(req, __func__);
}
int fuse_reply_buf(fuse_req_t req, const char *buf, size_t size)
{
	return record_reply(req, __func__);
}
int fuse_reply_xattr(fuse_req_t req, size_t count)
{
	return record_reply(req, __func__);
}
int fuse_reply_statfs(fuse_req_t req, const struct statvfs *stbuf)
{
	return record_reply(req, __func__);
}
int fuse_reply_lock(fuse_req_t req, const struct flock *lock)
{
	return record_reply(req, __func__);
}
int fuse_reply_poll(fuse_req_t req, unsigned revents)
{
	return record_reply(req, __func__);
}

/* A directory entry takes no room: a listing's reply is not under test. */
size_t fuse_add_direntry(fuse_req_t req, char *buf, size_t bufsize,
			 const char *name, const struct stat *stbuf, off_t off)
{
	return 0;
}

/* the rest of libfuse that fs/ calls: a request's caller, its interrupt */
int fuse_lowlevel_notify_poll(struct fuse_pollhandle *ph)
{
	return 0;
}
void fuse_pollhandle_destroy(struct fuse_pollhandle *ph)
{
}
void *fuse_req_userdata(fuse_req_t req)
{
	return req->fs;
}
const struct fuse_ctx *fuse_req_ctx(fuse_req_t req)
{
	return &req->ctx;
}
int fuse_req_getgroups(fuse_req_t req, int size, gid_t list[])
{
	return 0;
}
void fuse_req_interrupt_func(fuse_req_t req, fuse_interrupt_func_t func,
			     void *data)
{
	req->interrupt = func;
	req->interrupt_data = data;
}
int fuse_req_interrupted(fuse_req_t req)
{
	return 0;
}

/* ---- the fake node service: each call, with its callback ------------ */

struct waiter {
	int cancels, err; /* what node_cancel() was told */
};

struct call {
	const char *fn; /* "node_acquire", ... */
	char path[128];
	char holder_id[OWNER_ID_MAX], absorb_id[OWNER_ID_MAX];
	uid_t uid;
	long limit;
	enum holder_kind holder_kind;
	enum lock_mode mode;
	bool excl, block;
	size_t count;          /* a lock set's size */
	lock_done_cb *lock_cb; /* an acquire's callback */
	store_cb *cb;          /* the other calls' */
	void *arg;
	struct waiter waiter;
	bool answered;
};

#define CALLS_MAX 16

/* What node_grant_delivered() was told, the last time, and how often. */
struct grant_seen {
	int delivered, undelivered;
	char holder_id[OWNER_ID_MAX], absorbed_id[OWNER_ID_MAX];
	char path[128];
	size_t count;
};

struct node {
	struct call calls[CALLS_MAX];
	int ncalls;
	struct grant_seen grant;
	int file_hold; /* node_file_hold(): 1 held, 0 none, -ESTALE lost */
};

/* Record call `fn` of `path` by holder `id` (or NULL) and uid `uid`. */
static struct call *record(struct node *n, const char *fn, const char *path,
			   const char *id, uid_t uid, store_cb *cb, void *arg)
{
	struct call *c;

	assert_true(n->ncalls < CALLS_MAX);
	c = &n->calls[n->ncalls++];
	memset(c, 0, sizeof(*c));
	c->fn = fn;
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(c->holder_id, sizeof(c->holder_id), "%s", id ? id : "");
	c->uid = uid;
	c->cb = cb;
	c->arg = arg;
	return c;
}

/* The same, for a store call: it starts. */
static int record_call(struct node *n, const char *fn, const char *path,
		       const char *id, uid_t uid, store_cb *cb, void *arg)
{
	record(n, fn, path, id, uid, cb, arg);
	return 0;
}

/* An acquire of one lock or a set, as holder `h`, kept for an answer. */
static int record_acquire(struct node *n, const char *fn, const char *path,
			  size_t count, const struct store_holder *h,
			  bool excl, bool block, lock_done_cb *cb, void *arg,
			  struct waiter **out)
{
	struct call *c = record(n, fn, path, h->id, h->uid, NULL, arg);

	snprintf(c->absorb_id, sizeof(c->absorb_id), "%s",
		 h->absorb_id ? h->absorb_id : "");
	c->holder_kind = h->kind;
	c->mode = h->mode;
	c->count = count;
	c->excl = excl;
	c->block = block;
	c->lock_cb = cb;
	*out = &c->waiter;
	return 0;
}

/* the node's calls: recorded, for the test to answer */
int node_acquire(struct node *n, const char *path,
		 const struct store_holder *h, bool excl, bool block,
		 int64_t timeout_ms, lock_done_cb *cb, void *arg,
		 struct waiter **out)
{
	return record_acquire(n, __func__, path, 1, h, excl, block, cb, arg,
			      out);
}
int node_acquire_set(struct node *n, char *const *paths,
		     const enum lock_mode *modes, size_t count,
		     const struct store_holder *h, bool block,
		     int64_t timeout_ms, lock_done_cb *cb, void *arg,
		     struct waiter **out)
{
	return record_acquire(n, __func__, paths[0], count, h, false, block,
			      cb, arg, out);
}
void node_cancel(struct waiter *w, int err)
{
	w->cancels++;
	w->err = err;
}
int node_stat(struct node *n, const char *path, store_cb *cb, void *arg)
{
	return record_call(n, __func__, path, NULL, 0, cb, arg);
}
int node_acquire_probe(struct node *n, const char *path,
		       const struct store_holder *h, store_cb *cb, void *arg)
{
	return record_call(n, __func__, path, h->id, 0, cb, arg);
}
int node_list(struct node *n, const char *ns, bool flock_view, store_cb *cb,
	      void *arg)
{
	return record_call(n, __func__, ns, NULL, 0, cb, arg);
}
int node_file(struct node *n, const char *path, const struct file_change *fc,
	      store_cb *cb, void *arg)
{
	return record_call(n, __func__, path, NULL, 0, cb, arg);
}
int node_mkdir(struct node *n, const char *path, mode_t mode, uid_t uid,
	       gid_t gid, store_cb *cb, void *arg)
{
	return record_call(n, __func__, path, NULL, uid, cb, arg);
}
int node_rmdir(struct node *n, const char *path, store_cb *cb, void *arg)
{
	return record_call(n, __func__, path, NULL, 0, cb, arg);
}
int node_set_limit(struct node *n, const char *path, long limit,
		   uid_t caller_uid, store_cb *cb, void *arg)
{
	record(n, __func__, path, NULL, caller_uid, cb, arg)->limit = limit;
	return 0;
}
int node_setattr(struct node *n, const char *path, long mode, long uid,
		 long gid, store_cb *cb, void *arg)
{
	return record_call(n, __func__, path, NULL, 0, cb, arg);
}
int node_renew(struct node *n, const char *path, const char *holder_id,
	       int64_t token, const struct command *cmd, store_cb *cb,
	       void *arg)
{
	return record_call(n, __func__, path, holder_id, 0, cb, arg);
}
int node_release(struct node *n, const char *path, const char *holder_id,
		 int64_t token, bool force, store_cb *cb, void *arg)
{
	return record_call(n, __func__, path, holder_id, 0, cb, arg);
}
int node_unlink_hold(struct node *n, const char *path, const char *owner_id,
		     uid_t uid, store_cb *cb, void *arg)
{
	return record_call(n, __func__, path, owner_id, uid, cb, arg);
}
int node_unlock(struct node *n, const char *path, const char *holder_id,
		store_cb *cb, void *arg)
{
	return record_call(n, __func__, path, holder_id, 0, cb, arg);
}

/* what the node was told and what it says of holds, on the test's word */
void node_grant_delivered(struct node *n, const struct node_grant *g,
			  bool delivered)
{
	struct grant_seen *s = &n->grant;

	if (delivered)
		s->delivered++;
	else
		s->undelivered++;
	snprintf(s->holder_id, sizeof(s->holder_id), "%s", g->holder_id);
	snprintf(s->path, sizeof(s->path), "%s", g->path ? g->path : "");
	snprintf(s->absorbed_id, sizeof(s->absorbed_id), "%s",
		 g->absorbed_id ? g->absorbed_id : "");
	s->count = g->count;
}
/* a renewal's answer is its errno: there is no lease table to keep */
int node_renewed(struct node *n, const char *path, const char *holder_id,
		 const struct store_result *res, bool by_handle)
{
	return res->err < 0 ? res->err : 0;
}
/* what a write renews: the lease its descriptor took, if it holds one */
int node_file_hold(struct node *n, const char *path,
		   const struct node_file *f, char *id, size_t size,
		   int64_t *token)
{
	if (n->file_hold > 0) {
		snprintf(id, size, "%s", f->lease_id ? f->lease_id : "");
		*token = f->lease_token;
	}
	return n->file_hold;
}
void node_handle_id(const struct node *n, const struct node_lock_ref *ref,
		    char *buf, size_t size)
{
	snprintf(buf, size, "handle:%llu:%c",
		 (unsigned long long)ref->lock_owner, ref->posix ? 'p' : 'f');
}

/* its lease table is empty: nothing held, fresh or lost; all taken anew */
enum node_lock_plan node_handle_plan(struct node *n, const char *path,
				     const char *id, enum lock_mode mode)
{
	return NODE_LOCK_TAKE;
}
bool node_holds(struct node *n, const char *path, const char *id)
{
	return false;
}
bool node_held_here(struct node *n, const char *path, const char *id)
{
	return false;
}
bool node_hold_stale(struct node *n, const char *path, const char *id,
		     int64_t token)
{
	return false;
}
const struct lock_holder *node_lease_fresh(struct node *n, const char *path,
					   const char *id, int64_t max_age_ms)
{
	return NULL;
}
const struct lock_holder *node_lease_handle_of(struct node *n,
					       const char *path, uid_t uid,
					       pid_t session)
{
	return NULL;
}
void node_lease_onlost(struct node *n, const char *path, const char *id,
		       int sig)
{
}
bool node_lost_shows(struct node *n, const char *path, const char *owner_id)
{
	return false;
}
bool node_lost(struct node *n, const char *path, const char *owner_id)
{
	return false;
}
void node_lost_told(struct node *n, const char *path, const char *owner_id)
{
}

/* ---- the control directory and request handles: not under test ----- */

int control_lookup(struct lockfs *fs, const char *name, struct inode **out)
{
	return -ENOENT;
}
void control_attr(struct lockfs *fs, const struct inode *in, struct stat *st)
{
	memset(st, 0, sizeof(*st));
}
int control_open(struct lockfs *fs, struct inode *in,
		 struct fuse_file_info *fi)
{
	return -ENOSYS;
}
void control_release(struct lockfs *fs, struct inode *in,
		     struct fuse_file_info *fi)
{
}
void control_read(struct lockfs *fs, fuse_req_t req, struct inode *in,
		  size_t size, off_t off, struct fuse_file_info *fi)
{
	fuse_reply_err(req, ENOSYS);
}
void control_readdir(struct lockfs *fs, fuse_req_t req, size_t size,
		     off_t off)
{
	fuse_reply_err(req, ENOSYS);
}
void control_poll(struct lockfs *fs, fuse_req_t req, struct handle *h,
		  struct fuse_pollhandle *ph)
{
	fuse_reply_err(req, ENOSYS);
}
void request_write(struct request *r, fuse_req_t req, const char *buf,
		   size_t size, const struct store_holder *h)
{
	fuse_reply_err(req, ENOSYS);
}

/* ---- the fixture: a daemon with lock file "orders", and its callers - */

struct fixture {
	struct lockfs fs;
	struct options opt;
	struct node node;
	struct inode *lock; /* "orders", looked up by the kernel */
};

#define OWNER_ID "n1:1000:s0" /* the callers' owner: uid 1000, no session */

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->opt.node = "n1";
	f->fs.opt = &f->opt;
	f->fs.node = &f->node;
	f->fs.procfs = "/proc";
	LIST_INIT(&f->fs.control_handles);
	if (inodes_new(&f->fs.inodes) < 0 || lockfs_inodes_init(&f->fs) < 0 ||
	    !(f->lock = inodes_intern(f->fs.inodes, "orders", INODE_LOCK))) {
		inodes_free(f->fs.inodes);
		free(f);
		return -1;
	}
	inodes_ref(f->lock);
	*state = f;
	return 0;
}

/* Every call the node took was answered: no request is left parked. */
static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < f->node.ncalls; i++)
		assert_true(f->node.calls[i].answered);
	inodes_free(f->fs.inodes);
	free(f);
	return 0;
}

static struct fuse_req new_request(struct fixture *f)
{
	return (struct fuse_req){.fs = &f->fs,
				 .ctx = {.uid = 1000, .gid = 1000}};
}

/* `req` got exactly one reply, `reply` (with `err` if fuse_reply_err). */
static void assert_reply(const struct fuse_req *req, const char *reply,
			 int err)
{
	assert_int_equal(req->replies, 1);
	assert_string_equal(req->reply, reply);
	if (strcmp(reply, "fuse_reply_err") == 0)
		assert_int_equal(req->err, err);
}

/* The node call made last, which must be `fn`. */
static struct call *last_call(struct fixture *f, const char *fn)
{
	assert_true(f->node.ncalls > 0);
	assert_string_equal(f->node.calls[f->node.ncalls - 1].fn, fn);
	return &f->node.calls[f->node.ncalls - 1];
}

/* Answer acquire `c`: granted (err 0) to the holder it named, or err. */
static void answer_lock(struct call *c, int err)
{
	struct lock_holder holder = {.id = c->holder_id, .node = "n1",
				     .uid = 1000, .kind = c->holder_kind,
				     .mode = c->mode, .token = 7};
	struct store_result res = {.extra = "new", .kind = STORE_LOCK,
				   .lock = {.mode = c->mode, .token = 7,
					    .nholders = 1, .holders = &holder}};

	assert_false(c->answered);
	c->answered = true;
	c->lock_cb(c->arg, err, err == 0 ? &res : NULL);
}

/* Answer store call `c` with `err` and nothing else. */
static void answer_store(struct call *c, int err)
{
	struct store_result res = {.err = err};

	assert_false(c->answered);
	c->answered = true;
	c->cb(c->arg, &res);
}

/* ---- lock files in the lease view: open, interrupt, create ---------- */

/* A write open of "orders" with `flags`, parked in the node. */
static struct call *open_for_write(struct fixture *f, struct fuse_req *req,
				   int flags)
{
	struct fuse_file_info fi = {.flags = O_WRONLY | flags};

	lockfs_ops.open(req, f->lock->ino, &fi);
	assert_int_equal(req->replies, 0);
	return last_call(f, "node_acquire");
}

static void test_write_open(void **state)
{
	struct fixture *f = *state;
	struct fuse_req req = new_request(f), gone = new_request(f),
			busy = new_request(f), close = new_request(f);
	struct call *c = open_for_write(f, &req, 0);
	struct fuse_file_info fi = {0};

	assert_string_equal(c->path, "orders");
	assert_string_equal(c->holder_id, OWNER_ID);
	assert_int_equal(c->holder_kind, HOLDER_LEASE);
	assert_true(c->mode == LOCK_MODE_EXCLUSIVE && c->block);
	assert_non_null(req.interrupt); /* a signal may withdraw the wait */
	answer_lock(c, 0);
	assert_reply(&req, "fuse_reply_open", 0);
	assert_int_equal(f->node.grant.delivered, 1);
	assert_string_equal(f->node.grant.path, "orders");
	fi.fh = req.fh;
	lockfs_ops.release(&close, f->lock->ino, &fi);
	assert_reply(&close, "fuse_reply_err", 0);
	assert_int_equal(f->lock->opens, 0);

	/* the requester is gone when its grant comes: not delivered */
	gone.reply_rc = -ENOENT;
	answer_lock(open_for_write(f, &gone, 0), 0);
	assert_reply(&gone, "fuse_reply_open", 0);
	assert_int_equal(f->node.grant.delivered, 1);
	assert_int_equal(f->node.grant.undelivered, 1);
	assert_int_equal(f->lock->opens, 0); /* its descriptor closed again */

	c = open_for_write(f, &busy, O_NONBLOCK);
	assert_true(!c->block && busy.interrupt == NULL);
	answer_lock(c, -EAGAIN);
	assert_reply(&busy, "fuse_reply_err", EAGAIN);
	assert_int_equal(f->node.grant.undelivered, 1); /* no new grant */
}

/* A signal withdraws the wait; the node then answers it with EINTR. */
static void test_interrupt(void **state)
{
	struct fixture *f = *state;
	struct fuse_req req = new_request(f);
	struct call *c = open_for_write(f, &req, 0);

	req.interrupt(&req, req.interrupt_data);
	assert_int_equal(c->waiter.cancels, 1);
	assert_int_equal(c->waiter.err, -EINTR);
	assert_int_equal(req.replies, 0); /* the node answers it */
	answer_lock(c, -EINTR);
	assert_reply(&req, "fuse_reply_err", EINTR);
}

/*
 * A busy create without O_EXCL does not wait inside CREATE: it answers
 * ESTALE, the name pinned for the kernel's retry as an open.
 */
static void test_busy_create(void **state)
{
	struct fixture *f = *state;
	struct fuse_req req = new_request(f);
	struct fuse_file_info fi = {.flags = O_WRONLY | O_CREAT};
	struct call *c;

	lockfs_ops.create(&req, INO_ROOT, "jobs", 0644, &fi);
	c = last_call(f, "node_acquire");
	assert_false(c->block);
	answer_lock(c, -EAGAIN);
	assert_reply(&req, "fuse_reply_err", ESTALE);
	assert_ptr_equal(f->fs.retry_pins, inodes_find(f->fs.inodes, "jobs"));
	assert_int_equal(f->node.ncalls, 1); /* the open will ask again */
}

/* ---- unlink, flock(2), a write to a lock file ---------------------- */

static void test_unlink(void **state)
{
	static const struct {
		int answer;
		bool placeholder; /* one is open here, read-only */
		int want;
	} rows[] = {
		{0, false, 0}, {-ESTALE, false, ESTALE},
		{-ENOENT, false, ENOENT}, {-ENOENT, true, 0},
	};
	struct fixture *f = *state;

	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fuse_req req = new_request(f);
		struct call *c;

		req.ctx.uid = 1000 + i;
		f->lock->placeholders = rows[i].placeholder;
		lockfs_ops.unlink(&req, INO_ROOT, "orders");
		c = last_call(f, "node_unlink_hold");
		assert_string_equal(c->path, "orders");
		assert_int_equal(c->uid, 1000 + i);
		answer_store(c, rows[i].answer);
		assert_reply(&req, "fuse_reply_err", rows[i].want);
	}
	assert_string_equal(f->node.calls[3].holder_id, "n1:1003:s0");
	assert_int_equal(f->lock->placeholders, 0);
}

static void test_flock(void **state)
{
	struct fixture *f = *state;
	struct fuse_req lock = new_request(f), unlock = new_request(f),
			busy = new_request(f);
	struct fuse_file_info fi = {.lock_owner = 42};
	struct call *c;

	lockfs_ops.flock(&lock, f->lock->ino, &fi, LOCK_EX);
	c = last_call(f, "node_acquire");
	assert_int_equal(c->holder_kind, HOLDER_HANDLE);
	assert_true(c->mode == LOCK_MODE_EXCLUSIVE && c->block);
	assert_string_equal(c->holder_id, "handle:42:f");
	assert_string_equal(c->absorb_id, OWNER_ID); /* its lease converts */
	answer_lock(c, 0);
	assert_reply(&lock, "fuse_reply_err", 0);
	assert_int_equal(f->node.grant.delivered, 1);
	assert_string_equal(f->node.grant.absorbed_id, OWNER_ID);

	lockfs_ops.flock(&unlock, f->lock->ino, &fi, LOCK_UN);
	c = last_call(f, "node_unlock");
	assert_string_equal(c->holder_id, "handle:42:f");
	answer_store(c, 0);
	assert_reply(&unlock, "fuse_reply_err", 0);

	lockfs_ops.flock(&busy, f->lock->ino, &fi, LOCK_EX | LOCK_NB);
	c = last_call(f, "node_acquire");
	assert_false(c->block);
	answer_lock(c, -EAGAIN);
	assert_reply(&busy, "fuse_reply_err", EWOULDBLOCK);
}

/* Write `text` through a descriptor that took lease OWNER_ID. */
static void write_lock_file(struct fixture *f, struct fuse_req *req,
			    const char *text)
{
	struct handle h = {.type = HANDLE_LOCK, .in = f->lock, .writer = true,
			   .token = 7, .owner = {.id = OWNER_ID}};
	struct fuse_file_info fi = {.fh = (uintptr_t)&h, .flags = O_WRONLY};

	lockfs_ops.write(req, f->lock->ino, text, strlen(text), 0, &fi);
}

static void test_write_lock_file(void **state)
{
	struct fixture *f = *state;
	struct fuse_req lost = new_request(f), none = new_request(f),
			bad = new_request(f), good = new_request(f);

	f->node.file_hold = -ESTALE;
	write_lock_file(f, &lost, "ttl=30s\n");
	assert_reply(&lost, "fuse_reply_err", ESTALE);
	f->node.file_hold = 0;
	write_lock_file(f, &none, "ttl=30s\n");
	assert_reply(&none, "fuse_reply_err", EBADF);
	f->node.file_hold = 1;
	write_lock_file(f, &bad, "ttl=banana\n");
	assert_reply(&bad, "fuse_reply_err", EINVAL);
	assert_int_equal(f->node.ncalls, 0); /* none of them renewed */

	write_lock_file(f, &good, "ttl=30s\n");
	answer_store(last_call(f, "node_renew"), 0);
	assert_string_equal(f->node.calls[0].holder_id, OWNER_ID);
	assert_reply(&good, "fuse_reply_write", 0);
}

/* ---- refused operations, attributes, lock sets --------------------- */

static void test_refused(void **state)
{
	struct fixture *f = *state;
	struct fuse_req req[5];

	for (int i = 0; i < 5; i++)
		req[i] = new_request(f);
	lockfs_ops.rename(&req[0], INO_ROOT, "orders", INO_ROOT, "jobs", 0);
	lockfs_ops.link(&req[1], f->lock->ino, INO_ROOT, "jobs");
	lockfs_ops.symlink(&req[2], "orders", INO_ROOT, "jobs");
	lockfs_ops.mknod(&req[3], INO_ROOT, "jobs", S_IFREG | 0644, 0);
	for (int i = 0; i < 4; i++)
		assert_reply(&req[i], "fuse_reply_err", EPERM);
	lockfs_ops.mkdir(&req[4], INO_ROOT, ".lock", 0755);
	assert_reply(&req[4], "fuse_reply_err", EINVAL);
	assert_int_equal(f->node.ncalls, 0);
}

static void test_setxattr(void **state)
{
	static const struct {
		const char *name, *value;
		int want;
	} rows[] = {
		{"user.colour", "blue", EPERM},
		{"security.selinux", "x", EOPNOTSUPP},
		{"user.lockfs.limit", "three", EINVAL},
		{"user.lockfs.limit", "9999999", EINVAL},
		{"user.lockfs.limit", "3", 0},
	};
	struct fixture *f = *state;

	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fuse_req req = new_request(f);

		lockfs_ops.setxattr(&req, INO_ROOT, rows[i].name,
				    rows[i].value, strlen(rows[i].value), 0);
		if (rows[i].want == 0) /* a limit the node is asked to set */
			answer_store(last_call(f, "node_set_limit"), 0);
		assert_reply(&req, "fuse_reply_err", rows[i].want);
	}
	assert_int_equal(f->node.ncalls, 1);
	assert_int_equal(f->node.calls[0].limit, 3);
}

static void test_lockset_write(void **state)
{
	static const char line[] = "db/a db/b shared:cfg/.lock\n";
	struct fixture *f = *state;
	struct fuse_req req = new_request(f);
	struct handle h = {.type = HANDLE_CONTROL,
			   .in = inodes_get(f->fs.inodes, INO_CONTROL_ACQUIRE)};
	struct fuse_file_info fi = {.fh = (uintptr_t)&h, .flags = O_WRONLY};
	struct call *c;

	lockfs_ops.write(&req, INO_CONTROL_ACQUIRE, line, strlen(line), 0, &fi);
	c = last_call(f, "node_acquire_set");
	assert_int_equal(c->count, 3);
	assert_string_equal(c->holder_id, OWNER_ID);
	assert_true(c->block && req.replies == 0);
	answer_lock(c, 0);
	assert_reply(&req, "fuse_reply_write", 0);
	assert_int_equal(req.count, strlen(line));
	assert_int_equal(f->node.grant.delivered, 1);
	assert_int_equal(f->node.grant.count, 3);
}

#define FS_TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FS_TEST(test_write_open),    FS_TEST(test_interrupt),
		FS_TEST(test_busy_create),   FS_TEST(test_unlink),
		FS_TEST(test_flock),         FS_TEST(test_write_lock_file),
		FS_TEST(test_refused),       FS_TEST(test_setxattr),
		FS_TEST(test_lockset_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
