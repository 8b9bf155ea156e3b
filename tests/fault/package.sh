#!/usr/bin/env bash
# package.sh - the Debian package, for real: built by its one command
# (examples/build-deb.sh), checked by lintian, installed with apt-get,
# used, and purged.
#
#   1. the build leaves lockfs_VERSION_ARCH.deb; lintian reports no error
#   2. apt-get installs it: /usr/bin/lockfs, lockfs(8), the unit (the very
#      file examples/lockfs.service, not enabled), the docs, and
#      /etc/lockfs.conf as a conffile of mode 0600
#   3. the fstab line it ships mounts a node with plain mount(8): through
#      mount.fuse3, lockfs found on a PATH without /usr/local is the
#      package's; a lock is taken, seen held, released; `man lockfs`
#      shows the manual
#   4. the unit passes systemd-analyze verify, and the daemon run with the
#      unit's capabilities and no_new_privs still mounts, reads the
#      owner of another user's lock from /proc, and unmounts
#   5. apt-get purge leaves nothing of it behind
#
# It installs a package on this machine, so it skips (77) rather than
# touch an install that is not its own: lockfs already installed, or an
# /etc/lockfs.conf or /usr/bin/lockfs already there.  Whatever happens,
# the trap unmounts, purges and removes what it made.
. "$(dirname "$0")/../lib/cluster.sh"

if dpkg-query -W -f='${Status}' lockfs 2>/dev/null | grep -qv 'not-installed'; then
	echo "package.sh: lockfs is installed on this machine already: skipped"
	exit 77
fi
if [ -e /etc/lockfs.conf ] || [ -e /usr/bin/lockfs ]; then
	echo "package.sh: /etc/lockfs.conf or /usr/bin/lockfs exists already: skipped"
	exit 77
fi
cluster_servers
T=$(mktemp -d /tmp/lockfs-pkg.XXXXXX)
chmod 755 "$T" # apt's _apt and the user nobody go through it
MNT=$T/mnt
mkdir -p "$MNT"
VERSION=$(sed -n "s/^ *version : '\([^']*\)',.*/\1/p" "$REPO/meson.build")
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o DPkg::Lock::Timeout=300)
installed_by_us=""
daemon_pid=""

pkg_cleanup() {
	if mountpoint -q "$MNT"; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	[ -n "$daemon_pid" ] && timeout 10 tail --pid="$daemon_pid" -f /dev/null
	if [ -n "$installed_by_us" ] &&
		dpkg-query -W -f='${Status}' lockfs 2>/dev/null | grep -qv 'not-installed'; then
		"${APT[@]}" purge lockfs >/dev/null 2>&1 || dpkg --purge lockfs >/dev/null 2>&1
	fi
	rm -rf "$T"
}
trap 'end_all; pkg_cleanup; cluster_cleanup' EXIT

# --- 1. the one command, and lintian ----------------------------------------
for tool in dpkg-buildpackage dh lintian systemd-analyze man; do
	command -v "$tool" >/dev/null || {
		fail "$tool is installed (tests/lib/deps.sh lists its package)"
		finish
	}
done
if ! timeout 400 bash "$REPO/examples/build-deb.sh" "$T" >"$T/build.out" 2>&1; then
	cat "$T/build.out"
fi
DEB=$T/lockfs_${VERSION}_$(dpkg --print-architecture).deb
expect "examples/build-deb.sh builds ${DEB##*/}" test -s "$DEB"
[ -s "$DEB" ] || finish
chmod 644 "$DEB"
timeout 300 lintian "$DEB" >"$T/lintian.out" 2>&1
sed 's/^/  lintian: /' "$T/lintian.out"
check "lintian reports no error (E:)" 0 grep -c '^E:' "$T/lintian.out"

