#!/usr/bin/env bash
# security.sh - nobody renews or releases another owner's lease, on any
# node, by any path (README; issue 7): write, truncate, utimens,
# unlink, setxattr, a lock set naming it, O_EXCL, flock.  Each attempt is
# refused with the spec's errno and leaves the lease exactly as it was
# (same token, same renewal time, same note).
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 2 "keepalive=off,ttl=1h"
users_setup
A=lockfs-a
B=lockfs-b
mkdir -m 0777 "$N1/sec"

T=/tmp/security.$$
# Writes renew only through a descriptor the owner opened for writing;
# anyone else's open for writing is an acquire (it waits, or EAGAIN).
# the lease under attack: user A's, taken on n1 with a note by a session of
# A that stays (the owner), and later renews and writes on cue
# (through descriptor 9, open all along: a write through it renews, and
# fails with ESTALE once the lease is gone)
cat >$T.fdwrite.py <<'EOP'
import errno, os, sys
try:
    os.write(9, (sys.argv[1] + "\n").encode())
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
EOP
as_user $A bash -c "
	exec 9>$N1/sec/job
	echo 'owned by a' >&9
	while [ ! -e $T.renew ]; do sleep 0.05; done
	python3 $T.fdwrite.py ttl=2h > $T.renewed
	while [ ! -e $T.stale ]; do sleep 0.05; done
	python3 $T.fdwrite.py ttl=5s > $T.stalewrite
	touch $T.done" &
wait_until 10 test -e "$N2/sec/job"
state() { # what must not change: token, renewal, note, holder
	grep -E '^(token|renewed|note|node|uid|session)=' "$N2/sec/job" | tr '\n' ' ' |
		sed 's/ $//'
}
before=$(state)
expect "user A holds sec/job ($before)" test -n "$before"

# every way of touching it, as user B on both nodes, as another session of
# user A, and as root in another session (root may break, never renew)
attempt() { # WHO NODE-PATH OP ARGS...: print the errno of one attempt
	local who=$1 path=$2 op=$3
	shift 3
	case $who in
	B) as_user $B python3 "$TESTS_LIB/fsop.py" "$op" "$path" "$@" ;;
	A2) as_user $A python3 "$TESTS_LIB/fsop.py" "$op" "$path" "$@" ;;
	root) in_session python3 "$TESTS_LIB/fsop.py" "$op" "$path" "$@" ;;
	esac
}
export -f attempt as_user in_session
export TESTS_LIB A B
for who in B A2; do
	for node in "$N1" "$N2"; do
		p=$node/sec/job
		check "$who on ${node##*/}: truncate is EPERM" EPERM attempt $who "$p" truncate
		check "$who on ${node##*/}: utime is EPERM" EPERM attempt $who "$p" utime
		check "$who on ${node##*/}: unlink is EPERM" EPERM attempt $who "$p" unlink
		check "$who on ${node##*/}: O_EXCL is EEXIST" EEXIST attempt $who "$p" open wx
		# a write needs a descriptor open for writing, which is an
		# acquire: it waits, or with O_NONBLOCK fails, never renews
		check "$who on ${node##*/}: opening it to write (O_NONBLOCK) is EAGAIN" EAGAIN attempt $who "$p" open wn
		check "$who on ${node##*/}: chmod is EPERM" EPERM attempt $who "$p" chmod 600
	done
done
check "root in another session: opening to write is EAGAIN (root breaks, never renews)" EAGAIN attempt root "$N2/sec/job" open wn
check "root in another session: truncate is EPERM" EPERM attempt root "$N2/sec/job" truncate
check "root in another session: utime is EPERM" EPERM attempt root "$N1/sec/job" utime

# extended attributes: the token is readable by anyone, writable by nobody
check "anyone reads the token xattr" OK bash -c "as_user $B python3 $TESTS_LIB/fsop.py getxattr $N2/sec/job | cut -d' ' -f1"
check "setxattr by another user is refused" EPERM as_user $B python3 -c "
import errno, os
try:
    os.setxattr('$N2/sec/job', 'user.lockfs.token', b'1'); print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])"
