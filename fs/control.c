/*
 * control.c - the control directory /.lockfs (the README).
 *
 * Its files are local to this node and answer without Redis: `status` is
 * this node's view, rendered once per open so that one read sees one
 * consistent snapshot.  `events` streams the cluster's lock events: each
 * open is a cursor of its own from that moment, fed from the broker (this
 * daemon's queue is bound to every key while a reader is open); a read
 * returns whole lines and blocks while there are none (O_NONBLOCK: EAGAIN),
 * a signal interrupts it (EINTR), and poll() reports POLLIN.  A reader that
 * does not keep up loses its oldest lines beyond BACKLOG_EVENT_LINES.
 * `acquire` takes lock sets: each write is handled by ops.c like any
 * acquire (lockfs_write), and reading it gives nothing.  Each open of
 * `request` is a request handle (request.c).  `metrics` is this
 * node's counters in the Prometheus text format, one snapshot per open.
 * The HTTP endpoints (http.c) serve the same status, metrics (both
 * rendered by report.c) and events.
 */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backlog.h"
#include "clock.h"
#include "http.h"
#include "lockfs.h"
#include "log.h"
#include "lockfs_config.h"
#include "node.h"
#include "report.h"
#include "request.h"

static const struct {
	const char *name;
	int id;
	uint64_t ino;
	mode_t mode;
} control_files[] = {
	{"status", CONTROL_STATUS, INO_CONTROL_STATUS, 0444},
	{"events", CONTROL_EVENTS, INO_CONTROL_EVENTS, 0444},
	{"acquire", CONTROL_ACQUIRE, INO_CONTROL_ACQUIRE, 0666},
	{"metrics", CONTROL_METRICS, INO_CONTROL_METRICS, 0444},
	{"request", CONTROL_REQUEST, INO_CONTROL_REQUEST, 0666},
};

/* One open of /.lockfs/events. */
struct event_reader {
	struct lockfs *fs;
	struct backlog *lines;
	bool nonblock;
	struct parked_read pending; /* a blocked read */
	struct fuse_pollhandle *ph;
	struct event_reader *next;
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

static int reader_open(struct lockfs *fs, struct handle *h,
		       const struct fuse_file_info *fi)
{
	struct event_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -ENOMEM;
	if (fs->readers == NULL && node_watch_events(fs->node) < 0) {
		free(r);
		return -ENOMEM;
	}
	if (backlog_new(BACKLOG_EVENT_LINES, &r->lines) < 0) {
		if (fs->readers == NULL)
			node_unwatch_events(fs->node);
		free(r);
		return -ENOMEM;
	}
	r->fs = fs;
	r->nonblock = (fi->flags & O_NONBLOCK) != 0;
	r->next = fs->readers;
	fs->readers = r;
	fs->nreaders++;
	h->reader = r;
	return 0;
}

static void reader_close(struct event_reader *r)
{
	struct lockfs *fs = r->fs;
	struct event_reader **pp = &fs->readers;

	while (*pp && *pp != r)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = r->next;
		fs->nreaders--;
	}
	if (fs->readers == NULL)
		node_unwatch_events(fs->node);
	if (r->pending.req)
		fuse_reply_err(read_unpark(&r->pending, NULL), EIO);
	poll_drop(&r->ph);
	backlog_free(r->lines);
	free(r);
}

/* Answer a read of up to `size` bytes with whole lines (at least one). */
static void reader_reply(struct event_reader *r, fuse_req_t req, size_t size)
{
	const char *line;
	char *buf = NULL;
	size_t used = 0, len;

	while ((line = backlog_peek(r->lines, &len)) != NULL) {
		char *grown;

		if (used && used + len > size)
			break;
		grown = realloc(buf, used + len);
		if (grown == NULL)
			break;
		buf = grown;
		memcpy(buf + used, line, len);
		used += len;
		backlog_drop(r->lines);
	}
	fuse_reply_buf(req, buf, used > size ? size : used);
	free(buf);
}

static void reader_read(struct event_reader *r, fuse_req_t req, size_t size)
{
	if (!backlog_empty(r->lines)) {
		reader_reply(r, req, size);
		return;
	}
	if (r->nonblock || r->pending.req) {
		fuse_reply_err(req, EAGAIN);
		return;
	}
	read_park(&r->pending, req, size);
}

