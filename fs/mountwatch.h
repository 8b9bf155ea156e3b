/*
 * mountwatch.h - tell the daemon when its mount has been detached lazily,
 * so that it can answer every waiting request with an error and exit
 * instead of serving a mount that nobody can reach.
 */
#ifndef LOCKFS_MOUNTWATCH_H
#define LOCKFS_MOUNTWATCH_H

struct event_base;
struct mountwatch;

typedef void mountwatch_gone_cb(void *arg);

/*
 * Watch the lockfs mount at `mountpoint` (an absolute path, mounted now);
 * `cb` runs once on the loop when it is gone.  Returns 0 or -errno
 * (-ENOENT when no lockfs mount is there).
 */
int mountwatch_new(struct event_base *base, const char *mountpoint,
		   mountwatch_gone_cb *cb, void *arg, struct mountwatch **out);
void mountwatch_free(struct mountwatch *w);

#endif
