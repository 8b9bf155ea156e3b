#!/usr/bin/env bash
# flock-job.sh - one run of a job at a time in the whole cluster, with
# flock(1): the way scripts already serialize work on one machine.
#
#   flock-job.sh LOCK COMMAND [ARG...]           wait as long as it takes
#   flock-job.sh -n LOCK COMMAND [ARG...]        busy: skip, exit 75
#   flock-job.sh -w SECS LOCK COMMAND [ARG...]   give up after SECS: exit 75
#
# e.g.  flock-job.sh -w 30 /locks/jobs/backup /opt/bin/backup --full
#
# flock(1) opens LOCK read-only (with O_CREAT: on a free lock that makes a
# local placeholder that takes nothing) and calls flock(2) on it, which
# lockfs turns into the cluster-wide lock: a *handle lock*, owned by that
# open file, not a lease of the session.  Compared with serialize-job.sh:
#
#  - two runs exclude each other even when started from one shell;
#  - nothing to release by hand: the lock ends when the file is closed,
#    i.e. when COMMAND exits, and at once if it is killed (even kill -9);
#  - the daemon keeps the lock alive as long as it is held; only the death
#    of the node (or its daemon) leaves it to expire after its TTL.
#
# Mind the fd idiom `( flock -n 9 || exit 1; ... ) 9>LOCK`: on lockfs,
# opening a lock file for *writing* takes the lock by itself, and waits for
# it, before flock -n is even called.  Use the command form, as here, or
# open read-only (`9<LOCK`, which needs the file to exist).
#
# Exit status: the command's, or 75 (EX_TEMPFAIL) when -n found the lock
# busy or -w gave up.
set -u
me=${0##*/}

usage() {
	echo "usage: $me [-n | -w SECS] LOCK COMMAND [ARG...]" >&2
	exit 2
}

opts=()
case ${1:-} in
-n)
	opts=(-n)
	shift
	;;
-w)
	[ $# -ge 2 ] || usage
	opts=(-w "$2")
	shift 2
	;;
esac
[ $# -ge 2 ] || usage
lock=$1
shift

# -E: the exit status when -n or -w does not get the lock, so that "busy"
# is not mistaken for the job's own failure (flock's default is 1)
exec flock "${opts[@]}" -E 75 "$lock" "$@"
