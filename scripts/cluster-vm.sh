#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A cluster of real machines: four QEMU guests (a client and three nodes),
# each its own debug kernel with the module, joined by two virtual switches
# (bridges: th-data for the clients' traffic, th-ctl for the control
# channel) in a network namespace this script makes, so that nothing the
# guests send leaves it. The guests run selftests/cluster_vm/.
#
#   scripts/cluster-vm.sh check|demo
#
# check (part of 'make check') prints KTAP: one result per machine (its
# script's checks passed, its kernel log is clean) and exits non-zero on
# any failure. demo ('make demo CLUSTER=vm') runs a longer load and shows
# the client's requests and node1's live counters as they happen.
# Each guest has one vCPU and CLUSTER_MEM (default 512M) of memory; under
# TCG they share the host's CPUs, so the load is kept small.
. "$(dirname "$0")/common.sh"

mode=${1:-check}
case $mode in check | demo) ;; *) die "usage: $0 check|demo" ;; esac
machines=(client node1 node2 node3)
results=$TOP/results/cluster-vm

if [ "${2:-}" != --inside ]; then
	command -v ip >/dev/null || die "cluster-vm needs iproute2's ip on the host"
	[ -c /dev/net/tun ] || die "cluster-vm needs /dev/net/tun for the guests' NICs"
	# Build (or find) everything before the guests start.
	ko=$(bash "$TOP/scripts/module.sh" debug)
	bash "$TOP/scripts/kernel.sh" debug >/dev/null
	rm -rf "$results"
	mkdir -p "$results"
	cp "$ko" "$results/tcp_handoff.ko"
	exec unshare --net -- bash "$0" "$mode" --inside
fi

# Inside the namespace: the switches and one tap per guest NIC.
{
	echo "link set lo up"
	echo "link add th-data type bridge"
	echo "link add th-ctl type bridge"
	echo "link set th-data up"
	echo "link set th-ctl up"
	for m in "${machines[@]}"; do
		echo "tuntap add dev $m-d mode tap"
		echo "link set $m-d master th-data up"
		[ "$m" = client ] && continue
		echo "tuntap add dev $m-c mode tap"
		echo "link set $m-c master th-ctl up"
	done
} | ip -batch - || die "cannot build the virtual switches"

guest_dir=$SRC_IN_ROOT/selftests/cluster_vm
ko_in_root=$SRC_IN_ROOT/results/cluster-vm/tcp_handoff.ko
pids=()
for m in "${machines[@]}"; do
	mkdir -p "$results/$m"
	: >"$results/$m/output.txt"
	if [ "$m" = client ]; then
		args=(--nic client-d -- bash "$guest_dir/client.sh" "$mode")
	else
		args=(--nic "$m-d" --nic "$m-c" -- bash "$guest_dir/node.sh" "$ko_in_root" "${m#node}" "$mode")
	fi
	(
		set +e
		TH_SMP=1 bash "$TOP/scripts/vm.sh" --flavour debug --mem "${CLUSTER_MEM:-512M}" \
			--timeout 1800 --results "$results/$m" "${args[@]}" >"$results/$m/vm.log" 2>&1
		echo $? >"$results/$m/rc"
	) &
	pids+=($!)
done
log "cluster-vm: booted ${machines[*]}; logs in $results/MACHINE/"
# What the machines print, as they print it: in a demo the client's requests
# and node1's counters; in a check each machine's verdicts.
for m in "${machines[@]}"; do
	[ "$mode" = demo ] && [ "$m" != client ] && [ "$m" != node1 ] && continue
	tail -n +1 -F "$results/$m/output.txt" 2>/dev/null | sed -u "s/^/[$m] /" &
	pids_tail+=($!)
done
wait "${pids[@]}"
sleep 1
kill "${pids_tail[@]}" 2>/dev/null

echo "KTAP version 1"
echo "1..${#machines[@]}"
fail=0 i=0
for m in "${machines[@]}"; do
	i=$((i + 1))
	rc=$(cat "$results/$m/rc" 2>/dev/null || echo 1)
	if [ "$rc" = 0 ] && [ ! -e "$results/$m/splat" ]; then
		echo "ok $i cluster-vm: $m"
	else
		why="exit code $rc"
		[ -e "$results/$m/splat" ] && why="$why, kernel splat"
		echo "not ok $i cluster-vm: $m ($why; see $results/$m/)"
		fail=$((fail + 1))
	fi
done
[ "$fail" -eq 0 ]
