#!/usr/bin/env bash
# control.sh - the control directory (SPEC section 8): status fields, and
# the event stream seen on one node for locks taken, waited for, released
# and ended on others; poll(), O_NONBLOCK and signals on the stream.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 3
T=/tmp/control.$$

# --- status ---------------------------------------------------------------
check "status names the node" n2 info_field "$N2/.lockfs/status" node
check "status says redis is connected" connected info_field "$N2/.lockfs/status" redis
check "status says the broker is connected" connected info_field "$N2/.lockfs/status" amqp
check "status has a version" 1 bash -c "grep -c '^version=[0-9]' $N2/.lockfs/status"
in_session bash -c ": > $N2/held; sleep 3" &
sh=$!
sleep 0.5
check "status counts the locks this node holds" 1 info_field "$N2/.lockfs/status" locks_held
check "the control directory lists its files" "events status" bash -c "ls $N1/.lockfs | tr '\n' ' ' | sed 's/ \$//'"
check "status is read-only" EACCES fsop open "$N1/.lockfs/status" w

# --- events ---------------------------------------------------------------
timeout 6 cat "$N3/.lockfs/events" >$T.ev &
ev=$!
sleep 0.5
: >"$N1/e1"
setsid bash -c ": > $N2/e1" &
w=$!
sleep 0.5
rm "$N1/e1"
wait $w
sleep 0.3
setsid bash -c "printf 'keepalive=off\nttl=500ms\n' > $N1/e2"
in_session python3 "$TESTS_LIB/fsop.py" unlink "$N3/held" >/dev/null
sleep 1
wait $ev
check "n3 sees n1's acquire" 1 grep -c ' acquired e1 [0-9]* n1 ' $T.ev
check "n3 sees n2 waiting" 1 grep -c ' waiting e1 0 n2 ' $T.ev
check "n3 sees n1's release" 1 grep -c ' released e1 [0-9]* n1 ' $T.ev
check "n3 sees the handoff to n2" 1 grep -c ' acquired e1 [0-9]* n2 ' $T.ev
check "n3 sees n2's owner-exit" 1 grep -c ' owner-exit e1 [0-9]* n2 ' $T.ev
check "n3 sees its own break of n2's lock" 1 grep -c ' broken held [0-9]* n2 ' $T.ev
check "lines have seven fields" 0 bash -c "awk 'NF != 7' $T.ev | wc -l"
check "a release carries its grant's token" 1 bash -c "
  a=\$(grep ' acquired e1 [0-9]* n1 ' $T.ev | awk '{print \$4}')
  grep -c \" released e1 \$a n1 \" $T.ev"
wait $sh 2>/dev/null

check "a second reader starts from its own open" 0 bash -c "timeout 1 cat $N1/.lockfs/events | wc -l"
check "O_NONBLOCK read of an empty stream: EAGAIN" EAGAIN python3 -c "
import os, errno
fd = os.open('$N1/.lockfs/events', os.O_RDONLY | os.O_NONBLOCK)
try:
    os.read(fd, 4096); print('data')
except OSError as e:
    print(errno.errorcode[e.errno])"
check "poll() wakes up when an event comes" "timeout acquired" python3 -c "
import os, select, subprocess
fd = os.open('$N1/.lockfs/events', os.O_RDONLY)
p = select.poll(); p.register(fd, select.POLLIN)
print('timeout' if not p.poll(300) else 'early')
subprocess.run(['setsid', 'python3', '$TESTS_LIB/fsop.py', 'open', '$N2/e3', 'wcn'],
               stdout=subprocess.DEVNULL)
print(os.read(fd, 4096).split()[1].decode() if p.poll(5000) else 'nothing')"
check "a signal ends a blocked read with EINTR" EINTR python3 -c "
import ctypes, errno, os, signal
libc = ctypes.CDLL(None, use_errno=True)
signal.signal(signal.SIGALRM, lambda *a: None)
signal.setitimer(signal.ITIMER_REAL, 0.3)
fd = os.open('$N1/.lockfs/events', os.O_RDONLY)
buf = ctypes.create_string_buffer(4096)
n = libc.read(fd, buf, 4096)
print('data' if n > 0 else errno.errorcode[ctypes.get_errno()])"

rm -f $T.*
finish
