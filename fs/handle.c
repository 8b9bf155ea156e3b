/*
 * handle.c - what an open file or directory remembers (struct handle,
 * lockfs.h), freed in one place; the one way a directory listing is
 * answered, a read is parked and a poll is woken, for the FUSE operations
 * and the control directory alike.
 */
#include <errno.h>
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
