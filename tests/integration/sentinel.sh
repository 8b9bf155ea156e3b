#!/usr/bin/env bash
# sentinel.sh - Redis high availability (issue 8): three nodes mounted with
# redis=sentinel://... over a master, a replica and three sentinels
# (tests/lib/sentinel.sh), with leases and handle locks held and waiters
# queued, through three failovers: SENTINEL FAILOVER (the old master lives
# on and is demoted ten seconds later: only the daemons' watch of the
# sentinels moves them in time), the master killed (the connection
# breaks), the master frozen (nothing breaks: the watch again).  After each
# one the daemons are on the new master by themselves, what was held is
# still held and by no one else (holders=1, EAGAIN for another owner,
# waiters not granted early), waiters win when it is released, new
# acquires work.  Replication is caught up before each failover: with
# asynchronous replication a failover loses the last writes (README).
. "$(dirname "$0")/../lib/cluster.sh"
# shellcheck source=../lib/sentinel.sh
. "$TESTS_LIB/sentinel.sh"

T=/tmp/lockfs-sentinel.$$
SENT_DIR=$(mktemp -d /tmp/lockfs-sentinel-run.XXXXXX)
# the cluster's exit trap also stops the sentinel set-up
eval "cluster_cleanup_base$(declare -f cluster_cleanup | sed 1s/cluster_cleanup//)"
BG_PIDS=()
cluster_cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do # holders and waiters: their sessions
		kill -9 -- "-$p" 2>/dev/null
	done
	if [ "$T_FAIL" -ne 0 ]; then
		for f in "$SENT_DIR"/*/*.log; do
			echo "--- $f"
			tail -40 "$f"
		done
	fi
	cluster_cleanup_base
	sentinel_stop "$SENT_DIR"
	rm -rf "$SENT_DIR" "$T".*
}
trap cluster_cleanup EXIT

cluster_servers # RabbitMQ (and a plain Redis nobody uses here)
sentinel_start "$SENT_DIR" || exit 1
export LOCKFS_REDIS_URL=$SENTINEL_OPT_URL # "\," survives -o's comma splitting
cluster_mount 3 "backend_timeout=2s"
mkdir -p "$N1/s"

# lease PATH OUT: a blocking open in a session of its own; writes
# "granted" to OUT once it holds the lock, holds it until OUT.release
# appears, then removes it.
lease() {
	setsid bash -c '
		exec 9>"$1" || { echo "failed $?" >"$2"; exit 1; }
		echo granted >"$2"
		while [ ! -e "$2.release" ]; do sleep 0.05; done
		rm -f "$1"' lease "$1" "$2" &
	BG_PIDS+=($!)
}
# handle PATH OUT: the same with flock(1), a handle lock.
handle() {
	setsid flock "$1" bash -c '
		echo granted >"$1"
		while [ ! -e "$1.release" ]; do sleep 0.05; done' handle "$2" &
	BG_PIDS+=($!)
}
granted() { grep -q granted "$1" 2>/dev/null; }
pending() { grep -q "^waits_pending=$2\$" "$1/.lockfs/status"; }
export -f granted
# holder PATH: "holders node token" of a lock as a node reads it
holder() {
	echo "$(info_field "$1" holders) $(info_field "$1" node) $(info_field "$1" token)"
}
export -f holder
on_master() { # PORT: every node's log says it is connected to that master
	local i
	for ((i = 1; i <= 3; i++)); do
		grep "redis: connected to master\|redis: connection lost\|redis: the sentinels moved" \
			"$CLUSTER_DIR/n$i.log" | tail -1 |
			grep -q "connected to master '$SENTINEL_NAME' at 127.0.0.1:$1\$" || return 1
	done
}
connected() {
	local i
	for ((i = 1; i <= 3; i++)); do
		grep -q '^redis=connected' "$(eval echo "\$N$i")/.lockfs/status" || return 1
	done
}

# after_failover NEWPORT LEASE LHOLDER HANDLE HHOLDER: the checks every
# failover ends with, while LEASE and HANDLE are held and waited for.
after_failover() {
	local new=$1 lpath=$2 lwant=$3 hpath=$4 hwant=$5 other
	expect "the daemons reconnect to the new master ($new) by themselves" \
		wait_until 15 on_master "$new"
	expect "and report redis=connected" wait_until 5 connected
	check "the lease is still held, once, by the same holder" "$lwant" holder "$lpath"
	check "so is the handle lock" "$hwant" holder "$hpath"
	other=$N3
	[ "${lwant#1 n3}" != "$lwant" ] && other=$N1
	check "O_NONBLOCK by another owner gets EAGAIN" EAGAIN \
		in_session python3 "$TESTS_LIB/fsop.py" open "$other/${lpath#*/n?/}" wn
	check "flock -n by another owner is refused" 1 \
		bash -c "flock -n $other/${hpath#*/n?/} -c true; echo \$?"
}

