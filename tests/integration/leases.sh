#!/usr/bin/env bash
# leases.sh - lease locks across three nodes through plain shell and Python
# file I/O (the README): the acquire table's rows that do not
# wait, renewals and write commands, release and break, ESTALE, the info
# format, stat and the token, namespaces and permissions, refused
# operations, name limits, owners as users and sessions.
. "$(dirname "$0")/../lib/cluster.sh"
users_setup
cluster_mount 3 "keepalive=off"
A=lockfs-a
B=lockfs-b
PT=/tmp/leases.$$

# --- visibility across nodes --------------------------------------------
mkdir -p "$N1/jobs/deep/er"
expect "mkdir -p on n1 is seen on n3" test -d "$N3/jobs/deep/er"
check "create takes the lock" OK fsop open "$N1/jobs/nightly" wcn
expect "the lock file exists on n2" test -f "$N2/jobs/nightly"
check "ls on n2 lists it" "deep nightly" bash -c "ls $N2/jobs | tr '\n' ' ' | sed 's/ \$//'"
check "cat on n2 names the holder's node" n1 info_field "$N2/jobs/nightly" node
check "the info names the lock" jobs/nightly info_field "$N2/jobs/nightly" name
check "the info says exclusive" exclusive info_field "$N2/jobs/nightly" mode
check "one holder" 1 info_field "$N2/jobs/nightly" holders
check "kind lease" lease info_field "$N2/jobs/nightly" kind
check "keepalive from the mount option" off info_field "$N2/jobs/nightly" keepalive
check "no waiters" 0 info_field "$N2/jobs/nightly" waiters
check "default ttl" 15s info_field "$N2/jobs/nightly" ttl
check "stat shows mode 0666 and the holder" "666 0" stat -c '%a %u' "$N2/jobs/nightly"

# --- the acquire table --------------------------------------------------
check "O_NONBLOCK on another owner's lock: EAGAIN" EAGAIN in_session python3 "$TESTS_LIB/fsop.py" open "$N2/jobs/nightly" wcn
check "touch on another node: fails" 1 bash -c "touch $N2/jobs/nightly 2>/dev/null; echo \$?"
check "O_EXCL on an existing lock: EEXIST" EEXIST in_session python3 "$TESTS_LIB/fsop.py" open "$N2/jobs/nightly" wx
check "O_EXCL by its own owner: EEXIST" EEXIST fsop open "$N1/jobs/nightly" wx
check "open by the owner: a renewal" OK fsop open "$N1/jobs/nightly" wn
check "set -C on a held lock fails" 1 bash -c "set -C; : > $N1/jobs/nightly 2>/dev/null; echo \$?"
check "O_EXCL on a free lock: acquired" OK fsop open "$N1/jobs/fresh" wx
check "read-only open of a held lock never acquires" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N2/jobs/nightly" r
check "holder unchanged after the read" n1 info_field "$N3/jobs/nightly" node

# --- renewal and the write commands --------------------------------------
t0=$(info_field "$N1/jobs/nightly" token)
echo "ttl=1h" >"$N1/jobs/nightly"
check "ttl=1h sets the lease length" 1h info_field "$N2/jobs/nightly" ttl
echo "backup of db1" >"$N1/jobs/nightly"
check "other text is the note" "backup of db1" info_field "$N2/jobs/nightly" note
check "the note survives a renewal" "backup of db1" bash -c "touch $N1/jobs/nightly; sed -n 's/^note=//p' $N2/jobs/nightly"
check "renewal keeps the token" "$t0" info_field "$N1/jobs/nightly" token
check "ttl=banana: EINVAL" EINVAL fsop write "$N1/jobs/nightly" "ttl=banana"
check "keepalive=maybe: EINVAL" EINVAL fsop write "$N1/jobs/nightly" "keepalive=maybe"
check "a note over 1 KiB: EINVAL" EINVAL fsop write "$N1/jobs/nightly" "$(head -c 1025 /dev/zero | tr '\0' x)"
check "a note of 1 KiB: fine" OK fsop write "$N1/jobs/nightly" "$(head -c 1024 /dev/zero | tr '\0' y)"
check "malformed writes left the ttl" 1h info_field "$N2/jobs/nightly" ttl
check "binary bytes: EINVAL" EINVAL fsop write "$N1/jobs/nightly" "$(printf 'a\001b')"
check "keepalive=session is stored" session bash -c "echo keepalive=session > $N1/jobs/nightly; sed -n 's/^keepalive=//p' $N2/jobs/nightly"
echo keepalive=off >"$N1/jobs/nightly"
check "a non-owner's write: EPERM" EPERM in_session python3 "$TESTS_LIB/fsop.py" truncate "$N1/jobs/nightly"
check "a non-owner's utime: EPERM" EPERM as_user $A python3 "$TESTS_LIB/fsop.py" utime "$N2/jobs/nightly"
check "token as xattr" "OK $t0" fsop getxattr "$N2/jobs/nightly"
check "chmod on a lock: EPERM" EPERM fsop chmod "$N1/jobs/nightly" 600

