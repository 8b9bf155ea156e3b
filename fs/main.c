/*
 * main.c - the lockfs daemon: options, mount, the event loop, teardown.
 *
 * One libevent loop drives everything: the FUSE session's
 * fd, the Redis connection (through hiredis's libevent adapter), timers and
 * signals.  FUSE requests are read and dispatched one at a time from the
 * loop; operations that need Redis answer later from their callbacks, so a
 * slow or waiting request never holds the thread.
 *
 * Start-up checks Redis synchronously before mounting, so that a wrong URL
 * or a server that is down fails the mount with a clear message instead of
 * a mount whose every operation returns EIO.
 */
#include <errno.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "lockfs.h"
#include "lockfs_config.h"
#include "config.h"
#include "http.h"
#include "report.h"
#include "log.h"
#include "mountwatch.h"
#include "node.h"
#include "options.h"

struct loop_ctx {
	struct lockfs *fs;
	struct fuse_buf buf;
};

static void on_fuse_readable(evutil_socket_t fd, short what, void *arg)
{
	struct loop_ctx *lc = arg;
	struct fuse_session *se = lc->fs->se;
	int res;

	(void)fd;
	(void)what;
	res = fuse_session_receive_buf(se, &lc->buf);
	if (res == -EINTR || res == -EAGAIN)
		return;
	if (res <= 0) {
		if (res < 0 && res != -ENODEV)
			log_warn(res, "reading from the kernel");
		event_base_loopbreak(lc->fs->base);
		return;
	}
	fuse_session_process_buf(se, &lc->buf);
	if (fuse_session_exited(se)) /* the kernel ended the session */
		event_base_loopbreak(lc->fs->base);
}

static void shut_down(struct lockfs *fs)
{
	node_fail_all(fs->node, -EIO); /* nobody stays stuck in the kernel */
	/* a moment for the withdrawals to reach Redis, and for the kernel's
	 * last requests (the outcome reads of request handles) to be
	 * answered: no fuse_session_exit() before it, since libfuse drops
	 * what it reads from an exited session unanswered */
	event_base_loopexit(fs->base, &(struct timeval){0, 300000});
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: unmounting", (int)sig);
	shut_down(arg);
}

/* Detached lazily (umount -l): its waiters would wait through a dead path. */
static void on_detached(void *arg)
{
	shut_down(arg);
}

/* A hold taken through this node was lost: wake its descriptors' polls. */
static void on_hold_lost(void *arg, const char *path)
{
	lockfs_hold_lost(arg, path);
}

/* A lock event line from the broker: for the readers of /.lockfs/events. */
static void on_event_line(void *arg, const char *line, size_t len)
{
	control_event(arg, line, len);
}

static int start_services(struct lockfs *fs, const struct store_config *scfg)
{
	const struct options *opt = fs->opt;
	struct node_config ncfg = {
		.name = opt->node,
		.store = scfg,
		.amqp_url = opt->amqp,
		.amqp_cacert = opt->amqp_cacert,
		.prefix = opt->prefix,
		.ttl_ms = opt->ttl_ms,
		.procfs = fs->procfs,
		.onlost_sig = opt->onlost_sig,
		.event_line = on_event_line,
		.lost = on_hold_lost,
		.arg = fs,
	};

	return node_start(fs->base, &ncfg, &fs->node);
}

/*
 * Each blocked open, each held handle and each HTTP client is a
 * descriptor of the kernel's or of ours: take the hard limit on open
 * files instead of the soft one (1024 under systemd), up to 65536.
 */
static void raise_open_files_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max ||
	    rl.rlim_cur >= 65536)
		return; /* never lower a limit set higher on purpose */
	rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn(errno, "cannot raise the open files limit");
}

/*
 * A daemon that was killed leaves its mount point dead ("Transport endpoint
 * is not connected"); detach it so that a restarted daemon mounts cleanly.
 */
