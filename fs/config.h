/*
 * config.h - the lockfs configuration file (default /etc/lockfs.conf).
 *
 * One option per line, `key = value` (spaces around `=` optional), the
 * keys being the -o option names; `#` starts a comment line, a `#` after
 * a space or a tab ends a value (and starts a comment); blank lines are
 * skipped.  The reader only splits and checks the syntax; options.c
 * decides what each key means, so the same checks apply to a value from
 * the file and from the command line.
 */
#ifndef LOCKFS_CONFIG_H
#define LOCKFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_DEFAULT_PATH "/etc/lockfs.conf"

struct config_entry {
	char *key;
	char *value;
	int line;
};

struct config {
	char *path;
	struct config_entry *entries;
	size_t n;
	bool private_file; /* owned by root or us, no group/other access */
};

/*
 * Read `path` into `*c`.  Returns 0, -ENOENT when it does not exist, or
 * -EINVAL after printing "lockfs: FILE:LINE: ..." for a malformed line
 * (or another -errno with a message).
 */
int config_read(const char *path, struct config *c);
void config_clear(struct config *c);

/* Does `url` carry a password (scheme://user:password@host...)? */
bool config_url_has_password(const char *url);

/* A copy of `url` fit for logs: any password replaced by "***". */
char *config_url_redacted(const char *url);

#endif
