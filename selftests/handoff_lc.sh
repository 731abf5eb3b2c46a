#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Least-connections dispatch (policy lc) counts the connections the
# front-end forwards to each node: with keep-alive connections held open
# (one sent to node2 by another rule first), each new one goes to the node
# with fewer, and the counts (the fe-forwarding gauge is their sum) return
# to 0 once they close, also after a node was deleted and added again.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
"$HANDOFFCTL" -n "$node1" rule add prio 5 host lc prefix /a/ policy lc to 2,3

# client.py HOST...: opens a keep-alive connection per HOST, one after the
# other, each with one request for /a/ to that Host (lc: the lc rule; a:
# the /a/ rule, node2), and prints the node that answered each; opens the
# next, or closes them all after the last, when a line comes on stdin.
cat >"$TH_TMP/client.py" <<'PY'
import os, socket, sys
conns = []
for host in sys.argv[1:]:
    s = socket.create_connection((os.environ["SVC_IP"], 80), timeout=20)
    s.sendall(("GET /a/ HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
    data = b""
    while b"served-by" not in data:
        more = s.recv(4096)
        if not more:
            break
        data += more
    print(data.split(b"\r\n\r\n", 1)[-1].decode().strip(), flush=True)
    conns.append(s)
    # The next connection waits until the front-end counts this one.
    sys.stdin.readline()
for s in conns:
    s.close()
PY

# run_lc HOST...: client.py's connections, held open until fe-forwarding
# counts them all; the nodes that answered, in order, go to
# $TH_TMP/lc.out.
run_lc() {
	local fifo=$TH_TMP/hold.$#
	mkfifo "$fifo"
	ip netns exec "$client" python3 "$TH_TMP/client.py" "$@" <"$fifo" >"$TH_TMP/lc.out" &
	local pid=$!
	exec {hold}>"$fifo"
	local i
	for i in $(seq "$#"); do
		# The HANDOFF_ACK that makes node1 count a connection may come after
		# the back-end's answer reached the client: the next connection
		# waits for the count.
		check "node1 forwards $i connections" wait_stat "$node1" fe-forwarding "$i" 100
		echo next >&"$hold"
	done
	exec {hold}>&-
	wait "$pid"
}

# node2 forwards one (rule /a/), so lc sends the next to node3; then both
# have one, and the first target wins the tie; then node3 has fewer.
run_lc a lc lc lc
nodes=$(paste -sd, "$TH_TMP/lc.out")
check_eq "lc goes where fewer connections are forwarded" \
	"served-by node2,served-by node3,served-by node2,served-by node3" "$nodes"
check "node1's counts return to 0" wait_stat "$node1" fe-forwarding 0 100
check "node1's tombstones expire" wait_stat "$node1" fe-tombstones 0 100

# node3 deleted and added again while nothing forwards: its slot is
# claimed afresh, and the counts still start from 0.
"$HANDOFFCTL" -n "$node1" rule del prio 5
"$HANDOFFCTL" -n "$node1" rule del prio 20
"$HANDOFFCTL" -n "$node1" node del 3
"$HANDOFFCTL" -n "$node1" node add 3 addr 198.51.100.131 port 7000
"$HANDOFFCTL" -n "$node1" rule add prio 5 host lc prefix /a/ policy lc to 2,3
wait_peers_up "$node1" 2 || exit $ksft_fail
run_lc a lc
nodes=$(paste -sd, "$TH_TMP/lc.out")
check_eq "after node del and add, lc still counts" \
	"served-by node2,served-by node3" "$nodes"
check "node1's counts return to 0 again" wait_stat "$node1" fe-forwarding 0 100
check "node1: table empty" wait_stat "$node1" entries 0 100
check "node2: table empty" wait_stat "$node2" be-conns 0 150
check "node3: table empty" wait_stat "$node3" be-conns 0 150
exit $th_rc
