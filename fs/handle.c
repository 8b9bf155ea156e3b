/*
 * handle.c - what an open file remembers (struct handle, lockfs.h), freed
 * in one place for the FUSE operations and the control directory alike.
 */
#include <stdlib.h>

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
