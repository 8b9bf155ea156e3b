#!/usr/bin/env bash
# stress.sh - never two holders, under a random workload on three mounts
# (issue 7): tests/fault/workload.py drives leases, O_EXCL, flock (shared
# and exclusive), directory locks, lock sets, expiring leases and workers
# killed while holding, on one small tree through three nodes; then
# tests/fault/check_holds.py fails on any overlap of conflicting holds and
# on any token that does not grow.  Seeded: the seed is printed, and
# STRESS_SEED=S replays it.  CI runs STRESS_SECONDS=20 (default); a long
# run is STRESS_SECONDS=600 tests/fault/stress.sh.  With STRESS_FAULTS=1 a
# daemon is killed and remounted midway.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 3
seed=${STRESS_SEED:-$RANDOM$RANDOM}
seconds=${STRESS_SECONDS:-20}
T=$(mktemp -d /tmp/stress.XXXXXX)
echo "# seed $seed, $seconds s (replay: STRESS_SEED=$seed $0)"

check "the checker knows a violation when it sees one" "self-test: 11 cases, 0 wrong" \
	python3 "$TESTS_LIB/../fault/check_holds.py" --self-test
python3 "$TESTS_LIB/../fault/workload.py" --seed "$seed" --seconds "$seconds" \
	--log "$T/log" "$N1" "$N2" "$N3" >"$T/run.out" 2>&1 &
wp=$!
if [ "${STRESS_FAULTS:-0}" = 1 ]; then
	sleep $((seconds / 3))
	cluster_node_kill 2 KILL
	sleep 2
	cluster_node_start 2
fi
wait "$wp"
expect "the workload ran ($(cat "$T/run.out"))" grep -q "^seed=" "$T/run.out"
python3 "$TESTS_LIB/../fault/check_holds.py" "$T/log" --min-holds $((seconds * 5)) >"$T/check.out" 2>&1
rc=$?
cat "$T/check.out"
expect "no two conflicting holds overlapped and tokens only grew (seed $seed)" test "$rc" -eq 0
kinds=$(sed -n 's/.*kinds=\({[^}]*}\).*/\1/p' "$T/check.out")
for how in blocking flock set; do
	expect "holds of kind $how were checked" grep -q "\"$how\"" <<<"$kinds"
done
expect "some holders were killed while holding" grep -qE "kills=[1-9]" "$T/run.out"
expect "waits happened (EAGAIN seen by non-blocking tries)" grep -q '"EAGAIN"' "$T/check.out"
rm -rf "$T"
finish
