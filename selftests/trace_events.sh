#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The module's tracepoints (tcp_handoff:*) and its drop reasons, read
# through tracefs as an operator would: a handoff to node2 shows
# handoff_queued, handoff_start and handoff_done in node1's namespace and
# TERMINATE (closed) on both sides, for an IPv4 and an IPv6 client (whose
# addresses show as [2001:db8:1::100]:port); a handoff to node3 without a
# listener shows
# handoff_failed (nak); node3 forgetting node1 shows channel_state down and
# up. A client that completes its handshake and waits 3.5 s before its
# request (the head timeout raised to 10 s for it) makes the held request
# socket retransmit its SYN/ACK, which the
# front-end swallows: skb:kfree_skb shows it with reason NETFILTER_DROP at
# a function of the module, and no drop of the module's lacks a reason.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
tr=/sys/kernel/tracing
if [ ! -d "$tr/events" ]; then
	mount -t tracefs nodev "$tr" 2>/dev/null || { log "SKIP: no tracefs"; exit $ksft_skip; }
fi
[ -d "$tr/events/tcp_handoff" ] || { log "FAIL: no tcp_handoff events in tracefs"; exit $ksft_fail; }
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
wait_peers_up "$node3" 2 || exit $ksft_fail
"$HANDOFFCTL" -n "$node1" limits set head-timeout 10000
ino() { stat -L -c %i "/run/netns/$1"; }
ns1=$(ino "$node1")
ns2=$(ino "$node2")
ns3=$(ino "$node3")

echo 0 >"$tr/tracing_on"
echo >"$tr/trace"
echo 1 >"$tr/events/tcp_handoff/enable"
echo 1 >"$tr/events/skb/kfree_skb/enable"
echo 1 >"$tr/tracing_on"

ip netns exec "$client" python3 - >"$TH_TMP/slow" <<'PY'
import socket, time
s = socket.create_connection(("198.51.100.1", 80), timeout=20)
# The front-end withholds the handshake's ACK from its request socket
# while it reads the head: the socket retransmits its SYN/ACK after 1 s
# and 3 s.
time.sleep(3.5)
s.sendall(b"GET /a/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
print(out.split(b"\r\n\r\n", 1)[-1].decode().strip())
PY
check_eq "the slow client is served by node2" "served-by node2" "$(cat "$TH_TMP/slow")"
"$HANDOFFCTL" -n "$node1" service add "[2001:db8:1::1]:80" || { log "FAIL: service add"; exit $ksft_fail; }
check_eq "an IPv6 client is served by node2" "served-by node2" \
	"$(ip netns exec "$client" curl -s --max-time 10 'http://[2001:db8:1::1]/a/')"
kill "$(cat "$TH_TMP/nginx-node3/nginx.pid")"
check_eq "no listener on node3: /b/ served by node1" "served-by node1" \
	"$(ip netns exec "$client" curl -s --max-time 10 http://198.51.100.1/b/)"
"$HANDOFFCTL" -n "$node3" node del 1
check "node1 sees node3's channel go" wait_stat "$node1" peers-up 1 150
"$HANDOFFCTL" -n "$node3" node add 1 addr 198.51.100.129 port 7000
check "and come back" wait_stat "$node1" peers-up 2 150
check "node2 reports both connections closed" wait_stat "$node1" terminate-received 2 100
echo 0 >"$tr/tracing_on"
echo 0 >"$tr/events/tcp_handoff/enable"
echo 0 >"$tr/events/skb/kfree_skb/enable"
grep -v '^#' "$tr/trace" >"$TH_TMP/trace"
grep 'tcp_handoff\|handoff_\|channel_state' "$TH_TMP/trace" | sed 's/^ */# /' | cut -c1-200

ev() { grep -E "$1" "$TH_TMP/trace"; }
check "handoff_start: node1's namespace, to node 2, client and service" \
	ev " handoff_start: netns=$ns1 id=[0-9]+ node=2 client=198\.51\.100\.100:[0-9]+ service=198\.51\.100\.1:80 head=[0-9]+$"
check "handoff_queued: node1's namespace, a complete head from the client" \
	ev " handoff_queued: netns=$ns1 client=198\.51\.100\.100:[0-9]+ service=198\.51\.100\.1:80 head=[0-9]+$"
check "handoff_done: node 2, with a latency" \
	ev " handoff_done: netns=$ns1 id=[0-9]+ node=2 client=198\.51\.100\.100:[0-9]+ latency_us=[0-9]+$"
check "handoff_start of the IPv6 client" \
	ev " handoff_start: netns=$ns1 id=[0-9]+ node=2 client=\[2001:db8:1::100\]:[0-9]+ service=\[2001:db8:1::1\]:80 head=[0-9]+$"
check "handoff_done of the IPv6 client" \
	ev " handoff_done: netns=$ns1 id=[0-9]+ node=2 client=\[2001:db8:1::100\]:[0-9]+ latency_us=[0-9]+$"
id=$(ev " handoff_done: netns=$ns1 " | head -1 | sed -E 's/.* id=([0-9]+) .*/\1/')
check "the same id started" ev " handoff_start: netns=$ns1 id=$id node=2 "
check "handoff_failed: node 3 refused (nak)" \
	ev " handoff_failed: netns=$ns1 id=[0-9]+ node=3 client=198\.51\.100\.100:[0-9]+ reason=nak$"
check "handoff_terminate: node2 sent 'closed' for that id" \
	ev " handoff_terminate: netns=$ns2 id=$id node=1 to reason=closed$"
check "handoff_terminate: node1 received it" \
	ev " handoff_terminate: netns=$ns1 id=$id node=2 from reason=closed$"
check "channel_state: node1 saw node 3 go down, with a reason" \
	ev " channel_state: netns=$ns1 node=3 down reason=.+"
check "channel_state: and come back up" ev " channel_state: netns=$ns1 node=3 up reason=(accepted|connected)$"
check "channel_state: node3 saw node 1 removed" ev " channel_state: netns=$ns3 node=1 down reason=removed$"

ev 'kfree_skb:.*\[tcp_handoff\]' >"$TH_TMP/drops" || :
log "drops at the module: $(sed -E 's/.*reason: //' "$TH_TMP/drops" | sort | uniq -c | paste -sd, -)"
check "the swallowed SYN/ACK retransmissions: NETFILTER_DROP at the module" \
	grep -q 'location=th_kfree_skb_reason.*reason: NETFILTER_DROP' "$TH_TMP/drops"
check "node1 counted them" test "$(stat_of "$node1" fe-tx-dropped)" -ge 1
check "no drop of the module's without a reason" sh -c "! grep -q 'NOT_SPECIFIED' \"$TH_TMP/drops\""
exit $th_rc
