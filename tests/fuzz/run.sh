#!/usr/bin/env bash
# run.sh - build the libFuzzer targets and give each a short run.
#
#   tests/fuzz/run.sh [OUTDIR]        (default /tmp/lockfs-fuzz)
#
# Builds every tests/fuzz/fuzz_*.c with clang (libFuzzer + ASan + UBSan)
# straight from the pure parser sources into OUTDIR, then runs each for
# FUZZ_SECONDS (default 10) on a scratch copy of its corpus, so the
# corpora in tests/fuzz/corpus/ are only read; the inputs that once
# crashed a target, tests/fuzz/crashes/NAME/, are replayed (read-only) as
# regression tests before it fuzzes.  What a run finds stays in
# OUTDIR: grown corpora in OUTDIR/corpus/NAME, crashing inputs as
# OUTDIR/artifacts/NAME-crash-* (and leak-*, timeout-*), logs as
# OUTDIR/NAME.log.  Prints "fuzz NAME: N runs, ok" (or FAILED with the
# report) per target and "N passed, N failed"; exits non-zero if any
# target failed to build or crashed.  Installs clang and libFuzzer
# (Debian 12: clang, libclang-rt-14-dev) when missing, as root.
#
# FUZZ_TARGETS="name duration" limits the run to some targets.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/lockfs-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-10}
CC=${CC_FUZZ:-clang}

# The parser sources each target needs, on top of its own file.
declare -A SOURCES=(
	[name]="core/name.c"
	[duration]="core/duration.c"
	[command]="core/command.c core/duration.c"
	[lockset]="core/lockset.c core/name.c"
	[options]="fs/options.c fs/config.c fs/http_addr.c core/duration.c core/command.c core/owner.c"
)
# Extra libFuzzer flags per target.
declare -A FLAGS=(
	[command]="-max_len=8192"
	[options]="-close_fd_mask=2"
)
TARGETS=${FUZZ_TARGETS:-name duration command lockset options}

fuzzer_works() {
	local t
	t=$(mktemp -d)
	printf '%s\n' '#include <stdint.h>' '#include <stddef.h>' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
		'{ (void)d; (void)n; return 0; }' >"$t/t.c"
	"$CC" -fsanitize=fuzzer,address,undefined -o "$t/t" "$t/t.c" \
		>/dev/null 2>&1
	local rc=$?
	rm -rf "$t"
	return $rc
}

if ! command -v "$CC" >/dev/null || ! fuzzer_works; then
	echo "== installing clang and libFuzzer"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends clang \
		libclang-rt-14-dev >/dev/null
	fuzzer_works || { echo "run.sh: $CC cannot link libFuzzer" >&2; exit 1; }
fi

FUSE_CFLAGS=$(pkg-config --cflags fuse3)
FUSE_LIBS=$(pkg-config --libs fuse3)
CFLAGS=(-g -O1 "-fsanitize=fuzzer,address,undefined"
	-fno-sanitize-recover=undefined -D_GNU_SOURCE -std=gnu11
	-Wall -Wextra -Werror -Wno-unused-parameter -I core -I fs
	-I tests/fuzz)

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

mkdir -p "$OUT/corpus" "$OUT/artifacts"
passed=0
failed=0
for name in $TARGETS; do
	bin=$OUT/fuzz_$name
	log=$OUT/$name.log
	extra=()
	libs=()
	if [ "$name" = options ]; then
		# shellcheck disable=SC2206 # pkg-config output is words
		extra=($FUSE_CFLAGS)
		# shellcheck disable=SC2206
		libs=($FUSE_LIBS)
	fi
	# shellcheck disable=SC2086 # SOURCES holds a list of paths
	if ! "$CC" "${CFLAGS[@]}" "${extra[@]}" -o "$bin" \
		"tests/fuzz/fuzz_$name.c" ${SOURCES[$name]} "${libs[@]}" \
		>"$log" 2>&1; then
		echo "fuzz $name: build FAILED"
		sed 's/^/    /' "$log"
		failed=$((failed + 1))
		continue
	fi
	corpus=$OUT/corpus/$name
	rm -f "$OUT/artifacts/$name-"* # an earlier run's, reported then
	mkdir -p "$corpus"
	cp -n tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
	known= # inputs that crashed before: replayed first, never written
	[ -d "tests/fuzz/crashes/$name" ] && known=tests/fuzz/crashes/$name
	rc=0
	# shellcheck disable=SC2086 # FLAGS holds a list of flags
	timeout -k 10 $((SECONDS_EACH + 120)) "$bin" \
		-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 \
		-use_value_profile=1 -artifact_prefix="$OUT/artifacts/$name-" \
		${FLAGS[$name]:-} "$corpus" $known >"$log" 2>&1 || rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
		tail -1)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz $name: ${runs:-0} runs, ok"
		passed=$((passed + 1))
	else
		echo "fuzz $name: ${runs:-?} runs, FAILED (exit $rc), log $log"
		{ grep -E -A40 \
			'^==[0-9]+==ERROR|invariant failed|runtime error' \
			"$log" || true; } | head -60 | sed 's/^/    /'
		for a in "$OUT/artifacts/$name-"*; do
			[ -e "$a" ] && echo "    artifact: $a"
		done
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
