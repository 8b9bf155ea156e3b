/*
 * mountwatch.c - notice that our mount was detached (see mountwatch.h).
 *
 * The kernel tells a FUSE daemon nothing when its mount is detached lazily
 * (`umount -l`, `fusermount3 -u -z`): the connection lives on while anyone
 * still uses it, waiting opens included, and they would wait for their
 * locks through a mount nobody can reach any more.  So once a second we
 * look for our mount's id in /proc/self/mountinfo (never a stat of the
 * mount point: that would be a request to ourselves).
 */
#include "mountwatch.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MOUNTWATCH_MS 1000

struct mountwatch {
	struct event *tick;
	char *escaped; /* the mount point as mountinfo writes it */
	long mount_id;
	mountwatch_gone_cb *cb;
	void *arg;
};

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *escape_path(const char *path)
{
	char *out = malloc(4 * strlen(path) + 1), *p = out;

	if (out == NULL)
		return NULL;
	for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\\')
			p += sprintf(p, "\\%03o", *s);
		else
			*p++ = (char)*s;
	}
	*p = '\0';
	return out;
}

/*
 * The id of the newest lockfs mount at `escaped` (mount id > 0), 0 when
 * there is none, or -errno.  With `want_id`, only whether that one is
 * still there (want_id or 0).
 */
static long find_mount(const char *escaped, long want_id)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	long found = 0;

	if (f == NULL)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		long id;
		char mnt[4096], fstype[256];
		const char *dash = strstr(line, " - ");

		if (dash == NULL ||
		    sscanf(line, "%ld %*d %*s %*s %4095s", &id, mnt) != 2 ||
		    sscanf(dash + 3, "%255s", fstype) != 1)
			continue;
		if (strcmp(mnt, escaped) != 0 ||
		    strcmp(fstype, "fuse.lockfs") != 0)
			continue;
		if (want_id ? id == want_id : id > found)
			found = id;
	}
	free(line);
	fclose(f);
	return found;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct mountwatch *w = arg;
	long id = find_mount(w->escaped, w->mount_id);

	(void)fd;
	(void)what;
	if (id != 0)
		return; /* still there, or cannot tell: keep serving */
	log_info("the mount was detached");
	event_del(w->tick);
	w->cb(w->arg);
}

int mountwatch_new(struct event_base *base, const char *mountpoint,
		   mountwatch_gone_cb *cb, void *arg, struct mountwatch **out)
{
	struct mountwatch *w = calloc(1, sizeof(*w));
	struct timeval every = {MOUNTWATCH_MS / 1000,
				(MOUNTWATCH_MS % 1000) * 1000};
	int err = -ENOMEM;

	if (w == NULL)
		return -ENOMEM;
	w->cb = cb;
	w->arg = arg;
	w->escaped = escape_path(mountpoint);
	if (w->escaped == NULL)
		goto fail;
	w->mount_id = find_mount(w->escaped, 0);
	if (w->mount_id <= 0) {
		err = w->mount_id < 0 ? (int)w->mount_id : -ENOENT;
		goto fail;
	}
	w->tick = event_new(base, -1, EV_PERSIST, on_tick, w);
	if (w->tick == NULL || event_add(w->tick, &every) < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	mountwatch_free(w);
	return err;
}

void mountwatch_free(struct mountwatch *w)
{
	if (w == NULL)
		return;
	if (w->tick)
		event_free(w->tick);
	free(w->escaped);
	free(w);
}
