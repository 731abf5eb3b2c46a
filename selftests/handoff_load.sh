#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Concurrent load through the front-end: 2,000 connections, 100 at a time,
# one request each (Connection: close), /a/ balanced round-robin over node2
# and node3. Every response must be complete and name a back-end (or, for
# a connection whose tuple was still in a back-end's TIME_WAIT, node1: the
# documented fallback); afterwards every table is empty.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool python3
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
wait_peers_up "$node1" 2 || exit $ksft_fail
ip netns exec "$node1" "$HANDOFFCTL" rule del prio 10
ip netns exec "$node1" "$HANDOFFCTL" rule add prio 10 prefix /a/ policy rr to 2,3
# One client process drives 100 connections at a time in a slow guest: it
# may take seconds between connecting and sending its request. Let node1
# wait for the head rather than time it out and serve it locally.
ip netns exec "$node1" "$HANDOFFCTL" limits set head-timeout 15000

ip netns exec "$client" python3 - >"$TH_TMP/load" <<'PY'
import asyncio, collections

TOTAL, CONCURRENCY = 2000, 100
served = collections.Counter()

async def one():
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("198.51.100.1", 80), 10)
        w.write(b"GET /a/ HTTP/1.1\r\nHost: cluster\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(r.read(), 20)
        w.close()
        head, _, body = data.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 200") and body.startswith(b"served-by node"):
            served[body.strip().decode()] += 1
        else:
            served["bad"] += 1
    except Exception as e:
        served["error " + type(e).__name__] += 1

async def main():
    sem = asyncio.Semaphore(CONCURRENCY)
    async def guarded():
        async with sem:
            await one()
    await asyncio.gather(*(guarded() for _ in range(TOTAL)))

asyncio.run(main())
for k, v in sorted(served.items()):
    print(k.replace(" ", "_"), v)
PY
cat "$TH_TMP/load" | sed 's/^/# /'
n() { awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' "$TH_TMP/load"; }
ok=$(( $(n served-by_node2) + $(n served-by_node3) + $(n served-by_node1) ))
check_eq "2000 complete responses" 2000 "$ok"
check "node2 served a share ($(n served-by_node2))" test "$(n served-by_node2)" -ge 400
check "node3 served a share ($(n served-by_node3))" test "$(n served-by_node3)" -ge 400
check_eq "node1 counters: accepted = handoffs on the back-ends" \
	"$(( $(stat_of "$node2" be-accepted) + $(stat_of "$node3" be-accepted) ))" "$(stat_of "$node1" handoff-ok)"
ip netns exec "$node1" "$HANDOFFCTL" stats show | grep -v ' 0$' | sed 's/^/# node1: /'
for n in 2 3; do
	eval "ns=\$node$n"
	ip netns exec "$ns" "$HANDOFFCTL" stats show | grep '^be-' | sed "s/^/# node$n: /"
done
check "node1: table empty" wait_stat "$node1" entries 0 150
check_eq "node1: no forwarding entry left" 0 "$(stat_of "$node1" fe-forwarding)"
check "node2: table empty" wait_stat "$node2" be-conns 0 150
check "node3: table empty" wait_stat "$node3" be-conns 0 150
exit $th_rc
