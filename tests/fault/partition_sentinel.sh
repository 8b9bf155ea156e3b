#!/usr/bin/env bash
# partition_sentinel.sh - a Sentinel failover caused by a partition, not a
# kill.  The Redis master and node n2 run in a network namespace of their
# own (tests/lib/netns.sh); the replica, the three sentinels and node n1
# on the machine's side.  Cutting the link leaves the old master with n2
# while the sentinels promote the replica for n1.  With redis_replicas=1:
#
#   - nothing is ever held by two processes at once (workers on both
#     nodes take one lock in turn through it all);
#   - a grant on the isolated side fails with EIO (no replica confirms it);
#   - n2's holder hears of the loss (its writes fail) before anyone else
#     can have its lock;
#   - after the heal the old master becomes a replica, n2 follows the new
#     master, and both nodes see one tree.
. "$(dirname "$0")/../lib/cluster.sh"
. "$TESTS_LIB/sentinel.sh"
. "$TESTS_LIB/netns.sh"
T=/tmp/lockfs-psent.$$
SENT_DIR=$(mktemp -d /tmp/lockfs-psent-run.XXXXXX)
eval "cluster_cleanup_base$(declare -f cluster_cleanup | sed 1s/cluster_cleanup//)"
BG=()
cluster_cleanup() {
	local p f
	for p in "${BG[@]}" "${TURNS_PIDS[@]}"; do kill -9 -- "-$p" 2>/dev/null; done
	if [ "$T_FAIL" -ne 0 ]; then
		for f in "$SENT_DIR"/*/*.log; do
			echo "--- $f"
			tail -20 "$f"
		done
	fi
	cluster_cleanup_base
	sentinel_stop "$SENT_DIR"
	netns_down
	rm -rf "$SENT_DIR" "$T".*
}
trap cluster_cleanup EXIT

netns_ready # RabbitMQ, the namespace, n2's way to the broker
SENTINEL_MASTER_AT=$NETNS_ME
SENTINEL_MASTER_RUN="netns_run"
SENTINEL_BIND="127.0.0.1 $NETNS_HOST"
sentinel_start "$SENT_DIR" || exit 1
OLD=${SENTINEL_DATA_PORTS[0]}
S=("${SENTINEL_PORTS[@]}")
OPTS="backend_timeout=2s,ttl=3s,redis_replicas=1"
export LOCKFS_REDIS_URL=$SENTINEL_OPT_URL
cluster_mount 1 "$OPTS"
expect "n2 mounts inside the namespace, beside the master" netns_mount 2 "$OPTS" \
	"sentinel://$NETNS_HOST:${S[0]}\\,$NETNS_HOST:${S[1]}\\,$NETNS_HOST:${S[2]}/$SENTINEL_NAME"
mkdir -m 1777 "$N1/ps"
expect "both nodes see one tree" taken_and_seen "$N1" "$N2" ps n1

# workers on both nodes take one lock in turn through it all
turns_start "$T.turns" "$T.turns.stop" "$N1/ps/hot" "$N2/ps/hot" "$N1/ps/hot" "$N2/ps/hot"
# n2's holder writes to its lock through its descriptor; n1 waits for it
setsid bash -c "exec 9>$N2/ps/held || exit 1
  while [ ! -e $T.held.stop ]; do
    echo renew >&9 2>/dev/null || { date +%s%N >>$T.held.failed; }
    sleep 0.2
  done" &
BG+=($!)
wait_until 5 test -e "$N1/ps/held"
setsid bash -c "exec 9>$N1/ps/held && date +%s%N >$T.n1.got && sleep 60" &
BG+=($!)
held_waited() { [ "$(info_field "$N1/ps/held" waiters)" = 1 ]; }
wait_until 5 held_waited
expect "(the replica has every write before the cut)" sentinel_wait 30 sentinel_wait_synced
sleep 2

# --- the cut: the master and n2 on one side --------------------------------
netns_isolate
t_cut=$(date +%s%N)
expect "the sentinels promote the replica on their side" \
	sentinel_wait 30 sentinel_moved_from "$OLD"
out=$(in_session python3 "$TESTS_LIB/fsop.py" open "$N2/ps/isolated" wcn)
check "a grant on the isolated side fails: EIO" EIO echo "$out"
expect "n2's holder hears of the loss: its writes fail" wait_until 15 test -s "$T.held.failed"
sleep 8 # the partition lasts well past the TTL
netns_rejoin
t_heal=$(date +%s%N)
old_is_replica() { [ "$(sentinel_role "$OLD")" = slave ]; }
expect "after the heal the old master becomes a replica of the new one" \
	sentinel_wait 40 old_is_replica
expect "n1's waiter gets n2's lost lock in the end" wait_until 30 test -s "$T.n1.got"
first_fail=$(head -1 "$T.held.failed")
expect "n2's holder heard first ($(((first_fail - t_cut) / 1000000)) ms after the cut; n1 got it $((($(cat "$T.n1.got") - t_cut) / 1000000)) ms after)" \
	test "$first_fail" -lt "$(cat "$T.n1.got")"
expect "n2 follows the new master: its grants work and n1 sees them" \
	wait_until 30 taken_and_seen "$N2" "$N1" ps n2
expect "grants go on after the heal" \
	wait_until 60 grants_since "$T.turns" "$((t_heal / 1000000000))" 10
touch "$T.held.stop"
turns_end "$T.turns" "$T.turns.stop" # with redis_replicas=1: never overlapping

finish
