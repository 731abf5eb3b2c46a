#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# TCP handoff end to end (IPv4): the client talks to node1 only; rules send
# /a/ to node2 and /b/ to node3, which answer the client directly under
# node1's address and sequence numbers. Asserts the serving node (the body
# names it), byte-identical bodies, that the front-end did not proxy the
# response, that the client saw a clean TCP connection, and that every
# table empties afterwards.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
require_tool nstat
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
get() { ip netns exec "$client" curl -s --max-time 10 "http://$SVC_HOST$1"; }

ip netns exec "$client" nstat -n
check_eq "/a/ is served by node2" "served-by node2" "$(get /a/)"
check_eq "/b/ is served by node3" "served-by node3" "$(get /b/)"
check_eq "/ stays on node1" "served-by node1" "$(get /)"
check_eq "/a/ again, node2" "served-by node2" "$(get /a/)"

# 1 MiB through a handoff: byte-identical, and node1 sends next to nothing.
tx0=$(ip netns exec "$node1" cat /sys/class/net/eth0/statistics/tx_bytes)
sum=$(ip netns exec "$client" curl -s --max-time 60 http://$SVC_HOST/b/big | sha256sum | cut -d' ' -f1)
tx1=$(ip netns exec "$node1" cat /sys/class/net/eth0/statistics/tx_bytes)
check_eq "1 MiB from node3 is byte-identical" "$(sha256sum "$TH_TMP/random-1m" | cut -d' ' -f1)" "$sum"
fe_tx=$((tx1 - tx0))
check "node1 transmitted far less than the body: $fe_tx bytes" test "$fe_tx" -lt 262144

nst() { ip netns exec "$client" nstat -az "$1" | awk -v k="$1" '$1 == k { print $2 }'; }
check_eq "client: no retransmitted segments" 0 "$(nst TcpRetransSegs)"
check_eq "client: no PAWS drops" 0 "$(nst TcpExtPAWSEstab)"
check_eq "client: no challenge ACKs" 0 "$(nst TcpExtTCPChallengeACK)"
check_eq "client: no checksum errors" 0 "$(nst TcpInCsumErrors)"

check_eq "node1: 4 handoffs accepted" 4 "$(stat_of "$node1" handoff-ok)"
check_eq "node1: none refused" 0 "$(stat_of "$node1" handoff-nak)"
check_eq "node2 took 2 connections over" 2 "$(stat_of "$node2" be-accepted)"
check_eq "node3 took 2 connections over" 2 "$(stat_of "$node3" be-accepted)"
check_eq "node1's nginx served only the local request" 1 \
	"$(grep -c '" 200 ' "$TH_TMP/nginx-node1/access.log" 2>/dev/null || echo 0)"
check_eq "node2's nginx served /a/ twice" 2 "$(grep -c 'GET /a/ ' "$TH_TMP/nginx-node2/access.log")"

# Closed connections are reported (TERMINATE) and forgotten after the
# linger time, on both sides.
check "node1's tombstones expire" wait_stat "$node1" fe-tombstones 0 100
check_eq "node1: TERMINATE received for each handoff" 4 "$(stat_of "$node1" terminate-received)"
check_eq "node1: nothing forwarding" 0 "$(stat_of "$node1" fe-forwarding)"
check "node1: table empty" wait_stat "$node1" entries 0 60
check "node2: table empty" wait_stat "$node2" be-conns 0 150
check "node3: table empty" wait_stat "$node3" be-conns 0 150

# Limits lowered while entries wait: each entry ends by the limit of the
# moment, not by the one it started under (the housekeeping tick queues
# entries by the time they entered their phase). A tombstone, a closed
# back-end entry and a head still being read wait under long limits...
for ns in "$node1" "$node2"; do
	"$HANDOFFCTL" -n "$ns" limits set linger 600000 head-timeout 600000
done
check_eq "/a/ under a long linger time, node2" "served-by node2" "$(get /a/)"
check "node1 keeps a tombstone" wait_stat "$node1" fe-tombstones 1 100
check "node2 keeps the closed connection" wait_stat "$node2" be-conns 1 100
ip netns exec "$client" python3 -c '
import os, socket, time
s = socket.create_connection((os.environ["SVC_IP"], 80), timeout=30)
s.sendall(b"GET /a/ HTTP/1.1\r\n")
time.sleep(30)
' &
partial=$!
check "node1 holds a partial head" wait_stat "$node1" pending 1 100
timeouts=$(stat_of "$node1" heads-timeout)
# ... until the limits are lowered.
for ns in "$node1" "$node2"; do
	"$HANDOFFCTL" -n "$ns" limits set linger 1000 head-timeout 500
done
check "node1 releases the head by the lowered head timeout" \
	wait_stat "$node1" heads-timeout $((timeouts + 1)) 100
check "node1's tombstone ends by the lowered linger time" wait_stat "$node1" fe-tombstones 0 100
check "node2's entry ends by the lowered linger time" wait_stat "$node2" be-conns 0 150
kill "$partial" 2>/dev/null
wait "$partial" 2>/dev/null
check "node1: table empty again" wait_stat "$node1" entries 0 100
check_eq "node1: nothing forwarding" 0 "$(stat_of "$node1" fe-forwarding)"
exit $th_rc
