#!/usr/bin/env bash
# lockset.sh - take several locks at once, all of them or none, through
# the control file /.lockfs/acquire, then run a command and release them.
#
#   lockset.sh [-n] MOUNT NAME... -- COMMAND [ARG...]
#
# e.g.  lockset.sh /locks db/customers db/orders shared:cfg/.lock -- ./move-orders.sh
#
# NAME is a lock path inside the mount, optionally prefixed `shared:` (or
# `exclusive:`, the default).  One line of names written in one write to
# MOUNT/.lockfs/acquire is decided by one atomic script in Redis:
#
#  - granted, every member is an ordinary lease of the writer's owner (this
#    script's session), released with `rm`, which the trap does;
#  - busy, the write waits - first come, first served with every other
#    request, holding *nothing* meanwhile - so two jobs that need the same
#    locks in a different order can never deadlock, and nobody sees half
#    of the set taken.
#
# -n: do not wait; the write is made with O_NONBLOCK (dd oflag=nonblock)
# and fails with EAGAIN if any member is busy: exit 75, nothing taken.
#
# At most 64 names; no two on one branch of the tree unless both are shared
# (the daemon answers EINVAL, and takes nothing).
#
# Exit status: COMMAND's; 75 when -n found the set busy; 1 when the set was
# not taken otherwise: the daemon refused the line (EINVAL, ENOENT, EACCES)
# or the wait ended (a signal: EINTR, the mount's acquire_timeout).
set -u
me=${0##*/}

try=0
if [ "${1:-}" = -n ]; then
	try=1
	shift
fi
mnt=${1:-}
shift
names=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	names+=("$1")
	shift
done
if [ ! -e "$mnt/.lockfs/acquire" ] || [ ${#names[@]} -eq 0 ] ||
	[ "${1:-}" != -- ] || [ $# -lt 2 ]; then
	echo "usage: $me [-n] MOUNT NAME... -- COMMAND [ARG...]  (MOUNT: a lockfs mount)" >&2
	exit 2
fi
shift

held=0
release() {
	local name path rc=0
	[ "$held" = 1 ] || return 0
	for name in "${names[@]}"; do
		path=${name#shared:}
		path=${path#exclusive:}
		rm -f "$mnt/${path#/}" || rc=1
	done
	[ "$rc" = 0 ] || echo "$me: lost a lock of the set while the command ran" >&2
}
trap release EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

line="${names[*]}"
if [ "$try" = 1 ]; then
	# bash cannot open with O_NONBLOCK; dd can.  iflag=fullblock with a big
	# block: the whole line in one write
	if ! err=$(printf '%s\n' "$line" | LC_ALL=C dd of="$mnt/.lockfs/acquire" \
		oflag=nonblock conv=notrunc bs=1M iflag=fullblock status=none 2>&1); then
		case $err in
		*"Resource temporarily unavailable"*) # EAGAIN
			echo "$me: busy, took nothing: $line" >&2
			exit 75
			;;
		esac
		echo "$err" >&2
		exit 1
	fi
else
	# one printf of one short line is one write, made by this shell itself
	# (so that a signal ends the wait); it returns when all of the set is held
	printf '%s\n' "$line" >"$mnt/.lockfs/acquire" || exit 1
fi
held=1

"$@"
