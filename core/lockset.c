/*
 * lockset.c - parsing lock-set lines (see lockset.h).
 */
#include "lockset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"

void lockset_clear(struct lockset *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->paths[i]);
	memset(set, 0, sizeof(*set));
}

/* Do members `i` and `j` conflict with each other? */
static int members_clash(const struct lockset *set, size_t i, size_t j)
{
	char *a = NULL, *b = NULL;
	int clash = 1;

	if (name_lock_node(set->paths[i], &a) == 0 &&
	    name_lock_node(set->paths[j], &b) == 0)
		clash = strcmp(a, b) == 0 ||
			(name_nodes_related(a, b) &&
			 !(set->modes[i] == LOCK_MODE_SHARED &&
			   set->modes[j] == LOCK_MODE_SHARED));
	free(a);
	free(b);
	return clash;
}

static int add_member(struct lockset *set, const char *word, size_t len)
{
	enum lock_mode mode = LOCK_MODE_EXCLUSIVE;

	if (len > 7 && memcmp(word, "shared:", 7) == 0) {
		mode = LOCK_MODE_SHARED;
		word += 7;
		len -= 7;
	} else if (len > 10 && memcmp(word, "exclusive:", 10) == 0) {
		word += 10;
		len -= 10;
	}
	if (set->n == LOCKSET_MAX ||
	    name_parse_user_path(word, len, &set->paths[set->n]) < 0)
		return -EINVAL;
	set->modes[set->n] = mode;
	for (size_t i = 0; i < set->n; i++)
		if (members_clash(set, i, set->n)) {
			free(set->paths[set->n]);
			return -EINVAL;
		}
	set->n++;
	return 0;
}

int lockset_parse(const char *line, size_t len, struct lockset *set)
{
	size_t i = 0;
	int err = 0;

	memset(set, 0, sizeof(*set));
	if (len && line[len - 1] == '\n')
		len--;
	if (memchr(line, '\n', len) || memchr(line, '\0', len))
		return -EINVAL;
	while (i < len && err == 0) {
		size_t start;

		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		start = i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		if (i > start)
			err = add_member(set, line + start, i - start);
	}
	if (err == 0 && set->n == 0)
		err = -EINVAL;
	if (err < 0)
		lockset_clear(set);
	return err;
}
