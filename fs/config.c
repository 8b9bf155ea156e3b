/*
 * config.c - reading the configuration file (see config.h).
 *
 * Whether the file may hold secrets is decided from how it is opened (an
 * fstat of the open descriptor, so the check and the read see one file).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static bool valid_key(const char *k)
{
	if (*k == '\0')
		return false;
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-' &&
		    *k != '.')
			return false;
	return true;
}

static int add_entry(struct config *c, const char *key, const char *value,
		     int line)
{
	struct config_entry *grown =
		realloc(c->entries, (c->n + 1) * sizeof(*c->entries));

	if (grown == NULL)
		return -ENOMEM;
	c->entries = grown;
	grown[c->n].key = strdup(key);
	grown[c->n].value = strdup(value);
	grown[c->n].line = line;
	c->n++;
	if (grown[c->n - 1].key == NULL || grown[c->n - 1].value == NULL)
		return -ENOMEM;
	return 0;
}

/* A "#" that follows a space or a tab starts a comment: cut it off. */
static void cut_comment(char *s)
{
	for (char *p = s; *p; p++) {
		if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
}

/* One line (without its newline); 0 or -EINVAL after a message. */
static int parse_line(struct config *c, char *text, int line)
{
	char *s = trim(text), *eq, *key;

	if (*s == '\0' || *s == '#')
		return 0;
	eq = strchr(s, '=');
	if (eq == NULL) {
		fprintf(stderr, "lockfs: %s:%d: expected key = value\n",
			c->path, line);
		return -EINVAL;
	}
	*eq = '\0';
	cut_comment(eq + 1);
	key = trim(s);
	if (!valid_key(key)) {
		fprintf(stderr, "lockfs: %s:%d: bad key '%s'\n", c->path, line,
			key);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->entries[i].key, key) == 0) {
			fprintf(stderr, "lockfs: %s:%d: %s is set twice\n",
				c->path, line, key);
			return -EINVAL;
		}
	}
	return add_entry(c, key, trim(eq + 1), line);
}

int config_read(const char *path, struct config *c)
{
	FILE *f;
	struct stat st;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	int line = 0, err = 0;

	memset(c, 0, sizeof(*c));
	f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	c->path = strdup(path);
	if (c->path == NULL || fstat(fileno(f), &st) < 0) {
		err = -ENOMEM;
		goto out;
	}
	c->private_file = (st.st_uid == 0 || st.st_uid == geteuid()) &&
			  (st.st_mode & 077) == 0;
	while (err == 0 && (len = getline(&buf, &cap, f)) >= 0) {
		line++;
		if (memchr(buf, '\0', (size_t)len)) {
			fprintf(stderr, "lockfs: %s:%d: a NUL byte\n", path,
				line);
			err = -EINVAL;
			break;
		}
		buf[strcspn(buf, "\n")] = '\0';
		err = parse_line(c, buf, line);
	}
out:
	free(buf);
	fclose(f);
	if (err < 0)
		config_clear(c);
	return err;
}

void config_clear(struct config *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->entries[i].key);
		if (c->entries[i].value)
			explicit_bzero(c->entries[i].value,
				       strlen(c->entries[i].value));
		free(c->entries[i].value);
	}
	free(c->entries);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

bool config_url_has_password(const char *url)
{
	const char *auth = strstr(url, "://"), *end;

	if (auth == NULL)
		return false;
	auth += 3;
	end = auth + strcspn(auth, "/");
	for (const char *at = auth; at < end; at++)
		if (*at == '@')
			return memchr(auth, ':', (size_t)(at - auth)) != NULL;
	return false;
}

char *config_url_redacted(const char *url)
{
	const char *auth = strstr(url, "://"), *end, *at, *colon;
	char *out;

	if (!config_url_has_password(url))
		return strdup(url);
	auth += 3;
	end = auth + strcspn(auth, "/");
	at = auth;
	while (*at != '@')
		at++; /* there is one before `end`: it has a password */
	colon = memchr(auth, ':', (size_t)(at - auth));
	if (asprintf(&out, "%.*s:***%s", (int)(colon - url), url, at) < 0)
		return NULL;
	(void)end;
	return out;
}