# --- SENTINEL FAILOVER: the old master stays up -------------------------
lease "$N1/s/l" $T.l1
handle "$N2/s/h" $T.h1
expect "a lease held on n1" wait_until 5 granted $T.l1
expect "a handle lock held on n2" wait_until 5 granted $T.h1
lease "$N2/s/l" $T.l2
wait_until 10 pending "$N2" 1 # queued first: FIFO below
lease "$N3/s/l" $T.l3
handle "$N3/s/h" $T.h3
expect "three waiters queued" wait_until 10 bash -c "$(declare -f pending); pending $N2 1 && pending $N3 2"
check "waiters=2 on the lease" 2 info_field "$N1/s/l" waiters
tl=$(info_field "$N1/s/l" token)
th=$(info_field "$N2/s/h" token)
expect "the replica caught up" sentinel_wait_synced
old=$(sentinel_master_port)
new=$(sentinel_failover)
expect "the sentinels promoted the replica ($old -> $new)" test -n "$new" -a "$new" != "$old"
after_failover "$new" "$N3/s/l" "1 n1 $tl" "$N1/s/h" "1 n2 $th"
sleep 1
expect "no waiter was granted early" bash -c "! granted $T.l2 && ! granted $T.l3 && ! granted $T.h3"
touch $T.l1.release
expect "the first waiter gets the lease once it is released" wait_until 10 granted $T.l2
tl2=$(info_field "$N1/s/l" token)
check "held by n2 alone" "1 n2" bash -c "holder $N1/s/l | cut -d' ' -f1,2"
expect "with a newer token ($tl < $tl2)" test "$tl2" -gt "$tl"
expect "the second waiter still waits (FIFO)" bash -c "sleep 0.5; ! granted $T.l3"
touch $T.h1.release
expect "the handle lock's waiter gets it" wait_until 10 granted $T.h3
check "held by n3 alone" "1 n3" bash -c "holder $N1/s/h | cut -d' ' -f1,2"
check "a new acquire works" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N1/s/new1" wcn
tn=$(bash -c ": > $N2/s/new2; sed -n 's/^token=//p' $N2/s/new2")
expect "tokens keep growing ($tl2 < $tn)" test "$tn" -gt "$tl2"
rm -f "$N2/s/new2"

# --- the master killed: the connection breaks -----------------------------
handle "$N1/s/h" $T.h4 # behind n3's hold
expect "waiters queued again" wait_until 10 bash -c "$(declare -f pending); pending $N3 1 && pending $N1 1"
tl2=$(info_field "$N1/s/l" token)
th3=$(info_field "$N1/s/h" token)
expect "the replica caught up (the old master is a replica now)" sentinel_wait_synced
old=$(sentinel_master_port)
sentinel_kill_pidfile "$SENT_DIR/redis-$old/redis.pid" KILL
t0=$(date +%s%N)
got=$(in_session python3 "$TESTS_LIB/fsop.py" open "$N2/s/during" wcn)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
# EIO unless the sentinels were quicker than backend_timeout
expect "an acquire while there is no master fails with EIO or waits for the new one ($got)" \
	test "$got" = EIO -o "$got" = OK
expect "within backend_timeout=2s (${ms} ms)" test "$ms" -lt 3500
expect "the sentinels promoted the replica" sentinel_wait 30 sentinel_moved_from "$old"
new=$(sentinel_master_port)
after_failover "$new" "$N3/s/l" "1 n2 $tl2" "$N2/s/h" "1 n3 $th3"
[ "$got" = EIO ] && expect "the EIO acquire took nothing" test ! -e "$N3/s/during"
expect "no waiter was granted early" bash -c "! granted $T.l3 && ! granted $T.h4"
touch $T.l2.release
expect "the lease's waiter gets it once it is released" wait_until 10 granted $T.l3
check "held by n3 alone" "1 n3" bash -c "holder $N1/s/l | cut -d' ' -f1,2"
touch $T.h3.release
expect "the handle lock's waiter gets it" wait_until 10 granted $T.h4
check "held by n1 alone" "1 n1" bash -c "holder $N2/s/h | cut -d' ' -f1,2"
check "a new acquire works" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N3/s/new3" wcn

