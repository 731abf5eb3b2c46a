#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fault: the back-end's server dies mid-response. A 1 MiB download handed
# off to node2 is under way (the client reads 50 KB/s; its receive buffer
# and node2's send buffer are small, so most of the body is still in
# nginx's hands) when
# every nginx process of node2 is killed (SIGKILL). The kernel closes the
# orphaned socket after sending what it holds: the client gets a short
# body, byte-identical as far as it goes, and a clean end of stream (curl
# exit 18, or 56 had the stack reset it) within the time its own reading
# takes to drain node2's socket buffer; nothing involves the module's
# timeouts. node2's entry closes (FIN both ways), node1 hears TERMINATE,
# every table empties within twice the linger time, and the module holds
# no reference. With nginx started again, /a/ is handed to node2 as before.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
require_module
require_tool nginx
require_tool curl
fault_cluster 1 2
# The client's bound: draining node2's send buffer and its own receive
# buffer (64 KiB each) at its reading rate (50 KB/s) takes about 3 s.
BOUND=3

fetch dl /a/big --max-time 60 --limit-rate 50k
pid=$FETCH_PID
check "the download is handed off to node2" wait_stat "$node1" fe-forwarding 1 100
check "node2 holds it" wait_stat "$node2" be-conns 1 50
# 100 KB in, the rest to come.
th_deadline 200
while [ "$(stat -c %s "$TH_TMP/dl.body" 2>/dev/null || echo 0)" -lt 100000 ]; do
	th_before_deadline || break
	th_sleep 0.2
done
log "killing node2's nginx after $(stat -c %s "$TH_TMP/dl.body") bytes"
t0=$(now_us)
# shellcheck disable=SC2046 # a list of pids
kill -KILL $(ip netns pids "$node2")
wait "$pid"
rc=$(fetch_rc dl)
after=$(fetch_after dl "$t0")
log "curl exit $rc, ${after} s after the kill"
check "the client gets a clean error: curl exit 18 (short body) or 56 (reset)" \
	test "$rc" = 18 -o "$rc" = 56
check_bound "the end of stream after the kill" "$BOUND" "$after"
check "what arrived is byte-identical" body_prefix dl
check_eq "served by node2" node2 "$(fetch_node dl)"
[ "$rc" = 56 ] && TH_EXPECT_RST=1

check "node2's entry closes and goes" wait_zero "$node2" 100
check "node1 heard TERMINATE" wait_stat "$node1" terminate-received 1 50
check "node1's table empties" wait_zero "$node1" 100
check_eq "node1 served nothing itself" 0 "$(stat_of "$node1" fallback-local)"
check_eq "no module reference left" 0 "$(module_refs)"

# nginx again: handoffs to node2 resume.
start_nginx "$node2" node2
fetch again /a/big --max-time 60
wait "$FETCH_PID"
check_eq "nginx restarted: the download completes" 0 "$(fetch_rc again)"
check "byte-identical" body_whole again
check_eq "served by node2" node2 "$(fetch_node again)"
check "every table empties" wait_zero "$node1" 100
check "node2's too" wait_zero "$node2" 100
exit $th_rc
