#!/usr/bin/env bash
# bench.sh - lockfs against floors measured in the same run (issue 6).
#
#   tests/bench/bench.sh            the full run (a few minutes)
#   BENCH_SHORT=1 tests/bench/bench.sh   a short run of each (CI)
#
# Needs root, /dev/fuse and a build (LOCKFS_BIN and the tools below, from
# build/); servers come from $LOCKFS_REDIS_URL/$LOCKFS_AMQP_URL or are
# started privately (tests/lib/cluster.sh).  Every measure prints one line
# with its raw numbers, its floor and the ratio.  Benchmarks print; they
# never fail on time: the closing "N passed" only says that each ran.
#
#  1 cycle     open(O_CREAT|O_EXCL|O_WRONLY)+close+unlink on a mount, against
#              the same cycle on a null FUSE filesystem plus a raw hiredis
#              SET NX PX + DEL cycle (target <= 1.5x)
#  2 handoff   holder on n1 unlinks, a waiter blocked in open on n2 returns;
#              against its floor: a Redis PING + a RabbitMQ hop + a null
#              FUSE request (target p50 <= 2x); the share of grants that
#              were handoffs (target >= 99%)
#  3 contended 3 nodes x 8 processes on one lock, grants/s, against a raw
#              hiredis SET NX PX + pub/sub lock loop (target >= 1.0x)
#  4 scale     acquire latency with many locks held against 10 (target <=
#              1.1x), Redis bytes per held lock (target <= 400), ls of a big
#              namespace, many waiters on a node: their cost, the handoff
#              of 2 while they wait on another lock (target <= 1.1x), the
#              Redis calls of their node while the broker is away and at
#              its return (target <= 10); many request handles pending
#              from one asyncio thread (threads, memory, grants, withdrawal
#              when killed); Redis's grants/s for one tree
#              with its CPU saturated (target >= 15,000)
#  cost        for 1-3: CPU time and calls per operation, which a shared
#              machine cannot hide the way it hides wall time (cost.py):
#              the daemons' and Redis's CPU, Redis script time, scripts,
#              Redis commands (those inside scripts too) and broker
#              messages and bindings
#  5 peers     the handoff of 2 and the contention of 3 against redis-py,
#              ZooKeeper and etcd, one method for all (peers.sh; full run,
#              or BENCH_PEERS=1; target: lockfs's handoff p50 <= 0.5x the
#              best peer's)
. "$(dirname "$0")/../lib/cluster.sh"
BENCH=$(cd "$(dirname "$0")" && pwd)
BIN_DIR=${BENCH_BIN_DIR:-$(dirname "$LOCKFS_BIN")/../tests/bench}
WAITERS_BIN=${WAITERS_BIN:-$(dirname "$LOCKFS_BIN")/../tests/waiters}
for t in nullfs cycle contend redis_floor amqp_floor scale_fill; do
	[ -x "$BIN_DIR/$t" ] || { echo "bench: $BIN_DIR/$t is not built" >&2; exit 1; }
done

if [ "${BENCH_SHORT:-0}" = 1 ]; then
	CYCLES=200 HANDOFFS=20 SECONDS_CONTEND=2 MANY=5000 LISTED=1000 WAITERS=300
else
	CYCLES=2000 HANDOFFS=200 SECONDS_CONTEND=10 MANY=100000 LISTED=10000 WAITERS=10000
fi
HOLD_US=${BENCH_HOLD_US:-100}

