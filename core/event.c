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
