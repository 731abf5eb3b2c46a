#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fault: the back-end's data link goes down mid-transfer (node2's eth0,
# which carries its answers to the client and node1's forwarded packets;
# its control link stays up). Taking the link down removes node2's route
# to the client: its socket's retransmissions go nowhere and pass no hook.
#
# Back within the bound: the link is down for 2 s, less than node2's idle
# timeout (limits idle-timeout, here 8 s) minus TCP's backed-off
# retransmission interval. TCP retransmits once the route is back and the
# download completes byte-identical; nothing was ended.
#
# Not back: node2's idle timeout (here 3 s) ends the silent connection (its
# socket aborted; the reset has no route either, the next scan finds no
# socket and closes the entry), node2 sends TERMINATE over the control
# channel, node1 keeps a tombstone for the linger time (1 s), then the
# client's next keepalive probe (every 2 s) reaches node1's own stack,
# which resets it: curl exits 56 within idle-timeout + 2 s (two scans, a
# second apart) + linger + the keepalive interval, with a byte-identical
# prefix. Every
# table empties; with the link back, handoffs to node2 resume.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
require_module
require_tool nginx
require_tool curl
fault_cluster 1 2
"$HANDOFFCTL" -n "$node2" limits set idle-timeout 8000
# What each part's client uses: 100 KB/s (about 10 s for 1 MiB), TCP
# keepalive every 2 s once nothing arrives.
CURL=(--max-time 90 --limit-rate 100k --keepalive-time 2)

# 1. Down for 2 s.
fetch back /a/big "${CURL[@]}"
pid=$FETCH_PID
check "back: the download is handed off to node2" wait_stat "$node2" be-conns 1 100
check "back: under way" wait_bytes back 200000
t0=$(now_us)
ip -n "$node2" link set eth0 down
th_sleep 2
ip -n "$node2" link set eth0 up
wait "$pid"
log "back: curl exit $(fetch_rc back), $(fetch_after back "$t0") s after the link went down"
check_eq "back: the download completes" 0 "$(fetch_rc back)"
check "back: byte-identical" body_whole back
check_eq "back: served by node2" node2 "$(fetch_node back)"
check_eq "back: node2 ended nothing" 0 "$(stat_of "$node2" idle-expired)"
check "back: node2's table empties" wait_zero "$node2" 100
check "back: node1's table empties" wait_zero "$node1" 100

# 2. Down for good (until the client has its answer).
IDLE=3 LINGER=1 KEEPALIVE=2
BOUND=$((IDLE + 2 + LINGER + KEEPALIVE))
"$HANDOFFCTL" -n "$node2" limits set idle-timeout $((IDLE * 1000))
fetch gone /a/big "${CURL[@]}"
pid=$FETCH_PID
check "gone: the download is handed off to node2" wait_stat "$node2" be-conns 1 100
check "gone: under way" wait_bytes gone 200000
t0=$(now_us)
ip -n "$node2" link set eth0 down
wait "$pid"
rc=$(fetch_rc gone)
after=$(fetch_after gone "$t0")
log "gone: curl exit $rc, $after s after the link went down"
check_eq "gone: the client is reset (curl exit 56)" 56 "$rc"
check_bound "gone: reset after the link went down" "$BOUND" "$after"
check "gone: what arrived is byte-identical" body_prefix gone
# Its first abort's reset has no route and passes no hook; the next scan
# finds no socket and ends the entry: counted once each.
expired=$(stat_of "$node2" idle-expired)
log "gone: node2 counted idle-expired $expired"
check "gone: node2 ended the connection for being idle" test "$expired" -ge 1
check "gone: node1 heard TERMINATE" test "$(stat_of "$node1" terminate-received)" -ge 2
check "gone: node2's table empties" wait_zero "$node2" 100
check "gone: node1's table empties" wait_zero "$node1" 100
check_eq "no module reference left" 0 "$(module_refs)"
# The reset from node1's stack.
TH_EXPECT_RST=1

# The link comes back: handoffs to node2 resume.
ip -n "$node2" link set eth0 up
fetch again /a/big --max-time 60
wait "$FETCH_PID"
check_eq "link back: the download completes" 0 "$(fetch_rc again)"
check "link back: byte-identical" body_whole again
check_eq "link back: served by node2" node2 "$(fetch_node again)"
check "every table empties" wait_zero "$node1" 100
check "node2's too" wait_zero "$node2" 100
exit $th_rc
