#!/usr/bin/env bash
# beyond.sh - what the lock services lockfs replaces do not offer well
# (README "Semaphores", "What a lock file says"), across nodes: a namespace
# with a limit (user.lockfs.limit) as a semaphore, taken by leases and
# flocks from two nodes, its waiters FIFO and woken by a release, its
# refusals; and the queue in sight, waiters listed in order in a lock's
# info.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 3
users_setup
T=/tmp/lockfs-beyond.$$
BG=()
finish_bg() { local p; for p in "${BG[@]}"; do kill -9 -- "-$p" 2>/dev/null; done; }
trap 'finish_bg; cluster_cleanup; rm -f $T.*' EXIT

# hold PATH: a lease held in a session of its own until PATH's .stop
hold() {
	setsid bash -c 'exec 9>"$1" || exit 1; while [ ! -e "$2" ]; do sleep 0.05; done; rm -f "$1"' \
		hold "$1" "$T.$(basename "$1").stop" &
	BG+=($!)
}
stop() { touch "$T.$1.stop"; }
held() { test -e "$1"; }
export -f held

# --- a semaphore: at most 2 locks held at once in /gpu ----------------------
mkdir -m 1777 "$N1/gpu"
check "no limit yet: getfattr says so" ENODATA python3 -c "
import errno, os
try: print(os.getxattr('$N1/gpu', 'user.lockfs.limit'))
except OSError as e: print(errno.errorcode[e.errno])"
check "its owner sets the limit" 0 bash -c "setfattr -n user.lockfs.limit -v 2 $N1/gpu; echo \$?"
check "every node sees it" 2 bash -c "getfattr --only-values -n user.lockfs.limit $N2/gpu"
check "and lists it" "user.lockfs.limit" bash -c "getfattr -d -m - $N3/gpu 2>/dev/null | sed -n 's/=.*//p'"
check "another user may not set it: EPERM" EPERM as_user lockfs-a python3 -c "
import errno, os
try: os.setxattr('$N2/gpu', 'user.lockfs.limit', b'9'); print('set')
except OSError as e: print(errno.errorcode[e.errno])"
check "a limit that is no number: EINVAL" EINVAL python3 -c "
import errno, os
try: os.setxattr('$N2/gpu', 'user.lockfs.limit', b'two'); print('set')
except OSError as e: print(errno.errorcode[e.errno])"
hold "$N1/gpu/job1"
wait_until 5 held "$N2/gpu/job1"
setsid flock "$N2/gpu/job2" bash -c "while [ ! -e $T.job2.stop ]; do sleep 0.05; done" &
BG+=($!)
expect "two slots taken, by a lease on n1 and a flock on n2" wait_until 5 held "$N3/gpu/job2"
check "a third touch, on n3: EAGAIN" EAGAIN in_session python3 "$TESTS_LIB/fsop.py" open "$N3/gpu/job3" wcn
check "a third flock -n: refused" 1 bash -c "flock -n $N3/gpu/job3b true; echo \$?"
check "ls shows who holds the slots" "job1 job2" bash -c "echo \$(ls $N3/gpu)"
# a waiter on n3, then another on n1: FIFO when slots come free
setsid bash -c "exec 9>$N3/gpu/job3 && echo granted >$T.w3 && while [ ! -e $T.job3.stop ]; do sleep 0.05; done; rm -f $N3/gpu/job3" &
BG+=($!)
sleep_until_queued() { [ "$(redis-cli -p "${LOCKFS_REDIS_URL##*:}" ZCARD "{$CLUSTER_PREFIX}:sq:gpu")" = "$1" ]; }
expect "the third waits, held back by the limit" wait_until 10 sleep_until_queued 1
setsid bash -c "exec 9>$N1/gpu/job4 && echo granted >$T.w4 && while [ ! -e $T.job4.stop ]; do sleep 0.05; done; rm -f $N1/gpu/job4" &
BG+=($!)
expect "a fourth waits behind it" wait_until 10 sleep_until_queued 2
expect "neither got a slot" test ! -e $T.w3 -a ! -e $T.w4
t0=$(date +%s%N)
stop job1
expect "a release on n1 gives the slot to the first waiter (n3)" wait_until 5 test -s $T.w3
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "woken by the release, not by a poll (${ms} ms)" test "$ms" -lt 900
expect "the fourth still waits" test ! -e $T.w4
stop job2
expect "the next slot goes to the fourth" wait_until 5 test -s $T.w4
check "two held again" "job3 job4" bash -c "echo \$(ls $N2/gpu)"
check "removing the limit" 0 bash -c "setfattr -x user.lockfs.limit $N1/gpu; echo \$?"
check "then a third is fine" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N2/gpu/job5" wcn
stop job3
stop job4


# --- deadlocks, across nodes --------------------------------------------------
mkdir -m 1777 "$N1/dl"
cat >$T.dl.py <<'EOP'
import errno, fcntl, os, sys, time
# kind first second ready go: take `first`, say so, wait for `go`, then ask
# for `second` (blocking) and print what came of it
kind, first, second, ready, go = sys.argv[1:6]
if kind == "lease":
    a = os.open(first, os.O_WRONLY | os.O_CREAT)
else:
    a = os.open(first, os.O_RDONLY | os.O_CREAT)
    fcntl.flock(a, fcntl.LOCK_EX)
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.02)
try:
    if kind == "lease":
        b = os.open(second, os.O_WRONLY | os.O_CREAT)
    else:
        b = os.open(second, os.O_RDONLY | os.O_CREAT)
        fcntl.flock(b, fcntl.LOCK_EX)
    print("granted", flush=True)
except OSError as e:
    print("EDEADLK" if e.errno == errno.EDEADLK else errno.errorcode[e.errno],
          flush=True)
time.sleep(0.5)
EOP
for kind in lease flock; do
	rm -f $T.r1 $T.r2 $T.go1 $T.go2
	setsid python3 $T.dl.py $kind "$N1/dl/$kind-x" "$N1/dl/$kind-y" $T.r1 $T.go1 >$T.o1 &
	p1=$!
	setsid python3 $T.dl.py $kind "$N2/dl/$kind-y" "$N2/dl/$kind-x" $T.r2 $T.go2 >$T.o2 &
	p2=$!
	wait_until 10 test -e $T.r1 -a -e $T.r2
	touch $T.go1 # the first waits for y, which the second holds
	yq() { [ "$(info_field "$N3/dl/$kind-y" waiters)" = 1 ]; }
	expect "$kind: one owner on n1 holds x and waits for y" wait_until 10 yq
	t0=$(date +%s%N)
	touch $T.go2 # the second, holding y, asks for x: a cycle
	wait $p2
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	check "$kind: the owner on n2 closing the cycle gets EDEADLK" EDEADLK cat $T.o2
	expect "$kind: ... at once (${ms} ms)" test "$ms" -lt 2000
	wait $p1
	check "$kind: and once it let go, the first got y" granted cat $T.o1
done


# --- onlost=: a holder hears that it lost its lock -------------------------
mkdir -m 1777 "$N1/ol"
# holder NAME CMDS [rm]: a lease on n1 in a session of its own, written
# CMDS (and then removed by itself), that records the signals it gets in
# $T.NAME.sig
holder() {
	setsid bash -c '
		trap "echo USR1 >>$2.sig" USR1
		trap "echo TERM >>$2.sig; exit 0" TERM
		exec 9>"$1" || exit 1
		printf "%b" "$3" >&9
		echo held >"$2.held"
		if [ "$4" = rm ]; then rm "$1" && echo >"$2.rmd"; fi
		for i in $(seq 1 100); do sleep 0.05; done' holder "$N1/ol/$1" "$T.$1" "$2" "${3:-}" &
	BG+=($!)
	wait_until 5 test -e "$T.$1.held"
}
holder a 'keepalive=off\nttl=1s\nonlost=USR1\n'
expect "a lease left to expire: its holder gets SIGUSR1" wait_until 5 grep -q USR1 $T.a.sig
holder b 'onlost=TERM\n'
check "broken by root: its holder gets SIGTERM" 0 bash -c "rm $N1/ol/b; echo \$?"
expect "... at once" wait_until 3 grep -q TERM $T.b.sig
holder c 'onlost=USR1\n' rm
expect "a lock its holder released itself" wait_until 5 test -e $T.c.rmd
sleep 1 # (what did not happen: no signal came within a second)
expect "brings no signal" test ! -e $T.c.sig
cat >$T.poll.py <<'EOP'
import os, select, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT)
os.write(fd, b"keepalive=off\nttl=1s\n")
p = select.poll()
p.register(fd, select.POLLPRI)  # only what a loss brings: poll() sleeps
first = p.poll(0)
print("before", "lost" if first else "held", flush=True)
ev = p.poll(5000)                # woken when the lease is lost
if ev and ev[0][1] & select.POLLPRI:
    print("after", "POLLPRI", "POLLERR" if ev[0][1] & select.POLLERR else "")
else:
    print("after", "nothing")
EOP
check "poll() on a held lease: nothing special" "before held" bash -c "setsid python3 $T.poll.py $N1/ol/p | head -1"
check "once it is lost: POLLPRI|POLLERR, waking the poll" "after POLLPRI POLLERR" bash -c "setsid python3 $T.poll.py $N1/ol/p2 | tail -1"
check "onlost=bogus written: EINVAL" EINVAL in_session python3 "$TESTS_LIB/fsop.py" write "$N2/ol/d" "onlost=bogus"
mkdir -p "$CLUSTER_DIR/n9"
expect "a bad onlost= mount option is refused" bash -c "! $LOCKFS_BIN -o onlost=SIGBOGUS,redis=$LOCKFS_REDIS_URL $CLUSTER_DIR/n9 >/dev/null 2>&1"

# --- the queue in sight -------------------------------------------------------
mkdir -m 1777 "$N1/q"
hold "$N1/q/x"
wait_until 5 held "$N2/q/x"
setsid bash -c "exec 9>$N2/q/x" &
BG+=($!)
p2=$!
waiters_are() { [ "$(info_field "$N3/q/x" waiters)" = "$1" ]; }
wait_until 10 waiters_are 1
as_user lockfs-a setsid bash -c "exec 9>$N3/q/x" 2>/dev/null &
BG+=($!)
expect "two queued" wait_until 10 waiters_are 2
check "listed in queue order: the first from n2, then n3" "n2 n3" bash -c "echo \$(sed -n 's/^waiter_node=//p' $N1/q/x)"
check "with the second's uid" "$(id -u lockfs-a)" bash -c "sed -n 's/^waiter_uid=//p' $N1/q/x | tail -1"
check "and a mode and a since for each" "2 2" bash -c "echo \$(grep -c '^waiter_mode=exclusive' $N1/q/x) \$(grep -c '^waiter_since=' $N1/q/x)"
kill -9 -- -"$p2" 2>/dev/null
expect "a waiter gone leaves the list" wait_until 10 waiters_are 1
check "the other one stays" n3 bash -c "sed -n 's/^waiter_node=//p' $N1/q/x"
stop x


# --- redis_replicas=1: a change is answered once a replica has it ----------
RM=$(servers_free_port 6500)
RR=$(servers_free_port $((RM + 1)))
mkdir -p $T.rm $T.rr
redis-server --port "$RM" --bind 127.0.0.1 --save '' --appendonly no --dir $T.rm \
	--daemonize yes --pidfile $T.rm/pid --logfile $T.rm/log
redis-server --port "$RR" --bind 127.0.0.1 --save '' --appendonly no --dir $T.rr \
	--daemonize yes --pidfile $T.rr/pid --logfile $T.rr/log --replicaof 127.0.0.1 "$RM"
link_up() { redis-cli -p "$RR" info replication | grep -q 'master_link_status:up'; }
expect "a private master with a replica" wait_until 20 link_up
saved_url=$LOCKFS_REDIS_URL
LOCKFS_REDIS_URL=redis://127.0.0.1:$RM
CLUSTER_OPTS=",redis_replicas=1,backend_timeout=2s"
CLUSTER_N=4
CLUSTER_NODES=4
cluster_node_start 4 || exit 1
N4=$CLUSTER_DIR/n4
mkdir -m 1777 "$N4/rr"
# asked by the holder itself, while its session (the lease's owner) lives:
# once the session ends the lease is released, and the key may be gone
check "a lock taken is on the replica when the open returns" 1 in_session bash -c \
	": > $N4/rr/a && redis-cli -p $RR EXISTS '{$CLUSTER_PREFIX}:l:rr/a'"
kill -STOP "$(cat $T.rr/pid)"
check "the replica frozen: a lock cannot be confirmed: EIO" EIO in_session python3 "$TESTS_LIB/fsop.py" open "$N4/rr/b" wcn
kill -CONT "$(cat $T.rr/pid)"
wait_until 10 link_up
not_held() { [ -z "$(redis-cli -p "$RM" GET "{$CLUSTER_PREFIX}:l:rr/b")" ]; }
expect "and the grant was undone" wait_until 10 not_held
check "with the replica back, locks work again" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N4/rr/c" wcn
cluster_node_stop 4
LOCKFS_REDIS_URL=$saved_url
redis-cli -p "$RR" shutdown nosave >/dev/null 2>&1
redis-cli -p "$RM" shutdown nosave >/dev/null 2>&1

finish
