#!/usr/bin/env bash
# lockfiles.sh - the flock view's lock files behave as files on a disk that
# every node shares: they exist cluster-wide until unlinked, held or not;
# O_EXCL excludes across nodes (set -C, py-filelock's SoftFileLock); what
# is written is what every node reads; unlink follows disk permissions and
# ends no lock (portalocker's TemporaryFileLock); mode and umask as on a
# disk; the lock's state in user.lockfs.info; and a lease-view node on the
# same tree.  Two flock-view nodes n1, n2 and a lease-view node n3, two
# unprivileged users, each command in a session of its own.
. "$(dirname "$0")/../lib/cluster.sh"
users_setup
cluster_mount 2 "open=flock"
PY=/usr/bin/python3 # Debian's python3-* modules belong to the system Python
T=$(mktemp -d /tmp/lockfiles.XXXXXX)
chmod 755 "$T"
export T PY
lockfiles_cleanup() {
	end_all
	rm -rf "$T"
	cluster_cleanup
}
trap lockfiles_cleanup EXIT

# spawn_as NAME USER CMD...: spawn (cluster.sh) as USER
spawn_as() {
	spawn "$1" setpriv --reuid="$2" --regid="$2" --init-groups "${@:3}"
}
said() { grep -q "^$2" "$T/$1.out" 2>/dev/null; }
held_by() { [ "$(xinfo_field "$1" node)" = "$2" ]; } # FILE NODE
unheld() { [ "$(xinfo_field "$1" holders)" = 0 ]; }
listed() { ls "$1" 2>/dev/null | grep -qx "$2"; } # DIR NAME
export -f said held_by unheld listed
A=lockfs-a
B=lockfs-b
as_a() { as_user $A "$@"; }
as_b() { as_user $B "$@"; }
FSOP="$PY $TESTS_LIB/fsop.py" # as another user: the system Python
export A B FSOP
export -f as_a as_b

mkdir "$N1/lf"
chmod 1777 "$N1/lf"
expect "a shared namespace (1777) made on n1 shows on n2" \
	wait_until 3 test -d "$N2/lf"

# --- existence: made once, there on every node until unlinked -------------
as_a bash -c "umask 022; touch $N1/lf/made"
check "touch on n1 makes a file n2 sees, unheld" "yes 0" bash -c \
	"test -e $N2/lf/made && echo yes; xinfo_field $N2/lf/made holders"
check "ls on n2 lists it" made ls "$N2/lf"
check "it stays after its creator closed it: opened on n2 without O_CREAT" \
	OK as_b $FSOP open "$N2/lf/made" r
check "... stat on n2: regular file, 644, its creator's" "regular empty file 644 $A" \
	stat -c '%F %a %U' "$N2/lf/made"
check "flock(1) on n2 takes it and leaves it there, unheld" "got 0 yes" bash -c \
	"flock -n $N2/lf/made -c 'echo got'; xinfo_field $N1/lf/made holders;
	 test -e $N1/lf/made && echo yes"

# --- O_EXCL excludes across nodes -------------------------------------------
check "set -C; echo \$\$ > FILE on n1 (user a)" ok as_a bash -c \
	"set -C; echo a-pid > $N1/lf/pid && echo ok"
check "set -C on n2 (user b) fails: the file exists" no as_b bash -c \
	"set -C; { echo b-pid > $N2/lf/pid; } 2>/dev/null && echo yes || echo no"
check "O_CREAT|O_EXCL on n2: EEXIST" EEXIST as_b $FSOP open "$N2/lf/pid" wx
check "... root too" EEXIST fsop open "$N2/lf/pid" wx
check "what n1 wrote is what n2 reads" a-pid cat "$N2/lf/pid"
check "rm by its creator on n1, then set -C on n2 succeeds" "ok b-pid" bash -c \
	"as_user $A rm $N1/lf/pid && as_user $B bash -c 'set -C; echo b-pid > $N2/lf/pid' &&
	 echo ok; cat $N1/lf/pid"

