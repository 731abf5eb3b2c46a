#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# handoffctl monitor (the family's "events" multicast group), plain and -j,
# on the front-end: a handoff done (to the node the rule names, with the
# client's address and a latency), a handoff failed (the back-end has no
# listener: NAK, served locally), a channel down and up again. Only
# listeners of node1's namespace hear node1's events.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
get() { ip netns exec "$client" curl -s --max-time 10 "http://198.51.100.1$1"; }

# Every channel is up before the monitors start: node2's monitor then
# hears nothing, as none of what follows happens in its namespace.
wait_peers_up "$node2" 2 && wait_peers_up "$node3" 2 || exit $ksft_fail
"$HANDOFFCTL" -n "$node1" monitor >"$TH_TMP/ev" 2>"$TH_TMP/ev.err" &
pids=($!)
"$HANDOFFCTL" -n "$node1" -j monitor >"$TH_TMP/ev.json" 2>"$TH_TMP/ev.json.err" &
pids+=($!)
"$HANDOFFCTL" -n "$node2" monitor >"$TH_TMP/ev2" 2>"$TH_TMP/ev2.err" &
pids+=($!)
th_deadline 100
for f in ev.err ev.json.err ev2.err; do
	until grep -q "listening" "$TH_TMP/$f" 2>/dev/null; do
		th_before_deadline || break
		th_sleep 0.1
	done
done
check "the three monitors listen" grep -q listening "$TH_TMP/ev.err" "$TH_TMP/ev.json.err" "$TH_TMP/ev2.err"

check_eq "/a/ is served by node2" "served-by node2" "$(get /a/)"
kill "$(cat "$TH_TMP/nginx-node3/nginx.pid")"
check_eq "no listener on node3: /b/ served by node1" "served-by node1" "$(get /b/)"
# node3 forgets node1: it closes the channel; node1 sees it go, then come
# back when node3 knows node1 again.
"$HANDOFFCTL" -n "$node3" node del 1
check "node1 sees node3's channel go" wait_stat "$node1" peers-up 1 150
"$HANDOFFCTL" -n "$node3" node add 1 addr 198.51.100.129 port 7000
check "and come back" wait_stat "$node1" peers-up 2 150
# Events of the last step may still be on their way to the readers.
th_deadline 50
until [ "$(grep -c '^peer up node 3' "$TH_TMP/ev")" -ge 1 ]; do
	th_before_deadline || break
	th_sleep 0.1
done
kill "${pids[@]}" 2>/dev/null
wait "${pids[@]}" 2>/dev/null
sed 's/^/# node1: /' "$TH_TMP/ev"

check "handoff done: node 2, the client, a latency" \
	grep -qE '^handoff done node 2 client 198\.51\.100\.100:[0-9]+ latency [0-9]+us$' "$TH_TMP/ev"
check "handoff failed: node 3 refused (nak)" \
	grep -qE '^handoff failed node 3 client 198\.51\.100\.100:[0-9]+ reason nak$' "$TH_TMP/ev"
check "peer down: node 3, with the reason" grep -qE '^peer down node 3 reason .+' "$TH_TMP/ev"
check "peer up: node 3" grep -qx 'peer up node 3' "$TH_TMP/ev"
check_eq "in that order" "handoff done,handoff failed,peer down,peer up" \
	"$(awk '{ print $1, $2 }' "$TH_TMP/ev" | uniq | paste -sd,)"
check "-j: one JSON object per event, the same events" python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["event"] for e in ev]
assert kinds == ["handoff-done", "handoff-failed", "peer-down", "peer-up"], kinds
done, failed = ev[0], ev[1]
assert done["node"] == 2 and done["client"].startswith("198.51.100.100:"), done
assert done["latency-us"] >= 0 and done["reason"] is None, done
assert failed["node"] == 3 and failed["reason"] == "nak", failed
assert ev[3]["node"] == 3 and ev[3]["client"] is None, ev[3]
' "$TH_TMP/ev.json"
check_eq "node2's monitor heard nothing of node1's" "" "$(cat "$TH_TMP/ev2")"
check_fails "monitor is not a batch command" 2 "not batch commands" \
	sh -c "echo monitor | \"$HANDOFFCTL\" -n $node1 -b -"
exit $th_rc
