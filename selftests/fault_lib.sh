#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Helpers of the fault_*.sh tests (sourced after lib.sh): a client's
# download in the background, its fate (curl's exit code, the body against
# the served object, when it ended), and every node's connection state
# back to zero. A fault may end a client's transfer, but never leave it
# hanging: each test states the bound within which the client completes or
# gets a clean error, and checks it.

# fetch NAME PATH [CURL-ARGS...]: the client downloads PATH from the service
# in the background; $TH_TMP/NAME.{body,hdr} get the body and the headers,
# and when curl exits, NAME.rc its exit code and NAME.end the time
# (microseconds, as EPOCHREALTIME). FETCH_PID is the background job.
fetch() {
	local name=$1 path=$2
	shift 2
	rm -f "$TH_TMP/$name".{body,hdr,rc,end}
	(
		ip netns exec "$client" curl -s -D "$TH_TMP/$name.hdr" -o "$TH_TMP/$name.body" \
			"$@" "http://$SVC_HOST$path"
		rc=$?
		echo "${EPOCHREALTIME/./}" >"$TH_TMP/$name.end"
		echo "$rc" >"$TH_TMP/$name.rc"
	) &
	FETCH_PID=$!
}

# small_buffers: the client's receive buffer and node2's send buffer at
# most 64 KiB, so that a download in progress is in progress on the wire:
# with the defaults a 1 MiB body sits in the client's socket within a
# second, however slowly curl reads it (--limit-rate), and a fault after
# that hits nothing.
small_buffers() {
	ns_sysctl "$client" net.ipv4.tcp_rmem="4096 16384 65536" &&
		ns_sysctl "$node2" net.ipv4.tcp_wmem="4096 16384 65536"
}

# fault_cluster N...: lib.sh's handoff cluster with small_buffers, and a
# linger time of 1 s on nodes N... (tombstones and closed entries go
# quickly), or ends the test.
fault_cluster() {
	local n ns
	setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
	small_buffers || { log "FAIL: socket buffers"; exit $ksft_fail; }
	for n in "$@"; do
		eval "ns=\$node$n"
		"$HANDOFFCTL" -n "$ns" limits set linger 1000
	done
}

# size NAME: bytes NAME received so far.
size() { stat -c %s "$TH_TMP/$1.body" 2>/dev/null || echo 0; }
# wait_bytes NAME N: until NAME received N bytes.
wait_bytes() {
	th_deadline 200
	while [ "$(size "$1")" -lt "$2" ]; do
		th_before_deadline || return 1
		th_sleep 0.2
	done
}

# now_us: the time, in microseconds.
now_us() { echo "${EPOCHREALTIME/./}"; }

# fetch_rc NAME: curl's exit code (after the job was waited for).
fetch_rc() { cat "$TH_TMP/$1.rc" 2>/dev/null || echo none; }

# fetch_after NAME START_US: seconds (one decimal) from START_US to the
# end of fetch NAME.
fetch_after() {
	local end
	end=$(cat "$TH_TMP/$1.end" 2>/dev/null) || { echo never; return; }
	local d=$(((end - $2) / 100000)) sign=""
	[ "$d" -ge 0 ] || { sign=-; d=$((-d)); }
	echo "$sign$((d / 10)).$((d % 10))"
}

# tenths SECONDS: a time in seconds (curl's %{time_total}, say) cut to one
# decimal.
tenths() {
	local f=${1#*.}
	[ "$f" != "$1" ] || f=0
	echo "${1%%.*}.${f:0:1}"
}

# within SECONDS MEASURED: MEASURED (seconds, one decimal) is at most
# SECONDS.
within() {
	[ "$2" != never ] && [[ $2 != -* ]] || return 1
	local m=${2/./}
	[ "$m" -le $(($1 * 10)) ]
}

# check_bound DESC NOMINAL MEASURED: a client's fate came within its
# bound: NOMINAL seconds (what the module's limits and the test's timers
# add up to), stretched by TH_SLOW like every deadline of the suite (the
# debug kernel under TCG, on a shared machine). MEASURED is logged either
# way; it is never checked against anything tighter.
check_bound() {
	check "$1: ${3} s (bound ${2} s, x${TH_SLOW} for the guest)" within $(($2 * TH_SLOW)) "$3"
}

# fetch_node NAME: the node that served it (its X-Node header).
fetch_node() {
	local k v
	while read -r k v; do
		[ "${k,,}" = x-node: ] && { echo "${v%$'\r'}"; return; }
	done <"$TH_TMP/$1.hdr"
}

# body_whole NAME: the body is the 1 MiB object, byte for byte.
body_whole() { cmp "$TH_TMP/random-1m" "$TH_TMP/$1.body"; }

# body_prefix NAME: the body is a strict prefix of the object (a transfer
# cut short): whatever arrived is right.
body_prefix() {
	local n
	n=$(stat -c %s "$TH_TMP/$1.body" 2>/dev/null || echo 0)
	echo "$n of 1048576 bytes"
	[ "$n" -lt 1048576 ] && cmp -n "$n" "$TH_TMP/random-1m" "$TH_TMP/$1.body"
}

# The gauges of a node's connection state (Documentation/ABI/testing/
# netlink-tcp_handoff-stats): all 0 when nothing is tracked any more.
TH_GAUGES="entries pending fe-forwarding fe-tombstones fe-in-flight be-conns"

# gauges_zero NS: prints the gauges that are not 0; fails if any.
gauges_zero() {
	local k v bad=""
	while read -r k v; do
		[[ " $TH_GAUGES " == *" $k "* ]] && [ "$v" != 0 ] && bad+=" $k=$v"
	done < <("$HANDOFFCTL" -n "$1" stats show)
	[ -z "$bad" ] || { echo "non-zero:$bad"; return 1; }
}

# wait_zero NS TENTHS: waits (stretched by TH_SLOW) until every gauge of
# NS is 0, and says which are not when it gives up.
wait_zero() {
	local TH_END
	th_deadline "$2"
	until gauges_zero "$1" >"$TH_TMP/gauges"; do
		th_before_deadline || { cat "$TH_TMP/gauges"; return 1; }
		th_sleep 0.2
	done
}

# module_refs: the module's reference count (every forwarding or
# taken-over entry holds one).
module_refs() { cat /sys/module/tcp_handoff/refcnt; }

# guard_resets: resets the client's guard (lib.sh) counted so far.
guard_resets() {
	local w1 w2 rest name=""
	while read -r w1 w2 rest; do
		case $w1 in
		counter) name=$w2 ;;
		packets) [ "$name" = resets ] && { echo "$w2"; return; } ;;
		esac
	done < <(ip netns exec "$client" nft list counters table inet th_guard)
}
