#!/usr/bin/env bash
# http.sh - the HTTP window (the README, "Watching the cluster over HTTP"):
# the endpoints with curl across two nodes (status codes, content types,
# JSON that parses, Server-Sent Events within a second of a touch on the
# other node, read-only, loopback only), bad requests that get a clear
# status and never disturb the FUSE side, and the page in headless
# Chromium showing a lock taken on another node, its waiters and its
# release, with screenshots kept under build*/artefacts/http/.
. "$(dirname "$0")/../lib/cluster.sh"
cluster_mount 2 "http=0"
T=/tmp/http.$$
export T
PY=/usr/bin/python3
SHOTS=$(cd "$(dirname "$LOCKFS_BIN")/.." && pwd)/artefacts/http
trap 'rm -rf $T.*; cluster_cleanup' EXIT

port_of() { info_field "$1/.lockfs/status" http | sed 's/.*://'; }
U1=http://127.0.0.1:$(port_of "$N1")
U2=http://127.0.0.1:$(port_of "$N2")
# code_type URL [curl options]: "CODE CONTENT-TYPE" of one request
code_type() {
	local url=$1
	shift
	curl -s -m 10 -o /dev/null -w '%{http_code} %{content_type}' "$@" "$url"
}
code() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"; }
# json URL EXPR: EXPR (Python, over the parsed answer "d") printed
json() {
	curl -s -m 10 "$1" | $PY -c "import json, sys; d = json.load(sys.stdin); print($2)"
}
export -f code_type code json
export PY U1 U2

# --- where it listens -----------------------------------------------------
check "status names the address" "127.0.0.1" bash -c "info_field $N1/.lockfs/status http | sed 's/:.*//'"
# listening_on PID: the local addresses of PID's listening TCP sockets
listening_on() {
	$PY - "$1" <<'EOF'
import os, socket, struct, sys
pid = sys.argv[1]
inodes = set()
for fd in os.listdir("/proc/%s/fd" % pid):
    try:
        link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
    except OSError:
        continue
    if link.startswith("socket:["):
        inodes.add(link[8:-1])
found = []
for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
    for row in open("/proc/%s/net/%s" % (pid, table)).readlines()[1:]:
        f = row.split()
        if f[3] != "0A" or f[9] not in inodes:  # 0A: LISTEN
            continue
        addr, port = f[1].split(":")
        raw = bytes.fromhex(addr)
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
        found.append(socket.inet_ntop(family, raw))
print(" ".join(sorted(found)) or "none")
EOF
}
export -f listening_on
check "an address-less port listens on loopback only" "127.0.0.1" listening_on "${NODE_PIDS[1]}"
# a node without http= listens nowhere
CLUSTER_OPTS=""
CLUSTER_N=3
CLUSTER_NODES=3
cluster_node_start 3
check "without http= the status says off" off info_field "$CLUSTER_DIR/n3/.lockfs/status" http
check "without http= nothing listens" none listening_on "${NODE_PIDS[3]}"
cluster_node_stop 3
CLUSTER_N=2
CLUSTER_NODES=2
mkdir -p "$T.mnt"
mount_fails() { # OPTION: a mount with it fails, with a message
	! timeout 20 "$LOCKFS_BIN" -o "redis=$LOCKFS_REDIS_URL,prefix=$CLUSTER_PREFIX,node=nx,$1" \
		"$T.mnt" 2>"$T.err" && grep -q http "$T.err" && ! mountpoint -q "$T.mnt"
}
expect "a port in use fails the mount" mount_fails "http=$(port_of "$N1")"
expect "a bad http= fails the mount" mount_fails "http=localhost:99999"

