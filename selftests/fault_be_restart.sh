#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fault: the module restarts on a back-end while the front-end is loaded
# and connections handed to that back-end are live.
#
# Every node of this suite is a network namespace of one guest kernel: a
# real rmmod removes the module from every node at once (and is refused
# while any handed-off connection lives, handoff_unload.sh). What one
# machine's module restart does to the others awaits the multi-VM cluster.
# The closest per-node equivalents are run here:
#
# 1. node2's whole configuration is flushed with handoffctl (every node
#    deleted, its own included) under a live download, then restored. The
#    connection's state is its table entry, not the configuration: the
#    download completes byte-identical. node1 loses its channel meanwhile
#    and serves new requests itself; once node2's configuration is back the
#    channel comes up and handoffs resume.
# 2. node2 crashes under a live download: its data link goes dark first
#    (nothing it sends reaches the client any more: its nginx's end of
#    stream would otherwise tell the client), then its processes and its
#    namespace go, with the module state; its channel to node1 closes.
#    It is rebuilt empty (its data link up last). node1
#    keeps forwarding into the void until the rebuilt node2's channel comes
#    up; the RECONCILE that follows gets "unknown" back. The tombstone
#    then forwards nothing to node2 (whose stack would reset the client's
#    keepalive probes under its own address: the client would drop those
#    resets and wait on), and after the linger time the client's next
#    probe (every 2 s) gets a reset from node1: curl exits 56 within the
#    linger time plus the keepalive interval after node2 is back, with a
#    byte-identical prefix.
# 3. With every connection over, the whole guest's module is unloaded
#    (no reference left), loaded again and configured again: handoffs
#    resume and a download completes byte-identical.
#
# Every table on every node returns to zero after each part.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
require_module
require_tool nginx
require_tool curl
fault_cluster 1 2 3
"$HANDOFFCTL" -n "$node1" limits set handoff-timeout 1500
CURL=(--max-time 90 --limit-rate 100k --keepalive-time 2)
get() {
	ip netns exec "$client" curl -s --max-time 30 -D "$TH_TMP/$1.hdr" -o "$TH_TMP/$1.body" \
		http://$SVC_HOST/a/
}
all_zero() {
	local i ns
	for i in 1 2 3; do
		eval "ns=\$node$i"
		check "$1: node$i's table empties" wait_zero "$ns" 100
	done
}

# 1. node2's configuration flushed and restored under a live download.
"$HANDOFFCTL" -n "$node2" save >"$TH_TMP/node2.saved"
fetch flush /a/big "${CURL[@]}"
pid=$FETCH_PID
check "flush: the download is handed off to node2" wait_stat "$node2" be-conns 1 100
check "flush: under way" wait_bytes flush 200000
"$HANDOFFCTL" -n "$node2" -b - <<-EOF
	node del 1
	node del 3
	node del 2
EOF
check_eq "flush: node2 has no configuration" 0 "$(stat_of "$node2" nodes)"
check "flush: node1 loses its channel to node2" wait_stat "$node1" peers-up 1 150
get during
check_eq "flush: a new request is served by node1" node1 "$(fetch_node during)"
"$HANDOFFCTL" -n "$node2" restore <"$TH_TMP/node2.saved"
check "flush: the channel comes back" wait_peers_up "$node1" 2
wait "$pid"
check_eq "flush: the download completes" 0 "$(fetch_rc flush)"
check "flush: byte-identical" body_whole flush
check_eq "flush: served by node2" node2 "$(fetch_node flush)"
get after
check_eq "flush: handoffs resume" node2 "$(fetch_node after)"
all_zero flush

