#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# TCP handoff of an IPv6 service, the control channel on IPv6 as well: the
# client talks to node1's 2001:db8:1::1 only; rules send /a/ to node2 and
# /b/ to node3, which answer the client directly under node1's IPv6
# address and sequence numbers. Asserts the serving node (the body names
# it), a byte-identical 1 MiB body, that node1 did not proxy it, that the
# client saw a clean TCP connection, the service's counters, that the
# tracked connections are listed with their IPv6 addresses, and that every
# table empties afterwards.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
require_tool nstat
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
	service add [2001:db8:1::1]:80
	rule add prio 10 prefix /a/ policy rr to 2
	rule add prio 20 prefix /b/ policy rr to 3
EOF
check "node1's channels come up" wait_peers_up "$node1" 2
get() { ip netns exec "$client" curl -s --max-time 10 "http://[2001:db8:1::1]$1"; }

ip netns exec "$client" nstat -n
check_eq "/a/ is served by node2" "served-by node2" "$(get /a/)"
check_eq "/b/ is served by node3" "served-by node3" "$(get /b/)"
check_eq "/ stays on node1" "served-by node1" "$(get /)"

tx0=$(ip netns exec "$node1" cat /sys/class/net/eth0/statistics/tx_bytes)
sum=$(ip netns exec "$client" curl -s --max-time 60 "http://[2001:db8:1::1]/b/big" | sha256sum | cut -d' ' -f1)
tx1=$(ip netns exec "$node1" cat /sys/class/net/eth0/statistics/tx_bytes)
check_eq "1 MiB from node3 is byte-identical" "$(sha256sum "$TH_TMP/random-1m" | cut -d' ' -f1)" "$sum"
fe_tx=$((tx1 - tx0))
check "node1 transmitted far less than the body: $fe_tx bytes" test "$fe_tx" -lt 262144

nst() { ip netns exec "$client" nstat -az "$1" | awk -v k="$1" '$1 == k { print $2 }'; }
check_eq "client: no retransmitted segments" 0 "$(nst TcpRetransSegs)"
check_eq "client: no challenge ACKs" 0 "$(nst TcpExtTCPChallengeACK)"
check_eq "client: no checksum errors" 0 "$(nst TcpInCsumErrors)"

check_eq "node1: 3 handoffs accepted" 3 "$(stat_of "$node1" handoff-ok)"
check_eq "node1: none refused" 0 "$(stat_of "$node1" handoff-nak)"
check_eq "node2 took 1 connection over" 1 "$(stat_of "$node2" be-accepted)"
check_eq "node3 took 2 connections over" 2 "$(stat_of "$node3" be-accepted)"
check_eq "node1's nginx served only the local request" 1 \
	"$(grep -c '" 200 ' "$TH_TMP/nginx-node1/access.log" 2>/dev/null || echo 0)"
check_eq "node3's nginx saw the client's IPv6 address" 2 \
	"$(grep -c '^2001:db8:1::100 ' "$TH_TMP/nginx-node3/access.log")"
svc=$("$HANDOFFCTL" -n "$node1" -j stats show services)
check "the IPv6 service counted 4 connections, 3 handed off ($svc)" \
	python3 -c 'import json, sys
s = [x for x in json.loads(sys.argv[1]) if x.get("service") == "[2001:db8:1::1]:80"]
sys.exit(not (s and s[0].get("conns") == 4 and s[0].get("handoff-ok") == 3))' "$svc"

# A download held open shows up in the connection dump with IPv6 addresses.
ip netns exec "$client" python3 -c '
import socket, time
s = socket.create_connection(("2001:db8:1::1", 80))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b"GET /a/big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
s.recv(1024)
time.sleep(8)
' &
held=$!
check "node1 forwards the held download" wait_stat "$node1" fe-forwarding 1 100
check "node1's conn dump lists it with IPv6 addresses" \
	bash -c "\"$HANDOFFCTL\" -n $node1 -j conn show | grep -q '2001:db8:1::100'"
check "node2's conn dump lists its own IPv6 address" \
	bash -c "\"$HANDOFFCTL\" -n $node2 -j conn show | grep -q '2001:db8:1::2'"
kill "$held" 2>/dev/null
wait "$held" 2>/dev/null

check "node1's tombstones expire" wait_stat "$node1" fe-tombstones 0 100
check "node1: nothing forwarding" wait_stat "$node1" fe-forwarding 0 100
check "node1: table empty" wait_stat "$node1" entries 0 100
check "node2: table empty" wait_stat "$node2" be-conns 0 150
check "node3: table empty" wait_stat "$node3" be-conns 0 150
exit $th_rc
