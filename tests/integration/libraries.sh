#!/usr/bin/env bash
# libraries.sh - the lock libraries and tools users already have, driven as
# their documentation shows, holder on one node and contender on another,
# through the flock view (open=flock): util-linux flock(1) in every idiom,
# py-filelock, portalocker, fasteners (Debian's, for /usr/bin/python3) and
# Perl's flock.  Exclusion, refusal at once, timeouts on time, shared locks
# together, release on close, exit and kill -9, a prompt handoff, and a
# lease on a lease-view node against a flock on a flock-view one.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 2 "open=flock"
CLUSTER_OPTS=""
CLUSTER_N=3
CLUSTER_NODES=3
cluster_node_start 3 || exit 1
N3=$CLUSTER_DIR/n3 # a lease view of the same tree
PY=/usr/bin/python3
T=/tmp/libraries.$$
mkdir -p "$N1/c"

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; } # MS LOW HIGH

# hold NAME: flock(1) holds $N1/c/NAME in a session of its own until $T.go
hold() {
	rm -f $T.go
	setsid flock "$N1/c/$1" -c "while [ ! -e $T.go ]; do sleep 0.05; done" &
	HOLDER=$!
	wait_until 5 test -e "$N2/c/$1"
}
unhold() { touch $T.go; wait "$HOLDER" 2>/dev/null; }

# --- util-linux flock(1) --------------------------------------------------
hold f
t0=$(date +%s%N)
check "flock -n: refused at once (exit 1)" 1 bash -c "flock -n $N2/c/f true; echo \$?"
expect "... at once ($(ms_since $t0) ms)" test "$(ms_since $t0)" -lt 500
check "flock -E 42 -n: the conflict exit code" 42 bash -c "flock -E 42 -n $N2/c/f true; echo \$?"
t0=$(date +%s%N)
check "flock -w 1 gives up" 1 bash -c "flock -w 1 $N2/c/f true; echo \$?"
ms=$(ms_since $t0)
expect "... after about a second (${ms} ms)" between "$ms" 800 1500
t0=$(date +%s%N)
check "exec 9>FILE; flock -n 9: the redirection does not block" busy bash -c "exec 9>$N2/c/f; flock -n 9 || echo busy"
expect "... at once ($(ms_since $t0) ms)" test "$(ms_since $t0)" -lt 500
check "( flock -w 1 9 ) 9>FILE times out" 1 bash -c "( flock -w 1 9 ) 9>$N2/c/f; echo \$?"
(flock "$N2/c/f" -c "echo got >$T.f") &
bg=$!
one_waiter() { [ "$(info_field "$N1/c/f" waiters)" = 1 ]; }
expect "the flock FILE cmd on n2 waits" wait_until 5 one_waiter
t0=$(date +%s%N)
unhold
expect "a waiting flock FILE cmd gets it when the holder exits" wait_until 5 test -s $T.f
expect "... promptly ($(ms_since $t0) ms)" test "$(ms_since $t0)" -lt 1000
wait $bg

rm -f $T.log
( ( flock 9; echo start1 >>$T.log; sleep 0.5; echo end1 >>$T.log ) 9>"$N1/c/sub" ) &
bg=$!
wait_until 5 test -s $T.log
( flock 9; echo start2 >>$T.log; echo end2 >>$T.log ) 9>"$N2/c/sub"
wait $bg
check "( flock 9; ... ) 9>FILE serializes two nodes" "start1 end1 start2 end2" cat $T.log

setsid flock -s "$N1/c/sh" -c "sleep 2" &
bg=$!
wait_until 5 test -e "$N2/c/sh"
check "flock -s shares with -s on another node" ok flock -s -n "$N2/c/sh" -c "echo ok"
check "flock -x -n does not" 1 bash -c "flock -x -n $N2/c/sh true; echo \$?"
check "flock -o: the command does not hold the lock" ok flock -s -o "$N2/c/sh" -c "echo ok"
kill $bg 2>/dev/null; wait $bg 2>/dev/null
check "flock -u releases on an fd" "free" bash -c "
  exec 9>$N1/c/u; flock 9; flock -u 9
  flock -n $N2/c/u true && echo free || echo held"
