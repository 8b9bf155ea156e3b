#!/usr/bin/env bash
# prometheus.sh - the Prometheus example (examples/prometheus/): its rules
# pass promtool's checks and its own unit tests, the dashboard queries only
# what those tests cover (tests/lib/dashcheck.py), and a real Prometheus
# (Debian's binary, not the system service) scraping two nodes once a
# second with those rules loaded sees a lock held on n1 and a request
# waiting for it on n2, how long the lock has been held and, once it
# ended, its hold timed, both targets up, and every rule healthy; each
# node's /metrics passes `promtool check metrics`.
. "$(dirname "$0")/../lib/cluster.sh"
EXAMPLE=$REPO/examples/prometheus
RULES=$EXAMPLE/lockfs.rules.yml
PY=/usr/bin/python3
cluster_mount 2 "http=0"
T=$CLUSTER_DIR/prometheus
mkdir -p "$T"
PROM_PID=""
HOLDER=""
WAITER=""
prom_stop() {
	[ -n "$PROM_PID" ] || return 0
	kill "$PROM_PID" 2>/dev/null
	wait "$PROM_PID" 2>/dev/null
	PROM_PID=""
}
# the lock's holder and waiter: sessions of their own, ended whole
sessions_stop() {
	local s
	for s in $HOLDER $WAITER; do kill -9 -- "-$s" 2>/dev/null; done
	HOLDER=""
	WAITER=""
}
trap 'sessions_stop; prom_stop; cluster_cleanup' EXIT

# quietly DESC CMD...: CMD succeeds; its output is shown only if it fails
quietly() {
	local desc=$1
	shift
	if "$@" >"$T/out" 2>&1; then
		pass "$desc"
	else
		fail "$desc"
		sed 's/^/    /' "$T/out"
	fi
}
# silent DESC CMD...: CMD succeeds and prints nothing
silent() {
	local desc=$1
	shift
	if "$@" >"$T/out" 2>&1 && [ ! -s "$T/out" ]; then
		pass "$desc"
	else
		fail "$desc"
		sed 's/^/    /' "$T/out"
	fi
}

# --- the files, offline -----------------------------------------------------
quietly "promtool check rules" promtool check rules "$RULES"
quietly "promtool test rules" promtool test rules "$EXAMPLE/lockfs.rules.test.yml"
quietly "the dashboard queries only tested rules" \
	$PY "$TESTS_LIB/dashcheck.py" "$RULES" "$EXAMPLE/lockfs-dashboard.json"
# one query changed: the check must see it
sed 's/"instance:lockfs_waiters:sum"/"lockfs_waiters"/' \
	"$EXAMPLE/lockfs-dashboard.json" >"$T/changed.json"
expect "... and fails on a query that is not one" \
	test "$($PY "$TESTS_LIB/dashcheck.py" "$RULES" "$T/changed.json")" = \
	"not a rule of $RULES: 'lockfs_waiters'"

# --- each node's metrics ----------------------------------------------------
port_of() { info_field "$1/.lockfs/status" http | sed 's/.*://'; }
P1=$(port_of "$N1")
P2=$(port_of "$N2")
# metrics_lint PORT: what promtool finds wrong with a node's /metrics
metrics_lint() {
	local text
	if ! text=$(curl -sf -m 10 "http://127.0.0.1:$1/metrics") || [ -z "$text" ]; then
		echo "no metrics at port $1"
		return 1
	fi
	promtool check metrics <<<"$text"
}
silent "promtool check metrics: n1's /metrics" metrics_lint "$P1"
silent "promtool check metrics: n2's /metrics" metrics_lint "$P2"

# --- a real Prometheus scraping both nodes ----------------------------------
free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PP=$(free_port)
PU=http://127.0.0.1:$PP
cat >"$T/prometheus.yml" <<CONF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES
scrape_configs:
  - job_name: lockfs
    static_configs:
      - targets: ['127.0.0.1:$P1', '127.0.0.1:$P2']
