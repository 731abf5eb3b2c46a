#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The spec drives the module: the kernel's own ynl CLI, given only
# Documentation/netlink/specs/tcp_handoff.yaml, adds, gets and dumps nodes
# and services, reads and zeroes the counters, dumps the connections, and
# subscribes to the "events" group, where it hears a channel go down.
source "$(dirname "$0")/lib.sh"
require_module
ynl=${TH_KTREE:-}/tools/net/ynl/pyynl/cli.py
[ -f "$ynl" ] || { log "SKIP: ynl not found at $ynl"; exit $ksft_skip; }
python3 -c 'import yaml, jsonschema' 2>/dev/null || { log "SKIP: python3-yaml/jsonschema missing"; exit $ksft_skip; }
setup_ns ns || exit $ksft_fail
spec=$TH_SRC/Documentation/netlink/specs/tcp_handoff.yaml
check "ynl: the spec is valid genetlink-c" \
	env PYTHONPYCACHEPREFIX=$TH_YNL_PYC python3 "$ynl" --spec "$spec" --schema "$TH_KTREE/Documentation/netlink/genetlink-c.yaml" --validate
# Validated once above; each call below would validate again (seconds).
y() { PYTHONPYCACHEPREFIX=$TH_YNL_PYC ip netns exec "$ns" python3 "$ynl" --spec "$spec" --no-schema --output-json "$@"; }

check "ynl: node-add" y --do node-add --json '{"id": 5, "addr4": "198.51.100.5", "port": 7000, "weight": 3}'
check "ynl: service-add" y --do service-add --json '{"addr6": "2001:db8:1::10", "port": 80}'
# Nothing listens at node 5's address: its channel is down or connecting
# (retrying), never up; either way ynl decodes the state enum by name.
check_eq "ynl: node-get" "5 198.51.100.5 7000 3 not-up" "$(y --do node-get --json '{"id": 5}' |
	python3 -c 'import json,sys; n=json.load(sys.stdin); print(n["id"], n["addr4"], n["port"], n["weight"],
		"not-up" if n["state"] in ("down", "connecting") else n["state"])')"
check_eq "ynl: node-get dump" "[5]" "$(y --dump node-get | python3 -c 'import json,sys; print([n["id"] for n in json.load(sys.stdin)])')"
check_eq "ynl: service-get dump" "2001:db8:1::10 80" "$(y --dump service-get |
	python3 -c 'import json,sys; s=json.load(sys.stdin)[0]; print(s["addr6"], s["port"])')"
check_eq "ynl: stats-get" "1 1" "$(y --do stats-get | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["nodes"], s["services"])')"
check_eq "handoffctl sees what ynl added" "node 5 addr 198.51.100.5 port 7000 weight 3 state" \
	"$("$HANDOFFCTL" -n "$ns" node show 5 | sed -E 's/ (down|connecting)$//')"
check_fails "ynl: duplicate id refused with the extack" 1 "a node with this id exists" \
	y --do node-add --json '{"id": 5, "addr4": "198.51.100.6", "port": 7000}'
check_eq "ynl: conn-get dump (nothing tracked)" "[]" "$(y --dump conn-get)"
check "ynl: stats-reset" y --do stats-reset

# Events: two namespaces, one node each, joined by a veth; once their
# channel is up, ynl subscribes in one and the other forgets it.
setup_ns a b || exit $ksft_fail
ip link add va netns "$a" type veth peer vb netns "$b"
ip -n "$a" addr add 198.51.100.201/24 dev va && ip -n "$a" link set va up
ip -n "$b" addr add 198.51.100.202/24 dev vb && ip -n "$b" link set vb up
for n in a b; do
	"$HANDOFFCTL" -n "${!n}" -b - <<-EOF
		node add 1 addr 198.51.100.201 port 7000$([ $n = a ] && echo " local")
		node add 2 addr 198.51.100.202 port 7000$([ $n = b ] && echo " local")
	EOF
done
check "the channel comes up" wait_peers_up "$a" 1
# ynl subscribes, then dumps the nodes, then prints each event as it
# comes: once the dump is in its output, it is listening (a python3 that
# imports yaml and jsonschema takes many seconds to get there in a busy
# guest, so no fixed wait is long enough).
PYTHONUNBUFFERED=1 PYTHONPYCACHEPREFIX=$TH_YNL_PYC ip netns exec "$a" python3 "$ynl" --spec "$spec" \
	--no-schema --output-json --subscribe events --dump node-get --duration 300 \
	>"$TH_TMP/ynl-events" 2>&1 &
ynl_pid=$!
# wait_output TEXT: until ynl's output holds TEXT (or ynl ended).
wait_output() {
	local TH_END
	th_deadline 600
	until grep -q "$1" "$TH_TMP/ynl-events"; do
		kill -0 "$ynl_pid" 2>/dev/null && th_before_deadline || return 1
		th_sleep 0.2
	done
}
check "ynl subscribed and dumped the nodes" wait_output '"id"'
"$HANDOFFCTL" -n "$b" node del 1
wait_output peer-down
kill "$ynl_pid" 2>/dev/null
wait "$ynl_pid" 2>/dev/null
sed 's/^/#   /' "$TH_TMP/ynl-events"
check "ynl --subscribe events: peer-down of node 2" python3 -c '
import ast, json, sys
evs = []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    try:
        evs.append(json.loads(line))
    except ValueError:
        evs.append(ast.literal_eval(line))
msgs = [e.get("msg", e) for e in evs if isinstance(e, dict)]
assert any(m.get("kind") == "peer-down" and m.get("node") == 2 for m in msgs), evs
' "$TH_TMP/ynl-events"
exit $th_rc
