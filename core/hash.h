/*
 * hash.h - the one string hash of lockfs (64-bit FNV-1a): routing keys of
 * lock nodes, the wait queue's index, inode tables and readdir's inode
 * numbers all use it, so that a name hashes the same everywhere.
 */
#ifndef LOCKFS_HASH_H
#define LOCKFS_HASH_H

#include <stdint.h>

static inline uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

#endif
