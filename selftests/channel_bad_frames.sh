#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bad frames from a peer (Documentation/protocol.rst, "Validation and bad
# frames"): a fake node 2 written in Python completes the HELLO exchange
# with node 1, then sends one bad frame per connection: a wrong magic, a
# length over the 64 KiB body limit, an unknown type, and a HANDOFF_REQUEST
# whose body is cut short. Each is counted in ctl-bad-msgs and closes the
# channel (no resynchronisation), node 1 connects again, and nothing
# reaches its back-end (be-requests stays 0). Without keys; with keys a bad
# frame is refused by authentication first (channel_auth.sh).
source "$(dirname "$0")/lib.sh"
require_module
setup_ctl_pair || exit $ksft_fail

ip netns exec "$fake" python3 - >"$TH_TMP/fake" 2>&1 <<-'PY' &
	import os, socket, struct
	HELLO, HANDOFF_REQUEST = 1, 2
	def frame(mtype, body, seq, magic=0x5448, length=None):
	    n = len(body) if length is None else length
	    return struct.pack(">HBBHBBII", magic, 1, mtype, 0, 0, 0, n, seq) + body
	def read_exact(s, n):
	    b = b""
	    while len(b) < n:
	        c = s.recv(n - len(b))
	        if not c:
	            raise EOFError
	        b += c
	    return b
	def how_closed(s):
	    try:
	        while s.recv(4096):
	            pass
	    except (ConnectionResetError, socket.timeout) as e:
	        return type(e).__name__
	    return "eof"
	hello = struct.pack(">IBB", 2, 1, 1) + os.urandom(16) + struct.pack(">I", 0)
	cases = [
	    ("bad magic", frame(6, b"\0" * 12, 1, magic=0x1234)),
	    ("oversized", frame(6, b"", 1, length=70000)),
	    ("unknown type", frame(200, b"", 1)),
	    ("truncated request", frame(HANDOFF_REQUEST, b"\0" * 10, 1)),
	]
	srv = socket.socket()
	srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	srv.bind(("198.51.100.130", 7000))
	srv.listen(4)
	srv.settimeout(60)
	print("listening", flush=True)
	for name, bad in cases:
	    c, _ = srv.accept()
	    c.settimeout(20)
	    h = read_exact(c, 16)
	    _, _, mtype, _, _, _, length, seq = struct.unpack(">HBBHBBII", h)
	    read_exact(c, length)
	    c.sendall(frame(HELLO, hello, 0))
	    c.sendall(bad)
	    print(name + ": hello type %d seq %d, then %s" % (mtype, seq, how_closed(c)), flush=True)
PY
fake_pid=$!
wait_listening "$TH_TMP/fake"
"$HANDOFFCTL" -n "$node" -b - <<-EOF
	node add 1 addr 198.51.100.129 port 7000 local
	node add 2 addr 198.51.100.130 port 7000
EOF
wait "$fake_pid"
sed 's/^/# fake: /' "$TH_TMP/fake"
for name in "bad magic" "oversized" "unknown type" "truncated request"; do
	check "$name: the node closed the channel" \
		grep -qE "^$name: hello type 1 seq 0, then (eof|ConnectionResetError)$" "$TH_TMP/fake"
done
check_eq "each bad frame counted (ctl-bad-msgs)" 4 "$(stat_of "$node" ctl-bad-msgs)"
check_eq "the channel came up each time before its bad frame" 4 "$(stat_of "$node" ctl-connects)"
check "and went down each time" wait_stat "$node" ctl-disconnects 4 100
check_eq "nothing reached the back-end" 0 "$(stat_of "$node" be-requests)"
check_eq "no connection was created" 0 "$(stat_of "$node" be-conns)"
exit $th_rc
