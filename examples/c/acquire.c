/*
 * acquire.c - take a lockfs lock from C: a blocking open() bounded by an
 * alarm, a renewal loop while a command runs, release by unlink().
 *
 *   cc -Wall -Wextra -Werror -o acquire examples/c/acquire.c
 *   ./acquire [-t SECS] [-l TTL] LOCK [COMMAND [ARG...]]
 *
 *   ./acquire -t 30 /locks/jobs/nightly ./backup.sh
 *
 * acquire waits at most SECS seconds for LOCK (default: as long as it
 * takes; -t 0: not at all), then holds it while COMMAND runs - or, without
 * COMMAND, until it gets SIGINT, SIGTERM or SIGHUP - and releases it.
 *
 * How:
 *
 *  - open(LOCK, O_WRONLY | O_CREAT) takes the lock; while it is held by
 *    someone else the call waits in the daemon (no polling, first come
 *    first served across the cluster).  The timeout is alarm(): SIGALRM is
 *    caught with sigaction() *without* SA_RESTART, so the waiting open()
 *    fails with EINTR and the daemon withdraws the request.  A mount's own
 *    acquire_timeout= makes open() fail with ETIMEDOUT instead.  -t 0 opens
 *    with O_NONBLOCK: a busy lock fails at once with EAGAIN.  SIGINT,
 *    SIGTERM and SIGHUP are caught the same way: they end a wait, and once
 *    the lock is held they go to COMMAND (without one: release and exit).
 *  - the lease is set to keepalive=off and a TTL of TTL seconds (default
 *    15), so this program alone keeps it alive: it writes "ttl=TTLs" every
 *    TTL/3 (any write by the holder renews).  If the program hangs or its
 *    node dies, the lock expires TTL seconds later and the next waiter gets
 *    it.
 *  - a renewal that fails with ESTALE means the lock was lost meanwhile
 *    (it expired, or root broke it with rm): COMMAND must not go on as if
 *    it held the lock, so it gets SIGTERM.
 *  - unlink(LOCK) releases; ESTALE there is a loss too.
 *  - the lock is a lease of the caller's owner (node, uid, session), which
 *    COMMAND, in the same session, shares.
 *
 * Exit status: COMMAND's (128 + signal if it was killed), or 0 without
 * COMMAND; 124 when the lock was not granted in time (busy, with -t 0);
 * 125 when the lock was lost while held; 128 + signal when a signal ended
 * the wait; 1 on any other error; 2 on a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_USAGE = 2, EXIT_TIMEOUT = 124, EXIT_LOST = 125 };

static volatile sig_atomic_t alarm_fired, stop_signal, waiting;

/*
 * While open() waits, every signal that should end the wait also rings
 * the alarm again a second later: a signal that lands in the instant
 * before open() enters the kernel is handled here and lost to the call,
 * which would go on waiting; the next ring ends it.  (alarm() may be
 * called from a handler; setitimer() may not.)
 */
static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		return;
	if (sig == SIGALRM)
		alarm_fired = 1;
	else
		stop_signal = sig;
	if (waiting)
		alarm(1);
}

/*
 * Catch 'sig' with on_signal(), *without* SA_RESTART, so that it makes a
 * waiting open() fail with EINTR instead of going on waiting.  (SIGCHLD is
 * caught only so that it is not discarded while blocked.)
 */
static void catch_signal(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(sig, &sa, NULL);
}

/*
 * Open 'path' for writing, which takes the lock, waiting at most 'timeout'
 * seconds (-1: no bound, 0: O_NONBLOCK).  Returns the descriptor, or
 * -errno: -ETIMEDOUT when the wait ran out (our alarm or the mount's
 * acquire_timeout), -EAGAIN when -t 0 found the lock busy, -EINTR when
 * SIGINT, SIGTERM or SIGHUP ended the wait.
 */
static int lock_open(const char *path, long timeout)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
	int fd, err;

	if (timeout == 0)
		flags |= O_NONBLOCK;
	waiting = 1;
	if (timeout > 0)
		alarm((unsigned)timeout);
	fd = open(path, flags, 0666);
	err = errno;
	/* an alarm that fires after open() returned is harmless: the handler
	 * only sets a flag, which nobody looks at any more */
	waiting = 0;
	alarm(0);
	if (fd >= 0)
		return fd;
	if (err == EINTR && stop_signal)
		return -EINTR;
	if (err == EINTR && alarm_fired)
		return -ETIMEDOUT;
	return -err;
}

