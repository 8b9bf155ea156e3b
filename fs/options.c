/*
 * options.c - parsing and checking of lockfs's -o options (see options.h).
 *
 * fuse_opt does the splitting; every value is then checked here so that a
 * mount with a bad option fails at once with a message naming it.
 */
#include "options.h"

#include <errno.h>
#include <fuse_opt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "duration.h"
#include "http_addr.h"

struct raw_options {
	char *redis, *amqp, *prefix, *node, *ttl, *backend_timeout;
	char *acquire_timeout, *keepalive, *owner, *config, *redis_password;
	char *amqp_cacert, *open_mode, *log, *lock_delay, *onlost;
	char *redis_replicas, *http;
	char *pos[2]; /* [SOURCE] MOUNTPOINT */
	int npos;
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
	RAW("config=%s", config),
	RAW("redis_password=%s", redis_password),
	RAW("amqp_cacert=%s", amqp_cacert),
	RAW("open=%s", open_mode),
	RAW("log=%s", log),
	RAW("lock_delay=%s", lock_delay),
	RAW("onlost=%s", onlost),
	RAW("redis_replicas=%s", redis_replicas),
	RAW("http=%s", http),
	RAW("-V", version),
	RAW("--version", version),
	RAW("-h", help),
	RAW("--help", help),
	FUSE_OPT_END,
};

/* The keys a configuration file may set, and where they go. */
static const struct {
	const char *key;
	size_t off;
} file_keys[] = {
	{"redis", offsetof(struct raw_options, redis)},
	{"amqp", offsetof(struct raw_options, amqp)},
	{"prefix", offsetof(struct raw_options, prefix)},
	{"node", offsetof(struct raw_options, node)},
	{"ttl", offsetof(struct raw_options, ttl)},
	{"backend_timeout", offsetof(struct raw_options, backend_timeout)},
	{"acquire_timeout", offsetof(struct raw_options, acquire_timeout)},
	{"keepalive", offsetof(struct raw_options, keepalive)},
	{"owner", offsetof(struct raw_options, owner)},
	{"redis_password", offsetof(struct raw_options, redis_password)},
	{"amqp_cacert", offsetof(struct raw_options, amqp_cacert)},
	{"open", offsetof(struct raw_options, open_mode)},
	{"lock_delay", offsetof(struct raw_options, lock_delay)},
	{"onlost", offsetof(struct raw_options, onlost)},
	{"redis_replicas", offsetof(struct raw_options, redis_replicas)},
	{"log", offsetof(struct raw_options, log)},
	{"http", offsetof(struct raw_options, http)},
};

#define NFILE_KEYS (sizeof(file_keys) / sizeof(file_keys[0]))

/* Options mount(8) and fstab add that mean nothing to a FUSE daemon. */
static bool dropped_mount_option(const char *arg)
{
	static const char *const drop[] = {"_netdev", "nofail", "noauto",
					   "auto",    "user",   "users",
					   "nouser",  "defaults"};

	if (strncmp(arg, "x-systemd.", 10) == 0 ||
	    strncmp(arg, "comment=", 8) == 0)
		return true;
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (strcmp(arg, drop[i]) == 0)
			return true;
	return false;
}

/*
 * fuse_opt's callback: positional arguments are kept aside (mount.fuse3
 * runs `lockfs SOURCE MOUNTPOINT -o ...`), mount(8)'s own options dropped,
 * everything else left for libfuse.
 */
static int sort_arg(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct raw_options *raw = data;

	(void)outargs;
	if (key == FUSE_OPT_KEY_NONOPT) {
		if (raw->npos == 2) {
			fprintf(stderr, "lockfs: unexpected argument %s\n",
				arg);
			return -1;
		}
		raw->pos[raw->npos] = strdup(arg);
		return raw->pos[raw->npos++] ? 0 : -1;
	}
	if (key == FUSE_OPT_KEY_OPT && dropped_mount_option(arg))
		return 0;
	return 1;
}