check "flock -c runs under the lock, its holder named on the other node" n1 \
	flock "$N1/c/cmd" -c "info_field $N2/c/cmd node"

# --- py-filelock ----------------------------------------------------------
cat >$T.filelock.py <<'EOP'
import sys, time
from filelock import FileLock, Timeout
lock = FileLock(sys.argv[1], timeout=float(sys.argv[2]))
t0 = time.monotonic()
try:
    with lock:
        print("acquired", flush=True)
        time.sleep(float(sys.argv[3]))
except Timeout:
    print("timeout %d" % ((time.monotonic() - t0) * 1000))
EOP
setsid $PY $T.filelock.py "$N1/c/fl" 5 2 >$T.fl1 &
bg=$!
expect "py-filelock holds on n1" wait_until 5 grep -q acquired $T.fl1
out=$($PY $T.filelock.py "$N2/c/fl" 1 0)
expect "py-filelock timeout=1 on n2 raises Timeout ($out)" bash -c "[[ '$out' == timeout* ]]"
expect "... after about a second" between "${out#timeout }" 800 1500
out=$($PY $T.filelock.py "$N2/c/fl" 0 0)
expect "py-filelock timeout=0 raises at once ($out)" bash -c "[[ '$out' == timeout* ]] && [ ${out#timeout } -lt 500 ]"
check "py-filelock waits and gets it once n1 lets go" acquired $PY $T.filelock.py "$N2/c/fl" 10 0
wait $bg

# --- portalocker ----------------------------------------------------------
cat >$T.portalocker.py <<'EOP'
import sys, time
import portalocker
t0 = time.monotonic()
try:
    if sys.argv[2] == "nb":
        f = open(sys.argv[1], "a")
        portalocker.lock(f, portalocker.LOCK_EX | portalocker.LOCK_NB)
    else:
        f = portalocker.Lock(sys.argv[1], timeout=float(sys.argv[2])).acquire()
    print("acquired", flush=True)
    time.sleep(float(sys.argv[3]))
except portalocker.exceptions.LockException:
    print("locked %d" % ((time.monotonic() - t0) * 1000))
EOP
setsid $PY $T.portalocker.py "$N1/c/pl" 5 2 >$T.pl1 &
bg=$!
expect "portalocker holds on n1" wait_until 5 grep -q acquired $T.pl1
out=$($PY $T.portalocker.py "$N2/c/pl" nb 0)
expect "portalocker LOCK_NB on n2 raises at once ($out)" bash -c "[[ '$out' == locked* ]] && [ ${out#locked } -lt 500 ]"
out=$($PY $T.portalocker.py "$N2/c/pl" 1 0)
expect "portalocker Lock(timeout=1) raises ($out)" bash -c "[[ '$out' == locked* ]]"
expect "... after about a second" between "${out#locked }" 800 1600
check "portalocker gets it once n1 lets go" acquired $PY $T.portalocker.py "$N2/c/pl" 10 0
wait $bg

# --- fasteners ------------------------------------------------------------
cat >$T.fasteners.py <<'EOP'
import sys, time
import fasteners
lock = fasteners.InterProcessLock(sys.argv[1])
t0 = time.monotonic()
if sys.argv[2] == "nb":
    got = lock.acquire(blocking=False)
else:
    got = lock.acquire(timeout=float(sys.argv[2]))
print("%s %d" % (got, (time.monotonic() - t0) * 1000), flush=True)
if got:
    time.sleep(float(sys.argv[3]))
    lock.release()
