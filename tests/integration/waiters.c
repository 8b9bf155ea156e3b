/*
 * waiters.c - many waiters on one lock, each a process in a session of its
 * own (so each is another owner), for the waiting suite:
 *
 *   waiters PATH N TIMEOUT_S
 *
 * Forks N children; each calls setsid() and blocks in open(PATH, O_WRONLY |
 * O_CREAT); once granted it reports its index, holds the lock for a moment
 * and releases it with unlink().  Before the children start, the parent
 * holds the lock itself, waits until every child is queued (the lock
 * file's waiters= line says N), prints "queued N", then releases it, and
 * prints "granted K" once K children got the lock in turn.  Exits 0 when
 * all N were granted within TIMEOUT_S.  With WAITERS_HOLD_UNTIL=FILE in
 * the environment the parent keeps the lock after "queued N" until FILE
 * exists (so that a bench can do something to the queued waiters).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long waiters_of(const char *path)
{
	char buf[8192];
	FILE *f = fopen(path, "r");
	long w = -1;
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	for (char *p = buf; p && *p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, "waiters=", 8) == 0)
			w = atol(p + 8);
	}
	return w;
}

static void child(const char *path, int i, int report)
{
	char line[32];
	int fd;

	setsid();
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		_exit(2);
	snprintf(line, sizeof(line), "%d\n", i);
	if (write(report, line, strlen(line)) < 0)
		_exit(3);
	close(fd);
	if (unlink(path) != 0)
		_exit(4);
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *path;
	int n, timeout_s, fds[2], fd, granted = 0;
	pid_t *pids;
	time_t start;
	FILE *in;
	char line[32];

	if (argc != 4)
		return 2;
	path = argv[1];
	n = atoi(argv[2]);
	timeout_s = atoi(argv[3]);
	pids = calloc(n, sizeof(*pids));
	if (pids == NULL || pipe(fds) != 0)
		return 2;
	fd = open(path, O_WRONLY | O_CREAT | O_NONBLOCK, 0644);
	if (fd < 0) {
		perror("holding the lock");
		return 2;
	}
	close(fd);
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(fds[0]);
			child(path, i, fds[1]);
		}
	}
	close(fds[1]);
	start = time(NULL);
	while (waiters_of(path) < n && time(NULL) - start < timeout_s)
		usleep(100000);
	printf("queued %ld\n", waiters_of(path));
	fflush(stdout);
	if (getenv("WAITERS_HOLD_UNTIL")) {
		while (access(getenv("WAITERS_HOLD_UNTIL"), F_OK) != 0 &&
		       time(NULL) - start < timeout_s)
			usleep(50000);
		fd = open(path, O_WRONLY | O_NONBLOCK); /* renew: still ours */
		if (fd >= 0)
			close(fd);
	}
	if (unlink(path) != 0)
		perror("releasing");
	in = fdopen(fds[0], "r");
	alarm(timeout_s);
	while (fgets(line, sizeof(line), in))
		granted++;
	printf("granted %d\n", granted);
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	fclose(in);
	free(pids);
	return granted == n ? 0 : 1;
}
