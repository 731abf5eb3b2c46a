#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The ICMP error tests (handoff_icmp.sh, handoff_icmp6.sh) for either
# family: icmp_error_test 4|6. A client stalls a download from node2 (its
# receive window fills, so node2's snd_una stays where the client's last
# ACK says). A router's "fragmentation needed" (IPv4) or "packet too big"
# (IPv6), MTU 1280, quoting node2's reply as the client saw it (service
# address, front-end sequence space) is sent to the service address. node1
# passes it on rewritten; node2's TCP accepts it (in-window after
# translation) and lowers its path MTU: its route and its socket show MTU
# 1280, and the body still arrives byte-identical. An error quoting a
# connection node1 does not forward stays on node1.
source "$(dirname "$0")/lib.sh"

icmp_error_test() { # 4|6
	local fam=$1 svc cli brackets
	require_module
	require_tool nginx
	require_tool tcpdump
	python3 -c 'import scapy' 2>/dev/null || { log "SKIP: python3-scapy not installed"; exit $ksft_skip; }
	setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
	if [ "$fam" = 6 ]; then
		svc=2001:db8:1::1 cli=2001:db8:1::100 brackets="[$cli]"
		"$HANDOFFCTL" -n "$node1" service add "[$svc]:80" || { log "FAIL: service add"; exit $ksft_fail; }
	else
		svc=198.51.100.1 cli=198.51.100.100 brackets=$cli
	fi

	ip netns exec "$client" tcpdump -q -n -U -i eth0 -w "$TH_TMP/before.pcap" \
		"tcp and host $svc" 2>/dev/null &
	local dump=$!
	sleep 1
	# The client reads 64 KiB, stops reading until told to go on, then
	# reads the rest and stores the body.
	ip netns exec "$client" python3 - "$TH_TMP" "$svc" <<'PY' &
import os, socket, sys, time
tmp, svc = sys.argv[1], sys.argv[2]
s = socket.create_connection((svc, 80))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b"GET /a/big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
data = b""
while len(data) < 65536:
    data += s.recv(65536 - len(data))
open(tmp + "/port", "w").write(str(s.getsockname()[1]))
while not os.path.exists(tmp + "/go"):
    time.sleep(0.1)
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
open(tmp + "/body", "wb").write(data.split(b"\r\n\r\n", 1)[1])
PY
	local reader=$!
	for _ in $(seq 100); do [ -s "$TH_TMP/port" ] && break; th_sleep 0.2; done
	check "the download is handed off" wait_stat "$node1" fe-forwarding 1 100
	sleep 3 # the client's window fills; node2 waits
	kill "$dump"
	wait "$dump" 2>/dev/null

	ip netns exec "$client" python3 - "$TH_TMP" "$fam" "$svc" "$cli" <<'PY'
import sys
from scapy.all import ICMP, IP, IPv6, ICMPv6PacketTooBig, TCP, rdpcap, send, conf
conf.verb = 0
tmp, fam, svc, cli = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
L3 = IPv6 if fam == "6" else IP
port = int(open(tmp + "/port").read())
# The client's rcv_nxt, which is node2's snd_una in the front-end's space.
acks = [p[TCP].ack for p in rdpcap(tmp + "/before.pcap")
        if L3 in p and p[L3].src == cli and p[TCP].sport == port]
seq = acks[-1]
def error(dport, seq):
    """A router's error about a 1500-byte segment node2 sent as svc."""
    tcp = TCP(sport=80, dport=dport, seq=seq, flags="A")
    if fam == "6":
        quoted = IPv6(src=svc, dst=cli, plen=1440) / tcp
        return IPv6(src="2001:db8:1::7e", dst=svc) / \
            ICMPv6PacketTooBig(mtu=1280) / bytes(quoted)[:60]
    quoted = IP(src=svc, dst=cli, len=1500, flags="DF") / tcp
    return IP(src="198.51.100.126", dst=svc) / \
        ICMP(type=3, code=4, nexthopmtu=1280) / bytes(quoted)[:28]
send(error(port, seq))
# Quoting a connection nobody forwards: stays on node1.
send(error(port ^ 1, seq))
PY
	check "node1 forwarded one error" wait_stat "$node1" icmp-forwarded 1 50
	check "node2 lowered its path MTU to the client" \
		sh -c "ip -n $node2 -$fam route get $cli | grep -q 'mtu 1280'"
	sleep 1
	check_eq "the error about an unknown connection was not forwarded" 1 "$(stat_of "$node1" icmp-forwarded)"
	check "node2's socket took the path MTU" \
		sh -c "ip netns exec $node2 ss -Htin dst $brackets | grep -q 'pmtu:1280'"
	touch "$TH_TMP/go"
	wait "$reader"
	check_eq "the body is byte-identical ($(stat -c %s "$TH_TMP/body") bytes)" \
		"$(sha256sum <"$TH_TMP/random-1m")" "$(sha256sum <"$TH_TMP/body")"
	check "node1's table drains" wait_stat "$node1" entries 0 80
	check "node2's table drains" wait_stat "$node2" be-conns 0 150
	exit $th_rc
}
