/*
 * notify_thread.c - the notifier's AMQP thread (see notify_i.h).
 *
 * Owns the thread's loop: keep a broker session (notify_conn.c) up, run the
 * commands the loop sends (publish, bind, unbind, stop), pass what arrives
 * back to the loop, and tell it when the connection comes up or goes down.
 * The thread waits in poll() on its socket and its eventfd, so a publish
 * leaves at once and a delivery is read as soon as it arrives; the poll
 * timeout (HEARTBEAT_POLL_MS) lets rabbitmq-c send and check heartbeats.
 * A connection that breaks, or whose broker stops answering the probe, is
 * dropped: the loop hears "down" (so waiters re-check Redis every second)
 * and the thread connects again, to the next broker, with a capped backoff.
 *
 * What the loop publishes while the broker is away waits in an outbox
 * (at most OUTBOX_MAX messages, none older than OUTBOX_AGE_MS) and leaves
 * as soon as a broker takes the connection again: a release made during
 * an outage wakes the waiters of other nodes when the link is back, not
 * only at their next re-check of Redis.  Messages are hints, so a late one
 * costs a waiter one look at Redis, never a wrong grant.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>

#include "clock.h"
#include "log.h"
#include "notify_i.h"

#define HEARTBEAT_POLL_MS 1000
#define BACKOFF_MAX_MS 2000
#define OUTBOX_MAX 4096
#define OUTBOX_AGE_MS 30000

static void tell_loop(struct notifier *n, enum msg_type type,
		      const char *key, const char *body, size_t len)
{
	struct msg *m = msg_new(type, key, body, len);

	if (m)
		channel_push(&n->from_amqp, m);
}

/* A message from the broker, for the loop (nconn_receive's `deliver`). */
static void deliver(void *arg, const char *key, const char *body, size_t len)
{
	tell_loop(arg, MSG_DELIVERY, key, body, len);
}

/* The connection broke or stopped answering: the loop hears "down", and
 * the next attempt goes to the next broker. */
static void lose_broker(struct notifier *n)
{
	log_warnx("amqp: connection lost; reconnecting");
	nconn_lost(n->nc);
	tell_loop(n, MSG_DOWN, NULL, NULL, 0);
}

/* Keep `m` (ours now) for the next connection; the oldest goes when full. */
static void outbox_keep(struct notifier *n, struct msg *m)
{
	struct msg *old;

	if (n->outbox_len == OUTBOX_MAX) {
		old = STAILQ_FIRST(&n->outbox);
		STAILQ_REMOVE_HEAD(&n->outbox, link);
		msg_free(old);
		n->outbox_len--;
	}
	m->kept_ms = mono_ms();
	STAILQ_INSERT_TAIL(&n->outbox, m, link);
	n->outbox_len++;
}

/* Send what waited for a broker (dropping what is too old to matter);
 * false when the connection broke, the rest kept for the next one. */
static bool outbox_send(struct notifier *n)
{
	int64_t now = mono_ms();
	struct msg *m;

	while ((m = STAILQ_FIRST(&n->outbox)) != NULL) {
		if (now - m->kept_ms <= OUTBOX_AGE_MS &&
		    !nconn_publish(n->nc, m->key, m->body, m->len))
			return false;
		STAILQ_REMOVE_HEAD(&n->outbox, link);
		n->outbox_len--;
		msg_free(m);
	}
	return true;
}

static void outbox_free(struct notifier *n)
{
	struct msg *m;

	while ((m = STAILQ_FIRST(&n->outbox)) != NULL) {
		STAILQ_REMOVE_HEAD(&n->outbox, link);
		msg_free(m);
	}
	n->outbox_len = 0;
}

/* Apply one command other than a publish; false when the connection broke
 * doing it. */
static bool run_command(struct notifier *n, struct msg *m)
{
	struct binding *b = binding_find(&n->bound, m->key);

	switch (m->type) {
	case MSG_BIND:
		if (b)
			return true;
		if (binding_add(&n->bound, m->key) == NULL)
			return true;
		if (!nconn_up(n->nc))
			return true;
		if (!nconn_bind(n->nc, m->key, true))
			return false;
		/* in place now; what was published before it may be lost:
		 * an empty message under the key says "check again" */
		tell_loop(n, MSG_DELIVERY, m->key, NULL, 0);
		return true;
	case MSG_UNBIND:
		if (b == NULL)
			return true;
		binding_remove(b);
		return !nconn_up(n->nc) || nconn_bind(n->nc, m->key, false);
	default:
		return true;
	}
}

/* Run the queued commands; returns false to stop the thread. */
static bool run_commands(struct notifier *n, bool *broken)
{
	struct msg_queue q;
	struct msg *m;
	bool stop;

	channel_take(&n->to_amqp, &q);
	while ((m = STAILQ_FIRST(&q)) != NULL) {
		STAILQ_REMOVE_HEAD(&q, link);
		if (m->type == MSG_PUBLISH) {
			if (!nconn_up(n->nc) || *broken ||
			    !nconn_publish(n->nc, m->key, m->body, m->len)) {
				*broken = *broken || nconn_up(n->nc);
				outbox_keep(n, m); /* for the next connection */
				continue;
			}
		} else if (!*broken && !run_command(n, m)) {
			*broken = true;
		}
		msg_free(m);
	}
	pthread_mutex_lock(&n->to_amqp.lock);
	stop = n->stop;
	pthread_mutex_unlock(&n->to_amqp.lock);
	return !stop;
}

void *notify_thread(void *arg)
{
	struct notifier *n = arg;
	int backoff_ms = 100;

	for (;;) {
		struct pollfd pfd[2] = {{n->to_amqp.fd, POLLIN, 0},
					{-1, POLLIN, 0}};
		bool broken = false;
		int timeout = HEARTBEAT_POLL_MS;

		if (!nconn_up(n->nc)) {
			char where[300];

			if (nconn_connect(n->nc, &n->bound, where,
					  sizeof(where)) == 0) {
				log_info("amqp: connected to %s", where);
				backoff_ms = 100;
				tell_loop(n, MSG_UP, where, NULL, 0);
				if (!outbox_send(n))
					broken = true;
			} else {
				timeout = backoff_ms;
				backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS
						     ? BACKOFF_MAX_MS
						     : backoff_ms * 2;
			}
		}
		if (nconn_up(n->nc) && !nconn_probe(n->nc, &timeout)) {
			lose_broker(n);
			continue;
		}
		if (nconn_up(n->nc)) {
			pfd[1].fd = nconn_fd(n->nc);
			if (nconn_pending(n->nc))
				timeout = 0;
		}
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			log_warn(errno, "amqp: poll");
		if (!run_commands(n, &broken))
			break;
		if (nconn_up(n->nc) && !broken &&
		    !nconn_receive(n->nc, deliver, n))
			broken = true;
		if (nconn_up(n->nc) && broken)
			lose_broker(n);
	}
	nconn_close(n->nc);
	outbox_free(n);
	return NULL;
}
