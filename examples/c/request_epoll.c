/*
 * request_epoll.c - wait for many lockfs locks from one thread with epoll,
 * through request handles (MOUNT/.lockfs/request).
 *
 *   cc -Wall -o request_epoll request_epoll.c
 *   ./request_epoll MOUNT LOCK [LOCK...]
 *
 * Opens one request handle per LOCK, writes the lock's name to each (the
 * write queues the request and returns at once), then sleeps in one
 * epoll_wait for all of them.  Each handle becomes readable once its
 * request has ended; reading it gives "granted NAME=TOKEN" or
 * "error ERRNAME", printed as it comes.  A granted lock is an ordinary
 * lease of this process's session: it stays held after the handle is
 * closed, until rm (here: unlink once all have come).  Exit status 0 when
 * every lock was granted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_LOCKS 1024

int main(int argc, char **argv)
{
	int fds[MAX_LOCKS], ep, pending = 0, granted = 0, n = argc - 2;
	char path[4096];

	if (argc < 3 || n > MAX_LOCKS) {
		fprintf(stderr, "usage: %s MOUNT LOCK [LOCK...]\n", argv[0]);
		return 2;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("epoll_create1");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/.lockfs/request", argv[1]);
	for (int i = 0; i < n; i++) {
		const char *name = argv[i + 2];
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};

		fds[i] = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fds[i] < 0) {
			perror(path);
			return 1;
		}
		/* one line: queued (or granted) when write returns */
		if (dprintf(fds[i], "%s\n", name) < 0) {
			fprintf(stderr, "%s: %s\n", name, strerror(errno));
			close(fds[i]);
			fds[i] = -1;
			continue;
		}
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
			perror("epoll_ctl");
			return 1;
		}
		pending++;
	}
	printf("queued %d requests\n", pending);
	fflush(stdout);
	while (pending > 0) {
		struct epoll_event evs[64];
		int ready = epoll_wait(ep, evs, 64, -1);

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0) {
			perror("epoll_wait");
			return 1;
		}
		for (int k = 0; k < ready; k++) {
			int i = (int)evs[k].data.u32;
			char line[4096];
			ssize_t len = read(fds[i], line, sizeof(line) - 1);

			if (len < 0 && errno == EAGAIN)
				continue; /* not yet */
			if (len < 0) {
				perror("read");
				len = 0;
			}
			line[len] = '\0';
			printf("%s", line);
			fflush(stdout);
			granted += strncmp(line, "granted ", 8) == 0;
			close(fds[i]); /* after the grant: the lock stays held */
			fds[i] = -1;
			pending--;
		}
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", argv[1], argv[i + 2]);
		unlink(path);
	}
	close(ep);
	return granted == n ? 0 : 1;
}
