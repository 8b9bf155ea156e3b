/*
 * notify.c - the RabbitMQ notifier (see notify.h).
 *
 * Two queues of small messages cross between the threads, each guarded by
 * one mutex and signalled by an eventfd: commands (publish, bind, unbind,
 * stop) go to the AMQP thread, events (message, up, down) come back to the
 * loop.  The AMQP thread waits in poll() on its socket and its eventfd, so a
 * publish leaves at once and a delivery is read as soon as it arrives; the
 * poll timeout (HEARTBEAT_POLL_MS) lets rabbitmq-c send and check
 * heartbeats.  Bindings are kept on both sides: reference counts on the
 * loop side, the bound set on the AMQP side for re-binding after a
 * reconnect.
 *
 * A broker that keeps its connection open but stops answering (a frozen
 * process, a dead path that TCP has not noticed) is found by a probe: every
 * PROBE_EVERY_MS the thread publishes a message to its own probe key
 * ("p.<self id>", bound at connect) and expects one back through the
 * broker; when none has come back for PROBE_DEADLINE_MS, the connection
 * counts as lost: it is dropped, the loop hears "down" (so waiters re-check
 * Redis every second) and the thread connects again.
 *
 * What the loop publishes while the broker is away waits in an outbox
 * (at most OUTBOX_MAX messages, none older than OUTBOX_AGE_MS) and leaves
 * as soon as a broker takes the connection again: a release made during
 * an outage wakes the waiters of other nodes when the link is back, not
 * only at their next re-check of Redis.  Messages are hints, so a late one
 * costs a waiter one look at Redis, never a wrong grant.
 *
 * A message this daemon publishes to a key it is bound to itself is
 * delivered to its own loop at once, without the round trip through the
 * broker; every message carries this notifier's random id as its AMQP
 * app-id, and the broker's copy of our own messages is dropped.
 */
#include "notify.h"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hash.h"
#include "log.h"

#define HEARTBEAT_S 10
#define HEARTBEAT_POLL_MS 1000
#define PROBE_EVERY_MS 250
#define PROBE_DEADLINE_MS 1000
#define CONNECT_TIMEOUT_S 3
#define BACKOFF_MAX_MS 2000
#define OUTBOX_MAX 4096
#define OUTBOX_AGE_MS 30000

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
	char self_id[33]; /* random hex, set once before the thread starts */
	/* AMQP thread side */
	pthread_t thread;
	bool thread_started;
	char *urls[NOTIFIER_MAX_BROKERS]; /* the brokers, tried in turn */
	size_t nurls, cur;                 /* cur: the one to try next */
	char *exchange;
	char *cacert; /* amqps:// only: the CA bundle that signs the broker */
	amqp_connection_state_t conn;
	amqp_bytes_t queue;
	struct binding_set bound;
	struct msg_queue outbox; /* publishes waiting for a broker */
	size_t outbox_len;
	bool warned_down;
	char probe_key[40];     /* "p.<self_id>" */
	int64_t probe_next_ms;  /* monotonic: when to send the next probe */
	int64_t probe_wait_ms;  /* monotonic: oldest unanswered probe, or 0 */
};

/* ---- messages ------------------------------------------------------ */

static void msg_free(struct msg *m)
{
	if (m == NULL)
		return;
	free(m->key);
	free(m->body);
	free(m);
}

static struct msg *msg_new(enum msg_type type, const char *key,
			   const char *body, size_t len)
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