# --- release and break ---------------------------------------------------
mkdir -m 0777 "$N1/open"
: >"$N1/open/mine"
check "unlink by another user: EPERM" EPERM as_user $A python3 "$TESTS_LIB/fsop.py" unlink "$N2/open/mine"
check "unlink by a user without write access: EACCES" EACCES as_user $A python3 "$TESTS_LIB/fsop.py" unlink "$N2/jobs/nightly"
check "unlink by another session of root: a break" OK in_session python3 "$TESTS_LIB/fsop.py" unlink "$N2/jobs/nightly"
expect "broken lock is gone on every node (within a second)" wait_until 2 bash -c "! test -e $N1/jobs/nightly && ! test -e $N3/jobs/nightly"
check "the broken owner's write: ESTALE" ESTALE python3 -c "
import os, errno, subprocess
fd = os.open('$N1/jobs/stale', os.O_WRONLY | os.O_CREAT)
subprocess.run(['setsid', '-w', 'python3', '$TESTS_LIB/fsop.py', 'unlink',
                '$N2/jobs/stale'], stdout=subprocess.DEVNULL)
try:
    os.write(fd, b'x'); print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])"
check "the broken owner's unlink: ESTALE, twice" "ESTALE ESTALE" python3 -c "
import os, errno, subprocess
os.close(os.open('$N1/jobs/stale2', os.O_WRONLY | os.O_CREAT))
subprocess.run(['setsid', '-w', 'python3', '$TESTS_LIB/fsop.py', 'unlink',
                '$N2/jobs/stale2'], stdout=subprocess.DEVNULL)
out = []
for i in range(2):
    try:
        os.unlink('$N1/jobs/stale2'); out.append('OK')
    except OSError as e:
        out.append(errno.errorcode[e.errno])
print(' '.join(out))"
check "rm by the owner releases" OK fsop unlink "$N1/jobs/fresh"
expect "released everywhere" bash -c "! test -e $N2/jobs/fresh"
check "unlink of a free lock: ENOENT" ENOENT fsop unlink "$N1/jobs/none"
t1=$(bash -c ": > $N2/jobs/tok; sed -n 's/^token=//p' $N2/jobs/tok; rm $N2/jobs/tok")
t2=$(bash -c ": > $N3/jobs/tok; sed -n 's/^token=//p' $N3/jobs/tok; rm $N3/jobs/tok")
expect "tokens grow across grants ($t0 < $t1 < $t2)" test "$t0" -lt "$t1" -a "$t1" -lt "$t2"

