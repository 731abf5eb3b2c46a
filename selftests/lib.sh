#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Helpers for the tcp_handoff selftests, after the kernel's
# tools/testing/selftests/net/lib.sh: namespaces with unique names, cleanup
# on exit, kselftest exit codes, and the cluster topology of the design:
#
#   client ──┐                 ┌── node1 (front-end)
#            ├── br-data (sw) ─┼── node2
#            │                 └── node3
#   node1..3 ──── br-ctl (sw): the control channel, separate from data
#
# Data: 198.51.100.0/25 (node N is .N, the client .100), 2001:db8:1::/64.
# Control: 198.51.100.128/25 (node N is .128+N), 2001:db8:2::/64.

ksft_pass=0
ksft_fail=1
ksft_xfail=2
ksft_skip=4

TH_SRC=${TH_SRC:-/src/tcp_handoff}
HANDOFFCTL=${HANDOFFCTL:-$TH_SRC/tools/handoffctl/target/release/handoffctl}
NS_LIST=()
TH_TMP=$(mktemp -d /tmp/th-test.XXXXXX)

log() { printf '# %s\n' "$*"; }

# ktap-style subtest result inside one test program; failures make the
# program fail at the end.
th_rc=$ksft_pass
check() { # description command...
	local desc=$1
	shift
	if "$@" >"$TH_TMP/out" 2>&1; then
		log "ok: $desc"
	else
		log "FAIL: $desc"
		sed 's/^/#   /' "$TH_TMP/out"
		th_rc=$ksft_fail
	fi
}
# Expect a command to fail with exit code $2 and its output to contain $3.
check_fails() { # description exit-code text command...
	local desc=$1 want=$2 text=$3 rc
	shift 3
	"$@" >"$TH_TMP/out" 2>&1
	rc=$?
	if [ "$rc" = "$want" ] && grep -qF -- "$text" "$TH_TMP/out"; then
		log "ok: $desc (exit $rc: $(head -c 200 "$TH_TMP/out" | tr '\n' ' '))"
	else
		log "FAIL: $desc: wanted exit $want and '$text', got exit $rc:"
		sed 's/^/#   /' "$TH_TMP/out"
		th_rc=$ksft_fail
	fi
}
check_eq() { # description want got
	if [ "$2" = "$3" ]; then
		log "ok: $1 ($3)"
	else
		log "FAIL: $1: wanted '$2', got '$3'"
		th_rc=$ksft_fail
	fi
}

require_tool() {
	command -v "$1" >/dev/null 2>&1 || { log "SKIP: $1 not installed"; exit $ksft_skip; }
}

module_loaded() { [ -d /sys/module/tcp_handoff ]; }
require_module() {
	module_loaded || { log "FAIL: tcp_handoff is not loaded"; exit $ksft_fail; }
}

hctl() { "$HANDOFFCTL" "$@"; }

# setup_ns VAR... : creates one namespace per name, stores its unique name
# in the variable of that name, brings lo up.
setup_ns() {
	# The locals must not shadow the caller's variable names.
	local __var __name
	for __var in "$@"; do
		__name="$__var-$(mktemp -u XXXXXX)"
		ip netns add "$__name" || return 1
		ip -n "$__name" link set lo up
		NS_LIST+=("$__name")
		eval "$__var=$__name"
	done
}

