#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Malformed and hostile packets against the front-end of a handoff cluster
# (setup_handoff_cluster: node1 front-end of $SVC_HOST:80, /a/ to node2,
# /b/ to node3, the rest served by node1). malformed_packets.py speaks TCP
# by hand with scapy from the client; each case checks the counter that
# moves, what the client gets back and who answers ("served-by nodeN"),
# and the connection's fate below. At the end every table is empty on
# every node, the client received exactly the resets listed, and the
# service still works.
#
# Headers the hooks cannot read, or that TCP refuses (a lone packet, no
# entry is ever made):
#   data offset 15 in a 30-byte segment     rx-malformed; no answer
#   IP length leaves 10 bytes of TCP header rx-malformed; no answer
#   data offset 4                           rx-malformed; no answer
#   protocol TCP, no TCP header at all      rx-malformed; no answer
#   an MSS option longer than the header    rx-packets; TCP ignores the
#                                           options and sends a SYN/ACK
#   garbage options (a length-1 option)     rx-packets; TCP drops it (with
#                                           TCP-AO built in it refuses
#                                           options that do not parse);
#                                           no answer
#   a SYN with a bad checksum               rx-packets; TCP drops it
#                                           (InCsumErrors); no answer
#   a SYN behind IP options (record route)  rx-packets; SYN/ACK
#   SYN+FIN, SYN+RST                        rx-packets; the listener drops
#                                           them; no answer
# The handshake:
#   a SYN carrying the request              the SYN/ACK acknowledges the SYN
#                                           only (no Fast Open), no entry;
#                                           the request sent again is handed
#                                           off to node2
#   a handshake ACK with a wrong ack number no entry; the listener resets it
#   an ACK with data and no connection      no entry, nothing held; reset
# While the head is read (holding):
#   a reset outside the window              ignored, as TCP ignores it: the
#                                           head completes and is handed off
#                                           (not heads-closed)
#   a FIN far beyond the window             likewise
#   a reset in the middle of the head       heads-closed, local: node1's
#                                           stack takes the reset; the
#                                           client gets nothing
#   a FIN in the middle of the head         heads-closed, local: node1's
#                                           server closes without an answer
#   a FIN on the segment completing the     heads-http; handed off to node2,
#   head (holding to deciding)              which answers and closes
#   a head segment with a bad checksum,     TCP drops the bad one
#   then the right one (same sequence)      (InCsumErrors on node1); the
#                                           right one is the head: node2
#   data far beyond the window              held, not read; the head
#                                           completes: node2
#   a head segment sent twice               read once: node2, 200
#   overlapping head segments that disagree the bytes read first stand, as
#                                           in TCP: /a/ (node2), not /b/
#   the head's end before its beginning     held, not read, until the end
#                                           comes again: node2
#   a head in more than 64 segments         heads-too-large, local: node1
#   a head of exactly 16 KiB                heads-http: node2
#   a head of 16 KiB and one byte           heads-too-large, local: node1
#   HTTP/1.1 without Host                   heads-bad, local: node1's 400
#   HTTP/1.0 without Host                   heads-http: node2
#   a NUL byte in the URL                   heads-bad, local: node1's 400
#   non-ASCII bytes in the URL              heads-http: node2's 404
#   one byte a second (slowloris)           heads-timeout after the head
#                                           timeout (2 s), local: node1
#                                           serves it although it is /a/
# While the handoff is in flight (requested; node3's control link delayed
# by 2.5 s, within the handoff timeout, set to 8 s):
#   a FIN                                   held, flushed to node3 with the
#                                           handoff: node3 answers, closes;
#                                           TERMINATE
#   a reset                                 held, flushed: node3 takes the
#                                           reset, TERMINATE
# After the handoff (forwarding, one kept-alive connection to node2):
#   a bad checksum                          forwarded; node2's TCP drops it
#                                           (InCsumErrors); no answer
#   a reset outside the window              forwarded, ignored; the
#                                           connection still works
#   data beyond the window                  forwarded; node2 acknowledges
#                                           what it has
#   a duplicate request segment             forwarded; not answered again
#   an overlapping segment                  its new bytes are answered
#   garbage options                         cannot be translated: dropped,
#                                           fwd-errors; the connection still
#                                           works
#   a FIN                                   node2 closes; TERMINATE;
#                                           tombstone on node1
#   a reset (another connection)            node2 resets, TERMINATE; the
#                                           client gets nothing
# After the end (tombstone, linger 3 s; node2 closed first, in TIME_WAIT):
#   a retransmitted FIN                     forwarded, node2 acknowledges it
#   a reset                                 forwarded, no answer
#   an ACK after the linger time            node1's own stack resets it
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
require_tool tc
python3 -c 'import scapy' 2>/dev/null || { log "SKIP: python3-scapy not installed"; exit $ksft_skip; }
# The script loads scapy while the cluster is built, and waits for $go.
go=$TH_TMP/go
python3 "$(dirname "$0")/malformed_packets.py" "$go" >"$TH_TMP/cases" 2>"$TH_TMP/cases.err" &
py=$!
setup_handoff_cluster && wait_peers_up "$node2" 2 && wait_peers_up "$node3" 2 ||
	{ log "FAIL: cluster setup"; kill "$py"; exit $ksft_fail; }
