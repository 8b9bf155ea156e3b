#!/usr/bin/env bash
# partition_cluster.sh - a Redis Cluster partition: the master of the
# tree's slot and node n2 run in a network namespace of their own
# (tests/lib/netns.sh), the other two masters, every replica and node n1
# on the machine's side.  Cutting the link leaves that master in the
# minority with n2; the majority promotes its replica.
#
#   - n2's grants fail with EIO (its master stops taking writes once it
#     knows it is in the minority);
#   - n1, whose connection to the old master goes silent (no reset, no
#     redirection), finds the new master by itself and its grants go on;
#   - after the heal the old master rejoins as a replica and n2 follows;
#   - workers on both nodes take one lock in turn throughout, and no two
#     of them ever hold it at once.
. "$(dirname "$0")/../lib/cluster.sh"
. "$TESTS_LIB/netns.sh"
T=/tmp/lockfs-pcluster.$$
RC_DIR=$(mktemp -d /tmp/lockfs-pcluster-run.XXXXXX)
chmod 755 "$RC_DIR"
eval "cluster_cleanup_base$(declare -f cluster_cleanup | sed 1s/cluster_cleanup//)"
BG=()
cluster_cleanup() {
	local p
	for p in "${BG[@]}" "${TURNS_PIDS[@]}"; do kill -9 -- "-$p" 2>/dev/null; done
	cluster_cleanup_base
	for p in "$RC_DIR"/*/pid; do [ -e "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null; done
	netns_down
	rm -rf "$RC_DIR" "$T".*
}
trap cluster_cleanup EXIT

netns_ready # RabbitMQ, the namespace, n2's way to the broker

# --- a Redis Cluster: node 0 in the namespace, five outside -----------------
RC_BASE=$(servers_free_port 7400)
RC_PORTS=()
RC_HOSTS=()
for i in 0 1 2 3 4 5; do
	p=$(servers_free_port $((RC_BASE + i)))
	RC_PORTS+=("$p")
	mkdir -p "$RC_DIR/$p"
	if [ "$i" = 0 ]; then
		run=netns_run bind=$NETNS_ME
		RC_HOSTS+=("$NETNS_ME")
	else
		run="" bind="127.0.0.1 $NETNS_HOST"
		RC_HOSTS+=("$NETNS_HOST")
	fi
	# shellcheck disable=SC2086
	$run redis-server --port "$p" --bind $bind --cluster-enabled yes --protected-mode no \
		--repl-diskless-sync-delay 0 \
		--cluster-announce-ip "${RC_HOSTS[$i]}" \
		--cluster-config-file "$RC_DIR/$p/nodes.conf" --cluster-node-timeout 2000 \
		--dir "$RC_DIR/$p" --save '' --appendonly no --daemonize yes \
		--pidfile "$RC_DIR/$p/pid" --logfile "$RC_DIR/$p/log"
done
node_up() { redis-cli -h "$1" -p "$2" ping 2>/dev/null | grep -q PONG; }
for i in 0 1 2 3 4 5; do
	wait_until 20 node_up "${RC_HOSTS[$i]}" "${RC_PORTS[$i]}" || fail "redis ${RC_PORTS[$i]} did not start"
done
addrs=""
for i in 0 1 2 3 4 5; do addrs+="${RC_HOSTS[$i]}:${RC_PORTS[$i]} "; done
# shellcheck disable=SC2086
redis-cli --cluster create $addrs --cluster-replicas 1 --cluster-yes >"$RC_DIR/create.log" 2>&1 ||
	fail "redis-cli --cluster create: $(tail -3 "$RC_DIR/create.log")"
rc() { redis-cli -h "$NETNS_HOST" -p "${RC_PORTS[1]}" "$@"; } # a node outside
cluster_ok() { [ "$(rc CLUSTER INFO | tr -d '\r' | sed -n 's/^cluster_state://p')" = ok ]; }
expect "the Redis Cluster of 3 masters and 3 replicas is up" wait_until 30 cluster_ok
P0=${RC_PORTS[0]}
# the port of the master serving slot $1, as the majority sees it now
master_port() {
	rc CLUSTER NODES | awk -v s="$1" '$3 ~ /master/ && $3 !~ /fail/ {
		for (i = 9; i <= NF; i++) {
			n = split($i, r, "-"); lo = r[1]; hi = (n == 2 ? r[2] : r[1])
			if (s >= lo + 0 && s <= hi + 0) { split($2, a, "@"); split(a[1], h, ":"); print h[2] }
		}
	}'
}
role_of_p0() { redis-cli -h "$NETNS_ME" -p "$P0" ROLE 2>/dev/null | head -1; }
p0_is() { [ "$(role_of_p0)" = "$1" ]; }
expect "node 0, in the namespace, is a master" p0_is master
# a replica that has never synced will not take over
p0_replica_synced() {
	redis-cli -h "$NETNS_ME" -p "$P0" INFO replication 2>/dev/null | grep -q '^slave0:.*state=online'
}
expect "its replica is in sync" wait_until 30 p0_replica_synced

# a tree whose slot node 0 serves
PREFIX=""
for k in $(seq 1 200); do
	cand="pc$$x$k"
	[ "$(master_port "$(rc CLUSTER KEYSLOT "{$cand}:x")")" = "$P0" ] && { PREFIX=$cand; break; }
done
expect "a tree on node 0's slots ($PREFIX)" test -n "$PREFIX"
SLOT=$(rc CLUSTER KEYSLOT "{$PREFIX}:x")
outside=""
for i in 1 2 3 4 5; do outside+="\\,$NETNS_HOST:${RC_PORTS[$i]}"; done
export LOCKFS_REDIS_URL="cluster://$NETNS_ME:$P0$outside"
cluster_mount 1 "backend_timeout=2s,ttl=3s"
cluster_node_stop 1
CLUSTER_PREFIX=$PREFIX
cluster_node_start 1 || exit 1
expect "n2 mounts inside the namespace, beside node 0" \
	netns_mount 2 "backend_timeout=2s,ttl=3s" "$LOCKFS_REDIS_URL"
mkdir -m 1777 "$N1/pc"
expect "both nodes see one tree" taken_and_seen "$N1" "$N2" pc n1

# workers on both nodes take one lock in turn throughout
turns_start "$T.turns" "$T.turns.stop" "$N1/pc/hot" "$N2/pc/hot" "$N1/pc/hot" "$N2/pc/hot"
sleep 2

# --- the cut: node 0 and n2 on one side, in the minority -------------------
netns_isolate
moved() { local m; m=$(master_port "$SLOT"); [ -n "$m" ] && [ "$m" != "$P0" ]; }
expect "the majority promotes node 0's replica" wait_until 30 moved
n1_takes() { [ "$(in_session python3 "$TESTS_LIB/fsop.py" open "$N1/pc/side1" wc)" = OK ]; }
expect "n1, whose link to the old master went silent, finds the new one: its grants work" \
	wait_until 30 n1_takes
out=$(in_session python3 "$TESTS_LIB/fsop.py" open "$N2/pc/side2" wcn)
check "n2, in the minority with the old master: EIO" EIO echo "$out"
expect "grants go on on n1's side of the partition" \
	wait_until 30 grants_since "$T.turns" "$(date +%s)" 10
netns_rejoin
t_heal=$(date +%s)
expect "after the heal the old master rejoins as a replica" wait_until 40 p0_is slave
expect "n2 follows the new master: its grants work and n1 sees them" \
	wait_until 30 taken_and_seen "$N2" "$N1" pc n2
expect "grants go on after the heal" wait_until 30 grants_since "$T.turns" "$t_heal" 10
turns_end "$T.turns" "$T.turns.stop"

finish
