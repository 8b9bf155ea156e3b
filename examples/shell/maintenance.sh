#!/usr/bin/env bash
# maintenance.sh - hold a whole subtree of locks while you work on what it
# protects: a maintenance window for every job under one namespace.
#
#   maintenance.sh [-n] NAMESPACE [COMMAND [ARG...]]
#
# e.g.  maintenance.sh /locks/db ./migrate-schema.sh
#       maintenance.sh /locks/db          (a shell; leave it to release)
#
# A namespace is locked through the file `.lock` in its directory:
# NAMESPACE/.lock is the lock on NAMESPACE itself, and it conflicts with
# every lock below it (and with /.lock and every .lock above it).  So
#
#  - taking it waits until no job under NAMESPACE holds a lock: running
#    jobs finish, and new ones queue behind this request instead of
#    starving it (first come, first served across the cluster);
#  - while it is held, every job under NAMESPACE is refused (touch,
#    flock -n: busy) or waits (`: >`, flock) until it is released.
#
# -n: do not wait; exit 75 at once if anything under NAMESPACE is held.
#
# The maintenance command itself cannot take locks under NAMESPACE either:
# nested locks of one owner conflict like anyone else's.  As in
# serialize-job.sh, the lock is a lease of this script's session: start it
# with `setsid -w` if another run in the same session could hold it already.
#
# Exit status: COMMAND's (or the shell's); 75 when -n found the subtree busy
# or the wait failed (the mount's acquire_timeout); 128+N when signal N
# ended it; 1 when touch could not take the lock for another reason.
set -u
me=${0##*/}

try=0
if [ "${1:-}" = -n ]; then
	try=1
	shift
fi
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $me [-n] NAMESPACE [COMMAND [ARG...]]  (NAMESPACE: a directory in a lockfs mount)" >&2
	exit 2
fi
lock=${1%/}/.lock
shift
[ $# -gt 0 ] || set -- "${SHELL:-/bin/sh}"

held=0
release() {
	[ "$held" = 1 ] || return 0
	rm -f "$lock" || echo "$me: lost $lock during the maintenance" >&2
}
trap release EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$try" = 1 ]; then
	if ! err=$(LC_ALL=C touch "$lock" 2>&1); then
		case $err in
		*"Resource temporarily unavailable"*) # EAGAIN
			echo "$me: ${lock%/.lock} is busy: a lock in it is held" >&2
			exit 75
			;;
		esac
		echo "$err" >&2
		exit 1
	fi
else
	echo "$me: waiting for every job under ${lock%/.lock} to finish" >&2
	: >"$lock" || exit 75
fi
held=1
echo "$me, pid $$, by ${USER:-uid $(id -u)}: $*" >"$lock"
echo "$me: ${lock%/.lock} is locked; jobs under it wait or are refused" >&2

"$@"
