#!/usr/bin/env bash
# interrupts.sh - every way a wait can end leaves nothing queued: waits
# interrupted by a timer 1-10 ms after they began (the moment the first
# acquire call is in flight), waiters killed at random moments, timeouts,
# lock sets and flock waits interrupted the same way, an unmount with
# waiters.  Checked by counting the queue's Redis keys and elements, then
# by a newcomer that must get the lock at once once its holder leaves.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 3
mkdir -p "$N1/it"
T=/tmp/interrupts.$$
P="{$CLUSTER_PREFIX}"

rcli() { redis-cli -p "${LOCKFS_REDIS_URL##*:}" "$@"; }

# queue_elems: waiter records plus queue-index entries of the whole tree
queue_elems() {
	local k n=0 c
	c=$(rcli HLEN "$P:wr")
	n=$((n + c))
	for k in $(rcli --scan --pattern "$P:q:*") $(rcli --scan --pattern "$P:wx:*") \
		$(rcli --scan --pattern "$P:ws:*"); do
		c=$(rcli ZCARD "$k")
		n=$((n + c))
	done
	echo "$n"
}
queue_empty() { [ "$(queue_elems)" = 0 ]; }

# hold NAME: a holder on n2 in a session of its own, until $T.stop
hold() {
	rm -f "$T.stop"
	setsid bash -c 'exec 9>"$1"; while [ ! -e "$2" ]; do sleep 0.05; done; rm -f "$1"' \
		hold "$N2/it/$1" "$T.stop" &
	HOLDER=$!
	wait_until 5 test -e "$N3/it/$1"
}
unhold() {
	touch "$T.stop"
	wait "$HOLDER" 2>/dev/null
}

# after_ghosts NAME: once the holder is gone, a newcomer gets it at once
after_ghosts() {
	local name=$1 what=$2 t0 ms
	expect "$what: nothing left queued in Redis" wait_until 5 queue_empty
	check "$what: waiters=0 on another node" 0 info_field "$N3/it/$name" waiters
	unhold
	t0=$(date +%s%N)
	check "$what: a newcomer's touch gets it at once" OK fsop open "$N3/it/$name" wcn
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	expect "$what: ... within a second (${ms} ms)" test "$ms" -lt 1000
	rm -f "$N3/it/$name"
}

# --- A: open(2) interrupted 1-10 ms after it began ----------------------
cat >$T.int.py <<'EOP'
# Each operation gets an alarm 1-10 ms after it began, repeated every
# 50 ms: a signal that lands just before the call enters the kernel is
# handled there and lost to the call, which would then wait for good, so
# the next one ends it.  Only the first ring of an operation raises
# (`armed`), so none escapes once it is over, and a descriptor that was
# granted is closed in any case.
import fcntl, os, random, signal, sys
class Alarm(Exception):
    pass
armed = False
def ring(*a):
    global armed
    if armed:
        armed = False
        raise Alarm()
signal.signal(signal.SIGALRM, ring)
kind, path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
random.seed(int(sys.argv[4]))
got = 0
for i in range(count):
    fd = None
    try:
        try:
            armed = True
            signal.setitimer(signal.ITIMER_REAL, random.uniform(0.001, 0.010), 0.05)
            if kind == "open":
                fd = os.open(path, os.O_WRONLY | os.O_CREAT)
            elif kind == "flock":
                fd = os.open(path, os.O_RDONLY | os.O_CREAT)
                fcntl.flock(fd, fcntl.LOCK_EX)
            elif kind == "lockf":
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
                fcntl.lockf(fd, fcntl.LOCK_EX)
            elif kind == "set":
                fd = os.open(sys.argv[5], os.O_WRONLY)
                os.write(fd, (sys.argv[6] + "\n").encode())
            got += 1
        finally:
            armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Alarm:
        pass
    except OSError as e:
        print("error", e.errno, flush=True)
    if fd is not None:
        os.close(fd)
print("granted", got)
EOP

hold a
check "200 opens interrupted at 1-10 ms: none granted" "granted 0" \
	setsid python3 $T.int.py open "$N1/it/a" 200 1
after_ghosts a "interrupted opens"

hold b
check "200 flock waits interrupted at 1-10 ms: none granted" "granted 0" \
	setsid python3 $T.int.py flock "$N1/it/b" 200 2
after_ghosts b "interrupted flocks"

hold c
check "200 lockf waits interrupted at 1-10 ms: none granted" "granted 0" \
	setsid python3 $T.int.py lockf "$N1/it/c" 200 3
after_ghosts c "interrupted lockfs"

hold d
check "200 lock-set writes interrupted at 1-10 ms: none granted" "granted 0" \
	setsid python3 $T.int.py set "$N1/it/d" 200 4 "$N1/.lockfs/acquire" "it/d it/d2"
after_ghosts d "interrupted lock sets"
expect "and no member of a set is held" test ! -e "$N3/it/d2"

# --- waiters killed with SIGKILL at random moments ----------------------
hold e
for i in $(seq 1 60); do
	setsid python3 -c "import os; os.open('$N1/it/e', os.O_WRONLY | os.O_CREAT)" &
	p=$!
	sleep "0.00$(( RANDOM % 9 + 1 ))"
	kill -9 $p 2>/dev/null
	wait $p 2>/dev/null
