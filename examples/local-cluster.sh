#!/usr/bin/env bash
# local-cluster.sh - the README's first command: a working lockfs cluster on
# one machine.
#
#   examples/local-cluster.sh start [--nodes N]   (default 2 nodes)
#   examples/local-cluster.sh status
#   examples/local-cluster.sh stop
#
# `start` installs what is missing (Debian packages), builds with meson into
# build/, starts a private redis-server (AOF on) and rabbitmq-server on
# loopback under $LOCKFS_RUN (default /tmp/lockfs-cluster), and mounts
# nodes n1..nN at $LOCKFS_RUN/n1.. as daemons.  Run as root.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUN=${LOCKFS_RUN:-/tmp/lockfs-cluster}
# shellcheck source=../tests/lib/deps.sh
. "$REPO/tests/lib/deps.sh"
# shellcheck source=../tests/lib/servers.sh
. "$REPO/tests/lib/servers.sh"

mounted_nodes() {
	local m
	for m in "$RUN"/n*; do
		[ -d "$m" ] && mountpoint -q "$m" && echo "$m"
	done
	return 0
}

# page_url MOUNT: where the node's HTTP window listens (a port the
# kernel picked on 127.0.0.1; its status says which)
page_url() {
	echo "http://$(sed -n 's/^http=//p' "$1/.lockfs/status")/"
}

start() {
	local nodes=2 i mnt
	[ "${1:-}" = "--nodes" ] && nodes=${2:?--nodes N}
	[ "$(id -u)" -eq 0 ] || { echo "run me as root" >&2; exit 1; }
	install_missing
	echo "== building lockfs in $REPO/build"
	(cd "$REPO" && { [ -f build/build.ninja ] || meson setup build >/dev/null; } &&
		meson compile -C build | sed -n 's/^\[\([0-9]*\/[0-9]*\)\] .*/   step \1/p' |
		awk 'NR % 10 == 1')
	echo "   built"
	echo "== starting Redis and RabbitMQ under $RUN/servers, mounting $nodes nodes"
	mkdir -p "$RUN/logs"
	chmod 755 "$RUN"
	if servers_load "$RUN/servers" 2>/dev/null &&
		redis-cli -p "$LOCKFS_REDIS_PORT" ping >/dev/null 2>&1; then
		echo "servers already running"
	else
		servers_start "$RUN/servers"
	fi
	for ((i = 1; i <= nodes; i++)); do
		mnt="$RUN/n$i"
		mkdir -p "$mnt"
		if mountpoint -q "$mnt"; then
			continue
		fi
		fusermount3 -u -z "$mnt" 2>/dev/null || true
		LOCKFS_AMQP_URL=$LOCKFS_AMQP_URL "$REPO/build/fs/lockfs" \
			-o "redis=$LOCKFS_REDIS_URL,node=n$i,allow_other,http=0,log=$RUN/logs/n$i.log" \
			"$mnt" 2>>"$RUN/logs/n$i.log"
	done
	cat <<EOT

lockfs: $nodes nodes of one cluster are mounted:
$(for ((i = 1; i <= nodes; i++)); do echo "  node n$i at $RUN/n$i, its page at $(page_url "$RUN/n$i")"; done)

Try, on two nodes:
  mkdir -p $RUN/n1/jobs
  touch $RUN/n1/jobs/nightly        # take a lock on n1
  ls $RUN/n2/jobs                   # n2 sees it
  cat $RUN/n2/jobs/nightly          # who holds it
  touch $RUN/n2/jobs/nightly        # busy: Resource temporarily unavailable
  : > $RUN/n2/jobs/nightly &        # waits for it...
  rm $RUN/n1/jobs/nightly           # ...released on n1, granted on n2

Status: cat $RUN/n1/.lockfs/status
Logs:   $RUN/logs/n1.log ...
Stop:   $( [ -n "${LOCKFS_RUN:-}" ] && printf 'LOCKFS_RUN=%q ' "$LOCKFS_RUN")$0 stop
EOT
}

stop() {
	local m n=0
	for m in $(mounted_nodes); do
		fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		echo "unmounted $m"
		n=$((n + 1))
	done
	if servers_load "$RUN/servers" 2>/dev/null; then
		servers_stop "$RUN/servers" || true
		echo "stopped redis-server and rabbitmq-server of $RUN"
	elif [ "$n" -eq 0 ]; then
		echo "nothing of a local cluster runs under $RUN"
	fi
}

status() {
	servers_status "$RUN/servers" || true
	local m
	for m in $(mounted_nodes); do
		echo "node $(sed -n 's/^node=//p' "$m/.lockfs/status") mounted at $m, its page at $(page_url "$m")"
	done
}

case "${1:-}" in
start) shift; start "$@" ;;
stop) stop ;;
status) status ;;
*) echo "usage: $0 start [--nodes N] | status | stop" >&2; exit 2 ;;
esac
