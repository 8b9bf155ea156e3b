/*
 * notify_conn.c - the notifier's session with one broker (see notify_i.h).
 *
 * Owns the list of brokers and the rabbitmq-c connection to the one in
 * use: connect (TCP or TLS), log in with heartbeats on, open channel 1,
 * declare the tree's topic exchange and this daemon's exclusive,
 * auto-deleted queue, bind it, consume; then publish, bind and unbind,
 * receive.  When a connection fails, the next attempt goes to the next
 * broker of the list (a cluster's).  Between nconn_new() and nconn_free()
 * only the AMQP thread uses it, as rabbitmq-c wants one connection per
 * thread.
 *
 * A broker that keeps its connection open but stops answering (a frozen
 * process, a dead path that TCP has not noticed) is found by a probe: every
 * PROBE_EVERY_MS a message goes to this daemon's own probe key ("p.<self
 * id>", bound at connect) and one is expected back through the broker;
 * when none has come back for PROBE_DEADLINE_MS, the connection counts as
 * lost.
 *
 * Every message carries this notifier's random id as its AMQP app-id, and
 * the broker's copy of our own messages is dropped: the loop side has
 * delivered them already.
 */
#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>

#include "clock.h"
#include "log.h"
#include "notify_i.h"

#define HEARTBEAT_S 10
#define PROBE_EVERY_MS 250
#define PROBE_DEADLINE_MS 1000
#define CONNECT_TIMEOUT_S 3

struct nconn {
	char *urls[NOTIFIER_MAX_BROKERS]; /* the brokers, tried in turn */
	size_t nurls, cur;                 /* cur: the one to try next */
	char *exchange;
	char *cacert; /* amqps:// only: the CA bundle that signs the broker */
	amqp_connection_state_t conn; /* NULL while not connected */
	amqp_bytes_t queue;
	bool warned_down;
	char self_id[33];       /* random hex: our messages' app-id */
	char probe_key[40];     /* "p.<self_id>" */
	int64_t probe_next_ms;  /* monotonic: when to send the next probe */
	int64_t probe_wait_ms;  /* monotonic: oldest unanswered probe, or 0 */
};

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
 * of a cluster) into c->urls, each one a URL rabbitmq-c can parse.
 */
static int split_urls(struct nconn *c, const char *list)
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
			if (c->nurls == NOTIFIER_MAX_BROKERS)
				return -EINVAL;
			url = strndup(p, len);
			probe = strndup(p, len);
			if (url == NULL || probe == NULL) {
				free(url);
				free(probe);
				return -ENOMEM;
			}
			amqp_default_connection_info(&ci);
			c->urls[c->nurls++] = url;
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
	return c->nurls ? 0 : -EINVAL;
}

int nconn_new(const char *urls, const char *cacert, const char *exchange,
	      struct nconn **out)
{
	struct nconn *c = calloc(1, sizeof(*c));
	int err = -ENOMEM;

	if (c == NULL)
		return -ENOMEM;
	c->queue = amqp_empty_bytes;
	c->exchange = strdup(exchange);
	c->cacert = strdup(cacert ? cacert : NOTIFIER_DEFAULT_CACERT);
	if (c->exchange == NULL || c->cacert == NULL)
		goto fail;
	if ((err = split_urls(c, urls)) < 0 ||
	    (err = make_self_id(c->self_id, sizeof(c->self_id))) < 0)
		goto fail;
	snprintf(c->probe_key, sizeof(c->probe_key), "p.%s", c->self_id);
	*out = c;
	return 0;
fail:
	nconn_free(c);
	return err;
}

/* Forget the connection (not closed politely: it is broken, or going). */
static void nconn_drop(struct nconn *c)
{
	if (c->conn == NULL)
		return;
	amqp_destroy_connection(c->conn);
	c->conn = NULL;
	amqp_bytes_free(c->queue);
	c->queue = amqp_empty_bytes;
}

void nconn_free(struct nconn *c)
{
	if (c == NULL)
		return;
	nconn_drop(c);
	for (size_t i = 0; i < c->nurls; i++)
		free(c->urls[i]);
	free(c->exchange);
	free(c->cacert);
	free(c);
}

bool nconn_up(const struct nconn *c)
{
	return c->conn != NULL;
}

