#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# UTCP, the shim on the service's listening socket (Documentation/utcp.rst):
# - node1's nginx listener is shimmed with the first connection it holds;
# - a request that reaches TCP behind BTCP's back while its connection is
#   held gets no child socket (nginx cannot accept it) until the module
#   releases the connection, which is then served locally;
# - removing the service, restarting nginx and rmmod each restore the
#   listener, which keeps serving (after rmmod too: no accepted socket
#   and no listener points into the unloaded module).
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
require_tool nft
[ -n "${TH_KO:-}" ] || { log "SKIP: TH_KO (the module to reload) not given"; exit $ksft_skip; }
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }

get() { # path: the body the client gets from the service
	ip netns exec "$client" curl -s --max-time 20 "http://$SVC_HOST$1"
}

check_eq "/a/ is handed off to node2" "served-by node2" "$(get /a/)"
check_eq "node1's listener is shimmed" 1 "$(stat_of "$node1" utcp-listeners)"
check_eq "nothing vetoed so far" 0 "$(stat_of "$node1" utcp-vetoed)"

# Segments with a payload skip the module's hook (they carry the mark of
# its own re-injections, set before the hook runs): the handshake's ACK is
# held as usual, the request reaches TCP on its own (IPv6: the payload
# length counts no IP header).
ip netns exec "$node1" nft -f - <<'NFT'
table inet th_bypass {
	chain pre {
		type filter hook prerouting priority -450;
		ip daddr 198.51.100.1 tcp dport 80 ip length > 100 meta mark set 0x7c4a11d0
		ip6 daddr 2001:db8:1::1 tcp dport 80 ip6 length > 80 meta mark set 0x7c4a11d0
	}
}
NFT
timeouts=$(stat_of "$node1" heads-timeout)
check_eq "a request that bypasses BTCP is served locally once released" \
	"served-by node1" "$(get /a/)"
vetoed=$(stat_of "$node1" utcp-vetoed)
check "the shim refused it a child while it was held ($vetoed)" test "${vetoed:-0}" -ge 1
check_eq "it was released by the head timeout" $((timeouts + 1)) "$(stat_of "$node1" heads-timeout)"
check_eq "nginx on node1 accepted it once" 1 "$(grep -c 'GET /a/ ' "$TH_TMP/nginx-node1/access.log")"
ip netns exec "$node1" nft delete table inet th_bypass

check "removing the service restores the listener" \
	"$HANDOFFCTL" -n "$node1" service del "$SVC_HOST:80"
check_eq "no listener shimmed" 0 "$(stat_of "$node1" utcp-listeners)"
check_eq "/a/ is served by node1 itself" "served-by node1" "$(get /a/)"
check "the service is added again" \
	"$HANDOFFCTL" -n "$node1" service add "$SVC_HOST:80"
check_eq "/a/ is handed off again" "served-by node2" "$(get /a/)"
check_eq "the listener is shimmed again" 1 "$(stat_of "$node1" utcp-listeners)"

# A listener that closes is let go at the next tick; its successor is
# shimmed with its first held connection.
conf=$TH_TMP/nginx-node1/nginx.conf
kill "$(cat "$TH_TMP/nginx-node1/nginx.pid")"
check "nginx on node1 stops" wait_stat "$node1" utcp-listeners 0 100
check "nginx on node1 starts again" ip netns exec "$node1" nginx -c "$conf"
for _ in $(seq 50); do
	ip netns exec "$node1" ss -Hltn 'sport = :80' | grep -q LISTEN && break
	th_sleep 0.1
done
check_eq "/b/ is handed off to node3" "served-by node3" "$(get /b/)"
check_eq "the new listener is shimmed" 1 "$(stat_of "$node1" utcp-listeners)"

# rmmod restores the listener: it must keep serving, and close, without the
# module's code.
check "node1's table drains" wait_stat "$node1" entries 0 80
check "node2's table drains" wait_stat "$node2" be-conns 0 150
check "node3's table drains" wait_stat "$node3" be-conns 0 150
check "rmmod with a shimmed listener" rmmod tcp_handoff
check_eq "the restored listener serves /a/ itself" "served-by node1" "$(get /a/)"
check_eq "and again" "served-by node1" "$(get /b/)"
kill "$(cat "$TH_TMP/nginx-node1/nginx.pid")"
for _ in $(seq 50); do
	ip netns exec "$node1" ss -Hltn 'sport = :80' | grep -q LISTEN || break
	th_sleep 0.1
done
check "the restored listener closed" sh -c "! ip netns exec $node1 ss -Hltn 'sport = :80' | grep -q LISTEN"
cleanup_ns
check "insmod again" insmod "$TH_KO"
exit $th_rc
