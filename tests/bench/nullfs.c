/*
 * nullfs.c - the floor for "a file operation through a FUSE mount": a flat
 * in-memory directory that creates, opens, writes (and discards), and
 * unlinks files and does nothing else.  Benchmarks run the same client
 * (cycle, contend) against it and against lockfs; the difference is what
 * lockfs itself costs.
 *
 *   nullfs [-o entry_timeout=SECS,attr_timeout=SECS] MOUNTPOINT
 *
 * Runs in the foreground, single-threaded (fuse_session_loop), until the
 * mount is unmounted or a SIGTERM/SIGINT/SIGHUP arrives.  Timeouts default
 * to 0, as in lockfs, so the kernel sends a LOOKUP before every open.  The
 * mount is set up like lockfs's (default_permissions, no writeback cache, no
 * readdirplus) so that the kernel does the same round trips for both.
 *
 * State: a table of slots, each a file of the root directory.  A slot lives
 * while its name is linked or the kernel still holds a lookup reference on
 * its inode (an unlinked file can still be fstat()ed through an open fd), and
 * is reused after the last forget.  Inode numbers are never reused, so the
 * generation is always 0.  The table belongs to main() and reaches the
 * operations as the session's userdata; there is one thread, so no locking.
 */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NULLFS_NAME_MAX 255
#define NULLFS_MAX_SLOTS 65536

struct nfile {
	fuse_ino_t ino;	  /* 0: the slot is free */
	uint64_t nlookup; /* kernel references: lookup/create minus forget */
	int linked;	  /* the name is in the directory */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	off_t size;
	struct timespec atime, mtime, ctime;
	char name[NULLFS_NAME_MAX + 1];
};

struct nullfs {
	struct nfile *files;
	size_t nslots;
	fuse_ino_t next_ino;
	double entry_timeout;
	double attr_timeout;
};

struct nullfs_opts {
	double entry_timeout;
	double attr_timeout;
};

static const struct fuse_opt nullfs_opt_spec[] = {
    {"entry_timeout=%lf", offsetof(struct nullfs_opts, entry_timeout), 0},
    {"attr_timeout=%lf", offsetof(struct nullfs_opts, attr_timeout), 0},
    FUSE_OPT_END,
};

static struct nullfs *nfs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct nfile *by_ino(struct nullfs *fs, fuse_ino_t ino)
{
	for (size_t i = 0; i < fs->nslots; i++)
		if (fs->files[i].ino == ino)
			return &fs->files[i];
	return NULL;
}

static struct nfile *by_name(struct nullfs *fs, const char *name)
{
	for (size_t i = 0; i < fs->nslots; i++)
		if (fs->files[i].ino != 0 && fs->files[i].linked &&
		    strcmp(fs->files[i].name, name) == 0)
			return &fs->files[i];
	return NULL;
}

/* A free slot, growing the table if there is none; NULL when full. */
static struct nfile *free_slot(struct nullfs *fs)
{
	struct nfile *grown;
	size_t old = fs->nslots, n;

	for (size_t i = 0; i < fs->nslots; i++)
		if (fs->files[i].ino == 0)
			return &fs->files[i];
	if (fs->nslots >= NULLFS_MAX_SLOTS)
		return NULL;
	n = old ? old * 2 : 16;
	grown = realloc(fs->files, n * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	memset(grown + old, 0, (n - old) * sizeof(*grown));
	fs->files = grown;
	fs->nslots = n;
	return &fs->files[old];
}

/* Frees @f once it is neither named nor referenced by the kernel. */
static void maybe_drop(struct nfile *f)
{
	if (!f->linked && f->nlookup == 0)
		memset(f, 0, sizeof(*f));
}

static void root_stat(struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = FUSE_ROOT_ID;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
}

static void file_stat(const struct nfile *f, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = f->ino;
	st->st_mode = f->mode;
	st->st_nlink = f->linked ? 1 : 0;
	st->st_uid = f->uid;
	st->st_gid = f->gid;
	st->st_size = f->size;
	st->st_atim = f->atime;
	st->st_mtim = f->mtime;
	st->st_ctim = f->ctime;
}

/* Fills @e for @f and counts the lookup reference the reply hands out. */
static void fill_entry(struct nullfs *fs, struct nfile *f,
		       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = f->ino;
	e->entry_timeout = fs->entry_timeout;
	e->attr_timeout = fs->attr_timeout;
	file_stat(f, &e->attr);
	f->nlookup++;
}

static void nullfs_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_EXPORT_SUPPORT |
			FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
}

