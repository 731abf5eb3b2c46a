#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# handoffctl stats, like ipvsadm's: totals after some handoffs; per
# service and per node (stats show services / nodes, plain and -j) on the
# front-end and a back-end; -Z
# shows them and zeroes the counters while gauges keep their values; stats zero
# needs CAP_NET_ADMIN; --rate shows per-second figures (plain and -j)
# while requests flow.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
require_tool setpriv
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
get() { ip netns exec "$client" curl -s --max-time 10 "http://198.51.100.1$1"; }
st() { stat_of "$node1" "$1"; }

for i in 1 2 3; do get /a/ >/dev/null; done
check_eq "node1: 3 handoffs" 3 "$(st handoff-ok)"
check_eq "node2: 3 taken over" 3 "$(stat_of "$node2" be-accepted)"

# Per node, like ipvsadm -Ln --stats: node1 handed 3 to node2 and
# forwarded their later packets; node2 took 3 from node1 and answered.
kill "$(cat "$TH_TMP/nginx-node3/nginx.pid")"
check_eq "no listener on node3: /b/ served by node1" "served-by node1" "$(get /b/)"
"$HANDOFFCTL" -n "$node1" stats show nodes >"$TH_TMP/nodes"
sed 's/^/#   /' "$TH_TMP/nodes"
check "node1: node 2 has 3 handoffs, forwarded packets" \
	awk '$1 == 2 && $3 == 3 && $4 == 0 && $5 > 0 && $6 > 0 { ok = 1 } END { exit !ok }' "$TH_TMP/nodes"
check "node1: node 3 has 1 failed handoff" \
	awk '$1 == 3 && $3 == 0 && $4 == 1 { ok = 1 } END { exit !ok }' "$TH_TMP/nodes"
check "node2, -j: node 1's 3 taken over, packets sent" python3 -c '
import json, sys
n = {x["id"]: x for x in json.load(sys.stdin)}
assert n[1]["be-accepted"] == 3 and n[1]["be-tx-packets"] > 0 and n[1]["be-tx-bytes"] > 0, n
assert n[3]["be-accepted"] == 0 and n[1]["state"] == "up", n
' < <("$HANDOFFCTL" -n "$node2" -j stats show nodes)
# Per service: 4 connections, 3 handed off, 1 refused and served here.
"$HANDOFFCTL" -n "$node1" stats show services >"$TH_TMP/services"
sed 's/^/#   /' "$TH_TMP/services"
check "node1: the service's connections, handoffs, local" \
	awk '$1 == "198.51.100.1:80" && $2 == 4 && $3 == 3 && $4 == 1 && $5 == 1 && $6 > 0 && $8 > 0 { ok = 1 } END { exit !ok }' "$TH_TMP/services"
check "-j: the same" python3 -c '
import json, sys
s = json.load(sys.stdin)
assert len(s) == 1 and s[0]["service"] == "198.51.100.1:80", s
assert (s[0]["conns"], s[0]["handoff-ok"], s[0]["handoff-failed"], s[0]["local"]) == (4, 3, 1, 1), s
assert s[0]["rx-bytes"] > s[0]["rx-packets"] > 0, s
' < <("$HANDOFFCTL" -n "$node1" -j stats show services)
check_fails "nodes with --rate is a usage error" 2 "not supported per node" \
	"$HANDOFFCTL" -n "$node1" stats show nodes --rate
# -Z: the totals are printed, then zeroed.
"$HANDOFFCTL" -n "$node1" stats show -Z >"$TH_TMP/before"
check "stats show -Z printed the totals" grep -qx "handoff-ok 3" "$TH_TMP/before"
check_eq "handoff-ok zeroed" 0 "$(st handoff-ok)"
check_eq "heads-http zeroed" 0 "$(st heads-http)"
check_eq "a gauge keeps its value: nodes" 3 "$(st nodes)"
check_eq "a gauge keeps its value: peers-up" 2 "$(st peers-up)"
check "per-service counters zeroed too" awk 'NR > 1 && ($2 || $3 || $4 || $5) { bad = 1 } END { exit bad }' \
	<("$HANDOFFCTL" -n "$node1" stats show services)
check "per-node counters zeroed too" awk 'NR > 1 && ($3 || $4 || $5 || $6) { bad = 1 } END { exit bad }' \
	<("$HANDOFFCTL" -n "$node1" stats show nodes)

# stats zero, and who may.
check_fails "stats zero without CAP_NET_ADMIN" 1 "Operation not permitted" \
	ip netns exec "$node2" setpriv --inh-caps=-all --bounding-set=-all "$HANDOFFCTL" stats zero
check_eq "node2 kept its counters" 3 "$(stat_of "$node2" be-accepted)"
check "stats zero" "$HANDOFFCTL" -n "$node2" stats zero
check_eq "node2: be-accepted zeroed" 0 "$(stat_of "$node2" be-accepted)"
check_eq "counting resumes" "served-by node2" "$(get /a/)"
check_eq "node1: 1 handoff since" 1 "$(st handoff-ok)"

# --rate while requests flow: a loop of curls until both samples are
# taken (a slow guest may take seconds for each).
ip netns exec "$client" bash -c "until [ -e $TH_TMP/stop ]; do curl -s -o /dev/null http://198.51.100.1/a/; done" &
load=$!
th_sleep 1
# rate_sample OUT PATTERN [-j]: a --rate sample in which a handoff was
# counted (PATTERN finds it). On a slow host a curl can take longer than
# the one-second sample, so up to ten samples.
rate_sample() {
	local out=$1 pat=$2 i
	shift 2
	for i in 1 2 3 4 5 6 7 8 9 10; do
		"$HANDOFFCTL" -n "$node1" "$@" stats show --rate >"$out"
		grep -Eq "$pat" "$out" && return
	done
}
rate_sample "$TH_TMP/rate" '^handoff-ok ([1-9]|0\.0*[1-9])'
rate_sample "$TH_TMP/rate.json" '"handoff-ok": ?([1-9]|0\.0*[1-9])' -j
touch "$TH_TMP/stop"
wait "$load"
sed 's/^/#   /' "$TH_TMP/rate" | grep -E 'handoff-ok|rx-packets|nodes '
check "--rate: handoffs per second > 0" awk '$1 == "handoff-ok" && $2 > 0 { ok = 1 } END { exit !ok }' "$TH_TMP/rate"
check "--rate: a gauge as is (nodes 3.0)" grep -qx "nodes 3.0" "$TH_TMP/rate"
check "-j --rate: JSON, rates > 0" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["nodes"] == 3 and r["rx-packets"] > 0 and r["handoff-ok"] > 0, r
' "$TH_TMP/rate.json"
check_fails "stats show --bogus is a usage error" 2 "unexpected argument" \
	"$HANDOFFCTL" -n "$node1" stats show --bogus
check "node1: table empty" wait_stat "$node1" entries 0 100
exit $th_rc
