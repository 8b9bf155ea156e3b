/*
 * event.c - formatting of event lines (see event.h).
 */
#include "event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"

/* name_escape(), then spaces as "\x20": one word per field. */
static char *escape_word(const char *s)
{
	char *esc = name_escape(s, strlen(s)), *out, *p;
	size_t spaces = 0;

	if (esc == NULL)
		return NULL;
	for (p = esc; *p; p++)
		spaces += *p == ' ';
	out = malloc(strlen(esc) + 3 * spaces + 1);
	if (out == NULL) {
		free(esc);
		return NULL;
	}
	p = out;
	for (const char *q = esc; *q; q++) {
		if (*q == ' ') {
			memcpy(p, "\\x20", 4);
			p += 4;
		} else {
			*p++ = *q;
		}
	}
	*p = '\0';
	free(esc);
	return out;
}

int event_format(int64_t time_ms, const char *event, const char *name,
		 int64_t token, const char *node, uid_t uid,
		 enum lock_mode mode, char **line, size_t *len)
{
	char *word = escape_word(name);
	int n;

	if (word == NULL)
		return -ENOMEM;
	n = asprintf(line, "%lld.%03lld %s %s %lld %s %u %s\n",
		     (long long)(time_ms / 1000), (long long)(time_ms % 1000),
		     event, *word ? word : "/", (long long)token, node,
		     (unsigned)uid, lock_mode_name(mode));
	free(word);
	if (n < 0)
		return -ENOMEM;
	*len = n;
	return 0;
}

int event_outcome(char *const *names, const int64_t *tokens, size_t n,
		  int err, char **line, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int rc = 0;

	if (f == NULL)
		return -ENOMEM;
	if (err < 0) {
		/* EDEADLK, not its alias EDEADLOCK, as the README says */
		const char *name = err == -EDEADLK ? "EDEADLK"
						   : strerrorname_np(-err);

		fprintf(f, "error %s", name ? name : "EIO");
	} else {
		fputs("granted", f);
	}
	for (size_t i = 0; err == 0 && i < n && rc == 0; i++) {
		char *word = escape_word(names[i]);

		if (word == NULL)
			rc = -ENOMEM;
		else
			fprintf(f, " %s=%lld", word, (long long)tokens[i]);
		free(word);
	}
	fputc('\n', f);
	if (fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*line = buf;
	*len = size;
	return 0;
}
