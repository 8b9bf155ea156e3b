/*
 * lost_signal.c - an LD_PRELOAD shim that makes the race every
 * signal-bounded wait has happen on purpose: a signal (the alarm of a
 * timeout, the SIGTERM of a job scheduler) lands in the instant before
 * open() enters the kernel, its handler runs there, and the call then
 * waits as if nothing had come.  Here open() of a path containing
 * $LOST_SIGNAL_PATH first waits up to 5 s for SIGALRM or SIGTERM (once per
 * process; it creates the file $LOST_SIGNAL_READY, if set, when it starts
 * waiting), runs that signal's handler itself, and only then opens.  A
 * program that bounds its waits robustly still ends the wait; one that
 * does not waits on.
 *
 *   cc -shared -fPIC -o lost_signal.so tests/lib/lost_signal.c -ldl
 *   LD_PRELOAD=./lost_signal.so LOST_SIGNAL_PATH=/locks/ prog ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int open_fn(const char *, int, ...);

static void take_one_signal(open_fn *real_open, const char *ready)
{
	struct timespec limit = {.tv_sec = 5};
	struct sigaction sa;
	sigset_t set, old;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	if (ready && *ready)
		close(real_open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	sig = sigtimedwait(&set, NULL, &limit);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (sig > 0 && sigaction(sig, NULL, &sa) == 0 &&
	    !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler != SIG_DFL &&
	    sa.sa_handler != SIG_IGN)
		sa.sa_handler(sig);
}

int open(const char *path, int flags, ...)
{
	static open_fn *real_open;
	static int taken;
	const char *match = getenv("LOST_SIGNAL_PATH");
	mode_t mode = 0;
	va_list ap;

	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	if (real_open == NULL)
		real_open = (open_fn *)dlsym(RTLD_NEXT, "open");
	if (!taken && match && *match && strstr(path, match)) {
		taken = 1;
		take_one_signal(real_open, getenv("LOST_SIGNAL_READY"));
	}
	return real_open(path, flags, mode);
}
