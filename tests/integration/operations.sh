#!/usr/bin/env bash
# operations.sh - what an operator meets (README "Configuration", issue 8):
# --version and --help, the configuration file and its precedence, clear
# refusals, secrets kept out of ps, logs, status and metrics, a Redis that
# wants a password, and mounting like any filesystem: mount -t fuse.lockfs
# and an fstab line.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_servers
T=$(mktemp -d /tmp/operations.XXXXXX)
MNT=$T/mnt
mkdir -p "$MNT"
PREFIX="ops$$"
LOG=$T/daemon.log

cleanup_ops() {
	mountpoint -q "$MNT" && fusermount3 -u "$MNT"
	[ -n "${pw_redis_pid:-}" ] && kill "$pw_redis_pid" 2>/dev/null
	[ -n "${installed_link:-}" ] && rm -f "$installed_link"
	rm -rf "$T"
}
trap 'cleanup_ops; cluster_stop_nodes' EXIT

# lockfs ARGS...: run the daemon in the foreground, in the background, with
# the broker URL from the environment; waits until it serves or exits.
run_daemon() {
	LOCKFS_AMQP_URL=$LOCKFS_AMQP_URL "$LOCKFS_BIN" -f "$@" >>"$LOG" 2>&1 &
	daemon_pid=$!
	wait_until 10 bash -c "test -e $MNT/.lockfs/status || ! kill -0 $daemon_pid 2>/dev/null"
}
stop_daemon() {
	fusermount3 -u "$MNT" 2>/dev/null
	wait "$daemon_pid" 2>/dev/null
}
refused() { # DESC PATTERN ARGS...: lockfs ARGS exits 1 saying PATTERN
	local desc=$1 pattern=$2 out rc
	shift 2
	out=$(timeout 10 "$LOCKFS_BIN" "$@" 2>&1)
	rc=$?
	if [ "$rc" = 1 ] && grep -q -- "$pattern" <<<"$out"; then
		pass "$desc"
	else
		fail "$desc: exit $rc, said [$out]"
	fi
}

# --- --version, --help ---------------------------------------------------
check "--version prints the version" "lockfs $(sed -n "s/^ *version : '\(.*\)',/\1/p" "$REPO/meson.build")" "$LOCKFS_BIN" --version
check "--help exits 0 and names the configuration file" 1 bash -c "$LOCKFS_BIN --help | grep -c 'config=FILE'"
check "--help lists every option" "12" bash -c "$LOCKFS_BIN --help | grep -cE '^  (redis|amqp|prefix|node|ttl|backend_timeout|acquire_timeout|keepalive|owner|open|log|http)='"

# --- the configuration file and the command line -------------------------
cat >"$T/lockfs.conf" <<EOF
# a comment, then options
redis = $LOCKFS_REDIS_URL
prefix=$PREFIX
node = from-file
ttl = 45s

keepalive = off
EOF
run_daemon -o "config=$T/lockfs.conf" "$MNT"
check "a value from the file is used" from-file info_field "$MNT/.lockfs/status" node
check "so is another" "$PREFIX" info_field "$MNT/.lockfs/status" prefix
: >"$MNT/cfg-lock"
check "and the file's ttl applies to leases" 45s info_field "$MNT/cfg-lock" ttl
rm -f "$MNT/cfg-lock"
stop_daemon
run_daemon -o "config=$T/lockfs.conf,node=from-cmdline,ttl=20s" "$MNT"
check "the command line overrides the file" from-cmdline info_field "$MNT/.lockfs/status" node
: >"$MNT/cfg-lock"
check "for every option" 20s info_field "$MNT/cfg-lock" ttl
rm -f "$MNT/cfg-lock"
stop_daemon

# the shipped example, comments after values and all, with our servers
sed -e "s|^redis = .*|redis = $LOCKFS_REDIS_URL   # ours|" \
	-e "s|^amqp = .*|amqp = $LOCKFS_AMQP_URL|" -e '/^redis_password/d' \
	-e "s|^prefix = .*|prefix = $PREFIX|" -e 's|^# http = 9123|http = 0 # any port|' \
	"$REPO/examples/lockfs.conf" >"$T/example.conf"
chmod 600 "$T/example.conf"
run_daemon -o "config=$T/example.conf,node=example" "$MNT"
check "examples/lockfs.conf mounts as shipped" example info_field "$MNT/.lockfs/status" node
check "a comment after a value is not part of it" 1 bash -c "info_field $MNT/.lockfs/status http | grep -c '^127.0.0.1:[1-9]'"
: >"$MNT/cfg-lock"
check "its ttl = 15s (commented) applies" 15s info_field "$MNT/cfg-lock" ttl
rm -f "$MNT/cfg-lock"
stop_daemon

