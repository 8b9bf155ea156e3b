#!/usr/bin/env bash
# examples.sh - every program in examples/ run against a two-node cluster
# and held to what its header promises: serialize-job.sh and flock-job.sh
# never let two runs overlap and skip (exit 75) when busy, and their locks
# end with the job; maintenance.sh waits for the jobs of its subtree, is not
# starved by new ones, and keeps them out while it runs; lockset.sh takes
# all of a set or nothing and never deadlocks; lockfs_lock.py times out,
# refuses when busy, and its fencing demo refuses a stale token; acquire.c
# builds with -Wall -Wextra -Werror, times out (124), renews its lease past
# the TTL, passes its command's status on and stops the command when the
# lock is lost (125); request_epoll.c, lockfs_request.py and
# queue-then-wait.sh queue first and get their locks later.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 2
EX=$REPO/examples
SJ=$EX/shell/serialize-job.sh
FJ=$EX/shell/flock-job.sh
MT=$EX/shell/maintenance.sh
LS=$EX/shell/lockset.sh
T=$CLUSTER_DIR/examples # removed with the cluster, whatever happens
mkdir "$T"
export EX SJ FJ MT LS T
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in examples/

# job LOG ID SECS: a job that logs its start and its end
cat >"$T/job" <<'EOS'
#!/bin/sh
echo "start $2" >>"$1"
sleep "$3"
echo "end $2" >>"$1"
EOS
chmod +x "$T/job"

# serial LOG: "ok N" when LOG holds N start/end pairs, none inside another
serial() {
	awk '$1 == "start" { if (cur != "") bad = 1; cur = $2; next }
	     $1 == "end" { if (cur != $2) bad = 1; cur = ""; n++; next }
	     { bad = 1 }
	     END { print (bad || cur != "") ? "overlap" : "ok " n }' "$1"
}

