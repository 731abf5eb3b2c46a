#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Authenticated control channels (handoffctl key; Documentation/protocol.rst,
# "Authentication"). With the same key on every node the channels come
# back authenticated and handoffs work; keys rotate without a channel
# dropping; a node with another key, or with none, is refused (by TCP-AO,
# whose keys derive from the same ones: channel_tcp_ao.sh) and counted.
# A fake node written in Python (the standard library's HMAC-SHA256, and
# TCP-AO on its socket) checks the kernel's tags and key derivations byte
# for byte, then sends a
# valid frame, a replay, a forgery and a frame under an unknown key: the
# three are refused and counted, nothing is injected, and the third closes
# the channel; an untagged HELLO is refused too.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
wait_peers_up "$node2" 2 && wait_peers_up "$node3" 2 || exit $ksft_fail
get() { ip netns exec "$client" curl -s --max-time 10 "http://198.51.100.1$1"; }
K1=$(printf '%02x' {1..32})
K2=$(printf '%02x' {101..132})
K3=$(printf '%02x' {201..232})
auth_failed() { stat_of "$1" ctl-auth-failed; }

for ns in "$node1" "$node2" "$node3"; do
	"$HANDOFFCTL" -n "$ns" key add 1 secret "$K1"
done
check "node1's channels come back authenticated" wait_stat "$node1" peers-up 2 150
check "so do node2's" wait_stat "$node2" peers-up 2 150
check_eq "/a/ is handed to node2" "served-by node2" "$(get /a/)"
check_eq "/b/ is handed to node3" "served-by node3" "$(get /b/)"
# Frames crossed while the nodes got their keys one by one: counted.
refused="$(auth_failed "$node1") $(auth_failed "$node2") $(auth_failed "$node3")"
log "refused while the keys were added one node at a time: $refused"
check_eq "key show" "key 1 current" "$("$HANDOFFCTL" -n "$node1" key show)"
check_eq "key show -j" '[{"id":1,"current":true}]' "$("$HANDOFFCTL" -n "$node1" -j key show)"
check "the secret never comes back (raw key-get dump)" sh -c \
	"! \"$HANDOFFCTL\" -n $node1 raw --dump key-get | grep -qi '${K1:0:16}'"
check_fails "a short secret is a usage error" 2 "16 to 64 bytes" \
	"$HANDOFFCTL" -n "$node1" key add 5 secret 0011223344
check_fails "a duplicate id: the kernel says so" 1 "a key with this id exists" \
	"$HANDOFFCTL" -n "$node1" key add 1 secret "$K2"
check_fails "-j: as JSON too" 1 '"errno":17' "$HANDOFFCTL" -n "$node1" -j key add 1 secret "$K2"
check_fails "deleting a missing key" 1 "no such key" "$HANDOFFCTL" -n "$node1" key del 9
check_fails "key set needs current" 2 "key set ID current" "$HANDOFFCTL" -n "$node1" key set 1

# Rotation: key 2 everywhere, then current everywhere, then key 1 goes.
disc1=$(stat_of "$node1" ctl-disconnects)
disc2=$(stat_of "$node2" ctl-disconnects)
for ns in "$node1" "$node2" "$node3"; do
	"$HANDOFFCTL" -n "$ns" key add 2 secret "$K2"
done
"$HANDOFFCTL" -n "$node1" key set 2 current
check_eq "node1 sends with key 2, node2 still with 1: /a/" "served-by node2" "$(get /a/)"
check_fails "the current key does not go while others exist" 1 "make another key current first" \
	"$HANDOFFCTL" -n "$node1" key del 2
for ns in "$node2" "$node3"; do
	"$HANDOFFCTL" -n "$ns" key set 2 current
done
for ns in "$node1" "$node2" "$node3"; do
	"$HANDOFFCTL" -n "$ns" key del 1
done
check_eq "after the rotation: /a/" "served-by node2" "$(get /a/)"
check_eq "after the rotation: /b/" "served-by node3" "$(get /b/)"
check_eq "no channel dropped during the rotation" "$disc1 $disc2" \
	"$(stat_of "$node1" ctl-disconnects) $(stat_of "$node2" ctl-disconnects)"
