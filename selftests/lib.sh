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

# The service the cluster tests talk to: IPv4, or IPv6 when run_tests.sh
# runs a test of TEST_PROGS_V6 the second time, with TH_FAMILY=6 (the
# control channel stays on IPv4). SVC_IP is its address, SVC_HOST the
# address as a URL or handoffctl writes it, CLIENT_IP the client's own.
if [ "${TH_FAMILY:-4}" = 6 ]; then
	SVC_IP=2001:db8:1::1 SVC_HOST=[2001:db8:1::1] CLIENT_IP=2001:db8:1::100
else
	SVC_IP=198.51.100.1 SVC_HOST=198.51.100.1 CLIENT_IP=198.51.100.100
fi
export SVC_IP SVC_HOST CLIENT_IP

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
	local out
	out=$(<"$TH_TMP/out")
	if [ "$rc" = "$want" ] && [[ $out == *"$text"* ]]; then
		out=${out:0:200}
		log "ok: $desc (exit $rc: ${out//$'\n'/ })"
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

# Every process started in the guest costs about a tenth of a second (a
# debug kernel under TCG), a dynamically linked one more. The helpers below
# therefore batch: one `ip -batch` per namespace, one `handoffctl -batch`
# per node, and handoffctl's own `-n` instead of `ip netns exec`.

# new_ns VAR... : creates one namespace per name and stores its unique name
# in the variable of that name.
new_ns() {
	# The locals must not shadow the caller's variable names.
	local __var __name __names=()
	for __var in "$@"; do
		printf -v __name '%s-%04x%04x' "$__var" "$RANDOM" "$RANDOM"
		__names+=("$__name")
		eval "$__var=$__name"
	done
	printf 'netns add %s\n' "${__names[@]}" | ip -batch - || return 1
	NS_LIST+=("${__names[@]}")
}

# setup_ns VAR... : new_ns, and lo up in each.
setup_ns() {
	local __name
	new_ns "$@" || return 1
	for __name in "$@"; do
		ip -n "${!__name}" link set lo up || return 1
	done
}

# setup_ctl_pair: namespaces $node and $fake joined by a veth on their
# eth1, 198.51.100.129 and .130: a node's control link to a fake peer.
setup_ctl_pair() {
	setup_ns node fake || return 1
	ip link add eth1 netns "$node" type veth peer name eth1 netns "$fake" || return 1
	ip -n "$node" addr add 198.51.100.129/25 dev eth1 &&
		ip -n "$node" link set eth1 up &&
		ip -n "$fake" addr add 198.51.100.130/25 dev eth1 &&
		ip -n "$fake" link set eth1 up
}

# wait_listening FILE: until a fake peer writes "listening" to FILE.
wait_listening() {
	local TH_END
	th_deadline 100
	until grep -q listening "$1" 2>/dev/null; do
		th_before_deadline || return 1
		th_sleep 0.1
	done
}

# For the kernel tree's ynl CLI (python): the guest's root is read-only, so
# Python would compile ynl, which ships no bytecode, at every start; with
# this its bytecode goes to /tmp, where the next call finds it. (Not for
# every program: Debian's packages ship theirs, which a prefix would hide.)
TH_YNL_PYC=/tmp/pycache-ynl

# in_ns NS: runs ip's batch commands from stdin in namespace NS.
in_ns() { ip -n "$1" -batch -; }

