# deps.sh - the Debian packages lockfs needs, installed when missing.
# Sourced by tests/run.sh and examples/local-cluster.sh.

LOCKFS_PACKAGES="meson ninja-build pkg-config gcc libfuse3-dev fuse3
libhiredis-dev librabbitmq-dev libevent-dev libcmocka-dev redis-server
rabbitmq-server python3 procps psmisc util-linux openssl clang libclang-rt-14-dev
valgrind scdoc man-db python3-filelock python3-portalocker python3-fasteners perl attr
chromium chromium-driver curl iproute2 socat faketime
build-essential debhelper lintian systemd prometheus"

# install_missing: apt-get install what dpkg does not have yet.  The
# packages' own service start-up is suppressed: lockfs starts private
# servers of its own, and there may be no init system at all.
install_missing() {
	local missing=() p
	for p in $LOCKFS_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "== installing ${#missing[@]} Debian packages (a few minutes on a fresh machine): ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	echo "   apt-get update"
	apt-get update -qq
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	# one line per package as it is set up, so a long install shows progress
	apt-get install -y -q --no-install-recommends "${missing[@]}" 2>&1 |
		sed -n 's/^Setting up \([^ ]*\) .*/   set up \1/p'
	rm -f /usr/sbin/policy-rc.d
}
