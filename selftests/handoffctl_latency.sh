#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# handoffctl latency: a BPF program (libbpf-rs) on the module's tracepoints
# samples each handoff of the front-end's namespace, from its request to
# the back-end's answer, and the tool prints histograms per node, plain and
# -j. 100 handoffs (50 to node2, 50 to node3) give 50 samples per node;
# a listener in another namespace hears none of them. Bad arguments exit 2;
# a user without the right to load BPF gets a clear message and exit 1.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
require_tool setpriv
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
wait_peers_up "$node2" 2 && wait_peers_up "$node3" 2 || exit $ksft_fail

"$HANDOFFCTL" -n "$node1" latency show >"$TH_TMP/lat" 2>"$TH_TMP/lat.err" &
pids=($!)
"$HANDOFFCTL" -n "$node1" -j latency show >"$TH_TMP/lat.json" 2>"$TH_TMP/lat.json.err" &
pids+=($!)
"$HANDOFFCTL" -n "$node1" -j latency show node 3 >"$TH_TMP/lat3.json" 2>"$TH_TMP/lat3.err" &
pids+=($!)
"$HANDOFFCTL" -n "$node2" -j latency show >"$TH_TMP/lat-node2.json" 2>"$TH_TMP/lat-node2.err" &
pids+=($!)
th_deadline 300
for f in lat.err lat.json.err lat3.err lat-node2.err; do
	until grep -q "tracing" "$TH_TMP/$f" 2>/dev/null; do
		th_before_deadline || break
		kill -0 "${pids[@]}" 2>/dev/null || break
		th_sleep 0.1
	done
done
check "the four tracers attached" grep -q tracing "$TH_TMP/lat.err" "$TH_TMP/lat.json.err" \
	"$TH_TMP/lat3.err" "$TH_TMP/lat-node2.err"

# One connection per request (Connection: close), so 100 handoffs.
ip netns exec "$client" curl -s -H 'Connection: close' -w '%{http_code} ' -o /dev/null \
	"http://198.51.100.1/a/?i=[1-50]" "http://198.51.100.1/b/?i=[1-50]" >"$TH_TMP/codes"
check_eq "100 requests answered 200" 100 "$(grep -o 200 "$TH_TMP/codes" | wc -l)"
check "node1 counted 100 handoffs" wait_stat "$node1" handoff-ok 100 100

kill -INT "${pids[@]}" 2>/dev/null
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
check_eq "the tracers exit 0 on SIGINT" 0 "$rc"
sed 's/^/# node1: /' "$TH_TMP/lat"

check "plain: a histogram per node, 50 handoffs each" grep -q '^node 2: 50 handoffs' "$TH_TMP/lat"
check "plain: node 3 too" grep -q '^node 3: 50 handoffs' "$TH_TMP/lat"
check "plain: bucket lines with a bar" grep -qE '^ +[0-9]+ -> [0-9]+ +: [0-9]+ +\|\*+ *\|$' "$TH_TMP/lat"
check "-j: 50 samples for each node, in consistent buckets" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["lost"] == 0, r
nodes = {n["node"]: n for n in r["nodes"]}
assert sorted(nodes) == [2, 3], nodes.keys()
for n in nodes.values():
    assert n["count"] == 50, n
    assert sum(b["count"] for b in n["buckets"]) == 50, n
    assert 0 < n["p50_us"] <= n["p99_us"] <= n["max_us"], n
    assert n["min_us"] <= n["avg_us"] <= n["max_us"], n
    for b in n["buckets"]:
        assert b["low_us"] <= b["high_us"], b
    assert any(b["low_us"] <= n["max_us"] <= b["high_us"] and b["count"] for b in n["buckets"]), n
' "$TH_TMP/lat.json"
check "-j node 3: only node 3, 50 samples" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert [(n["node"], n["count"]) for n in r["nodes"]] == [(3, 50)], r
' "$TH_TMP/lat3.json"
check "node2's namespace saw no handoff of node1's" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["nodes"] == [], r
' "$TH_TMP/lat-node2.json"

# interval and count: reports on their own, then exits.
check "interval 1 count 2: two reports, then exit 0" sh -c "
	timeout 60 \"$HANDOFFCTL\" -n $node1 -j latency show interval 1 count 2 >\"$TH_TMP/int.json\" &&
	[ \$(wc -l <\"$TH_TMP/int.json\") = 2 ] &&
	python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' \"$TH_TMP/int.json\""

check_fails "interval 0 is a usage error" 2 "must be between 1 and 3600" \
	"$HANDOFFCTL" latency show interval 0
check_fails "count without interval is a usage error" 2 "needs an \"interval\"" \
	"$HANDOFFCTL" latency show count 2
check_fails "an unknown keyword is a usage error" 2 "unknown argument \"every\"" \
	"$HANDOFFCTL" latency show every 2
check_fails "-j: the usage error is JSON too" 2 '"errno":22' \
	"$HANDOFFCTL" -j latency show node 0
check_fails "latency is not a batch command" 2 "not batch commands" \
	sh -c "echo latency show | \"$HANDOFFCTL\" -b -"
# unprivileged_bpf_disabled keeps BPF to root: a clear message, exit 1.
check_fails "an unprivileged user is told why" 1 "needs root" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$HANDOFFCTL" latency show
check_fails "-j: the refusal is JSON too" 1 '"errno":1' \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$HANDOFFCTL" -j latency show
exit $th_rc