# many creators on both nodes at once: exactly one O_EXCL wins, each round
wins_ok=yes
for round in $(seq 1 10); do
	pids=()
	for i in 1 2 3 4; do
		for n in "$N1" "$N2"; do
			fsop open "$n/lf/race" wx >"$T/race.$round.$i.${n##*/}" &
			pids+=($!)
		done
	done
	wait "${pids[@]}"
	w=$(cat "$T"/race."$round".* | grep -c '^OK$')
	[ "$w" = 1 ] || wins_ok="no (round $round: $w winners)"
	rm -f "$N1/lf/race"
done
check "8 O_EXCL creates at once on two nodes: one winner, 10 rounds" yes echo "$wins_ok"

# --- py-filelock's SoftFileLock: a lock file made with O_EXCL --------------
cat >"$T/soft.py" <<'EOF'
import sys, time
from filelock import SoftFileLock, Timeout
act, path = sys.argv[1], sys.argv[2]
lock = SoftFileLock(path, timeout=float(sys.argv[3]) if len(sys.argv) > 3 else -1)
t0 = time.monotonic()
try:
    with lock:
        print("locked", int((time.monotonic() - t0) * 1000), flush=True)
        if act == "hold":
            go = sys.argv[4]
            import os
            while not os.path.exists(go):
                time.sleep(0.02)
    print("released", flush=True)
except Timeout:
    print("Timeout", int((time.monotonic() - t0) * 1000), flush=True)
EOF
spawn_as soft1 $A $PY "$T/soft.py" hold "$N1/lf/soft" -1 "$T/soft.go"
h=$SID
expect "SoftFileLock on n1 (user a) is held" wait_until 5 said soft1 locked
out=$(as_b $PY "$T/soft.py" try "$N2/lf/soft" 1 2>&1)
expect "SoftFileLock(timeout=1) on n2 (user b) times out (${out:-nothing})" \
	bash -c "[[ '$out' == Timeout* ]]"
touch "$T/soft.go"
expect "n1 releases it (the file is unlinked)" wait_until 5 said soft1 released
expect "... and it is gone on n2" wait_until 3 bash -c "! test -e $N2/lf/soft"
out=$(as_b $PY "$T/soft.py" try "$N2/lf/soft" 1 2>&1 | head -1)
expect "then SoftFileLock on n2 gets it (${out:-nothing})" bash -c "[[ '$out' == locked* ]]"
end "$h"

# --- portalocker's TemporaryFileLock: flock, then unlink on release --------
cat >"$T/tmp.py" <<'EOF'
import os, sys, time
import portalocker
act, path = sys.argv[1], sys.argv[2]
lock = portalocker.TemporaryFileLock(path, timeout=1, fail_when_locked=True)
try:
    lock.acquire()
    print("locked", flush=True)
    if act == "hold":
        while not os.path.exists(sys.argv[3]):
            time.sleep(0.02)
    lock.release()
    print("released", os.path.exists(path), flush=True)
except portalocker.exceptions.BaseLockException as e:
    print(type(e).__name__, flush=True)
EOF
spawn_as tmp1 $A $PY "$T/tmp.py" hold "$N1/lf/tmp" "$T/tmp.go"
h=$SID
expect "TemporaryFileLock on n1 (user a) is held" wait_until 5 said tmp1 locked
expect "... n2 sees n1 holding it" wait_until 3 held_by "$N2/lf/tmp" n1
# (the same user: its mode 'w' opens need write permission on the file)
check "TemporaryFileLock on n2 (user a, another session) fails: AlreadyLocked" \
	AlreadyLocked as_a $PY "$T/tmp.py" try "$N2/lf/tmp"
touch "$T/tmp.go"
expect "the holder's release unlinks its lock file without an error" \
	wait_until 5 said tmp1 "released False"
expect "... gone on n2 too" bash -c "! test -e $N2/lf/tmp"
check "then n2 takes and removes it the same way" "locked released False" \
	as_b $PY "$T/tmp.py" try "$N2/lf/tmp"
