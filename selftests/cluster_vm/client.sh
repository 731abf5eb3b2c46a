#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The client machine of the multi-VM cluster (scripts/cluster-vm.sh). It
# talks to 198.51.100.1 only; node1's module hands /a/ to node2 and /b/ to
# node3, machines of their own, which answer it directly. Asserts which
# machine served each request (the body names it), a 1 MiB body byte for
# byte, that node1 carried almost none of it, and then tells each node how
# many connections it should have handed off or taken over.
#
#   client.sh check|demo
#
# The demo runs a longer load, while node1 prints its counters.
source "$(dirname "$0")/common.sh"
mode=$1
hostname client
require_tool curl
ip -batch - <<-EOF2 || { log "FAIL: addresses"; exit $ksft_fail; }
	link set eth0 up
	addr add 198.51.100.100/25 dev eth0
EOF2

# The rendezvous: each node's port 9000 opens when the node is ready
# (node1's only once its channels to the others are up).
declare -A fd
for n in 1 2 3; do
	TH_END=0
	th_deadline 3000
	# The braces keep the 2>/dev/null off the shell: exec alone would make
	# it (and not only the socket) permanent.
	until { exec {f}<>"/dev/tcp/198.51.100.$n/$CLUSTER_PORT"; } 2>/dev/null; do
		th_before_deadline || { log "FAIL: node$n never became ready"; exit $ksft_fail; }
		th_sleep 1
	done
	read -r -t 600 -u "$f" line && [ "$line" = ready ] ||
		{ log "FAIL: node$n did not say ready"; exit $ksft_fail; }
	fd[$n]=$f
	log "node$n is ready"
done

declare -A count=([1]=0 [2]=0 [3]=0)
served_by() { # URL: the X-Node header of the answer
	curl -s --max-time 60 -o /dev/null -D - "http://198.51.100.1$1" |
		awk 'tolower($1) == "x-node:" { print $2 }' | tr -d '\r'
}
get() { # URL NODE: one request, which NODE must serve
	local got
	got=$(served_by "$1")
	[ "$got" = "node$2" ] || { log "FAIL: GET $1 served by '$got', wanted node$2"; th_rc=$ksft_fail; }
	[ "$2" = 1 ] || count[$2]=$((count[$2] + 1))
	[ "$mode" = check ] || printf '#   GET %-6s -> served by %s\n' "$1" "$got"
}

log "The client talks to 198.51.100.1 only; X-Node says which machine answered:"
get /a/ 2
get /b/ 3
get / 1
check_eq "a 1 MiB body from node3 is byte-identical" \
	"$(cluster_object | sha256sum | cut -d' ' -f1)" \
	"$(curl -s --max-time 300 http://198.51.100.1/b/big | sha256sum | cut -d' ' -f1)"
count[3]=$((count[3] + 1))
rounds=10
[ "$mode" = check ] || rounds=40
for ((i = 0; i < rounds; i++)); do
	get /a/ 2
	get /b/ 3
done
log "node2 served $((count[2])) and node3 $((count[3])) connections handed off by node1"

# Each node checks its own counters against these numbers (node1 also
# that its data interface sent far less than the 1 MiB body).
for n in 1 2 3; do
	want=${count[$n]}
	[ "$n" = 1 ] && want=$((count[2] + count[3]))
	echo "done $want" >&"${fd[$n]}"
done
[ "$th_rc" = 0 ] && log "ok: every request was served by the machine its rule names"
exit "$th_rc"