# --- expiry ---------------------------------------------------------------
bash -c "echo ttl=500ms > $N1/jobs/short"
check "a short lease is held" n1 info_field "$N2/jobs/short" node
sleep 1
expect "and expires by itself" bash -c "! test -e $N2/jobs/short"
check "its owner's write after expiry: ESTALE" ESTALE bash -c "exec 9>$N1/jobs/short2; echo ttl=500ms >&9; sleep 1; python3 -c '
import os, errno
try:
    os.write(9, b\"x\"); print(\"OK\")
except OSError as e:
    print(errno.errorcode[e.errno])'"
check "another node takes an expired lock" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N2/jobs/short" wcn
check "its owner sees the expired lock gone, and takes it again with a new open" "gone OK n1" bash -c "
	exec 9>$N1/jobs/short3; echo ttl=500ms >&9; sleep 1
	test -e $N1/jobs/short3 && echo there || echo gone
	python3 $TESTS_LIB/fsop.py open $N1/jobs/short3 wcn
	sed -n 's/^node=//p' $N2/jobs/short3"
# what its owner's ordinary commands meet once a lease ran out and nobody
# took the lock: rm(1), which looks at the file before it unlinks it, still
# says ESTALE (twice), stat says it is gone (twice), and a blocking open
# while the namespace's .lock is held elsewhere waits for it and then takes
# the lock (it must not fail with ESTALE)
check "its owner's rm(1) after expiry: ESTALE, twice; stat: gone, twice" \
	"rm-ESTALE rm-ESTALE gone gone" in_session bash -c "
	exec 9>$N1/jobs/short4; echo keepalive=off >&9; echo ttl=300ms >&9; exec 9>&-; sleep 1
	for i in 1 2; do rm $N1/jobs/short4 2>&1 | grep -q 'Stale file handle' && echo rm-ESTALE; done
	for i in 1 2; do test -e $N1/jobs/short4 && echo there || echo gone; done"
check "its owner's blocking open after expiry, the namespace held elsewhere: waits, then takes it" \
	"OK n1" in_session bash -c "
	exec 9>$N1/jobs/deep/short5; echo keepalive=off >&9; echo ttl=300ms >&9; exec 9>&-; sleep 1
	setsid bash -c 'exec 8>$N2/jobs/deep/.lock; sleep 1; rm $N2/jobs/deep/.lock' & wait_until 5 test -e $N1/jobs/deep/.lock
	timeout 10 python3 $TESTS_LIB/fsop.py open $N1/jobs/deep/short5 wc
	sed -n 's/^node=//p' $N2/jobs/deep/short5; rm -f $N1/jobs/deep/short5; wait"

# --- the hierarchy ---------------------------------------------------------
: >"$N1/jobs/deep/er/leaf"
check "a held leaf blocks its ancestor's .lock" EAGAIN in_session python3 "$TESTS_LIB/fsop.py" open "$N2/jobs/.lock" wcn
check "and the root lock" EAGAIN in_session python3 "$TESTS_LIB/fsop.py" open "$N2/.lock" wcn
check "a sibling is free" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N2/jobs/deep/sibling" wcn
rm -f "$N1/jobs/deep/er/leaf"
check "jobs/.lock is taken" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N3/jobs/deep/er/.lock" wcn
check "... and blocks what is below it" EAGAIN fsop open "$N1/jobs/deep/er/x" wcn
check ".lock shows in ls" ".lock" ls -A "$N1/jobs/deep/er"

# --- namespaces ------------------------------------------------------------
check "mkdir of an existing namespace: EEXIST" EEXIST fsop mkdir "$N2/jobs"
check "mkdir .lock: EINVAL" EINVAL fsop mkdir "$N2/jobs/.lock"
check "mkdir of a held lock's name: EEXIST" EEXIST fsop mkdir "$N2/jobs/short"
check "rmdir with a lock below: ENOTEMPTY" ENOTEMPTY fsop rmdir "$N2/jobs/deep/er"
check "rmdir with a namespace below: ENOTEMPTY" ENOTEMPTY fsop rmdir "$N2/jobs"
mkdir "$N1/gone"
check "rmdir of an empty namespace" OK fsop rmdir "$N2/gone"
expect "gone everywhere" bash -c "! test -e $N3/gone"
mkdir "$N1/db"
chgrp $A "$N1/db"
chmod 2770 "$N1/db"
check "chmod is seen on every node" "2770 $A" stat -c '%a %G' "$N3/db"
check "a user outside the group cannot lock there" EACCES as_user $B python3 "$TESTS_LIB/fsop.py" open "$N2/db/x" wcn
check "a member can" OK as_user $A python3 "$TESTS_LIB/fsop.py" open "$N2/db/x" wcn
check "the lock file is the member's" "$A" stat -c %U "$N3/db/x"
check "rename: EPERM" EPERM fsop rename "$N1/jobs/short" "$N1/jobs/other"
check "link: EPERM" EPERM fsop link "$N1/jobs/short" "$N1/jobs/other"
check "symlink: EPERM" EPERM fsop symlink "/etc/passwd" "$N1/jobs/sym"
check "mknod: EPERM" EPERM fsop mknod "$N1/jobs/node"

# --- owners: users and sessions -------------------------------------------
mkdir -m 1777 "$N1/shared"
check "user a takes a lock" OK as_user $A python3 "$TESTS_LIB/fsop.py" open "$N1/shared/l" wcn
check "user b on the same node is another owner" EAGAIN as_user $B python3 "$TESTS_LIB/fsop.py" open "$N1/shared/l" wcn
check "another session of user a is another owner" EAGAIN as_user $A python3 "$TESTS_LIB/fsop.py" open "$N1/shared/l" wcn
check "one session's commands share the owner" "OK OK" as_user $A bash -c "python3 $TESTS_LIB/fsop.py open $N1/shared/m wcn; python3 $TESTS_LIB/fsop.py open $N1/shared/m wn" 
check "sticky namespace: b cannot remove a's lock" EPERM as_user $B python3 "$TESTS_LIB/fsop.py" unlink "$N2/shared/l"

# --- names ------------------------------------------------------------------
long=$(head -c 255 /dev/zero | tr '\0' a)
check "a 255-byte component" OK fsop open "$N1/jobs/$long" wcn
check "a 256-byte component: ENAMETOOLONG" ENAMETOOLONG fsop open "$N1/jobs/${long}b" wcn
check "odd bytes in a name" OK fsop open "$N1/jobs/sp ace:and*#?" wcn
check "newline in a name is escaped in the info" 'jobs/a\nb' bash -c "python3 $TESTS_LIB/fsop.py open \"$N1/jobs/a
b\" wcn >/dev/null; sed -n 's/^name=//p' \"$N2/jobs/a
b\""
deep=$N1
for i in $(seq 1 31); do deep="$deep/d"; done
check "31 nested namespaces" OK bash -c "mkdir -p $deep && echo OK"
check "a lock at depth 32" OK fsop open "$deep/x" wcn
check "a namespace at depth 32" OK fsop mkdir "$deep/y"
check "depth 33: ENAMETOOLONG" ENAMETOOLONG fsop open "$deep/y/z" wcn
check ".lockfs at the root is not a namespace" EEXIST fsop mkdir "$N1/.lockfs"

# --- a paused holder whose lock was retaken (root and not) -------------
mkdir -m 1777 "$N1/paused" # sticky, as shared namespaces should be
cat >$PT.paused.py <<'EOP'
import errno, os, sys, time
path, go = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_WRONLY | os.O_CREAT)
os.write(fd, b"ttl=1s\nkeepalive=off\n")
print("held", flush=True)
while not os.path.exists(go):   # "paused" past its ttl: nothing renews it
    time.sleep(0.05)
