/*
 * name.h - lock names and the namespace tree.
 *
 * A path inside the mount is kept without a leading or trailing slash: the
 * root namespace is "", a namespace is "a/b", a lock file is "a/b/c" or
 * "a/b/.lock".  The *node* of a lock is the tree node it locks: "a/b/c" for
 * the file a/b/c, "a/b" for a/b/.lock and "" for /.lock.  Conflicts are
 * decided on nodes (equal, or one an ancestor of the other).
 *
 * Limits (the README): a component is 1..NAME_COMPONENT_MAX bytes of
 * anything but '/' and NUL; a whole path is at most NAME_PATH_MAX bytes and
 * NAME_DEPTH_MAX components.  ".lock" is reserved in every namespace and
 * ".lockfs" at the root.
 *
 * Every function here is pure: no I/O, no global state.  Strings returned
 * through char ** are malloc'd and owned by the caller.
 */
#ifndef LOCKFS_NAME_H
#define LOCKFS_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_COMPONENT_MAX 255
#define NAME_PATH_MAX 1024
#define NAME_DEPTH_MAX 32
#define NAME_DIR_LOCK ".lock"
#define NAME_CONTROL_DIR ".lockfs"

/*
 * Check one component of length `len`: 0, -EINVAL (empty, contains '/' or
 * NUL, or is "." / ".."), -ENAMETOOLONG (over 255 bytes).
 */
int name_check_component(const char *comp, size_t len);

/*
 * Join namespace `ns` ("" for the root) and component `comp` into a new path
 * in `*out`.  Checks the component and the limits of the joined path
 * (-ENAMETOOLONG past 1024 bytes or 32 components).  Returns 0 or -errno.
 */
int name_join(const char *ns, const char *comp, char **out);

/* Number of components of `path` ("" has 0). */
size_t name_depth(const char *path);

/* Last component of `path` (points into `path`); "" for the root. */
const char *name_base(const char *path);

/*
 * Parent of `path` as a new string in `*out` ("" for a one-component path).
 * -EINVAL for the root.
 */
int name_parent(const char *path, char **out);

/* True if `comp` (NUL-terminated) is ".lock". */
bool name_is_dir_lock(const char *comp);

/*
 * Lock node of the lock file `path`: a copy of the parent for ".../.lock",
 * otherwise a copy of `path`.  Returns 0 or -ENOMEM/-EINVAL.
 */
int name_lock_node(const char *path, char **node);

/*
 * Ancestors of `node`, root first, excluding `node` itself: for "a/b/c" they
 * are "", "a", "a/b".  Writes up to `max` lengths into `lens` (each ancestor
 * is the prefix of `node` of that length) and returns how many there are.
 */
size_t name_ancestor_lengths(const char *node, size_t *lens, size_t max);

/*
 * Is `node` equal to `other` or an ancestor/descendant of it?  (The
 * hierarchy conflict relation, ignoring modes.)
 */
bool name_nodes_related(const char *node, const char *other);

/*
 * Parse a path as written by a user in a lock-set line ("db/orders",
 * "/db/orders", "cfg/.lock"): leading slashes are dropped, empty components
 * ("a//b"), "." and "..", a ".lockfs" first component and every limit are
 * refused with -EINVAL or -ENAMETOOLONG.  A "/.lock" or ".lock" path names
 * the root lock.  The canonical path (no leading slash) is returned in `*out`.
 */
int name_parse_user_path(const char *text, size_t len, char **out);

/*
 * Escape `len` bytes of `in` for one `key=value` line: backslash as "\\",
 * newline as "\n", tab as "\t", other bytes below 0x20 and 0x7f as "\xHH";
 * everything else as is.  Returns a new NUL-terminated string or NULL.
 */
char *name_escape(const char *in, size_t len);

#endif