# The client's guard (setup_handoff_cluster): every TCP packet the client
# receives must come from the service address and port, and no reset may
# reach it unless a test says how many it expects (TH_EXPECT_RST).
TH_GUARD_NS=""
TH_GUARD_FAILED=0
guard_client() { # ns
	ip netns exec "$1" nft -f - <<'NFT' || return 1
table inet th_guard {
	set allowed {
		type ipv4_addr . inet_service
		elements = { 198.51.100.1 . 80 }
	}
	set allowed6 {
		type ipv6_addr . inet_service
		elements = { 2001:db8:1::1 . 80 }
	}
	counter resets {}
	counter foreign {}
	chain input {
		type filter hook input priority 0;
		tcp flags & rst == rst counter name resets
		meta nfproto ipv4 ip saddr . tcp sport != @allowed counter name foreign
		meta nfproto ipv6 ip6 saddr . tcp sport != @allowed6 counter name foreign
	}
}
NFT
	TH_GUARD_NS=$1
	# For the report when the guard fails: the resets themselves, and the
	# headers of what came from elsewhere than the service (with a test's
	# guard_allow peers, which the report does not tell apart).
	if command -v tcpdump >/dev/null; then
		ip netns exec "$1" tcpdump -n -U -s 96 -i eth0 -w "$TH_TMP/guard.pcap" \
			'(ip and tcp and not src host 198.51.100.100 and ((tcp[tcpflags] & tcp-rst != 0) or not (src host 198.51.100.1 and src port 80))) or (ip6 and tcp and not src host 2001:db8:1::100 and not (src host 2001:db8:1::1 and src port 80))' \
			>/dev/null 2>&1 &
	fi
}
# guard_allow ADDR PORT: a test that talks to a node directly on purpose.
guard_allow() {
	local set=allowed
	case $1 in *:*) set=allowed6 ;; esac
	ip netns exec "$TH_GUARD_NS" nft add element inet th_guard "$set" "{ $1 . $2 }"
}
guard_check() {
	[ -n "$TH_GUARD_NS" ] || return 0
	local ns=$TH_GUARD_NS resets foreign
	TH_GUARD_NS=""
	# Both counters from one listing: "counter NAME {", then "packets N".
	local name="" w1 w2 rest
	while read -r w1 w2 rest; do
		case $w1 in
		counter) name=$w2 ;;
		packets) [ "$name" = resets ] && resets=$w2
			[ "$name" = foreign ] && foreign=$w2 ;;
		esac
	done < <(ip netns exec "$ns" nft list counters table inet th_guard)
	if [ "${resets:-x}" != "${TH_EXPECT_RST:-0}" ] || [ "${foreign:-x}" != 0 ]; then
		log "FAIL: the client received $resets resets (expected ${TH_EXPECT_RST:-0}) and $foreign packets from an address it did not talk to"
		[ ! -s "$TH_TMP/guard.pcap" ] ||
			tcpdump -n -r "$TH_TMP/guard.pcap" 2>/dev/null | head -40 | sed 's/^/#   /'
		TH_GUARD_FAILED=1
		th_rc=$ksft_fail
		return 1
	fi
	log "ok: the client received packets only from the service's port 80 (or a peer the test named), $resets resets"
}

