/*
 * notify.h - RabbitMQ notifications: hints that wake waiters, never state.
 *
 * rabbitmq-c is not thread-safe and its calls block, so the notifier owns a
 * thread with its own connection (one connection per thread, as rabbitmq-c
 * wants).  The loop thread talks to it only through a command queue and a
 * wake-up fd, and hears back the same way: messages and connection changes
 * are delivered as callbacks on the loop thread (one thread runs every
 * callback, so nothing needs a lock).
 *
 * One topic exchange per tree ("lockfs.<prefix>"); this daemon consumes from
 * its own exclusive, auto-deleted queue, bound to the routing keys its
 * waiters need (reference-counted here) and, while someone reads the event
 * stream, to "#".  A publish while the broker is unreachable is dropped: the
 * callers treat notifications as hints and re-check Redis on their own.
 * The thread reconnects by itself, with heartbeats on, and re-binds.
 */
#ifndef LOCKFS_NOTIFY_H
#define LOCKFS_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "result.h" /* struct notifier_stats */

struct event_base;
struct notifier;

/* A message arrived: `key` and `body` are valid during the call only. */
typedef void notifier_msg_cb(void *arg, const char *key, const char *body,
			     size_t len);
/* The broker connection came up (true) or went down (false). */
typedef void notifier_state_cb(void *arg, bool connected);

#define NOTIFIER_DEFAULT_CACERT "/etc/ssl/certs/ca-certificates.crt"
#define NOTIFIER_MAX_BROKERS 16

/*
 * Start a notifier for `url` (amqp://user:pass@host:port/vhost, or
 * amqps:// for TLS: the broker's certificate is verified against the PEM
 * bundle `cacert`, NULL for NOTIFIER_DEFAULT_CACERT, and must name the
 * URL's host) publishing to exchange `exchange`.  `url` may list the
 * brokers of a RabbitMQ cluster, separated by ',' or ';' (at most
 * NOTIFIER_MAX_BROKERS): the notifier uses the first that answers and
 * moves on to the next when its broker fails, binding again what is
 * bound.  Returns 0 or -errno (-EINVAL for a bad URL).
 */
int notifier_new(struct event_base *base, const char *url,
		 const char *cacert, const char *exchange,
		 notifier_msg_cb *msg_cb, notifier_state_cb *state_cb,
		 void *arg, struct notifier **out);
/* Stop the thread and free; NULL is a no-op. */
void notifier_free(struct notifier *n);

/*
 * Connected, and the broker answers: a broker that leaves this daemon's
 * probe unanswered for about a second counts as lost.  Since when
 * (wall-clock ms).
 */
bool notifier_connected(const struct notifier *n);
int64_t notifier_since_ms(const struct notifier *n);
/* "host:port" of the broker in use, "" while none is. */
const char *notifier_broker(const struct notifier *n);

/* Counters for metrics (loop side; a delivery counts ours too;
 * `bindings`: bindings and unbindings asked of the broker). */
void notifier_get_stats(const struct notifier *n, struct notifier_stats *out);

/*
 * Publish `body` with routing key `key` (best effort).  If this daemon is
 * bound to `key` (or to "#") itself, its own loop gets the message at once,
 * even while the broker is down.  0 or -ENOMEM.
 */
int notifier_publish(struct notifier *n, const char *key, const char *body,
		     size_t len);

/*
 * Reference-counted bindings of this daemon's queue.  0 or -ENOMEM.  Once
 * a new binding is in place at the broker, an empty message (body NULL,
 * len 0) arrives under its key: anything published before may have been
 * missed, so whoever waits on it should look again.
 */
int notifier_bind(struct notifier *n, const char *key);
void notifier_unbind(struct notifier *n, const char *key);

#endif
