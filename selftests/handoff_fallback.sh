#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# When a handoff cannot happen the client is still served, by the
# front-end itself, and never hangs: the back-end's data link is down (no
# route to the client: NAK), the back-end has no listener (NAK), its
# table is full (NAK), the tuple it would use is busy (NAK), and a host
# that is not a node tries to open a control channel (refused),
# the back-end's control link dies under a request (timeout), the channel
# is down (no handoff tried), and it comes back (handoffs resume).
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
"$HANDOFFCTL" -n "$node1" limits set handoff-timeout 1500
get() { ip netns exec "$client" curl -s --max-time 10 "http://$SVC_HOST$1"; }
st() { stat_of "$node1" "$1"; }

# node3's data link is down: it has no route to the client and refuses
# (its control link is up); node1 serves.
ip -n "$node3" link set eth0 down
check_eq "node3's data link down: /b/ served by node1" "served-by node1" "$(get /b/)"
check_eq "node3 refused it" 1 "$(stat_of "$node3" be-refused)"
ip -n "$node3" link set eth0 up

# No listener on node3: it refuses, node1 serves.
kill "$(cat "$TH_TMP/nginx-node3/nginx.pid")"
sleep 0.5
check_eq "no listener on node3: /b/ served by node1" "served-by node1" "$(get /b/)"
check_eq "node3 refused twice in all" 2 "$(stat_of "$node3" be-refused)"
check_eq "node1 counted both NAKs" 2 "$(st handoff-nak)"
check_eq "node1 served both locally" 2 "$(st fallback-local)"

# node2's table is full: it refuses, node1 serves. One connection, kept
# open, fills a table of one.
"$HANDOFFCTL" -n "$node2" limits set max-conns 1
ip netns exec "$client" python3 - "$TH_TMP" <<'PY' &
import os, socket, sys, time
s = socket.create_connection((os.environ["SVC_IP"], 80))
s.sendall(b"GET /a/ HTTP/1.1\r\nHost: t\r\n\r\n")
resp = b""
while b"served-by" not in resp:
    resp += s.recv(4096)
open(sys.argv[1] + "/held", "wb").write(resp)
while not os.path.exists(sys.argv[1] + "/release"):
    time.sleep(0.2)
s.close()
PY
holder=$!
check "node2 holds one connection" wait_stat "$node2" be-conns 1 100
refused=$(stat_of "$node2" be-refused)
check_eq "node2's table full: /a/ served by node1" "served-by node1" "$(get /a/)"
check_eq "node2 refused it" $((refused + 1)) "$(stat_of "$node2" be-refused)"
touch "$TH_TMP/release"
wait "$holder"
check "the held one was node2's" grep -q "served-by node2" "$TH_TMP/held"
"$HANDOFFCTL" -n "$node2" limits set max-conns 16384

# The client already has a connection from the same port straight to
# node2: the tuple node2 would use is busy, it refuses, node1 serves.
node2_ip=198.51.100.2
[ "${TH_FAMILY:-4}" = 6 ] && node2_ip=2001:db8:1::2
guard_allow "$node2_ip" 80
refused=$(stat_of "$node2" be-refused)
check_eq "tuple busy on node2: /a/ served by node1" "served-by node1" \
	"$(ip netns exec "$client" python3 - "$node2_ip" <<'PY'
import os, socket, sys
def sock():
    s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((os.environ["CLIENT_IP"], 40123))
    return s
direct = sock()
direct.connect((sys.argv[1], 80))
s = sock()
s.connect((os.environ["SVC_IP"], 80))
s.sendall(b"GET /a/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
resp = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    resp += b
print(resp.split(b"\r\n\r\n", 1)[1].decode().strip())
direct.close()
PY
)"
check_eq "node2 refused it" $((refused + 1)) "$(stat_of "$node2" be-refused)"

# A host that is not a configured node cannot open a control channel.
ip -n "$node3" addr add 198.51.100.140/25 dev eth1
ip netns exec "$node3" python3 -c '
import socket
s = socket.socket()
s.bind(("198.51.100.140", 0))
s.connect(("198.51.100.129", 7000))
s.sendall(b"\x01" * 64)
s.settimeout(5)
try:
    s.recv(1)
except OSError:
    pass
'
check "node1 refused an unconfigured peer" test "$(st ctl-refused)" -ge 1
check_eq "its channels stay up" 2 "$(st peers-up)"

# node2's control link goes down: the request in flight times out.
ip -n "$node2" link set eth1 down
check_eq "control link down mid-handoff: /a/ served by node1" "served-by node1" "$(get /a/)"
check "node1 counted a timeout or a lost channel" test "$(( $(st handoff-timeout) + $(st handoff-no-channel) ))" -ge 1

# Once node1 notices, /a/ is served locally without trying.
check "node1 sees node2 down" wait_peers_up "$node1" 1
before=$(st handoff-requests)
check_eq "node2 down: /a/ served by node1" "served-by node1" "$(get /a/)"
check_eq "no handoff was attempted" "$before" "$(st handoff-requests)"

# The link comes back: the channel reconnects, handoffs resume.
ip -n "$node2" link set eth1 up
check "node1 reconnects to node2" wait_peers_up "$node1" 2
check_eq "node2 back: /a/ served by node2" "served-by node2" "$(get /a/)"
check "node1: table empty" wait_stat "$node1" entries 0 80
exit $th_rc
