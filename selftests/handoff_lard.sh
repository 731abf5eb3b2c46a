#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Locality-aware dispatch (policy lard) with load exchange:
# - skewed URL popularity, one connection per request: every URL is served
#   by one node only, and the URLs spread over both nodes;
# - one hot URL with keep-alive connections held open: it gains a second
#   node once its node is above lard-high while the other is below
#   lard-low, and no node ends above lard-high while another is idle;
# - a quiet set of two gives one node back after lard-shrink;
# - load reports: node3 as a second front-end hands connections to node2;
#   node1, which forwards none of them, sees node2's load in node2's
#   reports, and sends new URLs to node3;
# - limits that break low < high are refused; every gauge returns to 0.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool python3
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }

# Pages /l/u1 .. /l/u16 on every node, each holding its own name, so a
# body shows it is the page asked for.
for i in 1 2 3; do
	mkdir -p "$TH_TMP/nginx-node$i/www/l"
	for u in $(seq 1 16); do
		echo "u$u" >"$TH_TMP/nginx-node$i/www/l/u$u"
	done
done

check_fails "lard-low must be below lard-high (tool)" 2 "must be below lard-high" \
	"$HANDOFFCTL" -n "$node1" limits set lard-low 5 lard-high 5
check_fails "lard-low must be below lard-high (kernel, with the current high)" 1 \
	"lard-low must be below lard-high" "$HANDOFFCTL" -n "$node1" limits set lard-low 65
check_eq "limits unchanged by the refused change" "25 65 20000" \
	"$("$HANDOFFCTL" -n "$node1" -j limits show |
		python3 -c 'import json,sys; l=json.load(sys.stdin); print(l["lard-low"], l["lard-high"], l["lard-shrink-ms"])')"

"$HANDOFFCTL" -n "$node1" -b - <<-EOF || { log "FAIL: lard configuration"; exit $ksft_fail; }
	limits set lard-low 2 lard-high 4 lard-shrink 600000
	rule add prio 5 prefix /l/ policy lard to 2,3
EOF

# client.py seq ADDR URL...: one connection per URL (Connection: close),
# one after the other; prints "URL NODE ok|bad" (bad: not the page's body).
# client.py hold ADDR PATH N: opens N keep-alive connections, one after
# the other, each with one request for PATH; prints the node of each,
# keeps them open until a line comes on stdin, then closes them.
cat >"$TH_TMP/client.py" <<'PY'
import socket, sys

def request(s, addr, path, close):
    conn = "close" if close else "keep-alive"
    s.sendall(("GET %s HTTP/1.1\r\nHost: lard.test\r\nConnection: %s\r\n\r\n"
               % (path, conn)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        more = s.recv(4096)
        if not more:
            raise EOFError("closed in the head")
        data += more
    head, body = data.split(b"\r\n\r\n", 1)
    fields = dict(l.split(b": ", 1) for l in head.split(b"\r\n")[1:])
    length = int(fields[b"Content-Length"])
    while len(body) < length:
        more = s.recv(4096)
        if not more:
            raise EOFError("closed in the body")
        body += more
    return fields[b"X-Node"].decode(), body

mode, addr = sys.argv[1], sys.argv[2]
if mode == "seq":
    for url in sys.argv[3:]:
        s = socket.create_connection((addr, 80), timeout=30)
        node, body = request(s, addr, url, True)
        s.close()
        want = url.rsplit("/", 1)[-1] + "\n"
        print(url, node, "ok" if body == want.encode() else "bad", flush=True)
else:
    conns = []
    for _ in range(int(sys.argv[4])):
        s = socket.create_connection((addr, 80), timeout=30)
        node, _ = request(s, addr, sys.argv[3], False)
        print(node, flush=True)
        conns.append(s)
    sys.stdin.readline()
    for s in conns:
        s.close()
PY

# A skewed popularity: u1 asked 16 times, u2 8, u3 5, u4 4, u5..u8 twice,
# interleaved (u1 u2 u3 ... then again), 41 requests.
urls=()
for round in $(seq 1 16); do
	for u in 1 2 3 4 5 6 7 8; do
		case $u in
		1) n=16 ;; 2) n=8 ;; 3) n=5 ;; 4) n=4 ;; *) n=2 ;;
		esac
		[ "$round" -le "$n" ] && urls+=("/l/u$u")
	done
done
ip netns exec "$client" python3 "$TH_TMP/client.py" seq 198.51.100.1 "${urls[@]}" \
	>"$TH_TMP/seq.out"
check_eq "every request answered" "${#urls[@]}" "$(wc -l <"$TH_TMP/seq.out")"
check_eq "every body is the page asked for" 0 "$(grep -vc ' ok$' "$TH_TMP/seq.out")"
# URL -> the nodes that served it.
sort -u -k1,2 "$TH_TMP/seq.out" | awk '{ print $1, $2 }' >"$TH_TMP/url-nodes"
log "$(paste -sd' ' "$TH_TMP/url-nodes")"
check_eq "locality: each URL served by one node" 8 "$(wc -l <"$TH_TMP/url-nodes")"
check_eq "the URLs spread over both nodes" "node2 node3" \
	"$(awk '{ print $2 }' "$TH_TMP/url-nodes" | sort -u | paste -sd' ')"
check_eq "lard-assigned: one per URL" 8 "$(stat_of "$node1" lard-assigned)"
check_eq "nothing replicated" 0 "$(stat_of "$node1" lard-replicated)"

