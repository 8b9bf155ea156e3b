#!/usr/bin/env bash
# handles.sh - flock(1), flock(2), lockf(3) and fcntl(2) across nodes
# (the README): serialization, shared mode, -n and -w, kill -9
# of a holder, Python fcntl.lockf, subtree locks through D/.lock, leases and
# handle locks on one name, the read-only placeholder, F_GETLK.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 2
mkdir -p "$N1/h"
T=/tmp/handles.$$

# --- flock(1) serializes a command across two nodes ----------------------
(flock "$N1/h/job" -c "echo start1 >>$T.log; sleep 1; echo end1 >>$T.log") &
bg=$!
wait_until 5 test -e "$N2/h/job"
check "a held flock shows kind=handle" handle info_field "$N2/h/job" kind
flock "$N2/h/job" -c "echo start2 >>$T.log; echo end2 >>$T.log"
wait $bg
check "the second command ran after the first" "start1 end1 start2 end2" cat $T.log
expect "nothing is left behind after close" test ! -e "$N1/h/job"

# --- shared, -n, -w ---------------------------------------------------------
(flock -s "$N1/h/db" -c "sleep 1.5") &
bg=$!
wait_until 5 test -e "$N2/h/db"
check "-s shares with -s on another node" ok flock -s -n "$N2/h/db" -c "echo ok"
check "-n refuses an exclusive lock" 1 bash -c "flock -n $N2/h/db -c true; echo \$?"
check "-w 0.3 gives up" 1 bash -c "flock -w 0.3 $N2/h/db -c true; echo \$?"
check "-w 5 waits and gets it" ok flock -w 5 "$N2/h/db" -c "echo ok"
wait $bg

# --- kill -9 of a holder releases at once ----------------------------------
setsid flock "$N1/h/k" -c "sleep 60" &
hp=$!
wait_until 5 test -e "$N2/h/k"
# flock(1) runs its command in a child that shares the open file: kill the
# session, as a crash or an OOM kill of the job would
(sleep 0.5; kill -9 -- -$hp) &
bg=$!
t0=$(date +%s%N)
check "a waiter on n2 gets the lock when the holder is killed" ok timeout 10 flock "$N2/h/k" -c "echo ok"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "right after the kill (${ms} ms)" test "$ms" -lt 3000
wait $bg 2>/dev/null

# --- Python fcntl.lockf across nodes ----------------------------------------
cat >$T.py <<'EOP'
import fcntl, sys, time
f = open(sys.argv[1], "a")
mode = fcntl.LOCK_EX | (fcntl.LOCK_NB if sys.argv[2] == "nb" else 0)
try:
    fcntl.lockf(f, mode)
except OSError as e:
    print("busy", e.errno); sys.exit(0)
print("locked", flush=True)
time.sleep(float(sys.argv[3]))
EOP
setsid python3 $T.py "$N1/h/py" block 1.5 >$T.py1 &
bg=$!
wait_until 5 grep -q locked $T.py1
check "lockf on n1 holds" locked cat $T.py1
check "lockf LOCK_SH|LOCK_NB on n2: EAGAIN" "busy 11" setsid python3 -c "
import fcntl
f = open('$N2/h/py', 'r')
try:
    fcntl.lockf(f, fcntl.LOCK_SH | fcntl.LOCK_NB); print('locked')
except OSError as e:
    print('busy', e.errno)"
check "a blocking lockf on n2 waits for it" locked setsid python3 $T.py "$N2/h/py" block 0
wait $bg

# --- F_GETLK reports the holder ------------------------------------------------
setsid flock "$N1/h/g" -c "sleep 2" &
bg=$!
wait_until 5 test -e "$N2/h/g"
check "F_GETLK on n2 sees a write lock" F_WRLCK python3 -c "
import fcntl, os, struct
fd = os.open('$N2/h/g', os.O_RDONLY)
lk = struct.pack('hhqqi', fcntl.F_WRLCK, 0, 0, 0, 0)
r = struct.unpack('hhqqi', fcntl.fcntl(fd, fcntl.F_GETLK, lk))
print({fcntl.F_WRLCK: 'F_WRLCK', fcntl.F_RDLCK: 'F_RDLCK', fcntl.F_UNLCK: 'F_UNLCK'}[r[0]])"
wait $bg

