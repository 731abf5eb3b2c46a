#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rule-add / rule-del / rule-get and limits-set / limits-get through the
# tcp_handoff family: rules are kept in prio order, a target must name a
# configured node, every refusal says why and changes nothing, and
# the handoff counters are reported (netlink and /proc/net).
source "$(dirname "$0")/lib.sh"
require_module
setup_ns ns || exit $ksft_fail
h() { "$HANDOFFCTL" -n "$ns" "$@"; }
nrules() { h rule show | grep -c '^rule '; }

# Nodes 1 to 16 exist (rules may only name configured nodes).
for i in $(seq 16); do
	echo "node add $i addr 198.51.100.$((128 + i)) port 7000"
done | h -b - || exit $ksft_fail
# Rules, added out of order.
check "add rule 20 (suffix, hash)" h rule add prio 20 suffix .jpg policy hash to 4,5,6
check "add rule 10 (GET, prefix, rr)" h rule add prio 10 method GET prefix /a/ policy rr to 2,3
check "add rule 30 (host, exact, lc)" h rule add prio 30 host '*.example.com' exact /x policy lc to 7
check "add rule 40 (local, no targets)" h rule add prio 40 policy local
check "add rule 0 (method *, host *)" h rule add prio 0 method '*' host '*' policy round-robin to 0
check_eq "dump is in prio order" "0 10 20 30 40" "$(h rule show | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')"
check_eq "text form of rule 10" "rule 10 method GET host * prefix /a/ policy rr to 2,3 hits 0" \
	"$(h rule show | grep '^rule 10 ')"
check_eq "text form of rule 30" "rule 30 method * host *.example.com exact /x policy lc to 7 hits 0" \
	"$(h rule show | grep '^rule 30 ')"
