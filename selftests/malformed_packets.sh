#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Hostile headers at the hooks: scapy sends, to a service, a TCP header whose
# data offset points past the segment, a TCP header cut short by the IP
# length, a data offset below 5, a later fragment, a segment with a bad
# checksum, IP options before TCP, and one clean SYN. Each lands in the
# counter the documentation gives it; nothing crashes, the service still works.
source "$(dirname "$0")/lib.sh"
require_module
require_tool curl
python3 -c 'import scapy' 2>/dev/null || { log "SKIP: python3-scapy not installed"; exit $ksft_skip; }
setup_ns client node || exit $ksft_fail
ip link add eth0 netns "$client" type veth peer name eth0 netns "$node"
ip -n "$client" addr add 198.51.100.100/24 dev eth0
ip -n "$node" addr add 198.51.100.1/24 dev eth0
ip -n "$client" link set eth0 up
ip -n "$node" link set eth0 up
"$HANDOFFCTL" -n "$node" service add 198.51.100.1:80
# Let neighbour discovery finish so scapy's packets are not queued.
ip netns exec "$client" ping -c1 -W2 198.51.100.1 >/dev/null

ip netns exec "$client" python3 - <<'PY'
from scapy.all import IP, TCP, IPOption_RR, Raw, send, conf
conf.verb = 0
dst = "198.51.100.1"
pkts = [
    # Malformed (2 + 1): data offset 15 (60 bytes) in a 30-byte segment;
    # IP length leaves only 10 bytes of TCP header; data offset 4.
    IP(dst=dst) / TCP(dport=80, dataofs=15, flags="S") / Raw(b"x" * 10),
    IP(dst=dst, len=30) / TCP(dport=80, flags="S"),
    IP(dst=dst) / TCP(dport=80, dataofs=4, flags="S"),
    # Not looked at: a later fragment has no TCP header.
    IP(dst=dst, frag=100, proto=6) / Raw(b"y" * 40),
    # Counted as service packets (the hook does not verify checksums;
    # TCP drops the bad one): bad checksum, IP options, a clean SYN.
    IP(dst=dst) / TCP(dport=80, flags="S", chksum=0xdead),
    IP(dst=dst, options=[IPOption_RR()]) / TCP(dport=80, flags="S"),
    IP(dst=dst) / TCP(dport=80, flags="S", sport=40000),
]
for p in pkts:
    send(p)
PY
sleep 1
check_eq "malformed TCP headers counted" 3 "$(stat_of "$node" rx-malformed)"
check_eq "well-formed service packets counted" 3 "$(stat_of "$node" rx-packets)"
start_nginx "$node" node || { log "FAIL: nginx"; exit $ksft_fail; }
check_eq "the service still answers" "served-by node" \
	"$(ip netns exec "$client" curl -s --max-time 10 http://198.51.100.1/)"
exit $th_rc
