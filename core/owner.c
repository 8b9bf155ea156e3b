/*
 * owner.c - owners of requests, read from /proc (see owner.h).
 *
 * The session id is field 6 of /proc/<tid>/stat, after the command name in
 * parentheses, which may itself hold spaces and ')': parse from the last
 * ')'.  The thread group id comes from /proc/<tid>/status.
 */
#include "owner.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int owner_check_node(const char *node)
{
	size_t len = strlen(node);

	if (len == 0 || len > OWNER_NODE_MAX)
		return -EINVAL;
	for (const char *p = node; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' &&
		    *p != '-')
			return -EINVAL;
	return 0;
}

const char *owner_scope_name(enum owner_scope s)
{
	switch (s) {
	case OWNER_PROCESS:
		return "process";
	case OWNER_USER:
		return "user";
	default:
		return "session";
	}
}

int owner_scope_parse(const char *s, enum owner_scope *out)
{
	if (strcmp(s, "session") == 0)
		*out = OWNER_SESSION;
	else if (strcmp(s, "process") == 0)
		*out = OWNER_PROCESS;
	else if (strcmp(s, "user") == 0)
		*out = OWNER_USER;
	else
		return -EINVAL;
	return 0;
}

/* Read a small /proc file into `buf` (one read(2): /proc writes such a
 * file whole); -ESRCH when the task is gone. */
static int read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return n == 0 ? -ESRCH : -errno;
	buf[n] = '\0';
	return 0;
}

/* The number after line `key` ("\nTgid:") in a status file, or -1. */
static long status_field(const char *text, const char *key)
{
	const char *line = strstr(text, key);

	return line ? strtol(line + strlen(key), NULL, 10) : -1;
}

/* The session id from the text of a stat file, or -EINVAL. */
static long stat_session(const char *text)
{
	const char *p = strrchr(text, ')');
	long field[4];

	/* after ")": state ppid pgrp session */
	if (p == NULL || sscanf(p + 1, " %*c %ld %ld %ld", &field[0],
				&field[1], &field[2]) != 3)
		return -EINVAL;
	return field[2];
}

/*
 * One read of <tid>/status: its Tgid and, since Linux 4.1, its session
 * (NSsid, first as this procfs sees it); older kernels also need <tid>/stat.
 */
int owner_proc_ids(const char *procfs, pid_t tid, pid_t *tgid, pid_t *sid)
{
	char path[256], buf[4096];
	long t, s;
	int err;

	snprintf(path, sizeof(path), "%s/%d/status", procfs, (int)tid);
	err = read_small(path, buf, sizeof(buf));
	if (err < 0)
		return err;
	t = status_field(buf, "\nTgid:");
	s = status_field(buf, "\nNSsid:");
	if (t < 0)
		return -EINVAL;
	if (s < 0) {
		snprintf(path, sizeof(path), "%s/%d/stat", procfs, (int)tid);
		err = read_small(path, buf, sizeof(buf));
		if (err < 0)
			return err;
		s = stat_session(buf);
		if (s < 0)
			return -EINVAL;
	}
	*tgid = t;
	*sid = s;
	return 0;
}

int owner_make_id(struct owner *o)
{
	int n;

	switch (o->scope) {
	case OWNER_PROCESS:
		n = snprintf(o->id, sizeof(o->id), "%s:%u:p%d", o->node,
			     (unsigned)o->uid, (int)o->pid);
		break;
	case OWNER_USER:
		n = snprintf(o->id, sizeof(o->id), "%s:%u:u", o->node,
			     (unsigned)o->uid);
		break;
	default:
		n = snprintf(o->id, sizeof(o->id), "%s:%u:s%d", o->node,
			     (unsigned)o->uid, (int)o->session);
	}
	return n < 0 || (size_t)n >= sizeof(o->id) ? -ENAMETOOLONG : 0;
}

int owner_from_request(const char *procfs, const char *node, uid_t uid,
		       gid_t gid, pid_t tid, enum owner_scope scope,
		       struct owner *o)
{
	pid_t tgid = 0, sid = 0;

	memset(o, 0, sizeof(*o));
	if (strlen(node) > OWNER_NODE_MAX)
		return -EINVAL;
	strcpy(o->node, node);
	o->uid = uid;
	o->gid = gid;
	o->scope = scope;
	if (tid > 0 && owner_proc_ids(procfs, tid, &tgid, &sid) < 0)
		tgid = sid = 0;
	o->pid = tgid;
	o->session = sid;
	return owner_make_id(o);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

long owner_live_sessions(const char *procfs, pid_t *sids, size_t max)
{
	DIR *d = opendir(procfs);
	struct dirent *e;
	size_t n = 0, out = 0;
	bool truncated = false;

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[1024];
		long s;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "%s/%s/stat", procfs, e->d_name);
		if (read_small(path, buf, sizeof(buf)) < 0)
			continue; /* gone meanwhile */
		s = stat_session(buf);
		if (s <= 0)
			continue;
		if (n == max) {
			truncated = true;
			break;
		}
		sids[n++] = s;
	}
	closedir(d);
	if (truncated)
		return max; /* the caller grows the array and asks again */
	qsort(sids, n, sizeof(*sids), cmp_pid);
	for (size_t i = 0; i < n; i++)
		if (out == 0 || sids[out - 1] != sids[i])
			sids[out++] = sids[i];
	return out;
}

bool owner_session_leader_alive(const char *procfs, pid_t sid)
{
	char path[256], buf[1024];

	snprintf(path, sizeof(path), "%s/%d/stat", procfs, (int)sid);
	return read_small(path, buf, sizeof(buf)) == 0 &&
	       stat_session(buf) == sid;
}

bool owner_session_in(const pid_t *sids, size_t n, pid_t sid)
{
	return bsearch(&sid, sids, n, sizeof(*sids), cmp_pid) != NULL;
}