cleanup_ns() {
	guard_check
	[ ${#NS_LIST[@]} -gt 0 ] || return 0
	local pids
	pids=$(printf 'netns pids %s\n' "${NS_LIST[@]}" | ip -force -batch - 2>/dev/null)
	# shellcheck disable=SC2086 # a list of pids
	[ -z "$pids" ] || kill $pids 2>/dev/null
	printf 'netns del %s\n' "${NS_LIST[@]}" | ip -force -batch - 2>/dev/null
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

# ns_sysctl NS KEY=VALUE...: sets sysctls of namespace NS in one process
# (KEY as sysctl names it, e.g. net.ipv4.tcp_sack), in order.
ns_sysctl() {
	local ns=$1 kv k args=()
	shift
	for kv in "$@"; do
		k=${kv%%=*}
		args+=("/proc/sys/${k//.//}" "${kv#*=}")
	done
	# shellcheck disable=SC2016 # expanded by the inner shell
	ip netns exec "$ns" sh -c 'while [ $# -gt 1 ]; do echo "$2" >"$1" || exit 1; shift 2; done' \
		sh "${args[@]}"
}

# A stat of this namespace's counters (netlink), e.g. stat_of NS rx-packets.
stat_of() { # ns name
	local k v
	while read -r k v; do
		[ "$k" = "$2" ] && { echo "$v"; return; }
	done < <("$HANDOFFCTL" -n "$1" stats show)
}
# The same counter from /proc/net/tcp_handoff (names use underscores).
# tcpext NS NAME: a TcpExt counter of the namespace's TCP (/proc/net/netstat).
tcpext() {
	ip netns exec "$1" awk -v k="$2" '$1 == "TcpExt:" { if (!n) { for (i = 2; i <= NF; i++) c[$i] = i; n = 1 } else print $c[k] }' /proc/net/netstat
}
proc_stat_of() { # ns name
	ip netns exec "$1" awk -v k="${2//-/_}" '$1 == k { print $2 }' /proc/net/tcp_handoff
}

# setup_cluster: creates sw, client, node1..3 with the topology above.
setup_cluster() {
	new_ns sw client node1 node2 node3 || return 1
	in_ns "$sw" <<-EOF || return 1
		link set lo up
		link add br-data type bridge
		link add br-ctl type bridge
		link set br-data up
		link set br-ctl up
	EOF
	cluster_links client 1 2 3
}

# cluster_links client|N...: plugs the client or node N (its namespace made
# already) into the bridges, with its addresses.
cluster_links() {
	local i host
	# The pairs are made from here, each end in its namespace.
	for i in "$@"; do
		if [ "$i" = client ]; then host=$client; else eval "host=\$node$i"; fi
		echo "link add eth0 netns $host type veth peer name d-$i netns $sw"
		[ "$i" = client ] || echo "link add eth1 netns $host type veth peer name c-$i netns $sw"
	done | ip -batch - || return 1
	for i in "$@"; do
		echo "link set d-$i master br-data up"
		[ "$i" = client ] || echo "link set c-$i master br-ctl up"
	done | in_ns "$sw" || return 1
	for i in "$@"; do
		if [ "$i" = client ]; then
			in_ns "$client" <<-EOF || return 1
				link set lo up
				link set eth0 up
				addr add 198.51.100.100/25 dev eth0
				addr add 2001:db8:1::100/64 dev eth0 nodad
			EOF
			continue
		fi
		eval "host=\$node$i"
		in_ns "$host" <<-EOF || return 1
			link set lo up
			link set eth0 up
			addr add 198.51.100.$i/25 dev eth0
			addr add 2001:db8:1::$i/64 dev eth0 nodad
			link set eth1 up
			addr add 198.51.100.$((128 + i))/25 dev eth1
			addr add 2001:db8:2::$i/64 dev eth1 nodad
		EOF
		# A link taken down and up again (fault tests) keeps its IPv6
		# addresses, as its IPv4 ones.
		ns_sysctl "$host" net.ipv6.conf.all.keep_addr_on_down=1 || return 1
	done
}

# start_nginx NS NAME: nginx on port 80 of the namespace, serving pages
# that name the node ("served-by NAME") at /, /a/ and /b/, and the same
# random 1 MiB object ($TH_TMP/random-1m) as /big, /a/big and /b/big, so a
# body can be checked byte for byte whichever node served it. /a/up/ takes
# uploads (PUT), so a test can check them byte for byte. TH_NGINX_CONNS
# (default 256) bounds its connections, TH_NGINX_KEEPALIVE (default 75s)
# is how long it keeps an idle keep-alive connection.
start_nginx() {
	local ns=$1 name=$2 dir=$TH_TMP/nginx-$2
	[ -d "$dir/tmp" ] || mkdir -p "$dir/www/a" "$dir/www/b" "$dir/tmp" || return 1
	echo "served-by $name" >"$dir/www/index.html"
	echo "served-by $name" >"$dir/www/a/index.html"
	echo "served-by $name" >"$dir/www/b/index.html"
	[ -f "$TH_TMP/random-1m" ] || head -c 1048576 /dev/urandom >"$TH_TMP/random-1m"
	local conf
	# A here-document read by a builtin: no process for the file.
	IFS= read -r -d '' conf <<CONF || :
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
worker_rlimit_nofile $(( ${TH_NGINX_CONNS:-256} * 2 + 64 ));
events { worker_connections ${TH_NGINX_CONNS:-256}; }
http {
	keepalive_timeout ${TH_NGINX_KEEPALIVE:-75s};
	access_log $dir/access.log;
	client_body_temp_path $dir/tmp;
	# Tests stall clients on purpose; the guest is slow.
	send_timeout 600s;
	proxy_temp_path $dir/tmp;
	fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp;
	scgi_temp_path $dir/tmp;
	server {
		# Held connections wait as request sockets, which the stack
		# prunes early once they fill half the backlog (design.rst).
		listen 80 default_server backlog=4096;
		listen [::]:80 default_server backlog=4096;
		root $dir/www;
		add_header X-Node $name always;
		client_max_body_size 8m;
		location = /big { alias $TH_TMP/random-1m; }
		location = /a/big { alias $TH_TMP/random-1m; }
		location = /b/big { alias $TH_TMP/random-1m; }
		location /a/up/ {
			dav_methods PUT;
			create_full_put_path on;
			client_body_temp_path $dir/tmp;
		}
	}
}
CONF
	printf '%s' "$conf" >"$dir/nginx.conf"
	# nginx binds and listens before it detaches: when this returns, the
	# server accepts connections.
	ip netns exec "$ns" nginx -c "$dir/nginx.conf"
}

# setup_handoff_cluster: setup_cluster, nginx on every node, every node
# configured with all three nodes (the control channel on br-ctl, port
# 7000) and short linger times; node1 is the front-end of service
# $SVC_HOST:80 (198.51.100.1, or [2001:db8:1::1] with TH_FAMILY=6) with
# rules /a/ -> node2, /b/ -> node3, the rest local.
# Waits until node1's channels to node2 and node3 are up. The client's
# guard checks, when the test ends, that no stray packet reached it.
setup_handoff_cluster() {
	setup_cluster || return 1
	guard_client "$client" || return 1
	local i
	# One process for every node's folders (start_nginx skips its own).
	mkdir -p "$TH_TMP"/nginx-node{1,2,3}/{www/a,www/b,tmp} || return 1
	for i in 3 2 1; do
		cluster_node_config "$i" || return 1
	done
	"$HANDOFFCTL" -n "$node1" -b - <<-EOF || return 1
		service add $SVC_HOST:80
		rule add prio 10 prefix /a/ policy rr to 2
		rule add prio 20 prefix /b/ policy rr to 3
	EOF
	wait_peers_up "$node1" 2 || return 1
}

# cluster_nodes N: the handoffctl batch lines by which node N knows all
# three nodes (their control addresses on br-ctl, port 7000).
cluster_nodes() {
	local j local
	for j in 1 2 3; do
		local=""
		[ "$1" = "$j" ] && local=" local"
		echo "node add $j addr 198.51.100.$((128 + j)) port 7000$local"
	done
}

# cluster_node_config N: node N knows all three nodes, lingers 3 s (a
# short TIME_WAIT: long enough that a slow guest's last ACK after a
# TERMINATE still finds its tombstone, short enough to drain tables
# quickly), and runs nginx.
cluster_node_config() {
	local i=$1 ns
	eval "ns=\$node$i"
	cluster_nodes "$i" >"$TH_TMP/node$i.conf"
	echo "limits set linger 3000" >>"$TH_TMP/node$i.conf"
	"$HANDOFFCTL" -n "$ns" -b "$TH_TMP/node$i.conf" || return 1
	start_nginx "$ns" "node$i"
}

# Waits are deadlines in tenths of a second, stretched by TH_SLOW (the
# debug kernel under TCG is slow, and a wait costs nothing unless it
# fails).
TH_SLOW=${TH_SLOW:-3}
# th_sleep SECONDS: sleeps without starting a process (a read that times
# out on a pipe nobody writes to).
exec {TH_SLEEP_FD}<> <(:)
th_sleep() { read -r -t "$1" -u "$TH_SLEEP_FD" _ || :; }
# th_deadline TENTHS: sets TH_END, the deadline TENTHS from now, stretched.
th_deadline() { TH_END=$(( ${EPOCHREALTIME/./} + $1 * 100000 * TH_SLOW )); }
th_before_deadline() { [ "${EPOCHREALTIME/./}" -lt "$TH_END" ]; }

# wait_peers_up NS N: waits (up to 15 s) until NS has N peers up.
wait_peers_up() {
	wait_stat "$1" peers-up "$2" 150 && return 0
	log "peers up in $1: $(stat_of "$1" peers-up), wanted $2"
	"$HANDOFFCTL" -n "$1" node show | sed 's/^/# /'
	return 1
}

# wait_stat NS NAME VALUE [TENTHS]: waits until a counter has a value.
wait_stat() { wait_stat_test "$1" "$2" = "$3" "${4:-100}"; }
# wait_stat_ge NS NAME VALUE [TENTHS]: waits until a counter is at least
# a value.
wait_stat_ge() { wait_stat_test "$1" "$2" -ge "$3" "${4:-100}"; }
wait_stat_test() { # NS NAME OP VALUE TENTHS
	local TH_END k v
	th_deadline "$5"
	while :; do
		while read -r k v; do
			[ "$k" = "$2" ] && break
		done < <("$HANDOFFCTL" -n "$1" stats show)
		[ "$k" = "$2" ] && [ "${v:-0}" "$3" "$4" ] && return 0
		th_before_deadline || return 1
		th_sleep 0.1
	done
}