# --- the master frozen: nothing breaks, the sentinels move it ---------------
expect "the killed node comes back as a replica" sentinel_restart_node "$old"
lease "$N1/s/l" $T.l5
handle "$N2/s/h" $T.h5
expect "waiters queued again" wait_until 10 bash -c "$(declare -f pending); pending $N1 1 && pending $N2 1"
tl3=$(info_field "$N1/s/l" token)
th4=$(info_field "$N1/s/h" token)
expect "the replica caught up" sentinel_wait_synced
old=$(sentinel_master_port)
kill -STOP "$(cat "$SENT_DIR/redis-$old/redis.pid")"
expect "the sentinels promoted the replica" sentinel_wait 30 sentinel_moved_from "$old"
new=$(sentinel_master_port)
after_failover "$new" "$N2/s/l" "1 n3 $tl3" "$N3/s/h" "1 n1 $th4"
kill -CONT "$(cat "$SENT_DIR/redis-$old/redis.pid")"
sleep 1.5 # the old master is back, still a master until the sentinels look
expect "the daemons stay on the new master" on_master "$new"
check "the lease is held once" "1 n3 $tl3" holder "$N1/s/l"
expect "no waiter was granted early" bash -c "! granted $T.l5 && ! granted $T.h5"
touch $T.l3.release $T.h4.release
expect "both waiters get their locks" wait_until 10 bash -c "granted $T.l5 && granted $T.h5"
check "each held once" "1 n1 1 n2" bash -c "holder $N3/s/l | cut -d' ' -f1,2; holder $N3/s/h | cut -d' ' -f1,2"
check "a new acquire works" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N2/s/new4" wcn
touch $T.l5.release $T.h5.release
expect "everything released in the end" wait_until 10 bash -c "[ -z \"\$(ls $N1/s)\" ]"


# --- redis_replicas=1: no lock granted twice across a kill -9 failover -------
# Without it a failover may lose the last grants (README); with it a grant
# is answered only once the replica has it, so under load, through a master
# killed outright, no two workers ever hold the lock together.
expect "the replica caught up" sentinel_wait 30 sentinel_wait_synced
CLUSTER_OPTS=",backend_timeout=2s,redis_replicas=1"
CLUSTER_N=5
CLUSTER_NODES=5
cluster_node_start 4 || exit 1
cluster_node_start 5 || exit 1
N4=$CLUSTER_DIR/n4 N5=$CLUSTER_DIR/n5
: >$T.rl
until=$(($(date +%s) + 25))
RW=()
for n in "$N4" "$N5" "$N4" "$N5"; do
	setsid python3 "$TESTS_LIB/turns.py" "$n/s/hot" $T.rl "$until" >>$T.rl.out 2>&1 &
	RW+=($!)
done
sleep 4
old=$(sentinel_master_port)
new=$(sentinel_kill_master)
t_kill=$(date +%s.%N)
expect "the master killed under load: the sentinels promote the replica" test -n "$new"
# the new master has no replica to confirm changes until the old node is
# back as one: changes fail with EIO meanwhile, waits wait
expect "the killed node comes back as its replica" sentinel_restart_node "$old"
for p in "${RW[@]}"; do timeout 60 tail --pid="$p" -f /dev/null; done
expect "all four workers ran to the end" test "$(grep -c errors $T.rl.out)" = 4
expect "with redis_replicas=1, never two holders across the failover ($(grep -c '^in' $T.rl) grants)" holds_never_overlap $T.rl
after=$(awk -v t="$t_kill" '$1 == "in" && $3 > t' $T.rl | wc -l)
expect "grants went on after it ($after)" test "$after" -gt 10
touch $T.rq.go
check "a request handle with redis_replicas=1 after the failover" "outcome granted s/rq=" \
	bash -c "in_session python3 $TESTS_LIB/request.py wait $N4 s/rq $T.rq.go | grep '^outcome' | sed 's/[0-9]*\$//'"

finish
