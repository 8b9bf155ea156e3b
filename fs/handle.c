/*
 * handle.c - what an open file or directory remembers (struct handle,
 * lockfs.h): opened and closed in one place; which hold a write through
 * it renews; its poll() for a lost hold; and the one way a directory
 * listing is answered, a read is parked and a poll is woken, for the FUSE
 * operations and the control directory alike.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "lockfs.h"

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

void reply_dir(fuse_req_t req, size_t size, off_t off, size_t total,
	       dir_entry_fn *entry, void *arg)
{
	char *buf = malloc(size), *p = buf;
	size_t used = 0;

	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = off; i < total; i++) {
		struct stat st = {0};
		const char *name = "";
		size_t need;

		entry(arg, i, &name, &st);
		need = fuse_add_direntry(req, p, size - used, name, &st, i + 1);
		if (need > size - used)
			break;
		p += need;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void on_parked_interrupt(fuse_req_t req, void *data)
{
	struct parked_read *p = data;

	if (p->req == req) {
		p->req = NULL;
		fuse_reply_err(req, EINTR);
	}
}

void read_park(struct parked_read *p, fuse_req_t req, size_t size)
{
	p->req = req;
	p->size = size;
	if (fuse_req_interrupted(req))
		on_parked_interrupt(req, p);
	else
		fuse_req_interrupt_func(req, on_parked_interrupt, p);
}

fuse_req_t read_unpark(struct parked_read *p, size_t *size)
{
	fuse_req_t req = p->req;

	p->req = NULL;
	if (size)
		*size = p->size;
	return req;
}

void poll_keep(struct fuse_pollhandle **slot, struct fuse_pollhandle *ph)
{
	if (ph == NULL)
		return;
	poll_drop(slot);
	*slot = ph;
}

void poll_wake(struct fuse_pollhandle **slot)
{
	if (*slot)
		fuse_lowlevel_notify_poll(*slot);
	poll_drop(slot);
}

void poll_drop(struct fuse_pollhandle **slot)
{
	if (*slot)
		fuse_pollhandle_destroy(*slot);
	*slot = NULL;
}

void handle_reply_open(fuse_req_t req, struct inode *in,
		       struct fuse_file_info *fi, struct handle *h)
{
	struct lockfs *fs = fuse_req_userdata(req);

	if (h == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	inodes_open(in);
	if (fuse_reply_open(req, fi) != 0) { /* the caller is gone */
		inodes_close(fs->inodes, in);
		handle_free(h);
	}
}

void handle_reply_text(fuse_req_t req, const struct handle *h, size_t size,
		       off_t off)
{
	if (off < 0 || (size_t)off >= h->text_len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, h->text + off,
			       size < h->text_len - off ? size
							: h->text_len - off);
}

void handle_close(struct lockfs *fs, struct handle *h)
{
	if (h == NULL)
		return;
	if (h->type == HANDLE_PLACEHOLDER && h->in->placeholders)
		h->in->placeholders--;
	handle_poll_forget(h);
	inodes_close(fs->inodes, h->in);
	handle_free(h);
}

int handle_hold(struct lockfs *fs, const struct handle *h, bool even_lost,
		char *id, size_t size, int64_t *token)
{
	struct node_file f = {
		.name_lost_lease = even_lost,
		.lease_id = h->writer ? h->owner.id : NULL,
		.lease_token = h->token,
		.locks = h->locks,
		.nlocks = h->nlocks,
		.opener_known = h->owner.id[0] != '\0',
		.uid = h->owner.uid,
		.session = h->owner.session,
	};

	return node_file_hold(fs->node, h->in->path, &f, id, size, token);
}

/* ---- poll: POLLPRI|POLLERR once a descriptor's hold is lost ---------- */

void handle_poll_forget(struct handle *h)
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
void handle_poll(struct lockfs *fs, fuse_req_t req, struct handle *h,
		 struct fuse_pollhandle *ph)
{
	unsigned events = POLLIN | POLLOUT;
	char id[OWNER_ID_MAX];
	int64_t token;

	if (h && h->in && h->in->kind == INODE_LOCK) {
		if (handle_hold(fs, h, false, id, sizeof(id), &token) == -ESTALE ||
		    (h->writer && node_hold_stale(fs->node, h->in->path,
						  h->owner.id, h->token))) {
			events |= POLLPRI | POLLERR;
		} else if (ph) {
			handle_poll_forget(h);
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