end "$h"

# --- unlink ends no lock, and a new file of the name does not split it ------
spawn_as hold1 $A flock "$N1/lf/u" sleep 60
h=$SID
expect "flock on n1 holds lf/u" wait_until 5 held_by "$N2/lf/u" n1
check "rm on n2 by the file's owner succeeds while it is held" OK \
	as_a $FSOP unlink "$N2/lf/u"
expect "... no node lists it any more" bash -c \
	"! listed $N1/lf u && ! listed $N2/lf u && ! test -e $N1/lf/u"
timed_rc=$(as_b flock -n "$N2/lf/u" true; echo $?)
check "flock -n on n2 of a new file of that name is refused: the lock lives on" \
	1 echo "$timed_rc"
check "... the new file exists; its lock shows n1's holder" "yes n1" bash -c \
	"test -e $N1/lf/u && echo yes; xinfo_field $N1/lf/u node"
end "$h"
expect "once n1's holder ends, n2 takes it" wait_until 3 \
	bash -c "as_user $B flock -n $N2/lf/u true"

# --- content: at most 1 KiB, what every node reads --------------------------
as_a bash -c "echo 'host=n1 pid=4242' > $N1/lf/meta"
check "metadata written on n1 reads back on n2" "host=n1 pid=4242" cat "$N2/lf/meta"
check "... and stat on n2 shows its size" 17 stat -c %s "$N2/lf/meta"
as_a bash -c "echo one >> $N2/lf/meta; echo two >> $N1/lf/meta"
check "appends from both nodes land at the end" "host=n1 pid=4242 one two" cat "$N1/lf/meta"
as_a bash -c ": > $N2/lf/meta"
check "truncation on n2 empties it on n1" 0 stat -c %s "$N1/lf/meta"
check "a write of 1024 bytes fits" "1024" bash -c \
	"head -c 1024 /dev/zero | tr '\\0' x > $N1/lf/big && stat -c %s $N2/lf/big"
check "a write past 1 KiB fails with EFBIG, the content as it was" "EFBIG 1024" bash -c \
	"$PY -c \"
import errno, os
fd = os.open('$N1/lf/big', os.O_WRONLY | os.O_APPEND)
try:
    os.write(fd, b'y')
    print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])
\"; stat -c %s $N2/lf/big"
check "truncate to 2000 bytes: EFBIG" EFBIG $PY -c "
import errno, os
try:
    os.truncate('$N1/lf/big', 2000)
    print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])
"
check "a holder's write is content, not a command: ttl= stays text" "ttl=1s n1" bash -c \
	"flock $N1/lf/cmd bash -c 'echo ttl=1s > $N1/lf/cmd; sleep 1.5; cat $N2/lf/cmd; xinfo_field $N2/lf/cmd node'"

# --- times and identity as on a disk ----------------------------------------
as_a touch "$N1/lf/old"
check "touch -d sets the time every node sees (a soft lock backdated)" 0 bash -c \
	"as_user $A touch -d @0 $N1/lf/old && stat -c %Y $N2/lf/old"
check "an unlinked file's descriptor says nlink 0; a new file of the name is another inode" \
	"0 new" $PY -c "
import os
p, q = '$N1/lf/ident', '$N2/lf/ident'
fd = os.open(p, os.O_RDWR | os.O_CREAT)
ino = os.fstat(fd).st_ino
os.unlink(q)
print(os.fstat(fd).st_nlink, end=' ')
os.close(os.open(q, os.O_RDWR | os.O_CREAT))
print('new' if os.stat(p).st_ino != ino else 'same')
os.close(fd)"
check "stat and fstat agree on the inode number" same $PY -c "
import os
fd = os.open('$N1/lf/ident', os.O_RDONLY)
print('same' if os.fstat(fd).st_ino == os.stat('$N2/lf/ident').st_ino else 'differ')"
check "other attribute namespaces are not supported (EOPNOTSUPP, which tools skip); user.* names are refused" \
	"ENOTSUP EPERM" $PY -c "
