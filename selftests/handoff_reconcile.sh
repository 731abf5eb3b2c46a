#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Forwarding entries outlive short idleness (idle-timeout, 900 s), and cannot outlive
# their back-end's knowledge of them (design, "Entry lifetimes"): 20 idle
# keep-alive connections handed off to node2 survive several
# reconciliation rounds; when node2 is torn down and rebuilt (its
# connection state gone, no TERMINATE ever sent), node1's next RECONCILE
# (one message listing all 20) gets "unknown" back for each, and the
# entries become tombstones, then go.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }

# One request on each of 20 keep-alive connections, then silence until
# told to go; the close is an abortive one (the connections are dead by
# then: a FIN would reach the rebuilt node2, which would answer with a
# reset).
N=20
ip netns exec "$client" python3 - "$TH_TMP" "$N" <<'PY' &
import os, socket, struct, sys, time
tmp, n = sys.argv[1], int(sys.argv[2])
socks, served = [], 0
for _ in range(n):
    s = socket.create_connection((os.environ["SVC_IP"], 80))
    s.sendall(b"GET /a/ HTTP/1.1\r\nHost: t\r\n\r\n")
    resp = b""
    while b"served-by" not in resp:
        resp += s.recv(4096)
    served += b"served-by node2" in resp
    socks.append(s)
open(tmp + "/first", "w").write(str(served))
while not os.path.exists(tmp + "/go"):
    time.sleep(0.2)
for s in socks:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
PY
client_pid=$!
for _ in $(seq 200); do [ -s "$TH_TMP/first" ] && break; th_sleep 0.2; done
check_eq "node2 served the first request of each" "$N" "$(cat "$TH_TMP/first" 2>/dev/null)"
check "node1 forwards the connections" wait_stat "$node1" fe-forwarding "$N" 50

# Two reconciliation rounds (every 10 s) on an idle connection.
sleep 22
check_eq "the idle connections are still forwarded" "$N" "$(stat_of "$node1" fe-forwarding)"
check_eq "node2 still holds them" "$N" "$(stat_of "$node2" be-conns)"
check_eq "nothing reconciled away" 0 "$(stat_of "$node1" reconciled)"

# node2 goes away without a word and comes back empty.
ip netns pids "$node2" | xargs -r kill
ip netns del "$node2"
check "node1 sees node2 gone" wait_stat "$node1" peers-up 1 150
check_eq "the entries stay while node2 is unreachable" "$N" "$(stat_of "$node1" fe-forwarding)"
# Its veths go with the namespace, a moment later.
for _ in $(seq 100); do
	ip -n "$sw" link show d-2 >/dev/null 2>&1 || break
	th_sleep 0.1
done
rebuild_node2() { setup_ns node2 && cluster_links 2 && cluster_node_config 2; }
check "node2 is rebuilt, empty" rebuild_node2
check "node2 is back" wait_peers_up "$node1" 2
check "node1 reconciles the entries away, all $N" wait_stat "$node1" reconciled "$N" 150
check_eq "nothing is forwarded any more" 0 "$(stat_of "$node1" fe-forwarding)"
check "the tombstone goes" wait_stat "$node1" entries 0 80
touch "$TH_TMP/go"
wait "$client_pid"
exit $th_rc