void nconn_lost(struct nconn *c)
{
	nconn_drop(c);
	c->cur = (c->cur + 1) % c->nurls;
}

void nconn_close(struct nconn *c)
{
	if (c->conn)
		amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS);
	nconn_drop(c);
}

/* Whether the last RPC was answered as asked; if not, say why. */
static bool nconn_rpc_ok(struct nconn *c, const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(c->conn);

	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return true;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
		log_warnx("amqp: %s: %s", what, amqp_error_string2(r.library_error));
	else
		log_warnx("amqp: %s: refused by the broker", what);
	return false;
}

bool nconn_bind(struct nconn *c, const char *key, bool bind)
{
	if (bind)
		amqp_queue_bind(c->conn, 1, c->queue,
				amqp_cstring_bytes(c->exchange),
				amqp_cstring_bytes(key), amqp_empty_table);
	else
		amqp_queue_unbind(c->conn, 1, c->queue,
				  amqp_cstring_bytes(c->exchange),
				  amqp_cstring_bytes(key), amqp_empty_table);
	return nconn_rpc_ok(c, bind ? "bind" : "unbind");
}

/*
 * An amqps:// socket: the broker's certificate must be signed by
 * c->cacert and name the host of the URL.
 */
static amqp_socket_t *tls_socket(struct nconn *c)
{
	amqp_socket_t *sock = amqp_ssl_socket_new(c->conn);

	if (sock == NULL)
		return NULL;
	amqp_ssl_socket_set_verify_peer(sock, 1);
	amqp_ssl_socket_set_verify_hostname(sock, 1);
	if (amqp_ssl_socket_set_cacert(sock, c->cacert) != AMQP_STATUS_OK) {
		log_warnx("amqp: cannot read the CA bundle %s", c->cacert);
		return NULL;
	}
	return sock;
}

/*
 * Connect to broker `cur`, declare, bind the probe key and what is bound,
 * consume.  On failure the next attempt goes to the next broker.
 */
int nconn_connect(struct nconn *c, const struct binding_set *bound,
		  char *where, size_t size)
{
	struct amqp_connection_info ci;
	struct timeval tv = {CONNECT_TIMEOUT_S, 0};
	struct timeval rpc = {PROBE_DEADLINE_MS / 1000,
			      (PROBE_DEADLINE_MS % 1000) * 1000};
	amqp_socket_t *sock;
	amqp_queue_declare_ok_t *q;
	struct binding *b;
	char *url = strdup(c->urls[c->cur]);
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
	c->conn = amqp_new_connection();
	if (c->conn == NULL)
		goto fail;
	sock = ci.ssl ? tls_socket(c) : amqp_tcp_socket_new(c->conn);
	if (sock == NULL)
		goto fail;
	amqp_set_handshake_timeout(c->conn, &tv);
	amqp_set_rpc_timeout(c->conn, &tv);
	status = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
	if (status != AMQP_STATUS_OK) {
		if (!c->warned_down) /* once per outage, not per retry */
			log_warnx("amqp: cannot connect to %s:%d: %s", ci.host,
				  ci.port, amqp_error_string2(status));
		c->warned_down = true;
		goto fail;
	}
	c->warned_down = false;
	if (amqp_login(c->conn, ci.vhost, 0, 131072, HEARTBEAT_S,
		       AMQP_SASL_METHOD_PLAIN, ci.user, ci.password)
		    .reply_type != AMQP_RESPONSE_NORMAL) {
		log_warnx("amqp: login refused");
		goto fail;
	}
	amqp_channel_open(c->conn, 1);
	if (!nconn_rpc_ok(c, "channel"))
		goto fail;
	amqp_exchange_declare(c->conn, 1, amqp_cstring_bytes(c->exchange),
			      amqp_cstring_bytes("topic"), 0, 0, 0, 0,
			      amqp_empty_table);
	if (!nconn_rpc_ok(c, "exchange"))
		goto fail;
	q = amqp_queue_declare(c->conn, 1, amqp_empty_bytes, 0, 0, 1, 1,
			       amqp_empty_table);
	if (!nconn_rpc_ok(c, "queue") || q == NULL)
		goto fail;
	c->queue = amqp_bytes_malloc_dup(q->queue);
	if (!nconn_bind(c, c->probe_key, true))
		goto fail;
	c->probe_next_ms = mono_ms();
	c->probe_wait_ms = 0;
	for (size_t i = 0; i < BINDING_BUCKETS; i++)
		LIST_FOREACH(b, &bound->bucket[i], link)
			if (!nconn_bind(c, b->key, true))
				goto fail;
	amqp_basic_consume(c->conn, 1, c->queue, amqp_empty_bytes, 0, 1, 1,
			   amqp_empty_table);
	if (!nconn_rpc_ok(c, "consume"))
		goto fail;
	/* from now on a broker gone silent is noticed within the probe's
	 * deadline, also while this thread waits for a binding's answer */
	amqp_set_rpc_timeout(c->conn, &rpc);
	err = 0;
	goto out;
fail:
	nconn_lost(c);
out:
	free(url);
	return err;
}