# 2. node2 crashes under a live download, and is rebuilt.
fetch lost /a/big "${CURL[@]}"
pid=$FETCH_PID
check "lost: the download is handed off to node2" wait_stat "$node2" be-conns 1 100
check "lost: under way" wait_bytes lost 200000
reconciled=$(stat_of "$node1" reconciled)
# node2 comes back with its MAC address, as a restarted machine would, so
# node1's forwarding reaches it as soon as its data link is up. That link
# comes up once node1 has reconciled the connection away: a packet node1
# forwards before (its RECONCILE needs the channel) would find no socket
# on node2, whose stack would reset it under node2's own address (a known
# gap, Documentation/testing.rst, "Faults"). The tombstone lingers 3 s,
# longer than the client's keepalive interval: a probe comes while it
# lasts, and must not be forwarded.
read -r _ _ mac _ < <(ip -br -n "$node2" link show eth0)
"$HANDOFFCTL" -n "$node1" limits set linger 3000
# The killed nginx's socket lives on as an orphan, retransmitting into the
# dark link and holding the namespace; one retransmission and it gives up,
# so the namespace goes at once, as a crashed machine's state would.
ns_sysctl "$node2" net.ipv4.tcp_orphan_retries=1
ip -n "$node2" link set eth0 down
# shellcheck disable=SC2046 # a list of pids
kill -KILL $(ip netns pids "$node2")
ip netns del "$node2"
check "lost: node1 sees node2 gone" wait_stat "$node1" peers-up 1 150
check_eq "lost: node1 still forwards the connection" 1 "$(stat_of "$node1" fe-forwarding)"
# Its veths go with the namespace, a moment later.
for _ in $(seq 100); do
	ip -n "$sw" link show d-2 >/dev/null 2>&1 || break
	th_sleep 0.1
done
rebuild_node2() {
	setup_ns node2 && cluster_links 2 || return 1
	in_ns "$node2" <<-EOF || return 1
		link set eth0 down
		link set eth0 address $mac
	EOF
	cluster_node_config 2 && "$HANDOFFCTL" -n "$node2" limits set linger 1000
}
check "lost: node2 is rebuilt, empty" rebuild_node2
check "lost: node2 is back" wait_peers_up "$node1" 2
t0=$(now_us)
check "lost: node1 reconciles the connection away" \
	wait_stat "$node1" reconciled $((reconciled + 1)) 100
ip -n "$node2" link set eth0 up
wait "$pid"
rc=$(fetch_rc lost)
after=$(fetch_after lost "$t0")
# RECONCILE as the channel comes up, the tombstone's linger (3 s), the
# next keepalive probe (2 s).
BOUND=$((3 + 2))
log "lost: curl exit $rc, $after s after node2's channel was back"
check_eq "lost: the client is reset (curl exit 56)" 56 "$rc"
check_bound "lost: after node2's return" "$BOUND" "$after"
check "lost: what arrived is byte-identical" body_prefix lost
check_eq "lost: node1 reconciled the connection away" $((reconciled + 1)) "$(stat_of "$node1" reconciled)"
get back
check_eq "lost: handoffs to the rebuilt node2 resume" node2 "$(fetch_node back)"
all_zero lost
# node1's stack reset the client; no reset from node2's stack reached it
# (the guard counts resets and packets from anywhere but the service).
TH_EXPECT_RST=1
"$HANDOFFCTL" -n "$node1" limits set linger 1000

# 3. The whole guest's module, unloaded and loaded again.
if [ -z "${TH_KO:-}" ]; then
	log "SKIP: rmmod and insmod: TH_KO (the module to reload) not given"
	exit $th_rc
fi
check_eq "no module reference left" 0 "$(module_refs)"
check "rmmod succeeds" rmmod tcp_handoff
check "insmod again" insmod "$TH_KO"
reconfigure() {
	local i ns
	for i in 1 2 3; do
		eval "ns=\$node$i"
		"$HANDOFFCTL" -n "$ns" -b "$TH_TMP/node$i.conf" || return 1
	done
	"$HANDOFFCTL" -n "$node1" -b - <<-EOF
		service add $SVC_HOST:80
		rule add prio 10 prefix /a/ policy rr to 2
		rule add prio 20 prefix /b/ policy rr to 3
	EOF
}
check "every node configured again" reconfigure
check "node1's channels come up" wait_peers_up "$node1" 2
fetch reload /a/big --max-time 60
wait "$FETCH_PID"
check_eq "reloaded: the download completes" 0 "$(fetch_rc reload)"
check "reloaded: byte-identical" body_whole reload
check_eq "reloaded: served by node2" node2 "$(fetch_node reload)"
all_zero reloaded
check_eq "no module reference left" 0 "$(module_refs)"
exit $th_rc
