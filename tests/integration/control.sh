#!/usr/bin/env bash
# control.sh - the control directory (the README): status fields, and
# the event stream seen on one node for locks taken, waited for, released
# and ended on others; poll(), O_NONBLOCK and signals on the stream.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 3
T=/tmp/control.$$

# --- status ---------------------------------------------------------------
check "status names the node" n2 info_field "$N2/.lockfs/status" node
check "status says redis is connected" connected info_field "$N2/.lockfs/status" redis
check "status says the broker is connected" connected info_field "$N2/.lockfs/status" amqp
check "status has a version" 1 bash -c "grep -c '^version=[0-9]' $N2/.lockfs/status"
in_session bash -c ": > $N2/held; while [ ! -e $T.heldgo ]; do sleep 0.05; done" &
sh=$!
wait_until 5 test -e "$N1/held"
check "status counts the locks this node holds" 1 info_field "$N2/.lockfs/status" locks_held
check "the control directory lists its files" "acquire events metrics request status" bash -c "ls $N1/.lockfs | tr '\n' ' ' | sed 's/ \$//'"
check "status is read-only" EACCES fsop open "$N1/.lockfs/status" w

# --- events ---------------------------------------------------------------
# nobody reads events yet: a lock taken and released where nobody waits
# tells the broker nothing
published() { # NODE: its broker messages so far
	sed -n 's/^lockfs_amqp_published_total{[^}]*} //p' "$1/.lockfs/metrics"
}
export -f published
p0=$(published "$N1")
for k in 1 2 3; do : >"$N1/quiet$k"; rm "$N1/quiet$k"; done
check "with no reader, 3 uncontended takes and releases publish nothing" \
	"$p0" published "$N1"
timeout 30 cat "$N3/.lockfs/events" >$T.ev &
ev=$!
# the reader's binding is in place once an event of ours comes through
: >"$N1/e0"
wait_until 5 grep -q ' acquired e0 ' $T.ev
rm "$N1/e0"
: >"$N1/e1"
setsid bash -c ": > $N2/e1" &
w=$!
e1_waits() { [ "$(info_field "$N3/e1" waiters)" = 1 ]; }
wait_until 5 e1_waits
rm "$N1/e1"
wait $w
wait_until 5 grep -q ' owner-exit e1 ' $T.ev
setsid bash -c "printf 'keepalive=off\nttl=500ms\n' > $N1/e2"
in_session python3 "$TESTS_LIB/fsop.py" unlink "$N3/held" >/dev/null
wait_until 5 grep -q ' expired e2 ' $T.ev
kill $ev 2>/dev/null
wait $ev 2>/dev/null
check "n3 sees n1's acquire" 1 grep -c ' acquired e1 [0-9]* n1 ' $T.ev
check "n3 sees n2 waiting" 1 grep -c ' waiting e1 0 n2 ' $T.ev
check "n3 sees n1's release" 1 grep -c ' released e1 [0-9]* n1 ' $T.ev
check "n3 sees the handoff to n2" 1 grep -c ' acquired e1 [0-9]* n2 ' $T.ev
check "n3 sees n2's owner-exit" 1 grep -c ' owner-exit e1 [0-9]* n2 ' $T.ev
check "n3 sees its own break of n2's lock" 1 grep -c ' broken held [0-9]* n2 ' $T.ev
check "n3 sees n1's lease expire" 1 grep -c ' expired e2 [0-9]* n1 ' $T.ev
check "lines have seven fields" 0 bash -c "awk 'NF != 7' $T.ev | wc -l"
check "a release carries its grant's token" 1 bash -c "
  a=\$(grep ' acquired e1 [0-9]* n1 ' $T.ev | awk '{print \$4}')
  grep -c \" released e1 \$a n1 \" $T.ev"
touch $T.heldgo
wait $sh 2>/dev/null

# a node mounted while n3 reads events hears of the reader at once
cluster_add_node 4
timeout 30 cat "$N3/.lockfs/events" >$T.ev4 &
ev=$!
# (its binding is in place once an event of ours comes through)
: >"$N1/e0"
wait_until 5 grep -q ' acquired e0 ' $T.ev4
rm "$N1/e0"
: >"$N4/late"
expect "n4, mounted while n3 reads, publishes to it" \
	wait_until 2 grep -q ' acquired late [0-9]* n4 ' $T.ev4
rm "$N4/late"
kill $ev 2>/dev/null
wait $ev 2>/dev/null

check "a second reader starts from its own open" 0 bash -c "timeout 1 cat $N1/.lockfs/events | wc -l"
check "O_NONBLOCK read of an empty stream: EAGAIN" EAGAIN python3 -c "
import os, errno
fd = os.open('$N1/.lockfs/events', os.O_RDONLY | os.O_NONBLOCK)
try:
    os.read(fd, 4096); print('data')
except OSError as e:
    print(errno.errorcode[e.errno])"
check "poll() wakes up when an event comes" "timeout acquired" python3 -c "
import os, select, subprocess
fd = os.open('$N1/.lockfs/events', os.O_RDONLY)
p = select.poll(); p.register(fd, select.POLLIN)
print('timeout' if not p.poll(300) else 'early')
subprocess.run(['setsid', 'python3', '$TESTS_LIB/fsop.py', 'open', '$N2/e3', 'wcn'],
               stdout=subprocess.DEVNULL)