# spawn CMD...: CMD in a session of its own (a new owner), in the
# background, killed if it is still there after 30 s; wait_spawned waits
# for all of them (a bare `wait` would wait for the nodes' daemons too)
SPAWNED=()
spawn() {
	timeout -k 2 30 setsid -w "$@" 2>>"$T/spawned.err" &
	SPAWNED+=($!)
}
wait_spawned() {
	[ ${#SPAWNED[@]} -eq 0 ] || wait "${SPAWNED[@]}" 2>/dev/null
	SPAWNED=()
}

# rc CMD...: CMD's exit status, its output thrown away
rc() {
	"$@" >/dev/null 2>&1
	echo $?
}

# ms_since T0: milliseconds since T0 (date +%s%N)
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# field_is FILE KEY VALUE: the lock's info says KEY=VALUE (for wait_until)
field_is() { [ "$(info_field "$1" "$2")" = "$3" ]; }

# note_is FILE REGEX: the lock's note matches REGEX (for wait_until: the
# examples write their note just after the lock is granted)
note_is() { sed -n 's/^note=//p' "$1" 2>/dev/null | grep -q "$2"; }
export -f serial rc ms_since field_is note_is

mkdir -p "$N1/jobs" "$N1/db/orders.d" "$N1/other" "$N1/ls" "$N1/py" "$N1/c"

# --- serialize-job.sh: touch, : > and rm -----------------------------------
spawn "$SJ" "$N1/jobs/report" "$T/job" "$T/s1.log" A 1.5
holder=$!
expect "a run takes the lock (seen on n2)" wait_until 5 test -e "$N2/jobs/report"
expect "its note names the script" wait_until 5 note_is "$N2/jobs/report" "^serialize-job.sh, pid [0-9]*: $T/job"
check "a second run on n2 is busy: exit 75" 75 bash -c "setsid -w $SJ $N2/jobs/report $T/job $T/s1.log B 0 2>$T/s1.err; echo \$?"
check "and says who holds it" 1 grep -c 'busy: node n1: serialize-job.sh' "$T/s1.err"
wait $holder
check "the busy run did not run its job" "start A end A" cat "$T/s1.log"
expect "the lock is gone with the job" test ! -e "$N2/jobs/report"

for i in 1 2 3 4; do
	node=N$(((i % 2) + 1))
	spawn "$SJ" --wait "${!node}/jobs/nightly" "$T/job" "$T/s2.log" w$i 0.3
done
wait_spawned
check "four --wait runs on two nodes: each ran, none overlapped" "ok 4" serial "$T/s2.log"

timeout 30 cat "$N2/.lockfs/events" >"$T/s3.ev" &
ev=$!
# the reader's binding is in place once an event of ours comes through
: >"$N1/jobs/warm"
wait_until 5 grep -q ' acquired jobs/warm ' "$T/s3.ev"
rm "$N1/jobs/warm"
check "the job's exit status is the script's" 3 rc setsid -w "$SJ" "$N1/jobs/rel" sh -c 'exit 3'
check "--wait passes it on too" 4 rc setsid -w "$SJ" --wait "$N1/jobs/rel2" sh -c 'exit 4'
spawn bash -c ": > $N2/jobs/int; sleep 2"
h=$!
expect "(a holder on n2)" wait_until 5 test -e "$N1/jobs/int"
setsid "$SJ" --wait "$N1/jobs/int" "$T/job" "$T/s3.log" never 0 &
w=$!
expect "a --wait run waits (waiters=1)" wait_until 5 field_is "$N1/jobs/int" waiters 1
kill -TERM $w
wait $w
st=$?
expect "SIGTERM ends the wait: exit 143 or 75 (got $st)" test "$st" = 143 -o "$st" = 75
expect "its request is withdrawn (waiters=0)" wait_until 2 field_is "$N2/jobs/int" waiters 0
wait $h
expect "and its job never ran" test ! -e "$T/s3.log"
two_released() { [ "$(grep -c -E ' released jobs/rel2? ' "$T/s3.ev")" -ge 2 ]; }
wait_until 5 two_released
kill $ev 2>/dev/null
wait $ev 2>/dev/null
check "the trap released the lock with rm (a released event)" 2 grep -c -E ' released jobs/rel2? ' "$T/s3.ev"
check "not the session's end (no owner-exit event)" 0 grep -c -E ' owner-exit jobs/rel2? ' "$T/s3.ev"
check "a job under a missing namespace: exit 1" 1 rc setsid -w "$SJ" "$N1/nosuch/job" true

# --- flock-job.sh: flock -n and flock -w -----------------------------------
# handle locks belong to the open file: runs started from this one shell
# (one session) exclude each other
for i in 1 2 3 4; do
	node=N$(((i % 2) + 1))
	timeout 30 "$FJ" "${!node}/jobs/flock" "$T/job" "$T/f1.log" f$i 0.3 &
	SPAWNED+=($!)
done
wait_spawned
check "four runs from one shell on two nodes: none overlapped" "ok 4" serial "$T/f1.log"
expect "nothing is left behind (no placeholder, no lock)" \
	test ! -e "$N1/jobs/flock" -a ! -e "$N2/jobs/flock"
timeout 30 "$FJ" "$N1/jobs/flock" "$T/job" "$T/f2.log" A 2 &
holder=$!
expect "(a run holds it)" wait_until 5 field_is "$N2/jobs/flock" kind handle
check "flock -n on n2 while held: exit 75" 75 rc "$FJ" -n "$N2/jobs/flock" "$T/job" "$T/f2.log" B 0
t0=$(date +%s%N)
check "flock -w 0.5 while held: exit 75" 75 rc "$FJ" -w 0.5 "$N2/jobs/flock" "$T/job" "$T/f2.log" C 0
ms=$(ms_since "$t0")
expect "after about half a second ($ms ms)" test "$ms" -ge 400 -a "$ms" -lt 3000
check "flock -w 10 waits and runs" 0 rc "$FJ" -w 10 "$N2/jobs/flock" "$T/job" "$T/f2.log" D 0
wait $holder
check "only the runs that got the lock ran, in turn" "start A end A start D end D" cat "$T/f2.log"
# (in a subshell of its own, which reaps it quietly)
(
	setsid "$FJ" "$N1/jobs/kill" sleep 30 &
	echo $! >"$T/kill.pid"
	wait
) 2>/dev/null &
hp=$!
expect "(a run holds jobs/kill)" wait_until 5 test -e "$N2/jobs/kill"
kill -9 -- -"$(cat "$T/kill.pid")" # its session: flock and the job
t0=$(date +%s%N)
check "kill -9 of a run: flock -w 5 on n2 gets the lock" 0 rc "$FJ" -w 5 "$N2/jobs/kill" true
ms=$(ms_since "$t0")
expect "at once ($ms ms)" test "$ms" -lt 2000
wait $hp 2>/dev/null

# --- maintenance.sh: the namespace's .lock --------------------------------
spawn "$SJ" --wait "$N1/db/orders" "$T/job" "$T/m1.log" job1 1.5
expect "(a job runs under db/)" wait_until 5 test -e "$N2/db/orders"
spawn "$MT" "$N2/db" "$T/job" "$T/m1.log" maint 2
# (a waiting db/.lock is a waiter of node db, not of db/orders: the
# waiters= of db/orders stays 0; the waiting node's status counts it)
expect "maintenance waits for it (n2: waits_pending=1)" wait_until 5 grep -q '^waits_pending=1' "$N2/.lockfs/status"
check "maintenance -n meanwhile: busy, exit 75" 75 rc setsid -w "$MT" -n "$N1/db" true
check "a new job under db/ queues behind the waiting maintenance" 75 rc setsid -w "$SJ" "$N1/db/customers" true
check "a job outside db/ is not held back" 0 rc setsid -w "$SJ" "$N1/other/x" true
expect "(maintenance holds db/)" wait_until 5 test -e "$N1/db/.lock"
expect "its note names it" wait_until 5 note_is "$N1/db/.lock" "^maintenance.sh, pid [0-9]*, by "
check "while it runs, a job under db/ is refused" 75 rc setsid -w "$SJ" "$N1/db/customers" true
check "so is one deeper down" 75 rc setsid -w "$SJ" "$N1/db/orders.d/1" true
check "and flock -n on one" 75 rc "$FJ" -n "$N1/db/customers" true
spawn "$SJ" --wait "$N1/db/customers" "$T/job" "$T/m1.log" job2 0
expect "a --wait job under db/ waits for it (n1: waits_pending=1)" wait_until 5 grep -q '^waits_pending=1' "$N1/.lockfs/status"
wait_spawned
check "the jobs ran before and after the maintenance, never during" \
	"start job1 end job1 start maint end maint start job2 end job2" cat "$T/m1.log"
expect "the subtree is free again" test ! -e "$N1/db/.lock"
check "maintenance passes its command's status on" 5 rc setsid -w "$MT" "$N1/db" sh -c 'exit 5'
# all on one node: the waiting job's create and the maintenance's rm meet
# in one directory of one mount
spawn "$MT" "$N1/db" "$T/job" "$T/m2.log" maint 1
expect "(maintenance on n1 holds db/)" wait_until 5 test -e "$N1/db/.lock"
t0=$(date +%s%N)
spawn "$SJ" --wait "$N1/db/customers" "$T/job" "$T/m2.log" job3 0
expect "(a --wait job under db/ on n1 waits: waits_pending=1)" wait_until 5 grep -q '^waits_pending=1' "$N1/.lockfs/status"
wait_spawned
ms=$(ms_since "$t0")
check "a job waiting on the maintenance's node runs after it" \
	"start maint end maint start job3 end job3" cat "$T/m2.log"
expect "as soon as it ends ($ms ms)" test "$ms" -lt 5000

# --- lockset.sh: /.lockfs/acquire -------------------------------------------
mkdir -p "$N1/cfg"
check "a set is taken, all of it, shared member shared" "n1 n1 n1 shared" \
	setsid -w "$LS" "$N1" ls/a ls/b shared:cfg/.lock -- sh -c "
	for f in ls/a ls/b cfg/.lock; do sed -n 's/^node=//p' $N2/\$f; done
	sed -n 's/^mode=//p' $N2/cfg/.lock"
expect "and released after the command" \
	test ! -e "$N2/ls/a" -a ! -e "$N2/ls/b" -a ! -e "$N2/cfg/.lock"
spawn bash -c ": > $N2/ls/b; sleep 2"
expect "(another owner holds ls/b)" wait_until 5 test -e "$N1/ls/b"
check "-n with a busy member: exit 75" 75 rc setsid -w "$LS" -n "$N1" ls/a ls/b -- true
expect "and it took nothing" test ! -e "$N1/ls/a"
spawn "$LS" "$N1" ls/a ls/b -- "$T/job" "$T/l1.log" set 0
expect "a blocking set waits (waits_pending=1)" wait_until 5 grep -q '^waits_pending=1' "$N1/.lockfs/status"
expect "holding nothing meanwhile" test ! -e "$N1/ls/a"
wait_spawned
check "it ran once the member was free" "start set end set" cat "$T/l1.log"
expect "and released the whole set" test ! -e "$N2/ls/a" -a ! -e "$N2/ls/b"
for i in 1 2 3 4 5; do
	spawn "$LS" "$N1" ls/x ls/y -- "$T/job" "$T/l2.log" xy$i 0.1
	spawn "$LS" "$N2" ls/y ls/x -- "$T/job" "$T/l2.log" yx$i 0.1
done
wait_spawned
check "ten sets in opposite orders on two nodes: no deadlock, no overlap" "ok 10" serial "$T/l2.log"
check "the same lock twice is refused: exit 1" 1 rc setsid -w "$LS" "$N1" ls/a ls/a -- true
check "a set with a missing namespace: exit 1" 1 rc setsid -w "$LS" "$N1" ls/a nosuch/b -- true
expect "and took nothing" test ! -e "$N1/ls/a"

# --- lockfs_lock.py: the context manager and fencing ------------------------
PY=$EX/python/lockfs_lock.py
export PY
check "the fencing demo exits 0" 0 rc python3 "$PY" "$N1/py/fence" "$T/resource"
python3 "$PY" "$N1/py/fence2" "$T/resource2" >"$T/p1.out" 2>&1
check "A's write with its old token is refused" 1 grep -c '^resource: refused token' "$T/p1.out"
check "A's release meets ESTALE" 1 grep -c '^A: release: ESTALE' "$T/p1.out"
check "B waited for A's lease to run out" 1 grep -c '^B: busy, held by node n1' "$T/p1.out"
check "the resource kept only A's first write and B's" "written by A written by B" \
	bash -c "cut -d' ' -f2- $T/resource2"
check "B's token is greater than A's" 1 bash -c "awk 'NR==1{a=\$1} NR==2{print (\$1 > a) ? 1 : 0}' $T/resource2"
check "a demo without a namespace fails" 1 bash -c "python3 $PY $N1/nosuch/x >/dev/null 2>&1; test \$? -ne 0 && echo 1"
spawn bash -c ": > $N2/py/held; sleep 3"
expect "(another owner holds py/held)" wait_until 5 test -e "$N1/py/held"
check "blocking=False on a held lock raises LockBusy" LockBusy python3 -c "
import sys; sys.path.insert(0, '$EX/python')
from lockfs_lock import Lock, LockBusy
try:
    Lock('$N1/py/held', blocking=False).acquire(); print('acquired')
except LockBusy:
    print('LockBusy')"
t0=$(date +%s%N)
check "timeout=0.5 on a held lock raises LockTimeout" LockTimeout python3 -c "
import sys; sys.path.insert(0, '$EX/python')
from lockfs_lock import Lock, LockTimeout
try:
    Lock('$N1/py/held', timeout=0.5).acquire(); print('acquired')
except LockTimeout:
    print('LockTimeout')"
ms=$(ms_since "$t0")
expect "after about half a second ($ms ms)" test "$ms" -ge 400 -a "$ms" -lt 3000
check "the timed-out request was withdrawn (waiters=0)" 0 info_field "$N2/py/held" waiters
# The race every alarm-bounded call has: the alarm rings in the instant
# before open() enters the kernel, its handler runs there, and the call
# would then wait on.  Made to happen here: the first ring is taken
# (sigtimedwait) just before the real open().  The next ring must end it.
check "a first alarm lost just before open(): LockTimeout all the same" LockTimeout python3 -c "
import os, signal, sys; sys.path.insert(0, '$EX/python')
from lockfs_lock import Lock, LockTimeout
real_open = os.open
def late_open(path, flags, mode=0o777):
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
    signal.sigtimedwait([signal.SIGALRM], 5)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGALRM])
    return real_open(path, flags, mode)