check_eq "text form of rule 40" "rule 40 method * host * policy local hits 0" "$(h rule show | grep '^rule 40 ')"
check "JSON dump" bash -c "ip netns exec $ns $HANDOFFCTL -j rule show | python3 -c '
import json, sys
rules = json.load(sys.stdin)
assert [r[\"prio\"] for r in rules] == [0, 10, 20, 30, 40], rules
r = {r[\"prio\"]: r for r in rules}
assert r[10][\"method\"] == \"GET\" and r[10][\"prefix\"] == \"/a/\" and r[10][\"targets\"] == [2, 3], r[10]
assert r[10][\"policy\"] == \"round-robin\" and r[10][\"hits\"] == 0 and r[10][\"host\"] is None, r[10]
assert r[20][\"suffix\"] == \".jpg\" and r[20][\"policy\"] == \"hash-url\" and r[20][\"targets\"] == [4, 5, 6], r[20]
assert r[30][\"host\"] == \"*.example.com\" and r[30][\"exact\"] == \"/x\" and r[30][\"policy\"] == \"least-conn\", r[30]
assert r[40][\"policy\"] == \"local\" and r[40][\"targets\"] == [], r[40]
'"
# rule-get as a "do" (prio 10 is 0a000000): one reply with every attribute.
check_eq "rule-get do returns the rule" 1 "$(h raw rule-get 1:0a000000 | grep -c '^reply cmd 10 .* 1:0a000000 ')"

# Refusals, each with its extack. Raw attribute types: 1 prio, 2 method,
# 3 host, 4 path-prefix, 5 path-suffix, 6 path-exact, 7 target, 8 policy.
check_fails "duplicate prio" 1 "a rule with this prio exists" h rule add prio 10 policy local
check_fails "a target that is no node" 1 "a target is not a configured node" h rule add prio 50 policy rr to 2,99
check_fails "-j: as JSON too" 1 '"errno":2' h -j rule add prio 50 policy rr to 99
check_fails "more than one path condition" 1 "give at most one of path-prefix, path-suffix and path-exact" \
	h raw rule-add 1:32000000 4:2f6100 5:2e6200 8:00000000
check_fails "more than one path condition (tool)" 2 "at most one" \
	h rule add prio 50 prefix /a suffix .b policy local
check_fails "round-robin without targets" 1 "this policy needs at least one target" h rule add prio 50 policy rr
check_fails "hash-url without targets" 1 "this policy needs at least one target" h rule add prio 50 policy hash
check_fails "17 targets" 1 "a rule has at most 16 targets" \
	h rule add prio 50 policy rr to 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17
check "16 targets are fine" h rule add prio 50 policy rr to 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16
check "delete it" h rule del prio 50
check_fails "empty host" 1 "host and path must not be empty" h rule add prio 50 host '' policy local
check_fails "empty path" 1 "host and path must not be empty" h rule add prio 50 prefix '' policy local
check_fails "path with a space" 1 "must not contain spaces or control characters" \
	h rule add prio 50 exact '/a b' policy local
check_fails "misplaced wildcard in the host" 1 'may contain * only as a leading "*."' \
	h rule add prio 50 host 'www.*.com' policy local
check_fails "method that is not a token" 1 "method is not a valid HTTP token" h rule add prio 50 method 'GE T' policy local
check_fails "method with a separator" 1 "method is not a valid HTTP token" h rule add prio 50 method 'GET/' policy local
check_fails "non-standard method" 1 "can be matched" h rule add prio 50 method PURGE policy local
check_fails "methods are case-sensitive" 1 "can be matched" h rule add prio 50 method get policy local
check_fails "unknown policy (tool)" 2 "invalid policy" h rule add prio 50 policy random
check_fails "unknown policy (policy check)" 1 "integer out of range" h raw rule-add 1:32000000 8:05000000
check_fails "missing prio" 1 "missing attribute: prio" h raw rule-add 8:00000000
check_fails "missing policy" 1 "missing attribute: policy" h raw rule-add 1:32000000
check_fails "string without NUL" 1 "Invalid argument" h raw rule-add 1:32000000 4:2f61 8:00000000
check_fails "hits is reply-only" 1 "Unknown attribute type" h raw rule-add 1:32000000 8:00000000 9:00000000
check_fails "delete a missing prio" 1 "no rule with this prio" h rule del prio 99
check_fails "get a missing prio" 1 "no rule with this prio" h raw rule-get 1:63000000
check_fails "without CAP_NET_ADMIN" 1 "Operation not permitted" \
	ip netns exec "$ns" setpriv --inh-caps=-all --bounding-set=-all "$HANDOFFCTL" rule add prio 50 policy local
check "dump works without CAP_NET_ADMIN" \
	ip netns exec "$ns" setpriv --inh-caps=-all --bounding-set=-all "$HANDOFFCTL" rule show
check_eq "refused requests changed nothing" 5 "$(nrules)"

check "delete rule 20" h rule del prio 20
check_eq "order kept after a delete" "0 10 30 40" "$(h rule show | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')"
check "re-add rule 20 in the middle" h rule add prio 20 exact / policy local
check_eq "inserted in order" "0 10 20 30 40" "$(h rule show | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')"

# The table holds 256 rules; the 257th is refused. The 251 rules go in
# through one batch file (handoffctl -b, like ip -batch): one process.
for i in $(seq 100 350); do echo "rule add prio $i policy local"; done >"$TH_TMP/add"
check "251 rules added in one batch" "$HANDOFFCTL" -n "$ns" -b "$TH_TMP/add"
check_eq "the table is full" 256 "$(nrules)"
check_fails "257th rule" 1 "rule table is full" h rule add prio 999 policy local
check_eq "dump returns 256 rules" 256 "$(nrules)"
printf 'rule del prio 100\nrule del prio 100\nrule del prio 101\n' >"$TH_TMP/bad"
check_fails "a batch stops at its first failing line" 1 "line 2 failed" \
	"$HANDOFFCTL" -n "$ns" -b "$TH_TMP/bad"
check_eq "the line after it did not run" 255 "$(nrules)"
for i in $(seq 101 350); do echo "rule del prio $i"; done >"$TH_TMP/del"
check "the rest deleted, read from stdin" sh -c "\"$HANDOFFCTL\" -n $ns -b - <$TH_TMP/del"
check_eq "back to five rules" 5 "$(nrules)"

# ynl drives the rule set too (target is a multi-attr list).
ynl=${TH_KTREE:-}/tools/net/ynl/pyynl/cli.py
if [ -f "$ynl" ] && python3 -c 'import yaml, jsonschema' 2>/dev/null; then
	# ynl_spec validates the spec against the schema; not again here.
	y() {
		PYTHONPYCACHEPREFIX=$TH_YNL_PYC ip netns exec "$ns" python3 "$ynl" \
			--spec "$TH_SRC/Documentation/netlink/specs/tcp_handoff.yaml" --no-schema --output-json "$@"
	}
	check "ynl: rule-add" y --do rule-add --json '{"prio": 5, "method": "POST", "target": [8, 9], "policy": "least-conn"}'
	check_eq "ynl: rule-get" "5 POST [8, 9] least-conn 0" "$(y --do rule-get --json '{"prio": 5}' |
		python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["prio"], r["method"], r["target"], r["policy"], r["hits"])')"
	check_eq "handoffctl sees what ynl added" "rule 5 method POST host * policy lc to 8,9 hits 0" \
		"$(h rule show | grep '^rule 5 ')"
	check "ynl: rule-del" y --do rule-del --json '{"prio": 5}'
	check_eq "ynl: limits-get" "2000 16384" "$(y --do limits-get |
		python3 -c 'import json,sys; l=json.load(sys.stdin); print(l["head-timeout-ms"], l["max-conns"])')"
else
	log "ynl not available: its rule checks are skipped"
fi

# Limits: defaults, partial updates, ranges.
check_eq "default limits" "head-timeout-ms 2000 handoff-timeout-ms 3000 linger-ms 60000 max-conns 16384 idle-timeout-ms 900000 lard-low 25 lard-high 65 lard-shrink-ms 20000" \
	"$(h limits show | tr '\n' ' ' | sed 's/ $//')"
check "set linger and max-conns" h limits set linger 500 max-conns 100
check_eq "only those changed" "head-timeout-ms 2000 handoff-timeout-ms 3000 linger-ms 500 max-conns 100 idle-timeout-ms 900000 lard-low 25 lard-high 65 lard-shrink-ms 20000" \
	"$(h limits show | tr '\n' ' ' | sed 's/ $//')"
check "set head-timeout and handoff-timeout" h limits set head-timeout 10 handoff-timeout-ms 600000
check "JSON limits" bash -c "ip netns exec $ns $HANDOFFCTL -j limits show | python3 -c '
import json, sys
l = json.load(sys.stdin)
assert l == {\"head-timeout-ms\": 10, \"handoff-timeout-ms\": 600000, \"linger-ms\": 500, \"max-conns\": 100, \"idle-timeout-ms\": 900000,
    \"lard-low\": 25, \"lard-high\": 65, \"lard-shrink-ms\": 20000}, l
'"
check_fails "linger below 10 ms (tool)" 2 "between 10 and 600000" h limits set linger 9
check_fails "max-conns 0 (policy)" 1 "integer out of range" h raw limits-set 4:00000000
check_fails "timeout above 600 s (policy)" 1 "integer out of range" h raw limits-set 1:c1270900
check_fails "unknown limit (policy)" 1 "Unknown attribute type" h raw limits-set 9:01000000
check_fails "idle-timeout below 1 s (tool)" 2 "between 1000 and 86400000" h limits set idle-timeout 999
check_fails "idle-timeout below 1 s (policy)" 1 "integer out of range" h raw limits-set 5:e7030000
check_fails "limits-set without CAP_NET_ADMIN" 1 "Operation not permitted" \
	ip netns exec "$ns" setpriv --inh-caps=-all --bounding-set=-all "$HANDOFFCTL" limits set linger 100
check_eq "refusals changed no limit" "head-timeout-ms 10 handoff-timeout-ms 600000 linger-ms 500 max-conns 100 idle-timeout-ms 900000 lard-low 25 lard-high 65 lard-shrink-ms 20000" \
	"$(h limits show | tr '\n' ' ' | sed 's/ $//')"
setup_ns other || exit $ksft_fail
check_eq "limits are per namespace" "linger-ms 60000" \
	"$("$HANDOFFCTL" -n "$other" limits show | grep '^linger-ms ')"
check_eq "rules are per namespace" 0 "$("$HANDOFFCTL" -n "$other" rule show | grep -c '^rule ')"

# The handoff counters and gauges are reported.
stats=$(h stats show)
for c in handoff-ok handoff-requests fallback-local fwd-errors be-accepted ctl-refused fe-forwarding peers-up; do
	check "stats show has $c" grep -qx "$c 0" <<<"$stats"
done
# As many as the spec's stats attribute set has.
nstats=$(python3 -c 'import sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
print(len(next(a for a in spec["attribute-sets"] if a["name"] == "stats")["attributes"]))' \
	"$TH_SRC/Documentation/netlink/specs/tcp_handoff.yaml")
check_eq "stats show lists every counter of the spec" "$nstats" "$(wc -l <<<"$stats")"
check "/proc/net/tcp_handoff has handoff_ok" ip netns exec "$ns" grep -qx "handoff_ok 0" /proc/net/tcp_handoff
check "/proc/net/tcp_handoff has peers_up" ip netns exec "$ns" grep -qx "peers_up 0" /proc/net/tcp_handoff
check_eq "/proc/net lists every counter" "$nstats" "$(ip netns exec "$ns" wc -l </proc/net/tcp_handoff)"
exit $th_rc
