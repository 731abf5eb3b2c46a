#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest side of 'make demo': load the module, build the three-node
# cluster of the selftests (client, node1 front-end, node2 and node3), and
# show live handoffs: which node served each URL, and the counters per
# service and per node.
set -eu
source "$(dirname "$0")/lib.sh"
ko=$1
run() { printf '\n$ %s\n' "$*"; "$@"; }
on() { local ns=$1; shift; printf '\n[%s]$ %s\n' "${ns%%-*}" "$*"; ip netns exec "$ns" "$@"; }

run insmod "$ko"
run grep tcp_handoff /proc/modules
run cat /sys/module/tcp_handoff/version
echo
echo "Building the cluster: client, node1 (front-end of 198.51.100.1:80), node2, node3."
setup_handoff_cluster
on "$node1" "$HANDOFFCTL" node show
on "$node1" "$HANDOFFCTL" -j node show
on "$node1" "$HANDOFFCTL" rule show
on "$node1" "$HANDOFFCTL" service show
# node1's events, as they happen, for the end of the demo.
"$HANDOFFCTL" -n "$node1" monitor >"$TH_TMP/events" 2>"$TH_TMP/events.err" &
monitor=$!
th_deadline 100
until grep -q listening "$TH_TMP/events.err" 2>/dev/null || ! th_before_deadline; do
	th_sleep 0.1
done
echo
echo "The client only ever talks to 198.51.100.1; the X-Node header says who answered:"
for url in /a/ /b/ / /a/big /b/ /a/; do
	node=$(ip netns exec "$client" curl -s --max-time 10 -o /dev/null -D - "http://198.51.100.1$url" |
		awk 'tolower($1) == "x-node:" { print $2 }' | tr -d '\r')
	printf '  GET %-7s -> served by %s\n' "$url" "$node"
done
on "$node1" "$HANDOFFCTL" stats show services
on "$node1" "$HANDOFFCTL" stats show nodes
kill "$monitor"
wait "$monitor" 2>/dev/null || :
printf '\n[node1]$ handoffctl monitor   (what it printed meanwhile)\n'
cat "$TH_TMP/events"
for n in 2 3; do
	eval "ns=\$node$n"
	on "$ns" "$HANDOFFCTL" stats show nodes
done
run dmesg --notime | grep tcp_handoff | tail -8
echo
echo "demo: tcp_handoff is loaded; node1 handed /a/ to node2 and /b/ to node3, which answered the client directly."
