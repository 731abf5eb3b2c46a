#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# One node of the multi-VM cluster (scripts/cluster-vm.sh), alone in its
# guest: its addresses, the module, nginx and the cluster configuration
# (node1 is the front-end of 198.51.100.1:80, /a/ goes to node2 and /b/ to
# node3); then it waits for the client's "done COUNT", checks that it
# handed off (node1) or took over (node2, node3) COUNT connections and
# that its tables emptied, and unloads the module.
#
#   node.sh MODULE.ko N check|demo
#
# In demo mode node1 prints its service and node counters every two seconds
# while the client runs: the live view of 'make demo CLUSTER=vm'.
source "$(dirname "$0")/common.sh"
ko=$1 n=$2 mode=$3
hostname "node$n"
fail() { log "FAIL: $*"; exit $ksft_fail; }

ip -batch - <<-EOF2 || fail "addresses"
	link set eth0 up
	addr add 198.51.100.$n/25 dev eth0
	link set eth1 up
	addr add 198.51.100.$((128 + n))/25 dev eth1
EOF2
insmod "$ko" || fail "insmod $ko"
# lib.sh's helpers name a node by its network namespace; here the node is
# the whole machine, so its initial namespace gets a name.
ip netns attach self 1 || fail "ip netns attach"
cluster_object >"$TH_TMP/random-1m"
# nginx first: once node1's channels are up, it hands off at once.
start_nginx self "node$n" || fail "nginx"
{
	cluster_nodes "$n"
	echo "limits set linger 3000"
	if [ "$n" = 1 ]; then
		echo "service add 198.51.100.1:80"
		echo "rule add prio 10 prefix /a/ policy rr to 2"
		echo "rule add prio 20 prefix /b/ policy rr to 3"
	fi
} | hctl -b - || fail "handoffctl configuration"
if [ "$n" = 1 ]; then
	# The other machines boot at their own pace: wait for them longer
	# than for a namespace.
	wait_stat self peers-up 2 1200 || fail "node1's channels to node2 and node3 did not come up"
fi
log "node$n: ready"

# The client's half of the rendezvous: "ready" out, "done COUNT" in.
python3 - "198.51.100.$n" "$CLUSTER_PORT" >"$TH_TMP/count" <<'PY' &
import socket, sys
srv = socket.create_server((sys.argv[1], int(sys.argv[2])))
srv.settimeout(1800)
conn, _ = srv.accept()
conn.sendall(b"ready\n")
conn.settimeout(1800)
line = conn.makefile().readline().split()
print(line[1] if len(line) == 2 and line[0] == "done" else "")
PY
rendezvous=$!
if [ "$mode" = demo ] && [ "$n" = 1 ]; then
	while kill -0 "$rendezvous" 2>/dev/null; do
		echo "---- $(date +%T) handoffctl stats show services; handoffctl stats show nodes"
		hctl stats show services
		hctl stats show nodes
		th_sleep 2
	done
fi
wait "$rendezvous" || fail "no rendezvous with the client"
want=$(<"$TH_TMP/count")
[ -n "$want" ] || fail "the client did not say how many connections to expect"

if [ "$n" = 1 ]; then
	check_eq "node1 handed off the client's connections" "$want" "$(stat_of self handoff-ok)"
	check_eq "node1: none refused" 0 "$(stat_of self handoff-nak)"
	check "node1: nothing forwarding" wait_stat self fe-forwarding 0 300
	check "node1: table empty" wait_stat self entries 0 300
	# The 1 MiB body went from node3 to the client: all that left node1's
	# data interface were handshakes, ACKs and small local answers.
	tx=$(</sys/class/net/eth0/statistics/tx_bytes)
	check "node1 sent $tx bytes on its data interface, far less than the body" test "$tx" -lt 262144
else
	check_eq "node$n took over the client's connections" "$want" "$(stat_of self be-accepted)"
	check "node$n: table empty" wait_stat self be-conns 0 300
fi
hctl stats show nodes | sed 's/^/# /'
kill "$(cat "$TH_TMP/nginx-node$n/nginx.pid")"
ip netns delete self
check "node$n: the module unloads" rmmod tcp_handoff
source "$(dirname "$0")/../kmemleak.sh"
kmemleak_module_check tcp_handoff
case $? in
0) log "ok: node$n: kmemleak reports nothing of the module" ;;
4) ;;
*) log "FAIL: node$n: kmemleak reports objects of the module"; th_rc=$ksft_fail ;;
esac
exit "$th_rc"
