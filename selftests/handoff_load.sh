#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Concurrent load through the front-end: 2,000 connections, 100 at a time,
# one request each (Connection: close), /a/ balanced round-robin over node2
# and node3, then 200 more with 6 KB heads (bursts of control messages
# larger than a frame). Every response must be complete and name a
# back-end (or, for a connection whose tuple was still in a back-end's
# TIME_WAIT, node1: the documented fallback); afterwards every table is
# empty.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
wait_peers_up "$node1" 2 || exit $ksft_fail
"$HANDOFFCTL" -n "$node1" rule del prio 10
"$HANDOFFCTL" -n "$node1" rule add prio 10 prefix /a/ policy rr to 2,3
# One client process drives 100 connections at a time in a slow guest: it
# may take seconds between connecting and sending its request. Let node1
# wait for the head rather than time it out and serve it locally.
"$HANDOFFCTL" -n "$node1" limits set head-timeout 15000

# The handshakes and closes that cross the data bridge (headers only, and
# only those: the guest runs beside others): when a transfer fails, the
# report shows how its connection opened and ended (the client's port
# names it).
capture=""
if command -v tcpdump >/dev/null; then
	ip netns exec "$sw" tcpdump -n -U -s 128 -i br-data -w "$TH_TMP/load.pcap" \
		'tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0' >/dev/null 2>&1 &
	capture=$!
	sleep 1