# --- 2. installed with apt-get -------------------------------------------------
installed_by_us=1
"${APT[@]}" install "$DEB" >"$T/install.out" 2>&1 || cat "$T/install.out"
check "apt-get installs it" "install ok installed" dpkg-query -W -f='${Status}' lockfs
[ -x /usr/bin/lockfs ] || finish
check "/usr/bin/lockfs is the tree's version" "lockfs $VERSION" /usr/bin/lockfs --version
expect "its Depends are computed, fuse3 included" bash -c \
	"dpkg-query -W -f='\${Depends}' lockfs | grep -q 'libfuse3-3.*fuse3\|fuse3.*libfuse3-3'"
expect "lockfs(8) is in the manual" test -s /usr/share/man/man8/lockfs.8.gz
expect "the unit is /lib/systemd/system/lockfs.service, examples/lockfs.service itself" \
	cmp -s /lib/systemd/system/lockfs.service "$REPO/examples/lockfs.service"
expect "... and is not enabled" bash -c "! ls /etc/systemd/system/*.wants/lockfs.service 2>/dev/null"
expect "the README and the fstab example are in /usr/share/doc/lockfs" \
	test -s /usr/share/doc/lockfs/README.md.gz -a -s /usr/share/doc/lockfs/examples/fstab
expect "... and the Prometheus rules, uncompressed, as promtool reads them" \
	promtool check rules /usr/share/doc/lockfs/examples/prometheus/lockfs.rules.yml
expect "... with the dashboard" \
	test -s /usr/share/doc/lockfs/examples/prometheus/lockfs-dashboard.json
check "/etc/lockfs.conf is root's, mode 0600" "600 root" stat -c '%a %U' /etc/lockfs.conf
check "... and a conffile" 1 bash -c "dpkg-query -W -f='\${Conffiles}' lockfs | grep -c '^ /etc/lockfs.conf '"

# --- 3. mounted from the fstab line it ships -----------------------------------
# the shipped /etc/lockfs.conf with this suite's servers, prefix and node
(umask 077 && sed -e "s|^redis = .*|redis = $LOCKFS_REDIS_URL|" -e '/^redis_password/d' \
	-e "s|^amqp = .*|amqp = $LOCKFS_AMQP_URL|" -e "s|^prefix = .*|prefix = pkg$$|" \
	-e 's|^# node = .*|node = pkg-node|' /etc/lockfs.conf >"$T/lockfs.conf" &&
	echo "log = $T/daemon.log" >>"$T/lockfs.conf")
# the shipped line, with this suite's mount point and configuration file
sed -n "/^lockfs /{s| /locks | $MNT |;s|config=/etc/lockfs.conf|config=$T/lockfs.conf|;p;q}" \
	/usr/share/doc/lockfs/examples/fstab >"$T/fstab"
check "the shipped fstab line mounts with plain mount" 0 bash -c \
	"env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin mount -T $T/fstab $MNT; echo \$?"
check "as a fuse.lockfs filesystem" fuse.lockfs findmnt -n -o FSTYPE "$MNT"
daemon_pid=$(ps -eo pid=,args= | awk -v m=" $MNT " 'index($0, m) && $2 ~ /lockfs$/ {print $1; exit}')
check "served by the package's /usr/bin/lockfs" /usr/bin/lockfs readlink "/proc/${daemon_pid:-0}/exe"
check "configured by its file" pkg-node info_field "$MNT/.lockfs/status" node
expect "with the broker from the file" wait_until 10 grep -q '^amqp=connected' "$MNT/.lockfs/status"
: >"$MNT/pkg-lock"
check "a lock taken (touch) is held by this node" pkg-node info_field "$MNT/pkg-lock" node
check "... by this session" "$(ps -o sid= -p $$ | tr -d ' ')" info_field "$MNT/pkg-lock" session
rm "$MNT/pkg-lock"
expect "rm releases it" bash -c "! test -e $MNT/pkg-lock"
check "... and the node holds nothing" 0 info_field "$MNT/.lockfs/status" locks_held
check "man lockfs shows the manual page" 1 bash -c \
	"MANPAGER=cat MANWIDTH=100 man lockfs 2>/dev/null | grep -c '^ *lockfs - a cluster'"
