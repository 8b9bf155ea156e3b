#!/usr/bin/env bash
# sentinel.sh - a private Redis Sentinel set-up on loopback, for the
# high-availability suite (issue 8).  Source it for the functions, or run
# it: tests/lib/sentinel.sh start|stop|status RUNDIR
#
#   sentinel_start RUNDIR   a master redis-server, one replica (--replicaof)
#                           and three sentinels (quorum 2, down after 1 s,
#                           failover timeout 5 s) on free ports, data and
#                           logs under RUNDIR; waits until the sentinels
#                           know the replica and each other.  Exports
#                           SENTINEL_URL (sentinel://a:p,b:p,c:p/mymaster)
#                           and SENTINEL_OPT_URL (the same with "\," so it
#                           survives -o option splitting), and writes them
#                           to RUNDIR/env.
#   sentinel_stop RUNDIR    stop everything it started (pids under RUNDIR)
#   sentinel_master_port    the master's port as the sentinels say now
#   sentinel_replica_port   the port of the data node that is not master
#   sentinel_wait_synced    until the replica follows the master and has
#                           every write it had (up to 40 s after a failover)
#   sentinel_failover       SENTINEL FAILOVER; waits for the new master
#   sentinel_kill_master    kill -9 the master; waits for the new master
#   sentinel_restart_node PORT   start a killed data node again (sentinels
#                           make it a replica of the current master)
# Every wait is bounded.  Needs redis-server (redis-sentinel, or
# redis-server --sentinel) and redis-cli.
#
# For partitions (tests/fault/partition_sentinel.sh): SENTINEL_BIND, the
# addresses the replica and the sentinels listen on (default 127.0.0.1);
# SENTINEL_MASTER_AT, where the first master listens (default 127.0.0.1),
# and SENTINEL_MASTER_RUN, a command that starts it there (nsenter into a
# network namespace, say).

SENTINEL_NAME=mymaster

sentinel_free_port() { # first free TCP port at or after $1
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
		p=$((p + 1))
	done
	echo "$p"
}

# sentinel_cli PORT ARGS...: redis-cli to the node on PORT, wherever it is
sentinel_cli() {
	local port=$1 host=127.0.0.1
	shift
	[ "$port" = "${SENTINEL_DATA_PORTS[0]:-}" ] &&
		host=${SENTINEL_MASTER_AT:-127.0.0.1}
	redis-cli -h "$host" -p "$port" "$@"
}

sentinel_ping() { # PORT: true once it answers PONG
	sentinel_cli "$1" ping 2>/dev/null | grep -q PONG
}