# The client's guard (setup_handoff_cluster): every TCP packet the client
# receives must come from the service address and port, and no reset may
# reach it unless a test says how many it expects (TH_EXPECT_RST).
TH_GUARD_NS=""
TH_GUARD_FAILED=0
guard_client() { # ns
	ip netns exec "$1" nft -f - <<'NFT' || return 1
table ip th_guard {
	set allowed {
		type ipv4_addr . inet_service
		elements = { 198.51.100.1 . 80 }
	}
	counter resets {}
	counter foreign {}
	chain input {
		type filter hook input priority 0;
		tcp flags & rst == rst counter name resets
		ip saddr . tcp sport != @allowed counter name foreign
	}
}
NFT
	TH_GUARD_NS=$1
	# For the report when the guard fails: the resets themselves.
	if command -v tcpdump >/dev/null; then
		ip netns exec "$1" tcpdump -n -U -i eth0 -w "$TH_TMP/guard.pcap" \
			'tcp[tcpflags] & tcp-rst != 0' >/dev/null 2>&1 &
	fi
}
# guard_allow ADDR PORT: a test that talks to a node directly on purpose.
guard_allow() {
	ip netns exec "$TH_GUARD_NS" nft add element ip th_guard allowed "{ $1 . $2 }"
}
guard_count() { # ns counter
	ip netns exec "$1" nft list counter ip th_guard "$2" | awk '$1 == "packets" { print $2 }'
}
guard_check() {
	[ -n "$TH_GUARD_NS" ] || return 0
	local ns=$TH_GUARD_NS resets foreign
	TH_GUARD_NS=""
	resets=$(guard_count "$ns" resets)
	foreign=$(guard_count "$ns" foreign)
	if [ "${resets:-x}" != "${TH_EXPECT_RST:-0}" ] || [ "${foreign:-x}" != 0 ]; then
		log "FAIL: the client received $resets resets (expected ${TH_EXPECT_RST:-0}) and $foreign packets from an address it did not talk to"
		[ ! -s "$TH_TMP/guard.pcap" ] ||
			tcpdump -n -v -r "$TH_TMP/guard.pcap" 2>/dev/null | head -20 | sed 's/^/#   /'
		TH_GUARD_FAILED=1
		th_rc=$ksft_fail
		return 1
	fi
	log "ok: the client received packets only from 198.51.100.1:80 (or a peer the test named), $resets resets"
}

cleanup_ns() {
	guard_check
	local ns
	for ns in "${NS_LIST[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	NS_LIST=()
}

th_cleanup() {
	local rc=$?
	cleanup_ns
	rm -rf "$TH_TMP"
	# A guard failure fails a test that would otherwise pass.
	if [ "$rc" = 0 ] && [ "$TH_GUARD_FAILED" = 1 ]; then
		exit $ksft_fail
	fi
}
trap th_cleanup EXIT

# A stat of this namespace's counters (netlink), e.g. stat_of NS rx-packets.
stat_of() { # ns name
	ip netns exec "$1" "$HANDOFFCTL" stats show | awk -v k="$2" '$1 == k { print $2 }'
}
# The same counter from /proc/net/tcp_handoff (names use underscores).
proc_stat_of() { # ns name
	ip netns exec "$1" awk -v k="${2//-/_}" '$1 == k { print $2 }' /proc/net/tcp_handoff
}

# setup_cluster: creates sw, client, node1..3 with the topology above.
setup_cluster() {
	setup_ns sw client node1 node2 node3 || return 1
	ip -n "$sw" link add br-data type bridge
	ip -n "$sw" link add br-ctl type bridge
	ip -n "$sw" link set br-data up
	ip -n "$sw" link set br-ctl up
	local i
	for i in client 1 2 3; do
		cluster_links "$i"
	done
}

# cluster_links client|N: plugs the client or node N (its namespace made
# already) into the bridges, with its addresses.
cluster_links() {
	local i=$1 host
	if [ "$i" = client ]; then host=$client; else eval "host=\$node$i"; fi
	ip link add eth0 netns "$host" type veth peer name "d-$i" netns "$sw"
	ip -n "$sw" link set "d-$i" master br-data up
	ip -n "$host" link set eth0 up
	if [ "$i" = client ]; then
		ip -n "$host" addr add 198.51.100.100/25 dev eth0
		ip -n "$host" addr add 2001:db8:1::100/64 dev eth0 nodad
		return
	fi
	ip -n "$host" addr add "198.51.100.$i/25" dev eth0
	ip -n "$host" addr add "2001:db8:1::$i/64" dev eth0 nodad
	ip link add eth1 netns "$host" type veth peer name "c-$i" netns "$sw"
	ip -n "$sw" link set "c-$i" master br-ctl up
	ip -n "$host" link set eth1 up
	ip -n "$host" addr add "198.51.100.$((128 + i))/25" dev eth1
	ip -n "$host" addr add "2001:db8:2::$i/64" dev eth1 nodad
}

