# cluster.sh - sourced by the integration suites: private servers, several
# mounts as several cluster nodes, other users and sessions, and small
# assertions that end in the closing line "N passed, N failed".
#
#   cluster_mount N [OPTS]   mount nodes n1..nN at $N1..$Nn (one fresh key
#                            prefix per suite, so suites never share state)
#   cluster_node_kill I [SIG], cluster_node_start I, cluster_node_stop I
#   cluster_add_node I [OPTS]  one more node, with options of its own
#   as_user USER CMD...      run CMD as USER in a session of its own
#   in_session CMD...        run CMD as root in a session of its own
#   check DESC EXPECTED CMD...  run CMD (bounded), compare its output
#   fsop ARGS                tests/lib/fsop.py: errno of one operation
#   spawn NAME CMD..., end SID   background sessions of a suite
#   finish                   print the closing line, exit 0 or 1
# Everything is cleaned up at exit, also when a suite fails midway.

set -u
TESTS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$TESTS_LIB/../.." && pwd)
LOCKFS_BIN=${LOCKFS_BIN:-$REPO/build/fs/lockfs}
# shellcheck source=servers.sh
. "$TESTS_LIB/servers.sh"

T_PASS=0
T_FAIL=0
CLUSTER_DIR=""
CLUSTER_OPTS=""
CLUSTER_N=0
CLUSTER_NODES=0
PRIVATE_SERVERS=""
declare -a NODE_PIDS=()

fsop() { python3 "$TESTS_LIB/fsop.py" "$@"; }

# Background sessions a suite started and has not ended yet (spawn, end).
declare -A LIVE=()
# spawn NAME CMD...: CMD in the background in a session of its own, its
# output in $T/NAME.out and $T/NAME.err; SID is its session (and process
# group) id
spawn() {
	local name=$1
	shift
	setsid "$@" >"$T/$name.out" 2>"$T/$name.err" &
	SID=$!
	LIVE[$SID]=1
}
# end SID: kill -9 the whole session, reap it
end() {
	kill -9 -- "-$1" 2>/dev/null
	wait "$1" 2>/dev/null
	unset "LIVE[$1]"
}
# end_all: every session of the suite still alive
end_all() {
	local s
	for s in "${!LIVE[@]}"; do kill -9 -- "-$s" 2>/dev/null; done
}

pass() {
	T_PASS=$((T_PASS + 1))
	echo "ok   - $1"
}

fail() {
	T_FAIL=$((T_FAIL + 1))
	echo "FAIL - $1"
}

# check DESC EXPECTED CMD...: CMD's output (stdout, lines joined by
# spaces) must equal EXPECTED; CMD is killed after 30 s.
check() {
	local desc=$1 expected=$2 got
	shift 2
	got=$(timeout -k 5 30 bash -c '"$@"' check "$@" 2>/dev/null |
		tr '\n' ' ' | sed 's/ *$//')
	if [ "$got" = "$expected" ]; then
		pass "$desc"
	else
		fail "$desc: expected [$expected], got [$got]"
	fi
}

# expect DESC COND...: the shell condition must hold.
expect() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}

finish() {
	cluster_stop_nodes
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}

# Unmount every node and fail on any sanitizer report in their logs.
cluster_stop_nodes() {
	local i
	for ((i = 1; i <= CLUSTER_N; i++)); do
		cluster_node_stop "$i"
		if grep -qE 'Sanitizer|runtime error' "$CLUSTER_DIR/n$i.log" 2>/dev/null; then
			fail "node n$i: sanitizer report"
			grep -A30 -E 'Sanitizer|runtime error' "$CLUSTER_DIR/n$i.log" | head -60
		fi
	done
	CLUSTER_N=0
}

users_setup() {
	local u
	for u in lockfs-a lockfs-b; do
		id "$u" >/dev/null 2>&1 || useradd -M -r -s /bin/bash "$u"
	done
}