static void clear_dead_mount(const char *mountpoint)
{
	struct stat st;
	pid_t pid;

	if (stat(mountpoint, &st) == 0 || errno != ENOTCONN)
		return;
	log_info("%s: detaching the dead mount of an earlier daemon",
		 mountpoint);
	if (umount2(mountpoint, MNT_DETACH) == 0)
		return;
	pid = fork(); /* not root: ask fusermount3 */
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", mountpoint,
		       (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static int run_loop(struct lockfs *fs, const char *mountpoint)
{
	struct loop_ctx lc = {.fs = fs};
	struct event *fuse_ev = NULL, *sig[3] = {NULL, NULL, NULL};
	const int signals[3] = {SIGTERM, SIGINT, SIGHUP};
	struct mountwatch *watch = NULL;
	int err = -ENOMEM;

	fuse_ev = event_new(fs->base, fuse_session_fd(fs->se),
			    EV_READ | EV_PERSIST, on_fuse_readable, &lc);
	if (fuse_ev == NULL || event_add(fuse_ev, NULL) < 0)
		goto out;
	for (int i = 0; i < 3; i++) {
		sig[i] = evsignal_new(fs->base, signals[i], on_signal, fs);
		if (sig[i] == NULL || event_add(sig[i], NULL) < 0)
			goto out;
	}
	if (mountwatch_new(fs->base, mountpoint, on_detached, fs, &watch) < 0)
		log_warnx("cannot watch %s in /proc/self/mountinfo", mountpoint);
	err = event_base_dispatch(fs->base) < 0 ? -EIO : 0;
out:
	mountwatch_free(watch);
	for (int i = 0; i < 3; i++)
		if (sig[i])
			event_free(sig[i]);
	if (fuse_ev)
		event_free(fuse_ev);
	free(lc.buf.mem);
	return err;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = {0};
	struct options opt;
	struct lockfs fs = {0};
	struct store_config scfg;
	char why[512], *shown;
	bool mounted = false;
	int rc = 1, err, http_fd = -1;

	signal(SIGPIPE, SIG_IGN);
	if (options_parse(&args, &opt) < 0)
		goto out_args;
	if (opt.show_version) {
		printf("lockfs %s\n", LOCKFS_VERSION);
		rc = 0;
		goto out_opts;
	}
	if (opt.show_help) {
		options_usage(argv[0]);
		rc = 0;
		goto out_opts;
	}
	if (fuse_parse_cmdline(&args, &cmd) != 0)
		goto out_opts;
	if (cmd.mountpoint == NULL) {
		fprintf(stderr, "usage: %s [options] MOUNTPOINT "
				"(see --help)\n",
			argv[0]);
		goto out_opts;
	}
	log_setup("lockfs", cmd.debug);
	raise_open_files_limit();
	scfg = (struct store_config){
		.url = opt.redis,
		.password = opt.redis_password,
		.prefix = opt.prefix,
		.backend_timeout_ms = opt.backend_timeout_ms,
		.replicas = opt.redis_replicas,
	};
	if (fuse_opt_add_arg(&args, "-odefault_permissions") != 0 ||
	    fuse_opt_add_arg(&args, "-ofsname=lockfs") != 0 ||
	    fuse_opt_add_arg(&args, "-osubtype=lockfs") != 0)
		goto out_opts;
	fs.opt = &opt;
	fs.procfs = "/proc";
	fs.started_ms = wall_ms();
	if (inodes_new(&fs.inodes) < 0 || lockfs_inodes_init(&fs) < 0)
		goto out_fs;
	/* libfuse names an unknown option here: before any connection */
	fs.se = fuse_session_new(&args, &lockfs_ops, sizeof(lockfs_ops), &fs);
	if (fs.se == NULL)
		goto out_fs;
	if (node_probe(&scfg, why, sizeof(why)) < 0) {
		fprintf(stderr, "lockfs: %s\n", why);
		goto out_fs;
	}
	/* a port in use fails the mount, before anything is mounted */
	if (opt.http && http_listen(opt.http, &http_fd, why, sizeof(why)) < 0) {
		fprintf(stderr, "lockfs: %s\n", why);
		goto out_fs;
	}
	clear_dead_mount(cmd.mountpoint);
	if (fuse_session_mount(fs.se, cmd.mountpoint) != 0)
		goto out_fs;
	mounted = true;
	/* a FILE is opened before the daemon detaches (and leaves its cwd) */
	if (opt.log && strcmp(opt.log, "syslog") != 0 &&
	    strcmp(opt.log, "stderr") != 0 &&
	    (err = log_to_file(opt.log)) < 0) {
		fprintf(stderr, "lockfs: log=%s: %s\n", opt.log, strerror(-err));
		goto out_fs;
	}
	if (fuse_daemonize(cmd.foreground) != 0)
		goto out_fs;
	if (opt.log ? strcmp(opt.log, "syslog") == 0
		    : !cmd.foreground && access("/dev/log", W_OK) == 0)
		log_to_syslog();
	fs.base = event_base_new();
	if (fs.base == NULL)
		goto out_fs;
	if (start_services(&fs, &scfg) < 0)
		goto out_fs;
	if (http_fd >= 0) {
		const struct http_reports reports = {report_status,
						     report_metrics};

		err = http_new(&fs, http_fd, &reports, &fs.http);
		http_fd = -1; /* http_new() took it */
		if (err < 0) {
			log_warn(err, "http=%s", opt.http);
			goto out_fs;
		}
	}
	shown = config_url_redacted(opt.redis);
	log_info("node %s mounted at %s (redis %s, prefix %s)", opt.node,
		 cmd.mountpoint, shown ? shown : "?", opt.prefix);
	free(shown);
	err = run_loop(&fs, cmd.mountpoint);
	rc = err < 0 ? 1 : 0;
out_fs:
	if (http_fd >= 0)
		close(http_fd);
	http_free(fs.http); /* before the node: it abandons its walks */
	node_fail_all(fs.node, -EIO);
	control_close_all(&fs); /* those the kernel never released */
	if (mounted)
		fuse_session_unmount(fs.se);
	node_free(fs.node); /* runs what is in flight, with EIO */
	if (fs.se)
		fuse_session_destroy(fs.se);
	if (fs.base)
		event_base_free(fs.base);
	inodes_free(fs.inodes);
out_opts:
	free(cmd.mountpoint);
	options_clear(&opt);
out_args:
	fuse_opt_free_args(&args);
	return rc;
}
