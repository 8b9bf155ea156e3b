#!/usr/bin/env bash
# build-deb.sh - build the lockfs Debian package from this tree, in one
# command:
#
#   examples/build-deb.sh [OUTDIR]      (default: the current directory)
#
# Copies the tree (without build folders or .git) to a temporary
# directory with examples/debian/ as its debian/, writes debian/changelog
# for the version in meson.build, runs dpkg-buildpackage -b -us -uc there
# and leaves lockfs_VERSION_ARCH.deb in OUTDIR.  Needs build-essential,
# debhelper and the build dependencies of examples/debian/control.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
VERSION=$(sed -n "s/^ *version : '\([^']*\)',.*/\1/p" "$REPO/meson.build")
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
if [ -z "$VERSION" ]; then
	echo "build-deb.sh: no version in $REPO/meson.build" >&2
	exit 1
fi

WORK=$(mktemp -d /tmp/lockfs-deb.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/lockfs-$VERSION
mkdir "$SRC"
tar -C "$REPO" --exclude-vcs --exclude='./build*' --exclude=./debian \
	--exclude=./run --exclude=__pycache__ --exclude='*.o' -cf - . |
	tar -C "$SRC" -xf -
cp -r "$REPO/examples/debian" "$SRC/debian"

# The changelog names the version meson.build gives, dated by the last
# commit when the tree is a git checkout (the same tree builds the same
# package), by now otherwise.
maintainer=$(sed -n 's/^Maintainer: //p' "$SRC/debian/control")
date=$(git -C "$REPO" log -1 --format=%cD 2>/dev/null || date -R)
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "no git")
cat >"$SRC/debian/changelog" <<EOF
lockfs ($VERSION) unstable; urgency=medium

  * Built from the lockfs source tree ($commit).

 -- $maintainer  $date
EOF

echo "build-deb.sh: building lockfs $VERSION for $ARCH in $WORK"
(cd "$SRC" && dpkg-buildpackage -b -us -uc) >"$WORK/build.log" 2>&1 || {
	tail -40 "$WORK/build.log" >&2
	echo "build-deb.sh: dpkg-buildpackage failed (the last 40 lines above)" >&2
	exit 1
}
cp "$WORK/lockfs_${VERSION}_$ARCH.deb" "$OUT/"
echo "$OUT/lockfs_${VERSION}_$ARCH.deb"
