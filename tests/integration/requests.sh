#!/usr/bin/env bash
# requests.sh - request handles, /.lockfs/request (the README, "Waiting
# without a thread"), across three mounts, as different sessions and
# users: the write returns at once and queues; poll() and read give the
# outcome; closing before the grant withdraws, after it releases nothing;
# a signal ends a read, not the request; bad lines, a second write,
# EDEADLK, acquire_timeout and unmount.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 3
users_setup
T=/tmp/requests.$$
REQ="$TESTS_LIB/request.py"
mkdir -m 1777 "$N1/db"

# hold NAME: a lease on n1 in a session of its own until $T.NAME.stop
hold() {
	local stop=$T.$(basename "$1").stop
	rm -f "$stop"
	setsid bash -c ": > $1 && while [ ! -e $stop ]; do sleep 0.05; done; rm -f $1" &
	BG+=($!)
	wait_until 5 test -e "$1"
}
waiters_of() { info_field "$1" waiters; }
waiters_are() { [ "$(waiters_of "$1")" = "$2" ]; }
field_of() { sed -n "s/^$2 //p" "$1" | head -1; }
has_line() { grep -q "^$2" "$1"; }
sleep_then_no_outcome() { sleep 1; ! has_line "$1" outcome; }
export -f waiters_of field_of

# --- the write queues at once; poll() and read give the outcome -------------
hold "$N1/db/x"
# the requester's session lives on after the program closes its handle
setsid bash -c "python3 $REQ wait $N2 db/x $T.go1 >$T.o1
  while [ ! -e $T.end1 ]; do sleep 0.05; done
  rm $N2/db/x && echo rm-ok >$T.rm1" &
r1=$!
wait_until 10 has_line $T.o1 written
written=$(field_of $T.o1 written)
expect "the write returns at once while n1 holds the lock (${written} ms)" \
	awk -v m="$written" 'BEGIN {exit !(m < 100)}'
expect "the request is queued: the lock shows one waiter" wait_until 5 waiters_are "$N3/db/x" 1
check "and n1 still holds it" n1 info_field "$N3/db/x" node
expect "no outcome before the release" test ! -s <(grep pollin $T.o1)
t0=$(date +%s%N)
touch $T.x.stop
expect "POLLIN comes once n1 releases" wait_until 10 has_line $T.o1 outcome
ms=$((($(date +%s%N) - t0) / 1000000))
expect "... promptly (${ms} ms after the release)" test "$ms" -lt 3000
token=$(info_field "$N3/db/x" token)
check "the outcome names the lock and its token" "granted db/x=$token" field_of $T.o1 outcome
check "the lock's holder is the requester, on n2" n2 info_field "$N3/db/x" node
check "a second read gives end of file" 1 grep -c '^eof' $T.o1
check "nobody waits any more" 0 waiters_of "$N3/db/x"
touch $T.go1
wait_until 10 has_line $T.o1 closed
check "closing the handle after the grant releases nothing" n2 info_field "$N3/db/x" node
touch $T.end1
wait $r1
check "the lock is an ordinary lease: its holder's session can rm it" rm-ok cat $T.rm1
check "... and it is gone" "" bash -c "ls $N3/db | grep -x x"

# a free lock: granted by the write itself
in_session python3 "$REQ" wait "$N3" "db/free shared:db/ro" $T.go2 >$T.o2 &
r2=$!
wait_until 10 has_line $T.o2 outcome
check "a free set is granted at once, in the order written" \
	"granted db/free=$(info_field "$N1/db/free" token) db/ro=$(info_field "$N1/db/ro" token)" \
	field_of $T.o2 outcome
check "... with the modes written" "exclusive shared" bash -c \
	"echo \$(sed -n 's/^mode=//p' $N1/db/free $N1/db/ro)"
touch $T.go2
wait $r2

