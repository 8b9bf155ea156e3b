#!/usr/bin/env bash
# servers.sh - private Redis and RabbitMQ servers on loopback, for the local
# cluster and the test suites.  Source it for the functions, or run it:
#
#   tests/lib/servers.sh start|stop|status RUNDIR
#
# servers_start RUNDIR starts redis-server (AOF on) and rabbitmq-server with
# their own ports, data and logs under RUNDIR, waits until both answer, and
# writes RUNDIR/env (export lines: LOCKFS_REDIS_URL, LOCKFS_AMQP_URL, ports,
# pids) which it also exports.  Every wait is bounded.  Fault tests use
# redis_stop/redis_start/redis_restart/redis_freeze/redis_thaw and
# rabbit_stop/rabbit_start/rabbit_freeze/rabbit_thaw, which keep ports
# and data.

servers_free_port() { # first free TCP port at or after $1
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
		p=$((p + 1))
	done
	echo "$p"
}

servers_wait_port() { # PORT SECONDS
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

redis_start() {
	local dir="$LOCKFS_SERVERS_DIR/redis"
	mkdir -p "$dir"
	redis-server --bind 127.0.0.1 --port "$LOCKFS_REDIS_PORT" \
		--dir "$dir" --appendonly yes --appendfsync everysec \
		--save "" --daemonize yes --pidfile "$dir/redis.pid" \
		--logfile "$dir/redis.log" --protected-mode no || return 1
	local i
	for ((i = 0; i < 100; i++)); do
		if redis-cli -p "$LOCKFS_REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
			LOCKFS_REDIS_PID=$(cat "$dir/redis.pid")
			export LOCKFS_REDIS_PID
			return 0
		fi
		sleep 0.1
	done
	echo "servers.sh: redis-server did not start; its log:" >&2
	tail -20 "$dir/redis.log" >&2
	return 1
}

redis_stop() {
	local pid
	pid=$(cat "$LOCKFS_SERVERS_DIR/redis/redis.pid" 2>/dev/null) || return 0
	kill -CONT "$pid" 2>/dev/null
	kill "$pid" 2>/dev/null
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	return 0
}

redis_restart() { redis_stop && redis_start; }
redis_freeze() { kill -STOP "$(cat "$LOCKFS_SERVERS_DIR/redis/redis.pid")"; }
redis_thaw() { kill -CONT "$(cat "$LOCKFS_SERVERS_DIR/redis/redis.pid")"; }

rabbit_env() {
	local dir="$LOCKFS_SERVERS_DIR/rabbitmq"
	echo RABBITMQ_NODENAME="$LOCKFS_RABBIT_NODE" \
		RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
		RABBITMQ_NODE_PORT="$LOCKFS_AMQP_PORT" \
		RABBITMQ_DIST_PORT="$((LOCKFS_AMQP_PORT + 20000))" \
		RABBITMQ_MNESIA_BASE="$dir/mnesia" \
		RABBITMQ_LOG_BASE="$dir/log" \
		RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
		RABBITMQ_PID_FILE="$dir/rabbit.pid" \
		RABBITMQ_CONFIG_FILE="$dir/rabbitmq"
}

# A private CA and a certificate for localhost/127.0.0.1, for the broker's
# TLS listener (amqps:// on LOCKFS_AMQPS_PORT); the CA is LOCKFS_TEST_CACERT.
rabbit_tls_files() { # DIR
	local d=$1/tls
	[ -f "$d/server.pem" ] && return 0
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=lockfs-test-ca \
		-keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null &&
		openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
			-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext" &&
		openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -days 30 -extfile "$d/ext" -out "$d/server.pem" 2>/dev/null
}

rabbit_start() {
	local dir="$LOCKFS_SERVERS_DIR/rabbitmq"
	mkdir -p "$dir/mnesia" "$dir/log"
	echo '[].' >"$dir/enabled_plugins"
	rabbit_tls_files "$dir" || return 1
	cat >"$dir/rabbitmq.conf" <<EOC
listeners.ssl.default = 127.0.0.1:$LOCKFS_AMQPS_PORT
ssl_options.cacertfile = $dir/tls/ca.pem
ssl_options.certfile = $dir/tls/server.pem
ssl_options.keyfile = $dir/tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
EOC
	# the Debian wrapper drops to the rabbitmq user
	chown -R rabbitmq:rabbitmq "$dir"
	chmod 755 "$LOCKFS_SERVERS_DIR"
	# shellcheck disable=SC2046
	# every fd redirected for the whole background job, so that no pipe of
	# the caller's stays open behind the server
	(cd /tmp && exec env $(rabbit_env) setsid rabbitmq-server) \
		>"$dir/server.out" 2>&1 </dev/null &
	if ! servers_wait_port "$LOCKFS_AMQP_PORT" 90; then
		echo "servers.sh: rabbitmq-server did not start; its log:" >&2
		tail -20 "$dir/server.out" "$dir"/log/*.log >&2 2>/dev/null
		return 1
	fi
}

rabbit_stop() {
	local pidfile="$LOCKFS_SERVERS_DIR/rabbitmq/rabbit.pid" pid i
	pid=$(cat "$pidfile" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	rm -f "$pidfile"
	# the Erlang port mapper it started, once no Erlang node is left
	if ! pgrep -x beam.smp >/dev/null 2>&1; then
		epmd -kill >/dev/null 2>&1 || pkill -x epmd 2>/dev/null || true
	fi
	return 0
}

# the broker's VM stopped: its connections stay open, nothing answers
rabbit_freeze() { kill -STOP "$(cat "$LOCKFS_SERVERS_DIR/rabbitmq/rabbit.pid")"; }
rabbit_thaw() { kill -CONT "$(cat "$LOCKFS_SERVERS_DIR/rabbitmq/rabbit.pid")"; }

servers_start() { # RUNDIR
	LOCKFS_SERVERS_DIR=$(mkdir -p "$1" && cd "$1" && pwd)
	export LOCKFS_SERVERS_DIR
	for cmd in redis-server redis-cli rabbitmq-server; do
		command -v "$cmd" >/dev/null || {
			echo "servers.sh: $cmd is not installed" >&2
			return 1
		}
	done
	LOCKFS_REDIS_PORT=$(servers_free_port "${LOCKFS_REDIS_PORT:-6390}")
	LOCKFS_AMQP_PORT=$(servers_free_port "${LOCKFS_AMQP_PORT:-5680}")
	LOCKFS_RABBIT_NODE="lockfs$LOCKFS_AMQP_PORT@localhost"
	LOCKFS_REDIS_URL="redis://127.0.0.1:$LOCKFS_REDIS_PORT"
	LOCKFS_AMQP_URL="amqp://guest:guest@127.0.0.1:$LOCKFS_AMQP_PORT/"
	LOCKFS_AMQPS_PORT=$(servers_free_port $((LOCKFS_AMQP_PORT + 1)))
	LOCKFS_AMQPS_URL="amqps://guest:guest@localhost:$LOCKFS_AMQPS_PORT/"
	LOCKFS_TEST_CACERT="$LOCKFS_SERVERS_DIR/rabbitmq/tls/ca.pem"
	export LOCKFS_REDIS_PORT LOCKFS_AMQP_PORT LOCKFS_RABBIT_NODE \
		LOCKFS_REDIS_URL LOCKFS_AMQP_URL LOCKFS_AMQPS_PORT LOCKFS_AMQPS_URL \
		LOCKFS_TEST_CACERT
	redis_start || return 1
	rabbit_start || { redis_stop; return 1; }
	cat >"$LOCKFS_SERVERS_DIR/env" <<EOV
export LOCKFS_SERVERS_DIR=$LOCKFS_SERVERS_DIR
export LOCKFS_REDIS_PORT=$LOCKFS_REDIS_PORT
export LOCKFS_AMQP_PORT=$LOCKFS_AMQP_PORT
export LOCKFS_RABBIT_NODE=$LOCKFS_RABBIT_NODE
export LOCKFS_REDIS_URL=$LOCKFS_REDIS_URL
export LOCKFS_AMQP_URL=$LOCKFS_AMQP_URL
export LOCKFS_AMQPS_PORT=$LOCKFS_AMQPS_PORT
export LOCKFS_AMQPS_URL=$LOCKFS_AMQPS_URL
export LOCKFS_TEST_CACERT=$LOCKFS_TEST_CACERT
export LOCKFS_REDIS_PID=$LOCKFS_REDIS_PID
EOV
}

servers_load() { # RUNDIR: adopt servers started earlier
	[ -f "$1/env" ] || return 1
	# shellcheck disable=SC1091
	. "$1/env"
}

servers_stop() { # RUNDIR
	servers_load "$1" || return 0
	rabbit_stop
	redis_stop
}

servers_status() { # RUNDIR
	servers_load "$1" || { echo "no servers in $1"; return 1; }
	if redis-cli -p "$LOCKFS_REDIS_PORT" ping >/dev/null 2>&1; then
		echo "redis    $LOCKFS_REDIS_URL up"
	else
		echo "redis    $LOCKFS_REDIS_URL down"
	fi
	if (exec 3<>"/dev/tcp/127.0.0.1/$LOCKFS_AMQP_PORT") 2>/dev/null; then
		echo "rabbitmq $LOCKFS_AMQP_URL up"
	else
		echo "rabbitmq $LOCKFS_AMQP_URL down"
	fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case "${1:-}" in
	start) servers_start "${2:?RUNDIR}" ;;
	stop) servers_stop "${2:?RUNDIR}" ;;
	status) servers_status "${2:?RUNDIR}" ;;
	*) echo "usage: $0 start|stop|status RUNDIR" >&2; exit 2 ;;
	esac
fi
