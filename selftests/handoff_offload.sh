#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The packet path under what real links do: segmentation and receive
# offloads on and off, transmit checksum offload off (so a wrong
# pseudo-header update of a CHECKSUM_PARTIAL packet shows as a checksum
# error at the client instead of passing silently), loss and reordering on
# the client's link and on the control link, and a control link so slow
# that the client retransmits its request while the handoff is in flight.
# Every download is byte-identical and served by the back-end.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
require_tool ethtool
require_tool nstat
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
want_sum=$(sha256sum "$TH_TMP/random-1m" | cut -d' ' -f1)

fetch() { # name
	local node sum
	ip netns exec "$client" curl -s --max-time 90 -D "$TH_TMP/hdr" -o "$TH_TMP/body" http://$SVC_HOST/a/big
	node=$(awk 'tolower($1) == "x-node:" { print $2 }' "$TH_TMP/hdr" | tr -d '\r')
	sum=$(sha256sum "$TH_TMP/body" | cut -d' ' -f1)
	check_eq "$1: 1 MiB byte-identical" "$want_sum" "$sum"
	check_eq "$1: served by node2" node2 "$node"
}
# Every veth of the data path, both ends.
k() { # ethtool -K arguments
	local ns
	for ns in "$client" "$node1" "$node2"; do
		ip netns exec "$ns" ethtool -K eth0 "$@" >/dev/null 2>&1
	done
	local i
	for i in client 1 2; do
		ip netns exec "$sw" ethtool -K "d-$i" "$@" >/dev/null 2>&1
	done
}

ip netns exec "$client" nstat -n
k tso off gso off gro off
fetch "TSO, GSO, GRO off"
k tso on gso on gro on
fetch "TSO, GSO, GRO on"
k tx off
fetch "transmit checksum offload off"
k tso off gso off gro on tx off
fetch "GRO on, segmentation and checksum offload off"
k tx on tso on gso on gro off
csum=$(ip netns exec "$client" nstat -az TcpInCsumErrors | awk '/TcpInCsumErrors/ { print $2 }')
check_eq "client: no checksum errors" 0 "${csum:-missing}"
csum=$(ip netns exec "$node2" nstat -az TcpInCsumErrors | awk '/TcpInCsumErrors/ { print $2 }')
check_eq "node2: no checksum errors" 0 "${csum:-missing}"

# Loss and reordering on the client's link, then on the control link.
ip netns exec "$client" tc qdisc add dev eth0 root netem delay 2ms loss 1% reorder 25% 50%
fetch "1% loss and reordering at the client"
fetch "1% loss and reordering at the client (again)"
ip netns exec "$client" tc qdisc del dev eth0 root
ip netns exec "$node1" tc qdisc add dev eth1 root netem delay 2ms loss 1% reorder 25% 50%
fetch "1% loss and reordering on the control link"
ip netns exec "$node1" tc qdisc del dev eth1 root

# A control link slower than the client's retransmission timer.
ip netns exec "$node1" tc qdisc add dev eth1 root netem delay 400ms
ip netns exec "$client" nstat -n
fetch "request retransmitted during the handoff"
rtx=$(ip netns exec "$client" nstat -az TcpRetransSegs | awk '/TcpRetransSegs/ { print $2 }')
check "the client did retransmit meanwhile ($rtx)" test "${rtx:-0}" -ge 1
ip netns exec "$node1" tc qdisc del dev eth1 root
check "node1: table empty" wait_stat "$node1" entries 0 80
check "node2: table empty" wait_stat "$node2" be-conns 0 150
exit $th_rc
