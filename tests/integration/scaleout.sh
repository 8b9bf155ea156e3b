#!/usr/bin/env bash
# scaleout.sh - lockfs on the clusters a site runs when one server is not
# enough (README "For operators"): a Redis Cluster of three masters with a
# replica each, and a RabbitMQ cluster of two brokers, all started here on
# loopback.  Two trees (two prefixes, so two hash tags) on masters of their
# own, two mounts each; locks, waiters and lock sets on both; then under
# load on one tree: a manual failover of its master (CLUSTER FAILOVER on
# the replica), a kill -9 of its master, and the broker its daemons use
# stopped.  Throughout: never two holders (a log of every hold, checked),
# every worker makes progress, and the daemons find the new master and the
# other broker by themselves.
. "$(dirname "$0")/../lib/cluster.sh"

T=/tmp/lockfs-scaleout.$$
RC_DIR=$(mktemp -d /tmp/lockfs-rcluster.XXXXXX)
chmod 755 "$RC_DIR"
RC_PIDS=()
BROKER_DIRS=()
# the cluster's exit trap also stops the servers started here
eval "cluster_cleanup_base$(declare -f cluster_cleanup | sed 1s/cluster_cleanup//)"
cluster_cleanup() {
	local p d
	for p in "${BG_PIDS[@]}"; do
		kill -9 -- "-$p" 2>/dev/null
	done
	cluster_cleanup_base
	for p in "${RC_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for d in "${BROKER_DIRS[@]}"; do
		LOCKFS_SERVERS_DIR=$d rabbit_stop
	done
	rm -rf "$RC_DIR" "$T".*
}
trap cluster_cleanup EXIT
BG_PIDS=()

# --- a Redis Cluster: 3 masters, 1 replica each ---------------------------
RC_BASE=$(servers_free_port 7300)
RC_PORTS=()
for i in 0 1 2 3 4 5; do
	p=$(servers_free_port $((RC_BASE + i)))
	RC_PORTS+=("$p")
	mkdir -p "$RC_DIR/$p"
	redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
		--cluster-config-file "$RC_DIR/$p/nodes.conf" --cluster-node-timeout 2000 \
		--dir "$RC_DIR/$p" --save '' --appendonly no --daemonize yes \
		--pidfile "$RC_DIR/$p/pid" --logfile "$RC_DIR/$p/log"
done
for p in "${RC_PORTS[@]}"; do
	servers_wait_port "$p" 20 || fail "redis $p did not start"
	RC_PIDS+=("$(cat "$RC_DIR/$p/pid")")
done
addrs=$(printf '127.0.0.1:%s ' "${RC_PORTS[@]}")
# shellcheck disable=SC2086
redis-cli --cluster create $addrs --cluster-replicas 1 --cluster-yes >"$RC_DIR/create.log" 2>&1 ||
	fail "redis-cli --cluster create: $(tail -3 "$RC_DIR/create.log")"

# any node that answers
rc() {
	local p
	for p in "${RC_PORTS[@]}"; do
		redis-cli -p "$p" ping >/dev/null 2>&1 && { redis-cli -p "$p" "$@"; return; }
	done
}
cluster_ok() { [ "$(rc CLUSTER INFO | tr -d '\r' | sed -n 's/^cluster_state://p')" = ok ]; }
slot_of() { rc CLUSTER KEYSLOT "{$1}:x"; }
# the port of the master serving slot $1, as the cluster sees it now
master_port() {
	rc CLUSTER NODES | awk -v s="$1" '$3 ~ /master/ && $3 !~ /fail/ {
		for (i = 9; i <= NF; i++) {
			n = split($i, r, "-"); lo = r[1]; hi = (n == 2 ? r[2] : r[1])
			if (s >= lo + 0 && s <= hi + 0) { split($2, a, "@"); split(a[1], h, ":"); print h[2] }
		}
	}'
}
replica_port() { # MASTER_PORT: one of its replicas
	local id
	id=$(redis-cli -p "$1" CLUSTER MYID)
	rc CLUSTER NODES | awk -v id="$id" '$4 == id && $3 !~ /fail/ { split($2, a, "@"); split(a[1], h, ":"); print h[2]; exit }'
}
pid_of_port() {
	local i
	for i in "${!RC_PORTS[@]}"; do
		[ "${RC_PORTS[$i]}" = "$1" ] && echo "${RC_PIDS[$i]}"
	done
}
expect "the Redis Cluster of 3 masters and 3 replicas is up" wait_until 30 cluster_ok