fi
# load N [curl option...]: N transfers of /a/ from one curl, 100 at a time:
# in a slow guest the client's own CPU time counts, and curl spends less of
# it than an interpreter would. Its timeouts are generous: on a busy host a
# guest's vCPU may get a fraction of a core, and a transfer that takes long
# is not what this test is about (lost or broken ones are). Each transfer
# reports its status, the node named by the X-Node header, the body's size
# ("served-by nodeN\n" is 16 bytes) and how many connections it opened (one:
# no transfer reused a connection). The tally goes to $TH_TMP/load; each
# failed transfer's line, with its client port and curl's exit code and
# message, to $TH_TMP/bad.
load() {
	local count=$1
	shift
	printf 'url = "http://198.51.100.1/a/"\noutput = "/dev/null"\n%.0s' $(seq "$count") >"$TH_TMP/urls"
	ip netns exec "$client" curl -s --parallel --parallel-immediate --parallel-max 100 \
		--connect-timeout 30 --max-time 90 -H 'Connection: close' "$@" -K "$TH_TMP/urls" \
		-w '%{http_code}|%header{x-node}|%{size_download}|%{num_connects}|%{local_port}|%{exitcode}|%{errormsg}\n' |
		awk -F'|' -v bad="$TH_TMP/bad" '
			{ if ($1 == 200 && $2 ~ /^node[123]$/ && $3 == 16 && $4 == 1) n["served-by_" $2]++
			  else { n["bad_" $1]++; print >>bad } }
			END { for (k in n) print k, n[k] }' | sort >"$TH_TMP/load"
}
# report_bad: each failed transfer and its connection's packets. A transfer
# that never connected has no port: the report lists the connections whose
# SYNs to the service got no SYN/ACK, and node1's listener drops.
report_bad() {
	[ -s "$TH_TMP/bad" ] || return 0
	local line port ports=()
	while read -r line; do
		log "failed: $line"
		port=$(awk -F'|' '{ print $5 }' <<<"$line")
		[ "$port" -gt 0 ] 2>/dev/null && ports+=("$port")
	done < <(head -5 "$TH_TMP/bad")
	: >"$TH_TMP/bad"
	ip netns exec "$node1" nstat -az 2>/dev/null |
		awk '$1 ~ /Listen|ReqQFull|Syncookies|SynRetrans|TCPBacklogDrop/ && $2 != 0 { print "# node1: " $1, $2 }'
	[ -n "$capture" ] || return 0
	if [ ${#ports[@]} -eq 0 ]; then
		local p=198.51.100.1
		read -r -a ports < <(tcpdump -n -r "$TH_TMP/load.pcap" \
			"(dst host $p and dst port 80 and tcp[tcpflags] == tcp-syn) or
			 (src host $p and src port 80 and tcp[tcpflags] & tcp-syn != 0)" 2>/dev/null |
			awk '{ split($3, s, "."); split($5, d, "."); sub(":", "", d[5])
			       if (s[5] == 80) answered[d[5]] = 1; else syns[s[5]]++ }
			     END { for (q in syns) if (!(q in answered)) printf "%s ", q; print "" }')
		log "connections whose SYNs got no SYN/ACK: ${#ports[@]} (${ports[*]:0:10})"
	fi
	for port in "${ports[@]:0:3}"; do
		log "the connection of port $port:"
		tcpdump -n -r "$TH_TMP/load.pcap" "tcp port $port" 2>/dev/null | head -60 | sed 's/^/#   /'
	done
}
load 2000
sed 's/^/# /' "$TH_TMP/load"
report_bad
n() { awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' "$TH_TMP/load"; }
ok=$(( $(n served-by_node2) + $(n served-by_node3) + $(n served-by_node1) ))
check_eq "2000 complete responses" 2000 "$ok"
check "node2 served a share ($(n served-by_node2))" test "$(n served-by_node2)" -ge 400
check "node3 served a share ($(n served-by_node3))" test "$(n served-by_node3)" -ge 400
# Every handoff node1 counts done was accepted by a back-end; a back-end
# may also have accepted one whose answer node1 never saw in time (it
# timed out, or the channel went down with the answer): node1 served those.
accepted=$(( $(stat_of "$node2" be-accepted) + $(stat_of "$node3" be-accepted) ))
hok=$(stat_of "$node1" handoff-ok)
lost=$(( $(stat_of "$node1" handoff-timeout) + $(stat_of "$node1" handoff-no-channel) ))
check "node1's handoffs ($hok done, $lost given up) match the back-ends' ($accepted accepted)" \
	test "$hok" -le "$accepted" -a "$accepted" -le "$(( hok + lost ))"
"$HANDOFFCTL" -n "$node1" stats show | grep -v ' 0$' | sed 's/^/# node1: /'
for n in 2 3; do
	eval "ns=\$node$n"
	"$HANDOFFCTL" -n "$ns" stats show | grep '^be-' | sed "s/^/# node$n: /"
done

# Large heads in bursts: 200 requests, 100 at a time, each with a 6000-byte
# cookie (nginx refuses a header line over 8 KiB), put about 1.2 MB of
# HANDOFF_REQUESTs on the channels, in bursts larger than a frame. The
# channels take them: a back-end that gave up its channel for a burst would
# fail every handoff in flight.
disc0=$(stat_of "$node1" ctl-disconnects)
ok0=$(stat_of "$node1" handoff-ok)
printf -v cookie '%6000s' ''
load 200 -H "Cookie: k=${cookie// /c}"
sed 's/^/# 6 KB heads: /' "$TH_TMP/load"
report_bad
check_eq "200 complete responses with 6 KB heads" 200 \
	"$(( $(n served-by_node2) + $(n served-by_node3) + $(n served-by_node1) ))"
check "most were handed off ($(( $(stat_of "$node1" handoff-ok) - ok0 )))" \
	test "$(( $(stat_of "$node1" handoff-ok) - ok0 ))" -ge 180
log "control channels broken meanwhile: $(( $(stat_of "$node1" ctl-disconnects) - disc0 ))"

check "node1: table empty" wait_stat "$node1" entries 0 150
check_eq "node1: no forwarding entry left" 0 "$(stat_of "$node1" fe-forwarding)"
check "node2: table empty" wait_stat "$node2" be-conns 0 150
check "node3: table empty" wait_stat "$node3" be-conns 0 150
[ -z "$capture" ] || kill "$capture" 2>/dev/null
exit $th_rc
