/*
 * lockfs.h - the daemon's one context object, shared by the FUSE operations
 * (ops.c), the control directory (control.c) and main.c.
 *
 * Everything in it is owned by main() and touched only on the loop thread:
 * the FUSE session's requests, the store's replies and every timer are all
 * dispatched by one libevent base, so nothing here needs a lock.
 */
#ifndef LOCKFS_LOCKFS_H
#define LOCKFS_LOCKFS_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <sys/queue.h>

#include "inode.h"
#include "metrics.h"
#include "node.h"
#include "owner.h"
#include "options.h"

struct event_base;
struct node;

/* Permanent inode numbers. */
#define INO_ROOT FUSE_ROOT_ID
#define INO_CONTROL_DIR 2
#define INO_CONTROL_STATUS 3
#define INO_CONTROL_EVENTS 4
#define INO_CONTROL_ACQUIRE 5
#define INO_CONTROL_METRICS 6
#define INO_CONTROL_REQUEST 7

enum control_file {
	CONTROL_STATUS = 1,
	CONTROL_EVENTS = 2,
	CONTROL_ACQUIRE = 3,
	CONTROL_METRICS = 4,
	CONTROL_REQUEST = 5,
};

struct event_reader;
struct http;
struct request;

struct lockfs {
	const struct options *opt;
	struct event_base *base;
	struct fuse_session *se;
	struct inode_table *inodes;
	struct event_reader *readers; /* open /.lockfs/events, a list */
	size_t nreaders;              /* how many (control.c) */
	struct inode *retry_pins; /* inodes pinned by create retries (ops.c) */
	const char *procfs;
	int64_t started_ms;
	/* the mount root's attributes as Redis last gave them (ops.c) */
	struct ns_attr root_attr;
	struct node *node; /* grants, ends and events (core/node.h) */
	struct http *http; /* http=: the HTTP endpoints (http.h), or NULL */
	/* open control files: freed at exit when the kernel never released
	 * them (a mount detached while they were open) */
	LIST_HEAD(, handle) control_handles;
};

enum handle_type {
	HANDLE_LOCK,
	HANDLE_PLACEHOLDER,
	HANDLE_CONTROL,
	HANDLE_DIR,
};

#define HANDLE_LOCKS_MAX 4

/* What an open file (or directory) remembers. */
struct handle {
	enum handle_type type;
	struct inode *in;
	bool writer;         /* took or renewed the lease at open */
	struct owner owner;  /* the lease's owner, for writes */
	int64_t token;       /* the grant this handle belongs to */
	char *text;          /* read snapshot (lock info, control file) */
	size_t text_len;
	struct store_entry *entries; /* HANDLE_DIR snapshot */
	size_t nentries;
	struct event_reader *reader; /* /.lockfs/events */
	struct request *request;     /* /.lockfs/request (request.h) */
	int open_flags;
	int64_t file_id; /* the flock view: the lock file it opened (0: any) */
	/* handle locks taken through this open file, by the kernel's
	 * lock_owner: its writes renew them, its release drops them (an OFD
	 * lock ends with its open file description, as the kernel's do) */
	struct node_lock_ref locks[HANDLE_LOCKS_MAX];
	size_t nlocks;
	/* a poll() waiting to hear that its hold was lost: in->polls */
	struct fuse_pollhandle *ph;
	struct handle *next_poll;
	LIST_ENTRY(handle) control_link; /* in fs->control_handles */
};

extern const struct fuse_lowlevel_ops lockfs_ops;

/* A hold of `path` taken through this node was lost: wake the poll()s of
 * its descriptors (POLLPRI|POLLERR). */
void lockfs_hold_lost(struct lockfs *fs, const char *path);

void handle_free(struct handle *h);
/* Answer an open of `in` with descriptor `h` (NULL: ENOMEM); a failed
 * reply closes it again. */
void handle_reply_open(fuse_req_t req, struct inode *in,
		       struct fuse_file_info *fi, struct handle *h);
/* Answer a read of `size` bytes at `off` from `h`'s text snapshot. */
void handle_reply_text(fuse_req_t req, const struct handle *h, size_t size,
		       off_t off);
/* The kernel released lock-file descriptor `h` (NULL: none): close it. */
void handle_close(struct lockfs *fs, struct handle *h);
/*
 * The hold a write or truncate through `h` renews (node_file_hold): 1 with
 * `id` and `*token` set, 0 for none, -ESTALE when a hold it had is lost.
 * `even_lost`: name the lease it took even when this node lost it (so
 * that its renewal hears ESTALE from Redis).
 */
int handle_hold(struct lockfs *fs, const struct handle *h, bool even_lost,
		char *id, size_t size, int64_t *token);
/* poll(2) on lock-file descriptor `h`; handle_poll_forget() drops a
 * pending one (at its release). */
void handle_poll(struct lockfs *fs, fuse_req_t req, struct handle *h,
		 struct fuse_pollhandle *ph);
void handle_poll_forget(struct handle *h);

/*
 * A read that waits until there is something to say (an event line, a
 * request's outcome).  read_park() keeps `req`; a signal answers it with
 * EINTR and forgets it.  read_unpark() hands it back (NULL: none) for the
 * caller to answer, with the size it asked for.
 */
struct parked_read {
	fuse_req_t req;
	size_t size;
};
void read_park(struct parked_read *p, fuse_req_t req, size_t size);
fuse_req_t read_unpark(struct parked_read *p, size_t *size);

/*
 * A poll() to wake later: poll_keep() keeps `ph` (NULL: nothing new) in
 * `*slot` in place of the one kept before; poll_wake() wakes the kept one
 * and forgets it; poll_drop() only forgets it.
 */
void poll_keep(struct fuse_pollhandle **slot, struct fuse_pollhandle *ph);
void poll_wake(struct fuse_pollhandle **slot);
void poll_drop(struct fuse_pollhandle **slot);

/*
 * Answer a readdir of `total` entries from offset `off` with what fits in
 * `size` bytes; `entry(arg, i, &name, &st)` gives entry `i`.
 */
typedef void dir_entry_fn(void *arg, size_t i, const char **name,
			  struct stat *st);
void reply_dir(fuse_req_t req, size_t size, off_t off, size_t total,
	       dir_entry_fn *entry, void *arg);

/* Create the permanent inodes.  Returns 0 or -ENOMEM. */
int lockfs_inodes_init(struct lockfs *fs);

/* control.c: the /.lockfs directory. */
int control_lookup(struct lockfs *fs, const char *name, struct inode **out);
void control_attr(struct lockfs *fs, const struct inode *in, struct stat *st);
int control_open(struct lockfs *fs, struct inode *in,
		 struct fuse_file_info *fi);
void control_read(struct lockfs *fs, fuse_req_t req, struct inode *in,
		  size_t size, off_t off, struct fuse_file_info *fi);
/* Close every control file still open (at exit). */
void control_close_all(struct lockfs *fs);
void control_release(struct lockfs *fs, struct inode *in,
		     struct fuse_file_info *fi);
void control_readdir(struct lockfs *fs, fuse_req_t req, size_t size,
		     off_t off);
void control_poll(struct lockfs *fs, fuse_req_t req, struct handle *h,
		  struct fuse_pollhandle *ph);

/* An event line arrived from the broker: hand it to every open reader
 * (and every HTTP event stream). */
void control_event(struct lockfs *fs, const char *line, size_t len);

#endif