check "umount unmounts it" 0 bash -c "umount $MNT; echo \$?"
expect "and the daemon exits" timeout 10 tail --pid="${daemon_pid:-0}" -f /dev/null
daemon_pid=""

# --- 4. the unit ----------------------------------------------------------------
check "systemd-analyze verify lockfs.service: no complaint" "" bash -c \
	"systemd-analyze verify lockfs.service 2>&1 | grep -v '^$'"
expect "... and its exit status is 0" systemd-analyze verify lockfs.service
systemd-analyze security --offline=yes lockfs.service 2>/dev/null | tail -1 | sed 's/^/  /'
# the daemon under those of the unit's limits that need no systemd to
# apply: its capability bounding set and no_new_privs (the seccomp and
# device filters are systemd's own); the mount must show outside it
caps=$(sed -n 's/^CapabilityBoundingSet=//p' /lib/systemd/system/lockfs.service |
	tr '[:upper:]' '[:lower:]' | sed 's/cap_/+/g; s/ /,/g')
unit_run() { setpriv --no-new-privs --bounding-set "-all,$caps" "$@"; }
sed -i 's/^node = .*/node = pkg-unit/' "$T/lockfs.conf"
unit_run /usr/bin/lockfs -f -o "config=$T/lockfs.conf" "$MNT" >>"$T/daemon.log" 2>&1 &
daemon_pid=$!
expect "with the unit's capabilities (${caps}) and no_new_privs it mounts" \
	wait_until 10 test -e "$MNT/.lockfs/status"
check "... seen from outside the daemon" pkg-unit info_field "$MNT/.lockfs/status" node
mkdir -m 1777 "$MNT/pub"
# (spawn's output files are in $T)
spawn nobody setpriv --reuid=65534 --regid=65534 --clear-groups \
	bash -c ": >$MNT/pub/nobody && sleep 20"
wait_until 10 test -e "$MNT/pub/nobody"
check "... and reads the owner of another user's lock from /proc" "65534 $SID" bash -c \
	"echo \$(info_field $MNT/pub/nobody uid) \$(info_field $MNT/pub/nobody session)"
end "$SID"
rm -f "$MNT/pub/nobody"
rmdir "$MNT/pub" 2>/dev/null
check "its ExecStop= unmounts it, under the same limits" 0 bash -c \
	"setpriv --no-new-privs --bounding-set -all,$caps /bin/fusermount3 -u $MNT; echo \$?"
expect "and the daemon exits" timeout 10 tail --pid="$daemon_pid" -f /dev/null
daemon_pid=""

# --- 5. purged ------------------------------------------------------------------
dpkg -L lockfs >"$T/files"
"${APT[@]}" purge lockfs >"$T/purge.out" 2>&1 || cat "$T/purge.out"
check "apt-get purge removes it" "" bash -c \
	"dpkg-query -W -f='\${Status}' lockfs 2>/dev/null | grep -v not-installed"
installed_by_us=""
left=""
while read -r path; do
	[ "$path" = /. ] && continue
	[ -e "$path" ] || [ -L "$path" ] || continue
	# a folder another package shares (/usr/bin, /lib/systemd/system) stays
	[ -d "$path" ] && dpkg -S "$path" >/dev/null 2>&1 && continue
	left="$left $path"
done <"$T/files"
check "nothing it installed is left ($(wc -l <"$T/files") paths)" "" echo "${left# }"
expect "/etc/lockfs.conf is gone" test ! -e /etc/lockfs.conf
check "nor any systemd state of the unit" "" bash -c \
	"ls /etc/systemd/system/*/lockfs.service /var/lib/systemd/deb-systemd-helper-enabled/lockfs.service* \
	 /var/lib/systemd/deb-systemd-helper-masked/lockfs.service 2>/dev/null"
finish
