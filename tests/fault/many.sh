#!/usr/bin/env bash
# many.sh - many nodes (README "For operators"): 12 mounts as 12 nodes and
# 100 processes (each its own owner) taking blocking leases on 50 locks for
# a minute (MANY_SECONDS), through tests/fault/workload.py --flat.  Checked
# afterwards: never two holders and tokens only grow (check_holds.py), first
# come first served (fifo.py), every process got locks; printed: grants,
# Redis calls per grant and daemon CPU per grant, the figures the README's
# plan for a thousand nodes starts from.
. "$(dirname "$0")/../lib/cluster.sh"
NODES=${MANY_NODES:-12}
seconds=${MANY_SECONDS:-60}
workers=${MANY_WORKERS:-100}
locks=${MANY_LOCKS:-50}
cluster_mount "$NODES" "ttl=30s"
T=$(mktemp -d /tmp/many.XXXXXX)
mounts=()
for ((i = 1; i <= NODES; i++)); do mounts+=("$CLUSTER_DIR/n$i"); done

sum_metric() { # NAME: summed over every node
	local i s=0 v
	for ((i = 1; i <= NODES; i++)); do
		v=$(sed -n "s/^$1{[^}]*} //p" "$CLUSTER_DIR/n$i/.lockfs/metrics")
		s=$(awk -v a="$s" -v b="${v:-0}" 'BEGIN {print a + b}')
	done
	echo "$s"
}
cpu_ticks() { # utime + stime of every daemon
	local i s=0
	for ((i = 1; i <= NODES; i++)); do
		s=$((s + $(awk '{print $14 + $15}' /proc/"${NODE_PIDS[$i]}"/stat)))
	done
	echo "$s"
}
c0=$(sum_metric lockfs_redis_calls_total) g0=$(sum_metric lockfs_grants_total)
u0=$(cpu_ticks)
python3 "$TESTS_LIB/../fault/workload.py" --seed "${MANY_SEED:-1}" --seconds "$seconds" \
	--workers "$workers" --flat "$locks" --log "$T/log" "${mounts[@]}" >"$T/run.out" 2>&1
c1=$(sum_metric lockfs_redis_calls_total) g1=$(sum_metric lockfs_grants_total)
u1=$(cpu_ticks)
expect "the workload ran ($(cat "$T/run.out"))" grep -q "^seed=" "$T/run.out"
python3 "$TESTS_LIB/../fault/check_holds.py" "$T/log" --min-holds $((seconds * 10)) >"$T/check.out" 2>&1
rc=$?
expect "no two holders of one lock, tokens only grew ($(head -c 200 "$T/check.out"))" test "$rc" -eq 0
# (timestamps are taken by the clients: with 100 processes on a small
# machine one can be held back a while between its timestamp and its
# request reaching its daemon, so only a clear inversion counts; under the
# sanitizers, whose daemons run several times slower, clearer still)
gap=500
ldd "$LOCKFS_BIN" 2>/dev/null | grep -q libasan && gap=2000
f=$(python3 "$TESTS_LIB/../fault/fifo.py" "$T/log" --gap "$gap")
inv=$(sed -n 's/.*inversions=\([0-9]*\).*/\1/p' <<<"$f")
starved=$(sed -n 's/.*starved=\([0-9]*\).*/\1/p' <<<"$f")
expect "first come, first served: no request granted after one made ${gap} ms later ($f)" test "${inv:-1}" -eq 0
expect "every one of the $workers processes got locks" test "${starved:-1}" -eq 0
grants=$((g1 - g0))
hz=$(getconf CLK_TCK)
echo "# many nodes: $NODES nodes, $workers processes, $locks locks, ${seconds}s: $grants grants ($(awk -v g="$grants" -v s="$seconds" 'BEGIN {printf "%.0f", g / s}')/s)," \
	"$(awk -v c="$((c1 - c0))" -v g="$grants" 'BEGIN {printf "%.1f", (g ? c / g : 0)}') Redis calls per grant," \
	"$(awk -v u="$((u1 - u0))" -v g="$grants" -v hz="$hz" 'BEGIN {printf "%.2f", (g ? u * 1000 / hz / g : 0)}') ms of daemon CPU per grant (all $NODES daemons)"
[ "$T_FAIL" -eq 0 ] && rm -rf "$T"
finish
