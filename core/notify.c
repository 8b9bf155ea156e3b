/*
 * notify.c - the RabbitMQ notifier, loop side (see notify.h, notify_i.h).
 *
 * Owns what the loop thread does: the public calls, the reference counts
 * of this daemon's bindings, the stats, and the events the AMQP thread
 * sends back (messages, up, down), handed to the caller's callbacks.  Also
 * the plumbing both threads share: messages, the two queues between them,
 * sets of bindings.
 *
 * A message this daemon publishes to a key it is bound to itself is
 * delivered to its own loop at once, without the round trip through the
 * broker (the AMQP thread drops the broker's copy).
 */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "hash.h"
#include "log.h"
#include "notify_i.h"

/* ---- shared by both threads: messages, queues, binding sets -------- */

void msg_free(struct msg *m)
{
	if (m == NULL)
		return;
	free(m->key);
	free(m->body);
	free(m);
}

struct msg *msg_new(enum msg_type type, const char *key, const char *body,
		    size_t len)
{
	struct msg *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->type = type;
	if (key && (m->key = strdup(key)) == NULL)
		goto fail;
	if (body) {
		m->body = malloc(len + 1);
		if (m->body == NULL)
			goto fail;
		memcpy(m->body, body, len);
		m->body[len] = '\0';
		m->len = len;
	}
	return m;
fail:
	msg_free(m);
	return NULL;
}

static int channel_init(struct channel *c)
{
	STAILQ_INIT(&c->q);
	c->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		close(c->fd);
		c->fd = -1;
		return -ENOMEM;
	}
	return 0;
}

static void channel_destroy(struct channel *c)
{
	struct msg *m;

	if (c->fd < 0)
		return;
	while ((m = STAILQ_FIRST(&c->q)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->q, link);
		msg_free(m);
	}
	pthread_mutex_destroy(&c->lock);
	close(c->fd);
	c->fd = -1;
}

