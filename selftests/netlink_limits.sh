#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Table limits: 64 nodes and 64 services per namespace; the 65th is refused
# with ENOSPC and a message, the dump returns every entry, and deleting all
# of them brings the counts back to zero.
source "$(dirname "$0")/lib.sh"
require_module
setup_ns ns || exit $ksft_fail
h() { "$HANDOFFCTL" -n "$ns" "$@"; }

for i in $(seq 64); do
	echo "node add $i addr 2001:db8:2::$i port 7000"
	echo "service add 198.51.100.$i:80"
done >"$TH_TMP/add"
check "64 nodes and 64 services added (one batch)" h -b "$TH_TMP/add"
check_fails "65th node" 1 "node table is full" h node add 65 addr 2001:db8:2::65 port 7000
check_fails "65th service" 1 "service table is full" h service add 198.51.100.65:80
check_eq "node dump returns 64" 64 "$(h node show | grep -c '^node ')"
check_eq "service dump returns 64" 64 "$(h service show | grep -c '^service ')"
check_eq "JSON dump returns 64 distinct ids" 64 \
	"$(h -j node show | python3 -c 'import json,sys; print(len({n["id"] for n in json.load(sys.stdin)}))')"
for i in $(seq 64); do
	echo "node del $i"
	echo "service del 198.51.100.$i:80"
done >"$TH_TMP/del"
check "all deleted (one batch)" h -b "$TH_TMP/del"
check_eq "nodes back to zero" 0 "$(stat_of "$ns" nodes)"
check_eq "services back to zero" 0 "$(stat_of "$ns" services)"
check "a node can be added again" h node add 1 addr 198.51.100.1 port 7000
exit $th_rc