# --- a subtree lock through D/.lock ------------------------------------------
mkdir -p "$N1/h/tree"
setsid flock "$N1/h/tree/.lock" -c "sleep 1.5" &
bg=$!
wait_until 5 test -e "$N2/h/tree/.lock"
check "flock on tree/.lock blocks a leaf below it" 1 bash -c "flock -n $N2/h/tree/leaf -c true; echo \$?"
check "and a lease below it" EAGAIN in_session python3 "$TESTS_LIB/fsop.py" open "$N2/h/tree/leaf" wcn
wait $bg
setsid flock -s "$N1/h/tree/.lock" -c "sleep 1.5" &
bg=$!
wait_until 5 test -e "$N2/h/tree/.lock"
check "shared tree/.lock coexists with a shared leaf" ok flock -s -n "$N2/h/tree/leaf" -c "echo ok"
check "but not with an exclusive one" 1 bash -c "flock -n $N2/h/tree/leaf -c true; echo \$?"
wait $bg

# --- leases and handle locks on one name --------------------------------------
# the lease lives as long as its session: keep that session for 2 s
setsid bash -c ": > $N1/h/mix; sleep 2" &
bg=$!
wait_until 5 test -e "$N2/h/mix"
check "a lease blocks flock -n on another node" 1 bash -c "flock -n $N2/h/mix -c true; echo \$?"
wait $bg
setsid flock "$N1/h/mix2" -c "sleep 1.5" &
bg=$!
wait_until 5 test -e "$N2/h/mix2"
check "a flock blocks touch on another node" EAGAIN in_session python3 "$TESTS_LIB/fsop.py" open "$N2/h/mix2" wcn
wait $bg
check "flock in the session that holds the lease takes it over" "ok gone" in_session bash -c "
  : > $N1/h/mine; flock -n $N1/h/mine -c 'echo ok'; test -e $N1/h/mine && echo held || echo gone"

# --- the placeholder ------------------------------------------------------------
check "flock(1) on an absent lock leaves nothing behind" "ok absent" bash -c "
  flock $N1/h/fresh -c 'echo ok'; test -e $N2/h/fresh && echo present || echo absent"


# --- writes through the holder's descriptor, in both views ---------------------
check "a lease fd turned flock writes its note (no ESTALE)" "wrote handle pid-note" bash -c "
  ( exec 9>$N1/h/wr; flock 9; echo pid-note >&9 && echo wrote
    info_field $N2/h/wr kind; info_field $N2/h/wr note )"
check "truncate through it renews, no ESTALE" OK bash -c "
  exec 9>$N1/h/wr2; flock 9; python3 -c 'import os; os.ftruncate(9, 0); print(\"OK\")'"
check "a flock holder opens its own lock for writing at once" "wrote-own own" timeout 5 flock "$N1/h/own" -c "
  echo own > $N1/h/own && echo wrote-own; sed -n 's/^note=//p' $N2/h/own"
check "lockf, then open(O_RDWR) of the same file in the same process" "ok n1" timeout 5 python3 -c "
import fcntl, os
a = open('$N1/h/own2', 'a'); fcntl.lockf(a, fcntl.LOCK_EX)
fd = os.open('$N1/h/own2', os.O_RDWR); os.write(fd, b'x')
print('ok', open('$N2/h/own2').read().split('node=')[1].split()[0])"

