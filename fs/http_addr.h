/*
 * http_addr.h - the address half of http=[ADDR:]PORT: checking the
 * option's value and opening its listening socket, kept apart from the
 * server (http.h) so that the option parser, which checks the value, needs
 * no event loop (the fuzz target of tests/fuzz links the parser alone).
 */
#ifndef LOCKFS_HTTP_ADDR_H
#define LOCKFS_HTTP_ADDR_H

#include <stddef.h>

/*
 * Check `spec` ([ADDR:]PORT, ADDR a name, an IPv4 address or [IPv6]; no
 * ADDR: 127.0.0.1; PORT 0 lets the kernel choose): 0 or -EINVAL.
 */
int http_check_spec(const char *spec);

/*
 * Open the listening socket for `spec` now, before the daemon detaches,
 * so that a port in use fails the mount.  0 with `*fd`, or -errno with a
 * message in `why`.
 */
int http_listen(const char *spec, int *fd, char *why, size_t whylen);

#endif