sentinel_wait() { # SECONDS CMD...
	local t=$1 k
	shift
	for ((k = 0; k < t * 10; k++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# sentinel_data_start PORT [MASTERPORT]: a data node, a replica with
# MASTERPORT (the first master: SENTINEL_MASTER_AT, SENTINEL_MASTER_RUN).
# Its pid goes to RUNDIR/redis-PORT.pid.
sentinel_data_start() {
	local port=$1 dir="$SENTINEL_DIR/redis-$1" bind run=""
	local -a binds
	bind=${SENTINEL_BIND:-127.0.0.1}
	if [ "$port" = "${SENTINEL_DATA_PORTS[0]}" ]; then
		bind=${SENTINEL_MASTER_AT:-127.0.0.1}
		run=${SENTINEL_MASTER_RUN:-}
	fi
	read -r -a binds <<<"$bind"
	mkdir -p "$dir"
	$run redis-server --bind "${binds[@]}" --port "$port" --dir "$dir" \
		--appendonly no --save "" --protected-mode no \
		--repl-diskless-sync-delay 0 \
		--daemonize yes --pidfile "$dir/redis.pid" \
		--logfile "$dir/redis.log" \
		${2:+--replicaof "$(sentinel_host_of "$2")" "$2"} || return 1
	sentinel_wait 10 sentinel_ping "$port" || {
		echo "sentinel.sh: redis-server on $port did not start" >&2
		tail -20 "$dir/redis.log" >&2
		return 1
	}
}

sentinel_host_of() { # PORT: the address of the data node on PORT
	if [ "$1" = "${SENTINEL_DATA_PORTS[0]}" ]; then
		echo "${SENTINEL_MASTER_AT:-127.0.0.1}"
	else
		echo "${SENTINEL_BIND%% *}" | sed 's/^$/127.0.0.1/'
	fi
}

sentinel_proc_start() { # PORT MASTERPORT: one sentinel
	local port=$1 dir="$SENTINEL_DIR/sentinel-$1"
	mkdir -p "$dir"
	cat >"$dir/sentinel.conf" <<EOC
port $port
bind ${SENTINEL_BIND:-127.0.0.1}
protected-mode no
dir $dir
logfile $dir/sentinel.log
pidfile $dir/sentinel.pid
daemonize yes
sentinel monitor $SENTINEL_NAME $(sentinel_host_of "$2") $2 2
sentinel down-after-milliseconds $SENTINEL_NAME 1000
sentinel failover-timeout $SENTINEL_NAME 5000
sentinel parallel-syncs $SENTINEL_NAME 1
EOC
	if command -v redis-sentinel >/dev/null; then
		redis-sentinel "$dir/sentinel.conf" || return 1
	else
		redis-server "$dir/sentinel.conf" --sentinel || return 1
	fi
	sentinel_wait 10 sentinel_ping "$port" || {
		echo "sentinel.sh: sentinel on $port did not start" >&2
		tail -20 "$dir/sentinel.log" >&2
		return 1
	}
}

# sentinel_field PORT FIELD: FIELD of SENTINEL MASTER as sentinel PORT says
sentinel_field() {
	redis-cli -p "$1" SENTINEL master "$SENTINEL_NAME" 2>/dev/null |
		awk -v f="$2" 'prev == f { print; exit } { prev = $0 }'
}

sentinel_ready() { # every sentinel knows the replica and the other two
	local p
	for p in "${SENTINEL_PORTS[@]}"; do
		[ "$(sentinel_field "$p" num-slaves)" = 1 ] || return 1
		[ "$(sentinel_field "$p" num-other-sentinels)" = 2 ] || return 1
		[ "$(sentinel_field "$p" flags)" = master ] || return 1
	done
}

sentinel_start() { # RUNDIR
	local m r s1 s2 s3
	SENTINEL_DIR=$(mkdir -p "$1" && cd "$1" && pwd)
	if ! command -v redis-server >/dev/null ||
		! command -v redis-cli >/dev/null; then
		echo "sentinel.sh: redis-server and redis-cli are needed" >&2
		return 1
	fi
	m=$(sentinel_free_port "${SENTINEL_BASE_PORT:-6480}")
	r=$(sentinel_free_port $((m + 1)))
	s1=$(sentinel_free_port $((r + 1 > 26480 ? r + 1 : 26480)))
	s2=$(sentinel_free_port $((s1 + 1)))
	s3=$(sentinel_free_port $((s2 + 1)))
	SENTINEL_DATA_PORTS=("$m" "$r")
	SENTINEL_PORTS=("$s1" "$s2" "$s3")
	sentinel_data_start "$m" || return 1
	sentinel_data_start "$r" "$m" || { sentinel_stop "$SENTINEL_DIR"; return 1; }
	sentinel_wait 20 sentinel_link_up "$r" || {
		echo "sentinel.sh: the replica did not sync" >&2
		sentinel_stop "$SENTINEL_DIR"
		return 1
	}
	for p in "$s1" "$s2" "$s3"; do
		sentinel_proc_start "$p" "$m" || { sentinel_stop "$SENTINEL_DIR"; return 1; }
	done
	SENTINEL_URL="sentinel://127.0.0.1:$s1,127.0.0.1:$s2,127.0.0.1:$s3/$SENTINEL_NAME"
	SENTINEL_OPT_URL="sentinel://127.0.0.1:$s1\\,127.0.0.1:$s2\\,127.0.0.1:$s3/$SENTINEL_NAME"
	export SENTINEL_DIR SENTINEL_URL SENTINEL_OPT_URL
	cat >"$SENTINEL_DIR/env" <<EOV
SENTINEL_DIR=$SENTINEL_DIR
SENTINEL_DATA_PORTS=(${SENTINEL_DATA_PORTS[*]})
SENTINEL_PORTS=(${SENTINEL_PORTS[*]})
SENTINEL_URL='$SENTINEL_URL'
SENTINEL_OPT_URL='$SENTINEL_OPT_URL'
EOV
	sentinel_wait 30 sentinel_ready || {
		echo "sentinel.sh: the sentinels did not find each other" >&2
		tail -5 "$SENTINEL_DIR"/sentinel-*/sentinel.log >&2
		sentinel_stop "$SENTINEL_DIR"
		return 1
	}
}

sentinel_load() { # RUNDIR
	[ -f "$1/env" ] || return 1
	# shellcheck disable=SC1091
	. "$1/env"
	export SENTINEL_DIR SENTINEL_URL SENTINEL_OPT_URL
}

sentinel_kill_pidfile() { # PIDFILE [SIG]
	local pid k
	pid=$(cat "$1" 2>/dev/null) || return 0
	kill -CONT "$pid" 2>/dev/null
	kill "-${2:-TERM}" "$pid" 2>/dev/null
	for ((k = 0; k < 50; k++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	rm -f "$1"
	return 0
}

sentinel_stop() { # RUNDIR
	local f
	[ -d "$1" ] || return 0
	for f in "$1"/sentinel-*/sentinel.pid "$1"/redis-*/redis.pid; do
		[ -e "$f" ] && sentinel_kill_pidfile "$f"
	done
	return 0
}

sentinel_link_up() { # PORT: a replica whose link to its master is up
	sentinel_cli "$1" INFO replication 2>/dev/null |
		grep -q '^master_link_status:up'
}

sentinel_master_port() { # as the first sentinel that answers says
	local p a
	for p in "${SENTINEL_PORTS[@]}"; do
		a=$(redis-cli -p "$p" SENTINEL get-master-addr-by-name \
			"$SENTINEL_NAME" 2>/dev/null | sed -n 2p)
		[ -n "$a" ] && { echo "$a"; return 0; }
	done
	return 1
}

sentinel_replica_port() {
	local m p
	m=$(sentinel_master_port) || return 1
	for p in "${SENTINEL_DATA_PORTS[@]}"; do
		[ "$p" != "$m" ] && { echo "$p"; return 0; }
	done
	return 1
}

sentinel_role() { # PORT: master | slave
	sentinel_cli "$1" ROLE 2>/dev/null | head -1
}

sentinel_offset() { # PORT: master_repl_offset
	sentinel_cli "$1" INFO replication 2>/dev/null |
		sed -n 's/^master_repl_offset:\([0-9]*\).*/\1/p'
}

sentinel_has_offset() { # PORT OFFSET: its replication offset reached OFFSET
	local got
	got=$(sentinel_offset "$1")
	[ -n "$got" ] && [ "$got" -ge "$2" ]
}

# sentinel_wait_synced: until the replica has processed every write the
# master had when this was called (so a failover loses nothing).  After a
# failover the sentinels make the old master a replica only at their next
# look at it (up to 10 s), so this waits up to 40 s for its link first.
sentinel_wait_synced() {
	local m r want
	m=$(sentinel_master_port) || return 1
	r=$(sentinel_replica_port) || return 1
	sentinel_wait 40 sentinel_link_up "$r" || return 1
	want=$(sentinel_offset "$m")
	[ -n "$want" ] || return 1
	sentinel_wait 10 sentinel_has_offset "$r" "$want"
}

# sentinel_moved_from OLDPORT: the sentinels name another master, and that
# one says it is a master.
sentinel_moved_from() {
	local m
	m=$(sentinel_master_port) || return 1
	[ "$m" != "$1" ] && [ "$(sentinel_role "$m")" = master ]
}

sentinel_failover() { # SENTINEL FAILOVER; prints the new master's port
	local old
	old=$(sentinel_master_port) || return 1
	redis-cli -p "${SENTINEL_PORTS[0]}" SENTINEL failover "$SENTINEL_NAME" \
		>/dev/null 2>&1 || return 1
	sentinel_wait 30 sentinel_moved_from "$old" || return 1
	sentinel_master_port
}

sentinel_kill_master() { # kill -9 the master; prints the new master's port
	local old
	old=$(sentinel_master_port) || return 1
	sentinel_kill_pidfile "$SENTINEL_DIR/redis-$old/redis.pid" KILL
	sentinel_wait 30 sentinel_moved_from "$old" || return 1
	sentinel_master_port
}

sentinel_restart_node() { # PORT: back as a replica of the current master
	local m
	m=$(sentinel_master_port) || return 1
	sentinel_data_start "$1" "$m"
}

sentinel_status() { # RUNDIR
	local p
	sentinel_load "$1" || { echo "no sentinel set-up in $1"; return 1; }
	echo "url      $SENTINEL_URL"
	for p in "${SENTINEL_DATA_PORTS[@]}"; do
		echo "redis    $p $(sentinel_role "$p" || echo down)"
	done
	for p in "${SENTINEL_PORTS[@]}"; do
		if sentinel_ping "$p"; then echo "sentinel $p up"; else echo "sentinel $p down"; fi
	done
	echo "master   $(sentinel_master_port)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case "${1:-}" in
	start) sentinel_start "${2:?RUNDIR}" && echo "$SENTINEL_URL" ;;
	stop) sentinel_stop "${2:?RUNDIR}" ;;
	status) sentinel_status "${2:?RUNDIR}" ;;
	*) echo "usage: $0 start|stop|status RUNDIR" >&2; exit 2 ;;
	esac
fi
