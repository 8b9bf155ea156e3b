/*
 * lockset.h - a lock-set line as written to /.lockfs/acquire (README):
 *
 *   db/customers db/orders shared:cfg/.lock
 *
 * Names separated by spaces or tabs, each an optional "shared:" or
 * "exclusive:" and a path inside the mount (a leading '/' is fine), one
 * line (a final newline is fine).  Refused with -EINVAL, whatever is wrong:
 * an empty line, more than one line, a bad name (name_parse_user_path()),
 * more than LOCKSET_MAX names, the same lock twice, or two names along one
 * branch of the tree unless both are shared (they would conflict with each
 * other).  Pure; the caller frees with lockset_clear().
 */
#ifndef LOCKFS_LOCKSET_H
#define LOCKFS_LOCKSET_H

#include <stddef.h>

#include "info.h"

#define LOCKSET_MAX 64

struct lockset {
	size_t n;
	char *paths[LOCKSET_MAX];
	enum lock_mode modes[LOCKSET_MAX];
};

int lockset_parse(const char *line, size_t len, struct lockset *set);
void lockset_clear(struct lockset *set);

#endif
