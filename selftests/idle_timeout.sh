#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Idle handed-off connections end (limits idle-timeout): a keep-alive
# connection handed to node2 and left silent is aborted by node2 after the
# timeout, so the client gets a reset at once; node1 hears TERMINATE, and
# every table empties. A back-end that never ends its connection (a longer
# timeout there) does not keep the front-end's entry: node1 gives it up
# after its own timeout plus linger, and the client's next request gets a
# reset from node1's stack. The counters say what happened (idle-expired).
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
wait_peers_up "$node3" 2 || exit $ksft_fail
for ns in "$node1" "$node2" "$node3"; do
	"$HANDOFFCTL" -n "$ns" limits set idle-timeout 2000 linger 1000
done
# node3 keeps its connections for a day: node1 has to give up on its own.
"$HANDOFFCTL" -n "$node3" limits set idle-timeout 86400000
# The three resets: node2's abort, node1's stack for the forgotten
# connection, node3's abort at the end.
TH_EXPECT_RST=3

# client.py PATH WAIT: one keep-alive request, WAIT seconds of silence,
# then a second request; prints the first answer's node and what became of
# the connection.
cat >"$TH_TMP/client.py" <<'PY'
import os, socket, sys, time
path, wait = sys.argv[1], float(sys.argv[2])
s = socket.create_connection((os.environ["SVC_IP"], 80), timeout=20)
req = ("GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path).encode()
s.sendall(req)
data = b""
while b"served-by" not in data:
    data += s.recv(4096)
print(data.split(b"\r\n\r\n", 1)[1].decode().strip(), flush=True)
time.sleep(wait)
try:
    s.sendall(req)
    more = s.recv(4096)
    print("then", "eof" if not more else "answered", flush=True)
except ConnectionResetError:
    print("then reset", flush=True)
PY

ip netns exec "$client" python3 "$TH_TMP/client.py" /a/ 5 >"$TH_TMP/a"
sed 's/^/# a: /' "$TH_TMP/a"
check_eq "/a/ was handed to node2, which reset the idle connection" \
	"served-by node2,then reset" "$(paste -sd, "$TH_TMP/a")"
check_eq "node2 counted it" 1 "$(stat_of "$node2" idle-expired)"
check "node1 heard TERMINATE" wait_stat "$node1" terminate-received 1 50
check "node1's table empties" wait_stat "$node1" entries 0 100
check "node2's table empties" wait_stat "$node2" be-conns 0 100
check_eq "node1 did not have to give up on its own" 0 "$(stat_of "$node1" idle-expired)"

ip netns exec "$client" python3 "$TH_TMP/client.py" /b/ 6 >"$TH_TMP/b"
sed 's/^/# b: /' "$TH_TMP/b"
check_eq "/b/ was handed to node3; node1 forgot it, its stack reset the next request" \
	"served-by node3,then reset" "$(paste -sd, "$TH_TMP/b")"
check_eq "node1 counted it" 1 "$(stat_of "$node1" idle-expired)"
check "node1's table empties" wait_stat "$node1" entries 0 100
check_eq "node3 still holds its connection" 1 "$(stat_of "$node3" be-conns)"
"$HANDOFFCTL" -n "$node3" limits set idle-timeout 1000
check "node3 ends it with the shorter timeout" wait_stat "$node3" idle-expired 1 100
check "node3's table empties" wait_stat "$node3" be-conns 0 100
exit $th_rc
