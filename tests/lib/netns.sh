# netns.sh - a network namespace joined to the machine by a veth link, and
# partitions of that link, for the partition suites (tests/fault/).
# Sourced after cluster.sh.
#
#   netns_up            namespace $NETNS with address $NETNS_ME, the
#                       machine's side of the link with $NETNS_HOST and
#                       $NETNS_HOST2 (two addresses, so that two paths can
#                       be cut apart); false if it cannot be made
#   netns_run CMD...    CMD with the namespace's network (nsenter: the
#                       machine's mounts and processes, so a FUSE mount
#                       made there is everyone's)
#   netns_forward ADDR PORT   a socat forwarder from ADDR:PORT on the
#                       machine's side to 127.0.0.1:PORT (servers that
#                       listen on loopback only)
#   netns_cut ADDR      the namespace's packets to ADDR are dropped, silently
#                       (a blackhole route: no reset, no error on an
#                       established connection); netns_heal ADDR undoes it
#   netns_isolate / netns_rejoin   both directions of the whole link
#   netns_down          remove it all (the EXIT trap calls it)
#   netns_ready         the suite's servers, the namespace and its link (or
#                       the suite fails), and the broker forwarded to
#                       $NETNS_HOST2 for the nodes inside
NETNS=lfp$$
NETNS_HOST_IF=lfh$$
NETNS_IF=lfn$$
NETNS_NET=10.$((100 + $$ % 100)).$(($$ / 100 % 250))
NETNS_HOST=$NETNS_NET.1
NETNS_HOST2=$NETNS_NET.3
NETNS_ME=$NETNS_NET.2
NETNS_FORWARDERS=()

netns_up() {
	ip netns add "$NETNS" &&
		ip link add "$NETNS_HOST_IF" type veth peer name "$NETNS_IF" &&
		ip link set "$NETNS_IF" netns "$NETNS" &&
		ip addr add "$NETNS_HOST/24" dev "$NETNS_HOST_IF" &&
		ip addr add "$NETNS_HOST2/24" dev "$NETNS_HOST_IF" &&
		ip link set "$NETNS_HOST_IF" up &&
		ip -n "$NETNS" addr add "$NETNS_ME/24" dev "$NETNS_IF" &&
		ip -n "$NETNS" link set "$NETNS_IF" up &&
		ip -n "$NETNS" link set lo up
}

netns_run() { nsenter --net="/run/netns/$NETNS" "$@"; }

netns_forward() { # ADDR PORT
	socat TCP-LISTEN:"$2",bind="$1",reuseaddr,fork TCP:127.0.0.1:"$2" &
	NETNS_FORWARDERS+=($!)
	wait_until 10 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

netns_cut() { ip -n "$NETNS" route add blackhole "$1/32"; }
netns_heal() { ip -n "$NETNS" route del blackhole "$1/32"; }

netns_isolate() {
	netns_cut "$NETNS_HOST"
	netns_cut "$NETNS_HOST2"
	ip route add blackhole "$NETNS_ME/32"
}

netns_rejoin() {
	netns_heal "$NETNS_HOST"
	netns_heal "$NETNS_HOST2"
	ip route del blackhole "$NETNS_ME/32"
}

netns_down() {
	local p
	for p in "${NETNS_FORWARDERS[@]}"; do kill "$p" 2>/dev/null; done
	ip route del blackhole "$NETNS_ME/32" 2>/dev/null
	ip link del "$NETNS_HOST_IF" 2>/dev/null
	ip netns del "$NETNS" 2>/dev/null
	return 0
}

# netns_mount I OPTS [REDIS_URL]: mount node nI from inside the namespace,
# its broker reached through $NETNS_HOST2 (netns_forward it first) and
# Redis at REDIS_URL (default: the suite's, through $NETNS_HOST); waits
# until it is on the broker.
netns_mount() {
	local i=$1 opts=$2 mnt="$CLUSTER_DIR/n$1" amqp_at redis_url
	amqp_at=$(sed -n 's|^amqp://[^@]*@\([^/]*\).*|\1|p' <<<"$LOCKFS_AMQP_URL")
	redis_url=${3:-redis://$NETNS_HOST:$(netns_redis_port)}
	mkdir -p "$mnt"
	LOCKFS_AMQP_URL=${LOCKFS_AMQP_URL/@$amqp_at/@$NETNS_HOST2:${amqp_at##*:}} \
		netns_run "$LOCKFS_BIN" -f \
		-o "redis=$redis_url,prefix=$CLUSTER_PREFIX,node=n$i,allow_other,$opts" \
		"$mnt" >>"$CLUSTER_DIR/n$i.log" 2>&1 &
	NODE_PIDS[$i]=$!
	CLUSTER_N=$i
	CLUSTER_NODES=$i
	eval "export N$i=$mnt"
	wait_until 20 grep -q '^amqp=connected' "$mnt/.lockfs/status" 2>/dev/null
}

netns_redis_port() { local p=${LOCKFS_REDIS_URL##*:}; echo "${p%%/*}"; }
netns_amqp_port() {
	sed -n 's|^amqp://[^@]*@[^/]*:\([0-9]*\).*|\1|p' <<<"$LOCKFS_AMQP_URL"
}

netns_ready() {
	cluster_servers
	if ! netns_up; then
		fail "a network namespace and a veth link"
		finish
	fi
	netns_forward "$NETNS_HOST2" "$(netns_amqp_port)"
}
