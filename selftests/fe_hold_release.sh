#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The front-end holds a new connection until its first request head is
# read, then releases it to the local stack. Whatever the client does while
# held (one byte at a time, pipelining, a large upload, not speaking HTTP,
# stalling, closing), it is served, each case lands in its counter, and
# the connection table empties afterwards.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
require_tool nstat
setup_cluster || exit $ksft_fail
"$HANDOFFCTL" -n "$node1" service add $SVC_HOST:80
start_nginx "$node1" node1 || { log "FAIL: nginx"; exit $ksft_fail; }
st() { stat_of "$node1" "$1"; }

ip netns exec "$client" nstat -n
check_eq "plain GET" "served-by node1" "$(ip netns exec "$client" curl -s --max-time 10 http://$SVC_HOST/)"
retrans=$(ip netns exec "$client" nstat -az TcpRetransSegs | awk '/TcpRetransSegs/ { print $2 }')
check_eq "the client retransmitted nothing" 0 "${retrans:-missing}"
check_eq "one HTTP head read" 1 "$(st heads-http)"
check_eq "released locally" 1 "$(st local)"

ip netns exec "$client" python3 - >"$TH_TMP/cases" <<'PY'
import os, socket, time

def conn():
    s = socket.create_connection((os.environ["SVC_IP"], 80), timeout=15)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def read_all(s):
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        out += b"<timeout>"
    return out

def report(name, value):
    print(name, value, flush=True)

# One byte at a time.
s = conn()
for b in b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n":
    s.send(bytes([b]))
    time.sleep(0.01)
report("bytewise", read_all(s).count(b"served-by node1"))

# Two pipelined requests in one segment.
s = conn()
s.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
report("pipelined", read_all(s).count(b"served-by node1"))

# A 256 KiB upload behind its head (nginx answers 405 for static files,
# after TCP has taken the whole body).
s = conn()
body = b"x" * 262144
s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
report("post", read_all(s).split(b"\r\n")[0].decode())

# Not HTTP: a TLS ClientHello's first bytes.
s = conn()
s.send(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40)
report("tls", len(read_all(s)) > 0)

# Stalls longer than the head timeout, then finishes its head.
s = conn()
s.send(b"GET / HTTP/1.1\r\n")
time.sleep(3.5)
s.send(b"Host: a\r\nConnection: close\r\n\r\n")
report("slow", read_all(s).count(b"served-by node1"))

# Closes its side in the middle of the head.
s = conn()
s.send(b"GET / HT")
s.shutdown(socket.SHUT_WR)
t = time.time()
read_all(s)
report("closed_in", round(time.time() - t) < 10)
PY
case_of() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$TH_TMP/cases"; }
check_eq "head sent one byte at a time" 1 "$(case_of bytewise)"
check_eq "pipelined requests both answered" 2 "$(case_of pipelined)"
check_eq "256 KiB upload reaches nginx" "HTTP/1.1 405 Not Allowed" "$(case_of post)"
check_eq "non-HTTP bytes get nginx's answer" True "$(case_of tls)"
check_eq "stalled head served after the timeout" 1 "$(case_of slow)"
check_eq "half-closed mid-head ends promptly" True "$(case_of closed_in)"
# The byte-wise head needs more segments than the client's initial window:
# a coalescing retransmission completes it, or the head timeout releases it.
http=$(st heads-http) timeout=$(st heads-timeout)
check_eq "heads read or timed out: curl, bytewise, pipelined, post, slow" 5 "$((http + timeout))"
check "at least curl, pipelined and post read completely ($http)" test "$http" -ge 3
check "the stalled head timed out ($timeout)" test "$timeout" -ge 1
check_eq "not HTTP" 1 "$(st heads-not-http)"
check_eq "closed before complete" 1 "$(st heads-closed)"
check_eq "every connection released locally" 7 "$(st local)"
check_eq "no re-injection failed" 0 "$(st reinject-errors)"
sleep 4
check_eq "nothing held afterwards" 0 "$(st pending)"
check_eq "table empty after the linger time" 0 "$(st entries)"
check_eq "nginx served 5 pages locally (curl, bytewise, 2 pipelined, slow)" 5 \
	"$(grep -c '" 200 ' "$TH_TMP/nginx-node1/access.log" 2>/dev/null || echo 0)"
exit $th_rc