void options_usage(const char *prog)
{
	printf("usage: %s [-f] [-d] [-o OPTION[,OPTION...]] [SOURCE] "
	       "MOUNTPOINT\n"
	       "\n"
	       "lockfs options (-o, or `key = value` lines in the config "
	       "file):\n"
	       "  config=FILE          options file (default %s if it "
	       "exists)\n"
	       "  redis=URL            redis://host:port[/db], unix:/path,\n"
	       "                       sentinel://h1:port;h2:port/master or\n"
	       "                       cluster://h1:port;h2:port "
	       "(default redis://127.0.0.1:6379)\n"
	       "  amqp=URL[;URL...]    amqp[s]://user:password@host:port/vhost\n"
	       "                       (default: $LOCKFS_AMQP_URL; none: no "
	       "broker)\n"
	       "  amqp_cacert=FILE     CA bundle for amqps:// (default: the "
	       "system's)\n"
	       "  prefix=NAME          key prefix and hash tag "
	       "(default lockfs)\n"
	       "  node=NAME            this node's name (default: hostname)\n"
	       "  ttl=DURATION         default lease length (default 15s)\n"
	       "  backend_timeout=DURATION  bound on a Redis answer "
	       "(default 5s)\n"
	       "  acquire_timeout=DURATION  bound on a wait (default none)\n"
	       "  lock_delay=DURATION  an expired lock stays unavailable this long\n"
	       "                       (default 0)\n"
	       "  redis_replicas=N     answer a change once N replicas have it\n"
	       "                       (WAIT; default 0)\n"
	       "  onlost=SIGNAL|none   sent to a holder when its lock is lost\n"
	       "                       (TERM, KILL, HUP, USR1...; default none)\n"
	       "  keepalive=session|off     default keepalive (session)\n"
	       "  owner=session|process|user  who owns a lease (session)\n"
	       "  open=lease|flock     lease: a write open takes the lock; "
	       "flock: opens\n"
	       "                       never lock, only flock/fcntl/lockf do "
	       "(lease)\n"
	       "  http=[ADDR:]PORT     serve the lock page, /metrics, /api and "
	       "/events\n"
	       "                       over HTTP (no ADDR: 127.0.0.1 only; "
	       "default off)\n"
	       "  log=syslog|stderr|FILE  where messages go (default: syslog "
	       "when /dev/log\n"
	       "                       exists, else stderr)\n"
	       "  allow_other          (FUSE) let every user use the mount\n"
	       "\n"
	       "Secrets (redis_password = ..., a URL with a password) go in "
	       "the config\nfile, mode 0600, or the environment "
	       "(LOCKFS_REDIS_PASSWORD, LOCKFS_AMQP_URL),\nnever on the "
	       "command line.  The command line overrides the file, the "
	       "file\nthe environment.  -f: foreground, -d: debug, -V: "
	       "version.\n",
	       prog, CONFIG_DEFAULT_PATH);
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

static void raw_free(struct raw_options *raw)
{
	char **fields[] = {&raw->redis, &raw->amqp, &raw->prefix, &raw->node,
			   &raw->ttl, &raw->backend_timeout,
			   &raw->acquire_timeout, &raw->keepalive, &raw->owner,
			   &raw->config, &raw->redis_password,
			   &raw->amqp_cacert, &raw->open_mode, &raw->log,
			   &raw->lock_delay, &raw->onlost,
			   &raw->redis_replicas, &raw->http, &raw->pos[0],
			   &raw->pos[1]};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (*fields[i] && fields[i] == &raw->redis_password)
			explicit_bzero(*fields[i], strlen(*fields[i]));
		free(*fields[i]);
		*fields[i] = NULL;
	}
}

/* Secrets would show in ps: refuse them on the command line. */
static int refuse_command_line_secrets(const struct raw_options *raw)
{
	const char *what = NULL;

	if (raw->redis_password)
		what = "redis_password";
	else if (raw->redis && config_url_has_password(raw->redis))
		what = "a password in redis=";
	else if (raw->amqp && config_url_has_password(raw->amqp))
		what = "a password in amqp=";
	if (what == NULL)
		return 0;
	fprintf(stderr,
		"lockfs: %s on the command line would show in ps; put it in "
		"the configuration file (mode 0600) or the environment "
		"(LOCKFS_REDIS_PASSWORD, LOCKFS_AMQP_URL)\n",
		what);
	return -EINVAL;
}

/* Does entry `e` of a configuration file hold a secret? */
static bool secret_entry(const struct config_entry *e)
{
	return strcmp(e->key, "redis_password") == 0 ||
	       ((strcmp(e->key, "redis") == 0 || strcmp(e->key, "amqp") == 0) &&
		config_url_has_password(e->value));
}

/* Fill what the command line left unset from the file (when there is one). */
static int apply_config_file(struct raw_options *raw, struct fuse_args *args)
{
	const char *path = raw->config ? raw->config : CONFIG_DEFAULT_PATH;
	struct config c;
	int err = config_read(path, &c);

	if (err == -ENOENT && raw->config == NULL)
		return 0; /* no default file: fine */
	if (err < 0) {
		if (err != -EINVAL)
			fprintf(stderr, "lockfs: cannot read %s: %s\n", path,
				strerror(-err));
		return -EINVAL;
	}
	for (size_t i = 0; i < c.n && err == 0; i++) {
		const struct config_entry *e = &c.entries[i];
		size_t k = 0;

		if (strcmp(e->key, "allow_other") == 0) {
			if (strcmp(e->value, "yes") != 0 &&
			    strcmp(e->value, "true") != 0 &&
			    strcmp(e->value, "no") != 0 &&
			    strcmp(e->value, "false") != 0) {
				fprintf(stderr, "lockfs: %s:%d: allow_other "
						"is yes or no\n",
					path, e->line);
				err = -EINVAL;
			} else if ((e->value[0] == 'y' || e->value[0] == 't') &&
				   fuse_opt_add_arg(args, "-oallow_other") != 0)
				err = -ENOMEM;
			continue;
		}
		while (k < NFILE_KEYS && strcmp(file_keys[k].key, e->key) != 0)
			k++;
		if (k == NFILE_KEYS) {
			fprintf(stderr, "lockfs: %s:%d: unknown key %s\n", path,
				e->line, e->key);
			err = -EINVAL;
		} else if (secret_entry(e) && !c.private_file) {
			fprintf(stderr,
				"lockfs: %s holds a secret (%s) but others may "
				"read it: chmod 600, owned by root\n",
				path, e->key);
			err = -EINVAL;
		} else {
			char **field = (char **)((char *)raw + file_keys[k].off);

			if (*field == NULL && (*field = strdup(e->value)) == NULL)
				err = -ENOMEM; /* the command line wins */
		}
	}
	config_clear(&c);
	return err;
}