# --- OFD locks end with their open file description ------------------------------
cat >$T.ofd.py <<'EOP'
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack('hhqqi', fcntl.F_WRLCK, 0, 0, 0, 0))
print("locked", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
os.close(fd)
print("closed", flush=True)
time.sleep(30)
EOP
rm -f $T.ofdgo
setsid python3 $T.ofd.py "$N1/h/ofd" $T.ofdgo >$T.ofdout &
op=$!
expect "an OFD lock is held" wait_until 5 grep -q locked $T.ofdout
check "by a handle" handle info_field "$N2/h/ofd" kind
touch $T.ofdgo
expect "closing its descriptor releases it, the process living on" wait_until 5 test ! -e "$N2/h/ofd"
expect "(still alive)" kill -0 $op
kill $op; wait $op 2>/dev/null

# --- O_NONBLOCK set after open counts when a wait would begin --------------------
: >"$N2/h/nb"
setsid bash -c ": > $N2/h/nbheld; sleep 3" &
bg=$!
wait_until 5 test -e "$N1/h/nbheld"
check "fcntl(F_SETFL, O_NONBLOCK) after open: a lock-set write says EAGAIN" EAGAIN timeout 5 python3 -c "
import errno, fcntl, os
fd = os.open('$N1/.lockfs/acquire', os.O_WRONLY)
fcntl.fcntl(fd, fcntl.F_SETFL, os.O_NONBLOCK)
try:
    os.write(fd, b'h/nbheld\n'); print('granted')
except OSError as e:
    print(errno.errorcode[e.errno])"
kill $bg 2>/dev/null; wait $bg 2>/dev/null


# --- data copied into the mount fails before the original is removed -----
echo "precious data" >$T.small
check "mv of a file from another filesystem fails" 1 bash -c "setsid mv $T.small $N1/h/ 2>/dev/null; echo \$?"
check "and keeps the original" "precious data" cat $T.small
check "cp without preserving works as a note, exit 0" 0 bash -c "setsid cp $T.small $N1/h/cpd; echo \$?"

# --- the flock view: opens never lock ------------------------------------------
CLUSTER_OPTS=",open=flock"
CLUSTER_N=3
CLUSTER_NODES=3
cluster_node_start 3 || exit 1
N3=$CLUSTER_DIR/n3
users_setup
mkdir -m 1777 "$N1/fvs"
setsid bash -c "exec 9>$N1/h/fv; exec 8>$N1/fvs/fv; sleep 3" &
bg=$!
wait_until 5 test -e "$N3/fvs/fv"
# (each open timed by itself: a wait would last the holder's 3 s)
timed_open() { # PATH FLAGS: OK when os.open returns within half a second
	python3 -c "
import os, sys, time
t = time.monotonic()
os.close(os.open(sys.argv[1], eval(sys.argv[2])))
print('OK' if time.monotonic() - t < 0.5 else 'slow')" "$1" "$2"
}
export -f timed_open
check "open for writing of a held lock returns at once" OK timed_open "$N3/h/fv" os.O_WRONLY
check "O_RDWR|O_CREAT|O_TRUNC too" OK timed_open "$N3/h/fv" "os.O_RDWR | os.O_CREAT | os.O_TRUNC"
check "exec 9>FILE; flock -n 9 refuses at once" busy timeout 5 bash -c "exec 9>$N3/h/fv; flock -n 9 || echo busy"
check "a non-holder's write does not fail and leaves the lock as it was" "OK n1" bash -c "
  echo junk > $N3/h/fv && echo OK; info_field $N2/h/fv node"
check "nor its truncate" OK fsop truncate "$N3/h/fv"
check "the lease is untouched" "" info_field "$N2/h/fv" note
check "rm of a held lock by a non-holder: EPERM" EPERM as_user lockfs-a python3 "$TESTS_LIB/fsop.py" unlink "$N3/fvs/fv"
kill $bg; wait $bg 2>/dev/null
check "an absent file opened for writing is made on every node, nothing held" "OK present 0" bash -c "
  python3 $TESTS_LIB/fsop.py open $N3/h/ph wc; test -e $N1/h/ph && echo present || echo absent
  info_field $N1/h/ph holders"
check "the holder's echo \$\$ >&9 is the file's content" "n3 mypid" bash -c "
  exec 9>$N3/h/fv2; flock 9; echo mypid >&9
  info_field $N1/h/fv2 node; cat $N3/h/fv2"
check "rm of an open file nobody holds succeeds and leaves nothing" "OK absent" bash -c "
  exec 9>$N3/h/ph2; python3 $TESTS_LIB/fsop.py unlink $N3/h/ph2; test -e $N3/h/ph2 && echo present || echo absent"
check "a flock on the flock view blocks a lease on the lease view" EAGAIN timeout 5 bash -c "
  exec 9>$N3/h/fv3; flock 9; setsid python3 $TESTS_LIB/fsop.py open $N1/h/fv3 wcn"

rm -f $T*
finish