cluster_mount 3 "keepalive=off,ttl=1h"
redis_port=${LOCKFS_REDIS_URL##*:}
redis_port=${redis_port%%/*}
amqp_port=$(sed -E 's|.*:([0-9]+)/?.*|\1|' <<<"$LOCKFS_AMQP_URL")
mkdir -p "$N1/bench" "$N1/scale/probe" "$N1/scale/ten" "$N1/scale/many" \
	"$N1/scale/listed" "$N1/scale/waited"

# field LINE KEY: the value of KEY=... in a tool's output line
field() { sed -n "s/.*[ ^]$2=\([^ ]*\).*/\1/p" <<<" $1"; }
# median of the numbers on stdin
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
ran() { # DESC LINE: a measure ran when its line is not empty
	if [ -n "$2" ]; then pass "$1"; else fail "$1 did not run"; fi
}

# cost_snap FILE / cost_print NAME OPS FILE0 FILE1: cost.py around a step
cost_snap() {
	python3 "$BENCH/cost.py" snap "$redis_port" \
		"$(IFS=,; echo "${NODE_PIDS[*]}")" "$N1,$N2,$N3" >"$1"
}
cost_print() { python3 "$BENCH/cost.py" diff "$@"; }

echo "# machine: $(nproc) cpus, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "# mode: $([ "${BENCH_SHORT:-0}" = 1 ] && echo short || echo full)"

# --- 1. uncontended cycle ----------------------------------------------------
null_dir=$CLUSTER_DIR/null
mkdir -p "$null_dir"
"$BIN_DIR/nullfs" "$null_dir" 2>"$CLUSTER_DIR/nullfs.log" &
null_pid=$!
wait_until 10 mountpoint -q "$null_dir"
lock_p50=() null_p50=() redis_p50=()
for round in 1 2 3; do
	l=$("$BIN_DIR/cycle" "$N1/bench" "$CYCLES") || fail "cycle on lockfs"
	n=$("$BIN_DIR/cycle" "$null_dir" "$CYCLES") || fail "cycle on nullfs"
	r=$("$BIN_DIR/redis_floor" cycle 127.0.0.1 "$redis_port" "$CYCLES") || fail "redis cycle"
	lock_p50+=("$(field "$l" p50_us)") null_p50+=("$(field "$n" p50_us)")
	redis_p50+=("$(field "$r" p50_us)")
done
fusermount3 -u "$null_dir" 2>/dev/null
wait "$null_pid" 2>/dev/null
lk=$(printf '%s\n' "${lock_p50[@]}" | median)
nf=$(printf '%s\n' "${null_p50[@]}" | median)
rf=$(printf '%s\n' "${redis_p50[@]}" | median)
floor=$(awk -v a="$nf" -v b="$rf" 'BEGIN {print a + b}')
line="cycle: lockfs p50=${lk}us; floor = nullfs ${nf}us + redis SET NX PX/DEL ${rf}us = ${floor}us; ratio=$(ratio "$lk" "$floor") (target <= 1.5; median of 3 x $CYCLES)"
echo "$line"
ran "uncontended cycle" "$lk"
cost_snap "$CLUSTER_DIR/cost0"
"$BIN_DIR/cycle" "$N1/bench" "$CYCLES" >/dev/null || fail "cycle on lockfs"
cost_snap "$CLUSTER_DIR/cost1"
cl=$(cost_print cycle "$CYCLES" "$CLUSTER_DIR/cost0" "$CLUSTER_DIR/cost1")
echo "$cl (targets: daemons_cpu <= 60us, redis_us <= 30, scripts <= 2, amqp_bindings 0)"
ran "cost of the cycle" "$cl"

# --- 2. handoff between two nodes --------------------------------------------
grants2() { sed -n "s/^$1=//p" "$N2/.lockfs/status"; }
g0=$(grants2 grants) o0=$(grants2 handoffs)
cost_snap "$CLUSTER_DIR/cost0"
h=$(python3 "$BENCH/handoff.py" "$N1" "$N2" 127.0.0.1 "$redis_port" "$HANDOFFS")
cost_snap "$CLUSTER_DIR/cost1"
g1=$(grants2 grants) o1=$(grants2 handoffs)
a=$("$BIN_DIR/amqp_floor" 127.0.0.1 "$amqp_port" 1000) || fail "amqp floor"
echo "$h"
hp50=$(sed -n 's/.* p50=\([0-9.]*\)ms.*/\1/p' <<<"$h")
pp50=$(sed -n 's/.* redis_ping_p50=\([0-9.]*\)ms.*/\1/p' <<<"$h")
ap50=$(field "$a" p50_us)
hfloor=$(awk -v p="$pp50" -v a="$ap50" -v n="$nf" 'BEGIN {printf "%.1f", p * 1000 + a + n / 4}')
echo "handoff floor: redis PING ${pp50}ms + rabbitmq hop p50=${ap50}us (p99=$(field "$a" p99_us)us) + a null FUSE request $(awk -v n="$nf" 'BEGIN {printf "%.1f", n / 4}')us = ${hfloor}us; handoff/floor=$(ratio "$(awk -v x="$hp50" 'BEGIN {print x * 1000}')" "$hfloor") (target <= 2); handoffs: $((o1 - o0)) of $((g1 - g0)) grants on the waiting node (target >= 99%)"
ran "handoff" "$hp50"
cl=$(cost_print handoff "$((g1 - g0))" "$CLUSTER_DIR/cost0" "$CLUSTER_DIR/cost1")
echo "$cl (per grant on n2, the holder's take and release included; targets: daemons_cpu <= 150us, redis_us <= 60, scripts <= 2.2)"
ran "cost of the handoff" "$cl"

# --- 3. contended throughput -------------------------------------------------
cost_snap "$CLUSTER_DIR/cost0"
c=$("$BIN_DIR/contend" "$SECONDS_CONTEND" "$HOLD_US" "$N1/bench/hot" "$N2/bench/hot" "$N3/bench/hot") ||
	fail "contend on lockfs: $c"
cost_snap "$CLUSTER_DIR/cost1"
b=$("$BIN_DIR/redis_floor" contend 127.0.0.1 "$redis_port" 24 "$SECONDS_CONTEND" "$HOLD_US")
echo "contended: lockfs 3 nodes x 8 procs, hold ${HOLD_US}us: $(field "$c" grants_per_s) grants/s (fifo_inversions=$(field "$c" fifo_inversions) max_wait_ms=$(field "$c" max_wait_ms)); raw hiredis SET NX PX + pub/sub, 24 procs: $(field "$b" grants_per_s) grants/s; ratio=$(ratio "$(field "$c" grants_per_s)" "$(field "$b" grants_per_s)") (target >= 1.0)"
ran "contended throughput" "$(field "$c" grants_per_s)"
cl=$(cost_print contended "$(field "$c" grants)" "$CLUSTER_DIR/cost0" "$CLUSTER_DIR/cost1")
echo "$cl (per grant)"
ran "cost of contention" "$cl"

# --- 4. scale ----------------------------------------------------------------
fill() { "$BIN_DIR/scale_fill" "$LOCKFS_REDIS_URL" "$CLUSTER_PREFIX" "$@"; }
used_memory() { redis-cli -p "$redis_port" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }
fill scale/ten 10 >/dev/null || fail "fill 10"
few=$("$BIN_DIR/cycle" --acquire "$N1/scale/probe" "$CYCLES")
m0=$(used_memory)
f=$(fill scale/many "$MANY") || fail "fill $MANY"
m1=$(used_memory)
lots=$("$BIN_DIR/cycle" --acquire "$N1/scale/probe" "$CYCLES")
echo "scale: acquire p50 with $MANY locks held=$(field "$lots" p50_us)us, with 10=$(field "$few" p50_us)us; ratio=$(ratio "$(field "$lots" p50_us)" "$(field "$few" p50_us)") (target <= 1.1)"
echo "scale: redis memory per held lock=$(((m1 - m0) / MANY)) bytes (target <= 400; $MANY locks taken in $(field "$f" seconds)s)"
mkdir -p "$N1/scale/files"
m0=$(used_memory)
f=$(fill scale/files "$MANY" files) || fail "fill $MANY files"
m1=$(used_memory)
echo "scale: redis memory per unheld flock-view lock file=$(((m1 - m0) / MANY)) bytes (target <= 400; $MANY made in $(field "$f" seconds)s)"
# Redis's own ceiling for one tree: takes and releases of distinct locks
# through the daemon's store code (the same scripts and calls, without
# FUSE), many in flight, so that Redis's CPU is the bottleneck; grants/s
# measured, and what a Redis core fully busy would serve
mkdir -p "$N1/scale/saturate/a" "$N1/scale/saturate/b"
cost_snap "$CLUSTER_DIR/cost0"
fill scale/saturate/a "$((MANY / 2))" cycle >"$CLUSTER_DIR/saturate.a" &
sa=$!
fill scale/saturate/b "$((MANY / 2))" cycle >"$CLUSTER_DIR/saturate.b" || fail "saturate"
wait "$sa" || fail "saturate"
# the longer of the two runs (each times its own, from its first call)
secs=$(cat "$CLUSTER_DIR"/saturate.[ab] | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' | sort -n | tail -n 1)
cost_snap "$CLUSTER_DIR/cost1"
cl=$(cost_print saturated "$MANY" "$CLUSTER_DIR/cost0" "$CLUSTER_DIR/cost1")
rcpu=$(field "$cl" redis_cpu)
rcpu=${rcpu%us}
echo "scale: Redis saturated by one tree's takes and releases (2 clients): $(awk -v n="$MANY" -v s="$secs" 'BEGIN {printf "%.0f", n / s}') grants/s measured, Redis busy $(awk -v n="$MANY" -v s="$secs" -v c="$rcpu" 'BEGIN {printf "%.0f", n * c / s / 1e4}')% of a core; at 100%: $(awk -v c="$rcpu" 'BEGIN {if (c > 0) printf "%.0f", 1e6 / c; else print "?"}') grants/s per master (target >= 15,000)"
echo "$cl (per grant: one take and one release)"
ran "Redis saturated" "$cl"
fill scale/listed "$LISTED" >/dev/null || fail "fill $LISTED"
ls_ms=()
for round in 1 2 3; do
	t0=$(date +%s%N)
	count=$(ls "$N2/scale/listed" | wc -l)
	ls_ms+=("$((($(date +%s%N) - t0) / 1000000))")
done
echo "scale: ls of a namespace with $count locks: $(printf '%s\n' "${ls_ms[@]}" | median) ms (median of 3)"
rss0=$(awk '/^VmRSS:/ {print $2}' /proc/"${NODE_PIDS[2]}"/status)
WAITERS_HOLD_UNTIL=$CLUSTER_DIR/waiters.go \
	"$WAITERS_BIN" "$N2/scale/waited/w" "$WAITERS" 600 >"$CLUSTER_DIR/waiters.out" &
wp=$!
wait_until 300 grep -q queued "$CLUSTER_DIR/waiters.out"
rss1=$(awk '/^VmRSS:/ {print $2}' /proc/"${NODE_PIDS[2]}"/status)
threads=$(awk '/^Threads:/ {print $2}' /proc/"${NODE_PIDS[2]}"/status)
# the handoff of 2 again, to the node where all those wait on another lock:
# a message must cost what it costs for the waiters of its key only
hw=$(python3 "$BENCH/handoff.py" "$N1" "$N2" 127.0.0.1 "$redis_port" "$HANDOFFS")
hwp50=$(sed -n 's/.* p50=\([0-9.]*\)ms.*/\1/p' <<<"$hw")
echo "scale: handoff p50 to a node with $WAITERS waiters on another lock=${hwp50}ms, with none=${hp50}ms; ratio=$(ratio "$hwp50" "$hp50") (target <= 1.1)"
# the broker away for 3 s and back, under all those waiters: Redis calls
# from their node (one per waited lock is the aim, not one per waiter)
if [ -n "${LOCKFS_SERVERS_DIR:-}" ] && [ -f "$LOCKFS_SERVERS_DIR/env" ]; then
	calls2() { sed -n 's/^lockfs_redis_calls_total{[^}]*} //p' "$N2/.lockfs/metrics"; }
	rabbit_stop
	wait_until 10 grep -q '^amqp=disconnected' "$N2/.lockfs/status"
	c0=$(calls2)
	sleep 3
	c1=$(calls2)
	rabbit_start &
	rs=$!
	# the last count seen while still disconnected: the broker's own
	# start-up (seconds, with the usual polling) stays out of its return
	while ! grep -q '^amqp=connected' "$N2/.lockfs/status"; do
		cr=$(calls2)
		sleep 0.02
	done
	wait "$rs"
	sleep 0.5
	c2=$(calls2)
	echo "scale: broker away 3 s with $WAITERS waiters on one lock: $((c1 - c0)) Redis calls from their node; its return: $((c2 - cr)) (target <= 10)"
fi
touch "$CLUSTER_DIR/waiters.go"
wait "$wp"
echo "scale: $WAITERS waiters on one node: daemon RSS ${rss0} -> ${rss1} kB ($(((rss1 - rss0) * 1024 / WAITERS)) bytes per waiter), $threads threads; $(tail -n 1 "$CLUSTER_DIR/waiters.out")"
ran "scale" "$rss1"

# pending request handles (/.lockfs/request) from one asyncio thread:
# the daemon's threads and memory per handle, all granted once the
# namespace's lock goes, all withdrawn when the program is killed
mkdir -p "$N1/scale/rq"
rq_hold() { # hold scale/rq/.lock on n1 until $CLUSTER_DIR/rq.stop
	rm -f "$CLUSTER_DIR/rq.stop" "$CLUSTER_DIR/rq.ready"
	setsid bash -c ": > $N1/scale/rq/.lock; while [ ! -e $CLUSTER_DIR/rq.stop ]; do sleep 0.05; done; rm $N1/scale/rq/.lock" &
	wait_until 5 test -e "$N2/scale/rq/.lock"
}
rq_hold
rss0=$(awk '/^VmRSS:/ {print $2}' /proc/"${NODE_PIDS[2]}"/status)
setsid python3 "$BENCH/requests.py" "$N2" scale/rq "$WAITERS" "$CLUSTER_DIR/rq.ready" >"$CLUSTER_DIR/rq.out" &
rp=$!
wait_until 300 test -e "$CLUSTER_DIR/rq.ready"
rss1=$(awk '/^VmRSS:/ {print $2}' /proc/"${NODE_PIDS[2]}"/status)
threads=$(awk '/^Threads:/ {print $2}' /proc/"${NODE_PIDS[2]}"/status)
touch "$CLUSTER_DIR/rq.stop"
wait "$rp"
r=$(cat "$CLUSTER_DIR/rq.out")
echo "scale: $WAITERS request handles pending from one asyncio thread: daemon RSS ${rss0} -> ${rss1} kB ($(((rss1 - rss0) * 1024 / WAITERS)) bytes per handle), $threads threads; queued in $(field "$r" queue_s) s, $(field "$r" granted) granted $(field "$r" grant_s) s after the namespace's lock went, $(field "$r" errors) errors"
rq_hold
setsid python3 "$BENCH/requests.py" "$N2" scale/rq "$WAITERS" "$CLUSTER_DIR/rq.ready" hold &
rp=$!
wait_until 300 test -e "$CLUSTER_DIR/rq.ready"
t0=$(date +%s%N)
kill -9 "$rp"
wait "$rp" 2>/dev/null
waits_gone() { grep -q '^waits_pending=0$' "$N2/.lockfs/status"; }
wait_until 120 waits_gone
echo "scale: the program holding $WAITERS pending handles killed: all withdrawn in $((($(date +%s%N) - t0) / 1000000)) ms (waits_pending=$(info_field "$N2/.lockfs/status" waits_pending))"
touch "$CLUSTER_DIR/rq.stop"
ran "request handles" "$r"

# 5 peers: the same handoff against redis-py, ZooKeeper and etcd (full run)
if [ "${BENCH_SHORT:-0}" != 1 ] || [ -n "${BENCH_PEERS:-}" ]; then
	bash "$BENCH/peers.sh"
fi

finish