print(os.read(fd, 4096).split()[1].decode() if p.poll(5000) else 'nothing')"
sleep 1 # let the owner-exit of e3 go by: the stream must be quiet here
check "a signal ends a blocked read with EINTR" EINTR python3 -c "
import ctypes, errno, os, signal
libc = ctypes.CDLL(None, use_errno=True)
signal.signal(signal.SIGALRM, lambda *a: None)
signal.setitimer(signal.ITIMER_REAL, 0.3)
fd = os.open('$N1/.lockfs/events', os.O_RDONLY)
buf = ctypes.create_string_buffer(4096)
n = libc.read(fd, buf, 4096)
print('data' if n > 0 else errno.errorcode[ctypes.get_errno()])"

# --- lock sets -------------------------------------------------------------
mkdir -p "$N1/db" "$N1/cfg"
check "the control directory has acquire" 1 bash -c "ls $N1/.lockfs | grep -c '^acquire\$'"
setsid bash -c "printf 'db/customers db/orders shared:cfg/.lock\n' > $N1/.lockfs/acquire && sleep 4" &
s1=$!
wait_until 5 test -e "$N2/db/customers"
check "a set is granted at once, all of it" "n1 n1 n1" bash -c "for f in db/customers db/orders cfg/.lock; do sed -n 's/^node=//p' $N2/\$f; done"
check "a shared member is shared" shared info_field "$N2/cfg/.lock" mode
check "a shared member admits another shared lock below it" OK in_session python3 -c "
import os, fcntl
fd = os.open('$N2/cfg/x', os.O_RDONLY | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB); print('OK')"
check "O_NONBLOCK on a busy set: EAGAIN" EAGAIN setsid python3 -c "
import os, errno
fd = os.open('$N2/.lockfs/acquire', os.O_WRONLY | os.O_NONBLOCK)
try:
    os.write(fd, b'db/free db/orders\n'); print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])"
expect "and it took nothing" test ! -e "$N1/db/free"
setsid bash -c "printf 'db/free db/orders\n' > $N2/.lockfs/acquire && echo granted > $T.set && sleep 2" &
s2=$!
expect "a blocking set waits (waits_pending=1)" wait_until 5 grep -q '^waits_pending=1' "$N2/.lockfs/status"
expect "holding nothing while it waits" test ! -e "$N1/db/free"
check "and holding back a later request for a member" EAGAIN in_session python3 "$TESTS_LIB/fsop.py" open "$N3/db/free" wcn
wait $s1
expect "granted when the member is free" wait_until 5 test -s $T.set
check "all of it" "n2 n2" bash -c "for f in db/free db/orders; do sed -n 's/^node=//p' $N1/\$f; done"
wait $s2
for line in "db//x" "../x" "db/a db/a" "db/.lock db/a" ".lockfs/x" "" "db/a@db/b"; do
	line=${line//@/$'\n'} # two lines in one write
	check "a malformed line is refused: [${line//$'\n'/\\n}]" EINVAL python3 -c "
import os, errno, sys
fd = os.open('$N1/.lockfs/acquire', os.O_WRONLY)
try:
    os.write(fd, sys.argv[1].encode() + b'\n'); print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])" "$line"
done
expect "a refused line took nothing" test ! -e "$N1/db/a"

# --- metrics ----------------------------------------------------------------
# Prometheus text format, counting what this node did
mkdir -p "$N3/met"
: >"$N3/met/a"
rm "$N3/met/a"
setsid bash -c ": > $N3/met/b; sleep 2" &
mb=$!
wait_until 5 test -e "$N1/met/b"
cp "$N3/.lockfs/metrics" $T.met
check "metrics parse as Prometheus text and count this node's work" ok \
	python3 "$TESTS_LIB/promcheck.py" $T.met 'lockfs_up{node="n3"}=1' \
	'lockfs_redis_up{node="n3"}=1' 'lockfs_amqp_up{node="n3"}=1' \
	'lockfs_locks_held{node="n3"}=1'
grants=$(sed -n 's/^lockfs_lock_events_total{node="n3",event="acquired"} //p' $T.met)
releases=$(sed -n 's/^lockfs_lock_events_total{node="n3",event="released"} //p' $T.met)
expect "grants and releases are counted ($grants, $releases)" test "${grants:-0}" -ge 2 -a "${releases:-0}" -ge 1
count=$(sed -n 's/^lockfs_acquire_wait_seconds_count{node="n3"} //p' $T.met)
expect "and every grant is in the wait histogram ($count)" test "${count:-0}" -ge 2
calls=$(sed -n 's/^lockfs_redis_call_seconds_count{node="n3"} //p' $T.met)
expect "Redis round trips are counted and timed ($calls)" test "${calls:-0}" -ge 3
check "metrics are read-only" EACCES fsop open "$N3/.lockfs/metrics" w
wait $mb
check "a lock released when its session ends is counted as owner-exit" 1 bash -c "
	for i in \$(seq 40); do
		n=\$(sed -n 's/^lockfs_lock_events_total{node=\"n3\",event=\"owner-exit\"} //p' $N3/.lockfs/metrics)
		[ \"\$n\" -ge 1 ] 2>/dev/null && { echo 1; exit; }
		sleep 0.1
	done; echo 0"

rm -f $T.*
finish
