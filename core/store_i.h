/*
 * store_i.h - the store's insides, shared by its four files (store.h is
 * what the rest of lockfs sees).  Three of them are layers, each calling
 * only the one below it:
 *
 *   store.c       one thin function per server-side script: builds a call
 *                 and starts it;
 *   store_call.c  the store's life (store_new, store_free) and its calls:
 *                 the queue, deadlines, NOSCRIPT, late replies and their
 *                 undoing, and the circuit breaker;
 *   store_conn.c  the connection: URL, connect, AUTH/SELECT, ROLE, Sentinel,
 *                 reconnects, script loading, the mount-time probe.
 *
 * Where a lower layer must reach up it calls a function pointer it was
 * handed: a call's late hook (set by store.c), and the connection's
 * struct conn_hooks (handed by store_call.c to conn_open()).
 * store_wire.c, the wire format (argument vectors out, replies in), is
 * used by all three and calls none of them.
 *
 * Loop thread only, like everything in the store.
 */
#ifndef LOCKFS_STORE_I_H
#define LOCKFS_STORE_I_H

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "store.h"

/* A connection not ready in this long is dropped and tried again. */
#define STORE_HANDSHAKE_MS 1000
/* Each sentinel gets this long to answer, asynchronously. */
#define STORE_SENTINEL_ASK_MS 500
/* At mount: the sentinels, one after the other, synchronously. */
#define STORE_SENTINEL_PROBE_MS 1000
/* How often the sentinels are asked whether the master moved. */
#define STORE_WATCH_MS 1000
/* While Redis is not answering: how often it is asked (PING). */
#define STORE_PROBE_MS 250

/* The scripts, one Redis Functions library (embed_lua.c): its text, and
 * its id, the prefix of its functions' names ("<id>_<script_name>"). */
extern const char lua_library[], lua_library_id[];

enum script {
	SCRIPT_ACQUIRE,
	SCRIPT_ACQUIRE_SET,
	SCRIPT_RENEW,
	SCRIPT_RELEASE,
	SCRIPT_WITHDRAW,
	SCRIPT_STAT,
	SCRIPT_LIST,
	SCRIPT_MKDIR,
	SCRIPT_RMDIR,
	SCRIPT_SETATTR,
	SCRIPT_FILE,
	SCRIPT_COUNT
};

/* A growable argument vector (keys, then arguments) of binary strings. */
struct args {
	int n, cap;
	char **v;
	size_t *len;
};

struct call {
	struct store *st;
	enum script script;
	int nkeys;
	struct args a;
	store_cb *cb;
	void *arg;
	struct event *deadline;
	bool answered;
	bool in_flight;
	bool queued;
	bool reloaded; /* sent again after the library was lost */
	bool peek; /* a stat asked first without its script (call_send) */
	/* an undo (a withdrawal, a grant disowned): sent even while Redis
	 * counts as not answering, so nothing stays queued or held for
	 * nobody once it answers */
	bool undo;
	int64_t sent_ns; /* monotonic, when last sent */
	/* a reply that came after the caller was answered (by the deadline)
	 * goes here, or nowhere when NULL: store.c undoes a late grant with
	 * it, from comp_path and comp_holder */
	void (*late)(struct call *c, const struct store_result *res);
	char *comp_path;
	char *comp_holder;
	/* redis_replicas=: the script's reply, held until WAIT confirms it */
	redisReply *held;
	unsigned waits;    /* WAIT replies still to come */
	bool free_pending; /* freed once they have come */
	TAILQ_ENTRY(call) link;
};

TAILQ_HEAD(call_queue, call);

/*
 * Where Redis is, as a URL says it (parse_url): host and port, or a unix
 * socket, a database, a password; with sentinel:// the sentinels, and
 * host and port follow the master they name.
 */
struct store_addr {
	char *host;
	int port;
	char *unix_path;
	int db;
	char *password;
	struct locator *locator; /* sentinel:// and cluster:// only */
};

