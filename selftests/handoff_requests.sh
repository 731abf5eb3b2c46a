#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Requests of every shape through a handoff: bodies of 1 KiB, 1 MiB and
# 64 MiB downloaded byte-identical, a 256 KiB upload whose body reaches the
# back-end intact, a head sent one byte at a time, and two pipelined
# requests in one segment, all served by the back-end the rule names.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
require_tool python3
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
www2=$TH_TMP/nginx-node2/www

head -c 1024 /dev/urandom >"$www2/a/1k"
head -c 67108864 /dev/urandom >"$www2/a/64m"
# /a/big is lib.sh's random 1 MiB object.
for f in 1k big 64m; do
	file=$www2/a/$f
	[ "$f" = big ] && file=$TH_TMP/random-1m
	sum=$(ip netns exec "$client" curl -s --max-time 120 http://$SVC_HOST/a/$f | sha256sum | cut -d' ' -f1)
	check_eq "/a/$f downloaded byte-identical" "$(sha256sum "$file" | cut -d' ' -f1)" "$sum"
done
rm -f "$www2/a/64m"

head -c 262144 /dev/urandom >"$TH_TMP/upload"
code=$(ip netns exec "$client" curl -s --max-time 60 -o /dev/null -w '%{http_code}' \
	-T "$TH_TMP/upload" http://$SVC_HOST/a/up/file)
check_eq "256 KiB PUT accepted" 201 "$code"
check_eq "the upload reached node2 intact" "$(sha256sum <"$TH_TMP/upload")" \
	"$(sha256sum <"$www2/a/up/file" 2>/dev/null)"

ip netns exec "$client" python3 - >"$TH_TMP/cases" <<'PY'
import os, socket, time

def conn():
    s = socket.create_connection((os.environ["SVC_IP"], 80), timeout=20)
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

s = conn()
for b in b"GET /a/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n":
    s.send(bytes([b]))
    time.sleep(0.01)
print("bytewise", read_all(s).count(b"served-by node2"))

s = conn()
s.send(b"GET /a/ HTTP/1.1\r\nHost: a\r\n\r\nGET /a/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
print("pipelined", read_all(s).count(b"served-by node2"))
PY
case_of() { awk -v k="$1" '$1 == k { print $2 }' "$TH_TMP/cases"; }
check_eq "head sent one byte at a time, served by node2" 1 "$(case_of bytewise)"
check_eq "two pipelined requests, both answered by node2" 2 "$(case_of pipelined)"
check_eq "node1 handed every connection off" 0 "$(stat_of "$node1" handoff-nak)"
check "node1: table empty" wait_stat "$node1" entries 0 80
check "node2: table empty" wait_stat "$node2" be-conns 0 150
exit $th_rc
