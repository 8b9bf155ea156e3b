/*
 * options.h - the daemon's options:
 *   lockfs [-f] [-d] [-o OPTS] [SOURCE] MOUNTPOINT
 *
 * lockfs's own -o options are taken out of the argument list; what remains
 * (allow_other, fsname=..., -f, -d, the mount point) is for libfuse.  SOURCE
 * (the fstab device field, passed by mount.fuse3) names nothing.  Options
 * also come from a configuration file (config=FILE, default
 * /etc/lockfs.conf when it exists); the command line wins over the file,
 * the file over the environment.  Secrets (redis_password, URLs with a
 * password) never come from the command line, only from the file (then
 * private: mode 0600, owned by root or the daemon's user) or the
 * environment (LOCKFS_REDIS_PASSWORD, LOCKFS_AMQP_URL).
 */
#ifndef LOCKFS_OPTIONS_H
#define LOCKFS_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "command.h"
#include "owner.h"

struct fuse_args;

struct options {
	char *redis;
	char *redis_password;
	char *amqp;
	char *amqp_cacert; /* amqps:// CA bundle, NULL for the system's */
	char *prefix;
	char *node;
	int64_t ttl_ms;
	int64_t backend_timeout_ms;
	int64_t acquire_timeout_ms; /* 0: wait forever */
	int64_t lock_delay_ms; /* an expired hold keeps its lock this long */
	int onlost_sig; /* onlost=: what a holder gets when its lock is lost */
	int redis_replicas; /* changes confirmed on this many replicas (WAIT) */
	enum keepalive keepalive;
	enum owner_scope owner;
	bool open_flock; /* open=flock: opens never lock (the flock view) */
	char *log; /* log=syslog|stderr|FILE, NULL for the default */
	char *http; /* http=[ADDR:]PORT, NULL for none (http.h) */
	bool show_help;
	bool show_version;
};

/*
 * Take lockfs's options out of `args` into `*o` (defaults filled in).  On a
 * bad value prints a clear message to stderr and returns -EINVAL.
 */
int options_parse(struct fuse_args *args, struct options *o);
void options_clear(struct options *o);
void options_usage(const char *prog);

#endif
