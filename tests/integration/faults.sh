#!/usr/bin/env bash
# faults.sh - the cluster under failure (the README): Redis frozen
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

# --- while Redis is frozen: status always answers, errors stay bounded ---
ms_of() { # CMD...: how long it took, in ms (its output is dropped)
	local t0=$(date +%s%N)
	"$@" >/dev/null 2>&1
	echo $(( ($(date +%s%N) - t0) / 1000000 ))
}
fast_status() { # NODE: status and the mount root answer within 500 ms
	local a b
	a=$(ms_of cat "$1/.lockfs/status")
	b=$(ms_of stat "$1")
	[ "$a" -lt 500 ] && [ "$b" -lt 500 ] && cat "$1/.lockfs/status" >/dev/null && stat "$1" >/dev/null
}
redis_freeze
expect "status and stat of the root answer at once, just after the freeze" fast_status "$N1"
ms=$(ms_of touch "$N1/f/t1")
check "touch fails with EIO" EIO in_session python3 "$TESTS_LIB/fsop.py" open "$N1/f/t2" wcn
expect "touch fails within one backend_timeout=1s, not one per system call (${ms} ms)" test "$ms" -lt 1800
ms=$(ms_of touch "$N1/f/t3")
expect "once Redis is known not to answer, the next touch fails at once (${ms} ms)" test "$ms" -lt 300
check "status says redis=disconnected" disconnected bash -c "sed -n 's/^redis=//p' $N1/.lockfs/status"
since=$(sed -n 's/^redis_since=//p' "$N1/.lockfs/status")
expect "and since when (redis_since=$since)" test "${since%.*}" -ge "$(( $(date +%s) - 5 ))"
ok=0
for i in 1 2 3 4; do # past the kernel's 0.5 s cache of the root's attributes
	sleep 0.6
	fast_status "$N1" && ok=$((ok + 1))
done
check "status and the root keep answering at once for seconds" 4 echo $ok
check "ls of the control directory answers" "acquire events metrics request status" bash -c "ls $N1/.lockfs | tr '\n' ' ' | sed 's/ \$//'"
redis_thaw
expect "status says redis=connected again within a second" wait_until 2 grep -q '^redis=connected' "$N1/.lockfs/status"
check "and the tree answers" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N1/f/t4" wcn

# --- Redis restarted --------------------------------------------------------
setsid bash -c "echo ttl=1h > $N1/f/kept; sleep 30" &
kp=$!
wait_until 5 test -e "$N2/f/kept"
tok=$(info_field "$N2/f/kept" token)
redis-cli -p "$LOCKFS_REDIS_PORT" BGREWRITEAOF >/dev/null 2>&1
aof_done() { redis-cli -p "$LOCKFS_REDIS_PORT" INFO persistence | grep -q '^aof_rewrite_in_progress:0'; }
wait_until 10 aof_done
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
expect "the holder has its lease before its daemon is killed" wait_until 5 test -e "$N2/f/orphan"
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

# --- the broker frozen: connected but silent ---------------------------
: >"$N1/f/bf"
setsid bash -c "exec 9>$N2/f/bf && echo granted" >/tmp/$$.bf 2>&1 &
bp=$!
wait_until 5 grep -q '^waits_pending=1' "$N2/.lockfs/status"
rabbit_freeze
t0=$(date +%s%N)
expect "a frozen broker is noticed" wait_until 5 grep -q '^amqp=disconnected' "$N2/.lockfs/status"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "within about a second (${ms} ms)" test "$ms" -lt 2500
t0=$(date +%s%N)
rm "$N1/f/bf"
expect "the waiter still gets the lock" wait_until 5 grep -q granted /tmp/$$.bf
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "within the 1 s re-check, not a queue-lease renewal (${ms} ms)" test "$ms" -lt 1800
wait $bp
rabbit_thaw
expect "the broker is back in status" wait_until 15 grep -q '^amqp=connected' "$N2/.lockfs/status"
: >"$N1/f/bf2"
setsid bash -c "exec 9>$N2/f/bf2 && echo granted" >/tmp/$$.bf2 2>&1 &
bp=$!
wait_until 5 grep -q '^waits_pending=1' "$N2/.lockfs/status"
t0=$(date +%s%N)
rm "$N1/f/bf2"
expect "and handoffs are prompt again" wait_until 5 grep -q granted /tmp/$$.bf2
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "(${ms} ms)" test "$ms" -lt 500
wait $bp
rm -f /tmp/$$.bf /tmp/$$.bf2
check "and works" n1 bash -c ": > $N1/f/back && sed -n 's/^node=//p' $N2/f/back"