# --- endpoints --------------------------------------------------------------
check "the page is HTML" "200 text/html; charset=utf-8" code_type "$U1/"
check "HEAD answers like GET" "200 text/html; charset=utf-8" code_type "$U1/" -I
head_body() { # PATH: the bytes after the headers of a HEAD answer
	$PY - "${U1##*:}" "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % sys.argv[2].encode())
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
print(len(out.split(b"\r\n\r\n", 1)[1]))
EOF
}
for p in / /metrics /api/status /api/locks /nothing; do
	expect "HEAD $p sends no body" test "$(head_body $p)" = 0
done
check "the page fetches nothing from outside" 0 bash -c "curl -s $U1/ | grep -ciE '(src|href)=\"?(https?:)?//'"
check "the page forbids outside sources" 1 bash -c "curl -s -D - -o /dev/null $U1/ | grep -ci \"^content-security-policy: default-src 'none'\""
check "metrics are Prometheus text" "200 text/plain; version=0.0.4" code_type "$U1/metrics"
curl -s -m 10 "$U1/metrics" >$T.metrics
check "metrics parse" ok $PY "$TESTS_LIB/promcheck.py" $T.metrics
families() { sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$1" | sort | tr '\n' ' '; }
expect "metrics have the families of /.lockfs/metrics" \
	test "$(families $T.metrics)" = "$(families "$N1/.lockfs/metrics")"
check "status is JSON" "200 application/json" code_type "$U1/api/status"
check "status names its node" n2 json "$U2/api/status" "d['node']"
check "status numbers are numbers" True json "$U1/api/status" "isinstance(d['uptime'], int)"
check "locks are JSON" "200 application/json" code_type "$U1/api/locks"

# --- the tree as JSON, across nodes ----------------------------------------
hold_until() { # PATH FILE [NOTE]: (wait for and) hold PATH in a session of
	# its own, until FILE exists; in the background
	in_session bash -c "${3:+echo $3 }> $1; while [ ! -e $2 ]; do sleep 0.05; done" &
}
mkdir -p "$N1/db" "$N1/web"
hold_until "$N2/db/main" $T.go "nightly backup"
holder=$!
wait_until 5 test -e "$N1/db/main"
in_session bash -c ": > $N1/db/main" &
w1=$!
waiters_are() { [ "$(info_field "$N1/db/main" waiters)" = "$1" ]; }
wait_until 5 waiters_are 1
in_session bash -c ": > $N2/db/main" &
w2=$!
wait_until 5 waiters_are 2
: >"$N1/web/page"
lock() { echo "[l for l in d['locks'] if l['name'] == '$1'][0]"; }
check "n1 sees n2's lock" "n2 lease exclusive" json "$U1/api/locks" "' '.join(str($(lock db/main)['holders'][0][k]) for k in ('node', 'kind', 'mode'))"
holder_is() { # EXPR over the first holder "h" of db/main, seen from n1
	json "$U1/api/locks" "(lambda h: $1)($(lock db/main)['holders'][0])"
}
export -f lock holder_is
check "a holder has uid and pid" "0 True" holder_is "'%d %s' % (h['uid'], h['pid'] > 1)"
check "a holder has its grant's token" True holder_is "h['token'] == $(lock db/main)['token'] > 0"
check "a holder expires after it was acquired" True holder_is "h['expires'] > h['acquired'] > 1e9"
check "a holder has its note" "nightly backup" holder_is "h['note']"
check "waiters come in queue order" "n1 n2" json "$U2/api/locks" "' '.join(w['node'] for w in $(lock db/main)['waiters'])"
check "namespaces are listed" "db web" json "$U1/api/locks" "' '.join(n['path'] for n in d['namespaces'] if n['path'])"
check "?prefix= keeps a subtree" "db db/main" json "$U1/api/locks?prefix=db/" "' '.join([n['path'] for n in d['namespaces']] + [l['name'] for l in d['locks']])"
check "a leading / of the prefix is ignored" "db db/main" json "$U1/api/locks?prefix=/db/" "' '.join([n['path'] for n in d['namespaces']] + [l['name'] for l in d['locks']])"
check "?prefix= of nothing is empty" "0 0" json "$U1/api/locks?prefix=nothing/" "'%d %d' % (len(d['namespaces']), len(d['locks']))"

# --- events -----------------------------------------------------------------
check "events are an event stream" "200 text/event-stream" code_type "$U1/events" -m 2 -N
sse_within_1s() { # URL REGEX CMD...: the event arrives within a second
	local out
	out=$($PY "$TESTS_LIB/sse.py" "$@") || return 1
	awk '{ exit !($1 < 1.0) }' <<<"$out"
}
expect "n1's stream shows a touch on n2 within a second" \
	sse_within_1s "$U1/events" ' acquired web/sse1 [0-9]+ n2 ' touch "$N2/web/sse1"
expect "n2's stream shows that release within a second" \
	sse_within_1s "$U2/events" ' released web/sse1 [0-9]+ n2 ' rm "$N2/web/sse1"
expect "n2's stream shows a touch on n1 within a second" \
	sse_within_1s "$U2/events" ' acquired web/sse3 [0-9]+ n1 ' touch "$N1/web/sse3"
expect "n2's stream shows an rm on n1 within a second" \
	sse_within_1s "$U2/events" ' released web/sse3 [0-9]+ n1 ' rm "$N1/web/sse3"
expect "a stream's event lines have the file's seven fields" \
	sse_within_1s "$U1/events" '^data: [0-9.]+ acquired web/sse2 [0-9]+ n2 [0-9]+ exclusive$' touch "$N2/web/sse2"
rm -f "$N2/web/sse2"

# --- the page in Chromium ---------------------------------------------------
rm -rf "$SHOTS"
touch $T.go
wait $holder $w1 $w2 2>/dev/null
rm -f "$N1/db/main" "$N1/web/page"
hold_until "$N2/web/job" $T.go2
holder=$!
wait_until 5 test -e "$N1/web/job"
hold_until "$N1/web/job" $T.go3
w1=$!
steps=('see:body[data-ready="1"]' 'see:#conn[data-state="open"]'
	'see:[data-lock="web/job"] [data-holder-node="n2"]'
	'see:[data-lock="web/job"] [data-waiter-node="n1"][data-waiter-pos="1"]'
	'ticks:[data-lock="web/job"] .expires'
	"run:touch $N2/web/other" 'see:[data-lock="web/other"]'
	'shot:held'
	"run:touch $T.go2" 'see:[data-lock="web/job"] [data-holder-node="n1"]'
	'gone:[data-lock="web/job"] [data-waiter-node]'
	"run:touch $T.go3; rm -f $N1/web/job $N2/web/other"
	'gone:[data-lock="web/job"]' 'gone:[data-lock="web/other"]'
	'shot:released'
	"run:touch '$N2/web/<img src=x onerror=\"document.body.dataset.pwned=1\">'"
	'text:#locks=<img src=x onerror=' 'gone:#locks img' 'gone:body[data-pwned]'
	'width:390' 'see:[data-ns="web"]' 'shot:phone' 'noerrors')
timeout -k 5 180 $PY "$TESTS_LIB/browser.py" "$U1/" "$SHOTS" "${steps[@]}" >$T.browser 2>&1
sed 's/^/    browser: /' $T.browser
check "chromium: no step failed" 0 grep -c '^FAIL' $T.browser
check "chromium: every step ran" ${#steps[@]} grep -c '^ok ' $T.browser
check "chromium: screenshots kept" "held.png phone.png released.png" bash -c "ls $SHOTS | tr '\n' ' ' | sed 's/ \$//'"
wait $holder $w1 2>/dev/null
rm -f "$N2"/web/\<img*
# the other way to drive it: --dump-dom once a virtual-time budget is spent
# (the page polls then: an endless event stream would stop that clock)
dump_dom() {
	timeout -k 5 60 chromium --headless --no-sandbox --disable-gpu \
		--user-data-dir="$T.profile" --dump-dom --virtual-time-budget=5000 \
		"$U1/" 2>/dev/null
}
dom_has() { dump_dom | grep -o "$1" | wc -l; }
export -f dump_dom dom_has
touch "$N2/web/dumped"
check "chromium --dump-dom: the page shows the other node's lock" 1 dom_has 'data-lock="web/dumped"'
check "chromium --dump-dom: and its holder" 1 dom_has 'data-holder-node="n2"'
rm "$N2/web/dumped"
check "chromium --dump-dom: not after its rm" 0 dom_has 'data-lock="web/dumped"'

# --- bad requests -------------------------------------------------------------
check "POST is refused" 405 code -X POST -d x "$U1/api/locks"
check "DELETE is refused" 405 code -X DELETE "$U1/events"
check "405 says what is allowed" 1 bash -c "curl -s -D - -o /dev/null -X PUT $U1/ | grep -ci '^allow: GET, HEAD'"
check "an unknown path is 404" 404 code "$U1/nothing"
check "a path under an endpoint is 404" 404 code "$U1/api/locks/db"
check "huge headers are 400" 400 code -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' x)" "$U1/metrics"
check "a huge body is 413" 413 code -X POST --data-binary "@$LOCKFS_BIN" "$U1/"
# many idle connections: the FUSE side and other clients go on
$PY - "${U1##*:}" "$N1" >$T.idle <<'EOF'
import os, socket, subprocess, sys, time
port, mnt = int(sys.argv[1]), sys.argv[2]
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(500)]
half = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
for s in half:
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")   # never finished
t = time.monotonic()
open(os.path.join(mnt, "idle-probe"), "w").close()
os.unlink(os.path.join(mnt, "idle-probe"))
print("fuse %.3f" % (time.monotonic() - t))
r = subprocess.run(["curl", "-s", "-m", "10", "-o", "/dev/null", "-w",
                    "%{http_code}", "http://127.0.0.1:%d/metrics" % port],
                   capture_output=True, text=True)
print("http " + r.stdout)
EOF
check "500 idle connections: the FUSE side answers at once" 1 awk '$1 == "fuse" && $2 < 1 { n++ } END { print n + 0 }' $T.idle
check "500 idle connections: a request is still served" "http 200" grep '^http' $T.idle

# --- Redis frozen: at most 16 walks at once, the rest 503 at once ----------
redis_freeze
walkers=()
for ((k = 0; k < 20; k++)); do
	curl -s -m 20 "$U1/api/locks" >$T.walk$k &
	walkers+=($!)
done
refused_walks() { cat $T.walk* | grep -c 'too many tree walks'; }
export -f refused_walks
wait_until 5 bash -c '[ "$(refused_walks)" = 4 ]'
check "Redis frozen: the 17th walk and later are refused at once" 4 refused_walks
check "Redis frozen: metrics still answer" 200 code -m 2 "$U1/metrics"
redis_thaw
wait "${walkers[@]}"
check "Redis thawed: every walk got its answer" 20 bash -c "cat $T.walk* | grep -c '\"locks\"\\|\"error\"'"

# --- Redis away ---------------------------------------------------------------
redis_stop
redis_down() { [ "$(info_field "$N1/.lockfs/status" redis)" = disconnected ]; }
wait_until 10 redis_down
check "Redis away: locks are 503 at once" 503 code -m 1 "$U1/api/locks"
check "Redis away: the answer says why" True json "$U1/api/locks" "'error' in d"
check "Redis away: metrics still answer" 200 code "$U1/metrics"
check "Redis away: status says so" True json "$U1/api/status" "d['redis'] != 'connected'"
redis_start
redis_up() { [ "$(info_field "$N1/.lockfs/status" redis)" = connected ]; }
wait_until 20 redis_up
check "Redis back: locks are 200" 200 code "$U1/api/locks"
check "the FUSE side works after all this" EEXIST bash -c ": > $N1/after; fsop open $N2/after wx; rm -f $N1/after"
finish
