#!/usr/bin/env bash
# clients.sh - the real locking clients on open=flock mounts (the flock
# view, where opens never lock and only flock(2)/fcntl(2)/lockf(3) do):
# util-linux flock(1) in every idiom, py-filelock, portalocker, fasteners,
# Perl's flock and Python's fcntl.lockf, each used as its documentation
# shows it, with the holder on node n1 and the contender on node n2, each in
# a session of its own; release on close, on exit and on kill -9; and a
# lease-view node n3 whose leases conflict with the handle locks.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 2 "open=flock"
PY=/usr/bin/python3 # Debian's python3-* modules belong to the system Python
T=/tmp/clients.$$
mkdir -p "$T"
export T
clients_cleanup() {
	local f
	end_all
	if [ "$T_FAIL" -ne 0 ]; then
		for f in "$T"/*.err; do
			[ -s "$f" ] && { echo "--- $f"; tail -5 "$f"; }
		done
	fi
	rm -rf "$T"
	cluster_cleanup
}
trap clients_cleanup EXIT


# conditions, for wait_until and expect (re-evaluated on every call)
said() { grep -q "^$2" "$T/$1.out" 2>/dev/null; } # NAME WORD: a line of NAME's
held() { [ "$(xinfo_field "$1" kind)" = handle ]; } # a handle lock holds it
# nobody holds it (a lock file made in the flock view stays, as on a disk:
# lockfiles.sh; a lease view's lock file goes with its lease)
free() { [ ! -e "$1" ] || [ "$(xinfo_field "$1" holders)" = 0 ]; }
queued() { [ "$(xinfo_field "$1" waiters)" -ge 1 ] 2>/dev/null; }
not() { ! "$@"; }
export -f said held free queued

# timed CMD...: CMD bounded (20 s) in a session of its own; OUT is its
# output (lines joined by spaces), RC its exit code, MS its run time in ms,
# END when it ended (ns)
timed() {
	local t0
	t0=$(date +%s%N)
	OUT=$(timeout -k 2 20 setsid -w "$@" 2>/dev/null)
	RC=$?
	END=$(date +%s%N)
	MS=$(((END - t0) / 1000000))
	OUT=$(printf '%s' "$OUT" | tr '\n' ' ' | sed 's/ *$//')
}
# is WORD LO HI: OUT is "WORD MS ..." with LO <= MS <= HI
is() {
	local a
	read -ra a <<<"$OUT"
	[ "${a[0]:-}" = "$1" ] && [ "${a[1]:-x}" -ge "$2" ] 2>/dev/null &&
		[ "${a[1]}" -le "$3" ]
}

# release_case DESC INFO RELEASE...: the contender "${CONTEND[@]}" (it prints
# "got" once it has the lock) waits for the lock whose info file is INFO;
# once it shows in waiters=, RELEASE ends the hold; the contender must get
# the lock after that, and within 3 s of it
release_case() {
	local desc=$1 info=$2 bg ms q=no rel
	shift 2
	rm -f "$T/contend"
	(
		timed "${CONTEND[@]}"
		printf '%s\n%s\n%s\n' "$RC" "$END" "$OUT" >"$T/contend"
	) &
	bg=$!
	wait_until 10 queued "$info" && q=yes
	rel=$(date +%s%N)
	"$@"
	wait "$bg"
	RC=x END=0 OUT=""
	{ read -r RC; read -r END; read -r OUT; } <"$T/contend"
	ms=$(((END - rel) / 1000000))
	expect "$desc: the contender was queued (waiters=)" test "$q" = yes
	expect "$desc: the contender gets it (${OUT:-nothing}, exit $RC, $ms ms after the release)" \
		test "$OUT" = got -a "$ms" -ge 0 -a "$ms" -lt 3000
}

# --- the client programs (what a holder writes is the file's content,
# read back on every node; lockfiles.sh tests the files themselves) --------------------------------------------------
cat >"$T/lk.py" <<'EOF'
"""lk.py LIB ACT PATH [GO]: one locking library used as its documentation
shows.  ACT hold: take the lock (waiting as the library does), print
"locked", wait until the file GO exists, release through the library, print
"released", stay alive until killed.  Other ACTs: one contended attempt,
printing the outcome and the milliseconds the library call took."""
import errno
import os
import sys
import time

lib, act, path = sys.argv[1:4]
go = sys.argv[4] if len(sys.argv) > 4 else None
t0 = time.monotonic()


def say(*words):
    print(*words, flush=True)


def wait_go(name=None):
    name = name or go
    while not os.path.exists(name):
        time.sleep(0.02)


def stay():
    say("released")
    time.sleep(60)


def clock():
    global t0
    t0 = time.monotonic()


def ms():
    return int((time.monotonic() - t0) * 1000)


if lib == "filelock":
    from filelock import FileLock, Timeout
    if act == "hold":
        lock = FileLock(path)
        with lock:
            say("locked", time.time_ns())
            wait_go()
        stay()
    clock()
    try:
        if act == "timeout":
            lock = FileLock(path, timeout=1)
            with lock:
                say("locked", ms())
        elif act == "nonblocking":
            lock = FileLock(path)
            lock.acquire(blocking=False)
            say("locked", ms())
        elif act == "zero":
            with FileLock(path, timeout=0):
                say("locked", ms())
    except Timeout:
        say("Timeout", ms())

elif lib == "portalocker":
    import portalocker
    if act == "hold":
        with portalocker.Lock(path, timeout=30) as fh:
            print("portalocker pid", os.getpid(), file=fh)
            fh.flush()
            say("locked", time.time_ns())
            wait_go()
        stay()
    clock()
    try:
        if act == "timeout":
            with portalocker.Lock(path, timeout=1, fail_when_locked=False):
                say("locked", ms())
        elif act == "fail":
            with portalocker.Lock(path, timeout=1, fail_when_locked=True):
                say("locked", ms())
        elif act == "nonblocking":
            with open(path, "a") as f:
                portalocker.lock(f, portalocker.LOCK_EX | portalocker.LOCK_NB)
                say("locked", ms())
    except portalocker.exceptions.AlreadyLocked:
        say("AlreadyLocked", ms())
    except portalocker.exceptions.LockException:
        say("LockException", ms())

elif lib == "fasteners":
    import fasteners
    lock = fasteners.InterProcessLock(path)
    if act == "hold":
        if lock.acquire():
            say("locked", time.time_ns())
            wait_go()
            lock.release()
            stay()
        say("failed")
    clock()
    if act == "nonblocking":
        say(lock.acquire(blocking=False), ms())
    elif act == "timeout":
        say(lock.acquire(timeout=1), ms())

elif lib == "fasteners-rw":
    import fasteners
    rw = fasteners.InterProcessReaderWriterLock(path)
    if act == "hold-read":
        if rw.acquire_read_lock():
            say("locked", time.time_ns())
            wait_go()
            rw.release_read_lock()
            stay()
        say("failed")
    clock()
    if act == "write":
        say(rw.acquire_write_lock(blocking=False), ms())

elif lib == "flock":
    import fcntl
    if act == "hold-close":
        f = open(path, "a")
        fcntl.flock(f, fcntl.LOCK_EX)
        say("locked", time.time_ns())
        wait_go()
        f.close()
        say("closed")
        time.sleep(60)

elif lib == "lockf":
    import fcntl
    if act == "hold":
        f = open(path, "a")
        fcntl.lockf(f, fcntl.LOCK_EX)
        say("locked", time.time_ns())
        wait_go()
        fcntl.lockf(f, fcntl.LOCK_UN)
        stay()
    if act == "fresh":
        fd = os.open(path, os.O_RDWR | os.O_CREAT)
        say("opened")
        wait_go()
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        say("locked", time.time_ns())
        wait_go(go + ".2")
        os.close(fd)
        say("closed")
        time.sleep(60)
    clock()
    if act == "append":
        fd = open(path, "a")
    elif act == "osopen":
        fd = os.open(path, os.O_RDWR | os.O_CREAT)
    opened = ms()
    clock()
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        say("locked", opened, ms())
    except BlockingIOError as e:
        say("BlockingIOError", errno.errorcode[e.errno], opened, ms())
    except OSError as e:
        say(type(e).__name__, errno.errorcode.get(e.errno), opened, ms())
EOF

cat >"$T/lk.pl" <<'EOF'
# lk.pl try|hold|block PATH [GO]: Perl's flock as perlfunc shows it.
# try: LOCK_EX|LOCK_NB once; hold/block: LOCK_EX (waiting), leave a note
# with print $fh, print "locked PID", wait for the file GO; then hold
# unlocks (LOCK_UN) and stays alive, block exits.
use strict;
use warnings;
use Fcntl qw(:flock SEEK_END);
use IO::Handle;

my ($act, $path, $go) = @ARGV;
STDOUT->autoflush(1);
open(my $fh, ">>", $path) or die "Can't open $path: $!";
if ($act eq "try") {
	if (flock($fh, LOCK_EX | LOCK_NB)) { print "locked\n" }
	elsif ($!{EWOULDBLOCK}) { print "EWOULDBLOCK\n" }
	else { print "error $!\n" }
	exit 0;
}
flock($fh, LOCK_EX) or die "Cannot lock $path - $!\n";
seek($fh, 0, SEEK_END) or die "Cannot seek - $!\n";
print $fh "pid $$\n";
$fh->flush or die "Cannot write - $!\n";
print "locked $$\n";
select(undef, undef, undef, 0.02) until -e $go;
exit 0 if $act eq "block";
flock($fh, LOCK_UN) or die "Cannot unlock - $!\n";
print "released\n";
sleep 60;
EOF

mkdir -p "$N1/c"
expect "the namespace made on n1 shows on n2" wait_until 3 test -d "$N2/c"

# --- 1. util-linux flock(1) --------------------------------------------------
# `flock FILE cmd` holds on n1; n2 tries the other idioms against it
spawn f1 flock "$N1/c/f" sleep 60
h=$SID
expect "flock FILE cmd on n1 holds the lock" wait_until 5 held "$N2/c/f"
check "cat on n2: node, kind, holders, mode" "n1 handle 1 exclusive" bash -c \
	"for k in node kind holders mode; do xinfo_field $N2/c/f \$k; done"
timed flock -n "$N2/c/f" true
expect "flock -n on n2 is refused at once (exit $RC, $MS ms)" test "$RC" = 1 -a "$MS" -lt 500
timed flock -w 1 "$N2/c/f" true
expect "flock -w 1 on n2 gives up after about 1 s (exit $RC, $MS ms)" \
	test "$RC" = 1 -a "$MS" -ge 800 -a "$MS" -le 1500
timed flock -n -E 42 "$N2/c/f" true
expect "flock -n -E 42: the conflict exit code (exit $RC, $MS ms)" test "$RC" = 42 -a "$MS" -lt 500
timed flock -x -n "$N2/c/f" true
expect "flock -x -n on n2 is refused (exit $RC, $MS ms)" test "$RC" = 1 -a "$MS" -lt 500
timed bash -c "exec 9>$N2/c/f; flock -n 9 || echo busy"
expect "exec 9>FILE; flock -n 9 || echo busy: busy at once (${OUT:-nothing}, $MS ms)" \
	test "$OUT" = busy -a "$MS" -lt 500
check "the contender's O_TRUNC left the lock as it was" "n1 1" bash -c \
	"xinfo_field $N1/c/f node; xinfo_field $N1/c/f holders"
end "$h"
expect "kill -9 of the holder frees it" wait_until 3 free "$N2/c/f"
check "flock FILE -c on n2 runs the command holding the lock" "n2 handle" \
	in_session flock -w 5 "$N2/c/f" bash -c "xinfo_field $N1/c/f node; xinfo_field $N1/c/f kind"
expect "and leaves nothing behind" wait_until 3 free "$N1/c/f"

# -s with -s
spawn fs flock -s "$N1/c/shared" sleep 60
h=$SID
expect "flock -s on n1 holds it" wait_until 5 held "$N2/c/shared"
check "... in shared mode" shared xinfo_field "$N2/c/shared" mode
check "flock -s on n2 shares it: two holders" 2 \
	in_session flock -s -n "$N2/c/shared" bash -c "xinfo_field $N1/c/shared holders"
timed flock -x -n "$N2/c/shared" true
expect "flock -x -n on n2 is refused by the shared holder (exit $RC, $MS ms)" \
	test "$RC" = 1 -a "$MS" -lt 500
end "$h"
expect "the shared lock ends with its holder" wait_until 3 free "$N2/c/shared"

# -x against -s
spawn fx flock -x "$N1/c/excl" sleep 60
h=$SID
expect "flock -x on n1 holds it" wait_until 5 held "$N2/c/excl"
check "... exclusively" exclusive xinfo_field "$N2/c/excl" mode
timed flock -s -n "$N2/c/excl" true
expect "flock -s -n on n2 is refused by the exclusive holder (exit $RC, $MS ms)" \
	test "$RC" = 1 -a "$MS" -lt 500
end "$h"

# -u on a descriptor that stays open
spawn fu bash -c "exec 8>$N1/c/unlock; flock -x 8; echo locked;
	wait_until 20 test -e $T/fu.go; flock -u 8; echo released; exec sleep 60"
h=$SID
expect "exec 8>FILE; flock -x 8 on n1 holds it" wait_until 5 said fu locked
check "... n2 sees n1 holding" n1 xinfo_field "$N2/c/unlock" node
timed flock -n "$N2/c/unlock" true
expect "... n2 is refused (exit $RC, $MS ms)" test "$RC" = 1
touch "$T/fu.go"
expect "flock -u 8 on n1 returns" wait_until 5 said fu released
expect "after flock -u the lock is gone from n2, fd 8 still open" wait_until 3 free "$N2/c/unlock"
check "n2 takes it while n1's descriptor stays open" ok \
	in_session flock -n "$N2/c/unlock" -c "echo ok"
expect "n1's holder is still alive" kill -0 "$h"
end "$h"

# -o: the command's children do not inherit the lock
timed flock -o "$N1/c/close" -c "sleep 30 </dev/null >/dev/null 2>&1 & echo \$!"
kid=$OUT
expect "flock -o on n1 returns at once ($MS ms)" test "$RC" = 0 -a "$MS" -lt 1000
expect "flock -o: the lock ends with flock, not with the command's child" \
	wait_until 3 free "$N2/c/close"
check "... n2 takes it while that child lives" ok \
	in_session flock -n "$N2/c/close" -c "kill -0 $kid && echo ok"
kill -9 "$kid" 2>/dev/null
timed flock "$N1/c/noclose" -c "sleep 30 </dev/null >/dev/null 2>&1 & echo \$!"
kid=$OUT
check "without -o the command's child inherits the lock" n1 xinfo_field "$N2/c/noclose" node
timed flock -n "$N2/c/noclose" true
expect "... n2 is refused while that child lives (exit $RC, $MS ms)" test "$RC" = 1
kill -9 "$kid" 2>/dev/null
expect "... its death frees it" wait_until 3 free "$N2/c/noclose"

# ( flock 9; ... ) 9>FILE serializes subshells on two nodes: n1's critical
# section ends only once n2's subshell is queued behind it
L=$T/ser.log
spawn ser bash -c "( flock 9; echo start1 >>$L
	wait_until 10 queued $N1/c/ser && echo saw-waiter >>$L; echo end1 >>$L ) 9>$N1/c/ser"
h=$SID
expect "( flock 9; ... ) 9>FILE on n1 runs" wait_until 5 grep -qs start1 "$L"
timed bash -c "( flock 9; echo start2 >>$L; echo end2 >>$L ) 9>$N2/c/ser"
wait "$h"
unset "LIVE[$h]"
check "the subshells on n1 and n2 ran one after the other (n2: exit $RC, $MS ms)" \
	"start1 saw-waiter end1 start2 end2" cat "$L"
expect "... and left nothing behind" wait_until 3 free "$N2/c/ser"

# --- libraries: n1 holds, n2 tries, then a waiting holder on n2 takes over --
# lib_hold LIB NAME: LIB on n1 holds c/NAME; H1 is its session
lib_hold() {
	spawn "$1-1" $PY "$T/lk.py" "$1" hold "$N1/c/$2" "$T/$1.go1"
	H1=$SID
	expect "$1 on n1 holds c/$2" wait_until 5 said "$1-1" locked
	check "... n2 sees n1's handle lock" "n1 handle" bash -c \
		"xinfo_field $N2/c/$2 node; xinfo_field $N2/c/$2 kind"
}
# lib_handover LIB NAME: a waiting LIB holder on n2 gets c/NAME once n1
# releases it through the library; then n2 releases it
lib_handover() {
	local t0 ms
	spawn "$1-2" $PY "$T/lk.py" "$1" hold "$N2/c/$2" "$T/$1.go2"
	H2=$SID
	t0=$(date +%s%N)
	touch "$T/$1.go1"
	wait_until 5 said "$1-2" locked
	read -r _ acq _ <"$T/$1-2.out"
	ms=$(((${acq:-0} - t0) / 1000000))
	expect "$1: n1 releases through the library" wait_until 3 said "$1-1" released
	expect "$1: the waiting contender on n2 gets it after that, promptly ($ms ms)" \
		test "$ms" -ge 0 -a "$ms" -lt 3000
	check "... n1 sees n2 holding" "n2 handle" bash -c \
		"xinfo_field $N1/c/$2 node; xinfo_field $N1/c/$2 kind"
	touch "$T/$1.go2"
	expect "$1: n2's release leaves nothing behind" wait_until 3 free "$N1/c/$2"
	expect "... nor on n2" free "$N2/c/$2"
	end "$H1"
	end "$H2"
}

# --- 2. py-filelock ----------------------------------------------------------
lib_hold filelock fl
timed $PY "$T/lk.py" filelock timeout "$N2/c/fl"
expect "FileLock(path, timeout=1) on n2 raises Timeout after about 1 s ($OUT ms)" \
	is Timeout 800 1500
timed $PY "$T/lk.py" filelock nonblocking "$N2/c/fl"
expect "FileLock.acquire(blocking=False) raises Timeout at once ($OUT ms)" is Timeout 0 500
timed $PY "$T/lk.py" filelock zero "$N2/c/fl"
expect "FileLock(path, timeout=0) raises Timeout at once ($OUT ms)" is Timeout 0 500
check "the contenders' O_TRUNC opens left n1's lock as it was" "n1 1" bash -c \
	"xinfo_field $N1/c/fl node; xinfo_field $N1/c/fl holders"
lib_handover filelock fl

# --- 3. portalocker ----------------------------------------------------------
lib_hold portalocker po
check "the holder's print(file=fh) is what n2 reads" "portalocker pid $H1" cat "$N2/c/po"
timed $PY "$T/lk.py" portalocker timeout "$N2/c/po"
expect "portalocker.Lock(path, timeout=1, fail_when_locked=False) raises LockException after about 1 s ($OUT ms)" \
	is LockException 800 1500
timed $PY "$T/lk.py" portalocker fail "$N2/c/po"
expect "portalocker.Lock(..., fail_when_locked=True) raises AlreadyLocked at once ($OUT ms)" \
	is AlreadyLocked 0 500
timed $PY "$T/lk.py" portalocker nonblocking "$N2/c/po"
expect "portalocker.lock(f, LOCK_EX | LOCK_NB) raises LockException at once ($OUT ms)" \
	is LockException 0 500
lib_handover portalocker po

# --- 4. fasteners ------------------------------------------------------------
lib_hold fasteners fa
timed $PY "$T/lk.py" fasteners nonblocking "$N2/c/fa"
expect "InterProcessLock.acquire(blocking=False) on n2 returns False at once ($OUT ms)" \
	is False 0 500
timed $PY "$T/lk.py" fasteners timeout "$N2/c/fa"
expect "InterProcessLock.acquire(timeout=1) returns False after about 1 s ($OUT ms)" \
	is False 800 1500
lib_handover fasteners fa

spawn rw1 $PY "$T/lk.py" fasteners-rw hold-read "$N1/c/rw" "$T/rw.go"
h1=$SID
expect "InterProcessReaderWriterLock read lock on n1" wait_until 5 said rw1 locked
check "... shared" "shared 1" bash -c "xinfo_field $N2/c/rw mode; xinfo_field $N2/c/rw holders"
spawn rw2 $PY "$T/lk.py" fasteners-rw hold-read "$N2/c/rw" "$T/rw.go"
h2=$SID
expect "... and a read lock on n2 together with it" wait_until 3 said rw2 locked
check "... two holders" "shared 2" bash -c "xinfo_field $N1/c/rw mode; xinfo_field $N1/c/rw holders"
timed $PY "$T/lk.py" fasteners-rw write "$N2/c/rw"
expect "acquire_write_lock(blocking=False) on n2 returns False while they read ($OUT ms)" \
	is False 0 500
end "$h1"
end "$h2"
expect "the read locks end with their holders" wait_until 3 free "$N2/c/rw"

# --- 5. Perl flock -----------------------------------------------------------
spawn pl1 perl "$T/lk.pl" hold "$N1/c/perl" "$T/pl.go1"
h1=$SID
expect "Perl flock(\$fh, LOCK_EX) on n1 holds it" wait_until 5 said pl1 locked
check "n2 sees n1's handle lock" "n1 handle" bash -c \
	"for k in node kind; do xinfo_field $N2/c/perl \$k; done"
check "the holder's print \$fh is what n2 reads" "pid $h1" cat "$N2/c/perl"
timed perl "$T/lk.pl" try "$N2/c/perl"
expect "flock(\$fh, LOCK_EX|LOCK_NB) on n2 fails with EWOULDBLOCK (${OUT:-nothing}, $MS ms)" \
	test "$OUT" = EWOULDBLOCK -a "$MS" -lt 500
timed bash -c "echo junk >>$N2/c/perl && : >$N2/c/perl && echo written"
expect "a write and an O_TRUNC by n2 succeed (${OUT:-nothing})" test "$OUT" = written
check "... change the content, as on a disk, and leave n1 holding" "n1 0" bash -c \
	"xinfo_field $N1/c/perl node; stat -c %s $N1/c/perl"
spawn pl2 perl "$T/lk.pl" block "$N2/c/perl" "$T/pl.go2"
h2=$SID
expect "a blocking flock on n2 queues" wait_until 5 queued "$N1/c/perl"
expect "... and does not get it while n1 holds" not said pl2 locked
t0=$(date +%s%N)
touch "$T/pl.go1"
wait_until 5 said pl2 locked
ms=$((($(date +%s%N) - t0) / 1000000))
expect "n1 unlocks with LOCK_UN" wait_until 3 said pl1 released
expect "the blocking flock on n2 succeeds after the release ($ms ms)" \
	bash -c "said pl2 locked && [ $ms -lt 3000 ]"
check "... and what it wrote shows on n1" "n2 pid $h2" bash -c \
	"xinfo_field $N1/c/perl node; cat $N1/c/perl"
touch "$T/pl.go2"
# n1's holder keeps its descriptor after LOCK_UN: a placeholder there
expect "n2's exit releases it" wait_until 3 free "$N2/c/perl"
check "... n1 takes it at once, beside its holder's open descriptor" ok \
	in_session flock -n "$N1/c/perl" -c "echo ok"
end "$h1"
end "$h2"

# --- 6. release on close, on exit, on kill -9 of the session -----------------
spawn rc $PY "$T/lk.py" flock hold-close "$N1/c/onclose" "$T/rc.go"
h=$SID
expect "fcntl.flock on n1 holds c/onclose" wait_until 5 said rc locked
CONTEND=(flock -w 15 "$N2/c/onclose" -c "echo got")
release_case "close on n1" "$N1/c/onclose" touch "$T/rc.go"
expect "... while the holder lives on" bash -c "said rc closed && kill -0 $h"
expect "... nothing left on n2" wait_until 3 free "$N2/c/onclose"
end "$h"

spawn re bash -c "exec 9>$N1/c/onexit; flock 9; echo locked
	wait_until 20 test -e $T/re.go; exit 0"
h=$SID
expect "exec 9>FILE; flock 9 on n1 holds c/onexit" wait_until 5 said re locked
CONTEND=(flock -w 15 "$N2/c/onexit" -c "echo got")
release_case "exit on n1" "$N1/c/onexit" touch "$T/re.go"
expect "... nothing left on n2" wait_until 3 free "$N2/c/onexit"
end "$h"

spawn rk flock "$N1/c/onkill" sleep 60
h=$SID
expect "flock FILE sleep 60 on n1 holds c/onkill" wait_until 5 held "$N2/c/onkill"
CONTEND=(flock -w 15 "$N2/c/onkill" -c "echo got")
release_case "kill -9 -- -PGID on n1" "$N1/c/onkill" end "$h"
expect "... nothing left on n2" wait_until 3 free "$N2/c/onkill"
end "$h"

# --- 7. Python fcntl.lockf: opens never wait --------------------------------
spawn lf $PY "$T/lk.py" lockf hold "$N1/c/lockf" "$T/lf.go"
h=$SID
expect "fcntl.lockf on n1 holds c/lockf" wait_until 5 said lf locked
check "... n2 sees n1's handle lock" "n1 handle" bash -c \
	"xinfo_field $N2/c/lockf node; xinfo_field $N2/c/lockf kind"
for how in append osopen; do
	desc="open(path, \"a\")"
	[ $how = osopen ] && desc="os.open(path, O_RDWR|O_CREAT)"
	timed $PY "$T/lk.py" lockf $how "$N2/c/lockf"
	read -r w e o l _ <<<"$OUT x x x x"
	expect "$desc on n2 returns at once while n1 holds ($o ms)" test "$o" -lt 500
	expect "... then lockf LOCK_EX|LOCK_NB raises BlockingIOError ($w $e, $l ms)" \
		test "$w $e" = "BlockingIOError EAGAIN" -a "$l" -lt 500
done
touch "$T/lf.go"
expect "lockf LOCK_UN on n1" wait_until 3 said lf released
expect "... frees it while the file stays open" wait_until 3 free "$N2/c/lockf"
timed $PY "$T/lk.py" lockf append "$N2/c/lockf"
expect "... and n2's lockf LOCK_EX|LOCK_NB gets it (${OUT:-nothing})" test "${OUT%% *}" = locked
end "$h"

spawn fr $PY "$T/lk.py" lockf fresh "$N2/c/fresh" "$T/fr.go"
h=$SID
expect "os.open(O_RDWR|O_CREAT) of an absent lock on n2" wait_until 5 said fr opened
expect "... makes the file on every node, unheld" free "$N1/c/fresh"
touch "$T/fr.go"
expect "lockf on the placeholder takes the lock" wait_until 5 said fr locked
check "... n1 sees n2's handle lock" "n2 handle" bash -c \
	"xinfo_field $N1/c/fresh node; xinfo_field $N1/c/fresh kind"
touch "$T/fr.go.2"
expect "closing it frees it" wait_until 3 free "$N1/c/fresh"
end "$h"

# --- 8. a lease-view node: leases and handle locks on one name ---------------
cluster_add_node 3 # the lease view
expect "n3 (lease view) sees the namespace" wait_until 3 test -d "$N3/c"
spawn ls3 bash -c "exec 9>$N3/c/x; echo locked; exec sleep 30"
h=$SID
expect "exec 9>FILE on n3 takes a lease" wait_until 5 said ls3 locked
check "... n1 sees n3's lease" "n3 lease" bash -c \
	"xinfo_field $N1/c/x node; xinfo_field $N1/c/x kind"
timed flock -n "$N1/c/x" true
expect "n3's lease refuses flock -n on n1 (exit $RC, $MS ms)" test "$RC" = 1 -a "$MS" -lt 500
CONTEND=(flock -w 15 "$N1/c/x" -c "echo got")
release_case "a flock on n1 waiting for n3's lease, kill -9 of n3's session" \
	"$N1/c/x" end "$h"
end "$h"
expect "... nothing left on n3" wait_until 3 free "$N3/c/x"

spawn fy flock "$N1/c/y" sleep 60
h=$SID
expect "flock on n1 holds c/y" wait_until 5 held "$N3/c/y"
timed touch "$N3/c/y"
expect "touch on n3 fails at once (exit $RC, $MS ms)" test "$RC" = 1 -a "$MS" -lt 500
check "... with EAGAIN (O_NONBLOCK)" EAGAIN in_session $PY "$TESTS_LIB/fsop.py" open "$N3/c/y" wcn
check "... and n1 still holds it" "n1 handle" bash -c \
	"xinfo_field $N3/c/y node; xinfo_field $N3/c/y kind"
CONTEND=(bash -c ": >$N3/c/y && echo got")
release_case "a blocking open on n3 waiting for n1's flock, kill -9 of n1's session" \
	"$N3/c/y" end "$h"
end "$h"
expect "n3's lease ends with its session" wait_until 3 free "$N1/c/y"

rm -rf "$T"
finish