done
after_ghosts e "waiters killed with SIGKILL"

# --- two processes on two nodes interrupting at once, repeated ----------
hold f
setsid python3 $T.int.py open "$N1/it/f" 150 5 >$T.f1 &
p1=$!
setsid python3 $T.int.py open "$N3/it/f" 150 6 >$T.f3 &
p3=$!
wait $p1 $p3
check "two nodes interrupting at once: none granted" "granted 0 granted 0" cat $T.f1 $T.f3
after_ghosts f "interrupts on two nodes"

# --- interrupts racing the handoff of a lock that keeps changing hands ----
# Two processes on n2 and n3 take the lock in turn; a third on n1 asks for
# it over and over and is interrupted 1-10 ms later, so some grants reach
# it just as it gives up.  A grant that arrives for a wait that ended must
# be released again: nobody ever holds it together with anyone, and once
# everyone is done it is free and nothing is queued.
cat >$T.cycle.py <<'EOP'
import os, sys, time
path, log, until = sys.argv[1], sys.argv[2], float(sys.argv[3])
who = str(os.getpid())
while time.time() < until:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    with open(log, "a") as f:
        f.write("in " + who + "\n")
    time.sleep(0.002)
    with open(log, "a") as f:
        f.write("out " + who + "\n")
    os.unlink(path)
    os.close(fd)
EOP
cat >$T.grab.py <<'EOP'
import os, random, signal, sys
class Alarm(Exception):
    pass
def ring(*a):
    raise Alarm()
signal.signal(signal.SIGALRM, ring)
path, log, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
random.seed(7)
who, got = str(os.getpid()), 0
for i in range(count):
    # the alarm may ring anywhere until the timer is off, even in the
    # finally clause after the open succeeded: then fd says so
    fd = None
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, random.uniform(0.001, 0.010))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Alarm:
        pass
    except OSError as e:
        print("error", e.errno, flush=True)
        continue
    if fd is None:
        continue
    got += 1
    with open(log, "a") as f:
        f.write("in " + who + "\nout " + who + "\n")
    os.unlink(path)
    os.close(fd)
print("done", got)
EOP
: >$T.log
until=$(( $(date +%s) + 8 ))
setsid python3 $T.cycle.py "$N2/it/r" $T.log $until &
c2=$!
setsid python3 $T.cycle.py "$N3/it/r" $T.log $until &
c3=$!
setsid python3 $T.grab.py "$N1/it/r" $T.log 300 >$T.grab 2>&1
wait $c2 $c3
expect "the interrupted grabber ran to its end ($(cat $T.grab))" grep -q '^done' $T.grab
expect "never two holders at once ($(grep -c '^in' $T.log) grants)" holds_never_overlap $T.log
expect "the lock kept changing hands" test "$(grep -c '^in' $T.log)" -gt 100
hold r
after_ghosts r "interrupts racing handoffs"

# --- waits ended by acquire_timeout, over and over ----------------------
CLUSTER_OPTS=",acquire_timeout=5ms"
CLUSTER_N=4
CLUSTER_NODES=4
cluster_node_start 4 || exit 1
N4=$CLUSTER_DIR/n4
hold g
cat >$T.to.py <<'EOP'
import errno, os, sys
n = 0
for i in range(int(sys.argv[2])):
    try:
        os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT))
    except OSError as e:
        if e.errno == errno.ETIMEDOUT:
            n += 1
print("timedout", n)
EOP
check "100 waits of 5 ms time out" "timedout 100" setsid python3 $T.to.py "$N4/it/g" 100
after_ghosts g "timed-out waits"

# --- an unmount ends every wait and withdraws it ------------------------
cluster_node_stop 4
CLUSTER_OPTS=""
cluster_node_start 4 || exit 1
hold h
for i in 1 2 3 4 5; do
	setsid bash -c "exec 9>$N4/it/h" 2>/dev/null &
done
five_waiting() { [ "$(info_field "$N1/it/h" waiters)" = 5 ]; }
expect "five waiters queued on n4" wait_until 5 five_waiting
cluster_node_stop 4
after_ghosts h "an unmount with waiters"

# --- a first attempt that Redis answers only after the caller got EIO ---
CLUSTER_OPTS=",backend_timeout=1s"
cluster_node_start 4 || exit 1
hold i
# (a lock-set write: its file is local, so no lookup needs Redis first)
cat >$T.set.py <<'EOP'
import errno, os, signal, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.kill(int(sys.argv[3]), signal.SIGSTOP)
try:
    os.write(fd, (sys.argv[2] + "\n").encode())
    print("granted")
except OSError as e:
    print(errno.errorcode[e.errno])
EOP
check "a wait begun while Redis is frozen fails with EIO" EIO \
	python3 $T.set.py "$N4/.lockfs/acquire" it/i "$(cat "$LOCKFS_SERVERS_DIR/redis/redis.pid")"
redis_thaw
after_ghosts i "an attempt answered too late"
cluster_node_stop 4
CLUSTER_N=3

rm -f $T.*
finish