int options_parse(struct fuse_args *args, struct options *o)
{
	struct raw_options raw = {0};
	char host[OWNER_NODE_MAX + 1] = "localhost";
	const char *env;
	int err;

	memset(o, 0, sizeof(*o));
	if (fuse_opt_parse(args, &raw, option_spec, sort_arg) < 0) {
		err = -EINVAL;
		goto out;
	}
	o->show_help = raw.help;
	o->show_version = raw.version;
	if (o->show_help || o->show_version) {
		err = 0;
		goto out;
	}
	if ((err = refuse_command_line_secrets(&raw)) < 0 ||
	    (err = apply_config_file(&raw, args)) < 0)
		goto out;
	/* mount.fuse3 passes the fstab source first: it names nothing here */
	if (raw.npos > 0 &&
	    fuse_opt_add_arg(args, raw.pos[raw.npos - 1]) != 0) {
		err = -ENOMEM;
		goto out;
	}
	o->ttl_ms = 15000;
	o->backend_timeout_ms = 5000;
	gethostname(host, sizeof(host) - 1);
	host[strcspn(host, ".")] = '\0';
	env = getenv("LOCKFS_AMQP_URL");
	if ((err = take_string(&o->redis, &raw.redis,
			       "redis://127.0.0.1:6379")) < 0 ||
	    (err = take_string(&o->amqp, &raw.amqp, env)) < 0 ||
	    (err = take_string(&o->prefix, &raw.prefix, "lockfs")) < 0 ||
	    (err = take_string(&o->node, &raw.node, host)) < 0 ||
	    (err = take_string(&o->amqp_cacert, &raw.amqp_cacert,
			       getenv("LOCKFS_AMQP_CACERT"))) < 0 ||
	    (err = take_string(&o->redis_password, &raw.redis_password,
			       getenv("LOCKFS_REDIS_PASSWORD"))) < 0)
		goto out;
	if (o->redis_password && *o->redis_password == '\0') {
		free(o->redis_password);
		o->redis_password = NULL;
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
	if (raw.redis_replicas) {
		char *end;
		long n = strtol(raw.redis_replicas, &end, 10);

		if (end == raw.redis_replicas || *end || n < 0 || n > 16) {
			err = bad("redis_replicas", raw.redis_replicas);
			goto out;
		}
		o->redis_replicas = (int)n;
	}
	if (raw.onlost && signal_parse(raw.onlost, strlen(raw.onlost),
				       &o->onlost_sig) < 0) {
		err = bad("onlost", raw.onlost);
		goto out;
	}
	if (raw.lock_delay && strcmp(raw.lock_delay, "0") != 0 &&
	    (err = parse_duration_opt("lock_delay", raw.lock_delay,
				      &o->lock_delay_ms, false)) < 0)
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
	if (raw.open_mode && strcmp(raw.open_mode, "lease") != 0 &&
	    strcmp(raw.open_mode, "flock") != 0) {
		err = bad("open", raw.open_mode);
		goto out;
	}
	o->open_flock = raw.open_mode && strcmp(raw.open_mode, "flock") == 0;
	if (raw.http) {
		if (http_check_spec(raw.http) < 0) {
			err = bad("http", raw.http);
			goto out;
		}
		o->http = raw.http;
		raw.http = NULL;
	}
	if (raw.log && *raw.log == '\0') {
		err = bad("log", raw.log);
		goto out;
	}
	if (raw.log) {
		o->log = raw.log;
		raw.log = NULL;
	}
	err = 0;
out:
	if (err < 0)
		options_clear(o);
	raw_free(&raw);
	return err;
}

void options_clear(struct options *o)
{
	free(o->redis);
	if (o->redis_password)
		explicit_bzero(o->redis_password, strlen(o->redis_password));
	free(o->redis_password);
	free(o->amqp);
	free(o->amqp_cacert);
	free(o->log);
	free(o->http);
	free(o->prefix);
	free(o->node);
	memset(o, 0, sizeof(*o));
}
