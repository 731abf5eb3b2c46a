#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The module on a host as real hosts are set up: nf_conntrack loaded, an
# nftables rule dropping 'ct state invalid', rp_filter=1. The service's
# traffic is served and counted; the hooks do not upset conntrack.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nft
require_tool curl
require_tool nginx
modprobe nf_conntrack && modprobe nft_ct || { log "SKIP: conntrack modules unavailable"; exit $ksft_skip; }
setup_cluster || exit $ksft_fail
for ns in "$client" "$node1" "$node2"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1
	ip netns exec "$ns" nft -f - <<'NFT'
table inet filter {
	chain input {
		type filter hook input priority 0;
		ct state invalid counter drop;
		ct state established counter accept;
	}
	chain output { type filter hook output priority 0; ct state invalid counter drop; }
}
NFT
done
"$HANDOFFCTL" -n "$node1" service add $SVC_HOST:80
start_nginx "$node1" node1 || { log "FAIL: nginx"; exit $ksft_fail; }
for n in 1 2 3; do
	check_eq "request $n" "served-by node1" "$(ip netns exec "$client" curl -s --max-time 10 http://$SVC_HOST/)"
done
size=$(ip netns exec "$client" curl -s --max-time 60 -o /dev/null -w '%{size_download}' http://$SVC_HOST/big)
check_eq "1 MiB through conntrack" 1048576 "$size"
check "packets counted" test "$(stat_of "$node1" rx-packets)" -gt 20
invalid=$(ip netns exec "$node1" nft list ruleset | awk '/ct state invalid counter/ { for (i=1;i<=NF;i++) if ($i=="packets") s+=$(i+1) } END { print s+0 }')
check_eq "no packet became ct invalid on node1" 0 "$invalid"
established=$(ip netns exec "$node1" nft list ruleset | awk '/ct state established counter/ { for (i=1;i<=NF;i++) if ($i=="packets") print $(i+1) }')
check "conntrack saw the connections as established ($established packets)" test "${established:-0}" -gt 20
exit $th_rc