# node_load NS ID: the load-conns NS shows for node ID.
node_load() {
	"$HANDOFFCTL" -n "$1" -j stats show nodes |
		python3 -c 'import json,sys; print({n["id"]: n for n in json.load(sys.stdin)}['"$2"']["load-conns"])'
}
wait_load() { # NS ID VALUE
	local TH_END
	th_deadline 150
	until [ "$(node_load "$1" "$2")" = "$3" ]; do
		th_before_deadline || return 1
		th_sleep 0.2
	done
}

# hold ADDR PATH N: client.py hold in the background, its nodes in
# $TH_TMP/hold.out; release_hold closes its connections.
hold() {
	local fifo=$TH_TMP/hold.fifo
	rm -f "$fifo" && mkfifo "$fifo"
	ip netns exec "$client" python3 "$TH_TMP/client.py" hold "$@" <"$fifo" >"$TH_TMP/hold.out" &
	hold_pid=$!
	exec {hold_fd}>"$fifo"
}
release_hold() {
	echo done >&"$hold_fd"
	exec {hold_fd}>&-
	wait "$hold_pid"
}

# The hot URL: 12 connections held. Its node passes lard-high (4) while
# the other is below lard-low (2): the other joins its set, and the least
# loaded of the two serves from then on.
hot=$(awk '$1 == "/l/u1" { print $2 }' "$TH_TMP/url-nodes")
hold 198.51.100.1 /l/u1 12
check "node1 forwards the 12 connections" wait_stat "$node1" fe-forwarding 12 300
log "hot URL first on $hot; served by: $(sort "$TH_TMP/hold.out" | uniq -c | paste -sd' ')"
check_eq "the hot URL was replicated: both nodes serve it" "node2 node3" \
	"$(sort -u "$TH_TMP/hold.out" | paste -sd' ')"
check "lard-replicated counted" wait_stat_ge "$node1" lard-replicated 1 10
check "node2's report shows its connections" wait_load "$node1" 2 \
	"$(grep -c node2 "$TH_TMP/hold.out")"
check "node3's report shows its connections" wait_load "$node1" 3 \
	"$(grep -c node3 "$TH_TMP/hold.out")"
l2=$(node_load "$node1" 2)
l3=$(node_load "$node1" 3)
log "loads: node2 $l2, node3 $l3 (lard-low 2, lard-high 4)"
check "no node above lard-high while the other is below lard-low" \
	test ! \( "$l2" -gt 4 -a "$l3" -lt 2 \) -a ! \( "$l3" -gt 4 -a "$l2" -lt 2 \)
release_hold
check "node1's forwarding returns to 0" wait_stat "$node1" fe-forwarding 0 300
check "node2 reports no load" wait_load "$node1" 2 0
check "node3 reports no load" wait_load "$node1" 3 0

# A quiet set of two gives one node back once lard-shrink has passed
# since it last changed; the URL then stays on the node it kept.
"$HANDOFFCTL" -n "$node1" limits set lard-shrink 100
th_sleep 0.5
ip netns exec "$client" python3 "$TH_TMP/client.py" seq 198.51.100.1 /l/u1 /l/u1 /l/u1 \
	>"$TH_TMP/shrink.out"
check_eq "lard-shrunk: the set gave a node back" 1 "$(stat_of "$node1" lard-shrunk)"
check_eq "bodies after the shrink" 0 "$(grep -vc ' ok$' "$TH_TMP/shrink.out")"
check_eq "after the shrink the URL stays on one node" 1 \
	"$(tail -n 2 "$TH_TMP/shrink.out" | awk '{ print $2 }' | sort -u | wc -l)"
"$HANDOFFCTL" -n "$node1" limits set lard-shrink 600000

# Load exchange: node3 becomes the front-end of 198.51.100.3:80 and hands
# /a/ to node2. node1 forwards none of these, yet sees node2's load in
# node2's reports: the new URLs u9..u16 all go to node3.
"$HANDOFFCTL" -n "$node3" -b - <<-EOF || { log "FAIL: node3 as front-end"; exit $ksft_fail; }
	service add 198.51.100.3:80
	rule add prio 5 prefix /a/ policy rr to 2
EOF
wait_peers_up "$node3" 2 || exit $ksft_fail
# The client now talks to node3's service too (lib.sh's guard).
guard_allow 198.51.100.3 80
hold 198.51.100.3 /a/ 6
check "node3 forwards 6 connections to node2" wait_stat "$node3" fe-forwarding 6 300
check_eq "node2 served node3's connections" "6 node2" "$(sort "$TH_TMP/hold.out" | uniq -c | awk '{ print $1, $2 }')"
check "node1 sees node2's load from its report" wait_load "$node1" 2 6
check_eq "node1 forwards nothing" 0 "$(stat_of "$node1" fe-forwarding)"
new=()
for u in $(seq 9 16); do new+=("/l/u$u"); done
ip netns exec "$client" python3 "$TH_TMP/client.py" seq 198.51.100.1 "${new[@]}" >"$TH_TMP/new.out"
log "$(awk '{ print $1, $2 }' "$TH_TMP/new.out" | paste -sd' ')"
check_eq "new URLs all go to the node that reports less load" "8 node3" \
	"$(awk '$3 == "ok" { print $2 }' "$TH_TMP/new.out" | sort | uniq -c | awk '{ print $1, $2 }')"
check_eq "lard-assigned: 8 more" 16 "$(stat_of "$node1" lard-assigned)"
release_hold
check "node2's load returns to 0 in node1's view" wait_load "$node1" 2 0
check "node1: table empty" wait_stat "$node1" entries 0 150
check "node3: table empty" wait_stat "$node3" entries 0 150
check "node2: table empty" wait_stat "$node2" be-conns 0 150
check "node3: no back-end entries" wait_stat "$node3" be-conns 0 150
exit $th_rc