/* One write of the command lines in 'text'; 0 or -errno. */
static int lock_write(int fd, const char *text)
{
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static pid_t spawn(char **argv, const sigset_t *mask)
{
	pid_t pid = fork();

	if (pid == 0) {
		sigprocmask(SIG_SETMASK, mask, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, "acquire: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/*
 * Hold the lock on 'fd': take the lease over (keepalive=off, a TTL of
 * 'ttl' seconds), run 'cmd' (NULL: nothing) and renew the lease every
 * ttl/3 until cmd exits or, without cmd, a terminating signal comes; then
 * release it.  Returns the exit status for main().
 */
static int hold(int fd, const char *path, unsigned ttl, char **cmd)
{
	sigset_t waitfor, old;
	struct timespec every;
	char first[128], renew[32];
	long ms = ttl * 1000L / 3;
	pid_t child = -1;
	int status = 0, sig, err;

	sigemptyset(&waitfor);
	sigaddset(&waitfor, SIGCHLD);
	sigaddset(&waitfor, SIGINT);
	sigaddset(&waitfor, SIGTERM);
	sigaddset(&waitfor, SIGHUP);
	/* blocked, these signals wait for sigtimedwait() below: no race
	 * between a child's exit and the next sleep */
	sigprocmask(SIG_BLOCK, &waitfor, &old);

	/* from now on only our writes keep the lease alive */
	snprintf(first, sizeof(first),
		 "keepalive=off\nttl=%us\nacquire, pid %ld\n", ttl,
		 (long)getpid());
	err = lock_write(fd, first);
	if (err == -ESTALE) {
		fprintf(stderr, "acquire: %s: lost the lock\n", path);
		status = EXIT_LOST;
		goto out;
	}
	if (err < 0) {
		fprintf(stderr, "acquire: %s: %s\n", path, strerror(-err));
		status = 1;
		goto release;
	}
	if (stop_signal) {
		/* it came between the grant and the block above */
		status = cmd ? 128 + stop_signal : 0;
		goto release;
	}
	if (cmd) {
		child = spawn(cmd, &old);
		if (child < 0) {
			fprintf(stderr, "acquire: fork: %s\n", strerror(errno));
			status = 1;
			goto release;
		}
	}
	snprintf(renew, sizeof(renew), "ttl=%us\n", ttl);
	every.tv_sec = ms / 1000;
	every.tv_nsec = (ms % 1000) * 1000000L;
	for (;;) {
		sig = sigtimedwait(&waitfor, NULL, &every);
		if (sig < 0 && errno == EAGAIN) {
			err = lock_write(fd, renew);
			if (err == -ESTALE) {
				fprintf(stderr, "acquire: %s: lost the lock\n",
					path);
				if (child > 0) {
					kill(child, SIGTERM);
					waitpid(child, NULL, 0);
				}
				status = EXIT_LOST;
				goto out;
			}
			/* EIO (Redis unreachable): the lease may still be
			 * good for a while; the next round tries again */
			if (err < 0)
				fprintf(stderr, "acquire: %s: renew: %s\n",
					path, strerror(-err));
			continue;
		}
		if (sig == SIGCHLD) {
			if (waitpid(child, &status, WNOHANG) != child)
				continue;
			status = WIFEXITED(status) ? WEXITSTATUS(status)
						   : 128 + WTERMSIG(status);
			break;
		}
		if (sig > 0 && child > 0) {
			/* the command decides; we release when it exits */
			kill(child, sig);
			continue;
		}
		if (sig > 0)
			break; /* no command: a signal to let go */
	}
release:
	if (unlink(path) < 0) {
		err = errno;
		fprintf(stderr, "acquire: %s: release: %s\n", path,
			strerror(err));
		status = err == ESTALE ? EXIT_LOST : 1;
	}
out:
	sigprocmask(SIG_SETMASK, &old, NULL);
	return status;
}

static long number(const char *s, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > INT_MAX)
		return -1;
	return v;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: acquire [-t SECS] [-l TTL] LOCK [COMMAND [ARG...]]\n");
	exit(EXIT_USAGE);
}

int main(int argc, char **argv)
{
	long timeout = -1, ttl = 15;
	const char *path;
	int opt, fd, status;

	/* '+': options end at LOCK, so COMMAND keeps its own */
	while ((opt = getopt(argc, argv, "+t:l:")) != -1) {
		switch (opt) {
		case 't':
			if ((timeout = number(optarg, 0)) < 0)
				usage();
			break;
		case 'l':
			if ((ttl = number(optarg, 1)) < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	path = argv[optind];

	catch_signal(SIGALRM);
	catch_signal(SIGINT);
	catch_signal(SIGTERM);
	catch_signal(SIGHUP);
	catch_signal(SIGCHLD);
	fd = lock_open(path, timeout);
	if (fd == -ETIMEDOUT || fd == -EAGAIN) {
		fprintf(stderr, "acquire: %s: not granted %s\n", path,
			timeout == 0 ? "(busy)" : "in time");
		return EXIT_TIMEOUT;
	}
	if (fd == -EINTR && stop_signal) {
		fprintf(stderr, "acquire: %s: interrupted\n", path);
		return 128 + stop_signal;
	}
	if (fd < 0) {
		fprintf(stderr, "acquire: %s: %s\n", path, strerror(-fd));
		return 1;
	}
	status = hold(fd, path, (unsigned)ttl,
		      optind + 1 < argc ? argv + optind + 1 : NULL);
	close(fd);
	return status;
}
