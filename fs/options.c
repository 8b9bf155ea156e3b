/*
 * options.c - parsing and checking of lockfs's -o options (see options.h).
 *
 * fuse_opt does the splitting; every value is then checked here so that a
 * mount with a bad option fails at once with a message naming it.
 */
#include "options.h"

#include <errno.h>
#include <fuse_opt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duration.h"

struct raw_options {
	char *redis, *amqp, *prefix, *node, *ttl, *backend_timeout;
	char *acquire_timeout, *keepalive, *owner;
	int help, version;
};

#define RAW(t, m) {t, offsetof(struct raw_options, m), 1}

static const struct fuse_opt option_spec[] = {
	RAW("redis=%s", redis),
	RAW("amqp=%s", amqp),
	RAW("prefix=%s", prefix),
	RAW("node=%s", node),
	RAW("ttl=%s", ttl),
	RAW("backend_timeout=%s", backend_timeout),
	RAW("acquire_timeout=%s", acquire_timeout),
	RAW("keepalive=%s", keepalive),
	RAW("owner=%s", owner),
	RAW("-V", version),
	RAW("--version", version),
	RAW("-h", help),
	RAW("--help", help),
	FUSE_OPT_END,
};

void options_usage(const char *prog)
{
	printf("usage: %s [-f] [-d] [-o OPTION[,OPTION...]] MOUNTPOINT\n"
	       "\n"
	       "lockfs options:\n"
	       "  redis=URL            redis://host:port[/db] or unix:/path "
	       "(default redis://127.0.0.1:6379)\n"
	       "  amqp=URL             amqp://user@host:port/vhost "
	       "(default: $LOCKFS_AMQP_URL)\n"
	       "  prefix=NAME          key prefix and hash tag "
	       "(default lockfs)\n"
	       "  node=NAME            this node's name (default: hostname)\n"
	       "  ttl=DURATION         default lease length (default 15s)\n"
	       "  backend_timeout=DURATION  Redis answer bound (default 5s)\n"
	       "  acquire_timeout=DURATION  bound on a wait (default none)\n"
	       "  keepalive=session|off     default keepalive (session)\n"
	       "  owner=session|process|user  who owns a lease (session)\n"
	       "\n"
	       "Secrets come from the environment: LOCKFS_REDIS_PASSWORD,\n"
	       "LOCKFS_AMQP_URL.  Usual FUSE options (allow_other, -f, -d) "
	       "apply.\n",
	       prog);
}

static int bad(const char *what, const char *value)
{
	fprintf(stderr, "lockfs: bad option %s=%s\n", what, value);
	return -EINVAL;
}

static int parse_duration_opt(const char *what, const char *value,
			      int64_t *out, bool is_ttl)
{
	int err;

	if (value == NULL)
		return 0;
	err = is_ttl ? duration_parse_ttl(value, strlen(value), out)
		     : duration_parse(value, strlen(value), out);
	if (err < 0 || *out <= 0)
		return bad(what, value);
	return 0;
}

/* Move *src (parsed, owned) into *dst, or copy `dflt` when absent. */
static int take_string(char **dst, char **src, const char *dflt)
{
	if (*src) {
		*dst = *src;
		*src = NULL;
		return 0;
	}
	if (dflt == NULL)
		return 0;
	*dst = strdup(dflt);
	return *dst ? 0 : -ENOMEM;
}

int options_parse(struct fuse_args *args, struct options *o)
{
	struct raw_options raw = {0};
	char host[OWNER_NODE_MAX + 1] = "localhost";
	const char *env;
	int err;

	memset(o, 0, sizeof(*o));
	if (fuse_opt_parse(args, &raw, option_spec, NULL) < 0) {
		err = -EINVAL;
		goto out;
	}
	o->show_help = raw.help;
	o->show_version = raw.version;
	o->ttl_ms = 15000;
	o->backend_timeout_ms = 5000;
	gethostname(host, sizeof(host) - 1);
	host[strcspn(host, ".")] = '\0';
	env = getenv("LOCKFS_AMQP_URL");
	if ((err = take_string(&o->redis, &raw.redis,
			       "redis://127.0.0.1:6379")) < 0 ||
	    (err = take_string(&o->amqp, &raw.amqp, env)) < 0 ||
	    (err = take_string(&o->prefix, &raw.prefix, "lockfs")) < 0 ||
	    (err = take_string(&o->node, &raw.node, host)) < 0)
		goto out;
	env = getenv("LOCKFS_REDIS_PASSWORD");
	if (env && *env && (o->redis_password = strdup(env)) == NULL) {
		err = -ENOMEM;
		goto out;
	}
	if (owner_check_node(o->node) < 0) {
		err = bad("node", o->node);
		goto out;
	}
	if (*o->prefix == '\0' || strpbrk(o->prefix, "{}") ||
	    strlen(o->prefix) > 64) {
		err = bad("prefix", o->prefix);
		goto out;
	}
	if ((err = parse_duration_opt("ttl", raw.ttl, &o->ttl_ms, true)) < 0 ||
	    (err = parse_duration_opt("backend_timeout", raw.backend_timeout,
				      &o->backend_timeout_ms, false)) < 0 ||
	    (err = parse_duration_opt("acquire_timeout", raw.acquire_timeout,
				      &o->acquire_timeout_ms, false)) < 0)
		goto out;
	if (raw.keepalive && keepalive_parse(raw.keepalive,
					     strlen(raw.keepalive),
					     &o->keepalive) < 0) {
		err = bad("keepalive", raw.keepalive);
		goto out;
	}
	if (raw.owner && owner_scope_parse(raw.owner, &o->owner) < 0) {
		err = bad("owner", raw.owner);
		goto out;
	}
	err = 0;
out:
	if (err < 0)
		options_clear(o);
	free(raw.redis);
	free(raw.amqp);
	free(raw.prefix);
	free(raw.node);
	free(raw.ttl);
	free(raw.backend_timeout);
	free(raw.acquire_timeout);
	free(raw.keepalive);
	free(raw.owner);
	return err;
}

void options_clear(struct options *o)
{
	free(o->redis);
	if (o->redis_password)
		explicit_bzero(o->redis_password, strlen(o->redis_password));
	free(o->redis_password);
	free(o->amqp);
	free(o->prefix);
	free(o->node);
	memset(o, 0, sizeof(*o));
}