CONF
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
	--web.listen-address="127.0.0.1:$PP" >"$T/prometheus.log" 2>&1 &
PROM_PID=$!
ready() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$PU/-/ready")" = 200 ]; }
if ! wait_until 60 ready; then
	fail "prometheus starts"
	tail -20 "$T/prometheus.log"
	finish
fi
pass "prometheus starts"

# query PROMQL: "INSTANCE VALUE" of each series of an instant query
query() {
	curl -s -m 5 -G --data-urlencode "query=$1" "$PU/api/v1/query" | $PY -c '
import json, sys
for r in json.load(sys.stdin)["data"]["result"]:
    print(r["metric"].get("instance", "-"), r["value"][1])'
}
# shows PROMQL: the query has an answer
shows() { [ -n "$(query "$1")" ]; }
I1=127.0.0.1:$P1
I2=127.0.0.1:$P2
# targets_up: up is 1 for n1 and n2, the job's only targets
targets_up() {
	[ "$(query 'up{job="lockfs"}' | sort | tr '\n' ' ')" = \
		"$(printf '%s 1\n' "$I1" "$I2" | sort | tr '\n' ' ')" ]
}
expect "both targets are up" wait_until 30 targets_up

mkdir -p "$N1/prom"
in_session bash -c ": > $N1/prom/job; while [ ! -e $T/release ]; do sleep 0.05; done" &
HOLDER=$!
expect "n2 sees n1's lock" wait_until 10 test -e "$N2/prom/job"
in_session bash -c ": > $N2/prom/job && echo granted > $T/granted" &
WAITER=$!
expect "Prometheus sees n1 hold a lock" wait_until 30 \
	shows "lockfs_locks_held{instance=\"$I1\"} >= 1"
expect "Prometheus sees n2's request wait for it" wait_until 30 \
	shows "lockfs_waiters{instance=\"$I2\"} >= 1"
expect "... and the recording rules too" wait_until 30 shows \
	"instance:lockfs_locks_held:sum{instance=\"$I1\"} >= 1 and on () instance:lockfs_waiters:sum{instance=\"$I2\"} >= 1"
# rules_health: "NAME HEALTH LAST-ERROR" of each rule, as Prometheus last
# evaluated it
rules_health() {
	curl -s -m 5 "$PU/api/v1/rules" | $PY -c '
import json, sys
for g in json.load(sys.stdin)["data"]["groups"]:
    for r in g["rules"]:
        print(r["name"], r["health"], r.get("lastError", ""))'
}
# all_rules_ok: every rule of the file is loaded and its health is ok
all_rules_ok() {
	local out
	out=$(rules_health)
	[ "$(wc -l <<<"$out")" = "$(grep -c -E '^ *- (record|alert):' "$RULES")" ] &&
		! grep -qv ' ok $' <<<"$out"
}
expect "Prometheus sees how long n1 has held it, in its namespace" \
	wait_until 30 shows \
	"lockfs_oldest_hold_seconds{instance=\"$I1\",namespace=\"/prom\"} > 0"
expect "... and the cluster's oldest hold there (a recording rule)" \
	wait_until 30 shows \
	"namespace:lockfs_oldest_hold_seconds:max{namespace=\"/prom\"} > 0"
expect "every rule is loaded and evaluates" wait_until 10 all_rules_ok
all_rules_ok || rules_health | sed 's/^/    /'
expect "both targets are still up" targets_up

touch "$T/release"
expect "released: n2's request is granted" wait_until 10 test -s "$T/granted"
wait "$HOLDER" "$WAITER" 2>/dev/null
HOLDER=""
WAITER=""
expect "Prometheus sees n2 wait no more" wait_until 30 \
	shows "lockfs_waiters{instance=\"$I2\"} == 0"
expect "... and n1 timed the hold that ended" wait_until 30 \
	shows "lockfs_hold_seconds_count{instance=\"$I1\",namespace=\"/prom\"} >= 1"
rm -f "$N1/prom/job"
prom_stop
finish
