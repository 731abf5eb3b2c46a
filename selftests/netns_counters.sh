#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Counters are per network namespace: traffic to a service in one namespace
# is counted there (netlink and /proc/net agree) and nowhere else.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
setup_cluster || exit $ksft_fail

"$HANDOFFCTL" -n "$node1" service add 198.51.100.1:80
start_nginx "$node1" node1 || { log "FAIL: nginx"; exit $ksft_fail; }
start_nginx "$node2" node2 || { log "FAIL: nginx"; exit $ksft_fail; }

for n in 1 2 3; do
	body=$(ip netns exec "$client" curl -s --max-time 10 http://198.51.100.1/)
	check_eq "request $n to node1" "served-by node1" "$body"
done
body=$(ip netns exec "$client" curl -s --max-time 10 http://198.51.100.2/)
check_eq "request to node2 (no service there)" "served-by node2" "$body"

rx=$(stat_of "$node1" rx-packets)
tx=$(stat_of "$node1" tx-packets)
# Three connections: at least SYN, ACK, request, ACK of the reply, FIN,
# ACK of FIN each way.
check "node1 counted inbound packets ($rx)" test "$rx" -ge 12
check "node1 counted outbound packets ($tx)" test "$tx" -ge 9
check "node1 counted bytes" test "$(stat_of "$node1" rx-bytes)" -gt "$((rx * 40 - 1))"
check_eq "/proc/net agrees with netlink (rx-packets)" "$rx" "$(proc_stat_of "$node1" rx-packets)"
check_eq "/proc/net agrees with netlink (tx-bytes)" "$(stat_of "$node1" tx-bytes)" "$(proc_stat_of "$node1" tx-bytes)"
check_eq "node2 counted nothing" 0 "$(stat_of "$node2" rx-packets)"
check_eq "the initial namespace counted nothing" 0 "$("$HANDOFFCTL" stats show | awk '$1=="rx-packets"{print $2}')"
check_eq "no malformed packets" 0 "$(stat_of "$node1" rx-malformed)"
exit $th_rc