void channel_push(struct channel *c, struct msg *m)
{
	uint64_t one = 1;

	pthread_mutex_lock(&c->lock);
	STAILQ_INSERT_TAIL(&c->q, m, link);
	pthread_mutex_unlock(&c->lock);
	if (write(c->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn(errno, "notifier: wake-up");
}

/* Take every queued message at once (in order) into `out`. */
void channel_take(struct channel *c, struct msg_queue *out)
{
	uint64_t count;

	if (read(c->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn(errno, "notifier: wake-up");
	STAILQ_INIT(out);
	pthread_mutex_lock(&c->lock);
	STAILQ_CONCAT(out, &c->q);
	pthread_mutex_unlock(&c->lock);
}

static struct binding_list *binding_bucket(struct binding_set *set,
					   const char *key)
{
	return &set->bucket[hash_str(key) & (BINDING_BUCKETS - 1)];
}

struct binding *binding_find(struct binding_set *set, const char *key)
{
	struct binding *b;

	LIST_FOREACH(b, binding_bucket(set, key), link)
		if (strcmp(b->key, key) == 0)
			return b;
	return NULL;
}

/* A new binding of `key` in `set` (refs 0), or NULL. */
struct binding *binding_add(struct binding_set *set, const char *key)
{
	struct binding *b = calloc(1, sizeof(*b));

	if (b == NULL || (b->key = strdup(key)) == NULL) {
		free(b);
		return NULL;
	}
	LIST_INSERT_HEAD(binding_bucket(set, key), b, link);
	return b;
}

void binding_remove(struct binding *b)
{
	LIST_REMOVE(b, link);
	free(b->key);
	free(b);
}

static void binding_free_all(struct binding_set *set)
{
	struct binding *b;

	for (size_t i = 0; i < BINDING_BUCKETS; i++)
		while ((b = LIST_FIRST(&set->bucket[i])) != NULL)
			binding_remove(b);
}

/* ---- the loop side ------------------------------------------------- */

static void on_from_amqp(evutil_socket_t fd, short what, void *arg)
{
	struct notifier *n = arg;
	struct msg_queue q;
	struct msg *m;

	(void)fd;
	(void)what;
	channel_take(&n->from_amqp, &q);
	while ((m = STAILQ_FIRST(&q)) != NULL) {
		STAILQ_REMOVE_HEAD(&q, link);
		if (m->type == MSG_DELIVERY && n->msg_cb) {
			n->stats.delivered++;
			n->msg_cb(n->arg, m->key, m->body, m->len);
		} else if (m->type == MSG_UP || m->type == MSG_DOWN) {
			n->connected = m->type == MSG_UP;
			snprintf(n->broker, sizeof(n->broker), "%s",
				 n->connected && m->key ? m->key : "");
			n->since_ms = wall_ms();
			if (n->connected && n->ups++ > 0)
				n->stats.reconnects++;
			if (n->state_cb)
				n->state_cb(n->arg, n->connected);
		}
		msg_free(m);
	}
}

static int send_command(struct notifier *n, enum msg_type type,
			const char *key, const char *body, size_t len)
{
	struct msg *m = msg_new(type, key, body, len);

	if (m == NULL)
		return -ENOMEM;
	channel_push(&n->to_amqp, m);
	return 0;
}

const char *notifier_broker(const struct notifier *n)
{
	return n ? n->broker : "";
}

int notifier_new(struct event_base *base, const char *url,
		 const char *cacert, const char *exchange,
		 notifier_msg_cb *msg_cb, notifier_state_cb *state_cb,
		 void *arg, struct notifier **out)
{
	struct notifier *n = calloc(1, sizeof(*n));
	int err = -ENOMEM;

	if (n == NULL)
		return -ENOMEM;
	n->to_amqp.fd = n->from_amqp.fd = -1;
	n->base = base;
	n->msg_cb = msg_cb;
	n->state_cb = state_cb;
	n->arg = arg;
	STAILQ_INIT(&n->outbox);
	if ((err = nconn_new(url, cacert, exchange, &n->nc)) < 0 ||
	    (err = channel_init(&n->to_amqp)) < 0 ||
	    (err = channel_init(&n->from_amqp)) < 0)
		goto fail;
	n->since_ms = wall_ms();
	n->from_amqp_ev = event_new(base, n->from_amqp.fd, EV_READ | EV_PERSIST,
				    on_from_amqp, n);
	if (n->from_amqp_ev == NULL || event_add(n->from_amqp_ev, NULL) < 0) {
		err = -ENOMEM;
		goto fail;
	}
	if (pthread_create(&n->thread, NULL, notify_thread, n) != 0) {
		err = -EAGAIN;
		goto fail;
	}
	n->thread_started = true;
	*out = n;
	return 0;
fail:
	notifier_free(n);
	return err;
}

void notifier_free(struct notifier *n)
{
	uint64_t one = 1;

	if (n == NULL)
		return;
	if (n->thread_started) {
		pthread_mutex_lock(&n->to_amqp.lock);
		n->stop = true;
		pthread_mutex_unlock(&n->to_amqp.lock);
		if (write(n->to_amqp.fd, &one, sizeof(one)) < 0)
			log_warn(errno, "notifier: stop");
		pthread_join(n->thread, NULL);
	}
	if (n->from_amqp_ev)
		event_free(n->from_amqp_ev);
	channel_destroy(&n->to_amqp);
	channel_destroy(&n->from_amqp);
	binding_free_all(&n->refs);
	binding_free_all(&n->bound);
	nconn_free(n->nc);
	free(n);
}

void notifier_get_stats(const struct notifier *n, struct notifier_stats *out)
{
	*out = n->stats;
}

bool notifier_connected(const struct notifier *n)
{
	return n && n->connected;
}

int64_t notifier_since_ms(const struct notifier *n)
{
	return n ? n->since_ms : 0;
}

int notifier_publish(struct notifier *n, const char *key, const char *body,
		     size_t len)
{
	struct msg *local;

	n->stats.published++;
	if (binding_find(&n->refs, key) || binding_find(&n->refs, "#")) {
		/* ours too: straight to our own loop, next iteration */
		local = msg_new(MSG_DELIVERY, key, body, len);
		if (local == NULL)
			return -ENOMEM;
		channel_push(&n->from_amqp, local);
	}
	return send_command(n, MSG_PUBLISH, key, body, len);
}

int notifier_bind(struct notifier *n, const char *key)
{
	struct binding *b = binding_find(&n->refs, key);

	if (b) {
		b->refs++;
		return 0;
	}
	b = binding_add(&n->refs, key);
	if (b == NULL)
		return -ENOMEM;
	b->refs = 1;
	n->stats.bindings++;
	return send_command(n, MSG_BIND, key, NULL, 0);
}

void notifier_unbind(struct notifier *n, const char *key)
{
	struct binding *b = binding_find(&n->refs, key);

	if (b == NULL || --b->refs > 0)
		return;
	binding_remove(b);
	n->stats.bindings++;
	send_command(n, MSG_UNBIND, key, NULL, 0);
}