/*
 * What the connection (store_conn.c) tells the calls above it: it is
 * ready for calls (send what waited), and Redis answered something that
 * was no call (the library load: it answers again).
 */
struct conn_hooks {
	void (*ready)(struct store *st);
	void (*answered)(struct store *st);
};

struct store {
	struct event_base *base;
	const struct conn_hooks *hooks; /* conn_open()'s */
	redisAsyncContext *ac;
	bool connected;
	bool freeing;
	struct store_addr addr;
	char *keyprefix; /* "{prefix}:" */
	int64_t timeout_ms;
	bool library_sent; /* FUNCTION LOAD on this connection, ahead of calls */
	struct event *reconnect;
	struct event *handshake; /* armed while a connection is not ready */
	int64_t backoff_ms;
	struct call_queue queue;
	struct event *watch; /* sentinel:// only: asks where the master is */
	struct store_stats stats;
	int replicas; /* redis_replicas=: 0, or how many must confirm */
	store_grants_cb *grants_cb;
	void *grants_arg;
	unsigned readies; /* connections that became ready */
	/* the circuit breaker (above) */
	bool answering;
	int64_t silent_ns;   /* when it stopped answering (monotonic) */
	/* the Redis clock less our monotonic one, at its last answer */
	int64_t redis_offset_ms;
	bool redis_clock_known;
	bool probing;        /* a PING is in flight */
	struct event *probe; /* sends the PING while not answering */
	bool was_up;         /* store_up() as last noted */
	int64_t since_ms;    /* wall-clock ms of its last change */
};

extern const char *const script_name[SCRIPT_COUNT];

/* store_wire.c */
int args_add(struct args *a, const char *s, size_t len);
int args_str(struct args *a, const char *s);
int args_fmt(struct args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The key "{prefix}:<type>:<name>" (`len` bytes of name), malloc'd. */
char *key_new(const struct store *st, const char *type, const char *name,
	      size_t len);
int args_key(struct args *a, const struct store *st, const char *type,
	     const char *name, size_t len);
/* One key of a call's KEYS: "{prefix}:<type>:<name>". */
struct key {
	const char *type;
	const char *name;
};
/*
 * Push `n` keys, or `n` arguments, laid out by one of script_iface.h's
 * enums; every slot must be filled, so a field declared there and
 * forgotten by the caller fails the call (and the unit-store suite)
 * instead of shifting the others.  args_vec_bin: argument `bin` is
 * `bin_len` bytes, which may hold NULs.
 */
int args_keys(struct args *a, const struct store *st, const struct key *v,
	      size_t n);
int args_vec(struct args *a, const char *const *v, size_t n);
int args_vec_bin(struct args *a, const char *const *v, size_t n, size_t bin,
		 size_t bin_len);
/* `v` in decimal, in `buf`; returns `buf`. */
#define ARGS_NUM_MAX 24
const char *args_num(char buf[ARGS_NUM_MAX], long long v);
void args_clear(struct args *a);
void result_clear(struct store_result *r);
int parse_reply(const redisReply *r, struct store_result *res);

/* store_call.c: the store's life (store.h) and its calls */
struct call *call_new(struct store *st, enum script s, store_cb *cb,
		      void *arg);
int call_start(struct call *c, int err);

/*
 * store_conn.c: the connection.  conn_open() takes the address from `cfg`
 * and starts connecting, telling `hooks` what happens; on failure
 * conn_close() frees what it made.  conn_close() drops the connection
 * (failing what is in flight) and frees it all; on a store never opened
 * it does nothing.
 */
int conn_open(struct store *st, const struct store_config *cfg,
	      const struct conn_hooks *hooks);
void conn_close(struct store *st);
void conn_note_state(struct store *st);
void conn_drop(struct store *st);
void conn_reconnect_later(struct store *st);
void conn_load_library(struct store *st);

#endif
