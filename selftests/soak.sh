#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Soak: continuous handoffs for a bounded time (wrk, one connection per
# request, through node1 to node2 and node3 round-robin): 60 s in make
# check, 10 minutes in make check-full (TH_FULL=1; TH_SOAK_SECONDS sets
# it). Every request must succeed; afterwards every table and gauge is
# back to zero, and the module's own slab caches (tcp_handoff_fe_conn,
# tcp_handoff_be_conn, tcp_handoff_follow, created SLAB_NO_MERGE so
# /proc/slabinfo shows them apart) hold no object: no growth between start
# and end. KASAN, lockdep, UBSAN and kmemleak reports are the guest's own
# check after the tests.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool wrk
require_tool curl
caches="tcp_handoff_fe_conn tcp_handoff_be_conn tcp_handoff_follow"
for c in $caches; do
	grep -q "^$c " /proc/slabinfo || { log "FAIL: no slab cache $c in /proc/slabinfo"; exit $ksft_fail; }
done
secs=${TH_SOAK_SECONDS:-60}
[ "${TH_FULL:-0}" = 1 ] && secs=${TH_SOAK_SECONDS:-600}

# slab_objects CACHE: the cache's allocated objects. The shrink first
# flushes the per-CPU slabs, which /proc/slabinfo counts as fully in use.
slab_objects() {
	echo 1 >"/sys/kernel/slab/$1/shrink" 2>/dev/null
	awk -v c="$1" '$1 == c { print $2 }' /proc/slabinfo
}

setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
"$HANDOFFCTL" -n "$node1" rule del prio 10
"$HANDOFFCTL" -n "$node1" rule add prio 10 prefix /a/ policy rr to 2,3
# A slow guest may take a while between a connect and its request.
"$HANDOFFCTL" -n "$node1" limits set head-timeout 15000
check_eq "a request is handed off before the soak" "served-by node2" \
	"$(ip netns exec "$client" curl -s --max-time 20 http://198.51.100.1/a/)"
check "node1: table empty before the soak" wait_stat "$node1" entries 0 100
check "node2: no back-end entry before the soak" wait_stat "$node2" be-conns 0 100
declare -A before
for c in $caches; do
	before[$c]=$(slab_objects "$c")
	log "$c before: ${before[$c]} objects of $(awk -v c="$c" '$1 == c { print $4 }' /proc/slabinfo) bytes"
done

log "wrk for $secs s: 4 connections, one request each"
ip netns exec "$client" wrk -t1 -c4 -d"${secs}s" --timeout 20s \
	-H 'Connection: close' http://198.51.100.1/a/ >"$TH_TMP/wrk.out" 2>&1
sed 's/^/# wrk: /' "$TH_TMP/wrk.out"
requests=$(awk '/requests in/ { print $1 }' "$TH_TMP/wrk.out")
non2xx=$(awk '/Non-2xx/ { print $NF }' "$TH_TMP/wrk.out")
errors=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$TH_TMP/wrk.out")
check "wrk completed requests (${requests:-none})" test "${requests:-0}" -gt 0
check_eq "no non-2xx responses" 0 "${non2xx:-0}"
check_eq "no socket errors (connect, read, write, timeout)" 0 "${errors:-0}"
hok=$(stat_of "$node1" handoff-ok)
check "most requests were handed off ($hok of $requests)" test "$(( hok * 10 ))" -ge "$(( ${requests:-0} * 9 ))"
for n in 1 2 3; do
	eval "ns=\$node$n"
	check "node$n: table empty after the soak" wait_stat "$ns" entries 0 200
	check "node$n: no back-end entries" wait_stat "$ns" be-conns 0 200
	check_eq "node$n: no handoff in flight" 0 "$(stat_of "$ns" fe-in-flight)"
	check_eq "node$n: no forwarding entry" 0 "$(stat_of "$ns" fe-forwarding)"
	check_eq "node$n: no tombstone" 0 "$(stat_of "$ns" fe-tombstones)"
	check_eq "node$n: no connection holding its head" 0 "$(stat_of "$ns" pending)"
	"$HANDOFFCTL" -n "$ns" stats show | grep -v ' 0$' | sed "s/^/# node$n: /"
done
for c in $caches; do
	check_eq "$c: no growth (objects before and after)" "${before[$c]}" "$(slab_objects "$c")"
done
exit $th_rc
