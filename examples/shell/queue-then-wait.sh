#!/bin/bash
# queue-then-wait.sh - queue for a lock first, do other work, wait later:
# a request handle (MOUNT/.lockfs/request) in plain bash.
#
#   queue-then-wait.sh MOUNT LOCK [LOCK...]
#
# The write queues the request (FIFO with everyone else) and returns at
# once; the read waits for the outcome line: "granted NAME=TOKEN ..." or
# "error ERRNAME".  The locks are then ordinary leases of this shell's
# session: rm releases them.  Closing the handle before the grant (or this
# script dying) withdraws the request.
set -eu
mount=$1
shift
exec 3<>"$mount/.lockfs/request"
echo "$*" >&3 # queued now; fails at once for a bad name (EINVAL, ENOENT)
echo "queued for $*; preparing meanwhile..."
# ... prepare the job here, while waiting in the queue ...
read -r outcome <&3 # waits for the grant
exec 3<&-
case "$outcome" in
granted*) echo "$outcome" ;;
*) echo "not granted: $outcome" >&2; exit 1 ;;
esac
# ... the job, holding the locks ...
for name in "$@"; do
	name=${name#shared:}
	rm -f "$mount/${name#exclusive:}"
done
