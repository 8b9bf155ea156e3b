#!/usr/bin/env bash
# waiting.sh - blocking acquisition across nodes (the README "Waiting"
# and "Keepalive", section 9): wake-ups over RabbitMQ and without it,
# interrupted and killed waiters, FIFO across three nodes, a directory lock
# not starved by its subtree, expiry waking a waiter, keepalive, timeouts,
# a thousand waiters on one node, shutdown with waiters.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 3
WAITERS_BIN=${WAITERS_BIN:-$REPO/build/tests/waiters}
mkdir -p "$N1/w"

# waiter NODE NAME OUT: a blocking open in a session of its own, that
# writes "granted <ms>" to OUT once it has the lock, then holds it until
# OUT.release appears.
waiter() {
	setsid bash -c '
		s=$(date +%s%N)
		exec 9>"$1" || { echo "failed $?" >"$2"; exit 1; }
		echo "granted $(( ($(date +%s%N) - s) / 1000000 ))" >"$2"
		while [ ! -e "$2.release" ]; do sleep 0.05; done
		rm -f "$1"' waiter "$1" "$2" &
}

# --- a name freed on one node and taken at once on another ----------------
# n2 takes and releases a lock, n1 takes it right away: on n2 an open
# without O_CREAT must find it held (busy, or it waits), never "absent",
# however soon after n2's own release it comes
alt_ok=yes
for round in 1 2 3 4 5; do
	in_session bash -c ": > $N2/w/alt; rm $N2/w/alt"
	in_session bash -c "exec 9>$N1/w/alt; sleep 1" &
	alt=$!
	wait_until 3 test -e "$N3/w/alt" # (asked on n3: n2 looks it up once, below)
	got=$(in_session python3 "$TESTS_LIB/fsop.py" open "$N2/w/alt" wn)
	[ "$got" = EAGAIN ] || alt_ok="no (round $round: $got)"
	wait "$alt"
done
check "an open without O_CREAT right after the node's own release finds the lock held elsewhere" \
	yes echo "$alt_ok"

