/*
 * inode.c - the inode table (see inode.h): two chained hash tables over the
 * same inodes, one by number and one by path, grown when they fill.
 */
#include "inode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define FIRST_DYNAMIC_INO 64

struct inode_table {
	struct inode **by_ino, **by_path;
	size_t nbuckets, count;
	uint64_t next_ino;
};

static uint64_t hash_path(const char *s)
{
	return hash_str(s);
}

static size_t bucket_ino(const struct inode_table *t, uint64_t ino)
{
	return (ino * 11400714819323198485ULL) % t->nbuckets;
}

static size_t bucket_path(const struct inode_table *t, const char *path)
{
	return hash_path(path) % t->nbuckets;
}

static void link_in(struct inode_table *t, struct inode *in)
{
	size_t bi = bucket_ino(t, in->ino), bp = bucket_path(t, in->path);

	in->next_by_ino = t->by_ino[bi];
	t->by_ino[bi] = in;
	in->next_by_path = t->by_path[bp];
	t->by_path[bp] = in;
}

static int grow(struct inode_table *t)
{
	struct inode **old = t->by_ino;
	size_t oldn = t->nbuckets, n = oldn ? oldn * 2 : 256;
	struct inode **bi = calloc(n, sizeof(*bi));
	struct inode **bp = calloc(n, sizeof(*bp));

	if (bi == NULL || bp == NULL) {
		free(bi);
		free(bp);
		return -ENOMEM;
	}
	free(t->by_path);
	t->by_ino = bi;
	t->by_path = bp;
	t->nbuckets = n;
	for (size_t i = 0; i < oldn; i++) {
		struct inode *in = old[i], *next;

		for (; in; in = next) {
			next = in->next_by_ino;
			link_in(t, in);
		}
	}
	free(old);
	return 0;
}

int inodes_new(struct inode_table **out)
{
	struct inode_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -ENOMEM;
	t->next_ino = FIRST_DYNAMIC_INO;
	if (grow(t) < 0) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void inodes_free(struct inode_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct inode *in = t->by_ino[i], *next;

		for (; in; in = next) {
			next = in->next_by_ino;
			free(in->path);
			free(in);
		}
	}
	free(t->by_ino);
	free(t->by_path);
	free(t);
}

struct inode *inodes_get(struct inode_table *t, uint64_t ino)
{
	struct inode *in = t->by_ino[bucket_ino(t, ino)];

	while (in && in->ino != ino)
		in = in->next_by_ino;
	return in;
}

struct inode *inodes_find(struct inode_table *t, const char *path)
{
	struct inode *in = t->by_path[bucket_path(t, path)];

	while (in && strcmp(in->path, path) != 0)
		in = in->next_by_path;
	return in;
}

static struct inode *add(struct inode_table *t, uint64_t ino,
			 const char *path, enum inode_kind kind)
{
	struct inode *in;

	if (t->count >= t->nbuckets && grow(t) < 0)
		return NULL;
	in = calloc(1, sizeof(*in));
	if (in == NULL)
		return NULL;
	in->path = strdup(path);
	if (in->path == NULL) {
		free(in);
		return NULL;
	}
	in->ino = ino;
	in->kind = kind;
	link_in(t, in);
	t->count++;
	return in;
}

struct inode *inodes_intern(struct inode_table *t, const char *path,
			    enum inode_kind kind)
{
	struct inode *in = inodes_find(t, path);

	if (in) {
		if (!in->permanent)
			in->kind = kind;
		return in;
	}
	return add(t, t->next_ino++, path, kind);
}

struct inode *inodes_add_permanent(struct inode_table *t, uint64_t ino,
				   const char *path, enum inode_kind kind,
				   int control_id)
{
	struct inode *in = add(t, ino, path, kind);

	if (in) {
		in->permanent = true;
		in->control_id = control_id;
	}
	return in;
}

static void unlink_from(struct inode **head, struct inode *in, bool by_ino)
{
	struct inode **pp = head;

	while (*pp && *pp != in)
		pp = by_ino ? &(*pp)->next_by_ino : &(*pp)->next_by_path;
	if (*pp)
		*pp = by_ino ? in->next_by_ino : in->next_by_path;
}

void inodes_drop_if_unused(struct inode_table *t, struct inode *in)
{
	if (in == NULL || in->permanent || in->nlookup || in->opens)
		return;
	unlink_from(&t->by_ino[bucket_ino(t, in->ino)], in, true);
	unlink_from(&t->by_path[bucket_path(t, in->path)], in, false);
	t->count--;
	free(in->path);
	free(in);
}

void inodes_ref(struct inode *in)
{
	in->nlookup++;
}

void inodes_forget(struct inode_table *t, uint64_t ino, uint64_t n)
{
	struct inode *in = inodes_get(t, ino);

	if (in == NULL)
		return;
	in->nlookup = n >= in->nlookup ? 0 : in->nlookup - n;
	inodes_drop_if_unused(t, in);
}

void inodes_open(struct inode *in)
{
	in->opens++;
}

void inodes_close(struct inode_table *t, struct inode *in)
{
	if (in->opens)
		in->opens--;
	inodes_drop_if_unused(t, in);
}

size_t inodes_count(const struct inode_table *t)
{
	return t->count;
}