# as_user USER CMD...: CMD as USER (own groups), in a new session.
as_user() {
	local user=$1
	shift
	setpriv --reuid="$user" --regid="$user" --init-groups \
		setsid -w "$@"
}

in_session() { setsid -w "$@"; }

cluster_servers() {
	if [ -n "${LOCKFS_REDIS_URL:-}" ] && [ -n "${LOCKFS_AMQP_URL:-}" ]; then
		if [ -z "${LOCKFS_SERVERS_DIR:-}" ]; then
			echo "cluster.sh: LOCKFS_SERVERS_DIR unset" >&2
		fi
		return 0
	fi
	PRIVATE_SERVERS=$(mktemp -d /tmp/lockfs-servers.XXXXXX)
	servers_start "$PRIVATE_SERVERS" || {
		echo "cluster.sh: cannot start servers" >&2
		exit 1
	}
}

cluster_node_start() { # I
	local i=$1 mnt="$CLUSTER_DIR/n$1" k
	mkdir -p "$mnt"
	# the broker URL holds a password: never on the command line
	LOCKFS_AMQP_URL=$LOCKFS_AMQP_URL "$LOCKFS_BIN" -f \
		-o "redis=$LOCKFS_REDIS_URL,prefix=$CLUSTER_PREFIX,node=n$i,allow_other$CLUSTER_OPTS" \
		"$mnt" >>"$CLUSTER_DIR/n$i.log" 2>&1 &
	NODE_PIDS[$i]=$!
	for ((k = 0; k < 100; k++)); do
		if mountpoint -q "$mnt" && [ -e "$mnt/.lockfs/status" ]; then
			# the broker connection, so that wake-ups flow from start
			for ((k = 0; k < 50; k++)); do
				grep -q '^amqp=connected' "$mnt/.lockfs/status" && return 0
				sleep 0.1
			done
			return 0
		fi
		kill -0 "${NODE_PIDS[$i]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "cluster.sh: node n$i did not mount; its log:" >&2
	cat "$CLUSTER_DIR/n$i.log" >&2
	return 1
}

