#!/usr/bin/env bash
# badinput.sh - every bad input gets the spec's errno and leaves every lock
# as it was (README; issue 7): odd bytes in names, over-long names
# and chains, malformed, oversized and binary writes, reserved names, the
# refused operations; then thousands of descriptors opened and never
# closed.  The daemons stay up and their memory stays bounded.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 2 "keepalive=off,ttl=1h"
T=/tmp/badinput.$$
mkdir -p "$N1/bad"

# a witness lock whose state must never change
echo "witness" >"$N1/bad/witness"
witness() { grep -E '^(token|renewed|note|ttl)=' "$N2/bad/witness" | tr '\n' ' ' | sed 's/ $//'; }
export -f witness
w0=$(witness)

# --- names -------------------------------------------------------------------
check "a lock for every byte but NUL and '/' in its name round-trips" ok python3 -c "
import os, sys
d1, d2 = b'$N1/bad/', b'$N2/bad/'
bad = []
for b in range(1, 256):
    if b == ord('/'):
        continue
    name = b'n' + bytes([b]) + b'x'
    try:
        os.close(os.open(d1 + name, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK))
        if name not in os.listdir(d2):
            bad.append((b, 'not listed'))
        with open(d2 + name, 'rb') as f:
            first = f.readline()
        if not first.startswith(b'name=bad/') or first.count(b'\n') != 1:
            bad.append((b, 'info ' + repr(first)))
        os.unlink(d1 + name)
        if os.path.exists(d2 + name):
            bad.append((b, 'not released'))
    except OSError as e:
        bad.append((b, e.strerror))
print('ok' if not bad else bad[:5])"
check "a 255-byte component is a lock" OK fsop open "$N1/bad/$(printf 'a%.0s' {1..255})" wcn
rm -f "$N1/bad/$(printf 'a%.0s' {1..255})"
check "a 256-byte component: ENAMETOOLONG" ENAMETOOLONG fsop open "$N1/bad/$(printf 'a%.0s' {1..256})" wcn
long=bad
for i in 1 2 3 4 5; do long="$long/$(printf 'd%.0s' {1..250})"; done
check "a name over 1024 bytes: ENAMETOOLONG" ENAMETOOLONG python3 -c "
import errno, os
p = '$N1/' + '$long'
try:
    os.makedirs(p); print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])"
chain=bad/c
for i in $(seq 2 31); do chain="$chain/c"; done # 32 components with bad/
check "32 components make a lock" OK bash -c "mkdir -p $N1/${chain%/c} && python3 $TESTS_LIB/fsop.py open $N1/$chain wcn"
check "a conflict is seen across all 32 levels" EAGAIN in_session python3 "$TESTS_LIB/fsop.py" open "$N2/bad/.lock" wcn
rm -f "$N1/$chain"
check "32 components make a namespace" OK fsop mkdir "$N1/$chain" 755
check "33 components: ENAMETOOLONG for a lock" ENAMETOOLONG fsop open "$N1/$chain/c" wcn
check "and for a namespace" ENAMETOOLONG fsop mkdir "$N1/$chain/c" 755
check "the whole chain can be removed again" 0 bash -c "rmdir -p $N1/$chain 2>/dev/null; test -d $N1/bad; echo \$?"
check "a namespace called .lock: EINVAL" EINVAL fsop mkdir "$N1/bad/.lock" 755
check "a namespace called .lockfs at the root: refused" EEXIST fsop mkdir "$N1/.lockfs" 755
check "a lock called .lockfs at the root: refused (it is a directory)" EISDIR fsop open "$N1/.lockfs" wcn

