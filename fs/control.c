/*
 * control.c - the control directory /.lockfs (SPEC section 8).
 *
 * Its files are local to this node and answer without Redis: `status` is
 * this node's view, rendered once per open so that one read sees one
 * consistent snapshot.  Lock sets (`acquire`) and the event stream
 * (`events`) are added by issues 5 and 3.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lease.h"
#include "lockfs.h"
#include "lockfs_config.h"
#include "notify.h"
#include "store.h"
#include "waitq.h"

static const struct {
	const char *name;
	int id;
	uint64_t ino;
	mode_t mode;
} control_files[] = {
	{"status", CONTROL_STATUS, INO_CONTROL_STATUS, 0444},
};

#define NFILES (sizeof(control_files) / sizeof(control_files[0]))

int control_lookup(struct lockfs *fs, const char *name, struct inode **out)
{
	for (size_t i = 0; i < NFILES; i++) {
		if (strcmp(name, control_files[i].name) == 0) {
			*out = inodes_get(fs->inodes, control_files[i].ino);
			return *out ? 0 : -ENOENT;
		}
	}
	return -ENOENT;
}

void control_attr(struct lockfs *fs, const struct inode *in, struct stat *st)
{
	struct timespec start = {fs->started_ms / 1000,
				 (fs->started_ms % 1000) * 1000000};

	memset(st, 0, sizeof(*st));
	st->st_ino = in->ino;
	st->st_ctim = st->st_mtim = st->st_atim = start;
	if (in->kind == INODE_CONTROL_DIR) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return;
	}
	st->st_nlink = 1;
	for (size_t i = 0; i < NFILES; i++)
		if (control_files[i].ino == in->ino)
			st->st_mode = S_IFREG | control_files[i].mode;
}

static int render_status(struct lockfs *fs, char **text, size_t *len)
{
	struct timespec now;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &now);
	fprintf(f,
		"version=%s\n"
		"node=%s\n"
		"prefix=%s\n"
		"redis=%s\n"
		"amqp=%s\n"
		"locks_held=%zu\n"
		"waits_pending=%zu\n"
		"grants=%llu\n"
		"releases=%llu\n"
		"uptime=%lld\n",
		LOCKFS_VERSION, fs->opt->node, fs->opt->prefix,
		store_connected(fs->st) ? "connected" : "disconnected",
		fs->nt == NULL		      ? "none"
		: notifier_connected(fs->nt) ? "connected"
					      : "disconnected",
		leases_count(fs->leases), waitq_count(fs->wq),
		(unsigned long long)fs->grants,
		(unsigned long long)fs->releases,
		(long long)((now.tv_sec * 1000LL + now.tv_nsec / 1000000) -
			    fs->started_ms) /
			1000);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*text = buf;
	*len = size;
	return 0;
}

int control_open(struct lockfs *fs, struct inode *in,
		 struct fuse_file_info *fi)
{
	struct handle *h;
	int err;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->type = HANDLE_CONTROL;
	h->in = in;
	err = render_status(fs, &h->text, &h->text_len);
	if (err < 0) {
		free(h);
		return err;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	return 0;
}

void control_read(struct lockfs *fs, fuse_req_t req, struct inode *in,
		  size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)fs;
	(void)in;
	if (off < 0 || (size_t)off >= h->text_len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, h->text + off,
			       size < h->text_len - off ? size
							: h->text_len - off);
}

void control_release(struct lockfs *fs, struct inode *in,
		     struct fuse_file_info *fi)
{
	(void)fs;
	(void)in;
	handle_free((struct handle *)(uintptr_t)fi->fh);
}

void control_readdir(struct lockfs *fs, fuse_req_t req, size_t size,
		     off_t off)
{
	char *buf = malloc(size), *p;
	size_t used = 0, total = 2 + NFILES;

	(void)fs;
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p = buf;
	for (size_t i = off; i < total; i++) {
		struct stat st = {0};
		const char *name;
		size_t need;

		if (i < 2) {
			name = i == 0 ? "." : "..";
			st.st_ino = i == 0 ? INO_CONTROL_DIR : INO_ROOT;
			st.st_mode = S_IFDIR;
		} else {
			name = control_files[i - 2].name;
			st.st_ino = control_files[i - 2].ino;
			st.st_mode = S_IFREG;
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