waiters_of() { info_field "$1" waiters; }
export -f waiters_of
wait_waiters() { # FILE N: until the lock's waiters= says N (10 s at most)
	local k
	for ((k = 0; k < 200; k++)); do
		[ "$(waiters_of "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# --- a waiter on another node gets the lock when it is released ---------
: >"$N1/w/a"
waiter "$N2/w/a" /tmp/$$.a
expect "the waiter is queued (waiters=1)" wait_waiters "$N1/w/a" 1
expect "and still waits" test ! -s /tmp/$$.a
handoffs() { info_field "$1/.lockfs/status" handoffs; }
export -f handoffs
# a waiter looks again once, soon after it queued (a release may have
# slipped by before its binding took hold); a release racing that look
# would be answered by it, not handed over: let it pass first (one more
# Redis call from n2)
redis_calls() {
	sed -n 's/^lockfs_redis_calls_total{[^}]*} //p' "$1/.lockfs/metrics"
}
export -f redis_calls
c0=$(redis_calls "$N2")
wait_until 2 bash -c "[ \$(redis_calls $N2) -gt $c0 ]"
h0=$(handoffs "$N2")
t0=$(date +%s%N)
rm "$N1/w/a"
expect "granted after the release" wait_until 5 test -s /tmp/$$.a
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "within a second of the release (${ms} ms)" test "$ms" -lt 1000
check "held by n2 now" n2 info_field "$N3/w/a" node
# the release itself granted it: the waiter's node asked Redis nothing
check "handed over by the release (n2 handoffs +1)" "$((h0 + 1))" handoffs "$N2"
# and once its node confirmed the grant, it has its whole ttl (until then
# it lasts only as long as the queue entry would have)
full_ttl() {
	local e r
	e=$(info_field "$N3/w/a" expires) r=$(info_field "$N3/w/a" renewed)
	awk -v e="$e" -v r="$r" 'BEGIN { d = e - r - 15; exit !(d < 0.0005 && d > -0.0005) }'
}
expect "confirmed with its full ttl" wait_until 5 full_ttl
touch /tmp/$$.a.release
expect "released when its holder is done" wait_until 5 test ! -e "$N1/w/a"

# --- interrupted and killed waiters leave nothing queued ----------------
: >"$N1/w/b"
setsid bash -c "exec 9>$N2/w/b" &
p1=$!
setsid python3 -c "import os; os.open('$N3/w/b', os.O_WRONLY)" &
p2=$!
expect "two waiters queued" wait_waiters "$N1/w/b" 2
kill -TERM $p1 # (background jobs of a script ignore SIGINT)
kill -9 $p2
wait $p1 $p2 2>/dev/null
expect "the interrupted and the killed waiter are gone (waiters=0)" wait_waiters "$N1/w/b" 0
cat >/tmp/$$.eintr.py <<'EOP'
# open(2) straight from libc (Python itself would retry on EINTR)
import ctypes, errno, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
signal.signal(signal.SIGALRM, lambda *a: None)
signal.setitimer(signal.ITIMER_REAL, 0.5)
fd = libc.open(sys.argv[1].encode(), os.O_WRONLY)
print("granted" if fd >= 0 else errno.errorcode[ctypes.get_errno()])
EOP
check "a signal with a handler ends the wait with EINTR" EINTR setsid python3 /tmp/$$.eintr.py "$N2/w/b"
check "and withdraws it" 0 waiters_of "$N1/w/b"
rm "$N1/w/b"
sleep 0.5
expect "a killed waiter never inherits the lock" test ! -e "$N3/w/b"

# --- FIFO across three nodes --------------------------------------------
: >"$N1/w/fifo"
rm -f /tmp/$$.order
for i in 1 2 3 4 5 6; do
	n=$(( (i % 3) + 1 ))
	eval "mnt=\$N$n"
	setsid bash -c "exec 9>$mnt/w/fifo && echo $i >>/tmp/$$.order; sleep 0.1; rm $mnt/w/fifo" &
	wait_waiters "$N1/w/fifo" "$i"
done
check "six waiters queued across three nodes" 6 waiters_of "$N1/w/fifo"
rm "$N1/w/fifo"
for ((k = 0; k < 300; k++)); do
	[ "$(cat /tmp/$$.order 2>/dev/null | wc -l)" = 6 ] && break
	sleep 0.05
done
check "granted in the order they queued" "1 2 3 4 5 6" cat /tmp/$$.order

# --- a directory lock waiting for its subtree is not starved -------------
mkdir -p "$N1/d"
: >"$N1/d/x"
waiter "$N2/d/.lock" /tmp/$$.dir
expect "d/.lock waits for d/x" wait_until 10 grep -q '^waits_pending=1' "$N2/.lockfs/status"
check "a later lock below d is refused while d/.lock waits" EAGAIN in_session python3 "$TESTS_LIB/fsop.py" open "$N3/d/y" wcn
rm "$N1/d/x"
expect "d/.lock is granted" wait_until 5 test -s /tmp/$$.dir
touch /tmp/$$.dir.release

# --- expiry wakes a waiter without any release message ---------------------
setsid bash -c "printf 'keepalive=off\nttl=1s\n' > $N1/w/exp" 
waiter "$N2/w/exp" /tmp/$$.exp
t0=$(date +%s%N)
expect "the waiter wins when the lease expires" wait_until 5 test -s /tmp/$$.exp
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "about when the 1 s lease ran out (${ms} ms)" test "$ms" -lt 2500
touch /tmp/$$.exp.release

# --- keepalive ---------------------------------------------------------------
rm -f /tmp/$$.kago
setsid bash -c "echo ttl=1s > $N1/w/ka; while [ ! -e /tmp/$$.kago ]; do sleep 0.05; done" &
ka=$!
wait_until 5 test -e "$N2/w/ka"
sleep 2.5 # well past its ttl
check "held past its 1 s ttl while the session lives" n1 info_field "$N2/w/ka" node
touch /tmp/$$.kago
wait $ka
expect "released as soon as the session ends" wait_until 2 test ! -e "$N2/w/ka"
setsid bash -c "printf 'keepalive=off\nttl=1s\n' > $N1/w/ka2"
expect "keepalive=off: held once its session is gone" test -e "$N2/w/ka2"
expect "and expires after its ttl" wait_until 5 test ! -e "$N2/w/ka2"

# --- acquire_timeout ---------------------------------------------------------
CLUSTER_OPTS=",acquire_timeout=1s"
CLUSTER_N=4 CLUSTER_NODES=4
cluster_node_start 4 && N4=$CLUSTER_DIR/n4
: >"$N1/w/to"
check "acquire_timeout=1s: ETIMEDOUT" ETIMEDOUT in_session python3 "$TESTS_LIB/fsop.py" open "$N4/w/to" w
check "and nothing stays queued" 0 waiters_of "$N1/w/to"
check "O_NONBLOCK still fails at once: EAGAIN" EAGAIN in_session python3 "$TESTS_LIB/fsop.py" open "$N4/w/to" wn

# --- a grant handed to a paused node lapses and goes on ---------------------
# n2's daemon is stopped while its waiter is first in line: the release's
# grant to it lives two seconds unconfirmed and then frees the lock for the
# next waiter (n3); once n2 runs again, the late grant message must not
# give its waiter the lock while n3 holds it.
: >"$N1/w/pz"
waiter "$N2/w/pz" /tmp/$$.pz2
wait_waiters "$N1/w/pz" 1
waiter "$N3/w/pz" /tmp/$$.pz3
wait_waiters "$N1/w/pz" 2
kill -STOP "${NODE_PIDS[2]}"
rm "$N1/w/pz"
expect "the next waiter gets it once the paused node's grant lapsed" wait_until 15 test -s /tmp/$$.pz3
sleep 1 # n2 stays paused a little longer: its grant message waits in its socket
kill -CONT "${NODE_PIDS[2]}"
expect "the paused node's waiter queues again behind n3" wait_waiters "$N1/w/pz" 1
expect "and does not get the lock while n3 holds it" test ! -s /tmp/$$.pz2
check "n3 holds it" n3 info_field "$N1/w/pz" node
touch /tmp/$$.pz3.release
expect "n2's waiter gets it when n3 lets go" wait_until 10 test -s /tmp/$$.pz2
check "held by n2 then" n2 info_field "$N1/w/pz" node
touch /tmp/$$.pz2.release
expect "and let go" wait_until 5 test ! -e "$N1/w/pz"

# --- the broker down: waiters still win, within about a second ------------
if [ -n "${LOCKFS_SERVERS_DIR:-}" ] && [ -f "$LOCKFS_SERVERS_DIR/env" ]; then
	rabbit_stop
	expect "the node sees the broker down" wait_until 10 grep -q '^amqp=disconnected' "$N2/.lockfs/status"
	: >"$N1/w/nb"
	waiter "$N2/w/nb" /tmp/$$.nb
	wait_waiters "$N1/w/nb" 1
	t0=$(date +%s%N)
	rm "$N1/w/nb"
	expect "granted without the broker" wait_until 5 test -s /tmp/$$.nb
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	expect "within about a second (${ms} ms)" test "$ms" -lt 1600
	touch /tmp/$$.nb.release
	rabbit_start
	expect "the node reconnects by itself" wait_until 20 grep -q '^amqp=connected' "$N2/.lockfs/status"
	# the releasing node too: a release it made before that would reach
	# n2 from its outbox once it connects, which is not what is timed here
	expect "... and so do the others" wait_until 20 bash -c \
		"grep -q '^amqp=connected' $N1/.lockfs/status && grep -q '^amqp=connected' $N3/.lockfs/status"
	: >"$N1/w/nb2"
	waiter "$N2/w/nb2" /tmp/$$.nb2
	wait_waiters "$N1/w/nb2" 1
	t0=$(date +%s%N)
	rm "$N1/w/nb2"
	wait_until 5 test -s /tmp/$$.nb2
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	expect "handoffs work again after the restart (${ms} ms)" test "$ms" -lt 2000
	touch /tmp/$$.nb2.release
fi

# --- waiting on the holder's own node --------------------------------------
# A blocking create must not hold the directory: the holder's rm in the same
# directory on the same node goes through, and the waiter gets the lock.
mkdir -p "$N1/w/same"
setsid bash -c "touch $N1/w/same/.lock; sleep 30" &
hp=$!
wait_until 5 test -e "$N2/w/same/.lock"
waiter "$N1/w/same/x" /tmp/$$.same
wait_waiters "$N1/w/same/.lock" 1
check "the holder's rm on the same node is not blocked by the waiter" 0 \
	bash -c "timeout 5 rm $N1/w/same/.lock; echo \$?"
expect "and the waiter below gets its lock" wait_until 5 test -s /tmp/$$.same
check "a busy touch next to it still fails at once" EAGAIN \
	in_session python3 "$TESTS_LIB/fsop.py" open "$N1/w/same/x" wcn
touch /tmp/$$.same.release
kill "$hp" 2>/dev/null
setsid bash -c ": > $N1/w/same/y; sleep 30" &
hp=$!
wait_until 5 test -e "$N1/w/same/y"
waiter "$N1/w/same/y" /tmp/$$.same2
wait_waiters "$N1/w/same/y" 1
check "the holder of a leaf releases it next to its waiter" 0 \
	bash -c "timeout 5 rm $N1/w/same/y; echo \$?"
expect "and that waiter gets it" wait_until 5 test -s /tmp/$$.same2
touch /tmp/$$.same2.release
kill "$hp" 2>/dev/null

# --- contention: many processes on two nodes, one lock ---------------------
# every blocking open(O_CREAT) either gets the lock or is interrupted at the
# end (no ENOENT, no ESTALE), and the lock keeps moving
if [ -x "${CONTEND_BIN:-}" ]; then
	"$CONTEND_BIN" 3 1000 "$N1/w/hot" "$N2/w/hot" >/tmp/$$.hot 2>&1
	rc=$?
	expect "16 blocking opens on one lock never fail ($(tr '\n' ' ' </tmp/$$.hot | cut -c1-90))" \
		test "$rc" -eq 0
	grants=$(sed -n 's/.* grants=\([0-9]*\).*/\1/p' /tmp/$$.hot)
	expect "and the lock keeps moving (${grants:-0} grants in 3 s)" test "${grants:-0}" -ge 30
fi

# --- the broker away and back: one Redis call per waited lock, not per waiter
if [ -n "${LOCKFS_SERVERS_DIR:-}" ] && [ -f "$LOCKFS_SERVERS_DIR/env" ]; then
	# (ttl=1h: queue-entry renewals, one per waiter per ttl/3, stay out of
	# the count)
	CLUSTER_OPTS=",ttl=1h"
	CLUSTER_N=5
	CLUSTER_NODES=5
	cluster_node_start 5 || exit 1
	N5=$CLUSTER_DIR/n5
	setsid bash -c "exec 9>$N1/w/flat; sleep 600" &
	fh=$!
	wait_until 5 test -e "$N5/w/flat"
	fpids=()
	for i in $(seq 1 60); do
		setsid bash -c "exec 9>$N5/w/flat" 2>/dev/null &
		fpids+=($!)
	done
	expect "60 waiters queued on n5" wait_waiters "$N1/w/flat" 60
	calls5() { sed -n 's/^lockfs_redis_calls_total{[^}]*} //p' "$N5/.lockfs/metrics"; }
	rabbit_stop
	wait_until 10 grep -q '^amqp=disconnected' "$N5/.lockfs/status"
	c0=$(calls5)
	sleep 3 # an outage of three seconds
	c1=$(calls5)
	expect "broker down 3 s: $((c1 - c0)) Redis calls for 60 waiters (one lock, ~1/s)" test $((c1 - c0)) -le 10
	rabbit_start
	c0=$(calls5)
	wait_until 20 grep -q '^amqp=connected' "$N5/.lockfs/status"
	sleep 0.5 # what the return set off
	c1=$(calls5)
	expect "broker back: $((c1 - c0)) Redis calls, not one per waiter" test $((c1 - c0)) -le 10
	kill -9 "${fpids[@]}" 2>/dev/null
	expect "the killed waiters leave nothing queued" wait_waiters "$N1/w/flat" 0
	kill $fh 2>/dev/null
	cluster_node_stop 5
	CLUSTER_N=4
fi

# --- a thousand waiters on one node ---------------------------------------
"$WAITERS_BIN" "$N2/w/many" 1000 120 >/tmp/$$.many &
wp=$!
wait_until 60 grep -q queued /tmp/$$.many
threads=$(awk '/^Threads:/ {print $2}' /proc/"${NODE_PIDS[2]}"/status)
expect "1000 waiters cost the daemon no threads ($threads threads)" test "$threads" -le 4
wait $wp
check "all 1000 queued, all granted in turn" "queued 1000 granted 1000" cat /tmp/$$.many

# --- shutdown with a waiter: it gets an error, never hangs -----------------
: >"$N1/w/sd"
setsid bash -c "exec 9>$N3/w/sd && echo granted" >/tmp/$$.sd 2>&1 &
sp=$!
wait_waiters "$N1/w/sd" 1
kill -TERM "${NODE_PIDS[3]}"
expect "the waiter returns when its node shuts down" wait_until 5 bash -c "! kill -0 $sp 2>/dev/null"
expect "with an error, not the lock" bash -c "! grep -q granted /tmp/$$.sd"

rm -f /tmp/$$.*
finish
