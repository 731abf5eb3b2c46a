#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A fake cluster node for channel_auth.sh: node 4 on 198.51.100.132:7000.

It implements the channel's authentication from Documentation/protocol.rst
with Python's own HMAC-SHA256, so what it prints checks the kernel's tags
and key derivations independently:

0. its listening socket has the TCP-AO master key HMAC(key, "tcp_handoff
   tcp-ao v1") under id 2, for any peer, as the nodes' sockets do: without
   it node2's signed SYN would be dropped;
1. accepts node2's connection and checks its HELLO's tag under the
   configured key itself;
2. answers with its own HELLO under the session key
   HMAC(key, label || nonce_connector || nonce_acceptor || ids);
3. checks node2's next frame under the session key;
4. sends a valid KEEPALIVE, the same again (a replay), a forged
   HANDOFF_REQUEST and a KEEPALIVE under an unknown key id, and reports
   how the connection ended;
5. takes node2's next connection and answers it with an untagged HELLO.

Usage: channel_auth_fake.py KEY_HEX (the key has id 2).
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

KEY = bytes.fromhex(sys.argv[1])
KID = 2
LABEL = b"tcp_handoff session key v1"
AO_LABEL = b"tcp_handoff tcp-ao v1"
TCP_AO_ADD_KEY = 38
HELLO, HANDOFF_REQUEST, KEEPALIVE = 1, 2, 6
FLAG_HMAC = 1
ME = 4


def mac(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def frame(mtype, body, seq, kid=0, key=None):
    flags = FLAG_HMAC if key else 0
    f = struct.pack(">HBBHBBII", 0x5448, 1, mtype, flags, kid if key else 0, 0,
                    len(body), seq) + body
    return f + mac(key, f) if key else f


def hello_body(nonce):
    return struct.pack(">IBB", ME, 1, 1) + nonce + struct.pack(">I", 0)


def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def read_frame(s):
    h = read_exact(s, 16)
    _, _, mtype, flags, kid, _, length, seq = struct.unpack(">HBBHBBII", h)
    rest = read_exact(s, length + (32 if flags & FLAG_HMAC else 0))
    return mtype, kid, seq, rest[:length], rest[length:], h + rest


def how_closed(s):
    s.settimeout(20)
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout) as e:
        return type(e).__name__
    return "eof"


def ok(good):
    return "ok" if good else "BAD"


def tcp_ao_add(s, kid, key):
    """setsockopt(TCP_AO_ADD_KEY), struct tcp_ao_add of linux/tcp.h: any
    IPv4 peer (prefix 0), hmac(sha256), SendID = RecvID = kid."""
    addr = struct.pack("=H", socket.AF_INET).ljust(128, b"\0")
    cmd = (addr + b"hmac(sha256)".ljust(64, b"\0")
           + struct.pack("=iIHBBBBBB", 0, 0, 0, 0, kid, kid, 0, 0, len(key))
           + key.ljust(80, b"\0"))
    s.setsockopt(socket.IPPROTO_TCP, TCP_AO_ADD_KEY, cmd)


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp_ao_add(srv, KID, mac(KEY, AO_LABEL))
srv.bind(("198.51.100.132", 7000))
srv.listen(4)
srv.settimeout(60)
print("listening", flush=True)

c, _ = srv.accept()
c.settimeout(20)
mtype, kid, seq, body, tag, raw = read_frame(c)
node = struct.unpack(">I", body[:4])[0]
nc = body[6:22]
print("hello from", node, "type", mtype, "seq", seq, "key", kid, "tag",
      ok(hmac.compare_digest(mac(KEY, raw[:-32]), tag)), flush=True)
na = os.urandom(16)
sk = mac(KEY, LABEL + nc + na + struct.pack(">II", node, ME))
c.sendall(frame(HELLO, hello_body(na), 0, KID, sk))
# node2's next frame (a KEEPALIVE within a second) is under the session key.
mtype, kid, seq, body, tag, raw = read_frame(c)
print("next frame type", mtype, "seq", seq, "session tag",
      ok(hmac.compare_digest(mac(sk, raw[:-32]), tag)), flush=True)
keepalive = frame(KEEPALIVE, struct.pack(">III", 0, 0, 0), 1, KID, sk)
c.sendall(keepalive)                       # valid: frame 1
time.sleep(1)
c.sendall(keepalive)                       # replayed
time.sleep(1)
forged = bytearray(frame(HANDOFF_REQUEST, os.urandom(120), 2, KID, sk))
forged[-1] ^= 1
c.sendall(bytes(forged))                   # a request with a wrong tag
time.sleep(1)
c.sendall(frame(KEEPALIVE, struct.pack(">III", 0, 0, 0), 2, 9, sk))  # key 9
print("after 3 refusals:", how_closed(c), flush=True)

c, _ = srv.accept()
c.settimeout(20)
read_frame(c)
c.sendall(frame(HELLO, hello_body(os.urandom(16)), 0))
print("after an untagged hello:", how_closed(c), flush=True)