# --- a RabbitMQ cluster of two brokers -------------------------------------
cluster_servers # (the suite's usual servers stay as they are)
broker_start() { # N: broker N of the pair; sets BROKER_PORT[N]
	local d=$RC_DIR/broker$1 port
	port=$(servers_free_port $((LOCKFS_AMQP_PORT + 40 + 10 * $1)))
	mkdir -p "$d"
	BROKER_DIRS+=("$d")
	BROKER_PORT[$1]=$port
	BROKER_NODE[$1]="lockfs$port@localhost"
	(LOCKFS_SERVERS_DIR=$d LOCKFS_AMQP_PORT=$port LOCKFS_AMQPS_PORT=$((port + 1)) \
		LOCKFS_RABBIT_NODE=${BROKER_NODE[$1]} rabbit_start)
}
declare -a BROKER_PORT BROKER_NODE
broker_start 1 || fail "broker 1 did not start"
broker_start 2 || fail "broker 2 did not start"
ctl2() { rabbitmqctl -q -n "${BROKER_NODE[2]}" "$@" >>"$RC_DIR/ctl.log" 2>&1; }
ctl2 await_startup
ctl2 stop_app && ctl2 reset && ctl2 join_cluster "${BROKER_NODE[1]}" && ctl2 start_app
expect "the two brokers form one cluster" wait_until 30 bash -c "rabbitmqctl -q -n ${BROKER_NODE[1]} cluster_status 2>/dev/null | grep -q '${BROKER_NODE[2]}'"

# --- two trees on two masters ------------------------------------------------
# backslash-comma: one -o value; the broker list goes by the environment
export LOCKFS_REDIS_URL="cluster://127.0.0.1:${RC_PORTS[0]}\\,127.0.0.1:${RC_PORTS[1]}\\,127.0.0.1:${RC_PORTS[2]}"
export LOCKFS_AMQP_URL="amqp://guest:guest@127.0.0.1:${BROKER_PORT[1]}/,amqp://guest:guest@127.0.0.1:${BROKER_PORT[2]}/"
cluster_mount 2 "backend_timeout=2s"
PA=$CLUSTER_PREFIX
MA=$(master_port "$(slot_of "$PA")")
PB=""
for k in $(seq 1 50); do
	cand="${PA}b$k"
	[ "$(master_port "$(slot_of "$cand")")" != "$MA" ] && { PB=$cand; break; }
done
MB=$(master_port "$(slot_of "$PB")")
CLUSTER_PREFIX=$PB CLUSTER_N=4 CLUSTER_NODES=4
cluster_node_start 3 || exit 1
cluster_node_start 4 || exit 1
N3=$CLUSTER_DIR/n3 N4=$CLUSTER_DIR/n4
expect "tree $PA on master :$MA, tree $PB on master :$MB: two masters" test -n "$MA" -a -n "$MB" -a "$MA" != "$MB"
check "n1 reaches the master of its tree" "master" bash -c "redis-cli -p $MA ROLE | head -1"
check "n1 names the first broker" "127.0.0.1:${BROKER_PORT[1]}" info_field "$N1/.lockfs/status" amqp_broker

mkdir -p "$N1/a" "$N3/b"
touch "$N1/a/x" "$N3/b/y"
check "a lock of tree A is held on A's master" 1 redis-cli -p "$MA" EXISTS "{$PA}:l:a/x"
check "a lock of tree B is held on B's master" 1 redis-cli -p "$MB" EXISTS "{$PB}:l:b/y"
check "and shows on the tree's other node" n1 info_field "$N2/a/x" node
check "tree B's other node too" n3 info_field "$N4/b/y" node
expect "the trees are apart: no b/ in tree A" test ! -e "$N1/b"
check "a second owner is refused on the cluster" EAGAIN in_session python3 "$TESTS_LIB/fsop.py" open "$N2/a/x" wcn
# a waiter on the other node gets it when it is released (handed over)
setsid bash -c "exec 9>$N2/a/x && echo granted >$T.w && sleep 30" &
BG_PIDS+=($!)
wait_waiter() { [ "$(info_field "$N1/a/x" waiters)" = 1 ]; }
expect "a waiter queues on tree A" wait_until 10 wait_waiter
rm "$N1/a/x"
expect "and gets the lock when it is released" wait_until 5 test -s $T.w
check "held by n2 now" n2 info_field "$N1/a/x" node
# a lock set on tree B
check "a lock set on tree B" OK fsop write "$N3/.lockfs/acquire" "b/s1 b/s2"
check "both members held, seen from n4" "n3 n3" bash -c "echo \$(sed -n 's/^node=//p' $N4/b/s1 $N4/b/s2)"
# a request handle on tree B waits for a member without a thread
in_session python3 "$TESTS_LIB/request.py" wait "$N4" b/s1 $T.rq.go >$T.rq &
rq=$!
rq_queued() { [ "$(info_field "$N3/b/s1" waiters)" = 1 ]; }
expect "a request handle on tree B queues" wait_until 10 rq_queued
rm "$N3/b/s1"
expect "and its outcome comes once the member is released" wait_until 10 grep -q '^outcome granted b/s1=' $T.rq
check "n4 holds it now" n4 info_field "$N3/b/s1" node
touch $T.rq.go
wait $rq

