#!/usr/bin/env bash
# peers.sh - lockfs's handoff and contention side by side with the lock
# services it replaces, in one run, by one method each (tests/bench/peers.py,
# Python drivers for all):
#
#   handoff    two processes take one lock in turn, 2 ms holds, the waiter
#              timed from the release to its acquire returning
#   contended  3 nodes x 8 processes loop on one lock for PEERS_CONTEND_S
#              seconds, 100 us holds: grants/s, FIFO inversions, waits
#
#   lockfs     two mounts as two nodes (three when contended), a blocking
#              open (the lease view)
#   redis-py   Lock, polling every 100 ms (its default) and every 1 ms
#   pub/sub    a Redis lock woken by pub/sub as Redisson takes one (SET NX
#              PX; waiters subscribed to its release channel): the best a
#              Redis lock library does
#   ZooKeeper  kazoo's Lock (a watch on the predecessor), Debian zookeeper
#   etcd       the Go client's mutex recipe over gRPC (python3-etcd3),
#              Debian etcd-server
#
#   tests/bench/peers.sh            PEERS_ROUNDS=200, PEERS_CONTEND_S=5
#                                   by default
#
# ZooKeeper and etcd are started privately on loopback and stopped at the
# end; their Debian packages (and python3-kazoo, python3-redis,
# python3-etcd3) are installed when missing.  Part of the full bench run (bench.sh), not of
# CI's short one.  Prints; never fails on time.
. "$(dirname "$0")/../lib/cluster.sh"
BENCH=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${PEERS_ROUNDS:-200}
CONTEND_S=${PEERS_CONTEND_S:-5}
PY=/usr/bin/python3 # Debian's python3-kazoo and python3-redis live there

missing=()
for p in zookeeper etcd-server python3-kazoo python3-redis python3-etcd3; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "peers: installing ${missing[*]}"
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
	rm -f /usr/sbin/policy-rc.d
fi

PEERS=$(mktemp -d /tmp/lockfs-peers.XXXXXX)
zk_port=$(servers_free_port 21810)
etcd_port=$(servers_free_port 23790)
etcd_peer=$(servers_free_port $((etcd_port + 1)))
stop_peers() {
	[ -n "${zk_pid:-}" ] && kill -- -"$zk_pid" 2>/dev/null
	[ -n "${etcd_pid:-}" ] && kill "$etcd_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$PEERS"
}

mkdir -p "$PEERS/zk/data"
cat >"$PEERS/zk/zoo.cfg" <<EOC
tickTime=2000
dataDir=$PEERS/zk/data
clientPort=$zk_port
clientPortAddress=127.0.0.1
admin.enableServer=false
EOC
cp /etc/zookeeper/conf/log4j.properties "$PEERS/zk/" 2>/dev/null
(cd "$PEERS/zk" && ZOOCFGDIR=$PEERS/zk ZOO_LOG_DIR=$PEERS/zk \
	exec setsid /usr/share/zookeeper/bin/zkServer.sh start-foreground "$PEERS/zk/zoo.cfg") \
	>"$PEERS/zk.log" 2>&1 &
zk_pid=$!
etcd --name peers --data-dir "$PEERS/etcd" \
	--listen-client-urls "http://127.0.0.1:$etcd_port" \
	--advertise-client-urls "http://127.0.0.1:$etcd_port" \
	--listen-peer-urls "http://127.0.0.1:$etcd_peer" \
	--initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
	--initial-cluster "peers=http://127.0.0.1:$etcd_peer" >"$PEERS/etcd.log" 2>&1 &
etcd_pid=$!
servers_wait_port "$zk_port" 30 || { echo "peers: zookeeper did not start"; tail "$PEERS/zk.log"; }
servers_wait_port "$etcd_port" 30 || { echo "peers: etcd did not start"; tail "$PEERS/etcd.log"; }

cluster_mount 3 # N1, N2 for the handoff; all three contended
trap 'stop_peers; cluster_cleanup' EXIT # after cluster_mount's own trap
mkdir -p "$N1/peers"
redis_port=${LOCKFS_REDIS_URL##*:}
redis_port=${redis_port%%/*}

measure() { # NAME ARGS...: one line of the table
	local name=$1 out
	shift
	out=$(timeout -k 5 600 $PY "$BENCH/peers.py" "$@" "$ROUNDS" 2>&1 | tail -n 1)
	printf 'peers: %-28s %s\n' "$name" "$out"
	case "$out" in handoff*) pass "$name" ;; *) fail "$name: $out" ;; esac
}
echo "# peers: two processes, 2 ms holds, $ROUNDS rounds each; lower is better"
measure "lockfs (2 nodes)" lockfs "$N1/peers" "$N2/peers"
measure "redis-py Lock sleep=0.1" redis "$redis_port" 0.1
measure "redis-py Lock sleep=0.001" redis "$redis_port" 0.001
measure "Redis SET NX + pub/sub" pubsub "$redis_port"
measure "ZooKeeper + kazoo Lock" zookeeper "$zk_port"
measure "etcd 3.4 + python3-etcd3" etcd "http://127.0.0.1:$etcd_port"

contended() { # NAME ARGS...: one line of the contended table
	local name=$1 out
	shift
	out=$(timeout -k 5 600 $PY "$BENCH/peers.py" contend "$@" "$CONTEND_S" 2>&1 |
		tail -n 1)
	printf 'peers: %-28s %s\n' "$name" "$out"
	case "$out" in
	"contend grants"*) pass "$name contended" ;;
	*) fail "$name contended: $out" ;;
	esac
}
echo "# peers: contended 3 x 8 on one lock, 100 us holds, $CONTEND_S s each;" \
	"more grants/s, fewer inversions, shorter waits are better"
contended "lockfs (3 nodes)" lockfs "$N1/peers" "$N2/peers" "$N3/peers"
contended "redis-py Lock sleep=0.1" redis "$redis_port" 0.1
contended "redis-py Lock sleep=0.001" redis "$redis_port" 0.001
contended "Redis SET NX + pub/sub" pubsub "$redis_port"
contended "ZooKeeper + kazoo Lock" zookeeper "$zk_port"
contended "etcd 3.4 + python3-etcd3" etcd "http://127.0.0.1:$etcd_port"
finish