# --- O_NONBLOCK, a second write -------------------------------------------
hold "$N1/db/nb"
in_session python3 "$REQ" nonblock "$N2" db/nb >$T.o3 &
r3=$!
expect "a read before the outcome, O_NONBLOCK: EAGAIN" wait_until 10 has_line $T.o3 read-error
check "... exactly" EAGAIN field_of $T.o3 read-error
expect "a second write: EBUSY" wait_until 5 has_line $T.o3 write2-error
check "... exactly" EBUSY field_of $T.o3 write2-error
check "the first request stays queued" 1 waiters_of "$N3/db/nb"
touch $T.nb.stop
wait $r3
check "and is granted after the release" "granted db/nb=" bash -c "field_of $T.o3 outcome | sed 's/[0-9]*\$//'"

# --- closing before the grant withdraws ------------------------------------
hold "$N1/db/c"
in_session python3 "$REQ" close "$N2" db/c >$T.o4
check "write then close" closed cat $T.o4
expect "the closed request leaves the queue" wait_until 5 waiters_are "$N3/db/c" 0
in_session python3 "$REQ" wait "$N3" db/c $T.go5 >$T.o5 &
r5=$!
expect "a later request queues" wait_until 5 waiters_are "$N1/db/c" 1
touch $T.c.stop
expect "and gets the lock when n1 lets go" wait_until 10 has_line $T.o5 outcome
check "... not the withdrawn one" n3 info_field "$N1/db/c" node
touch $T.go5
wait $r5
rm -f "$N1/db/c"

# kill -9 of the waiting program
hold "$N1/db/k"
setsid python3 "$REQ" wait "$N2" db/k $T.go6 >$T.o6 &
r6=$!
wait_until 5 waiters_are "$N3/db/k" 1
kill -9 $r6
wait $r6 2>/dev/null
expect "kill -9 of the waiting program withdraws its request" wait_until 5 waiters_are "$N3/db/k" 0
touch $T.k.stop
expect "and the lock is free for the next" wait_until 5 test ! -e "$N3/db/k"

# --- a signal ends the read, not the request -------------------------------
hold "$N1/db/i"
in_session python3 "$REQ" eintr "$N2" db/i $T.go7 >$T.o7 &
r7=$!
expect "a blocking read interrupted by a signal returns" wait_until 10 has_line $T.o7 read-interrupted
check "the request stays queued" 1 waiters_of "$N3/db/i"
touch $T.i.stop
expect "a later read on the same handle gets the grant" wait_until 10 has_line $T.o7 outcome
check "... granted" "granted db/i=$(info_field "$N3/db/i" token)" field_of $T.o7 outcome
touch $T.go7
wait $r7

# --- bad lines fail the write, nothing queued ------------------------------
mkdir -m 0700 "$N1/private"
for bad in "" "db/x/../y" "db//x" "nosuchns/x" "db" "db/.."; do
	out=$(in_session python3 "$REQ" write "$N2" "$bad")
	case "$bad" in
	nosuchns/x) want="error ENOENT" ;;
	db) want="error EISDIR" ;;
	*) want="error EINVAL" ;;
	esac
	check "the line '$bad': $want" "$want" echo "$out"
done
check "a namespace the writer may not enter: EACCES" "error EACCES" \
	as_user lockfs-a python3 "$REQ" write "$N2" private/x
check "nothing was taken by them" "" bash -c "ls -A $N3/private; ls $N3 | grep nosuchns"

# --- EDEADLK: the second owner closing a cycle -----------------------------
mkdir -m 1777 "$N1/dl"
setsid bash -c ": > $N2/dl/b && touch $T.b.held && while [ ! -e $T.dl.ask ]; do sleep 0.05; done;
  python3 $REQ write $N2 dl/a > $T.o8; touch $T.dl.done; while [ ! -e $T.dl.stop ]; do sleep 0.05; done; rm -f $N2/dl/b" &
BG+=($!)
wait_until 5 test -e $T.b.held
setsid bash -c ": > $N1/dl/a && python3 $REQ wait $N1 dl/b $T.go9 > $T.o9; rm -f $N1/dl/a" &
r9=$!
expect "the owner holding a queues for b" wait_until 10 waiters_are "$N3/dl/b" 1
touch $T.dl.ask
wait_until 10 test -e $T.dl.done
check "the owner holding b asking for a: the write fails with EDEADLK" "error EDEADLK" cat $T.o8
check "and nothing of it was queued" 0 waiters_of "$N3/dl/a"
touch $T.dl.stop
expect "the first gets b when it is released" wait_until 10 has_line $T.o9 outcome
touch $T.go9
wait $r9

