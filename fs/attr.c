/*
 * attr.c - attributes and entries (attr.h), from what Redis said: no
 * store calls here.
 *
 * The kernel checks permissions itself (default_permissions) from the
 * modes reported here: lock files show 0666 and their holder's uid/gid in
 * the lease view, the file's own mode and owner in the flock view;
 * namespaces their stored mode.
 */
#include "attr.h"
#include "clock.h"
#include "info.h"

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
 * A lock file that exists as on a disk (flockfile.c) shows in the flock
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
	    node_held_here(op->fs->node, op->path, op->owner.id)) {
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

bool lock_shown(const struct lockfs *fs, const struct lock_state *ls)
{
	if (!fs->opt->open_flock || ls->file.exists)
		return true;
	/* a lease (a lease view's lock file) shows in both views; a lock
	 * held only as handle locks, only while a file of its name exists */
	for (size_t i = 0; i < ls->nholders; i++)
		if (ls->holders[i].kind == HOLDER_LEASE)
			return true;
	return false;
}

/*
 * The inode number a flock-view file shows: its own id, so that a new file
 * of the name is another file (lock libraries compare them to learn that
 * their lock file was replaced), above the numbers of the inode table.
 */
#define FILE_INO_BASE (1ULL << 62)

void file_attr(const struct lock_file *f, uint64_t ino, struct stat *st)
{
	(void)ino;
	memset(st, 0, sizeof(*st));
	st->st_ino = FILE_INO_BASE | (uint64_t)f->id;
	st->st_mode = S_IFREG | (f->mode & 07777);
	st->st_nlink = 1;
	st->st_uid = f->uid;
	st->st_gid = f->gid;
	st->st_size = f->len;
	st->st_blksize = 4096;
	st->st_blocks = (f->len + 511) / 512;
	st->st_ctim = ms_to_ts(f->ctime_ms);
	st->st_mtim = ms_to_ts(f->mtime_ms);
	st->st_atim = st->st_mtim;
}

bool file_gone(const struct inode *in, const struct handle *h,
	       const struct lock_state *ls)
{
	int64_t id = h ? h->file_id : in->file_id;

	return id != 0 && !(ls->file.exists && ls->file.id == id);
}

void file_gone_attr(fuse_req_t req, const struct inode *in,
		    const struct handle *h, struct stat *st)
{
	placeholder_attr(req, 0, st);
	st->st_ino = FILE_INO_BASE | (uint64_t)(h ? h->file_id : in->file_id);
	st->st_nlink = 0; /* unlinked, as fstat(2) shows it on a disk */
}

/* Remember which file `in` names now (a new file of the name is another). */
void file_seen(struct inode *in, const struct lock_state *ls)
{
	if (in && ls->file.exists)
		in->file_id = ls->file.id;
}

/* What a read of a flock-view file returns: its content, as every node
 * reads it (nothing when the file it opened was unlinked). */
static int file_text(const struct handle *h, const struct lock_state *ls,
		     char **text, size_t *len)
{
	const struct lock_file *f = &ls->file;
	bool mine = f->exists && (h->file_id == 0 || h->file_id == f->id);

	*len = mine ? f->len : 0;
	*text = malloc(*len + 1);
	if (*text == NULL)
		return -ENOMEM;
	if (*len)
		memcpy(*text, f->data, *len);
	(*text)[*len] = '\0';
	return 0;
}

int lock_text(const struct lockfs *fs, const struct handle *h,
	      const struct lock_state *ls, char **text, size_t *len)
{
	if (fs->opt->open_flock) /* the file's content */
		return file_text(h, ls, text, len);
	return info_format(ls, text, len);
}

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