# --- under load: workers on tree A keep taking one lock in turn -------------
grants_after() { awk -v t="$2" '$1 == "in" && $3 > t' "$1" | wc -l; }
# load SECONDS LOG: two workers on each of n1 and n2, in the background
load() {
	local until=$(($(date +%s) + $1)) i
	: >"$2"
	LOAD=()
	for i in 1 2; do
		for n in "$N1" "$N2"; do
			setsid python3 "$TESTS_LIB/turns.py" "$n/a/hot" "$2" "$until" >>"$2.out" 2>&1 &
			LOAD+=($!)
		done
	done
}
load_done() {
	local p
	for p in "${LOAD[@]}"; do
		timeout 60 tail --pid="$p" -f /dev/null
	done
}

# 1. a manual failover: the replica takes over, the old master says MOVED
load 14 $T.l1
sleep 3
OLD=$MA
REP=$(replica_port "$MA")
redis-cli -p "$REP" CLUSTER FAILOVER >/dev/null
t_fail=$(date +%s.%N)
moved() { [ "$(master_port "$(slot_of "$PA")")" = "$REP" ]; }
expect "CLUSTER FAILOVER: :$REP serves tree A now" wait_until 20 moved
load_done
expect "all four workers ran to the end ($(grep -c errors $T.l1.out) of 4)" test "$(grep -c errors $T.l1.out)" = 4
expect "never two holders across the failover ($(grep -c '^in' $T.l1) grants)" holds_never_overlap $T.l1
expect "grants went on after it ($(grants_after $T.l1 "$t_fail"))" test "$(grants_after $T.l1 "$t_fail")" -gt 10
MA=$REP

# 2. the master killed: the old one, a replica now, takes over
load 16 $T.l2
sleep 3
kill -9 "$(pid_of_port "$MA")"
t_kill=$(date +%s.%N)
took_over() { m=$(master_port "$(slot_of "$PA")"); [ -n "$m" ] && [ "$m" != "$MA" ] && cluster_ok; }
expect "master killed: another takes tree A over" wait_until 30 took_over
load_done
expect "all four workers ran to the end" test "$(grep -c errors $T.l2.out)" = 4
expect "grants went on after it ($(grants_after $T.l2 "$t_kill"))" test "$(grants_after $T.l2 "$t_kill")" -gt 10
# with asynchronous replication a kill may lose the last writes (README):
# the overlap check is reported here, not required
if holds_never_overlap $T.l2; then echo "# no overlap across the kill either"; else echo "# an overlap across the kill (writes lost by asynchronous replication)"; fi
check "tree B was not disturbed" n3 info_field "$N4/b/y" node

# 3. the broker the daemons use stopped: they move to the other one
h0=$(info_field "$N2/.lockfs/status" handoffs)
load 14 $T.l3
sleep 3
LOCKFS_SERVERS_DIR=${BROKER_DIRS[0]} rabbit_stop
t_stop=$(date +%s.%N)
on_two() { [ "$(info_field "$1/.lockfs/status" amqp_broker)" = "127.0.0.1:${BROKER_PORT[2]}" ]; }
expect "n1 moved to the second broker" wait_until 20 on_two "$N1"
expect "n2 too" wait_until 20 on_two "$N2"
load_done
expect "all four workers ran to the end" test "$(grep -c errors $T.l3.out)" = 4
expect "never two holders while the broker moved ($(grep -c '^in' $T.l3) grants)" holds_never_overlap $T.l3
expect "grants went on after it ($(grants_after $T.l3 "$t_stop"))" test "$(grants_after $T.l3 "$t_stop")" -gt 10
h1=$(info_field "$N2/.lockfs/status" handoffs)
expect "handed over by releases on the other broker too (n2: $((h1 - h0)))" test "$((h1 - h0))" -gt 5

rm -f "$T".*
finish