os.open = late_open
try:
    Lock('$N1/py/held', timeout=0.2).acquire(); print('acquired')
except LockTimeout:
    print('LockTimeout')"
expect "... and withdrawn (waiters=0)" wait_until 2 field_is "$N2/py/held" waiters 0
check "timeout=10 waits and gets it; token = xattr = info" "n1 same same" setsid -w python3 -c "
import os, sys; sys.path.insert(0, '$EX/python')
from lockfs_lock import Lock, read_info
with Lock('$N1/py/held', timeout=10) as lock:
    print(read_info('$N2/py/held')['node'])
    print('same' if lock.token == int(os.getxattr('$N2/py/held', 'user.lockfs.token')) else 'xattr differs')
    print('same' if lock.token == int(read_info('$N2/py/held')['token']) else 'info differs')"
expect "the context manager released it" test ! -e "$N2/py/held"
wait_spawned
check "renew() of a broken lock raises LockLost" LockLost setsid -w python3 -c "
import subprocess, sys; sys.path.insert(0, '$EX/python')
from lockfs_lock import Lock, LockLost
lock = Lock('$N1/py/broken').acquire()
subprocess.run(['setsid', '-w', 'rm', '$N2/py/broken'], check=True)
try:
    lock.renew(); print('renewed')
except LockLost:
    print('LockLost')"