static void channel_push(struct channel *c, struct msg *m)
{
	uint64_t one = 1;

	pthread_mutex_lock(&c->lock);
	STAILQ_INSERT_TAIL(&c->q, m, link);
	pthread_mutex_unlock(&c->lock);
	if (write(c->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn(errno, "notifier: wake-up");
}

/* Take every queued message at once (in order) into `out`. */
static void channel_take(struct channel *c, struct msg_queue *out)
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

static struct binding *binding_find(struct binding_set *set, const char *key)
{
	struct binding *b;

	LIST_FOREACH(b, binding_bucket(set, key), link)
		if (strcmp(b->key, key) == 0)
			return b;
	return NULL;
}

/* A new binding of `key` in `set` (refs 0), or NULL. */
static struct binding *binding_add(struct binding_set *set, const char *key)
{
	struct binding *b = calloc(1, sizeof(*b));

	if (b == NULL || (b->key = strdup(key)) == NULL) {
		free(b);
		return NULL;
	}
	LIST_INSERT_HEAD(binding_bucket(set, key), b, link);
	return b;
}

static void binding_remove(struct binding *b)
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

/* ---- the AMQP thread ----------------------------------------------- */

static bool amqp_ok(amqp_connection_state_t conn, const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);

	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return true;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
		log_warnx("amqp: %s: %s", what, amqp_error_string2(r.library_error));
	else
		log_warnx("amqp: %s: refused by the broker", what);
	return false;
}

/* The next attempt goes to the next broker of the list (a cluster's). */
static void next_broker(struct notifier *n)
{
	n->cur = (n->cur + 1) % n->nurls;
}

static void amqp_drop(struct notifier *n)
{
	if (n->conn == NULL)
		return;
	amqp_destroy_connection(n->conn);
	n->conn = NULL;
	amqp_bytes_free(n->queue);
	n->queue = amqp_empty_bytes;
}

static bool amqp_bind_key(struct notifier *n, const char *key, bool bind)
{
	if (bind)
		amqp_queue_bind(n->conn, 1, n->queue,
				amqp_cstring_bytes(n->exchange),
				amqp_cstring_bytes(key), amqp_empty_table);
	else
		amqp_queue_unbind(n->conn, 1, n->queue,
				  amqp_cstring_bytes(n->exchange),
				  amqp_cstring_bytes(key), amqp_empty_table);
	return amqp_ok(n->conn, bind ? "bind" : "unbind");
}

/*
 * An amqps:// socket: the broker's certificate must be signed by
 * n->cacert and name the host of the URL.
 */
static amqp_socket_t *tls_socket(struct notifier *n)
{
	amqp_socket_t *sock = amqp_ssl_socket_new(n->conn);

	if (sock == NULL)
		return NULL;
	amqp_ssl_socket_set_verify_peer(sock, 1);
	amqp_ssl_socket_set_verify_hostname(sock, 1);
	if (amqp_ssl_socket_set_cacert(sock, n->cacert) != AMQP_STATUS_OK) {
		log_warnx("amqp: cannot read the CA bundle %s", n->cacert);
		return NULL;
	}
	return sock;
}

/*
 * Connect to broker `cur`, declare, bind what is bound, consume.  On
 * failure the next attempt goes to the next broker; `where` gets
 * "host:port" of the one tried.
 */
static int amqp_connect(struct notifier *n, char *where, size_t size)
{
	struct amqp_connection_info ci;
	struct timeval tv = {CONNECT_TIMEOUT_S, 0};
	struct timeval rpc = {PROBE_DEADLINE_MS / 1000,
			      (PROBE_DEADLINE_MS % 1000) * 1000};
	amqp_socket_t *sock;
	amqp_queue_declare_ok_t *q;
	struct binding *b;
	char *url = strdup(n->urls[n->cur]);
	int err = -EIO, status;

	if (url == NULL)
		return -ENOMEM;
	amqp_default_connection_info(&ci);
	if (amqp_parse_url(url, &ci) != AMQP_STATUS_OK) {
		err = -EINVAL;
		goto out;
	}
	if (ci.vhost == NULL || *ci.vhost == '\0')
		ci.vhost = "/"; /* "amqp://host/" means the default vhost */
	snprintf(where, size, "%s:%d", ci.host, ci.port);
	n->conn = amqp_new_connection();
	if (n->conn == NULL)
		goto fail;
	sock = ci.ssl ? tls_socket(n) : amqp_tcp_socket_new(n->conn);
	if (sock == NULL)
		goto fail;
	amqp_set_handshake_timeout(n->conn, &tv);
	amqp_set_rpc_timeout(n->conn, &tv);
	status = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
	if (status != AMQP_STATUS_OK) {
		if (!n->warned_down) /* once per outage, not per retry */
			log_warnx("amqp: cannot connect to %s:%d: %s", ci.host,
				  ci.port, amqp_error_string2(status));
		n->warned_down = true;
		goto fail;
	}
	n->warned_down = false;
	if (amqp_login(n->conn, ci.vhost, 0, 131072, HEARTBEAT_S,
		       AMQP_SASL_METHOD_PLAIN, ci.user, ci.password)
		    .reply_type != AMQP_RESPONSE_NORMAL) {
		log_warnx("amqp: login refused");
		goto fail;
	}
	amqp_channel_open(n->conn, 1);
	if (!amqp_ok(n->conn, "channel"))
		goto fail;
	amqp_exchange_declare(n->conn, 1, amqp_cstring_bytes(n->exchange),
			      amqp_cstring_bytes("topic"), 0, 0, 0, 0,
			      amqp_empty_table);
	if (!amqp_ok(n->conn, "exchange"))
		goto fail;
	q = amqp_queue_declare(n->conn, 1, amqp_empty_bytes, 0, 0, 1, 1,
			       amqp_empty_table);
	if (!amqp_ok(n->conn, "queue") || q == NULL)
		goto fail;
	n->queue = amqp_bytes_malloc_dup(q->queue);
	if (!amqp_bind_key(n, n->probe_key, true))
		goto fail;
	n->probe_next_ms = mono_ms();
	n->probe_wait_ms = 0;
	for (size_t i = 0; i < BINDING_BUCKETS; i++)
		LIST_FOREACH(b, &n->bound.bucket[i], link)
			if (!amqp_bind_key(n, b->key, true))
				goto fail;
	amqp_basic_consume(n->conn, 1, n->queue, amqp_empty_bytes, 0, 1, 1,
			   amqp_empty_table);
	if (!amqp_ok(n->conn, "consume"))
		goto fail;
	/* from now on a broker gone silent is noticed within the probe's
	 * deadline, also while this thread waits for a binding's answer */
	amqp_set_rpc_timeout(n->conn, &rpc);
	err = 0;
	goto out;
fail:
	amqp_drop(n);
	next_broker(n);
out:
	free(url);
	return err;
}

static void tell_loop(struct notifier *n, enum msg_type type,
		      const char *key, const char *body, size_t len);

/* Publish `m` on the connection; false when the connection broke. */
static bool amqp_publish(struct notifier *n, const struct msg *m)
{
	amqp_basic_properties_t props;
	amqp_bytes_t body;

	body.bytes = m->body;
	body.len = m->len;
	props._flags = AMQP_BASIC_APP_ID_FLAG;
	props.app_id = amqp_cstring_bytes(n->self_id);
	return amqp_basic_publish(n->conn, 1, amqp_cstring_bytes(n->exchange),
				  amqp_cstring_bytes(m->key), 0, 0, &props,
				  body) == AMQP_STATUS_OK;
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
		if (now - m->kept_ms <= OUTBOX_AGE_MS && !amqp_publish(n, m))
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
static bool amqp_command(struct notifier *n, struct msg *m)
{
	struct binding *b = binding_find(&n->bound, m->key);

	switch (m->type) {
	case MSG_BIND:
		if (b)
			return true;
		if (binding_add(&n->bound, m->key) == NULL)
			return true;
		if (n->conn == NULL)
			return true;
		if (!amqp_bind_key(n, m->key, true))
			return false;
		/* in place now; what was published before it may be lost:
		 * an empty message under the key says "check again" */
		tell_loop(n, MSG_DELIVERY, m->key, NULL, 0);
		return true;
	case MSG_UNBIND:
		if (b == NULL)
			return true;
		binding_remove(b);
		return n->conn == NULL || amqp_bind_key(n, m->key, false);
	default:
		return true;
	}
}

/* Run the queued commands; returns false to stop the thread. */
static bool amqp_commands(struct notifier *n, bool *broken)
{
	struct msg_queue q;
	struct msg *m;
	bool stop;

	channel_take(&n->to_amqp, &q);
	while ((m = STAILQ_FIRST(&q)) != NULL) {
		STAILQ_REMOVE_HEAD(&q, link);
		if (m->type == MSG_PUBLISH) {
			if (n->conn == NULL || *broken || !amqp_publish(n, m)) {
				*broken = *broken || n->conn != NULL;
				outbox_keep(n, m); /* for the next connection */
				continue;
			}
		} else if (!*broken && !amqp_command(n, m)) {
			*broken = true;
		}
		msg_free(m);
	}
	pthread_mutex_lock(&n->to_amqp.lock);
	stop = n->stop;
	pthread_mutex_unlock(&n->to_amqp.lock);
	return !stop;
}

static void tell_loop(struct notifier *n, enum msg_type type,
		      const char *key, const char *body, size_t len)
{
	struct msg *m = msg_new(type, key, body, len);

	if (m)
		channel_push(&n->from_amqp, m);
}

static bool from_self(const struct notifier *n,
		      const amqp_basic_properties_t *p)
{
	size_t len = strlen(n->self_id);

	return (p->_flags & AMQP_BASIC_APP_ID_FLAG) && p->app_id.len == len &&
	       memcmp(p->app_id.bytes, n->self_id, len) == 0;
}

/* Read what is there without blocking; false when the connection broke. */
static bool amqp_receive(struct notifier *n)
{
	struct timeval zero = {0, 0};

	for (;;) {
		amqp_envelope_t env;
		amqp_rpc_reply_t r;
		char *key;

		amqp_maybe_release_buffers(n->conn);
		r = amqp_consume_message(n->conn, &env, &zero, 0);
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_TIMEOUT)
			return true;
		if (r.reply_type != AMQP_RESPONSE_NORMAL)
			return false;
		if (env.routing_key.len == strlen(n->probe_key) &&
		    memcmp(env.routing_key.bytes, n->probe_key,
			   env.routing_key.len) == 0) {
			n->probe_wait_ms = 0; /* the broker answers */
			amqp_destroy_envelope(&env);
			continue;
		}
		if (from_self(n, &env.message.properties)) {
			amqp_destroy_envelope(&env);
			continue; /* delivered locally when published */
		}
		key = strndup(env.routing_key.bytes, env.routing_key.len);
		if (key)
			tell_loop(n, MSG_DELIVERY, key, env.message.body.bytes,
				  env.message.body.len);
		free(key);
		amqp_destroy_envelope(&env);
	}
}

/*
 * Send a probe when one is due; false when the broker has left the last
 * one unanswered too long.  `*timeout` shrinks to the next probe's time.
 */
static bool amqp_probe(struct notifier *n, int *timeout)
{
	int64_t now = mono_ms();
	amqp_bytes_t body = amqp_cstring_bytes("");

	if (n->probe_wait_ms && now - n->probe_wait_ms > PROBE_DEADLINE_MS) {
		log_warnx("amqp: the broker has not answered for %d ms",
			  PROBE_DEADLINE_MS);
		return false;
	}
	if (now >= n->probe_next_ms) {
		if (amqp_basic_publish(n->conn, 1,
				       amqp_cstring_bytes(n->exchange),
				       amqp_cstring_bytes(n->probe_key), 0, 0,
				       NULL, body) != AMQP_STATUS_OK)
			return false;
		if (n->probe_wait_ms == 0)
			n->probe_wait_ms = now;
		n->probe_next_ms = now + PROBE_EVERY_MS;
	}
	if (*timeout > n->probe_next_ms - now)
		*timeout = (int)(n->probe_next_ms - now);
	return true;
}

static void *amqp_thread(void *arg)
{
	struct notifier *n = arg;
	int backoff_ms = 100;

	for (;;) {
		struct pollfd pfd[2] = {{n->to_amqp.fd, POLLIN, 0},
					{-1, POLLIN, 0}};
		bool broken = false;
		int timeout = HEARTBEAT_POLL_MS;

		if (n->conn == NULL) {
			char where[300];

			if (amqp_connect(n, where, sizeof(where)) == 0) {
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
		if (n->conn && !amqp_probe(n, &timeout)) {
			log_warnx("amqp: connection lost; reconnecting");
			amqp_drop(n);
			next_broker(n);
			tell_loop(n, MSG_DOWN, NULL, NULL, 0);
			continue;
		}
		if (n->conn) {
			pfd[1].fd = amqp_get_sockfd(n->conn);
			if (amqp_data_in_buffer(n->conn) ||
			    amqp_frames_enqueued(n->conn))
				timeout = 0;
		}
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			log_warn(errno, "amqp: poll");
		if (!amqp_commands(n, &broken))
			break;
		if (n->conn && !broken && !amqp_receive(n))
			broken = true;
		if (n->conn && broken) {
			log_warnx("amqp: connection lost; reconnecting");
			amqp_drop(n);
			next_broker(n);
			tell_loop(n, MSG_DOWN, NULL, NULL, 0);
		}
	}
	if (n->conn)
		amqp_connection_close(n->conn, AMQP_REPLY_SUCCESS);
	amqp_drop(n);
	outbox_free(n);
	return NULL;
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

/* 16 random bytes in hex: tells our own messages from others'. */
static int make_self_id(char *buf, size_t size)
{
	unsigned char raw[16];

	if (size < 2 * sizeof(raw) + 1 ||
	    getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/*
 * Split `list` ("URL", or several separated by ',' or ';': the brokers
 * of a cluster) into n->urls, each one a URL rabbitmq-c can parse.
 */
static int split_urls(struct notifier *n, const char *list)
{
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",;");
		struct amqp_connection_info ci;
		char *url, *probe;

		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len) {
			if (n->nurls == NOTIFIER_MAX_BROKERS)
				return -EINVAL;
			url = strndup(p, len);
			probe = strndup(p, len);
			if (url == NULL || probe == NULL) {
				free(url);
				free(probe);
				return -ENOMEM;
			}
			amqp_default_connection_info(&ci);
			n->urls[n->nurls++] = url;
			if (amqp_parse_url(probe, &ci) != AMQP_STATUS_OK) {
				free(probe);
				return -EINVAL;
			}
			free(probe);
		}
		p += strcspn(p, ",;");
		if (*p)
			p++;
	}
	return n->nurls ? 0 : -EINVAL;
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
	n->queue = amqp_empty_bytes;
	STAILQ_INIT(&n->outbox);
	n->exchange = strdup(exchange);
	n->cacert = strdup(cacert ? cacert : NOTIFIER_DEFAULT_CACERT);
	if (n->exchange == NULL || n->cacert == NULL)
		goto fail;
	if ((err = split_urls(n, url)) < 0 ||
	    (err = channel_init(&n->to_amqp)) < 0 ||
	    (err = channel_init(&n->from_amqp)) < 0 ||
	    (err = make_self_id(n->self_id, sizeof(n->self_id))) < 0)
		goto fail;
	snprintf(n->probe_key, sizeof(n->probe_key), "p.%s", n->self_id);
	n->since_ms = wall_ms();
	n->from_amqp_ev = event_new(base, n->from_amqp.fd, EV_READ | EV_PERSIST,
				    on_from_amqp, n);
	if (n->from_amqp_ev == NULL || event_add(n->from_amqp_ev, NULL) < 0) {
		err = -ENOMEM;
		goto fail;
	}
	if (pthread_create(&n->thread, NULL, amqp_thread, n) != 0) {
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
	for (size_t i = 0; i < n->nurls; i++)
		free(n->urls[i]);
	free(n->exchange);
	free(n->cacert);
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
