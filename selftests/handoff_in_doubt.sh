#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A handoff whose answer is late, or lost with its channel, after the
# back-end took the connection over and began answering the client: the
# front-end must not serve it too (the client would get two byte streams
# under one sequence space). It holds the connection "in doubt" until the
# back-end's HANDOFF_ACK arrives, late or repeated on the next channel,
# and the download completes from the back-end alone.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
require_tool nft
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
"$HANDOFFCTL" -n "$node1" limits set handoff-timeout 1500
want=$(sha256sum "$TH_TMP/random-1m" | cut -d' ' -f1)
st() { stat_of "$node1" "$1"; }

# hold_answers / release_answers: node2's control link drops the segments
# node2 sends that are longer than 100 bytes: its HANDOFF_ACKs (a 55-byte
# frame) are, its pure ACKs (52 to 80 bytes with SACK) and KEEPALIVEs (80)
# are not, so node1's side of the channel keeps flowing. TCP retransmits
# the dropped ones once the rule is gone.
hold_answers() {
	ip netns exec "$node2" nft -f - <<-'NFT'
		table ip hold {
			chain out {
				type filter hook output priority 0;
				oifname "eth1" ip protocol tcp ip length > 100 counter drop
			}
		}
	NFT
}
release_answers() { ip netns exec "$node2" nft delete table ip hold; }

# fetch NAME: /a/big in the background into $TH_TMP/NAME.{body,hdr}.
fetch() {
	ip netns exec "$client" curl -s --max-time 90 -D "$TH_TMP/$1.hdr" \
		-o "$TH_TMP/$1.body" http://$SVC_HOST/a/big &
}
# fetched NAME: the body is the object, and node2 served it.
fetched() {
	check_eq "$1: 1 MiB body byte-identical" "$want" \
		"$(sha256sum "$TH_TMP/$1.body" | cut -d' ' -f1)"
	check "$1: served by node2" grep -qi '^x-node: node2' "$TH_TMP/$1.hdr"
}

# 1. The answer is late: held for 3 s, twice the handoff timeout. node2's
# data link is quick, so the client gets the response and acknowledges it
# to node1 meanwhile.
hold_answers
fetch late
pid=$!
check "late: node2 took it over" wait_stat "$node2" be-accepted 1 100
th_sleep 3
release_answers
wait "$pid"
fetched late
check_eq "late: node1 held it in doubt" 1 "$(st handoff-in-doubt)"
check_eq "late: node1 counted the handoff done" 1 "$(st handoff-ok)"
check_eq "late: no timeout fallback" 0 "$(st handoff-timeout)"

# 2. The answer is lost with its channel. node2's HANDOFF_ACK is held up
# as before, and node1 closes the channel (node2 removed, then added
# back) once node2 has taken the connection over. node2 repeats its
# HANDOFF_ACK on the new channel.
hold_answers
fetch lost
pid=$!
check "lost: node2 took it over" wait_stat "$node2" be-accepted 2 100
th_sleep 0.5
"$HANDOFFCTL" -n "$node1" node del 2
"$HANDOFFCTL" -n "$node1" node add 2 addr 198.51.100.130 port 7000
release_answers
wait "$pid"
fetched lost
check_eq "lost: node1 held it in doubt" 2 "$(st handoff-in-doubt)"
check "lost: node2 repeated its HANDOFF_ACK" test "$(stat_of "$node2" ack-resent)" -ge 1
check_eq "lost: node1 counted the handoff done" 2 "$(st handoff-ok)"
check_eq "lost: no channel fallback" 0 "$(st handoff-no-channel)"

check_eq "node1 served nothing itself" 0 "$(st fallback-local)"
check_eq "node1's nginx never saw /a/big" 0 \
	"$(grep -c 'GET /a/big ' "$TH_TMP/nginx-node1/access.log" || :)"
check_eq "node2's nginx served both" 2 "$(grep -c 'GET /a/big ' "$TH_TMP/nginx-node2/access.log")"
check_eq "nothing reset in doubt" 0 "$(st in-doubt-reset)"
check "node1: table empty" wait_stat "$node1" entries 0 100
check "node2: table empty" wait_stat "$node2" be-conns 0 150
exit $th_rc
