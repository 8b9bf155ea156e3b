#!/usr/bin/env bash
# partition.sh - network partitions, not kills: node n2 runs in a network
# namespace of its own, joined to the machine by a veth link, and reaches
# Redis and the broker through two addresses on that link (socat forwards
# them to the servers on loopback).  A blackhole route cuts one path
# silently: what n2 sends is dropped, no connection is reset, and the
# servers never hear of it.  n1 stays on the machine's own network.
#
#   1. n2 cut off from Redis while its holder renews and its waiter waits:
#      a command through n2 fails with EIO within backend_timeout, the next
#      at once; n2's lease goes to n1's waiter only once its TTL has run
#      out; after the heal n2's holder gets ESTALE and its waiter carries
#      on and is granted.
#   2. n2 cut off from the broker only, under contention: handoffs go on
#      through the 1 s re-checks (the longest gap between grants stays
#      under 2.5 s), and no two processes ever hold the lock at once.
#   3. node n3's wall clock an hour ahead, then an hour behind (libfaketime
#      on its daemon alone): handoffs to it stay prompt, and the times it
#      shows and stamps on events are the Redis clock's.
. "$(dirname "$0")/../lib/cluster.sh"
TTL_MS=3000
cluster_mount 1 "backend_timeout=2s,ttl=3s"
T=$CLUSTER_DIR/partition
mkdir -p "$T"

. "$TESTS_LIB/netns.sh"
trap 'cluster_cleanup; netns_down' EXIT
REDIS_AT=$NETNS_HOST # n2's paths to Redis and to the broker
AMQP_AT=$NETNS_HOST2
netns_ready
netns_forward "$REDIS_AT" "$(netns_redis_port)"
# n2, inside the namespace (its network only: the mount is the machine's)
expect "n2 mounts from its own network namespace" netns_mount 2 "backend_timeout=2s,ttl=3s"
check "n2 reaches Redis across the link" connected info_field "$N2/.lockfs/status" redis

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# --- 1. n2 cut off from Redis ------------------------------------------------
mkdir -m 1777 "$N1/p"
# n2's holder keeps writing to its lock through its descriptor (each write
# renews it); what the writes say goes to held.err
setsid bash -c "exec 9>$N2/p/held || exit 1
  while [ ! -e $T/held.stop ]; do
    echo renew >&9 2>>$T/held.err || echo 'write failed' >>$T/held.err
    sleep 0.3
  done" &
HOLDER=$!
wait_until 5 test -e "$N1/p/held"
# n1 waits for it; n2 waits for a lock n1 holds
setsid bash -c "exec 9>$N1/p/held && date +%s%N >$T/n1.got && sleep 30" &
W1=$!
setsid bash -c ": > $N1/p/other; while [ ! -e $T/other.stop ]; do sleep 0.05; done; rm $N1/p/other" &
setsid bash -c "exec 9>$N2/p/other && echo granted >$T/n2.got && sleep 30" &
W2=$!
waiters_is() { [ "$(info_field "$N1/p/$1" waiters)" = 1 ]; }
wait_until 5 waiters_is held
wait_until 5 waiters_is other
sleep 0.5 # a renewal or two in before the cut
netns_cut "$REDIS_AT"
t_cut=$(date +%s%N)
t0=$(date +%s%N)
out=$(in_session python3 "$TESTS_LIB/fsop.py" open "$N2/p/new" wcn)
ms=$(ms_since "$t0")
check "a touch through n2 cut off from Redis: EIO" EIO echo "$out"
expect "... within backend_timeout (2 s; ${ms} ms)" test "$ms" -lt 3000
t0=$(date +%s%N)
out=$(in_session python3 "$TESTS_LIB/fsop.py" open "$N2/p/new2" wcn)
ms=$(ms_since "$t0")
check "the next one: EIO" EIO echo "$out"
expect "... at once (${ms} ms)" test "$ms" -lt 500
expect "n1 gets n2's lock once n2's lease has run out" wait_until 15 test -s "$T/n1.got"
got_ms=$((($(cat "$T/n1.got") - t_cut) / 1000000))
expect "... not before its TTL, less the renewals' spacing (${got_ms} ms after the cut)" \
	test "$got_ms" -ge $((TTL_MS - 1000))
expect "... and not long after (${got_ms} ms)" test "$got_ms" -lt $((TTL_MS + 4000))
netns_heal "$REDIS_AT"
expect "after the heal n2 answers again" wait_until 15 bash -c \
	"[ \"\$(in_session python3 $TESTS_LIB/fsop.py open $N2/p/after wcn)\" = OK ]"
expect "n2's holder learns it lost the lock: its writes fail with ESTALE" \
	wait_until 10 grep -q "Stale file handle" "$T/held.err"
touch "$T/held.stop" "$T/other.stop"
expect "n2's waiter, queued before the cut, is granted after the heal" wait_until 15 test -s "$T/n2.got"
kill "$W1" "$W2" "$HOLDER" 2>/dev/null
wait "$W1" "$W2" "$HOLDER" 2>/dev/null

