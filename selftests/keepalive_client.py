#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A keep-alive HTTP/1.1 client for keepalive_routing.sh.

Runs one case on one TCP connection to the service (198.51.100.1 port 80,
or the address in $KA_SERVICE) and prints one line per
response: "<case> <n> <status> <X-Node> <body>", then "<case> end <how>"
where how is "eof", "open" or the error that ended the connection. A
reconnect never happens: every response of a case came on one connection.
"""
import os
import socket
import sys

SERVICE = (os.environ.get("KA_SERVICE", "198.51.100.1"), 80)


def request(path, close=False):
    extra = b"Connection: close\r\n" if close else b""
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: svc\r\n" + extra + b"\r\n"


class Conn:
    def __init__(self):
        self.s = socket.create_connection(SERVICE, timeout=30)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def fill(self):
        b = self.s.recv(65536)
        if not b:
            raise EOFError
        self.buf += b

    def response(self):
        """One response: (status, X-Node, body)."""
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split()[1]
        fields = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            fields[k.strip().lower()] = v.strip()
        n = int(fields.get("content-length", "0"))
        while len(self.buf) < n:
            self.fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, fields.get("x-node", "-"), body.decode("latin-1").strip() or "-"

    def ended(self):
        """How the connection ends once the server is done with it."""
        try:
            self.s.settimeout(5)
            if self.s.recv(1) == b"":
                return "eof"
            return "data"
        except socket.timeout:
            return "open"
        except OSError as e:
            return type(e).__name__


def show(case, n, r):
    print(case, n, *r, flush=True)


def main():
    case = sys.argv[1]
    c = Conn()
    try:
        if case == "alternate":
            # /a/kN and /b/kN in turn, each read before the next is sent.
            for i in range(1, int(sys.argv[2]) + 1):
                path = "/%s/k%d" % ("ab"[(i - 1) % 2], (i + 1) // 2)
                c.s.sendall(request(path))
                show(case, i, c.response())
        elif case == "same":
            # Five requests for one node: the connection never moves.
            for i in range(1, 6):
                c.s.sendall(request("/a/k%d" % i))
                show(case, i, c.response())
        elif case == "pipelined":
            # One request alone, then two in one segment across a node
            # boundary: /a/ stays, /b/ moves.
            c.s.sendall(request("/a/k1"))
            show(case, 1, c.response())
            c.s.sendall(request("/a/k2") + request("/b/k3"))
            show(case, 2, c.response())
            show(case, 3, c.response())
            c.s.sendall(request("/a/k4"))
            show(case, 4, c.response())
        elif case == "pipelined-first":
            # Two requests for two nodes in the connection's first segment.
            c.s.sendall(request("/a/k5") + request("/b/k6"))
            show(case, 1, c.response())
            show(case, 2, c.response())
        elif case == "upload":
            # A 200 KiB body first (its segments come after the head, some
            # while the handoff is decided), then a request that moves.
            body = bytes(range(256)) * 800
            c.s.sendall(b"PUT /a/up/ka HTTP/1.1\r\nHost: svc\r\nContent-Length: %d\r\n\r\n"
                        % len(body) + body)
            show(case, 1, c.response())
            c.s.sendall(request("/b/k7"))
            show(case, 2, c.response())
        elif case == "fin-after-head":
            # The client's last request moves, and its FIN follows it.
            c.s.sendall(request("/a/k1"))
            show(case, 1, c.response())
            c.s.sendall(request("/b/k2"))
            c.s.shutdown(socket.SHUT_WR)
            show(case, 2, c.response())
        elif case == "close-mid-head":
            # The client goes in the middle of its second head.
            c.s.sendall(request("/a/k1"))
            show(case, 1, c.response())
            c.s.sendall(b"GET /b/k2 HTTP/1.1\r\nHo")
            c.s.close()
            print(case, "end", "closed", flush=True)
            return
        print(case, "end", c.ended(), flush=True)
    except Exception as e:  # noqa: BLE001 - any failure is the case's result
        print(case, "end", type(e).__name__, flush=True)


main()
