/*
 * store_fixture.h - what the store's unit suites (test_store.c,
 * test_store_wait.c) share: a private redis-server on a unix socket in a
 * temp directory (so parallel runs never collide), the store driven on a
 * libevent loop until each callback arrives, and what a callback saw
 * (struct seen), with one helper per store call.
 */
#ifndef LOCKFS_STORE_FIXTURE_H
#define LOCKFS_STORE_FIXTURE_H

#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "command.h"
#include "store.h"

struct server {
	char dir[64];
	char sock[128];
	char url[160];
	pid_t pid;
};

/* What a callback saw, copied out of the store's result. */
struct seen {
	bool done;
	int err;
	char extra[32];
	enum reply_word word;
	enum blocker_kind blocker;
	int64_t blocker_until;
	char blocker_what[64];
	enum store_kind kind;
	int64_t token;
	size_t nholders;
	char holder0[128];
	char note0[1100];
	int64_t ttl0;
	mode_t ns_mode;
	gid_t ns_gid;
	size_t nentries;
	char entries[16][64];
	int64_t exp0, now; /* the Redis clock */
	int64_t delayed_until;
	size_t nqueued;
	pid_t queued_pid[4];
	enum lock_mode queued_mode[4];
	size_t ngrants;
	char grant_wid[4][64];
	char grant_daemon[4][64];
	int64_t grant_token[4];
	/* the lock file, where one exists (file.lua) */
	bool file;
	int64_t file_id;
	mode_t file_mode;
	uid_t file_uid;
	char data[LOCK_FILE_DATA_MAX + 1];
	size_t data_len;
};

struct fixture {
	struct server srv;
	struct event_base *base;
	struct store *st;
	int64_t timeout_ms;
};

void server_start(struct server *s);
void server_stop(struct server *s);
int setup_with_timeout(void **state, int64_t timeout_ms);
int setup(void **state);
int teardown(void **state);
void record(void *arg, const struct store_result *r);
void wait_for(struct fixture *f, struct seen *s);
void pump(struct event_base *base, int ms);
void answer(struct fixture *f, int rc, struct seen *s);
struct seen acquire_as(struct fixture *f, const char *path, const char *id,
		       enum lock_mode mode, int64_t ttl_ms, bool excl);
struct seen acquire_delayed(struct fixture *f, const char *path, const char *id,
			    int64_t ttl_ms, int64_t delay_ms);
struct seen acquire(struct fixture *f, const char *path, const char *id);
struct seen acquire_wait(struct fixture *f, const char *path, const char *id,
			 enum lock_mode mode, const char *wid, bool confirm);
struct seen probe(struct fixture *f, const char *path, const char *id);
struct seen withdraw(struct fixture *f, const char *path, const char *wid);
struct seen stat_of(struct fixture *f, const char *path);
struct seen release(struct fixture *f, const char *path, const char *id,
		    int64_t token, bool force);
struct seen renew(struct fixture *f, const char *path, const char *id,
		  int64_t token, int64_t ttl, const char *note);
struct seen mkdir_ns(struct fixture *f, const char *path, mode_t mode);
struct seen rmdir_ns(struct fixture *f, const char *path);
struct seen list_ns(struct fixture *f, const char *path);
void sleep_ms(int ms);
struct seen file_do(struct fixture *f, const char *path, struct file_change fc);
struct seen file_write(struct fixture *f, const char *path, int64_t id,
		       int64_t off, const char *data);
struct seen unlink_lock(struct fixture *f, const char *path, const char *id);
struct seen acquire_set(struct fixture *f, const char *id, const char *wid,
			bool withdraw, size_t n, ...);
struct seen set_limit(struct fixture *f, const char *path, long limit,
		      uid_t caller);
int setup_short(void **state);
int64_t now_ms(void);

#endif
