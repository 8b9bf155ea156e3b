/*
 * fuzz_name.c - libFuzzer target for core/name.c.
 *
 * The input is a path as a user writes it in a lock-set line.  Whatever
 * name_parse_user_path() makes of it is compared with a model of the
 * name rules written here from name.h: accepted exactly when every limit and
 * reserved name allows it, and then the canonical path is the input without
 * its leading slashes (names are never mangled).  An accepted path must
 * round-trip through parse, parent/base/join, and its lock node and
 * ancestors must relate to it as the tree says.  The same bytes are also
 * checked as one component, and escaped with name_escape(), whose output
 * must be one line of printable bytes that unescapes to the input.  Input
 * with a space is additionally split into two paths whose nodes are
 * checked for the conflict relation both ways.
 */
#include <errno.h>
#include <stdbool.h>

#include "fuzz.h"
#include "name.h"

/* name_check_component() against its header. */
static void check_component(const char *s, size_t len)
{
	bool bad = len == 0 || memchr(s, '/', len) || memchr(s, '\0', len) ||
		   (len == 1 && s[0] == '.') ||
		   (len == 2 && s[0] == '.' && s[1] == '.');
	int err = name_check_component(s, len);

	if (len > NAME_COMPONENT_MAX)
		FUZZ_CHECK(err == -ENAMETOOLONG || (bad && err == -EINVAL));
	else if (bad)
		FUZZ_CHECK(err == -EINVAL);
	else
		FUZZ_CHECK(err == 0);
}

/*
 * The model: 0 if the user path `s` is valid, -ENAMETOOLONG if it breaks
 * only length limits, -EINVAL if it is malformed otherwise (whichever
 * limits it breaks too; the parser may then report either, as it stops at
 * the first problem it meets).  `*canon` points at the canonical path
 * inside `s`.
 */
static int model_user_path(const char *s, size_t len, const char **canon)
{
	size_t start = 0, depth = 0, i;
	bool too_long = false, bad = false;

	while (start < len && s[start] == '/')
		start++;
	*canon = s + start;
	if (memchr(s, '\0', len) || start == len)
		return -EINVAL;
	if (len - start > NAME_PATH_MAX)
		too_long = true;
	for (i = start; i <= len; i++) {
		size_t c = i, clen;

		while (i < len && s[i] != '/')
			i++;
		clen = i - c;
		depth++;
		if (clen == 0) /* "a//b" or a trailing slash */
			bad = true;
		if ((clen == 1 && s[c] == '.') ||
		    (clen == 2 && s[c] == '.' && s[c + 1] == '.'))
			bad = true;
		if (c == start && clen == strlen(NAME_CONTROL_DIR) &&
		    memcmp(s + c, NAME_CONTROL_DIR, clen) == 0)
			bad = true;
		if (i < len && clen == strlen(NAME_DIR_LOCK) &&
		    memcmp(s + c, NAME_DIR_LOCK, clen) == 0)
			bad = true; /* ".lock" only as the last component */
		if (clen > NAME_COMPONENT_MAX)
			too_long = true;
	}
	if (depth > NAME_DEPTH_MAX)
		too_long = true;
	return bad ? -EINVAL : too_long ? -ENAMETOOLONG : 0;
}

/* Checks on a valid canonical path `p`. */
static void check_valid_path(const char *p)
{
	size_t len = strlen(p), depth = name_depth(p), n, i;
	size_t lens[NAME_DEPTH_MAX + 2];
	const char *base = name_base(p);
	char *again = NULL, *parent = NULL, *joined = NULL, *node = NULL;
	char *slashed;

	FUZZ_CHECK(len > 0 && len <= NAME_PATH_MAX);
	FUZZ_CHECK(p[0] != '/' && p[len - 1] != '/' && !strstr(p, "//"));
	FUZZ_CHECK(depth >= 1 && depth <= NAME_DEPTH_MAX);
	FUZZ_CHECK(name_check_component(base, strlen(base)) == 0);

	/* parsing is idempotent, with or without a leading slash */
	FUZZ_CHECK(name_parse_user_path(p, len, &again) == 0);
	FUZZ_CHECK(strcmp(again, p) == 0);
	free(again);
	slashed = malloc(len + 2);
	FUZZ_CHECK(slashed != NULL);
	slashed[0] = '/';
	memcpy(slashed + 1, p, len + 1);
	FUZZ_CHECK(name_parse_user_path(slashed, len + 1, &again) == 0);
	FUZZ_CHECK(strcmp(again, p) == 0);
	free(again);
	free(slashed);

	/* parent + base joins back to the path */
	FUZZ_CHECK(name_parent(p, &parent) == 0);
	FUZZ_CHECK(name_depth(parent) == depth - 1);
	FUZZ_CHECK(name_join(parent, base, &joined) == 0);
	FUZZ_CHECK(strcmp(joined, p) == 0);

	/* the lock node is the path, or its parent for a ".lock" */
	FUZZ_CHECK(name_lock_node(p, &node) == 0);
	if (name_is_dir_lock(base))
		FUZZ_CHECK(strcmp(node, parent) == 0);
	else
		FUZZ_CHECK(strcmp(node, p) == 0);
	FUZZ_CHECK(name_nodes_related(node, p) && name_nodes_related(p, node));
	FUZZ_CHECK(name_nodes_related("", node));

	/* ancestors: root first, each a proper prefix ending at a '/' */
	n = name_ancestor_lengths(node, lens, sizeof(lens) / sizeof(lens[0]));
	FUZZ_CHECK(n == name_depth(node));
	for (i = 0; i < n; i++) {
		char *anc = strndup(node, lens[i]);

		FUZZ_CHECK(anc != NULL);
		FUZZ_CHECK(i == 0
			       ? lens[i] == 0
			       : lens[i] > lens[i - 1] && node[lens[i]] == '/');
		FUZZ_CHECK(name_depth(anc) == i);
		FUZZ_CHECK(name_nodes_related(anc, node));
		free(anc);
	}
	free(node);
	free(joined);
	free(parent);
}