# --- refusals: exit 1 and say what is wrong -------------------------------
printf 'prefix = x\nbogus = 1\n' >"$T/unknown.conf"
refused "an unknown -o option is named before Redis is asked (none listens)" "bogus" -o "redis=redis://127.0.0.1:1,bogus=1" "$MNT"
refused "an unknown flag too" "unknown option" -o "redis=redis://127.0.0.1:1" --bogus "$MNT"
refused "an unknown key names the file and line" "unknown.conf:2: unknown key bogus" -o "config=$T/unknown.conf" "$MNT"
printf 'ttl = soon\n' >"$T/badval.conf"
refused "a bad value is named" "ttl=soon" -o "config=$T/badval.conf" "$MNT"
printf 'node = a\nnode = b\n' >"$T/twice.conf"
refused "a key set twice is refused" "twice.conf:2: node is set twice" -o "config=$T/twice.conf" "$MNT"
printf 'just words\n' >"$T/syntax.conf"
refused "a line without = is refused" "syntax.conf:1: expected key = value" -o "config=$T/syntax.conf" "$MNT"
refused "a missing file named by config= is refused" "cannot read $T/missing.conf" -o "config=$T/missing.conf" "$MNT"
refused "a bad -o value is refused" "bad option keepalive=sometimes" -o "keepalive=sometimes" "$MNT"
refused "a password in redis= on the command line is refused" "would show in ps" -o "redis=redis://:hunter2@127.0.0.1:1" "$MNT"
refused "a password in amqp= on the command line is refused" "would show in ps" -o "amqp=amqp://u:hunter2@127.0.0.1:1/" "$MNT"
refused "redis_password on the command line is refused" "would show in ps" -o "redis_password=hunter2" "$MNT"
printf 'redis_password = hunter2\n' >"$T/open.conf"
chmod 644 "$T/open.conf"
refused "a secret in a file others may read is refused" "others may read it" -o "config=$T/open.conf" "$MNT"
expect "and nothing was mounted by any of them" bash -c "! mountpoint -q $MNT"

# --- the tree's layout: stamped at the first mount, another one refused ----
rcli() { redis-cli -p "$LOCKFS_REDIS_PORT" "$@"; }
LP="lay$$"
: >"$LOG"
run_daemon -o "redis=$LOCKFS_REDIS_URL,prefix=$LP,node=stamp" "$MNT"
mkdir "$MNT/kept"
stop_daemon
layout=$(rcli get "{$LP}:layout")
expect "the first mount of a tree stamps its layout ($layout)" test -n "$layout"
rcli set "{$LP}:layout" 1 >/dev/null
before=$(rcli --scan --pattern "{$LP}:*" | sort | while read -r k; do
	printf '%s %s\n' "$k" "$(rcli dump "$k" | od -An -tx1 | tr -d ' \n')"; done)
refused "a tree of another layout is refused, with both layouts named" \
	"keeps its locks in layout 1, this lockfs in layout $layout" \
	-f -o "redis=$LOCKFS_REDIS_URL,prefix=$LP,node=other" "$MNT"
after=$(rcli --scan --pattern "{$LP}:*" | sort | while read -r k; do
	printf '%s %s\n' "$k" "$(rcli dump "$k" | od -An -tx1 | tr -d ' \n')"; done)
expect "... touching none of its keys" test -n "$before" -a "$before" = "$after"
expect "... and mounting nothing" bash -c "! mountpoint -q $MNT"
rcli set "{$LP}:layout" "$layout" >/dev/null
run_daemon -o "redis=$LOCKFS_REDIS_URL,prefix=$LP,node=stamp" "$MNT"
check "its own layout mounts, the tree as it was" kept ls "$MNT"
stop_daemon

# --- a Redis with a password: secrets stay out of ps, logs, status ---------
SECRET="s3cret-$$-pw"
pw_port=$(servers_free_port 6500)
# (its own password through a file too, so that ps shows it nowhere)
printf 'port %s\nbind 127.0.0.1\nrequirepass %s\nsave ""\nappendonly no\n' \
	"$pw_port" "$SECRET" >"$T/pwredis.conf"
redis-server "$T/pwredis.conf" >"$T/pwredis.log" 2>&1 &
pw_redis_pid=$!
servers_wait_port "$pw_port" 10
cat >"$T/secret.conf" <<EOF
redis = redis://:$SECRET@127.0.0.1:$pw_port
prefix = $PREFIX
node = secretive
EOF
chmod 600 "$T/secret.conf"
: >"$LOG"
run_daemon -o "config=$T/secret.conf" "$MNT"
check "a 0600 file may hold the Redis password, and it works" connected info_field "$MNT/.lockfs/status" redis
: >"$MNT/pw-lock"
check "locks work through it" secretive info_field "$MNT/pw-lock" node
rm -f "$MNT/pw-lock"
# (the pattern does not match itself: [w] matches the secret's w only)
check "the password is not in ps" 0 bash -c "ps -eo args | grep -c -- '${SECRET%w}[w]'"
check "nor in the daemon's log" 0 bash -c "grep -c -- '$SECRET' $LOG"
expect "which still names the Redis it uses" grep -q "redis redis://:\*\*\*@127.0.0.1:$pw_port" "$LOG"
check "nor in status" 0 bash -c "grep -c -- '$SECRET' $MNT/.lockfs/status"
check "nor in metrics" 0 bash -c "grep -c -- '$SECRET' $MNT/.lockfs/metrics"
check "nor in the AMQP URL's place: no URL is shown at all" 0 bash -c "grep -c 'amqp://' $MNT/.lockfs/status"
stop_daemon
: >"$LOG"
LOCKFS_REDIS_PASSWORD=$SECRET run_daemon -o "redis=redis://127.0.0.1:$pw_port,prefix=$PREFIX,node=fromenv" "$MNT"
check "the password may come from the environment instead" connected info_field "$MNT/.lockfs/status" redis
check "and is not in the log either" 0 bash -c "grep -c -- '$SECRET' $LOG"
stop_daemon
refused "a missing password fails the mount with a clear message" "give its password" -o "redis=redis://127.0.0.1:$pw_port,prefix=$PREFIX" "$MNT"
LOCKFS_REDIS_PASSWORD=wrong-$$ refused "a wrong password fails the mount too" "redis" -o "redis=redis://127.0.0.1:$pw_port,prefix=$PREFIX" "$MNT"