# --- acquire_timeout counts from the write --------------------------------
cluster_add_node 4 acquire_timeout=1s
hold "$N1/db/t"
in_session python3 "$REQ" wait "$N4" db/t $T.go10 >$T.o10 &
r10=$!
expect "a request on a mount with acquire_timeout=1s ends" wait_until 10 has_line $T.o10 outcome
check "... with error ETIMEDOUT" "error ETIMEDOUT" field_of $T.o10 outcome
pin=$(field_of $T.o10 pollin)
expect "... about a second after the write (${pin} ms)" \
	awk -v m="$pin" 'BEGIN {exit !(m >= 900 && m < 5000)}'
check "and left the queue" 0 waiters_of "$N3/db/t"
touch $T.go10
wait $r10
touch $T.t.stop

# --- a semaphore holds a request back like any wait -----------------------
mkdir -m 1777 "$N1/gpu"
setfattr -n user.lockfs.limit -v 1 "$N1/gpu"
hold "$N1/gpu/a"
in_session python3 "$REQ" wait "$N2" gpu/b $T.go11 >$T.o11 &
r11=$!
expect "a request in a full semaphore namespace: the write returns" wait_until 10 has_line $T.o11 written
expect "... and no outcome while the slot is taken" sleep_then_no_outcome $T.o11
touch $T.a.stop
expect "the freed slot grants it" wait_until 10 has_line $T.o11 outcome
check "... granted gpu/b" "granted gpu/b=" bash -c "field_of $T.o11 outcome | sed 's/[0-9]*\$//'"
touch $T.go11
wait $r11

# --- the flock view has the same request handles ------------------------------
cluster_add_node 5 open=flock
hold "$N1/db/fv"
in_session python3 "$REQ" wait "$N5" db/fv $T.go12 >$T.o12 &
r12=$!
expect "on an open=flock mount, the write queues" wait_until 10 waiters_are "$N3/db/fv" 1
touch $T.fv.stop
expect "... and the release grants it" wait_until 10 has_line $T.o12 outcome
check "... to n5" n5 info_field "$N3/db/fv" node
touch $T.go12
wait $r12

# --- closing as the grant comes: nothing held for nobody, nothing queued ----
raced_clean() { [ "$(waiters_of "$N3/db/race")" = "" ] || return 1; }
for k in 1 2 3 4 5 6 7 8; do
	rm -f $T.race.stop $T.race.done
	setsid bash -c ": > $N1/db/race && while [ ! -e $T.race.stop ]; do sleep 0.001; done; rm -f $N1/db/race" &
	rh=$!
	wait_until 5 test -e "$N2/db/race"
	# the requester's session ends with the script, as a killed job's does
	setsid -w python3 "$REQ" race "$N2" db/race $T.race.stop >/dev/null
	wait $rh
	wait_until 5 raced_clean || break
done
check "8 closes racing their grant: the lock is free after each" 8 echo $k
expect "... and a request afterwards gets it at once" bash -c \
	"setsid -w python3 $REQ wait $N2 db/race $T.race.stop | grep -q '^outcome granted'"

# --- unmount ends a pending request with error EIO ------------------------
# on a node of its own without acquire_timeout: n4's 1 s timeout could end
# the wait before the daemon sees the detach (it looks once a second)
cluster_add_node 6
hold "$N1/db/u"
in_session python3 "$REQ" wait "$N6" db/u $T.go13 >$T.o13 &
r13=$!
wait_until 10 waiters_are "$N3/db/u" 1
umount -l "$N6"
expect "an unmount ends the pending request" wait_until 10 has_line $T.o13 outcome
check "... with error EIO" "error EIO" field_of $T.o13 outcome
expect "... and takes it out of the queue" wait_until 10 waiters_are "$N3/db/u" 0
touch $T.go13 $T.u.stop
wait $r13

finish
