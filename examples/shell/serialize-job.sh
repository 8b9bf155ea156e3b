#!/usr/bin/env bash
# serialize-job.sh - one run of a job at a time in the whole cluster, with
# nothing but `touch`, `: >` and `rm` on a lockfs lock file.
#
#   serialize-job.sh LOCK COMMAND [ARG...]          try once; busy: exit 75
#   serialize-job.sh --wait LOCK COMMAND [ARG...]   wait for the lock
#
# For example, from cron on every node:
#
#   */5 * * * * setsid -w /opt/lockfs/serialize-job.sh /locks/jobs/report /opt/bin/report
#
# `touch` opens the lock file with O_NONBLOCK: it takes the lock when it is
# free and fails at once (EAGAIN) when anyone else holds it.  `: > LOCK`
# opens it without O_NONBLOCK: it waits, first come first served across the
# cluster, and returns holding the lock.  `rm` releases it, and the trap
# makes sure that happens however the script ends.
#
# The lock is a lease of this script's owner: node, uid and (kernel) session.
# Runs in sessions of their own exclude each other: two terminals, two ssh
# commands, two systemd units.  Runs that share a session - started from
# one interactive shell, or by a scheduler that does not make a session per
# job - would share the lock: the second would renew the first one's lock
# instead of waiting.  Start those with `setsid -w`, as in the cron line.
# If the script dies without running its trap (kill -9), the daemon
# releases the lock as soon as the session is gone; if the node dies, the
# lock expires after its TTL.
#
# Exit status: the command's; 75 (EX_TEMPFAIL) when the lock is busy or the
# wait failed (the mount's acquire_timeout); 128+N when signal N ended it;
# 1 when touch could not take the lock for another reason (no such
# namespace, no permission).
set -u
me=${0##*/}

wait_for_it=0
if [ "${1:-}" = --wait ]; then
	wait_for_it=1
	shift
fi
if [ $# -lt 2 ]; then
	echo "usage: $me [--wait] LOCK COMMAND [ARG...]" >&2
	exit 2
fi
lock=$1
shift

# the first value of KEY in the lock's info text (see README, "What a lock
# file says"); empty when the lock is free
field() { sed -n "s/^$1=//p" "$lock" 2>/dev/null | head -1; }

held=0
release() {
	[ "$held" = 1 ] || return 0
	# rm fails with ESTALE when the lease expired or was broken meanwhile:
	# then the job ran (partly) without the lock, and someone must know
	rm -f "$lock" || echo "$me: lost $lock while the job ran" >&2
}
trap release EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$wait_for_it" = 1 ]; then
	# waits; fails on a signal (EINTR) or the mount's acquire_timeout
	: >"$lock" || exit 75
else
	if ! err=$(LC_ALL=C touch "$lock" 2>&1); then
		case $err in
		*"Resource temporarily unavailable"*) # EAGAIN: busy
			if [ -e "$lock" ]; then
				echo "$me: $lock is busy: node $(field node): $(field note)" >&2
			else
				echo "$me: $lock is busy: a lock above or below it is held" >&2
			fi
			exit 75
			;;
		esac
		echo "$err" >&2
		exit 1
	fi
fi
held=1

# a note for whoever runs `cat LOCK`; as any write by the holder, it also
# renews the lease
echo "$me, pid $$: $*" >"$lock"

"$@"
