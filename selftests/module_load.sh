#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Loading and unloading: 100 insmod/rmmod cycles (make check-full: 200) with
# namespaces alive, per-namespace state in namespaces created before and
# after the load, and the module-wide facts in sysfs.
source "$(dirname "$0")/lib.sh"

KO=${TH_KO:?TH_KO names the module file}
require_module
setup_ns before || exit $ksft_fail

cycles=100
[ "${TH_FULL:-0}" = 1 ] && cycles=200
ok=0
for i in $(seq $cycles); do
	rmmod tcp_handoff || break
	[ ! -d /sys/module/tcp_handoff ] || break
	insmod "$KO" || break
	ok=$i
done
check_eq "insmod/rmmod cycles" $cycles $ok

check "sysfs has the module version" grep -qx '0.1.0' /sys/module/tcp_handoff/version
check_eq "module-wide facts: version" 0.1.0 "$(cat /sys/kernel/tcp_handoff/version)"
check "module-wide facts: build names the running kernel" grep -q "kernel $(uname -r); rustc" /sys/kernel/tcp_handoff/build
check_eq "module-wide facts: limits" "64 64" "$(cat /sys/kernel/tcp_handoff/max_nodes /sys/kernel/tcp_handoff/max_services | xargs)"
check "/proc/net/tcp_handoff in the initial namespace" test -r /proc/net/tcp_handoff
check "/proc/net/tcp_handoff in a namespace older than the module" \
	ip netns exec "$before" test -r /proc/net/tcp_handoff
setup_ns after || exit $ksft_fail
check "/proc/net/tcp_handoff in a namespace created after the load" \
	ip netns exec "$after" test -r /proc/net/tcp_handoff
check "the family answers in a new namespace" "$HANDOFFCTL" -n "$after" node show

# A namespace with configuration is torn down while the module stays, and
# the module unloads while a configured namespace is alive.
"$HANDOFFCTL" -n "$after" node add 7 addr 198.51.100.7 port 7000 >/dev/null
"$HANDOFFCTL" -n "$after" service add 198.51.100.10:80 >/dev/null
ip netns del "$after"
"$HANDOFFCTL" -n "$before" node add 7 addr 198.51.100.7 port 7000 >/dev/null
check "rmmod with a configured namespace alive" rmmod tcp_handoff
check "insmod again" insmod "$KO"
check_eq "configuration does not survive a reload" "" "$("$HANDOFFCTL" -n "$before" node show)"
exit $th_rc
