#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A mixed cluster: the control channel on IPv4 (lib.sh's cluster), an IPv6
# service beside the IPv4 one, with the same rules. Handoffs of both
# families go over the same IPv4 channels, each back-end answering under
# the front-end's address of the client's family; the 1 MiB body over
# IPv6 is byte-identical. The service filter keeps the two families apart:
# deleting the IPv6 service leaves the IPv4 one handing off, and new IPv6
# connections are served locally. Every table empties afterwards.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
"$HANDOFFCTL" -n "$node1" service add "[2001:db8:1::1]:80" || { log "FAIL: service add"; exit $ksft_fail; }
get4() { ip netns exec "$client" curl -s --max-time 10 "http://198.51.100.1$1"; }
get6() { ip netns exec "$client" curl -s --max-time 10 "http://[2001:db8:1::1]$1"; }

check_eq "IPv6 /a/ is served by node2" "served-by node2" "$(get6 /a/)"
check_eq "IPv4 /a/ is served by node2" "served-by node2" "$(get4 /a/)"
check_eq "IPv6 /b/ is served by node3" "served-by node3" "$(get6 /b/)"
check_eq "IPv6 / stays on node1" "served-by node1" "$(get6 /)"
sum=$(ip netns exec "$client" curl -s --max-time 60 "http://[2001:db8:1::1]/b/big" | sha256sum | cut -d' ' -f1)
check_eq "1 MiB over IPv6 from node3 is byte-identical" "$(sha256sum "$TH_TMP/random-1m" | cut -d' ' -f1)" "$sum"
check_eq "node1: 4 handoffs accepted" 4 "$(stat_of "$node1" handoff-ok)"
check_eq "node2 took 2 connections over" 2 "$(stat_of "$node2" be-accepted)"
check_eq "node3 took 2 connections over" 2 "$(stat_of "$node3" be-accepted)"
check_eq "node2's nginx saw the client over both families" "1 1" \
	"$(grep -c '^2001:db8:1::100 ' "$TH_TMP/nginx-node2/access.log") $(grep -c '^198.51.100.100 ' "$TH_TMP/nginx-node2/access.log")"

"$HANDOFFCTL" -n "$node1" service del "[2001:db8:1::1]:80"
check_eq "without the IPv6 service, IPv6 /a/ stays on node1" "served-by node1" "$(get6 /a/)"
check_eq "the IPv4 service still hands /a/ to node2" "served-by node2" "$(get4 /a/)"
check_eq "node1: 5 handoffs accepted" 5 "$(stat_of "$node1" handoff-ok)"
"$HANDOFFCTL" -n "$node1" service add "[2001:db8:1::1]:80"
check_eq "added back, IPv6 /b/ goes to node3 again" "served-by node3" "$(get6 /b/)"

check "node1's tombstones expire" wait_stat "$node1" fe-tombstones 0 100
check "node1: nothing forwarding" wait_stat "$node1" fe-forwarding 0 100
check "node1: table empty" wait_stat "$node1" entries 0 100
check "node2: table empty" wait_stat "$node2" be-conns 0 150
check "node3: table empty" wait_stat "$node3" be-conns 0 150
exit $th_rc