bool nconn_publish(struct nconn *c, const char *key, const char *body,
		   size_t len)
{
	amqp_basic_properties_t props;
	amqp_bytes_t bytes;

	bytes.bytes = (void *)body;
	bytes.len = len;
	props._flags = AMQP_BASIC_APP_ID_FLAG;
	props.app_id = amqp_cstring_bytes(c->self_id);
	return amqp_basic_publish(c->conn, 1, amqp_cstring_bytes(c->exchange),
				  amqp_cstring_bytes(key), 0, 0, &props,
				  bytes) == AMQP_STATUS_OK;
}

bool nconn_probe(struct nconn *c, int *timeout)
{
	int64_t now = mono_ms();
	amqp_bytes_t body = amqp_cstring_bytes("");

	if (c->probe_wait_ms && now - c->probe_wait_ms > PROBE_DEADLINE_MS) {
		log_warnx("amqp: the broker has not answered for %d ms",
			  PROBE_DEADLINE_MS);
		return false;
	}
	if (now >= c->probe_next_ms) {
		if (amqp_basic_publish(c->conn, 1,
				       amqp_cstring_bytes(c->exchange),
				       amqp_cstring_bytes(c->probe_key), 0, 0,
				       NULL, body) != AMQP_STATUS_OK)
			return false;
		if (c->probe_wait_ms == 0)
			c->probe_wait_ms = now;
		c->probe_next_ms = now + PROBE_EVERY_MS;
	}
	if (*timeout > c->probe_next_ms - now)
		*timeout = (int)(c->probe_next_ms - now);
	return true;
}

int nconn_fd(const struct nconn *c)
{
	return amqp_get_sockfd(c->conn);
}

bool nconn_pending(const struct nconn *c)
{
	return amqp_data_in_buffer(c->conn) || amqp_frames_enqueued(c->conn);
}

static bool from_self(const struct nconn *c, const amqp_basic_properties_t *p)
{
	size_t len = strlen(c->self_id);

	return (p->_flags & AMQP_BASIC_APP_ID_FLAG) && p->app_id.len == len &&
	       memcmp(p->app_id.bytes, c->self_id, len) == 0;
}

bool nconn_receive(struct nconn *c, notifier_msg_cb *deliver, void *arg)
{
	struct timeval zero = {0, 0};

	for (;;) {
		amqp_envelope_t env;
		amqp_rpc_reply_t r;
		char *key;

		amqp_maybe_release_buffers(c->conn);
		r = amqp_consume_message(c->conn, &env, &zero, 0);
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_TIMEOUT)
			return true;
		if (r.reply_type != AMQP_RESPONSE_NORMAL)
			return false;
		if (env.routing_key.len == strlen(c->probe_key) &&
		    memcmp(env.routing_key.bytes, c->probe_key,
			   env.routing_key.len) == 0) {
			c->probe_wait_ms = 0; /* the broker answers */
			amqp_destroy_envelope(&env);
			continue;
		}
		if (from_self(c, &env.message.properties)) {
			amqp_destroy_envelope(&env);
			continue; /* delivered locally when published */
		}
		key = strndup(env.routing_key.bytes, env.routing_key.len);
		if (key)
			deliver(arg, key, env.message.body.bytes,
				env.message.body.len);
		free(key);
		amqp_destroy_envelope(&env);
	}
}
