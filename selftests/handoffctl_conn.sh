#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# handoffctl conn show (the family's conn-get dump), plain and -j, with its
# filters: a connection handed off and kept open is "forwarding" to node2
# on node1 and "established" from node1 on node2, with the client's
# address and port on both; those whose request head is still incomplete
# are "holding" on node1, more of them than one dump buffer holds. The
# JSON matches the text. Bad filters exit 2.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool python3
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
conn() { "$HANDOFFCTL" -n "$1" conn show "${@:2}"; }
jconn() { "$HANDOFFCTL" -n "$1" -j conn show "${@:2}"; }
# The half-read connection below must stay held while the test looks.
"$HANDOFFCTL" -n "$node1" limits set head-timeout 60000

check_eq "nothing tracked yet" 0 "$(jconn "$node1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"

# Two clients that stay connected: one handed off to node2 (the response
# read, the connection kept alive), one that sends half a request head.
ip netns exec "$client" python3 - "$TH_TMP" <<'PY' &
import os, socket, sys, time
held = socket.socket()
held.bind(("198.51.100.100", 41001))
held.connect(("198.51.100.1", 80))
held.sendall(b"GET /a/ HTTP/1.1\r\nHost: t\r\n\r\n")
resp = b""
while b"served-by" not in resp:
    resp += held.recv(4096)
half = socket.socket()
half.bind(("198.51.100.100", 41002))
half.connect(("198.51.100.1", 80))
half.sendall(b"GET /b/ HTTP/1.1\r\nHo")
# More half-read ones than one dump message buffer holds.
more = []
for port in range(42000, 42200):
    s = socket.socket()
    s.bind(("198.51.100.100", port))
    s.connect(("198.51.100.1", 80))
    s.sendall(b"GET / HTTP/1.1\r\n")
    more.append(s)
open(sys.argv[1] + "/ready", "w").close()
while not os.path.exists(sys.argv[1] + "/release"):
    time.sleep(0.2)
held.close()
half.close()
for s in more:
    s.close()
PY
holder=$!
th_deadline 100
until [ -e "$TH_TMP/ready" ] || ! th_before_deadline; do th_sleep 0.1; done
check "the clients are connected" test -e "$TH_TMP/ready"

text=$(conn "$node1")
log "node1:"; printf '%s\n' "$text" | head -4 | sed 's/^/#   /'
check "node1: the handed-off one forwards to node2" grep -Eq \
	'^frontend +forwarding +198\.51\.100\.100:41001 +198\.51\.100\.1:80 +2 ' <<<"$text"
check "node1: the half-read one is holding" grep -Eq \
	'^frontend +holding +198\.51\.100\.100:41002 +198\.51\.100\.1:80 +- ' <<<"$text"
text=$(conn "$node2")
check "node2: established, from node1" grep -Eq \
	'^backend +established +198\.51\.100\.100:41001 +198\.51\.100\.1:80 +1 ' <<<"$text"

# A dump of more connections than one message buffer holds resumes
# where it stopped: every one listed once.
check "node1: 202 connections, each once" test "$(conn "$node1" | tail -n +2 | sort -u | wc -l)" = 202
check_eq "node1: 201 holding" 201 "$(jconn "$node1" state holding | python3 -c 'import json,sys; print(len({c["client"] for c in json.load(sys.stdin)}))')"

# The JSON says the same, and carries node2's own address and the id.
jconn "$node1" >"$TH_TMP/n1.json"
jconn "$node2" >"$TH_TMP/n2.json"
check "JSON: both sides agree" python3 - "$TH_TMP/n1.json" "$TH_TMP/n2.json" <<'PY'
import json, sys
fe = {c["client"]: c for c in json.load(open(sys.argv[1]))}
be = json.load(open(sys.argv[2]))
f = fe["198.51.100.100:41001"]
h = fe["198.51.100.100:41002"]
assert f["side"] == "frontend" and f["state"] == "forwarding" and f["node"] == 2, f
assert h["state"] == "holding" and "node" not in h and "id" not in h, h
assert len(be) == 1, be
b = be[0]
assert b["side"] == "backend" and b["state"] == "established", b
assert b["client"] == f["client"] and b["service"] == "198.51.100.1:80", b
assert b["local"] == "198.51.100.2" and b["node"] == 1, b
assert b["id"] == f["id"] and f["age_ms"] >= 0 and b["age_ms"] >= 0, (f, b)
PY

# Filters.
count() { "$@" | tail -n +2 | grep -c . || :; }
check_eq "filter backend on node1: none" 0 "$(count conn "$node1" backend)"
check_eq "filter state forwarding node 2: one" 1 "$(count conn "$node1" state forwarding node 2)"
check_eq "filter client with port" 1 "$(count conn "$node1" client 198.51.100.100:41002)"
check_eq "filter client address: all" 202 "$(count conn "$node1" client 198.51.100.100)"
check_eq "filter service" 202 "$(count conn "$node1" frontend service 198.51.100.1:80)"
check_eq "filter node 3: none" 0 "$(count conn "$node1" node 3)"
check_fails "unknown state" 2 "unknown state" conn "$node1" state bogus
check_fails "unknown filter" 2 "unknown filter" conn "$node1" colour red
check_fails "filter without a value" 2 "needs a value" conn "$node1" node
check_fails "bad client address" 2 "invalid address" conn "$node1" client 300.1.1.1

touch "$TH_TMP/release"
wait "$holder"
check "node1: table empty" wait_stat "$node1" entries 0 100
check "node2: table empty" wait_stat "$node2" be-conns 0 150
check_eq "conn show lists nothing after" 0 "$(count conn "$node1")"
exit $th_rc
