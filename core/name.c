/*
 * name.c - lock names and the namespace tree (see name.h).
 *
 * Paths are plain C strings without leading or trailing slashes; every
 * check of the README's limits lives here so the daemon and the
 * lock-set parser refuse the same things with the same errno.
 */
#include "name.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int name_check_component(const char *comp, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > NAME_COMPONENT_MAX)
		return -ENAMETOOLONG;
	if (memchr(comp, '/', len) || memchr(comp, '\0', len))
		return -EINVAL;
	if ((len == 1 && comp[0] == '.') ||
	    (len == 2 && comp[0] == '.' && comp[1] == '.'))
		return -EINVAL;
	return 0;
}

size_t name_depth(const char *path)
{
	size_t n = 0;

	if (*path == '\0')
		return 0;
	for (const char *p = path; *p; p++)
		n += *p == '/';
	return n + 1;
}

int name_join(const char *ns, const char *comp, char **out)
{
	size_t nlen = strlen(ns), clen = strlen(comp), len;
	char *p;
	int err = name_check_component(comp, clen);

	if (err < 0)
		return err;
	len = nlen ? nlen + 1 + clen : clen;
	if (len > NAME_PATH_MAX || name_depth(ns) + 1 > NAME_DEPTH_MAX)
		return -ENAMETOOLONG;
	p = malloc(len + 1);
	if (p == NULL)
		return -ENOMEM;
	if (nlen) {
		memcpy(p, ns, nlen);
		p[nlen] = '/';
		memcpy(p + nlen + 1, comp, clen + 1);
	} else {
		memcpy(p, comp, clen + 1);
	}
	*out = p;
	return 0;
}

const char *name_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int name_parent(const char *path, char **out)
{
	const char *slash = strrchr(path, '/');

	if (*path == '\0')
		return -EINVAL;
	*out = slash ? strndup(path, slash - path) : strdup("");
	return *out ? 0 : -ENOMEM;
}

bool name_is_dir_lock(const char *comp)
{
	return strcmp(comp, NAME_DIR_LOCK) == 0;
}

int name_lock_node(const char *path, char **node)
{
	if (*path == '\0')
		return -EINVAL;
	if (name_is_dir_lock(name_base(path)))
		return name_parent(path, node);
	*node = strdup(path);
	return *node ? 0 : -ENOMEM;
}

size_t name_ancestor_lengths(const char *node, size_t *lens, size_t max)
{
	size_t n = 0;

	if (*node == '\0')
		return 0;
	if (n < max)
		lens[n] = 0;
	n++;
	for (const char *p = node; *p; p++) {
		if (*p != '/')
			continue;
		if (n < max)
			lens[n] = p - node;
		n++;
	}
	return n;
}

bool name_nodes_related(const char *node, const char *other)
{
	size_t a = strlen(node), b = strlen(other);
	const char *shorter = a <= b ? node : other;
	const char *longer = a <= b ? other : node;
	size_t s = a <= b ? a : b;

	if (s == 0)
		return true; /* the root is everyone's ancestor */
	if (strncmp(shorter, longer, s) != 0)
		return false;
	return longer[s] == '\0' || longer[s] == '/';
}

int name_parse_user_path(const char *text, size_t len, char **out)
{
	char *path = NULL, *next = NULL;
	size_t start = 0;
	int err = 0;

	while (start < len && text[start] == '/')
		start++;
	if (memchr(text, '\0', len))
		return -EINVAL;
	path = strdup("");
	if (path == NULL)
		return -ENOMEM;
	while (start < len) {
		size_t end = start;
		char *comp;

		while (end < len && text[end] != '/')
			end++;
		if (end == start) { /* "a//b" or a trailing slash */
			err = -EINVAL;
			goto fail;
		}
		comp = strndup(text + start, end - start);
		if (comp == NULL) {
			err = -ENOMEM;
			goto fail;
		}
		if (*path == '\0' && strcmp(comp, NAME_CONTROL_DIR) == 0)
			err = -EINVAL;
		else if (strcmp(comp, NAME_DIR_LOCK) == 0 && end < len)
			err = -EINVAL; /* ".lock" only as the last component */
		else
			err = name_join(path, comp, &next);
		free(comp);
		if (err < 0)
			goto fail;
		free(path);
		path = next;
		start = end + 1;
		if (end == len)
			break;
		if (start == len) { /* trailing slash */
			err = -EINVAL;
			goto fail;
		}
	}
	if (*path == '\0') {
		err = -EINVAL;
		goto fail;
	}
	*out = path;
	return 0;
fail:
	free(path);
	return err;
}

char *name_escape(const char *in, size_t len)
{
	char *out = malloc(len * 4 + 1), *p = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = in[i];

		if (c == '\\') {
			*p++ = '\\';
			*p++ = '\\';
		} else if (c == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else if (c == '\t') {
			*p++ = '\\';
			*p++ = 't';
		} else if (c < 0x20 || c == 0x7f) {
			p += sprintf(p, "\\x%02x", c);
		} else {
			*p++ = c;
		}
	}
	*p = '\0';
	return out;
}
