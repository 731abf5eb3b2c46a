#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Keep-alive routing: every request of a kept-alive connection goes where
# the rules send it. One connection alternates 50 requests between /a/
# (node2) and /b/ (node3); the connection moves between the back-ends
# (Documentation/keepalive.rst), each body is the right node's, and the
# client sees one clean TCP connection; 10 more over IPv6. Then: two
# pipelined requests across a node boundary (later, and in the first
# segment), an upload before a request that moves, a client whose FIN
# follows a request that moves, and a client that closes in the middle of
# a head. Every table empties.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool python3
require_tool nstat
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
for i in $(seq 1 25); do
	echo "node2 a$i" >"$TH_TMP/nginx-node2/www/a/k$i"
	echo "node3 b$i" >"$TH_TMP/nginx-node3/www/b/k$i"
done
client_case() { ip netns exec "$client" python3 "$(dirname "$0")/keepalive_client.py" "$@"; }

# The bodies a case should have received, in order, as the client prints
# them ("<case> <n> 200 <node> <body>").
expect() { # case paths...
	local c=$1 n=0 p
	shift
	for p in "$@"; do
		n=$((n + 1))
		case $p in
		/a/k*) echo "$c $n 200 node2 node2 a${p#/a/k}" ;;
		/b/k*) echo "$c $n 200 node3 node3 b${p#/b/k}" ;;
		esac
	done
}

ip netns exec "$client" nstat -n
paths=()
for i in $(seq 1 50); do
	j=$(((i + 1) / 2))
	if [ $((i % 2)) = 1 ]; then paths+=("/a/k$j"); else paths+=("/b/k$j"); fi
done
client_case alternate 50 >"$TH_TMP/alternate"
check_eq "50 alternating requests on one connection, each from the right node" \
	"$(expect alternate "${paths[@]}" | sha256sum)" "$(grep -v ' end ' "$TH_TMP/alternate" | sha256sum)"
grep -v ' end ' "$TH_TMP/alternate" | head -4 | sed 's/^/# /'
check_eq "the connection is still open after the 50th" "alternate end open" \
	"$(grep ' end ' "$TH_TMP/alternate")"
check_eq "node1: 50 handoffs, the first and 49 moves" 50 "$(stat_of "$node1" handoff-ok)"
check_eq "node1: 49 later requests decided" 49 "$(stat_of "$node1" later-requests)"
check_eq "node1: the connection moved 49 times" 49 "$(stat_of "$node1" migrations)"
check_eq "node1: no move refused" 0 "$(stat_of "$node1" migrate-refused)"
check_eq "node2 and node3 let it go 49 times" 49 \
	$(( $(stat_of "$node2" migrated-out) + $(stat_of "$node3" migrated-out) ))
check_eq "node2's nginx served the 25 /a/ requests" 25 "$(grep -c 'GET /a/k' "$TH_TMP/nginx-node2/access.log")"
check_eq "node3's nginx served the 25 /b/ requests" 25 "$(grep -c 'GET /b/k' "$TH_TMP/nginx-node3/access.log")"
check_eq "node1's nginx served none" 0 "$(grep -c 'GET' "$TH_TMP/nginx-node1/access.log" 2>/dev/null || :)"
nst() { ip netns exec "$client" nstat -az "$1" | awk -v k="$1" '$1 == k { print $2 }'; }
check_eq "client: no PAWS drops" 0 "$(nst TcpExtPAWSEstab)"
check_eq "client: no resets received" 0 "$(nst TcpEstabResets)"
check_eq "client: no checksum errors" 0 "$(nst TcpInCsumErrors)"
log "client retransmitted $(nst TcpRetransSegs) segments (held requests wait for their move)"

# The same over IPv6, the control channel staying on IPv4.
"$HANDOFFCTL" -n "$node1" service add '[2001:db8:1::1]:80' || log "FAIL: IPv6 service"
KA_SERVICE=2001:db8:1::1 client_case alternate 10 >"$TH_TMP/alternate6"
check_eq "IPv6: 10 alternating requests on one connection, each from the right node" \
	"$(expect alternate "${paths[@]:0:10}"; echo "alternate end open")" "$(cat "$TH_TMP/alternate6")"
check_eq "node1: 9 more moves" 58 "$(stat_of "$node1" migrations)"

moves=$(stat_of "$node1" migrations)
later=$(stat_of "$node1" later-requests)
client_case same >"$TH_TMP/same"
check_eq "five requests for node2 on one connection" \
	"$(expect same /a/k1 /a/k2 /a/k3 /a/k4 /a/k5; echo "same end open")" "$(cat "$TH_TMP/same")"
check_eq "node1: 4 later requests decided, none moved" "+4 +0" \
	"+$(($(stat_of "$node1" later-requests) - later)) +$(($(stat_of "$node1" migrations) - moves))"

client_case pipelined >"$TH_TMP/pipelined"
check_eq "pipelined across a boundary: /a/ stays, /b/ moves, /a/ moves back" \
	"$(expect pipelined /a/k1 /a/k2 /b/k3 /a/k4; echo "pipelined end open")" "$(cat "$TH_TMP/pipelined")"

client_case pipelined-first >"$TH_TMP/pipelined-first"
check_eq "pipelined in the first segment: /a/ goes with the handoff, /b/ moves" \
	"$(expect pipelined-first /a/k5 /b/k6; echo "pipelined-first end open")" "$(cat "$TH_TMP/pipelined-first")"

client_case upload >"$TH_TMP/upload"
check_eq "a 200 KiB upload to node2, then a request that moves to node3" \
	"$(printf 'upload 1 201 node2 -\n'; expect upload /b/k7 | sed 's/^upload 1/upload 2/'; echo "upload end open")" \
	"$(cat "$TH_TMP/upload")"
check_eq "the upload reached node2 intact" \
	"$(python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 800)' | sha256sum)" \
	"$(sha256sum <"$TH_TMP/nginx-node2/www/a/up/ka" 2>/dev/null)"

client_case fin-after-head >"$TH_TMP/fin"
check_eq "a FIN after a request that moves: answered, then closed" \
	"$(expect fin-after-head /a/k1 /b/k2; echo "fin-after-head end eof")" "$(cat "$TH_TMP/fin")"

client_case close-mid-head >"$TH_TMP/mid"
check_eq "a client gone in the middle of a head" \
	"$(expect close-mid-head /a/k1; echo "close-mid-head end closed")" "$(cat "$TH_TMP/mid")"

check_eq "node1: no move refused in any case" 0 "$(stat_of "$node1" migrate-refused)"
# The front-end's following state is an object of its own cache.
slab() { # cache
	echo 1 >"/sys/kernel/slab/$1/shrink" 2>/dev/null
	awk -v c="$1" '$1 == c { print $2, $4 }' /proc/slabinfo
}
read -r objs size < <(slab tcp_handoff_follow)
log "tcp_handoff_follow: objects of $size bytes, $objs in use"
check "node1: nothing forwarding" wait_stat "$node1" fe-forwarding 0 200
check "node1: table empty" wait_stat "$node1" entries 0 200
check "node2: table empty" wait_stat "$node2" be-conns 0 200
check "node3: table empty" wait_stat "$node3" be-conns 0 200
read -r objs size < <(slab tcp_handoff_follow)
check_eq "no following state left" 0 "$objs"
exit $th_rc