# --- acquire.c: alarm(), renewals, unlink -------------------------------------
AQ=$T/acquire
export AQ
check "acquire.c builds with -Wall -Wextra -Werror" 0 rc cc -Wall -Wextra -Werror -o "$AQ" "$EX/c/acquire.c"
spawn bash -c ": > $N1/c/x; sleep 4"
expect "(another owner holds c/x)" wait_until 5 test -e "$N2/c/x"
t0=$(date +%s%N)
check "-t 1 on a held lock: not granted, exit 124" 124 rc setsid -w "$AQ" -t 1 "$N2/c/x" true
ms=$(ms_since "$t0")
expect "after about a second ($ms ms)" test "$ms" -ge 900 -a "$ms" -lt 3000
check "the alarm withdrew the request (waiters=0)" 0 info_field "$N1/c/x" waiters
check "-t 0 on a held lock: exit 124 at once" 124 rc setsid -w "$AQ" -t 0 "$N2/c/x" true
setsid "$AQ" "$N2/c/x" true 2>/dev/null &
ap=$!
expect "(acquire waits: waiters=1)" wait_until 5 field_is "$N1/c/x" waiters 1
kill -TERM $ap
wait $ap
check "SIGTERM ends its wait: exit 143" 143 echo $?
expect "and withdraws the request (waiters=0)" wait_until 2 field_is "$N1/c/x" waiters 0
check "-t 10 waits for the holder, then runs" "ran 0" bash -c "setsid -w $AQ -t 10 $N2/c/x echo ran; echo \$?"
wait_spawned
check "a lease of -l 1 outlives 2 s of its command: renewed, same token" \
	"ttl=1s keepalive=off same" setsid -w "$AQ" -l 1 "$N2/c/r" sh -c "
	t=\$(sed -n 's/^token=//p' $N1/c/r)
	sleep 2
	sed -n -e '/^keepalive=/p' -e '/^ttl=/p' $N1/c/r
	test \"\$(sed -n 's/^token=//p' $N1/c/r)\" = \"\$t\" && echo same"
