#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fault: a back-end is deleted from the front-end's configuration (node1:
# "node del 2") while connections handed off to it are live: a download
# and a keep-alive connection. The channel closes; the connections do not
# need it and go on (the download completes byte-identical, the keep-alive
# connection's second request is answered by node2). New requests for
# node2's rule are served by node1 at once (its only target is gone).
#
# Their end can no longer be reported to node1: node1 gives each entry up
# after its idle timeout plus the linger time (here 10 s + 1 s) from the
# client's last packet, and node2 lets its closed entries go after twice
# the linger time although it cannot send their TERMINATE. With node2 added
# back, handoffs to it resume. Every table empties.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
require_module
require_tool nginx
require_tool curl
fault_cluster 1 2
# Long enough for the keep-alive connection's second request, which waits
# for the node deletion and a new request (on a slow host a 3 s timeout
# expired the entry first, and node1 reset the connection).
"$HANDOFFCTL" -n "$node1" limits set idle-timeout 10000
st() { stat_of "$node1" "$1"; }
get() {
	ip netns exec "$client" curl -s --max-time 30 -D "$TH_TMP/$1.hdr" -o "$TH_TMP/$1.body" \
		-w '%{time_total}' http://$SVC_HOST/a/ >"$TH_TMP/$1.secs"
}
secs() { tenths "$(<"$TH_TMP/$1.secs")"; }

fetch dl /a/big --max-time 90 --limit-rate 100k
dl=$FETCH_PID
ip netns exec "$client" python3 - "$TH_TMP" >"$TH_TMP/ka" <<'PY' &
import os, socket, sys, time
s = socket.create_connection((os.environ["SVC_IP"], 80), timeout=60)
def ask():
    s.sendall(b"GET /a/ HTTP/1.1\r\nHost: a\r\n\r\n")
    data = b""
    while b"served-by" not in data:
        data += s.recv(4096)
    print(data.split(b"\r\n\r\n", 1)[1].decode().strip(), flush=True)
ask()
while not os.path.exists(sys.argv[1] + "/go"):
    time.sleep(0.2)
ask()
s.close()
PY
ka=$!
check "both are forwarded to node2" wait_stat "$node1" fe-forwarding 2 100

"$HANDOFFCTL" -n "$node1" node del 2
check_eq "node1's channel to node2 is gone" 1 "$(st peers-up)"
get new
log "a new /a/ request answered in $(secs new) s"
check_eq "a new request is served by node1" node1 "$(fetch_node new)"
check_bound "answered at once" 1 "$(secs new)"
touch "$TH_TMP/go"
wait "$ka"
check_eq "the keep-alive connection's requests were both node2's" \
	"served-by node2,served-by node2" "$(paste -sd, "$TH_TMP/ka")"
wait "$dl"
check_eq "the download completes" 0 "$(fetch_rc dl)"
check "byte-identical" body_whole dl
check_eq "served by node2" node2 "$(fetch_node dl)"
t0=$(now_us)
check "node1 gives the entries up" wait_zero "$node1" 100
log "node1's table empty $(( ($(now_us) - t0) / 100000 )) tenths of a second after the download ended"
check_eq "node1 counted both as idle" 2 "$(st idle-expired)"
check "node2's table empties without the channel" wait_zero "$node2" 100
check_eq "no module reference left" 0 "$(module_refs)"

"$HANDOFFCTL" -n "$node1" node add 2 addr 198.51.100.130 port 7000
check "node2 added back: the channel comes up" wait_peers_up "$node1" 2
get back
check_eq "handoffs to node2 resume" node2 "$(fetch_node back)"
check "node1's table empties" wait_zero "$node1" 100
check "node2's table empties" wait_zero "$node2" 100
exit $th_rc