EOP
setsid $PY $T.fasteners.py "$N1/c/fa" 5 2 >$T.fa1 &
bg=$!
expect "fasteners holds on n1" wait_until 5 grep -q True $T.fa1
out=$($PY $T.fasteners.py "$N2/c/fa" nb 0)
expect "fasteners acquire(blocking=False) on n2: False at once ($out)" bash -c "[[ '$out' == False* ]] && [ ${out#False } -lt 500 ]"
out=$($PY $T.fasteners.py "$N2/c/fa" 1 0)
expect "fasteners acquire(timeout=1): False ($out)" bash -c "[[ '$out' == False* ]]"
expect "... after about a second" between "${out#False }" 800 1600
out=$($PY $T.fasteners.py "$N2/c/fa" 10 0)
expect "fasteners gets it once n1 lets go ($out)" bash -c "[[ '$out' == True* ]]"
wait $bg

# --- Perl flock -------------------------------------------------------------
cat >$T.pl <<'EOP'
use Fcntl qw(:flock);
my ($path, $how, $hold) = @ARGV;
open(my $fh, ">>", $path) or die "open: $!";
my $ok = flock($fh, $how eq "nb" ? LOCK_EX | LOCK_NB : LOCK_EX);
if (!$ok) { print "busy ", ($!{EWOULDBLOCK} ? "EWOULDBLOCK" : "$!"), "\n"; exit 0; }
$| = 1;
print "locked\n";
{ my $old = select($fh); $| = 1; select($old); }
print $fh "perl pid $$\n";
sleep $hold;
close($fh);
EOP
setsid perl $T.pl "$N1/c/perl" block 2 >$T.perl1 &
bg=$!
expect "Perl flock holds on n1" wait_until 5 grep -q locked $T.perl1
check "its print to the handle is the note on n2" "perl pid $bg" info_field "$N2/c/perl" note
check "Perl LOCK_NB on n2: EWOULDBLOCK" "busy EWOULDBLOCK" perl $T.pl "$N2/c/perl" nb 0
check "Perl's blocking flock gets it once n1 closes" locked perl $T.pl "$N2/c/perl" block 0
wait $bg

# --- release on exit and on kill -9 of the holder's session ----------------
setsid $PY $T.filelock.py "$N1/c/kill" 5 60 >$T.k1 &
kp=$!
expect "a holder that will be killed" wait_until 5 grep -q acquired $T.k1
kill -9 -- -$kp
t0=$(date +%s%N)
check "the contender on n2 gets it after kill -9" acquired $PY $T.filelock.py "$N2/c/kill" 10 0
expect "... promptly ($(ms_since $t0) ms)" test "$(ms_since $t0)" -lt 3000
expect "and the lock is gone afterwards" wait_until 5 test ! -e "$N1/c/kill"

# --- plain fcntl.lockf: the open itself never waits ---------------------------
hold lk
t0=$(date +%s%N)
check "open(O_RDWR|O_CREAT) of a held lock returns, lockf LOCK_NB raises" EAGAIN $PY -c "
import errno, fcntl, os
fd = os.open('$N2/c/lk', os.O_RDWR | os.O_CREAT)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print('locked')
except OSError as e:
    print(errno.errorcode[e.errno])"
expect "... at once ($(ms_since $t0) ms)" test "$(ms_since $t0)" -lt 500
unhold

# --- the two views at once -------------------------------------------------
setsid bash -c "exec 9>$N3/c/mix; while [ ! -e $T.mixgo ]; do sleep 0.05; done" &
bg=$!
wait_until 5 test -e "$N1/c/mix"
check "a lease on the lease view blocks flock -n on the flock view" 1 bash -c "flock -n $N1/c/mix true; echo \$?"
touch $T.mixgo
wait $bg
hold mix2
check "a flock on the flock view makes touch on the lease view fail" 1 bash -c "setsid touch $N3/c/mix2 2>/dev/null; echo \$?"
unhold

rm -f $T.*
finish