# --- 2. n2 cut off from the broker only, under contention ------------------
: >"$T/turns"
until=$(($(date +%s) + 10))
TW=()
for n in "$N1" "$N2" "$N1" "$N2"; do
	setsid python3 "$TESTS_LIB/turns.py" "$n/p/hot" "$T/turns" "$until" >>"$T/turns.out" 2>&1 &
	TW+=($!)
done
wait_until 10 test -s "$T/turns"
sleep 1.5
netns_cut "$AMQP_AT"
t_cut=$(date +%s.%N)
expect "n2 cut off from the broker says so within about a second" \
	wait_until 5 grep -q '^amqp=disconnected' "$N2/.lockfs/status"
sleep 4
netns_heal "$AMQP_AT"
t_heal=$(date +%s.%N)
for p in "${TW[@]}"; do wait "$p"; done
gap=$(awk -v a="$t_cut" -v b="$t_heal" '$1 == "in" && $3 > a - 1 && $3 < b + 1 {print $3}' "$T/turns" |
	sort -n | awk 'NR > 1 && $1 - p > m {m = $1 - p} {p = $1} END {printf "%d", m * 1000}')
n2_grants=$(awk -v a="$t_cut" -v b="$t_heal" '$1 == "in" && $3 > a && $3 < b' "$T/turns" | wc -l)
expect "handoffs go on while n2 hears nothing from the broker: longest gap ${gap} ms (< 2500)" \
	test "${gap:-99999}" -lt 2500
expect "... ($n2_grants grants in the 4 s)" test "$n2_grants" -gt 2
expect "... and no two processes ever held the lock at once" holds_never_overlap "$T/turns"
expect "n2 is back on the broker after the heal" \
	wait_until 20 grep -q '^amqp=connected' "$N2/.lockfs/status"

# --- 3. a node's wall clock jumps (libfaketime on its daemon alone) --------
# Only the Redis clock counts: leases, grants and event times on n3 stay
# right while its own clock is an hour ahead, then an hour behind.
FT=$T/faketime
echo "+0" >"$FT"
cat >"$T/lockfs-faketime" <<EOS
#!/bin/sh
LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 \\
FAKETIME_TIMESTAMP_FILE=$FT FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \\
	exec "$LOCKFS_BIN" "\$@"
EOS
chmod +x "$T/lockfs-faketime"
REAL_BIN=$LOCKFS_BIN
LOCKFS_BIN=$T/lockfs-faketime
cluster_add_node 3 "backend_timeout=2s,ttl=3s"
LOCKFS_BIN=$REAL_BIN
timeout 120 cat "$N1/.lockfs/events" >"$T/events" &
EVP=$!
wait_until 5 bash -c ": > $N1/p/ev0; grep -q ' acquired p/ev0 ' $T/events"
rm -f "$N1/p/ev0"
for jump in +1h -1h; do
	echo "$jump" >"$FT"
	check "(n3's own clock is $jump off)" ok bash -c \
		"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 FAKETIME_TIMESTAMP_FILE=$FT FAKETIME_NO_CACHE=1 \
		 python3 -c 'import time; print(\"ok\" if abs(time.time() - $(date +%s) - ${jump%h} * 3600) < 60 else \"no\")'"
	# a handoff from n1 to a waiter on n3
	rm -f "$T/ck.stop" "$T/ck.got"
	setsid bash -c ": > $N1/p/ck; while [ ! -e $T/ck.stop ]; do sleep 0.05; done; rm $N1/p/ck" &
	ck=$!
	wait_until 5 test -e "$N3/p/ck"
	setsid bash -c "exec 9>$N3/p/ck && date +%s%N >$T/ck.got && sleep 4" &
	cw=$!
	ck_waits() { [ "$(info_field "$N1/p/ck" waiters)" = 1 ]; }
	wait_until 5 ck_waits
	t0=$(date +%s%N)
	touch "$T/ck.stop"
	expect "clock $jump on n3: a release on n1 hands the lock to n3's waiter" wait_until 5 test -s "$T/ck.got"
	ms=$((($(cat "$T/ck.got") - t0) / 1000000))
	expect "... promptly (${ms} ms)" test "$ms" -lt 1500
	acquired=$(info_field "$N3/p/ck" acquired)
	expect "... and n3 shows its grant's time by the Redis clock (acquired=$acquired)" \
		test "$(( ${acquired%.*} - $(date +%s) ))" -gt -10 -a "$(( ${acquired%.*} - $(date +%s) ))" -lt 10
	exits=$(grep -c " owner-exit p/ck [0-9]* n3 " "$T/events")
	wait "$cw" "$ck" 2>/dev/null
	# the waiter's session has ended: n3 sees its owner gone and says so
	one_more_exit() { [ "$(grep -c " owner-exit p/ck [0-9]* n3 " "$T/events")" -gt "$exits" ]; }
	expect "... its owner's exit is an event" wait_until 10 one_more_exit
	when=$(grep " owner-exit p/ck [0-9]* n3 " "$T/events" | tail -1 | cut -d' ' -f1)
	expect "... stamped by the Redis clock, not n3's ($when)" \
		test "$(( ${when%.*} - $(date +%s) ))" -gt -30 -a "$(( ${when%.*} - $(date +%s) ))" -lt 30
done
kill "$EVP" 2>/dev/null

finish