cluster_node_stop() { # I: unmount cleanly, wait for the daemon
	local i=$1 mnt="$CLUSTER_DIR/n$1" k pid=${NODE_PIDS[$1]:-}
	fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
	[ -n "$pid" ] || return 0
	for ((k = 0; k < 50; k++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	return 0
}

cluster_node_kill() { # I [SIG]: the daemon dies, the mount goes stale
	local i=$1 sig=${2:-KILL}
	kill "-$sig" "${NODE_PIDS[$i]}" 2>/dev/null
	wait "${NODE_PIDS[$i]}" 2>/dev/null
	fusermount3 -u -z "$CLUSTER_DIR/n$i" 2>/dev/null ||
		umount -l "$CLUSTER_DIR/n$i" 2>/dev/null
	return 0
}

cluster_mount() { # N [extra options, comma-separated]
	local i
	CLUSTER_N=$1
	CLUSTER_NODES=$1
	CLUSTER_OPTS=${2:+,$2}
	cluster_servers
	CLUSTER_DIR=$(mktemp -d /tmp/lockfs-test.XXXXXX)
	chmod 755 "$CLUSTER_DIR"
	CLUSTER_PREFIX="t$$x$RANDOM"
	export CLUSTER_DIR CLUSTER_PREFIX
	trap cluster_cleanup EXIT
	for ((i = 1; i <= CLUSTER_N; i++)); do
		cluster_node_start "$i" || exit 1
		eval "export N$i=$CLUSTER_DIR/n$i"
	done
}

# cluster_add_node I [OPTS]: mount one more node, nI, with OPTS (extra
# options, comma-separated; none: the default lease view) instead of the
# suite's, beside the others; its path in NI.  A node that does not mount
# fails the suite.
cluster_add_node() {
	local i=$1
	CLUSTER_OPTS=${2:+,$2}
	CLUSTER_N=$i
	CLUSTER_NODES=$i
	if ! cluster_node_start "$i"; then
		fail "node n$i mounts"
		finish
	fi
	eval "export N$i=$CLUSTER_DIR/n$i"
}

cluster_cleanup() {
	local i n=$CLUSTER_NODES
	cluster_stop_nodes
	if [ "$T_FAIL" -ne 0 ] && [ -n "$CLUSTER_DIR" ]; then
		for ((i = 1; i <= n; i++)); do
			echo "--- log of n$i"
			tail -30 "$CLUSTER_DIR/n$i.log"
		done
	fi
	[ -n "$CLUSTER_DIR" ] && rm -rf "$CLUSTER_DIR" 2>/dev/null
	if [ -n "$PRIVATE_SERVERS" ]; then
		servers_stop "$PRIVATE_SERVERS"
		rm -rf "$PRIVATE_SERVERS"
	fi
}

# holds_never_overlap LOG: in a log of "in WHO ..." / "out WHO ..." lines
# (tests/lib/turns.py), every "in" is followed by its own "out" before
# anyone else's "in"
holds_never_overlap() {
	awk '$1 == "in" { if (cur != "") exit 1; cur = $2 }
	     $1 == "out" { if (cur != $2) exit 1; cur = "" }' "$1"
}

# turns_start LOG STOP PATH...: one tests/lib/turns.py worker per PATH (one
# lock, through several mounts), each in a session of its own, logging its
# holds to LOG until the file STOP exists (150 s at most); TURNS_PIDS
TURNS_PIDS=()
turns_start() {
	local log=$1 stop=$2 path
	shift 2
	: >"$log"
	for path in "$@"; do
		setsid python3 "$TESTS_LIB/turns.py" "$path" "$log" "$(($(date +%s) + 150))" \
			"$stop" >>"$log.out" 2>&1 &
		TURNS_PIDS+=($!)
	done
	wait_until 10 test -s "$log"
}

# turns_end LOG STOP: stop them, and check that each ran to its end and
# that no two ever held the lock at once
turns_end() {
	local log=$1 p
	touch "$2"
	for p in "${TURNS_PIDS[@]}"; do timeout 60 tail --pid="$p" -f /dev/null; done
	expect "the workers ran to the end" test "$(grep -c errors "$log.out")" = "${#TURNS_PIDS[@]}"
	expect "no two workers ever held the lock at once ($(grep -c '^in' "$log") grants)" \
		holds_never_overlap "$log"
	TURNS_PIDS=()
}

# grants_since LOG UNIX_SECONDS COUNT: more than COUNT holds began since
grants_since() {
	[ "$(awk -v t="$2" '$1 == "in" && $3 > t' "$1" | wc -l)" -gt "$3" ]
}

# taken_and_seen MOUNT OTHER DIR NODE: a lock DIR/seen taken through MOUNT
# (in a session of its own, released after) shows NODE as its holder's
# node through OTHER
taken_and_seen() {
	[ "$(setsid -w bash -c ": > $1/$3/seen 2>/dev/null && sed -n 's/^node=//p' $2/$3/seen; rm -f $1/$3/seen")" = "$4" ]
}

# wait_until SECONDS CMD...: poll CMD every 50 ms; true once it succeeds.
wait_until() {
	local t=$1 k
	shift
	for ((k = 0; k < t * 20; k++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# info_field FILE KEY: the first value of KEY in a lock file's text.
info_field() { sed -n "s/^$2=//p" "$1" 2>/dev/null | head -1; }
# xinfo_field FILE KEY: the same from the lock's extended attribute
# user.lockfs.info, as the flock view shows its state (a read there gives
# the file's content)
xinfo_field() {
	getfattr --only-values --absolute-names -n user.lockfs.info "$1" \
		2>/dev/null | sed -n "s/^$2=//p" | head -1
}

# flock -c and other tools run commands with $SHELL, which CI leaves unset
# (/bin/sh, where the helpers below do not exist): the same everywhere
unset SHELL

# the helpers run under `timeout` in check(), so in child shells too
export TESTS_LIB
export -f fsop info_field xinfo_field as_user in_session wait_until
