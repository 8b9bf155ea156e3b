#!/usr/bin/env bash
# run.sh - the README's test command, and what CI runs (.ci/run).
#
# On a fresh Debian machine, as root: installs what is missing, builds a
# normal tree (build/) and an AddressSanitizer + UndefinedBehaviorSanitizer
# tree (build-asan/), starts private Redis and RabbitMQ servers once, and
# runs the unit and integration suites on both trees (and the long fault
# suites on the normal one), then a short run of the benchmarks.  Ends with "N passed, N failed" over the meson test runs;
# exits non-zero if anything failed.  Every step is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
# shellcheck source=lib/deps.sh
. tests/lib/deps.sh

build() { # DIR [meson options]
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >/dev/null
	fi
	meson compile -C "$dir" >/dev/null
}

install_missing
[ -e /dev/fuse ] || { echo "run.sh: /dev/fuse is missing" >&2; exit 1; }
echo "== building build/ and build-asan/"
build build
build build-asan -Db_sanitize=address,undefined -Db_lundef=false

RUN=$(mktemp -d /tmp/lockfs-run.XXXXXX)
# shellcheck source=lib/servers.sh
. tests/lib/servers.sh
cleanup() {
	servers_stop "$RUN" || true
	rm -rf "$RUN"
}
trap cleanup EXIT
echo "== starting private redis-server and rabbitmq-server"
servers_start "$RUN"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

passed=0
failed=0
count() { # KEY LOG: a number from meson's summary ("Ok: 3"), or 0
	local n
	n=$(sed -n "s/^$1: *\([0-9]*\).*/\1/p" "$2" | tail -1)
	echo "${n:-0}"
}

# failures DIR LOG: the failed checks in a meson test log (meson-logs/
# testlog.txt has every line; the console shows a failed test's last 100
# only), a line each under the name of their test, so that the end of a
# long run names them all
failures() {
	awk -v dir="$1" '
		/^test: / { name = $2 " " $3 " " $4 }
		/^(FAIL - |not ok|\[  FAILED  \]|==[0-9]+==ERROR|.*runtime error:)/ {
			print "  " dir " " name ": " $0
		}' "$2" | cut -c1-300 | head -40
}

run_suites() { # DIR SUITE...
	local dir=$1 log rc s
	shift
	for s in "$@"; do
		echo "== $dir: suite $s"
		log=$(mktemp)
		rc=0
		timeout -k 10 900 meson test -C "$dir" --suite "$s" \
			--print-errorlogs --num-processes 1 >"$log" 2>&1 || rc=$?
		cat "$log"
		failures "$dir" "$dir/meson-logs/testlog.txt" >>"$RUN/failures"
		passed=$((passed + $(count Ok "$log")))
		failed=$((failed + $(count Fail "$log") + $(count Timeout "$log")))
		if [ "$rc" -ne 0 ] && ! grep -q '^Fail: *[1-9]' "$log" &&
			! grep -q '^Timeout: *[1-9]' "$log"; then
			failed=$((failed + 1)) # meson itself failed
		fi
		rm -f "$log"
	done
}

run_suites build unit integration long
run_suites build-asan unit integration
run_suites build bench

# the unit suites once more under valgrind (memcheck, leaks are errors)
echo "== build: unit suites under valgrind"
log=$(mktemp)
rc=0
timeout -k 10 900 meson test -C build --suite unit --num-processes 1 \
	--wrapper 'valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect' \
	--print-errorlogs >"$log" 2>&1 || rc=$?
cat "$log"
passed=$((passed + $(count Ok "$log")))
failed=$((failed + $(count Fail "$log") + $(count Timeout "$log")))
[ "$rc" -eq 0 ] || grep -q '^Fail: *[1-9]' "$log" || failed=$((failed + 1))
rm -f "$log"

# every parser under libFuzzer for a few seconds (the long run: README)
echo "== fuzzing the parsers (${FUZZ_SECONDS:=5} s each)"
if FUZZ_SECONDS=$FUZZ_SECONDS timeout -k 10 600 bash tests/fuzz/run.sh "$RUN/fuzz"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

if [ -s "$RUN/failures" ]; then
	echo "== what failed"
	cat "$RUN/failures"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
