/*
 * fuzz_options.c - libFuzzer target for fs/options.c.
 *
 * The input is a command line, one argument per line (a NUL also ends an
 * argument): "-o\nredis=unix:/run/r.sock,ttl=30s\n/locks".  It goes
 * through options_parse() the way main() passes argv, with the real
 * fuse_opt of libfuse doing the splitting.  Whatever the input, nothing
 * may crash or leak; an accepted set of options must satisfy what
 * options.h and README.md promise: every string set, the node name a
 * valid one, the prefix 1..64 bytes without braces, the TTL within the
 * lease bounds, positive timeouts, known keepalive and owner values, the
 * password from the environment.  Like main(), the target frees the
 * options only after a success, so whatever a refused command line left
 * allocated shows up as a leak.
 *
 * The parser prints "lockfs: bad option ..." for most inputs; run.sh runs
 * this target with -close_fd_mask=2 to keep its log readable.
 */
#include <errno.h>
#include <fuse_opt.h>
#include <stdbool.h>

#include "duration.h"
#include "fuzz.h"
#include "options.h"
#include "owner.h"

#define MAX_ARGS 64
#define PASSWORD "fuzz-secret"

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	setenv("LOCKFS_REDIS_PASSWORD", PASSWORD, 1);
	unsetenv("LOCKFS_AMQP_URL");
	return 0;
}

static void check_accepted(const struct options *o)
{
	FUZZ_CHECK(o->redis != NULL && o->prefix != NULL && o->node != NULL);
	FUZZ_CHECK(owner_check_node(o->node) == 0);
	FUZZ_CHECK(*o->prefix != '\0' && strlen(o->prefix) <= 64);
	FUZZ_CHECK(strpbrk(o->prefix, "{}") == NULL);
	FUZZ_CHECK(o->ttl_ms >= DURATION_TTL_MIN_MS &&
		   o->ttl_ms <= DURATION_TTL_MAX_MS);
	FUZZ_CHECK(o->backend_timeout_ms > 0);
	FUZZ_CHECK(o->acquire_timeout_ms >= 0);
	FUZZ_CHECK(o->keepalive == KEEPALIVE_SESSION ||
		   o->keepalive == KEEPALIVE_OFF);
	FUZZ_CHECK(o->owner == OWNER_SESSION || o->owner == OWNER_PROCESS ||
		   o->owner == OWNER_USER);
	FUZZ_CHECK(o->redis_password != NULL &&
		   strcmp(o->redis_password, PASSWORD) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	struct fuse_args args;
	struct options o;
	size_t start = 0;
	int err;

	argv[argc++] = "lockfs";
	while (start <= size && argc <= MAX_ARGS) {
		size_t end = start;

		while (end < size && text[end] != '\n' && text[end] != '\0')
			end++;
		text[end] = '\0';
		if (end > start || end < size)
			argv[argc++] = text + start;
		start = end + 1;
	}
	argv[argc] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);

	err = options_parse(&args, &o);
	FUZZ_CHECK(err == 0 || err == -EINVAL || err == -ENOMEM);
	if (err == 0 && !o.show_help && !o.show_version)
		check_accepted(&o);
	/* what is left is for libfuse: the program name stays first */
	FUZZ_CHECK(args.argc >= 1 && strcmp(args.argv[0], "lockfs") == 0);
	/*
	 * As main() does: options_clear() after a success only.  A refused
	 * command line must leave nothing behind (LeakSanitizer checks).
	 */
	if (err == 0)
		options_clear(&o);
	fuse_opt_free_args(&args);
	free(text);
	return 0;
}
