/*
 * scale_fill.c - hold many locks quickly, for the scale benchmark.
 *
 *   scale_fill REDIS_URL PREFIX NAMESPACE COUNT [files|cycle]
 *
 * Takes NAMESPACE/f0 .. f<COUNT-1> as keepalive=off leases of one owner
 * ("bench:0:u", one hour), through the core store and the same acquire
 * script the daemon uses, with up to WINDOW calls in flight; with `files`,
 * makes them unheld lock files instead, as a flock-view create does; with
 * `cycle`, releases each lock as soon as it is granted (the Redis work of
 * an uncontended take and release, as fast as Redis serves it).
 * NAMESPACE must exist (make it through a mount).  Prints one line:
 *
 *   name=scale_fill count=N seconds=S
 *
 * A mount with the same prefix then sees those locks like any others.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

#define WINDOW 2000
#define HOUR_MS (3600 * 1000)

struct fill {
	struct event_base *base;
	struct store *st;
	const char *ns;
	long count, sent, done;
	int err;
	bool files; /* unheld lock files, not leases */
	bool cycle; /* release each lock once granted */
	double t0;  /* the first call */
	struct store_holder h;
};

/* One lock of a cycle, between its grant and its release. */
struct one {
	struct fill *f;
	char path[1100];
};

static void send_more(struct fill *f);

static void count_done(struct fill *f, int err)
{
	if (err < 0 && f->err == 0)
		f->err = err;
	f->done++;
	if (f->err < 0 || f->done == f->count)
		event_base_loopbreak(f->base);
	else
		send_more(f);
}

static void on_released(void *arg, const struct store_result *res)
{
	struct one *o = arg;
	struct fill *f = o->f;

	free(o);
	count_done(f, res->err);
}

static void on_granted(void *arg, const struct store_result *res)
{
	struct one *o = arg;
	int err = res->err;

	if (err == 0)
		err = store_release(o->f->st, o->path, o->f->h.id, 0, false,
				    on_released, o);
	if (err < 0) {
		struct fill *f = o->f;

		free(o);
		count_done(f, err);
	}
}

static void on_acquired(void *arg, const struct store_result *res)
{
	count_done(arg, res->err);
}

static void send_more(struct fill *f)
{
	char path[1100];

	while (f->err == 0 && f->sent < f->count &&
	       f->sent - f->done < WINDOW) {
		int err;

		snprintf(path, sizeof(path), "%s/f%ld", f->ns, f->sent);
		if (f->files) {
			struct file_change fc = {.op = FILE_CREATE,
						 .mode = 0644};

			err = store_file(f->st, path, &fc, on_acquired, f);
		} else if (f->cycle) {
			struct one *o = malloc(sizeof(*o));

			err = -ENOMEM;
			if (o != NULL) {
				o->f = f;
				snprintf(o->path, sizeof(o->path), "%s", path);
				err = store_acquire(f->st, path, &f->h, false,
						    NULL, on_granted, o);
				if (err < 0)
					free(o);
			}
		} else {
			err = store_acquire(f->st, path, &f->h, false, NULL,
					    on_acquired, f);
		}
		if (err < 0) {
			f->err = err;
			event_base_loopbreak(f->base);
			return;
		}
		f->sent++;
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_start(evutil_socket_t fd, short what, void *arg)
{
	struct fill *f = arg;

	(void)fd;
	(void)what;
	f->t0 = now_s();
	send_more(f);
}

int main(int argc, char **argv)
{
	struct fill f = {0};
	struct store_config cfg = {0};
	struct timeval soon = {0, 200000}; /* let the store connect */
	int rc = 1;

	f.files = argc == 6 && strcmp(argv[5], "files") == 0;
	f.cycle = argc == 6 && strcmp(argv[5], "cycle") == 0;
	if (argc < 5 || argc > 6 || (f.count = atol(argv[4])) <= 0 ||
	    (argc == 6 && !f.files && !f.cycle)) {
		fprintf(stderr, "usage: scale_fill REDIS_URL PREFIX NAMESPACE "
				"COUNT [files|cycle]\n");
		return 2;
	}
	cfg.url = argv[1];
	cfg.prefix = argv[2];
	cfg.backend_timeout_ms = 30000;
	f.ns = argv[3];
	f.h = (struct store_holder){
		.id = "bench:0:u", .node = "bench", .kind = HOLDER_LEASE,
		.mode = LOCK_MODE_EXCLUSIVE, .ttl_ms = HOUR_MS,
		.keepalive = KEEPALIVE_OFF,
	};
	f.base = event_base_new();
	if (f.base == NULL || store_new(f.base, &cfg, &f.st) < 0) {
		fprintf(stderr, "scale_fill: cannot set up the store\n");
		goto out;
	}
	event_base_once(f.base, -1, EV_TIMEOUT, on_start, &f, &soon);
	event_base_dispatch(f.base);
	if (f.err < 0 || f.done != f.count) {
		fprintf(stderr, "scale_fill: %ld of %ld taken: %s\n", f.done,
			f.count, strerror(f.err < 0 ? -f.err : EIO));
		goto out;
	}
	printf("name=scale_fill count=%ld seconds=%.2f\n", f.count,
	       now_s() - f.t0);
	rc = 0;
out:
	store_free(f.st);
	if (f.base)
		event_base_free(f.base);
	return rc;
}
