#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# TCP option matrix: the client, the front-end (node1) and the back-end
# (node2) each with timestamps, SACK and window scaling on or off, small or
# large receive buffers (so front-end and back-end pick different window
# scales), and SYN cookies forced on the front-end. Pairwise combinations;
# each one either completes a 1 MiB download through a handoff, or is
# refused by the back-end (it cannot grant what the front-end granted) and
# served by the front-end, as the design says. Never a broken transfer.
# make check-full adds the whole product of the three options on the three
# hosts.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
want_sum=$(sha256sum "$TH_TMP/random-1m" | cut -d' ' -f1)

# case NAME EXPECTED-NODE SETTINGS...: SETTINGS are ns:key=value, applied
# over the defaults; one process per host.
case_() {
	local name=$1 want=$2 s h kv
	shift 2
	local -A set=(
		[client]="net.ipv4.tcp_timestamps=1 net.ipv4.tcp_sack=1 net.ipv4.tcp_window_scaling=1"
		[node1]="net.ipv4.tcp_timestamps=1 net.ipv4.tcp_sack=1 net.ipv4.tcp_window_scaling=1 net.ipv4.tcp_syncookies=1"
		[node2]="net.ipv4.tcp_timestamps=1 net.ipv4.tcp_sack=1 net.ipv4.tcp_window_scaling=1"
	)
	local -A rmem=([client]="4096 131072 6291456" [node1]="4096 131072 6291456" [node2]="4096 131072 6291456")
	for s in "$@"; do
		h=${s%%:*} kv=${s#*:}
		case $kv in
		tcp_rmem=*) rmem[$h]=${kv#*=} ;;
		*) set[$h]+=" net.ipv4.$kv" ;;
		esac
	done
	for h in client node1 node2; do
		# shellcheck disable=SC2086 # a list of settings
		ns_sysctl "${!h}" ${set[$h]} "net.ipv4.tcp_rmem=${rmem[$h]}"
	done
	local out node="" sum k v
	out=$(ip netns exec "$client" curl -s --max-time 60 -D "$TH_TMP/hdr" -o "$TH_TMP/body" \
		-w '%{http_code}' http://$SVC_HOST/a/big)
	while read -r k v; do
		[ "${k,,}" = x-node: ] && node=${v%$'\r'}
	done <"$TH_TMP/hdr"
	read -r sum _ < <(sha256sum "$TH_TMP/body")
	check_eq "$name: 1 MiB byte-identical" "$want_sum" "$sum"
	check_eq "$name: status" 200 "$out"
	check_eq "$name: served by" "$want" "$node"
}

nak0=$(stat_of "$node1" handoff-nak)
case_ "all options on" node2
case_ "client: no timestamps" node2 client:tcp_timestamps=0
case_ "client: no SACK" node2 client:tcp_sack=0
case_ "client: no window scaling" node2 client:tcp_window_scaling=0
case_ "FE: no timestamps, BE: no SACK" node1 node1:tcp_timestamps=0 node2:tcp_sack=0
case_ "FE: no SACK, client: no timestamps" node2 node1:tcp_sack=0 client:tcp_timestamps=0
case_ "FE: no window scaling, BE: no timestamps" node1 node1:tcp_window_scaling=0 node2:tcp_timestamps=0
case_ "FE and BE without timestamps" node2 node1:tcp_timestamps=0 node2:tcp_timestamps=0
case_ "BE: no window scaling" node1 node2:tcp_window_scaling=0
case_ "BE: no SACK, client: no SACK" node2 node2:tcp_sack=0 client:tcp_sack=0
case_ "FE small rmem, BE large (scales differ)" node2 \
	"node1:tcp_rmem=4096 16384 65536" "node2:tcp_rmem=4096 1048576 33554432"
case_ "FE large rmem, BE small, client no SACK" node2 \
	"node1:tcp_rmem=4096 1048576 33554432" "node2:tcp_rmem=4096 16384 65536" client:tcp_sack=0
case_ "FE answers with SYN cookies" node1 node1:tcp_syncookies=2
case_ "SYN cookies on the FE, client without timestamps" node1 node1:tcp_syncookies=2 client:tcp_timestamps=0
naks=3

# make check-full (TH_FULL=1): the whole product of timestamps, SACK and
# window scaling on client, front-end and back-end, 512 cases. The back-end
# refuses (and the front-end serves) exactly when the front-end granted an
# option the back-end cannot: the client and the front-end have it on and
# the back-end has it off.
# TH_FULL_STEP=N runs every Nth case only (a sample of the product).
if [ "${TH_FULL:-0}" = 1 ]; then
	opts=(tcp_timestamps tcp_sack tcp_window_scaling)
	for bits in $(seq 0 "${TH_FULL_STEP:-1}" 511); do
		settings=() want=node2
		for k in 0 1 2; do
			c=$((bits >> k & 1)) f=$((bits >> (3 + k) & 1)) b=$((bits >> (6 + k) & 1))
			settings+=("client:${opts[k]}=$c" "node1:${opts[k]}=$f" "node2:${opts[k]}=$b")
			[ "$c$f$b" = 110 ] && want=node1
		done
		[ "$want" = node1 ] && naks=$((naks + 1))
		case_ "product $bits" "$want" "${settings[@]}"
	done
fi

check_eq "each back-end refusal was counted ($naks cases)" "$naks" "$(( $(stat_of "$node1" handoff-nak) - nak0 ))"
check_eq "node2 refused exactly those" "$naks" "$(stat_of "$node2" be-refused)"
check "node1: table empty" wait_stat "$node1" entries 0 80
check "node2: table empty" wait_stat "$node2" be-conns 0 150
exit $th_rc
