#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Many idle handed-off connections: 1,000 keep-alive connections (4,000
# with make check-full) are handed to node2 and node3 and left open and
# silent, so node1 forwards for all of them and the back-ends hold them.
# New connections are still handed off while they sit there (the worker's
# work follows the events it handles, not the size of the tables: it finds
# what to decide, what is late and what to report without walking them),
# the idle ones still answer a second request on the node that took them,
# and once every connection is closed every table and gauge returns to
# zero.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
IDLE=${TH_IDLE_CONNS:-1000}
[ "${TH_FULL:-0}" = 1 ] && IDLE=${TH_IDLE_CONNS:-4000}
# Each back-end holds about half of them, for longer than nginx's default
# keep-alive of 75 s in a slow guest.
TH_NGINX_CONNS=$(( IDLE + 512 )) TH_NGINX_KEEPALIVE=600s
export TH_NGINX_CONNS TH_NGINX_KEEPALIVE
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
wait_peers_up "$node1" 2 || exit $ksft_fail
"$HANDOFFCTL" -n "$node1" -b - <<-EOF
	rule del prio 10
	rule add prio 10 prefix /a/ policy rr to 2,3
	limits set head-timeout 15000
EOF
# Closing them all is a burst a slow guest may drop part of; a FIN or last
# ACK retransmitted after a 3 s tombstone has gone would get node1's
# reset. Linger longer: this test is not about linger times.
for ns in "$node1" "$node2" "$node3"; do
	"$HANDOFFCTL" -n "$ns" limits set linger 10000
done
# nginx closes each connection after its second answer, and the client
# closes its side only once every connection has answered, which takes
# minutes in a slow guest: the back-ends' FIN_WAIT2 sockets must wait that
# long (the kernel's 60 s would let the first ones go, and the client's FIN
# would then draw a reset).
for ns in "$node2" "$node3"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_fin_timeout=600
done

# idle.py N: opens N keep-alive connections to the service, 100 at a time,
# each with one request answered; prints "open" and how many each node
# answered. Then, for each line on stdin: "again" sends a second request
# on every connection, the last (Connection: close), and prints how many
# the node of the first answer answered ("same" or "other", "failed");
# "close" closes them all, 100 at a time.
#
# The server closes first, as in handoff_load: when the client does, a
# slow guest may retransmit its FIN after the back-end's socket, the
# passive closer, has gone, and the back-end's stack answers that with a
# reset (translated: its entry lingers), which the client's guard counts.
cat >"$TH_TMP/idle.py" <<'PY'
import resource, selectors, socket, sys, time

n = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 256)), hard))
REQ = b"GET /a/ HTTP/1.1\r\nHost: a\r\n\r\n"
LAST = b"GET /a/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"


def node_of(resp):
    for line in resp.split(b"\r\n"):
        if line.lower().startswith(b"x-node:"):
            return line.split(b":", 1)[1].strip().decode()
    return "?"


def complete(buf):
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def exchange(socks, req=REQ, limit=120):
    """One request on each socket, non-blocking; the answering node of each
    (None when it failed)."""
    sel = selectors.DefaultSelector()
    state = {}
    for s in socks:
        state[s] = [req, b""]
        sel.register(s, selectors.EVENT_WRITE)
    out = {}
    end = time.monotonic() + limit
    while state and time.monotonic() < end:
        for key, ev in sel.select(timeout=1):
            s = key.fileobj
            st = state[s]
            try:
                if st[0]:
                    st[0] = st[0][s.send(st[0]):]
                    if not st[0]:
                        sel.modify(s, selectors.EVENT_READ)
                    continue
                data = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                st[1] += data
                if not complete(st[1]):
                    continue
                out[s] = node_of(st[1])
            else:
                out[s] = None
            sel.unregister(s)
            del state[s]
    for s in state:
        out[s] = None
    sel.close()
    return out


conns = []
count = {}
for base in range(0, n, 100):
    batch = []
    for _ in range(min(100, n - base)):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("198.51.100.1", 80))
        batch.append(s)
    for s, node in exchange(batch).items():
        count[node] = count.get(node, 0) + 1
        if node:
            conns.append((s, node))
        else:
            s.close()