# --- the manual page: built from its source, installed by meson install ---
BUILD_DIR=$(cd "$(dirname "$LOCKFS_BIN")/.." && pwd)
check "meson install puts lockfs(8) in the manual" "installed" bash -c "
  DESTDIR=$T/inst meson install -C $BUILD_DIR --no-rebuild >/dev/null 2>&1
  test -s $T/inst/usr/local/share/man/man8/lockfs.8 && echo installed"
check "and man renders it" 1 bash -c "MANWIDTH=80 man -l $T/inst/usr/local/share/man/man8/lockfs.8 2>/dev/null | grep -c '^NAME'"
check "it documents every option" 11 bash -c "MANWIDTH=200 man -l $T/inst/usr/local/share/man/man8/lockfs.8 2>/dev/null |
  grep -oE '(redis|amqp|prefix|node|ttl|backend_timeout|acquire_timeout|keepalive|owner|open|log)=' | sort -u | wc -l"

# --- log=: where a daemon in the background writes --------------------------
LOCKFS_AMQP_URL=$LOCKFS_AMQP_URL "$LOCKFS_BIN" \
	-o "redis=$LOCKFS_REDIS_URL,prefix=$PREFIX,node=logger,log=$T/bg.log" "$MNT"
expect "a daemon in the background with log=FILE" wait_until 10 test -e "$MNT/.lockfs/status"
expect "writes its lines to FILE" wait_until 5 grep -q 'node logger mounted' "$T/bg.log"
fusermount3 -u "$MNT"
expect "and its last ones when it stops" wait_until 5 bash -c "! mountpoint -q $MNT"
refused "a log file that cannot be opened is named" "log=/nonexistent/dir/x.log" \
	-o "redis=$LOCKFS_REDIS_URL,prefix=$PREFIX,log=/nonexistent/dir/x.log" "$MNT"

# --- mount -t fuse.lockfs and fstab ---------------------------------------
# mount(8) runs mount.fuse3, which runs `lockfs SOURCE MOUNTPOINT -o ...`
# from a safe PATH: the daemon must be installed (meson install does it)
if ! command -v lockfs >/dev/null || [ "$(command -v lockfs)" != /usr/local/bin/lockfs ]; then
	if [ ! -e /usr/local/bin/lockfs ]; then
		ln -s "$LOCKFS_BIN" /usr/local/bin/lockfs
		installed_link=/usr/local/bin/lockfs
	fi
fi
cat >"$T/mount.conf" <<EOF
redis = $LOCKFS_REDIS_URL
amqp = $LOCKFS_AMQP_URL
prefix = $PREFIX
node = via-mount
EOF
chmod 600 "$T/mount.conf"
check "mount -t fuse.lockfs mounts" 0 bash -c "mount -t fuse.lockfs lockfs $MNT -o config=$T/mount.conf,allow_other,_netdev,nofail; echo \$?"
check "a node configured by its file" via-mount info_field "$MNT/.lockfs/status" node
# (the broker connects on its own thread, a moment after the mount)
expect "with the broker from the file" wait_until 10 bash -c "[ \"\$(sed -n 's/^amqp=//p' $MNT/.lockfs/status)\" = connected ]"
check "and it unmounts cleanly" 0 bash -c "umount $MNT; echo \$?"
printf 'lockfs %s fuse.lockfs config=%s,allow_other,_netdev,nofail,x-systemd.requires=network-online.target 0 0\n' \
	"$MNT" "$T/mount.conf" >"$T/fstab"
check "an fstab line mounts with plain mount" 0 bash -c "mount -T $T/fstab $MNT; echo \$?"
check "as the same node" via-mount info_field "$MNT/.lockfs/status" node
umount "$MNT"
expect "the systemd unit in examples/ mounts with -f and unmounts on stop" \
	grep -q '^ExecStart=.*lockfs -f' "$REPO/examples/lockfs.service"
finish