out = []
for op in (lambda: os.write(fd, b"x"), lambda: os.unlink(path),
           lambda: os.unlink(path)):
    try:
        op(); out.append("OK")
    except OSError as e:
        out.append(errno.errorcode[e.errno])
print(" ".join(out), flush=True)
EOP
paused_case() { # WHO(root|user) NAME
	local who=$1 name=$2 hp
	rm -f $PT.go $PT.pout $PT.taken
	if [ "$who" = root ]; then
		in_session python3 $PT.paused.py "$N1/paused/$name" $PT.go >$PT.pout &
	else
		as_user $A python3 $PT.paused.py "$N1/paused/$name" $PT.go >$PT.pout &
	fi
	hp=$!
	wait_until 5 grep -q held $PT.pout
	# another user on another node waits for it and gets it at expiry
	as_user $B bash -c "exec 9>$N2/paused/$name; echo taken >$PT.taken; while [ ! -e $PT.go.done ]; do sleep 0.05; done; rm $N2/paused/$name" &
	local cp=$!
	expect "$who: the other user gets the lock once the paused lease expires" wait_until 10 test -s $PT.taken
	touch $PT.go
	wait $hp
	check "$who: the paused holder's write, unlink, unlink: ESTALE each" "held ESTALE ESTALE ESTALE" cat $PT.pout
	check "$who: the new holder still holds it" "n2 $(id -u $B)" bash -c "info_field $N3/paused/$name node; info_field $N3/paused/$name uid"
	touch $PT.go.done
	wait $cp
	rm -f $PT.go.done
	expect "$who: released by the new holder" wait_until 5 test ! -e "$N3/paused/$name"
}
paused_case root r
paused_case user u
# in a sticky namespace each holder of a shared lock removes its own share
share() { # USER NODE-DIR: take a share, rm it once $PT.rm.USER appears
	as_user "$1" bash -c "echo shared:paused/sh >$2/.lockfs/acquire || exit 1
		while [ ! -e $PT.rm.$1 ]; do sleep 0.05; done
		python3 $TESTS_LIB/fsop.py unlink $2/paused/sh >$PT.rmd.$1"
}
share $A "$N1" &
sa=$!
share $B "$N2" &
sb=$!
two_holders() { [ "$(info_field "$N3/paused/sh" holders)" = 2 ]; }
expect "two users share paused/sh" wait_until 5 two_holders
touch $PT.rm.$B
wait $sb
check "the second user's rm releases its share" OK cat $PT.rmd.$B
check "the first user's share is left" "1 $(id -u $A)" bash -c "info_field $N3/paused/sh holders; info_field $N3/paused/sh uid"
touch $PT.rm.$A
wait $sa
check "and its own rm releases it" OK cat $PT.rmd.$A
rm -f $PT.*


