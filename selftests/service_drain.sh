#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# service del drains, as deleting an IPVS service does: a keep-alive
# connection handed to node2 before the service was deleted goes on (its
# second request is still answered by node2, through node1's forwarding),
# while new connections are node1's own (its nginx, untracked). Once the
# drained connection is gone the service's slot is free again: the service
# can be added back and hands off as before.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
for ns in "$node1" "$node2"; do
	"$HANDOFFCTL" -n "$ns" limits set linger 1000
done
get() { ip netns exec "$client" curl -s --max-time 10 -D - "http://$SVC_HOST$1" | tr -d '\r' | grep -i '^x-node:'; }

# One keep-alive connection: a request, then the service goes, then a
# second request on the same connection.
mkfifo "$TH_TMP/go"
ip netns exec "$client" python3 - "$TH_TMP/go" >"$TH_TMP/conn" <<'PY' &
import os, socket, sys
s = socket.create_connection((os.environ["SVC_IP"], 80), timeout=20)
def ask():
    s.sendall(b"GET /a/ HTTP/1.1\r\nHost: a\r\n\r\n")
    data = b""
    while b"served-by" not in data:
        data += s.recv(4096)
    print(data.split(b"\r\n\r\n", 1)[1].decode().strip(), flush=True)
ask()
open(sys.argv[1]).read()      # the service is deleted meanwhile
ask()
s.close()
PY
conn=$!
th_deadline 100
until [ -s "$TH_TMP/conn" ]; do
	th_before_deadline || break
	th_sleep 0.1
done
check_eq "first request: handed to node2" "served-by node2" "$(head -1 "$TH_TMP/conn")"
"$HANDOFFCTL" -n "$node1" service del $SVC_HOST:80
check_eq "service show: gone" "" "$("$HANDOFFCTL" -n "$node1" service show)"
echo go >"$TH_TMP/go"
wait "$conn"
check_eq "second request on the drained connection: still node2" "served-by node2" \
	"$(sed -n 2p "$TH_TMP/conn")"
check_eq "a new connection is node1's own" "X-Node: node1" "$(get /a/)"
check_eq "and untracked" 1 "$(stat_of "$node1" heads-http)"
check "node1's table empties (the drained connection closed)" wait_stat "$node1" entries 0 100
# The next tick frees the slot: the service comes back and hands off.
th_sleep 0.5
"$HANDOFFCTL" -n "$node1" service add $SVC_HOST:80
check_eq "added back: /a/ is handed off again" "X-Node: node2" "$(get /a/)"
check_eq "two handoffs in all" 2 "$(stat_of "$node1" handoff-ok)"
exit $th_rc