check_eq "no frame refused during the rotation" "$refused" \
	"$(auth_failed "$node1") $(auth_failed "$node2") $(auth_failed "$node3")"

# node3 with another key only: node1's HELLO (node1 connects to node3) is
# refused there; node1 serves /b/ itself.
nf3=$(tcpext "$node3" TCPAOKeyNotFound)
"$HANDOFFCTL" -n "$node3" key add 3 secret "$K3" current
"$HANDOFFCTL" -n "$node3" key del 2
check "node1 loses node3" wait_stat "$node1" peers-up 1 150
# The channel's TCP-AO keys are derived from the same keys: node3's TCP
# drops node1's segments, signed with a key it no longer has, before any
# frame reaches the module.
check "node3's TCP refused node1's segments (TCPAOKeyNotFound $nf3 -> $(tcpext "$node3" TCPAOKeyNotFound))" \
	test "$(tcpext "$node3" TCPAOKeyNotFound)" -gt "$nf3"
check_eq "/b/ is served by node1 meanwhile" "served-by node1" "$(get /b/)"
"$HANDOFFCTL" -n "$node3" key add 2 secret "$K2" current
check "with key 2 back, node3 is back" wait_stat "$node1" peers-up 2 150
# node2 with no key at all: it refuses node1's tagged HELLO.
nf2=$(tcpext "$node2" TCPAOKeyNotFound)
"$HANDOFFCTL" -n "$node2" key del 2
check "node1 loses keyless node2" wait_stat "$node1" peers-up 1 150
check "node2's TCP refused node1's signed SYNs (TCPAOKeyNotFound $nf2 -> $(tcpext "$node2" TCPAOKeyNotFound))" \
	test "$(tcpext "$node2" TCPAOKeyNotFound)" -gt "$nf2"
"$HANDOFFCTL" -n "$node2" key add 2 secret "$K2"
check "node2 is back" wait_stat "$node1" peers-up 2 150
check_eq "/a/ again" "served-by node2" "$(get /a/)"

# A fake node 4 on the control network, which node2 connects to.
new_ns fake || exit $ksft_fail
ip link add eth1 netns "$fake" type veth peer name c-4 netns "$sw"
ip -n "$sw" link set c-4 master br-ctl up
in_ns "$fake" <<-NSEOF
	link set lo up
	link set eth1 up
	addr add 198.51.100.132/25 dev eth1
NSEOF
ip netns exec "$fake" python3 "$(dirname "$0")/channel_auth_fake.py" "$K2" >"$TH_TMP/fake" 2>&1 &
fake_pid=$!
wait_listening "$TH_TMP/fake"
before=$(auth_failed "$node2")
req_before=$(stat_of "$node2" be-requests)
conn_before=$(stat_of "$node2" ctl-connects)
"$HANDOFFCTL" -n "$node2" node add 4 addr 198.51.100.132 port 7000
wait "$fake_pid"
sed 's/^/# fake: /' "$TH_TMP/fake"
check "node2's HELLO: tagged with key 2 itself, as Python's HMAC-SHA256 computes it" \
	grep -qx 'hello from 2 type 1 seq 0 key 2 tag ok' "$TH_TMP/fake"
check "node2's next frame: number 1, under the derived session key" \
	grep -qx 'next frame type 6 seq 1 session tag ok' "$TH_TMP/fake"
check "node2 took the fake node's HELLO (channel up)" test "$(stat_of "$node2" ctl-connects)" -gt "$conn_before"
# Closed with frames still unread: a reset, or an end of stream.
check "node2 closed the channel after the third refusal" \
	grep -qxE 'after 3 refusals: (eof|ConnectionResetError)' "$TH_TMP/fake"
check "and refused the untagged HELLO" \
	grep -qxE 'after an untagged hello: (eof|ConnectionResetError)' "$TH_TMP/fake"
check_eq "four frames refused: replay, forgery, unknown key, untagged HELLO" 4 \
	"$(( $(auth_failed "$node2") - before ))"
check_eq "nothing was injected (no handoff request reached node2)" "$req_before" \
	"$(stat_of "$node2" be-requests)"
"$HANDOFFCTL" -n "$node2" node del 4
check_eq "the cluster still hands off: /a/" "served-by node2" "$(get /a/)"
exit $th_rc