# --- writes ------------------------------------------------------------------
W="$N1/bad/witness"
check "binary bytes: EINVAL" EINVAL fsop write "$W" "$(printf 'a\001b')"
check "a DEL byte: EINVAL" EINVAL fsop write "$W" "$(printf 'a\177b')"
check "a lone CR inside a line: EINVAL" EINVAL fsop write "$W" "$(printf 'a\rb')"
check "ttl=banana: EINVAL" EINVAL fsop write "$W" "ttl=banana"
check "ttl below its minimum: EINVAL" EINVAL fsop write "$W" "ttl=1ms"
check "ttl over its maximum: EINVAL" EINVAL fsop write "$W" "ttl=100000d"
check "an overflowing ttl: EINVAL" EINVAL fsop write "$W" "ttl=9223372036854775.9s"
check "keepalive=sometimes: EINVAL" EINVAL fsop write "$W" "keepalive=sometimes"
check "two ttl lines: EINVAL" EINVAL fsop write "$W" "$(printf 'ttl=5s\nttl=6s')"
check "a 1 MiB write: EINVAL" EINVAL python3 -c "
import errno, os
fd = os.open('$W', os.O_WRONLY)
try:
    os.write(fd, b'x' * (1 << 20)); print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])"
check "a write at an offset past the end is taken as a command or refused, never a crash" 0 python3 -c "
import os
fd = os.open('$W', os.O_WRONLY)
try:
    os.pwrite(fd, b'witness', 1 << 40)
except OSError:
    pass
print(0)"
echo "witness" >"$W" # the note as it was (a write renews, so compare after)
w0=$(witness)

# --- refused operations ------------------------------------------------------
check "rename: EPERM" EPERM fsop rename "$W" "$N1/bad/other"
check "link: EPERM" EPERM fsop link "$W" "$N1/bad/other"
check "symlink: EPERM" EPERM fsop symlink "$W" "$N1/bad/other"
check "mknod: EPERM" EPERM fsop mknod "$N1/bad/fifo"
check "chmod on a lock: EPERM" EPERM fsop chmod "$W" 600
check "mkdir of an existing namespace: EEXIST" EEXIST fsop mkdir "$N2/bad" 755
check "rmdir of a namespace with a lock: ENOTEMPTY" ENOTEMPTY fsop rmdir "$N2/bad"
check "a directory lock's file cannot become a namespace: EEXIST or EINVAL" 1 bash -c "
	r=\$(python3 $TESTS_LIB/fsop.py mkdir $N1/bad/witness 755); [ \$r = EEXIST ] || [ \$r = EINVAL ]; echo \$((\$? == 0))"
check "the witness lock is exactly as it was" "$w0" witness

# --- thousands of descriptors opened and never closed ------------------------
rss() { awk '/^VmRSS:/ {print $2}' /proc/"${NODE_PIDS[1]}"/status; }
r0=$(rss)
python3 - "$N1/bad" "$T.fds" <<'EOF' &
import os, sys, time
d, out = sys.argv[1], sys.argv[2]
fds = []
for i in range(2000):
    fds.append(os.open(d + '/witness', os.O_RDONLY))      # readers
    fds.append(os.open(d + '/ph%d' % i, os.O_RDONLY | os.O_CREAT))  # placeholders
open(out, 'w').write('%d\n' % len(fds))
time.sleep(600)
EOF
fp=$!
wait_until 120 test -s "$T.fds"
check "4000 descriptors are open on n1" 4000 cat "$T.fds"
check "the daemon answers meanwhile" n1 info_field "$N1/.lockfs/status" node
check "placeholders are local: n2 sees none" 0 bash -c "ls $N2/bad | grep -c '^ph'"
r1=$(rss)
kill -9 "$fp"
wait "$fp" 2>/dev/null
check "when the process dies they are all gone" 0 bash -c "
	for i in \$(seq 100); do n=\$(ls $N1/bad | grep -c '^ph'); [ \$n = 0 ] && break; sleep 0.1; done; echo \$n"
for i in $(seq 20); do sleep 0.1; done
r2=$(rss)
# AddressSanitizer keeps freed memory in quarantine (256 MB by default)
slack=20000
grep -q libasan "/proc/${NODE_PIDS[1]}/maps" 2>/dev/null && slack=400000
expect "the daemon's memory is bounded (RSS ${r0} -> ${r1} -> ${r2} kB)" test "$r2" -lt $((r0 + slack))
check "the witness lock is still exactly as it was" "$w0" witness
check "and both daemons are alive" "n1 n2" bash -c "info_field $N1/.lockfs/status node; info_field $N2/.lockfs/status node"
rm -f $T.*
finish
