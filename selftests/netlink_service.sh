#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# service-add / service-del / service-get, IPv4 and IPv6, and refusals.
source "$(dirname "$0")/lib.sh"
require_module
setup_ns ns || exit $ksft_fail
h() { "$HANDOFFCTL" -n "$ns" "$@"; }

check "add 198.51.100.10:80" h service add 198.51.100.10:80
check "add 198.51.100.10:8080" h service add 198.51.100.10:8080
check "add [2001:db8:1::10]:80" h service add '[2001:db8:1::10]:80'
check_eq "dump" "service 198.51.100.10:80
service 198.51.100.10:8080
service [2001:db8:1::10]:80" "$(h service show)"
check_fails "duplicate" 1 "this service exists" h service add 198.51.100.10:80
check_fails "multicast" 1 "address must be a unicast address" h service add 239.1.1.1:80
check_fails "missing port" 1 "missing" h raw service-add 1:c633640a
check_fails "port 0 (policy)" 1 "integer out of range" h raw service-add 1:c633640a 3:0000
check_fails "without CAP_NET_ADMIN" 1 "Operation not permitted" \
	ip netns exec "$ns" setpriv --inh-caps=-all --bounding-set=-all "$HANDOFFCTL" service add 198.51.100.11:80
check "delete :8080" h service del 198.51.100.10:8080
check_fails "delete a missing service" 1 "no such service" h service del 198.51.100.10:8080
check_eq "stats count services" 2 "$(stat_of "$ns" services)"
check_eq "JSON dump" '198.51.100.10 80' \
	"$(h -j service show | python3 -c 'import json,sys; s=json.load(sys.stdin)[0]; print(s["addr"], s["port"])')"
exit $th_rc
