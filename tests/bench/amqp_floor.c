/*
 * amqp_floor.c - the floor of a RabbitMQ wake-up: one message through the
 * broker from one connection to another, measured as half of a ping-pong.
 *
 *   amqp_floor HOST PORT N
 *
 * A child process consumes from its own exclusive queue and echoes every
 * message back to the parent's queue through a topic exchange, as lockfs
 * daemons do; the parent times N round trips and prints one line:
 *
 *   name=amqp_hop n=N p50_us=.. p99_us=.. mean_us=..
 *
 * (each value is half a round trip).  lockfs's handoff crosses the broker
 * once, so this is what bounds it from below, beside a Redis round trip.
 */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

#define EXCHANGE "lockfs-bench-floor"

static int rpc_ok(amqp_connection_state_t conn, const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);

	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 0;
	fprintf(stderr, "amqp_floor: %s failed\n", what);
	return -1;
}

/* Connect, declare the exchange, bind a fresh queue to `key`, consume. */
static amqp_connection_state_t open_peer(const char *host, int port,
					 const char *key)
{
	amqp_connection_state_t conn = amqp_new_connection();
	amqp_socket_t *sock = amqp_tcp_socket_new(conn);
	amqp_queue_declare_ok_t *q;
	amqp_bytes_t queue;

	if (sock == NULL || amqp_socket_open(sock, host, port) != 0) {
		fprintf(stderr, "amqp_floor: cannot connect to %s:%d\n", host,
			port);
		goto fail;
	}
	if (amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
		       "guest", "guest")
		    .reply_type != AMQP_RESPONSE_NORMAL) {
		fprintf(stderr, "amqp_floor: login failed\n");
		goto fail;
	}
	amqp_channel_open(conn, 1);
	if (rpc_ok(conn, "channel") < 0)
		goto fail;
	amqp_exchange_declare(conn, 1, amqp_cstring_bytes(EXCHANGE),
			      amqp_cstring_bytes("topic"), 0, 0, 1, 0,
			      amqp_empty_table);
	if (rpc_ok(conn, "exchange") < 0)
		goto fail;
	q = amqp_queue_declare(conn, 1, amqp_empty_bytes, 0, 0, 1, 1,
			       amqp_empty_table);
	if (rpc_ok(conn, "queue") < 0 || q == NULL)
		goto fail;
	queue = amqp_bytes_malloc_dup(q->queue);
	amqp_queue_bind(conn, 1, queue, amqp_cstring_bytes(EXCHANGE),
			amqp_cstring_bytes(key), amqp_empty_table);
	amqp_basic_consume(conn, 1, queue, amqp_empty_bytes, 0, 1, 1,
			   amqp_empty_table);
	amqp_bytes_free(queue);
	if (rpc_ok(conn, "consume") < 0)
		goto fail;
	return conn;
fail:
	amqp_destroy_connection(conn);
	return NULL;
}

static int send_to(amqp_connection_state_t conn, const char *key)
{
	return amqp_basic_publish(conn, 1, amqp_cstring_bytes(EXCHANGE),
				  amqp_cstring_bytes(key), 0, 0, NULL,
				  amqp_cstring_bytes("wake"));
}

static int receive_one(amqp_connection_state_t conn)
{
	amqp_envelope_t env;
	amqp_rpc_reply_t r;

	amqp_maybe_release_buffers(conn);
	r = amqp_consume_message(conn, &env, NULL, 0);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
		return -1;
	amqp_destroy_envelope(&env);
	return 0;
}

static void echo_forever(const char *host, int port, int ready_fd)
{
	amqp_connection_state_t conn = open_peer(host, port, "floor.child");

	if (conn == NULL || write(ready_fd, "r", 1) != 1)
		_exit(1);
	while (receive_one(conn) == 0)
		if (send_to(conn, "floor.parent") != 0)
			break;
	_exit(0);
}

int main(int argc, char **argv)
{
	amqp_connection_state_t conn = NULL;
	int64_t *half = NULL, sum = 0;
	int ready[2], n, port, rc = 1;
	pid_t child = -1;
	char c;

	if (argc != 4 || (n = atoi(argv[3])) <= 0) {
		fprintf(stderr, "usage: amqp_floor HOST PORT N\n");
		return 2;
	}
	port = atoi(argv[2]);
	if (pipe(ready) != 0 || (half = calloc(n, sizeof(*half))) == NULL)
		goto out;
	child = fork();
	if (child == 0)
		echo_forever(argv[1], port, ready[1]);
	if (child < 0 || read(ready[0], &c, 1) != 1)
		goto out;
	conn = open_peer(argv[1], port, "floor.parent");
	if (conn == NULL)
		goto out;
	for (int i = 0; i < n; i++) {
		int64_t t0 = now_ns();

		if (send_to(conn, "floor.child") != 0 || receive_one(conn) < 0)
			goto out;
		half[i] = (now_ns() - t0) / 2;
		sum += half[i];
	}
	qsort(half, n, sizeof(*half), cmp_i64);
	printf("name=amqp_hop n=%d p50_us=%.1f p99_us=%.1f mean_us=%.1f\n", n,
	       half[n / 2] / 1e3, half[(n * 99) / 100] / 1e3, sum / 1e3 / n);
	rc = 0;
out:
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	if (conn)
		amqp_destroy_connection(conn);
	free(half);
	return rc;
}
