/*
 * fuzz_lockset.c - libFuzzer target for core/lockset.c.
 *
 * The input is one write to /.lockfs/acquire.  A model of lockset.h
 * (words split on spaces and tabs, an optional "shared:"/"exclusive:"
 * before a path that name_parse_user_path() accepts, 1..LOCKSET_MAX
 * words, no two on one lock node, no two along one branch unless both are
 * shared, one line) decides whether lockset_parse() must accept it; an
 * accepted set must hold exactly the model's paths and modes, in order,
 * each canonical.  A refused line must leave the set empty (so that
 * lockset_clear() on it is harmless), and nothing may leak either way.
 *
 * Two names on the same node are refused even when both are shared
 * ("shared:a/.lock shared:a"): lockset.h does not say so, but a file and a
 * namespace of one name cannot both exist, so such a set names something
 * that is not there.
 */
#include <errno.h>
#include <stdbool.h>

#include "fuzz.h"
#include "lockset.h"
#include "name.h"

/* The model.  0 and `*want` filled (caller clears it), or -EINVAL. */
static int model_parse(const char *line, size_t len, struct lockset *want)
{
	char *nodes[LOCKSET_MAX] = {0};
	size_t i = 0;
	int err = 0;

	memset(want, 0, sizeof(*want));
	if (len && line[len - 1] == '\n')
		len--;
	if (memchr(line, '\n', len) || memchr(line, '\0', len))
		return -EINVAL;
	while (i < len && err == 0) {
		size_t start, wlen;
		const char *w;
		enum lock_mode mode = LOCK_MODE_EXCLUSIVE;

		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		start = i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		if (i == start)
			break;
		w = line + start;
		wlen = i - start;
		/* a bare "shared:" is a lock of that name */
		if (wlen > 7 && memcmp(w, "shared:", 7) == 0) {
			mode = LOCK_MODE_SHARED;
			w += 7;
			wlen -= 7;
		} else if (wlen > 10 && memcmp(w, "exclusive:", 10) == 0) {
			w += 10;
			wlen -= 10;
		}
		if (want->n == LOCKSET_MAX ||
		    name_parse_user_path(w, wlen, &want->paths[want->n]) < 0 ||
		    name_lock_node(want->paths[want->n], &nodes[want->n]) < 0) {
			err = -EINVAL;
			if (want->n < LOCKSET_MAX)
				free(want->paths[want->n]);
			break;
		}
		want->modes[want->n] = mode;
		for (size_t j = 0; j < want->n && err == 0; j++) {
			bool same = strcmp(nodes[j], nodes[want->n]) == 0;
			bool both_shared = mode == LOCK_MODE_SHARED &&
					   want->modes[j] == LOCK_MODE_SHARED;

			if (same ||
			    (name_nodes_related(nodes[j], nodes[want->n]) &&
			     !both_shared))
				err = -EINVAL;
		}
		if (err) {
			free(want->paths[want->n]);
			free(nodes[want->n]);
			break;
		}
		want->n++;
	}
	for (size_t j = 0; j < want->n; j++)
		free(nodes[j]);
	if (err == 0 && want->n == 0)
		err = -EINVAL;
	if (err)
		lockset_clear(want);
	return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_exact(data, size);
	struct lockset set, want;
	int model = model_parse(line, size, &want);
	int err = lockset_parse(line, size, &set);

	FUZZ_CHECK(err == model);
	if (err == 0) {
		FUZZ_CHECK(set.n >= 1 && set.n <= LOCKSET_MAX);
		FUZZ_CHECK(set.n == want.n);
		for (size_t i = 0; i < set.n; i++) {
			const char *p = set.paths[i];
			char *again = NULL;

			FUZZ_CHECK(strcmp(p, want.paths[i]) == 0);
			FUZZ_CHECK(set.modes[i] == want.modes[i]);
			FUZZ_CHECK(name_parse_user_path(p, strlen(p), &again) ==
				   0);
			FUZZ_CHECK(strcmp(again, p) == 0);
			free(again);
		}
	} else {
		FUZZ_CHECK(err == -EINVAL);
		FUZZ_CHECK(set.n == 0);
	}
	lockset_clear(&set);
	lockset_clear(&want);
	free(line);
	return 0;
}