# --- the broker frozen under contention: handoffs go on ---------------------
# 8 processes on two nodes take one lock in turn; bindings come and go as
# they queue, so the notifier is often waiting for the broker's answer
# when it freezes: it must still count the broker as gone within about a
# second, and the waiters then find their grants by their 1 s re-checks
: >/tmp/$$.fz
until=$(($(date +%s) + 11))
FZ=()
for n in "$N1" "$N2" "$N1" "$N2" "$N1" "$N2" "$N1" "$N2"; do
	setsid python3 "$TESTS_LIB/turns.py" "$n/f/fz" /tmp/$$.fz "$until" >>/tmp/$$.fz.out 2>&1 &
	FZ+=($!)
done
wait_until 10 test -s /tmp/$$.fz
setsid bash -c ": > $N1/f/fzb; while [ ! -e /tmp/$$.fzb ]; do sleep 0.05; done; rm -f $N1/f/fzb" &
FZ+=($!)
wait_until 5 test -e "$N2/f/fzb"
sleep 2 # a steady turn-taking before the freeze
rabbit_freeze
t_frozen=$(date +%s.%N)
# a new wait on n2 right after the freeze: its binding waits for the
# frozen broker's answer
setsid bash -c "exec 9>$N2/f/fzb" &
FZ+=($!)
expect "a broker frozen while a binding waits for its answer is noticed" \
	wait_until 5 grep -q '^amqp=disconnected' "$N2/.lockfs/status"
ms=$(awk -v a="$t_frozen" -v b="$(date +%s.%N)" 'BEGIN {printf "%d", (b - a) * 1000}')
expect "... within about a second too (${ms} ms)" test "$ms" -lt 2000
sleep 4
rabbit_thaw
t_thawed=$(date +%s.%N)
touch /tmp/$$.fzb
for p in "${FZ[@]}"; do wait "$p"; done
gap=$(awk -v a="$t_frozen" -v b="$t_thawed" '$1 == "in" && $3 > a - 1 && $3 < b + 1 {print $3}' /tmp/$$.fz |
	sort -n | awk 'NR > 1 && $1 - p > m {m = $1 - p} {p = $1} END {printf "%d", m * 1000}')
expect "8 processes through a 5 s broker freeze: the longest gap between grants is under 2.5 s (${gap} ms)" \
	test "${gap:-99999}" -lt 2500
expect "... and no two ever held the lock at once ($(grep -c '^in' /tmp/$$.fz) grants)" holds_never_overlap /tmp/$$.fz
expect "the broker is back after the thaw" wait_until 15 grep -q '^amqp=connected' "$N2/.lockfs/status"
rm -f /tmp/$$.fz /tmp/$$.fz.out /tmp/$$.fzb

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

# --- a waiter's daemon paused past its queue entry's lease, then a release -
# The first waiter's entry dies in Redis while its daemon sleeps (ttl=3s:
# the entry lives 3 s unless renewed), a second one's stays.  The release
# that follows must step over the dead entry to the live one, Redis must
# go on answering everyone, and the first waiter, resumed, still gets the
# lock in the end.  (A release meeting the dead entry first once looped in
# its script for good; whether it meets it here or the second waiter's
# re-check drops it first is timing, so unit-store pins that case down.)
rm -f /tmp/$$.pz
setsid bash -c "exec 9>$N1/f/pz; while [ ! -e /tmp/$$.pz ]; do sleep 0.05; done; rm $N1/f/pz && echo released" >/tmp/$$.ph 2>&1 &
hp=$!
expect "(n1 holds f/pz)" wait_until 5 test -e "$N2/f/pz"
setsid bash -c "exec 9>$N2/f/pz && echo granted" >/tmp/$$.pw 2>&1 &
wp=$!
expect "(n2 waits for it)" wait_until 5 bash -c "[ \"\$(sed -n 's/^waiters=//p' $N1/f/pz)\" = 1 ]"
setsid bash -c "exec 9>$N1/f/pz && echo granted" >/tmp/$$.pw1 2>&1 &
wp1=$!
expect "(and behind it another owner on n1, whose daemon keeps the queue alive)" \
	wait_until 5 bash -c "[ \"\$(sed -n 's/^waiters=//p' $N1/f/pz)\" = 2 ]"
kill -STOP "${NODE_PIDS[2]}"
sleep 4 # past the waiter's 3 s entry lease: that is what is tested
touch /tmp/$$.pz
expect "the holder's rm returns" wait_until 5 grep -q released /tmp/$$.ph
t0=$(date +%s%N)
check "and Redis still answers: a new lock on n1 at once" OK fsop open "$N1/f/pz2" wcn
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "... within a second (${ms} ms)" test "$ms" -lt 1000
expect "the live waiter behind the dead one gets the lock" wait_until 5 grep -q granted /tmp/$$.pw1
rm -f "$N1/f/pz2"
kill -CONT "${NODE_PIDS[2]}"
expect "the resumed waiter gets it after that" wait_until 10 grep -q granted /tmp/$$.pw
wait "$hp" "$wp" "$wp1" 2>/dev/null

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