# --- permissions do not depend on whether the lock is free ---------------
mkdir -m 0755 "$N1/ro" # search for all, write for root only
setsid bash -c "exec 9>$N1/ro/held; exec 8>$N1/ro/lh; sleep 5" &
rp=$!
wait_until 5 test -e "$N2/ro/lh"
t0=$(date +%s%N)
check "no write permission: a blocking open of a held lock is EACCES" EACCES as_user $A python3 "$TESTS_LIB/fsop.py" open "$N2/ro/held" w
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "... at once, before any wait (${ms} ms)" test "$ms" -lt 1000
check "and nothing of it is queued" 0 info_field "$N3/ro/held" waiters
check "flock on it: EACCES" EACCES as_user $A python3 -c "
import errno, fcntl, os
fd = os.open('$N2/ro/lh', os.O_RDONLY)
try:
    fcntl.flock(fd, fcntl.LOCK_EX); print('locked')
except OSError as e:
    print(errno.errorcode[e.errno])"
check "lockf (fcntl) on it: EACCES" EACCES as_user $A python3 -c "
import errno, fcntl, os
fd = os.open('$N2/ro/lh', os.O_RDONLY)
try:
    fcntl.lockf(fd, fcntl.LOCK_SH); print('locked')
except OSError as e:
    print(errno.errorcode[e.errno])"
check "a lock set with it: EACCES" EACCES as_user $A python3 "$TESTS_LIB/fsop.py" write "$N2/.lockfs/acquire" "ro/held"
check "reading it needs search only" n1 as_user $A bash -c "sed -n 's/^node=//p' $N2/ro/held"
kill $rp 2>/dev/null; wait $rp 2>/dev/null
check "a free lock there: EACCES too" EACCES as_user $A python3 "$TESTS_LIB/fsop.py" open "$N2/ro/free" wcn
check "root may do anything" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N2/ro/free" wcn


# --- lock-delay: an expired lease keeps its lock from others a while -------
CLUSTER_OPTS=",keepalive=off,ttl=1s,lock_delay=2s"
CLUSTER_N=4
CLUSTER_NODES=4
cluster_node_start 4 || exit 1
N4=$CLUSTER_DIR/n4
mkdir -p "$N1/ld"
: >"$N4/ld/a" # a 1 s lease, never renewed, with a 2 s delay
expired() { [ "$(info_field "$N1/ld/a" holders)" = 0 ]; }
expect "the lease expires after its second" wait_until 5 expired
check "then another owner is refused: EAGAIN" EAGAIN in_session python3 "$TESTS_LIB/fsop.py" open "$N2/ld/a" wcn
check "the lock reads as held by nobody" 0 info_field "$N1/ld/a" holders
expect "until delayed_until=, about 2 s after the expiry" test -n "$(info_field "$N1/ld/a" delayed_until)"
check "its namespace's lock waits for it too" EAGAIN in_session python3 "$TESTS_LIB/fsop.py" open "$N2/ld/.lock" wcn
t0=$(date +%s%N)
check "a blocking open gets it once the delay is over" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N2/ld/a" wc
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "... not before (${ms} ms of waiting)" test "$ms" -gt 300
rm -f "$N2/ld/a"
# released, not expired: no delay
in_session bash -c ": >$N4/ld/b; rm $N4/ld/b"
check "a lease released by its owner leaves no delay" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N2/ld/b" wcn
rm -f "$N2/ld/b"
# the write command sets it for one lease: lock_delay=0 turns it off
in_session python3 "$TESTS_LIB/fsop.py" write "$N4/ld/c" "lock_delay=0" >/dev/null
expired_c() { [ "$(info_field "$N1/ld/c" holders)" != 1 ]; }
expect "a lease written lock_delay=0 expires" wait_until 5 expired_c
check "and another owner gets it at once" OK in_session python3 "$TESTS_LIB/fsop.py" open "$N2/ld/c" wcn
rm -f "$N2/ld/c"
check "a malformed lock_delay= is EINVAL" EINVAL in_session python3 "$TESTS_LIB/fsop.py" write "$N4/ld/d" "lock_delay=soon"
mkdir -p "$CLUSTER_DIR/n9"
expect "a bad lock_delay= mount option is refused" bash -c "! $LOCKFS_BIN -o lock_delay=never,redis=$LOCKFS_REDIS_URL $CLUSTER_DIR/n9 >/dev/null 2>&1"

finish
