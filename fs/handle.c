/*
 * handle.c - what an open file or directory remembers (struct handle,
 * lockfs.h), freed in one place, and the one way a directory listing is
 * answered, for the FUSE operations and the control directory alike.
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
