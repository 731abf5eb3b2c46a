#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The control channel over IPv6: the cluster of lib.sh with the nodes'
# control addresses on IPv6 (2001:db8:2::N on br-ctl) and the service on
# IPv4. The channels come up, with TCP-AO keys too, node1 hands /a/ to
# node2 and /b/ to node3 over them, and the back-ends answer the client
# directly. A node whose address family differs from the local node's
# never gets a channel (a channel socket is of one family): it stays down.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
setup_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
guard_client "$client" || exit $ksft_fail
mkdir -p "$TH_TMP"/nginx-node{1,2,3}/{www/a,www/b,tmp}
for i in 1 2 3; do
	eval "ns=\$node$i"
	{
		for j in 1 2 3; do
			echo "node add $j addr 2001:db8:2::$j port 7000$([ "$i" = "$j" ] && echo " local")"
		done
		echo "limits set linger 3000"
	} | "$HANDOFFCTL" -n "$ns" -b - || { log "FAIL: node$i's configuration"; exit $ksft_fail; }
	start_nginx "$ns" "node$i" || exit $ksft_fail
done
"$HANDOFFCTL" -n "$node1" -b - <<-EOF || exit $ksft_fail
	service add 198.51.100.1:80
	rule add prio 10 prefix /a/ policy rr to 2
	rule add prio 20 prefix /b/ policy rr to 3
EOF
check "node1's channels to node2 and node3 come up over IPv6" wait_peers_up "$node1" 2
check "node2's too" wait_peers_up "$node2" 2
check "node1 connected to node2 from and to IPv6 addresses" \
	bash -c "ip netns exec $node1 ss -Htn state established '( dport = :7000 )' | grep -q '\[2001:db8:2::1\]:[0-9]* *\[2001:db8:2::2\]:7000'"
get() { ip netns exec "$client" curl -s --max-time 10 "http://198.51.100.1$1"; }
check_eq "/a/ is served by node2" "served-by node2" "$(get /a/)"
check_eq "/b/ is served by node3" "served-by node3" "$(get /b/)"
sum=$(ip netns exec "$client" curl -s --max-time 60 http://198.51.100.1/a/big | sha256sum | cut -d' ' -f1)
check_eq "1 MiB from node2 is byte-identical" "$(sha256sum "$TH_TMP/random-1m" | cut -d' ' -f1)" "$sum"
check_eq "node1: 3 handoffs accepted" 3 "$(stat_of "$node1" handoff-ok)"
check_eq "node2 took 2 connections over" 2 "$(stat_of "$node2" be-accepted)"

# TCP-AO on IPv6 channels: the keys are installed for any IPv6 peer.
K1=$(printf '%02x' {1..32})
for ns in "$node1" "$node2" "$node3"; do
	"$HANDOFFCTL" -n "$ns" key add 1 secret "$K1"
done
check "with keys the channels come back" wait_stat "$node1" peers-up 2 150
check_eq "/b/ is served by node3 over a signed channel" "served-by node3" "$(get /b/)"
check "node1's channel segments are signed and verified (TCPAOGood $(tcpext "$node1" TCPAOGood))" \
	test "$(tcpext "$node1" TCPAOGood)" -gt 0
check "so are node3's" test "$(tcpext "$node3" TCPAOGood)" -gt 0

# A node of the other family: node 4 with an IPv4 control address, in a
# cluster whose local node is IPv6. It is configured, and stays down.
"$HANDOFFCTL" -n "$node1" node add 4 addr 198.51.100.132 port 7000
th_sleep 2
check_eq "an IPv4 node beside an IPv6 local node stays down" \
	"node 4 addr 198.51.100.132 port 7000 weight 1 state down" "$("$HANDOFFCTL" -n "$node1" node show 4)"
check_eq "node1's IPv6 channels stay up" 2 "$(stat_of "$node1" peers-up)"
"$HANDOFFCTL" -n "$node1" node del 4

check "node1: table empty" wait_stat "$node1" entries 0 100
check "node2: table empty" wait_stat "$node2" be-conns 0 150
check "node3: table empty" wait_stat "$node3" be-conns 0 150
exit $th_rc
