#!/usr/bin/env bash
# faults.sh - the cluster under failure (SPEC section 9): Redis frozen
# (EIO within backend_timeout, reads never hang, waiters keep waiting and
# win afterwards), Redis restarted (locks and tokens survive, daemons
# reconnect by themselves), a daemon killed (its lease lasts its TTL, not
# less, and the node remounts cleanly).
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 2 "backend_timeout=1s,ttl=3s"
mkdir -p "$N1/f"

# --- Redis frozen ---------------------------------------------------------
echo ttl=1h >"$N1/f/held" # outlives the freeze: the Redis clock runs on
setsid bash -c "exec 9>$N2/f/held && echo granted" >/tmp/$$.w 2>&1 &
wp=$!
wait_until 5 grep -q '^waits_pending=1' "$N2/.lockfs/status"
redis_freeze
t0=$(date +%s%N)
check "a new acquire fails with EIO" EIO in_session python3 "$TESTS_LIB/fsop.py" open "$N1/f/new" wcn
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "within backend_timeout=1s (${ms} ms)" test "$ms" -lt 3000
check "a read of the tree fails with EIO, it does not hang" EIO python3 "$TESTS_LIB/fsop.py" read "$N2/f/held"
sleep 1
expect "the waiter keeps waiting" bash -c "kill -0 $wp && ! grep -q granted /tmp/$$.w"
redis_thaw
expect "the tree answers again" wait_until 10 test -e "$N2/f/held"
rm "$N1/f/held"
expect "and the waiter wins" wait_until 10 grep -q granted /tmp/$$.w
wait $wp
expect "the EIO acquire took nothing" test ! -e "$N2/f/new"

# --- Redis restarted --------------------------------------------------------
setsid bash -c "echo ttl=1h > $N1/f/kept; sleep 30" &
kp=$!
sleep 0.3
tok=$(info_field "$N2/f/kept" token)
redis-cli -p "$LOCKFS_REDIS_PORT" BGREWRITEAOF >/dev/null 2>&1
sleep 0.5
redis_restart
expect "the daemons reconnect by themselves" wait_until 15 grep -q '^redis=connected' "$N2/.lockfs/status"
expect "a held lock survives the restart" wait_until 10 test -e "$N2/f/kept"
check "with its token" "$tok" info_field "$N2/f/kept" token
check "the namespace survives" OK python3 "$TESTS_LIB/fsop.py" mkdir "$N2/f/sub"
t2=$(bash -c ": > $N2/f/after; sed -n 's/^token=//p' $N2/f/after")
expect "tokens keep growing ($tok < $t2)" test "$t2" -gt "$tok"
kill $kp 2>/dev/null

# --- a daemon killed --------------------------------------------------------
setsid bash -c "echo keepalive=session > $N1/f/orphan; sleep 60" &
op=$!
sleep 0.3
cluster_node_kill 1 KILL
t0=$(date +%s%N)
setsid bash -c "exec 9>$N2/f/orphan && echo granted" >/tmp/$$.o 2>&1 &
sleep 1.5
expect "its lease is still held before its ttl (3s) runs out" bash -c "! grep -q granted /tmp/$$.o"
expect "a waiter on n2 wins after the ttl" wait_until 10 grep -q granted /tmp/$$.o
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "not before it (${ms} ms)" test "$ms" -ge 2500
kill $op 2>/dev/null
expect "the node remounts cleanly" cluster_node_start 1
check "and works" n1 bash -c ": > $N1/f/back && sed -n 's/^node=//p' $N2/f/back"

# --- a daemon killed while a handle lock is held through it -----------------
setsid flock "$N1/f/handle" -c "sleep 60" &
hp=$!
wait_until 5 test -e "$N2/f/handle"
cluster_node_kill 1 KILL
t0=$(date +%s%N)
setsid flock "$N2/f/handle" -c "echo granted" >/tmp/$$.h 2>&1 &
sleep 1.5
expect "the handle lock is still held before its ttl (3s) runs out" bash -c "! grep -q granted /tmp/$$.h"
expect "a flock on n2 wins after the ttl" wait_until 10 grep -q granted /tmp/$$.h
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "not before it (${ms} ms)" test "$ms" -ge 2500
kill $hp 2>/dev/null
expect "the node remounts cleanly again" cluster_node_start 1

# --- unmounted under waiters: each gets an error, none hangs -----------------
: >"$N2/f/um"
for i in 1 2 3; do
	setsid bash -c "exec 9>$N1/f/um && echo granted" >/tmp/$$.um$i 2>&1 &
	eval "up$i=\$!"
done
wait_until 10 grep -q '^waits_pending=3' "$N1/.lockfs/status"
fusermount3 -u -z "$N1"
expect "every waiter returns when the node is unmounted" wait_until 10 bash -c "! kill -0 $up1 $up2 $up3 2>/dev/null"
expect "with an error, not the lock" bash -c "! grep -q granted /tmp/$$.um1 /tmp/$$.um2 /tmp/$$.um3"
expect "and nothing of theirs stays queued" wait_until 10 bash -c "[ \"\$(sed -n 's/^waiters=//p' $N2/f/um)\" = 0 ]"
rm -f "$N2/f/um"

rm -f /tmp/$$.*
finish