# start_nginx NS NAME: nginx on port 80 of the namespace, serving pages
# that name the node ("served-by NAME"), and a 1 MiB object /big.
start_nginx() {
	local ns=$1 name=$2 dir=$TH_TMP/nginx-$2
	mkdir -p "$dir/www" "$dir/tmp"
	echo "served-by $name" >"$dir/www/index.html"
	head -c 1048576 /dev/zero | tr '\0' 'x' >"$dir/www/big"
	# /a/ and /b/ are what the handoff tests' rules route; the same
	# random 1 MiB object on every node, so a body can be checked
	# byte for byte whichever node served it.
	mkdir -p "$dir/www/a" "$dir/www/b"
	echo "served-by $name" >"$dir/www/a/index.html"
	echo "served-by $name" >"$dir/www/b/index.html"
	[ -f "$TH_TMP/random-1m" ] || head -c 1048576 /dev/urandom >"$TH_TMP/random-1m"
	cp "$TH_TMP/random-1m" "$dir/www/a/big"
	cp "$TH_TMP/random-1m" "$dir/www/b/big"
	cat >"$dir/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 256; }
http {
	access_log $dir/access.log;
	client_body_temp_path $dir/tmp;
	# Tests stall clients on purpose; the guest is slow.
	send_timeout 600s;
	proxy_temp_path $dir/tmp;
	fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp;
	scgi_temp_path $dir/tmp;
	server {
		listen 80 default_server;
		listen [::]:80 default_server;
		root $dir/www;
		add_header X-Node $name always;
		client_max_body_size 8m;
		# Uploads land in up/, so a test can check them byte for byte.
		location /a/up/ {
			dav_methods PUT;
			create_full_put_path on;
			client_body_temp_path $dir/tmp;
		}
	}
}
CONF
	ip netns exec "$ns" nginx -c "$dir/nginx.conf" || return 1
	# Wait until it listens.
	local n
	for n in $(seq 50); do
		ip netns exec "$ns" ss -Hltn 'sport = :80' | grep -q LISTEN && return 0
		sleep 0.1
	done
	return 1
}

# setup_handoff_cluster: setup_cluster, nginx on every node, every node
# configured with all three nodes (the control channel on br-ctl, port
# 7000) and short linger times; node1 is the front-end of service
# 198.51.100.1:80 with rules /a/ -> node2, /b/ -> node3, the rest local.
# Waits until node1's channels to node2 and node3 are up. The client's
# guard checks, when the test ends, that no stray packet reached it.
setup_handoff_cluster() {
	setup_cluster || return 1
	local i
	for i in 1 2 3; do
		cluster_node_config "$i" || return 1
	done
	guard_client "$client" || return 1
	ip netns exec "$node1" "$HANDOFFCTL" service add 198.51.100.1:80 || return 1
	ip netns exec "$node1" "$HANDOFFCTL" rule add prio 10 prefix /a/ policy rr to 2 || return 1
	ip netns exec "$node1" "$HANDOFFCTL" rule add prio 20 prefix /b/ policy rr to 3 || return 1
	wait_peers_up "$node1" 2 || return 1
}

# cluster_node_config N: node N knows all three nodes, lingers 3 s (a
# short TIME_WAIT: long enough that a slow guest's last ACK after a
# TERMINATE still finds its tombstone, short enough to drain tables
# quickly), and runs nginx.
cluster_node_config() {
	local i=$1 j ns
	eval "ns=\$node$i"
	for j in 1 2 3; do
		if [ "$i" = "$j" ]; then
			ip netns exec "$ns" "$HANDOFFCTL" node add "$j" addr "198.51.100.$((128 + j))" port 7000 local || return 1
		else
			ip netns exec "$ns" "$HANDOFFCTL" node add "$j" addr "198.51.100.$((128 + j))" port 7000 || return 1
		fi
	done
	ip netns exec "$ns" "$HANDOFFCTL" limits set linger 3000 || return 1
	start_nginx "$ns" "node$i"
}

# wait_peers_up NS N: waits (up to 15 s) until NS has N peers up.
wait_peers_up() {
	local n
	for n in $(seq 150); do
		[ "$(stat_of "$1" peers-up)" = "$2" ] && return 0
		sleep 0.1
	done
	log "peers up in $1: $(stat_of "$1" peers-up), wanted $2"
	ip netns exec "$1" "$HANDOFFCTL" node show | sed 's/^/# /'
	return 1
}

# wait_stat NS NAME VALUE [TENTHS]: waits until a counter has a value.
wait_stat() {
	local n
	for n in $(seq "${4:-100}"); do
		[ "$(stat_of "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
