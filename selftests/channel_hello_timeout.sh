#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A peer that accepts the control connection but never says HELLO (a hung
# node, or another program on the control port) does not hold the channel
# down for good: the connecting node gives up after 15 s of silence (the
# channel's dead-peer time, Documentation/protocol.rst "Timing") and
# connects again. The channel is never counted up meanwhile.
source "$(dirname "$0")/lib.sh"
require_module
setup_ctl_pair || exit $ksft_fail

# The silent peer: accepts, says nothing, reports when the node closed the
# connection, and whether it connected again.
ip netns exec "$fake" python3 - >"$TH_TMP/fake" 2>&1 <<-'PY' &
	import socket, time
	srv = socket.socket()
	srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	srv.bind(("198.51.100.130", 7000))
	srv.listen(4)
	srv.settimeout(120)
	print("listening", flush=True)
	c, _ = srv.accept()
	t0 = time.monotonic()
	c.settimeout(120)
	try:
	    while c.recv(4096):
	        pass
	except (ConnectionResetError, socket.timeout):
	    pass
	print("closed after %d s" % round(time.monotonic() - t0), flush=True)
	c, _ = srv.accept()
	print("connected again", flush=True)
PY
fake_pid=$!
wait_listening "$TH_TMP/fake"
"$HANDOFFCTL" -n "$node" -b - <<-EOF
	node add 1 addr 198.51.100.129 port 7000 local
	node add 2 addr 198.51.100.130 port 7000
EOF
wait "$fake_pid"
sed 's/^/# fake: /' "$TH_TMP/fake"
closed=$(awk '/closed after/ { print $3 }' "$TH_TMP/fake")
check "the node closed the silent connection after about 15 s (${closed:-never})" \
	test "${closed:-0}" -ge 14 -a "${closed:-999}" -le $((15 + 5 * TH_SLOW))
check "and connected again" grep -q "connected again" "$TH_TMP/fake"
check_eq "the channel was never up" 0 "$(stat_of "$node" ctl-connects)"
check_eq "no peer is up" 0 "$(stat_of "$node" peers-up)"
exit $th_rc
