#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Handoffs on hosts set up as real hosts are: nf_conntrack loaded, an
# nftables rule dropping 'ct state invalid' in input and output, and
# rp_filter=1, on the client and every node. Forwarded packets are
# untracked on the front-end, replayed ones pass rp_filter on the back-end,
# and nothing the module sends or rewrites becomes 'invalid'.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nft
require_tool curl
require_tool nginx
modprobe nf_conntrack && modprobe nft_ct || { log "SKIP: conntrack modules unavailable"; exit $ksft_skip; }
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
for ns in "$client" "$node1" "$node2" "$node3"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 \
		net.ipv4.conf.eth0.rp_filter=1
	ip netns exec "$ns" nft -f - <<'NFT'
table inet filter {
	chain input {
		type filter hook input priority 0;
		ct state invalid counter drop;
	}
	chain output { type filter hook output priority 0; ct state invalid counter drop; }
}
NFT
done
want_sum=$(sha256sum "$TH_TMP/random-1m" | cut -d' ' -f1)
for n in 1 2 3; do
	check_eq "/a/ through conntrack, request $n" "served-by node2" \
		"$(ip netns exec "$client" curl -s --max-time 10 http://$SVC_HOST/a/)"
done
check_eq "/b/ through conntrack" "served-by node3" \
	"$(ip netns exec "$client" curl -s --max-time 10 http://$SVC_HOST/b/)"
sum=$(ip netns exec "$client" curl -s --max-time 60 http://$SVC_HOST/a/big | sha256sum | cut -d' ' -f1)
check_eq "1 MiB through conntrack, byte-identical" "$want_sum" "$sum"
check_eq "node1 handed all five off" 5 "$(stat_of "$node1" handoff-ok)"
for ns in "$client" "$node1" "$node2" "$node3"; do
	invalid=$(ip netns exec "$ns" nft list ruleset | awk '/ct state invalid counter/ { for (i=1;i<=NF;i++) if ($i=="packets") s+=$(i+1) } END { print s+0 }')
	check_eq "no packet became ct invalid in ${ns%%-*}" 0 "$invalid"
done
check "node1: table empty" wait_stat "$node1" entries 0 80
check "node2: table empty" wait_stat "$node2" be-conns 0 150
exit $th_rc
