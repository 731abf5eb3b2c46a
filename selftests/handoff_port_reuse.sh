#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A client reuses its port for a new connection while node1 still keeps
# the old connection's entry (a tombstone) and the back-end has already
# forgotten it: the new SYN is a new connection, which node1 answers and
# hands off on its own merits. Sent on to the old back-end, it would have
# drawn a SYN/ACK under that back-end's own address (the guard fails the
# test on it) and no connection until the tombstone ended. And the other
# way round: while node2 keeps a closed connection's entry, the client's
# new connection on the same port, straight to node2 or through node1.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool python3
require_tool nstat
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
wait_peers_up "$node1" 2 || exit $ksft_fail
# node1's tombstones outlive node2's entries (twice node2's linger).
"$HANDOFFCTL" -n "$node1" limits set linger 60000
"$HANDOFFCTL" -n "$node2" limits set linger 1000
# The client may reuse a tuple it left in TIME_WAIT.
ip netns exec "$client" sysctl -qw net.ipv4.tcp_tw_reuse=1

# get PATH [PORT [ADDR]]: one request from client port PORT (40000) to
# ADDR (the service); prints the body.
get() {
	ip netns exec "$client" python3 - "$1" "${2:-40000}" "${3:-$SVC_IP}" <<'PY' 2>&1 | tail -1
import os, socket, sys
s = socket.socket(socket.AF_INET6 if ":" in os.environ["SVC_IP"] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.settimeout(20)
s.bind((os.environ["CLIENT_IP"], int(sys.argv[2])))
s.connect((sys.argv[3], 80))
s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % sys.argv[1].encode())
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
s.close()
print(data.split(b"\r\n\r\n", 1)[-1].decode().strip())
PY
}

check_eq "/a/ from port 40000 is served by node2" "served-by node2" "$(get /a/)"
check "node2's entry ended" wait_stat "$node2" be-conns 0 150
check_eq "node1 keeps the tombstone" 1 "$(stat_of "$node1" entries)"
check_eq "/b/ from port 40000 again is served by node3" "served-by node3" "$(get /b/)"
check_eq "node1: 2 handoffs accepted" 2 "$(stat_of "$node1" handoff-ok)"
check_eq "node1: nothing served locally" 0 "$(stat_of "$node1" fallback-local)"
check_eq "node2: took 1 connection over" 1 "$(stat_of "$node2" be-accepted)"
check_eq "node3: took 1 connection over" 1 "$(stat_of "$node3" be-accepted)"
# The new connection's tombstone stays for node1's linger; node1 forgets it
# with the table flush.
"$HANDOFFCTL" -n "$node1" limits set linger 1000
check "node1: table empty" wait_stat "$node1" entries 0 150
check "node3: table empty" wait_stat "$node3" be-conns 0 150

# The other way round: node2 still keeps a connection's closed entry (for
# its linger time) when the client reuses the port. Straight to node2's
# own address, the new connection is answered at once; through node1, it
# is handed to node2 again. Before, the entry swallowed node2's SYN/ACKs
# until it ended, and node2 refused the handoff (tuple busy).
"$HANDOFFCTL" -n "$node2" limits set linger 60000
node2_ip=198.51.100.2
[ "${TH_FAMILY:-4}" = 6 ] && node2_ip=2001:db8:1::2
guard_allow "$node2_ip" 80
nst() { ip netns exec "$client" nstat -az "$1" | awk -v k="$1" '$1 == k { print $2 }'; }
check_eq "/a/ from port 40001 is served by node2" "served-by node2" "$(get /a/ 40001)"
check "node2 keeps the closed connection" wait_stat "$node2" be-conns 1 100
syn=$(nst TcpExtTCPSynRetrans)
check_eq "port 40001 straight to node2: served" "served-by node2" "$(get /a/ 40001 "$node2_ip")"
check_eq "port 40001 straight to node2: no SYN retransmitted" 0 $(($(nst TcpExtTCPSynRetrans) - syn))
check_eq "node2 let the closed entry go" 0 "$(stat_of "$node2" be-conns)"
check_eq "/a/ from port 40002 is served by node2" "served-by node2" "$(get /a/ 40002)"
check "node2 keeps the closed connection" wait_stat "$node2" be-conns 1 100
refused=$(stat_of "$node2" be-refused)
check_eq "/a/ from port 40002 again is handed to node2 again" "served-by node2" "$(get /a/ 40002)"
check_eq "node2 refused nothing" "$refused" "$(stat_of "$node2" be-refused)"
check_eq "node1: still nothing served locally" 0 "$(stat_of "$node1" fallback-local)"
"$HANDOFFCTL" -n "$node2" limits set linger 1000
check "node1: table empty" wait_stat "$node1" entries 0 150
check "node2: table empty" wait_stat "$node2" be-conns 0 150
exit $th_rc
