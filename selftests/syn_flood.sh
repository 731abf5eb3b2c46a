#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Floods leave the module's state bounded. A flood of completed
# handshakes that never send a request grows the table only to max-conns;
# the rest pass untracked (table-full) and the held ones are released at
# the head timeout. 20,000 SYNs from random sources (hping3; node1
# blackholes the replies) create no entry: entries start at the
# handshake-completing ACK. Legitimate clients are served meanwhile (the
# success rate is measured and reported; once the listener's SYN queue is
# full, syncookies answer them, and the stack serves those connections
# itself: no request socket, no handoff). The table empties afterwards.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
require_tool hping3
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
"$HANDOFFCTL" -n "$node1" limits set linger 1000
# SYN/ACKs to the spoofed sources go nowhere.
ip -n "$node1" route add blackhole default
get() { ip netns exec "$client" curl -s -o /dev/null --max-time 10 -w '%{http_code}\n' "http://198.51.100.1$1"; }

# The biggest table seen while something runs, sampled every 0.5 s.
sample_entries() {
	local max=0 v
	while [ ! -e "$TH_TMP/stop-sampling" ]; do
		v=$(stat_of "$node1" entries)
		[ "${v:-0}" -gt "$max" ] && max=$v
		echo "$max" >"$TH_TMP/max-entries"
		th_sleep 0.5
	done
}

# Completed handshakes that never send a request: 150 of them against
# max-conns 50 (the suite's nginx takes 256 connections at once). (First: after the SYN flood the listener's queue is full
# of the flood's request sockets for a minute, and the stack prunes held
# ones early, which would reset these at their close.)
"$HANDOFFCTL" -n "$node1" limits set max-conns 50 head-timeout 5000
rm -f "$TH_TMP/stop-sampling"
sample_entries &
sampler=$!
ip netns exec "$client" python3 - <<'PY'
import socket, time
socks = []
for _ in range(150):
    s = socket.create_connection(("198.51.100.1", 80), timeout=10)
    socks.append(s)
time.sleep(3)
for s in socks:
    s.close()
PY
touch "$TH_TMP/stop-sampling"
wait "$sampler"
max=$(cat "$TH_TMP/max-entries")
log "largest table during the handshake flood: $max entries (max-conns 50)"
check "the table stayed within max-conns" test "$max" -le 50
check "the rest were passed untracked (table-full)" test "$(stat_of "$node1" table-full)" -ge 100
check "the table empties" wait_stat "$node1" entries 0 150
"$HANDOFFCTL" -n "$node1" limits set max-conns 16384 head-timeout 2000

# One SYN/ACK retransmission (as a SYN-flooded server is usually set up)
# keeps the flood's request sockets from loading the slow guest for a
# minute. Not before: a held connection waits as a request socket, which
# this expires after 3 s.
ns_sysctl "$node1" net.ipv4.tcp_synack_retries=1
rm -f "$TH_TMP/stop-sampling"
sample_entries &
sampler=$!
ip netns exec "$client" hping3 -q -S -p 80 --rand-source -c 20000 -i u50 198.51.100.1 \
	>"$TH_TMP/hping" 2>&1 &
flood=$!
# Legitimate clients during the flood: 50 requests, one at a time.
handed0=$(stat_of "$node1" handoff-ok)
ok=0
for i in $(seq 50); do
	[ "$(get /a/)" = 200 ] && ok=$((ok + 1))
done
wait "$flood"
touch "$TH_TMP/stop-sampling"
wait "$sampler"
grep -E 'packets|round' "$TH_TMP/hping" | sed 's/^/# hping3: /'
log "legitimate requests answered during the flood: $ok of 50 ($((ok * 2)) %), $(( $(stat_of "$node1" handoff-ok) - handed0 )) of them handed off"
check "most legitimate requests were answered (at least 45 of 50)" test "$ok" -ge 45
max=$(cat "$TH_TMP/max-entries")
log "largest table during the flood: $max entries"
check "the SYNs made no entry: the table never held more than the legitimate connections" \
	test "$max" -le 50
check_eq "no malformed packet counted" 0 "$(stat_of "$node1" rx-malformed)"
check "the table empties" wait_stat "$node1" entries 0 100

check_eq "afterwards /a/ is still answered" 200 "$(get /a/)"
exit $th_rc
