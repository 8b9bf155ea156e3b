#!/usr/bin/env bash
# history.sh - never two holders, checked on a logged history:
# tests/fault/history.py runs a seeded random workload (12 workers, each
# its own owner, as unprivileged users: leases blocking, O_NONBLOCK and
# O_EXCL, flock and fcntl shared and exclusive, directory locks, lock sets
# with shared members, renewals, leases left to expire, workers killed
# holding and waiting) on one small tree through three nodes, and logs
# every grant, proof and release; tests/fault/check_history.py then fails
# on any overlap of surely-held conflicting holds, any token that repeats
# or does not grow, and any lease lost before its TTL.
#
#   HISTORY_SEED=S      replay a seed (printed by every run)
#   HISTORY_SECONDS=T   length of the run (default 20, CI; a long run: 600)
#   HISTORY_FAULTS=0    do not kill node n2's daemon a third of the way in and
#                       mount it again (the default does: workers there see
#                       ENOTCONN/EIO, its waiters die, its leases expire)
# The mounts use keepalive=off and ttl=2s, so that leases of killed workers
# and leases left alone really expire, and the checker can count on the TTL.
# On a failure the log is kept and its path printed.
. "$(dirname "$0")/../lib/cluster.sh"
FAULT_DIR=$TESTS_LIB/../fault
users_setup
cluster_mount 3 "keepalive=off,ttl=2s"
seed=${HISTORY_SEED:-$RANDOM}
seconds=${HISTORY_SECONDS:-20}
faults=${HISTORY_FAULTS:-1}
H=$(mktemp -d /tmp/lockfs-history.XXXXXX)
chmod 755 "$H"
echo "# seed $seed, $seconds s, faults=$faults (replay: HISTORY_SEED=$seed HISTORY_SECONDS=$seconds HISTORY_FAULTS=$faults $0)"

check "the checker's self-test: it tells violations from clean histories" \
	"self-test: 29 cases, 0 wrong" python3 "$FAULT_DIR/check_history.py" --self-test

python3 "$FAULT_DIR/history.py" --seed "$seed" --seconds "$seconds" \
	--log "$H/log" "$N1" "$N2" "$N3" >"$H/run.out" 2>&1 &
wp=$!
if [ "$faults" = 1 ]; then
	sleep $((seconds / 3))
	echo "# killing n2's daemon"
	cluster_node_kill 2 KILL
	sleep 1
	cluster_node_start 2
	echo "# n2 mounted again"
fi
# the workload stops by itself; bounded, so that a hang cannot stall CI
for ((k = 0; k < (seconds + 60) * 10; k++)); do
	kill -0 "$wp" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$wp" 2>/dev/null; then
	fail "the workload did not end within $((seconds + 60)) s"
	kill -9 "$wp" 2>/dev/null
fi
wait "$wp"
cat "$H/run.out"
expect "the workload ran and no worker crashed" \
	grep -qE '^seed=[0-9]+ .* crashed=0 ' "$H/run.out"

python3 "$FAULT_DIR/check_history.py" "$H/log" --min-grants $((seconds * 5)) \
	>"$H/check.out" 2>&1
rc=$?
cat "$H/check.out"
expect "no two conflicting holds overlapped, tokens unique and growing, no lease lost early (seed $seed)" \
	test "$rc" -eq 0

# the run was not vacuous
stat_of() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$H/check.out" | tail -1; }
at_least() { # DESC KEY MIN
	local v
	v=$(stat_of "$2")
	expect "$1 ($2=${v:-none}, at least $3)" test "${v:-0}" -ge "$3"
}
at_least "enough grants" grants $((seconds * 5))
at_least "grants were proved held by a later call" proved $((seconds * 3))
at_least "locks along the whole tree were taken" locks 8
at_least "requests waited for a holder" waited 5
at_least "non-blocking requests found locks busy" busy 5
at_least "shared holds happened" shared 3
at_least "workers were killed while holding" kills_holding 1
at_least "leases were left to expire" expired 1
at_least "several holds at once" max_concurrency 3
if [ "$seconds" -ge 20 ]; then
	at_least "workers were killed while waiting" kills_waiting 1
fi
how=$(sed -n 's/.* how=\({[^}]*}\).*/\1/p' "$H/check.out" | tail -1)
for k in open flock-ex flock-sh set fcntl-ex; do
	expect "grants by $k were checked" grep -q "\"$k\"" <<<"$how"
done
expect "no lease outlived its ttl by 250 ms" grep -q ' late_expiry=0 ' "$H/check.out"

if [ "$T_FAIL" -ne 0 ]; then
	keep=/tmp/lockfs-history-$seed.log
	cp "$H/log" "$keep"
	echo "# the history is kept in $keep"
fi
rm -rf "$H"
finish
