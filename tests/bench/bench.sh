#!/usr/bin/env bash
# bench.sh - the benchmarks, against floors measured in the same run.
# `meson test -C build --suite bench` runs a short round of each (CI);
# BENCH_ROUNDS=200 tests/bench/bench.sh runs a longer one.  Benchmarks
# print; they never fail on time.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 2
rounds=${BENCH_ROUNDS:-20}
host=127.0.0.1
port=${LOCKFS_REDIS_URL##*:}
python3 "$(dirname "$0")/handoff.py" "$N1" "$N2" "$host" "$port" "$rounds" ||
	fail "handoff benchmark did not run"
pass "benchmarks ran"
finish