static void nullfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct nullfs *fs = nfs_of(req);
	struct fuse_entry_param e;
	struct nfile *f;

	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	f = by_name(fs, name);
	if (f == NULL) {
		/* A negative entry, cached as long as a positive one. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->entry_timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	fill_entry(fs, f, &e);
	fuse_reply_entry(req, &e);
}

static void nullfs_forget_one(struct nullfs *fs, fuse_ino_t ino,
			      uint64_t nlookup)
{
	struct nfile *f = by_ino(fs, ino);

	if (f == NULL)
		return;
	f->nlookup = nlookup >= f->nlookup ? 0 : f->nlookup - nlookup;
	maybe_drop(f);
}

static void nullfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	nullfs_forget_one(nfs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void nullfs_forget_multi(fuse_req_t req, size_t count,
				struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		nullfs_forget_one(nfs_of(req), forgets[i].ino,
				  forgets[i].nlookup);
	fuse_reply_none(req);
}

static void nullfs_getattr(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct nullfs *fs = nfs_of(req);
	struct nfile *f;
	struct stat st;

	if (ino == FUSE_ROOT_ID) {
		root_stat(&st);
	} else {
		f = by_ino(fs, ino);
		if (f == NULL) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		file_stat(f, &st);
	}
	fuse_reply_attr(req, &st, fs->attr_timeout);
}

static struct timespec now_or(const struct timespec *given, int is_now)
{
	struct timespec ts;

	if (!is_now)
		return *given;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

static void nullfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			   int to_set, struct fuse_file_info *fi)
{
	struct nfile *f;

	if (ino == FUSE_ROOT_ID) {
		nullfs_getattr(req, ino, fi);
		return;
	}
	f = by_ino(nfs_of(req), ino);
	if (f == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		f->mode = S_IFREG | (attr->st_mode & 07777);
	if (to_set & FUSE_SET_ATTR_UID)
		f->uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		f->gid = attr->st_gid;
	if (to_set & FUSE_SET_ATTR_SIZE)
		f->size = attr->st_size;
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW))
		f->atime =
		    now_or(&attr->st_atim, to_set & FUSE_SET_ATTR_ATIME_NOW);
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))
		f->mtime =
		    now_or(&attr->st_mtim, to_set & FUSE_SET_ATTR_MTIME_NOW);
	f->ctime = now_or(NULL, 1);
	nullfs_getattr(req, ino, fi);
}

static void nullfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode, struct fuse_file_info *fi)
{
	struct nullfs *fs = nfs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;
	struct nfile *f;

	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (strlen(name) > NULLFS_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	f = by_name(fs, name);
	if (f != NULL && (fi->flags & O_EXCL)) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	if (f == NULL) {
		f = free_slot(fs);
		if (f == NULL) {
			fuse_reply_err(req, ENOSPC);
			return;
		}
		f->ino = ++fs->next_ino;
		f->linked = 1;
		f->mode = S_IFREG | (mode & 07777);
		f->uid = ctx->uid;
		f->gid = ctx->gid;
		f->atime = f->mtime = f->ctime = now_or(NULL, 1);
		memcpy(f->name, name, strlen(name) + 1);
	}
	fill_entry(fs, f, &e);
	if (fuse_reply_create(req, &e, fi) != 0)
		f->nlookup--; /* the kernel never got the reference */
}

static void nullfs_open(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	if (ino == FUSE_ROOT_ID) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (by_ino(nfs_of(req), ino) == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fuse_reply_open(req, fi);
}

static void nullfs_ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void nullfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	fuse_reply_buf(req, NULL, 0);
}

static void nullfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			 size_t size, off_t off, struct fuse_file_info *fi)
{
	fuse_reply_write(req, size);
}

static void nullfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct nfile *f;

	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	f = by_name(nfs_of(req), name);
	if (f == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	f->linked = 0;
	maybe_drop(f);
	fuse_reply_err(req, 0);
}

/*
 * Offsets: 1 after ".", 2 after "..", slot i + 3 after slot i.  A slot
 * freed or reused between two readdir calls is skipped or listed once,
 * which is all POSIX asks of a directory changing under a reader.
 */
static void nullfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	struct nullfs *fs = nfs_of(req);
	struct stat st;
	size_t used = 0, len;
	char *buf;

	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	buf = malloc(size);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (off_t o = off; o < (off_t)fs->nslots + 2; o++) {
		const char *name = o == 0 ? "." : o == 1 ? ".." : NULL;

		memset(&st, 0, sizeof(st));
		st.st_ino = FUSE_ROOT_ID;
		st.st_mode = S_IFDIR;
		if (name == NULL) {
			struct nfile *f = &fs->files[o - 2];

			if (f->ino == 0 || !f->linked)
				continue;
			name = f->name;
			st.st_ino = f->ino;
			st.st_mode = f->mode;
		}
		len = fuse_add_direntry(req, buf + used, size - used, name, &st,
					o + 1);
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static const struct fuse_lowlevel_ops nullfs_ops = {
    .init = nullfs_init,
    .lookup = nullfs_lookup,
    .forget = nullfs_forget,
    .forget_multi = nullfs_forget_multi,
    .getattr = nullfs_getattr,
    .setattr = nullfs_setattr,
    .create = nullfs_create,
    .open = nullfs_open,
    .read = nullfs_read,
    .write = nullfs_write,
    .flush = nullfs_ok,
    .release = nullfs_ok,
    .unlink = nullfs_unlink,
    .readdir = nullfs_readdir,
};

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-o entry_timeout=SECS,attr_timeout=SECS] "
		"MOUNTPOINT\n",
		prog);
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = {0};
	struct nullfs_opts opts = {0, 0};
	struct nullfs fs = {0};
	struct fuse_session *se = NULL;
	int ret = 1;

	if (fuse_opt_parse(&args, &opts, nullfs_opt_spec, NULL) != 0 ||
	    fuse_parse_cmdline(&args, &cmd) != 0) {
		usage(argv[0]);
		goto out;
	}
	if (cmd.show_help || cmd.mountpoint == NULL) {
		usage(argv[0]);
		ret = cmd.show_help ? 0 : 1;
		goto out;
	}
	fs.entry_timeout = opts.entry_timeout;
	fs.attr_timeout = opts.attr_timeout;
	fs.next_ino = FUSE_ROOT_ID;
	if (fuse_opt_add_arg(&args, "-odefault_permissions") != 0 ||
	    fuse_opt_add_arg(&args, "-ofsname=nullfs") != 0)
		goto out;
	se = fuse_session_new(&args, &nullfs_ops, sizeof(nullfs_ops), &fs);
	if (se == NULL)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, cmd.mountpoint) != 0)
		goto out_signals;
	ret = fuse_session_loop(se) < 0 ? 1 : 0;
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out:
	free(fs.files);
	free(cmd.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
