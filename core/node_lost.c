/*
 * node_lost.c - how an owner learns that its lease was lost (node.h,
 * node_lost*()): the one place that knows what the kernel does when a
 * call gets ESTALE (it retries the call once, with fresh lookups of its
 * names), so that the owner's next call says ESTALE once and the retry
 * then finds the name as it really is.  The lease table keeps the marks.
 */
#include "lease.h"
#include "node_i.h"

/* The lookups of a name in the kernel's retry of a call told ESTALE... */
#define LOST_RETRY_LOOKUPS 2
/* ...and how long after the ESTALE that retry may come. */
#define LOST_RETRY_MS 1000

bool node_lost(struct node *n, const char *path, const char *owner_id)
{
	return leases_is_stale(n->leases, path, owner_id, 0);
}

bool node_lost_shows(struct node *n, const char *path, const char *owner_id)
{
	return node_lost(n, path, owner_id) &&
	       !leases_take_told_stale(n->leases, path, owner_id,
				       LOST_RETRY_MS);
}

void node_lost_told(struct node *n, const char *path, const char *owner_id)
{
	leases_told_stale(n->leases, path, owner_id, LOST_RETRY_LOOKUPS);
}
