#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The test topology itself: client and node1..3 on the data bridge, nginx on
# every node, reachable over IPv4 and IPv6, with the module loaded and a
# service configured on every node (the hooks must not disturb traffic).
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
setup_cluster || exit $ksft_fail

for i in 1 2 3; do
	eval "ns=\$node$i"
	"$HANDOFFCTL" -n "$ns" service add "198.51.100.$i:80"
	start_nginx "$ns" "node$i" || { log "FAIL: nginx on node$i"; exit $ksft_fail; }
done
for i in 1 2 3; do
	check_eq "IPv4 to node$i" "served-by node$i" \
		"$(ip netns exec "$client" curl -s --max-time 10 "http://198.51.100.$i/")"
	check_eq "IPv6 to node$i" "served-by node$i" \
		"$(ip netns exec "$client" curl -s --max-time 10 "http://[2001:db8:1::$i]/")"
done
size=$(ip netns exec "$client" curl -s --max-time 60 -o /dev/null -w '%{size_download}' http://198.51.100.2/big)
check_eq "1 MiB from node2, every byte" 1048576 "$size"
check "control bridge: node1 reaches node3" ip netns exec "$node1" ping -c1 -W2 198.51.100.131
exit $th_rc
