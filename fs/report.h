/*
 * report.h - this node's status and metrics as text (report.c), for the
 * control files and the HTTP endpoints alike.
 */
#ifndef LOCKFS_REPORT_H
#define LOCKFS_REPORT_H

#include "lockfs.h"

/* The text, into a new buffer (free() it): 0 or -ENOMEM. */
int report_status(struct lockfs *fs, char **text, size_t *len);
int report_metrics(struct lockfs *fs, char **text, size_t *len);

#endif