check "removexattr by another user is refused" EPERM as_user $B python3 -c "
import errno, os
try:
    os.removexattr('$N1/sec/job', 'user.lockfs.token'); print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])"

# a lock set naming it, and flock on it, from another owner
check "a lock set naming it, non-blocking, is EAGAIN" EAGAIN as_user $B python3 -c "
import errno, os
fd = os.open('$N2/.lockfs/acquire', os.O_WRONLY | os.O_NONBLOCK)
try:
    os.write(fd, b'sec/other sec/job\n'); print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])"
expect "and took none of its members" test ! -e "$N1/sec/other"
check "flock -n by another user fails" 1 bash -c "as_user $B flock -n $N2/sec/job -c true; echo \$?"

after=$(state)
export -f state
check "after all of it the lease is exactly as it was" "$before" state

# the owner itself still can, and the release by the owner works
touch $T.renew
wait_until 10 test -s $T.renewed
check "the owner itself renews (on its node: owners are per node)" OK cat $T.renewed
check "the renewal shows on n2" 2h info_field "$N2/sec/job" ttl
check "root may break it (another session)" OK attempt root "$N2/sec/job" unlink
touch $T.stale
wait_until 10 test -e $T.done
check "after which the former owner's write is ESTALE" ESTALE cat $T.stalewrite
# --- the broker over TLS (amqps://): verified against a CA, or not at all ---
tls_node() { # NAME CACERT: mount a node whose broker URL is amqps://
	mkdir -p "$CLUSTER_DIR/$1"
	LOCKFS_AMQP_URL=$LOCKFS_AMQPS_URL LOCKFS_AMQP_CACERT=$2 "$LOCKFS_BIN" -f \
		-o "redis=$LOCKFS_REDIS_URL,prefix=$CLUSTER_PREFIX,node=$1,allow_other" \
		"$CLUSTER_DIR/$1" >>"$CLUSTER_DIR/$1.log" 2>&1 &
	wait_until 10 test -e "$CLUSTER_DIR/$1/.lockfs/status"
}
if [ -n "${LOCKFS_AMQPS_URL:-}" ] && [ -f "${LOCKFS_TEST_CACERT:-}" ]; then
	tls_node tls "$LOCKFS_TEST_CACERT"
	expect "a node reaches the broker over TLS with the right CA" \
		wait_until 10 grep -q '^amqp=connected' "$CLUSTER_DIR/tls/.lockfs/status"
	: >"$N1/sec/tlsjob"
	setsid bash -c "exec 9>$CLUSTER_DIR/tls/sec/tlsjob && echo granted" >$T.tls 2>&1 &
	wait_until 10 bash -c "[ \"\$(sed -n 's/^waiters=//p' $N1/sec/tlsjob)\" = 1 ]"
	t0=$(date +%s%N)
	rm "$N1/sec/tlsjob"
	wait_until 10 grep -q granted $T.tls
	ms=$((($(date +%s%N) - t0) / 1000000))
	expect "and is woken through it by a plain node's release (${ms} ms)" test "$ms" -lt 1000
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other-ca \
		-keyout $T.key -out $T.otherca 2>/dev/null
	tls_node tlsbad $T.otherca
	wait_until 10 grep -q 'amqp: cannot connect' "$CLUSTER_DIR/tlsbad.log"
	check "with another CA the broker is refused" disconnected info_field "$CLUSTER_DIR/tlsbad/.lockfs/status" amqp
	check "and the daemon says why" 1 bash -c "grep -c 'amqp: cannot connect' $CLUSTER_DIR/tlsbad.log"
	check "locks still work there (Redis is the truth)" OK fsop open "$CLUSTER_DIR/tlsbad/sec/tls2" wcn
	for m in tls tlsbad; do fusermount3 -u "$CLUSTER_DIR/$m"; done
else
	fail "no TLS listener on the test broker (LOCKFS_AMQPS_URL unset)"
fi

rm -f $T.*
finish
