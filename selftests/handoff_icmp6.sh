#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ICMPv6 errors about a handed-off IPv6 connection reach its back-end,
# translated (design, "ICMP errors"): handoff_icmp.sh for an IPv6 service.
# A client stalls a download from node2 (its receive window fills, so
# node2's snd_una stays where the client's last ACK says). A router's
# "packet too big, MTU 1280" quoting node2's reply as the client saw it
# (service address, front-end sequence space) is sent to the service
# address. node1 passes it on rewritten; node2's TCP accepts it and lowers
# its path MTU: its route and its socket show MTU 1280, and the body still
# arrives byte-identical. An error quoting a connection node1 does not
# forward stays on node1.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool tcpdump
python3 -c 'import scapy' 2>/dev/null || { log "SKIP: python3-scapy not installed"; exit $ksft_skip; }
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
"$HANDOFFCTL" -n "$node1" service add "[2001:db8:1::1]:80" || { log "FAIL: service add"; exit $ksft_fail; }

ip netns exec "$client" tcpdump -q -n -U -i eth0 -w "$TH_TMP/before.pcap" \
	'tcp and host 2001:db8:1::1' 2>/dev/null &
dump=$!
sleep 1
ip netns exec "$client" python3 - "$TH_TMP" <<'PY' &
import os, socket, sys, time
tmp = sys.argv[1]
s = socket.create_connection(("2001:db8:1::1", 80))
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
reader=$!
for _ in $(seq 100); do [ -s "$TH_TMP/port" ] && break; th_sleep 0.2; done
check "the download is handed off" wait_stat "$node1" fe-forwarding 1 100
sleep 3 # the client's window fills; node2 waits
kill "$dump"; wait "$dump" 2>/dev/null

ip netns exec "$client" python3 - "$TH_TMP" <<'PY'
import sys
from scapy.all import IPv6, ICMPv6PacketTooBig, TCP, rdpcap, send, conf
conf.verb = 0
tmp = sys.argv[1]
port = int(open(tmp + "/port").read())
# The client's rcv_nxt, which is node2's snd_una in the front-end's space.
acks = [p[TCP].ack for p in rdpcap(tmp + "/before.pcap")
        if IPv6 in p and p[IPv6].src == "2001:db8:1::100" and p[TCP].sport == port]
seq = acks[-1]
def too_big(dport, seq):
    quoted = IPv6(src="2001:db8:1::1", dst="2001:db8:1::100", plen=1440) / \
        TCP(sport=80, dport=dport, seq=seq, flags="A")
    return IPv6(src="2001:db8:1::7e", dst="2001:db8:1::1") / \
        ICMPv6PacketTooBig(mtu=1280) / bytes(quoted)[:60]
send(too_big(port, seq))
# Quoting a connection nobody forwards: stays on node1.
send(too_big(port ^ 1, seq))
PY
check "node1 forwarded one error" wait_stat "$node1" icmp-forwarded 1 50
check "node2 lowered its path MTU to the client" \
	sh -c "ip -n $node2 -6 route get 2001:db8:1::100 | grep -q 'mtu 1280'"
sleep 1
check_eq "the error about an unknown connection was not forwarded" 1 "$(stat_of "$node1" icmp-forwarded)"
check "node2's socket took the path MTU" \
	sh -c "ip netns exec $node2 ss -Htin dst [2001:db8:1::100] | grep -q 'pmtu:1280'"
touch "$TH_TMP/go"
wait "$reader"
check_eq "the body is byte-identical ($(stat -c %s "$TH_TMP/body") bytes)" \
	"$(sha256sum <"$TH_TMP/random-1m")" "$(sha256sum <"$TH_TMP/body")"
check "node1's table drains" wait_stat "$node1" entries 0 80
check "node2's table drains" wait_stat "$node2" be-conns 0 150
exit $th_rc
