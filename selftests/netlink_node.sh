#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# node-add / node-del / node-get through the tcp_handoff family, and the
# refusals: bad input never changes state and always says why.
source "$(dirname "$0")/lib.sh"
require_module
setup_ns ns || exit $ksft_fail
h() { "$HANDOFFCTL" -n "$ns" "$@"; }

check "add node 2 (IPv4)" h node add 2 addr 198.51.100.2 port 7000
check "add node 3 (IPv6, weight 5)" h node add 3 addr 2001:db8:2::3 port 7000 weight 5
check "add the local node" h node add 1 addr 198.51.100.1 port 7000 local
check_eq "dump lists three nodes" 3 "$(h node show | grep -c '^node ')"
# An IPv6 node beside an IPv4 local node never gets a channel (a channel
# socket is of one family): down, once the worker has seen the local node.
node3_down() {
	local TH_END
	th_deadline 50
	until [ "$(h node show 3)" = "node 3 addr 2001:db8:2::3 port 7000 weight 5 state down" ]; do
		th_before_deadline || { h node show 3; return 1; }
		th_sleep 0.1
	done
}
check "get node 3: IPv6 beside an IPv4 local node, down" node3_down
check "JSON dump" bash -c "ip netns exec $ns $HANDOFFCTL -j node show | python3 -c '
import json, sys
nodes = {n[\"id\"]: n for n in json.load(sys.stdin)}
assert nodes[2][\"addr\"] == \"198.51.100.2\" and nodes[2][\"port\"] == 7000, nodes
assert nodes[1][\"local\"] is True and nodes[3][\"weight\"] == 5, nodes
'"

check_fails "duplicate id" 1 "a node with this id exists" h node add 2 addr 198.51.100.9 port 7000
check_fails "duplicate address and port" 1 "a node with this address and port exists" \
	h node add 9 addr 198.51.100.2 port 7000
check_fails "second local node" 1 "the local node is already configured" \
	h node add 8 addr 198.51.100.8 port 7000 local
check_fails "multicast address" 1 "address must be a unicast address" h node add 9 addr 224.0.0.1 port 7000
check_fails "unparsable address (tool)" 2 "999.1.1.1" h node add 9 addr 999.1.1.1 port 7000
check_fails "id 0 is reserved (tool)" 2 "id" h node add 0 addr 198.51.100.9 port 7000
check_fails "id 0 is reserved (policy)" 1 "integer out of range" h raw node-add 1:00000000 2:c6336409 4:1b58
check_fails "port 0 (tool)" 2 "port" h node add 9 addr 198.51.100.9 port 0
# Raw requests the tool would never send. Attribute 2 is addr4, 4 is port.
check_fails "unknown attribute" 1 "Unknown attribute type" h raw node-add 1:09000000 2:c6336409 4:1b58 99:00000001
check_fails "addr6 of 4 bytes" 1 "binary attribute size out of range" h raw node-add 1:09000000 3:c6336409 4:1b58
check_fails "missing id" 1 "missing" h raw node-add 2:c6336409 4:1b58
check_fails "both addr4 and addr6" 1 "not both" h raw node-add 1:09000000 2:c6336409 3:20010db8000000000000000000000009 4:1b58
check_fails "no address" 1 "an address (addr4 or addr6) is required" h raw node-add 1:09000000 4:1b58
check_fails "without CAP_NET_ADMIN" 1 "Operation not permitted" \
	ip netns exec "$ns" setpriv --inh-caps=-all --bounding-set=-all "$HANDOFFCTL" node add 9 addr 198.51.100.9 port 7000
check "dump works without CAP_NET_ADMIN" \
	ip netns exec "$ns" setpriv --inh-caps=-all --bounding-set=-all "$HANDOFFCTL" node show
check_eq "refused requests changed nothing" 3 "$(h node show | grep -c '^node ')"

check "delete node 2" h node del 2
check_fails "delete it again" 1 "no node with this id" h node del 2
check_fails "get a missing node" 1 "no node with this id" h node show 2
check_eq "two nodes left" 2 "$(h node show | grep -c '^node ')"
check_eq "stats count nodes" 2 "$(stat_of "$ns" nodes)"
exit $th_rc
