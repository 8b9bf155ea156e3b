/*
 * http_addr.c - parse http=[ADDR:]PORT and bind its socket (see
 * http_addr.h).  Plain sockets and getaddrinfo(); no libevent.
 */
#include "http_addr.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* [ADDR:]PORT into host and port strings: 0 or -EINVAL. */
static int split_spec(const char *spec, char *host, size_t hostlen,
		      char *port, size_t portlen)
{
	const char *colon, *p;
	size_t n;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		n = close - spec - 1;
		p = close + 2;
		if (n == 0 || n >= hostlen)
			return -EINVAL;
		memcpy(host, spec + 1, n);
		host[n] = '\0';
	} else if ((colon = strrchr(spec, ':')) != NULL) {
		n = colon - spec;
		p = colon + 1;
		if (n == 0 || n >= hostlen || memchr(spec, ':', n))
			return -EINVAL; /* an IPv6 address needs brackets */
		memcpy(host, spec, n);
		host[n] = '\0';
	} else {
		snprintf(host, hostlen, "127.0.0.1");
		p = spec;
	}
	n = strlen(p);
	if (n == 0 || n >= portlen || strspn(p, "0123456789") != n ||
	    atol(p) > 65535)
		return -EINVAL;
	memcpy(port, p, n + 1);
	return 0;
}

int http_check_spec(const char *spec)
{
	char host[256], port[8];

	return split_spec(spec, host, sizeof(host), port, sizeof(port));
}

int http_listen(const char *spec, int *fd, char *why, size_t whylen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *ai = NULL;
	char host[256], port[8];
	int err, s = -1, one = 1;

	if (split_spec(spec, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(why, whylen, "http=%s: not [ADDR:]PORT", spec);
		return -EINVAL;
	}
	err = getaddrinfo(host, port, &hints, &ai);
	if (err != 0) {
		snprintf(why, whylen, "http=%s: %s", spec, gai_strerror(err));
		return -EINVAL;
	}
	err = -EADDRNOTAVAIL;
	for (struct addrinfo *a = ai; a && s < 0; a = a->ai_next) {
		s = socket(a->ai_family,
			   a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s < 0) {
			err = -errno;
			continue;
		}
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, a->ai_addr, a->ai_addrlen) < 0 ||
		    listen(s, 128) < 0) {
			err = -errno;
			close(s);
			s = -1;
		}
	}
	freeaddrinfo(ai);
	if (s < 0) {
		snprintf(why, whylen, "http=%s: %s", spec, strerror(-err));
		return err;
	}
	*fd = s;
	return 0;
}