expect "released by unlink when the command ends" test ! -e "$N1/c/r"
check "the command's exit status is acquire's" 7 rc setsid -w "$AQ" "$N2/c/s" sh -c 'exit 7'
setsid "$AQ" -l 1 "$N2/c/lost" "$T/job" "$T/c1.log" lost 5 2>"$T/c1.err" &
ap=$!
expect "(acquire holds c/lost)" wait_until 5 test -e "$N1/c/lost"
rm "$N1/c/lost" # root, another owner: a break
wait $ap
check "a lock lost while held: exit 125" 125 echo $?
check "and says so" 1 grep -c 'lost the lock' "$T/c1.err"
check "and the command was stopped" "start lost" cat "$T/c1.log"
setsid "$AQ" "$N2/c/hold" &
ap=$!
expect "without a command it holds the lock" wait_until 5 test -e "$N1/c/hold"
kill -TERM $ap
wait $ap
check "until SIGTERM: exit 0" 0 echo $?
expect "and releases it" test ! -e "$N1/c/hold"

# The race of every signal-bounded wait, made to happen: the signal lands
# just before open() enters the kernel and is handled there
# (tests/lib/lost_signal.c).  acquire must end its wait all the same.
LS=$T/lost_signal.so
check "(the lost-signal shim builds)" 0 rc cc -Wall -Wextra -Werror -shared -fPIC -o "$LS" "$TESTS_LIB/lost_signal.c" -ldl
spawn bash -c ": > $N1/c/y; sleep 8"
expect "(another owner holds c/y)" wait_until 5 test -e "$N2/c/y"
check "-t 1 whose alarm is lost just before open(): exit 124 all the same" 124 rc \
	env LD_PRELOAD="$LS" LOST_SIGNAL_PATH=/c/y setsid -w "$AQ" -t 1 "$N2/c/y" true