# Handoffs held up on purpose must not time out.
"$HANDOFFCTL" -n "$node1" limits set handoff-timeout 8000
# The client's stack knows nothing of the connections scapy makes (source
# ports 20000 to 20999) and would reset every answer to them.
ip netns exec "$client" nft -f - <<'NFT' || exit $ksft_fail
table inet th_scapy {
	chain output {
		type filter hook output priority 0;
		tcp sport 20000-20999 tcp flags & rst == rst drop
	}
}
NFT
# The front-end's MAC, for the packet socket.
ip netns exec "$client" ping -c1 -W2 "$SVC_IP" >/dev/null

pids=()
for i in 1 2 3; do
	read -r pid <"$TH_TMP/nginx-node$i/nginx.pid"
	pids+=("$pid")
done
log "cluster ready after $SECONDS s"
printf '%s\n' "$client ${pids[*]} $sw" >"$go"
wait "$py"
rc=$?
resets=""
while IFS=$'\t' read -r tag a b c; do
	case $tag in
	CHECK) check_eq "$a" "$b" "$c" ;;
	LOG) log "$a" ;;
	RESETS) resets=$a ;;
	esac
done <"$TH_TMP/cases"
if [ "$rc" != 0 ] || [ -z "$resets" ]; then
	log "FAIL: malformed_packets.py exited $rc"
	sed 's/^/#   /' "$TH_TMP/cases.err"
	th_rc=$ksft_fail
fi
TH_EXPECT_RST=${resets:-0}
log "cases done after $SECONDS s"

# Nothing stays behind: every table empties within the linger times.
check "node1: nothing held" wait_stat "$node1" pending 0 50
check "node1: no handoff in flight" wait_stat "$node1" fe-in-flight 0 50
check "node1: no connection forwarded" wait_stat "$node1" fe-forwarding 0 50
check "node1: table empty" wait_stat "$node1" entries 0 100
check "node2: table empty" wait_stat "$node2" be-conns 0 150
check "node3: table empty" wait_stat "$node3" be-conns 0 150
check_eq "node1: no re-injection failed" 0 "$(stat_of "$node1" reinject-errors)"
get() { ip netns exec "$client" curl -s --max-time 10 "http://$SVC_HOST$1"; }
check_eq "the service still works: /a/" "served-by node2" "$(get /a/)"
check_eq "the service still works: /b/" "served-by node3" "$(get /b/)"
check_eq "the service still works: /" "served-by node1" "$(get /)"
exit $th_rc