import errno, os
for name in ('trusted.other', 'user.other'):
    try:
        os.setxattr('$N1/lf/ident', name, b'x')
        print('OK', end=' ')
    except OSError as e:
        print(errno.errorcode[e.errno], end=' ')"

# --- mode and umask as on a disk --------------------------------------------
as_a bash -c "umask 077; touch $N1/lf/private"
check "umask 077 on n1: mode 600 on n2, owned by its creator" "600 $A" \
	stat -c '%a %U' "$N2/lf/private"
check "another user cannot open it on n2" "EACCES EACCES" bash -c \
	"as_user $B $FSOP open $N2/lf/private r; as_user $B $FSOP open $N2/lf/private w"
check "... but its owner can, from n2" OK as_a $FSOP open "$N2/lf/private" w
check "chmod 644 by its owner on n2 shows on n1" 644 bash -c \
	"as_user $A chmod 644 $N2/lf/private && stat -c %a $N1/lf/private"
check "chmod by another user: EPERM" EPERM as_b $FSOP chmod "$N1/lf/private" 666
check "... and now another user may read it" OK as_b $FSOP open "$N2/lf/private" r
check "sticky namespace: another user's rm is refused" EPERM as_b $FSOP unlink "$N2/lf/private"
check "... its owner's rm works" OK as_a $FSOP unlink "$N2/lf/private"
mkdir -m 2775 "$N1/grp"
chgrp "$B" "$N1/grp"
chmod 2777 "$N1/grp"
as_a touch "$N1/grp/g"
check "a set-group-ID namespace gives its group" "$B" stat -c %G "$N2/grp/g"
check "rmdir of a namespace with a file: ENOTEMPTY" ENOTEMPTY fsop rmdir "$N2/grp"
rm "$N2/grp/g"
check "... rmdir once it is removed" OK fsop rmdir "$N2/grp"
check "link, symlink, rename: EPERM" "EPERM EPERM EPERM" bash -c \
	"fsop link $N1/lf/meta $N1/lf/l2; fsop symlink $N1/lf/meta $N1/lf/s2;
	 fsop rename $N1/lf/meta $N1/lf/m2"

# --- both views on one tree --------------------------------------------------
cluster_add_node 3 # the lease view
as_a bash -c "echo keep > $N1/lf/both"
check "an unheld flock-view file reads on the lease view as a lock with no holders" \
	"lf/both 0" bash -c "info_field $N3/lf/both name; info_field $N3/lf/both holders"
check "... O_EXCL there: EEXIST" EEXIST fsop open "$N3/lf/both" wx
spawn_as lease3 $B bash -c "exec 9>$N3/lf/both; echo locked; exec sleep 60"
h=$SID
expect "opening it for writing on n3 takes the lease" wait_until 5 said lease3 locked
check "... n1 sees the lease in user.lockfs.info" "n3 lease" bash -c \
	"xinfo_field $N1/lf/both node; xinfo_field $N1/lf/both kind"
check "... and flock -n on n1 is refused" 1 bash -c "flock -n $N1/lf/both true; echo \$?"
end "$h"
expect "when the lease ends the file is still there, unheld" wait_until 3 unheld "$N1/lf/both"
check "... its content as it was" keep cat "$N2/lf/both"
check "rm on the lease view of an unheld file removes it" "OK no" bash -c \
	"as_user $A $FSOP unlink $N3/lf/both; test -e $N1/lf/both && echo yes || echo no"
spawn_as lease3b $B bash -c "exec 9>$N3/lf/lease; echo locked; exec sleep 60"
h=$SID
expect "a lease taken on n3" wait_until 5 said lease3b locked
check "... shows on the flock view as a file" yes bash -c "test -e $N1/lf/lease && echo yes"
check "... O_EXCL on the flock view: EEXIST" EEXIST fsop open "$N2/lf/lease" wx
end "$h"
expect "... and is gone there when the lease ends" wait_until 3 bash -c "! test -e $N1/lf/lease"

finish
