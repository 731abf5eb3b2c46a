#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Opens COUNT keep-alive HTTP connections and holds them idle.

Each connection sends one GET (the paths in turn), reads the whole
response and then stays open, idle: through a front-end that hands them
off, each is one forwarding entry there and one taken-over entry on a
back-end. At most INFLIGHT are being opened at a time, spread over the
SOURCES addresses (one address has about 64k ports to one service).

When every connection has its response, prints "held N failed F after S s"
and the count of responses per X-Node header ("served-by NODE N"), and waits for a line on stdin. A line "check" (or end of input) counts the
connections still open (none readable, since the server sent nothing and
closed none) and prints "open N", then closes them all and exits.
"""

import argparse
import errno
import selectors
import socket
import sys
import time

IP_BIND_ADDRESS_NO_PORT = 24


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", required=True, help="ADDR:PORT")
    ap.add_argument("--sources", required=True, help="ADDR,ADDR,...")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--paths", default="/", help="PATH,PATH,...")
    ap.add_argument("--inflight", type=int, default=128)
    args = ap.parse_args()
    host, port = args.target.rsplit(":", 1)
    dst = (host, int(port))
    sources = args.sources.split(",")
    paths = args.paths.split(",")

    sel = selectors.DefaultSelector()
    held, failed, started, active = [], 0, 0, 0
    served = {}
    t0 = time.monotonic()

    def start(i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((sources[i % len(sources)], 0))
        req = (f"GET {paths[i % len(paths)]} HTTP/1.1\r\nHost: {host}\r\n\r\n").encode()
        err = s.connect_ex(dst)
        if err not in (0, errno.EINPROGRESS):
            s.close()
            return False
        sel.register(s, selectors.EVENT_WRITE, {"req": req, "buf": b"", "need": None})
        return True

    while len(held) + failed < args.count:
        while active < args.inflight and started < args.count:
            if start(started):
                active += 1
            else:
                failed += 1
            started += 1
        for key, ev in sel.select(timeout=30):
            s, st = key.fileobj, key.data
            done = False
            try:
                if ev & selectors.EVENT_WRITE:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, "connect")
                    s.send(st["req"])
                    sel.modify(s, selectors.EVENT_READ, st)
                    continue
                data = s.recv(65536)
                if not data:
                    raise OSError(errno.ECONNRESET, "closed before the response")
                st["buf"] += data
                if st["need"] is None and b"\r\n\r\n" in st["buf"]:
                    head, _, _ = st["buf"].partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            length = int(v)
                    st["need"] = len(head) + 4 + length
                    if not head.startswith(b"HTTP/1.1 200"):
                        raise OSError(errno.EPROTO, head.split(b"\r\n")[0].decode())
                    st["node"] = "?"
                    for line in head.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"x-node":
                            st["node"] = v.strip().decode()
                done = st["need"] is not None and len(st["buf"]) >= st["need"]
            except OSError as e:
                sel.unregister(s)
                s.close()
                failed += 1
                active -= 1
                if failed <= 5:
                    print(f"connection failed: {e}", flush=True)
                continue
            if done:
                sel.unregister(s)
                held.append(s)
                served[st["node"]] = served.get(st["node"], 0) + 1
                active -= 1
        if not sel.get_map() and started >= args.count:
            break
    for node, n in sorted(served.items()):
        print(f"served-by {node} {n}")
    print(f"held {len(held)} failed {failed} after {time.monotonic() - t0:.1f} s", flush=True)

    sys.stdin.readline()
    # An idle connection the server kept has nothing to read; one that was
    # closed or reset reads as ready.
    chk = selectors.DefaultSelector()
    for s in held:
        chk.register(s, selectors.EVENT_READ)
    ready = {key.fileobj for key, _ in chk.select(timeout=0.5)}
    print(f"open {len(held) - len(ready)}", flush=True)
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
