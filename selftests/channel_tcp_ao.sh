#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# TCP-AO on the control channel (Documentation/protocol.rst,
# "Authentication"): with keys, every segment of the channel's TCP
# connections is signed (RFC 5925, HMAC-SHA256, a master key derived from
# the configured key), so a reset forged by someone on the control network
# no longer closes a channel. Without keys, the same forged reset (the
# right addresses, ports and sequence number, read off the wire) does:
# that is what makes the second half able to fail. A key rotation keeps
# the connections signed and up.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
python3 -c 'import scapy' 2>/dev/null || { log "SKIP: python3-scapy not installed"; exit $ksft_skip; }
grep -q TCPAOGood /proc/net/netstat || { log "SKIP: kernel without CONFIG_TCP_AO"; exit $ksft_skip; }
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
wait_peers_up "$node2" 2 || exit $ksft_fail
get() { ip netns exec "$client" curl -s --max-time 10 "http://198.51.100.1$1"; }

# forge_reset [N]: on the switch, N times (default 1): waits for a segment
# node2 sends node1 on their channel (node1 connects to node2:
# 198.51.100.129 -> .130:7000) and sends node1 a reset right after it, as
# from node2: same addresses and ports, the sequence number node1 expects
# next. (One Python process: starting scapy is slow in the guest.)
forge_reset() {
	ip netns exec "$sw" python3 - "${1:-1}" <<-'PY'
		import sys
		from scapy.all import Ether, IP, TCP, sniff, sendp, conf
		conf.verb = 0
		def chan(p):
		    return (IP in p and TCP in p and p[IP].src == "198.51.100.130"
		            and p[IP].dst == "198.51.100.129" and p[TCP].sport == 7000)
		for _ in range(int(sys.argv[1])):
		    got = sniff(iface="c-2", lfilter=chan, count=1, timeout=15)
		    if not got:
		        print("no channel segment seen")
		        raise SystemExit(1)
		    p = got[0]
		    n = len(p[TCP].payload) + (1 if p[TCP].flags & 0x03 else 0)
		    rst = (Ether(src=p[Ether].src, dst=p[Ether].dst)
		           / IP(src=p[IP].src, dst=p[IP].dst)
		           / TCP(sport=p[TCP].sport, dport=p[TCP].dport, flags="R",
		                 seq=(p[TCP].seq + n) & 0xffffffff))
		    sendp(rst, iface="c-1")
		    print("reset sent, seq", rst[TCP].seq)
	PY
}

# Without keys a forged reset closes the channel (a few tries: another
# segment may slip between the one read and the reset).
disc=$(stat_of "$node1" ctl-disconnects)
for try in 1 2 3; do
	forge_reset | sed 's/^/# /'
	wait_stat_ge "$node1" ctl-disconnects $((disc + 1)) 30 && break
done
check "without keys a forged reset closes node1's channel" \
	test "$(stat_of "$node1" ctl-disconnects)" -gt "$disc"
check "the channel comes back" wait_stat "$node1" peers-up 2 150

K1=$(printf '%02x' {1..32})
K2=$(printf '%02x' {101..132})
for ns in "$node1" "$node2" "$node3"; do
	"$HANDOFFCTL" -n "$ns" key add 1 secret "$K1"
done
check "with keys the channels come back" wait_stat "$node1" peers-up 2 150
wait_peers_up "$node2" 2 || exit $ksft_fail
good1=$(tcpext "$node1" TCPAOGood)
check_eq "/a/ is handed to node2" "served-by node2" "$(get /a/)"
check "node1's channel segments are signed and verified (TCPAOGood $good1)" \
	test "$(tcpext "$node1" TCPAOGood)" -gt 0
check "so are node2's" test "$(tcpext "$node2" TCPAOGood)" -gt 0

disc=$(stat_of "$node1" ctl-disconnects)
required=$(tcpext "$node1" TCPAORequired)
forge_reset 3 | sed 's/^/# /'
th_sleep 3
check "node1's TCP dropped the unsigned resets (TCPAORequired +$(( $(tcpext "$node1" TCPAORequired) - required )))" \
	test "$(tcpext "$node1" TCPAORequired)" -ge $((required + 3))
check_eq "with keys no forged reset closes a channel" "$disc" "$(stat_of "$node1" ctl-disconnects)"
check_eq "node1's channels are up" 2 "$(stat_of "$node1" peers-up)"
check_eq "/a/ still handed to node2" "served-by node2" "$(get /a/)"

# Rotation: the sockets' TCP-AO keys follow the ring in place.
notfound="$(tcpext "$node1" TCPAOKeyNotFound) $(tcpext "$node2" TCPAOKeyNotFound)"
for ns in "$node1" "$node2" "$node3"; do
	"$HANDOFFCTL" -n "$ns" key add 2 secret "$K2"
done
for ns in "$node1" "$node2" "$node3"; do
	"$HANDOFFCTL" -n "$ns" key set 2 current
done
for ns in "$node1" "$node2" "$node3"; do
	"$HANDOFFCTL" -n "$ns" key del 1
done
good1=$(tcpext "$node1" TCPAOGood)
check_eq "after a rotation: /b/ handed to node3" "served-by node3" "$(get /b/)"
th_sleep 2
check "segments still verified (TCPAOGood $good1 -> $(tcpext "$node1" TCPAOGood))" \
	test "$(tcpext "$node1" TCPAOGood)" -gt "$good1"
check_eq "no segment under a key the peer lacked" "$notfound" \
	"$(tcpext "$node1" TCPAOKeyNotFound) $(tcpext "$node2" TCPAOKeyNotFound)"
check_eq "no channel dropped during the rotation" "$disc" "$(stat_of "$node1" ctl-disconnects)"
exit $th_rc
