#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# When a handoff cannot happen the client is still served, by the
# front-end itself, and never hangs: the back-end's data link is down (no
# route to the client: NAK), the back-end has no listener (NAK),
# the back-end's control link dies under a request (timeout), the channel
# is down (no handoff tried), and it comes back (handoffs resume).
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
ip netns exec "$node1" "$HANDOFFCTL" limits set handoff-timeout 1500
get() { ip netns exec "$client" curl -s --max-time 10 "http://198.51.100.1$1"; }
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