print("open", " ".join("%s=%d" % (k or "failed", v) for k, v in sorted(count.items(), key=str)), flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "again":
        res = {"same": 0, "other": 0, "failed": 0}
        for base in range(0, len(conns), 100):
            batch = conns[base:base + 100]
            got = exchange([s for s, _ in batch], LAST)
            for s, node in batch:
                k = "failed" if got[s] is None else "same" if got[s] == node else "other"
                res[k] += 1
        print("again", " ".join("%s=%d" % kv for kv in sorted(res.items())), flush=True)
    elif cmd == "close":
        for i, (s, _) in enumerate(conns):
            s.close()
            if i % 100 == 99:
                time.sleep(0.5)
        print("closed", len(conns), flush=True)
        break
PY

count_of() { # LINE KEY
	local kv
	for kv in $1; do
		[ "${kv%%=*}" = "$2" ] && { echo "${kv#*=}"; return; }
	done
	echo 0
}

coproc IDLE_CLIENT { ip netns exec "$client" python3 "$TH_TMP/idle.py" "$IDLE"; }
# Copies of the pipes: bash closes the coprocess's own when it ends.
exec {from_client}<&"${IDLE_CLIENT[0]}" {to_client}>&"${IDLE_CLIENT[1]}"
idle_pid=$IDLE_CLIENT_PID
read -r -t 600 opened <&"$from_client"
log "$opened"
n2=$(count_of "$opened" node2)
n3=$(count_of "$opened" node3)
check_eq "$IDLE idle connections open, each handed to node2 or node3" "$IDLE" "$(( n2 + n3 ))"
# A back-end answers as soon as it has taken a connection over, so the
# client may have every answer before node1 has read every HANDOFF_ACK.
check "node1 forwards for all of them" wait_stat "$node1" fe-forwarding "$IDLE" 300
check_eq "node2 and node3 hold them" "$IDLE" \
	"$(( $(stat_of "$node2" be-conns) + $(stat_of "$node3" be-conns) ))"

# New connections while they sit there: 200, 20 at a time, one request
# each. A handoff that takes longer than the handoff timeout in a slow
# guest is served by node1 instead: that is allowed, a lost or broken
# response is not.
ok0=$(stat_of "$node1" handoff-ok)
printf 'url = "http://198.51.100.1/a/"\noutput = "/dev/null"\n%.0s' {1..200} >"$TH_TMP/urls"
ip netns exec "$client" curl -s --parallel --parallel-immediate --parallel-max 20 \
	--connect-timeout 30 --max-time 90 -H 'Connection: close' -K "$TH_TMP/urls" \
	-w '%{http_code} %header{x-node} %{size_download}\n' |
	awk '{ if ($1 == 200 && $2 ~ /^node[123]$/ && $3 == 16) n[$2]++; else n["bad_" $1]++ }
	     END { for (k in n) print k, n[k] }' | sort >"$TH_TMP/new"
sed 's/^/# new: /' "$TH_TMP/new"
n() { awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' "$TH_TMP/new"; }
check_eq "200 new connections answered completely" 200 \
	"$(( $(n node1) + $(n node2) + $(n node3) ))"
handed=$(( $(stat_of "$node1" handoff-ok) - ok0 ))
check "new connections were handed off ($handed of 200)" test "$handed" -ge 100
check_eq "every one handed off went to a back-end" "$handed" "$(( $(n node2) + $(n node3) ))"

echo again >&"$to_client"
read -r -t 600 again <&"$from_client"
log "$again"
check_eq "every idle connection answers again, from the node that took it" \
	"again failed=0 other=0 same=$IDLE" "$again"

echo close >&"$to_client"
read -r -t 120 closed <&"$from_client"
wait "$idle_pid" 2>/dev/null
check_eq "the client closed them" "closed $IDLE" "$closed"
check "node2's table empties" wait_stat "$node2" be-conns 0 600
check "node3's table empties" wait_stat "$node3" be-conns 0 600
check "node1 heard every TERMINATE" wait_stat "$node1" fe-forwarding 0 600
check "node1's table empties" wait_stat "$node1" entries 0 600
for g in fe-in-flight fe-tombstones; do
	check_eq "node1: $g back to 0" 0 "$(stat_of "$node1" "$g")"
done
# Each handed-off connection closed cleanly: its back-end reported it.
check_eq "node1 received a TERMINATE for each handed-off connection" "$(( IDLE + handed ))" \
	"$(stat_of "$node1" terminate-received)"
check_eq "node1 reconciled nothing: no TERMINATE was lost" 0 "$(stat_of "$node1" reconciled)"
exit $th_rc