rm -f "$T/ready"
LD_PRELOAD="$LS" LOST_SIGNAL_PATH=/c/y LOST_SIGNAL_READY="$T/ready" setsid "$AQ" "$N2/c/y" 2>/dev/null &
ap=$!
expect "(acquire is about to open c/y)" wait_until 5 test -e "$T/ready"
kill -TERM $ap
wait $ap
check "a SIGTERM lost just before open(): the wait ends all the same, exit 143" 143 echo $?
expect "... and nothing is left waiting (waiters=0)" wait_until 3 field_is "$N1/c/y" waiters 0
expect "(c/y is still its first holder's)" test "$(info_field "$N1/c/y" node)" = n1
wait_spawned

# --- request handles: request_epoll.c, lockfs_request.py, queue-then-wait.sh
mkdir -m 1777 "$N1/rq"
RE=$T/request_epoll
check "request_epoll.c builds with -Wall -Wextra -Werror" 0 rc cc -Wall -Wextra -Werror -o "$RE" "$EX/c/request_epoll.c"
setsid bash -c ": > $N1/rq/busy; while [ ! -e $T/rq.go ]; do sleep 0.05; done; rm -f $N1/rq/busy" &
rh=$!
wait_until 5 test -e "$N2/rq/busy"
setsid "$RE" "$N2" rq/a rq/busy rq/b >"$T/rq.out" 2>&1 &
rp=$!
expect "request_epoll queues all three at once" wait_until 5 grep -q "^queued 3 requests" "$T/rq.out"
expect "... and the two free ones come first" wait_until 5 test "$(grep -c '^granted' "$T/rq.out")" = 2
check "... while the busy one still waits" 1 info_field "$N1/rq/busy" waiters
touch "$T/rq.go"
wait $rh
wait $rp
check "request_epoll gets the busy one once released, exit 0" 0 echo $?
check "... three grants printed" 3 grep -c '^granted rq/' "$T/rq.out"
check "... and it removed its locks" "" bash -c "ls $N1/rq"
check "lockfs_request.py waits for 200 locks in one thread" "granted 200 locks" bash -c \
	"cd $T && setsid -w python3 $EX/python/lockfs_request.py $N2 rq 200 | sed 's/ in .*//'"
check "... and releases them" "" bash -c "ls $N1/rq"
setsid bash -c ": > $N1/rq/w; while [ ! -e $T/rqw.go ]; do sleep 0.05; done; rm -f $N1/rq/w" &
rh=$!
wait_until 5 test -e "$N2/rq/w"
cat >"$T/rq_async.py" <<EOP
import asyncio, sys, time
sys.path.insert(0, '$EX/python')
import lockfs_request as lr
def waiters():
    return open('$N1/rq/w').read().split('waiters=')[1].split()[0]
async def main():
    async with lr.lock('$N2', 'rq/x') as tokens:
        try:  # rq/w is another owner's: the timeout withdraws the wait
            await asyncio.wait_for(lr.acquire('$N2', 'rq/w'), 0.5)
            t = 'granted'
        except asyncio.TimeoutError:
            t = 'timeout'
        for _ in range(100):
            if waiters() == '0':
                break
            time.sleep(0.02)
        print('tokens', len(tokens), t, waiters())
asyncio.run(main())
EOP
check "lockfs_request.lock(): async with, a timeout withdraws" "tokens 1 timeout 0" \
	setsid -w python3 "$T/rq_async.py"
check "... and leaving it released rq/x" "" bash -c "ls $N1/rq | grep -x x"
touch "$T/rqw.go"
wait $rh
check "queue-then-wait.sh queues, waits and releases" "granted rq/q=" bash -c \
	"setsid -w $EX/shell/queue-then-wait.sh $N2 rq/q | grep '^granted' | sed 's/[0-9]*\$//'"
check "... a bad name fails at once" 1 rc setsid -w "$EX/shell/queue-then-wait.sh" "$N2" "rq//bad"

finish
