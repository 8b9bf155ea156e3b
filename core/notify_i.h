/*
 * notify_i.h - the notifier's insides, shared by its three files (notify.h
 * is what the rest of lockfs sees):
 *
 *   notify.c         the loop side: the public calls, reference-counted
 *                    bindings, local delivery, stats; and what both
 *                    threads share: messages, the two queues between them,
 *                    sets of bindings;
 *   notify_thread.c  the AMQP thread: its loop, the commands it runs, the
 *                    outbox of publishes waiting for a broker, reconnects;
 *   notify_conn.c    the session with one broker (struct nconn): the list
 *                    of brokers, connect, declare, bind, publish, the probe,
 *                    receive.  The only file that calls rabbitmq-c.
 *
 * Two queues of small messages cross between the threads, each guarded by
 * one mutex and signalled by an eventfd: commands (publish, bind, unbind,
 * stop) go to the AMQP thread, events (message, up, down) come back to the
 * loop.  Bindings are kept on both sides: reference counts on the loop
 * side, the bound set on the AMQP side for re-binding after a reconnect.
 */
#ifndef LOCKFS_NOTIFY_I_H
#define LOCKFS_NOTIFY_I_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "notify.h"

enum msg_type {
	MSG_PUBLISH,
	MSG_BIND,
	MSG_UNBIND,
	MSG_DELIVERY,
	MSG_UP,
	MSG_DOWN,
};

struct msg {
	enum msg_type type;
	char *key;
	char *body;
	size_t len;
	int64_t kept_ms; /* monotonic: when it went into the outbox */
	STAILQ_ENTRY(msg) link;
};

STAILQ_HEAD(msg_queue, msg);

/* A queue of messages from one thread to the other. */
struct channel {
	pthread_mutex_t lock;
	struct msg_queue q;
	int fd; /* eventfd */
};

struct binding {
	char *key;
	unsigned refs;
	LIST_ENTRY(binding) link;
};

/* A set of bindings, hashed by key: a node may have thousands (one per
 * chained waiter), and every publish looks one up. */
#define BINDING_BUCKETS 4096 /* a power of two */

LIST_HEAD(binding_list, binding);

struct binding_set {
	struct binding_list bucket[BINDING_BUCKETS]; /* zeroed: all empty */
};

struct event;
struct nconn;

struct notifier {
	/* loop side */
	struct event_base *base;
	struct event *from_amqp_ev;
	notifier_msg_cb *msg_cb;
	notifier_state_cb *state_cb;
	void *arg;
	bool connected;
	int64_t since_ms; /* wall-clock ms of the last change of connected */
	char broker[300]; /* "host:port" of the broker in use, "" when down */
	struct notifier_stats stats;
	unsigned ups;
	struct binding_set refs;
	/* shared */
	struct channel to_amqp, from_amqp;
	bool stop; /* under to_amqp.lock */
	/* AMQP thread side */
	pthread_t thread;
	bool thread_started;
	struct nconn *nc; /* set once before the thread starts */
	struct binding_set bound;
	struct msg_queue outbox; /* publishes waiting for a broker */
	size_t outbox_len;
};

/* notify.c: messages, the queues between the threads, binding sets */
struct msg *msg_new(enum msg_type type, const char *key, const char *body,
		    size_t len);
void msg_free(struct msg *m);
void channel_push(struct channel *c, struct msg *m);
void channel_take(struct channel *c, struct msg_queue *out);
struct binding *binding_find(struct binding_set *set, const char *key);
struct binding *binding_add(struct binding_set *set, const char *key);
void binding_remove(struct binding *b);

/* notify_thread.c: the AMQP thread's body (arg: the notifier) */
void *notify_thread(void *arg);

/*
 * notify_conn.c: the session with a broker.  nconn_new() and nconn_free()
 * run on the loop thread, before the AMQP thread starts and after it ends;
 * everything else on the AMQP thread only.  The bools say "the connection
 * still works": false means it broke, and the caller gives it up.
 */
/* `urls` as notifier_new() takes it: 0, -EINVAL or -ENOMEM (or -EIO). */
int nconn_new(const char *urls, const char *cacert, const char *exchange,
	      struct nconn **out);
void nconn_free(struct nconn *c); /* NULL is a no-op */
/* Connected (to some broker) at the moment. */
bool nconn_up(const struct nconn *c);
/* Connect to the broker whose turn it is and bind what `bound` holds: 0 or
 * -errno; `where` gets "host:port" of the broker tried. */
int nconn_connect(struct nconn *c, const struct binding_set *bound,
		  char *where, size_t size);
/* Give the connection up; the next attempt goes to the next broker. */
void nconn_lost(struct nconn *c);
/* Close the connection politely, if there is one (when stopping). */
void nconn_close(struct nconn *c);
bool nconn_bind(struct nconn *c, const char *key, bool bind);
bool nconn_publish(struct nconn *c, const char *key, const char *body,
		   size_t len);
/* Send the probe when due; false too when the broker left it unanswered
 * too long.  `*timeout` (ms) shrinks to the time of the next one. */
bool nconn_probe(struct nconn *c, int *timeout);
/* The socket to poll, and whether rabbitmq-c holds unread data. */
int nconn_fd(const struct nconn *c);
bool nconn_pending(const struct nconn *c);
/* Pass on every message there is, without blocking, to `deliver`
 * (not the probe's, nor the broker's copy of our own). */
bool nconn_receive(struct nconn *c, notifier_msg_cb *deliver, void *arg);

#endif