static void check_user_path(const char *s, size_t len)
{
	const char *canon = NULL;
	char *out = NULL;
	int want = model_user_path(s, len, &canon);
	int err = name_parse_user_path(s, len, &out);

	if (want == 0) {
		FUZZ_CHECK(err == 0);
		FUZZ_CHECK(strlen(out) == len - (size_t)(canon - s));
		FUZZ_CHECK(memcmp(out, canon, strlen(out)) == 0);
		check_valid_path(out);
		free(out);
	} else {
		FUZZ_CHECK(err == -EINVAL || err == -ENAMETOOLONG);
		if (want == -ENAMETOOLONG)
			FUZZ_CHECK(err == -ENAMETOOLONG);
	}
}

/* Is `a` equal to `b` or an ancestor or descendant of it, by components? */
static bool model_related(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la == 0 || lb == 0)
		return true;
	if (la > lb)
		return model_related(b, a);
	return strncmp(a, b, la) == 0 && (b[la] == '\0' || b[la] == '/');
}

static void check_pair(const char *s, size_t len)
{
	const char *sp = memchr(s, ' ', len);
	char *a = NULL, *b = NULL, *na = NULL, *nb = NULL;

	if (sp == NULL)
		return;
	if (name_parse_user_path(s, sp - s, &a) == 0 &&
	    name_parse_user_path(sp + 1, len - (sp + 1 - s), &b) == 0 &&
	    name_lock_node(a, &na) == 0 && name_lock_node(b, &nb) == 0) {
		bool r = name_nodes_related(na, nb);

		FUZZ_CHECK(r == name_nodes_related(nb, na));
		FUZZ_CHECK(r == model_related(na, nb));
	}
	free(na);
	free(nb);
	free(a);
	free(b);
}

/* Undo name_escape(); -1 on a sequence it never produces. */
static long unescape(const char *e, char *out)
{
	long n = 0;

	while (*e) {
		unsigned int v;

		if (*e != '\\') {
			out[n++] = *e++;
			continue;
		}
		e++;
		if (*e == '\\' || *e == 'n' || *e == 't') {
			out[n++] = *e == 'n' ? '\n' : *e == 't' ? '\t' : '\\';
			e++;
		} else if (*e == 'x' && sscanf(e + 1, "%2x", &v) == 1 && e[1] &&
			   e[2]) {
			out[n++] = (char)v;
			e += 3;
		} else {
			return -1;
		}
	}
	return n;
}

static void check_escape(const char *s, size_t len)
{
	char *e = name_escape(s, len), *back;

	FUZZ_CHECK(e != NULL);
	FUZZ_CHECK(strlen(e) <= 4 * len);
	for (const char *p = e; *p; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	back = malloc(strlen(e) + 1);
	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(unescape(e, back) == (long)len);
	FUZZ_CHECK(memcmp(back, s, len) == 0);
	free(back);
	free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *exact = fuzz_exact(data, size);
	char *cstr = fuzz_cstr(data, size);

	check_component(exact, size);
	check_user_path(exact, size);
	check_pair(exact, size);
	check_escape(exact, size);
	/* the C-string helpers must cope with any string, valid or not */
	(void)name_depth(cstr);
	(void)name_base(cstr);
	free(exact);
	free(cstr);
	return 0;
}