void control_event(struct lockfs *fs, const char *line, size_t len)
{
	http_event(fs->http, line, len);
	for (struct event_reader *r = fs->readers; r; r = r->next) {
		if (backlog_push(r->lines, line, len) < 0)
			log_warnx("events: out of memory, a line is lost");
		if (r->pending.req) {
			size_t size;
			fuse_req_t req = read_unpark(&r->pending, &size);

			reader_reply(r, req, size);
		}
		poll_wake(&r->ph);
	}
}

void control_poll(struct lockfs *fs, fuse_req_t req, struct handle *h,
		  struct fuse_pollhandle *ph)
{
	struct event_reader *r = h ? h->reader : NULL;

	(void)fs;
	if (h && h->request) {
		request_poll(h->request, req, ph);
		return;
	}
	if (r == NULL) {
		poll_drop(&ph);
		fuse_reply_poll(req, POLLIN | POLLRDNORM);
		return;
	}
	poll_keep(&r->ph, ph);
	fuse_reply_poll(req, backlog_empty(r->lines) ? 0
						     : POLLIN | POLLRDNORM);
}

static void control_opened(struct lockfs *fs, struct handle *h,
			   struct fuse_file_info *fi)
{
	LIST_INSERT_HEAD(&fs->control_handles, h, control_link);
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
}

int control_open(struct lockfs *fs, struct inode *in,
		 struct fuse_file_info *fi)
{
	struct handle *h;
	int err;

	if ((fi->flags & O_ACCMODE) != O_RDONLY &&
	    in->control_id != CONTROL_ACQUIRE &&
	    in->control_id != CONTROL_REQUEST)
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->type = HANDLE_CONTROL;
	h->in = in;
	h->open_flags = fi->flags;
	if (in->control_id == CONTROL_ACQUIRE) {
		control_opened(fs, h, fi);
		return 0;
	}
	if (in->control_id == CONTROL_REQUEST) {
		err = request_new(fs, &h->request);
		if (err < 0) {
			free(h);
			return err;
		}
		control_opened(fs, h, fi);
		fi->nonseekable = 1;
		return 0;
	}
	if (in->control_id == CONTROL_EVENTS) {
		err = reader_open(fs, h, fi);
		if (err < 0) {
			free(h);
			return err;
		}
		control_opened(fs, h, fi);
		fi->nonseekable = 1;
		return 0;
	}
	err = in->control_id == CONTROL_METRICS
		      ? report_metrics(fs, &h->text, &h->text_len)
		      : report_status(fs, &h->text, &h->text_len);
	if (err < 0) {
		free(h);
		return err;
	}
	control_opened(fs, h, fi);
	return 0;
}

void control_read(struct lockfs *fs, fuse_req_t req, struct inode *in,
		  size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)fs;
	(void)in;
	if (h->reader) {
		reader_read(h->reader, req, size);
		return;
	}
	if (h->request) {
		request_read(h->request, req, size,
			     (fi->flags & O_NONBLOCK) != 0);
		return;
	}
	handle_reply_text(req, h, size, off);
}

static void control_close(struct handle *h)
{
	if (h == NULL)
		return;
	LIST_REMOVE(h, control_link);
	if (h->reader)
		reader_close(h->reader);
	request_free(h->request);
	handle_free(h);
}

void control_release(struct lockfs *fs, struct inode *in,
		     struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)fs;
	(void)in;
	control_close(h);
}

void control_close_all(struct lockfs *fs)
{
	while (!LIST_EMPTY(&fs->control_handles))
		control_close(LIST_FIRST(&fs->control_handles));
}

static void control_entry(void *arg, size_t i, const char **name,
			  struct stat *st)
{
	(void)arg;
	if (i < 2) {
		*name = i == 0 ? "." : "..";
		st->st_ino = i == 0 ? INO_CONTROL_DIR : INO_ROOT;
		st->st_mode = S_IFDIR;
	} else {
		*name = control_files[i - 2].name;
		st->st_ino = control_files[i - 2].ino;
		st->st_mode = S_IFREG;
	}
}

void control_readdir(struct lockfs *fs, fuse_req_t req, size_t size,
		     off_t off)
{
	(void)fs;
	reply_dir(req, size, off, 2 + NFILES, control_entry, NULL);
}
