#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Malformed and hostile packets against a handoff cluster's front-end.

Run by malformed_packets.sh, which explains the cases and their expected
fates. It starts while the shell builds the cluster (loading scapy takes
long in a slow guest), waits for the file GO_FILE, which names the client's
namespace, the nodes' nginx pids and the switch's namespace, and then
moves into the client's namespace. It speaks TCP itself: packets are built
with scapy and sent and received on a packet socket on eth0 (which bypasses
the client's netfilter; the script drops the client kernel's own resets for
the ports used here). Node counters are read from /proc/PID/net/tcp_handoff
and /proc/PID/net/snmp of a process in each node's namespace (its nginx),
which costs no process per read.

Prints one line per assertion, "CHECK<TAB>description<TAB>want<TAB>got",
for the shell's check_eq, and at the end "RESETS<TAB>n": how many resets
the cases expect the client to receive (the shell's guard checks them).

Usage: malformed_packets.py GO_FILE
(GO_FILE: "CLIENT_NETNS NODE1_PID NODE2_PID NODE3_PID SW_NETNS" and a newline)
"""
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

T0 = time.monotonic()
# Only the layers used: scapy.all would load every layer, which takes
# seconds in a slow guest.
from scapy.config import conf  # noqa: E402
from scapy.layers.inet import IP, TCP, IPOption_RR  # noqa: E402
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt  # noqa: E402
from scapy.packet import Raw  # noqa: E402

conf.verb = 0


def await_go(path):
    """The shell's go: the cluster is up. Gives up when the shell is gone."""
    parent = os.getppid()
    while True:
        try:
            with open(path) as f:
                text = f.read()
            if text.endswith("\n"):
                return text.split()
        except FileNotFoundError:
            pass
        if os.getppid() != parent:
            sys.exit("the shell went away")
        time.sleep(0.1)


LOADED = time.monotonic() - T0
CLIENT, N1, N2, N3, SW = await_go(sys.argv[1])
T_GO = time.monotonic()
PIDS = {"node1": N1, "node2": N2, "node3": N3}
fd = os.open(f"/run/netns/{CLIENT}", os.O_RDONLY)
os.setns(fd, os.CLONE_NEWNET)
os.close(fd)
SLOW = int(os.environ.get("TH_SLOW", "3"))
# The service and the client: IPv4, or IPv6 when the shell runs the test
# with TH_FAMILY=6 (lib.sh's SVC_IP and CLIENT_IP).
VIP = os.environ.get("SVC_IP", "198.51.100.1")
ME = os.environ.get("CLIENT_IP", "198.51.100.100")
V6 = ":" in VIP
ETH_P = 0x86DD if V6 else 0x0800
PACKET_OUTGOING = 4

expected_resets = 0


def out(*fields):
    print("\t".join(str(f) for f in fields), flush=True)


def log(msg):
    out("LOG", msg)


def check(desc, want, got):
    out("CHECK", desc, want, got)


# Counters of a node, from its /proc/net/tcp_handoff.
def stats(node):
    s = {}
    with open(f"/proc/{PIDS[node]}/net/tcp_handoff") as f:
        for line in f:
            k, v = line.split()
            s[k.replace("_", "-")] = int(v)
    return s


def stat(node, name):
    return stats(node)[name]


def tcp_mib(node, name):
    with open(f"/proc/{PIDS[node]}/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Tcp:")]
    return int(rows[1][rows[0].index(name)])


def wait_for(fn, want, tenths=30):
    """Polls fn() until it returns want or the deadline passes; returns
    its last value."""
    end = time.monotonic() + tenths * SLOW / 10
    while True:
        got = fn()
        if got == want or time.monotonic() > end:
            return got
        time.sleep(0.05)


def settle():
    """Waits until node1 forwards nothing and has nothing in flight: every
    earlier handoff's TERMINATE has arrived, and cannot count in a case's
    own TERMINATEs."""
    wait_for(lambda: (stat("node1", "fe-forwarding"), stat("node1", "fe-in-flight")), (0, 0), 60)


class Delta:
    """Counter changes on a node since the object was made."""

    def __init__(self, node):
        self.node = node
        self.before = stats(node)

    def __call__(self, name):
        return stat(self.node, name) - self.before[name]

    def expect(self, desc, name, want, tenths=30):
        check(f"{desc}: {self.node} {name}", f"+{want}",
              f"+{wait_for(lambda: self(name), want, tenths)}")


def ip_layer(**kw):
    """The IP header from the client to the service, of the test's family.
    IPv4 fields map to IPv6 ones: len (the whole packet) to plen (the
    payload), proto to nh, and options to a destination-options header."""
    if not V6:
        return IP(src=ME, dst=VIP, **kw)
    six = {}
    if "len" in kw:
        six["plen"] = kw.pop("len") - 20
    if "proto" in kw:
        six["nh"] = kw.pop("proto")
    opts = kw.pop("options", None)
    p = IPv6(src=ME, dst=VIP, **six, **kw)
    return p / IPv6ExtHdrDestOpt() if opts else p


# The front-end's MAC, learned by the shell's ping.
def vip_mac():
    if V6:
        w = subprocess.run(["ip", "-6", "neigh", "show", VIP], capture_output=True,
                           text=True).stdout.split()
        if "lladdr" in w:
            return w[w.index("lladdr") + 1]
        raise SystemExit("no neighbour entry for " + VIP)
    with open("/proc/net/arp") as f:
        for line in f:
            w = line.split()
            if w[0] == VIP:
                return w[3]
    raise SystemExit("no ARP entry for " + VIP)


class Wire:
    """A packet socket on eth0: sends frames, and a thread files every TCP
    segment from the service by destination port."""

    def __init__(self):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P))
        self.s.bind(("eth0", ETH_P))
        # (/sys is still the first namespace's: the MAC comes from the socket.)
        me = self.s.getsockname()[4]
        self.eth = bytes.fromhex(vip_mac().replace(":", "")) + me + struct.pack(">H", ETH_P)
        self.lock = threading.Condition()
        self.segs = {}
        threading.Thread(target=self.rx, daemon=True).start()

    def rx(self):
        vip = socket.inet_pton(socket.AF_INET6 if V6 else socket.AF_INET, VIP)
        while True:
            frame, addr = self.s.recvfrom(65536)
            if addr[2] == PACKET_OUTGOING:
                continue
            ip = frame[14:]
            if V6:
                # The service's segments carry no extension header.
                if len(ip) < 60 or ip[6] != 6 or ip[8:24] != vip:
                    continue
                t = ip[40:40 + struct.unpack(">H", ip[4:6])[0]]
            else:
                if len(ip) < 40 or ip[9] != 6 or ip[12:16] != vip:
                    continue
                ihl = (ip[0] & 15) * 4
                tot = struct.unpack(">H", ip[2:4])[0]
                t = ip[ihl:tot]
            sport, dport, seq, ack, off, fl, win = struct.unpack(">HHIIBBH", t[:16])
            if sport != 80:
                continue
            seg = (seq, ack, fl, win, bytes(t[(off >> 4) * 4:]))
            with self.lock:
                self.segs.setdefault(dport, []).append(seg)
                self.lock.notify_all()

    def send(self, pkt):
        self.s.send(self.eth + bytes(pkt))

    def of(self, port):
        with self.lock:
            return list(self.segs.get(port, []))

    def wait(self, port, pred, tenths=30):
        end = time.monotonic() + tenths * SLOW / 10
        with self.lock:
            while True:
                segs = list(self.segs.get(port, []))
                if pred(segs):
                    return True
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(left)


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16
next_port = [20000]


class Conn:
    """One client connection, spoken by hand."""

    def __init__(self, wire):
        self.w = wire
        self.sport = next_port[0]
        next_port[0] += 1
        self.isn = random.getrandbits(32)
        self.snd = self.isn
        self.irs = None
        self.fin_sent = False
        self.acked = None

    def pkt(self, flags, payload=b"", seq=None, ack=None, **kw):
        ipkw = kw.pop("ip", {})
        if ack is None and self.irs is not None and "A" in flags:
            ack = self.rcv_nxt()
        t = TCP(sport=self.sport, dport=80, flags=flags,
                seq=self.snd if seq is None else seq, ack=ack or 0, window=65535, **kw)
        p = ip_layer(**ipkw) / t
        return p / Raw(payload) if payload else p

    def send(self, flags, payload=b"", advance=True, **kw):
        p = self.pkt(flags, payload, **kw)
        if "A" in flags:
            self.acked = p[TCP].ack
        self.w.send(p)
        if advance and "seq" not in kw:
            self.snd = (self.snd + len(payload) + ("S" in flags) + ("F" in flags)) & 0xFFFFFFFF
            self.fin_sent |= "F" in flags

    def segs(self):
        return self.w.of(self.sport)

    def synack(self, tenths=30):
        ok = self.w.wait(self.sport, lambda s: any(x[2] & (SYN | ACK) == SYN | ACK for x in s), tenths)
        if not ok:
            return None
        sa = next(x for x in self.segs() if x[2] & (SYN | ACK) == SYN | ACK)
        self.irs = sa[0]
        return sa

    def connect(self, opts=None):
        self.send("S", options=opts if opts is not None else [("MSS", 1460)])
        if self.synack() is None:
            raise RuntimeError(f"port {self.sport}: no SYN/ACK")
        self.send("A")
        return self

    def stream(self):
        """The server's bytes in order from its ISN + 1, and whether its
        FIN follows them."""
        data = {}
        fin_at = None
        for seq, _, fl, _, pl in self.segs():
            if fl & SYN:
                continue
            off = (seq - self.irs - 1) & 0xFFFFFFFF
            if pl:
                data.setdefault(off, pl)
            if fl & FIN:
                fin_at = (off + len(pl)) & 0xFFFFFFFF
        out_ = b""
        while True:
            nxt = [(o, p) for o, p in data.items() if o <= len(out_) < o + len(p)]
            if not nxt:
                break
            o, p = nxt[0]
            out_ += p[len(out_) - o:]
        return out_, fin_at is not None and fin_at == len(out_)

    def ack(self):
        """Acknowledges what the server sent, unless that was done: a
        second ACK of a FIN could reach a socket already gone, and be
        answered with a reset."""
        if self.rcv_nxt() != self.acked:
            self.send("A")

    def rcv_nxt(self):
        data, fin = self.stream()
        return (self.irs + 1 + len(data) + fin) & 0xFFFFFFFF

    def resets(self):
        return sum(1 for x in self.segs() if x[2] & RST)

    def wait_body(self, text, tenths=30):
        self.w.wait(self.sport, lambda s: text in self.stream()[0], tenths)
        self.ack()
        return self.stream()[0]

    def wait_fin(self, tenths=30):
        self.w.wait(self.sport, lambda s: self.stream()[1], tenths)
        fin = self.stream()[1]
        if fin:
            self.ack()
        return fin

    def close(self, tenths=30):
        """Ends the connection cleanly: FIN (if not sent yet) and the
        server's FIN acknowledged."""
        if not self.fin_sent:
            self.send("FA")
        return self.wait_fin(tenths)


def served_by(body):
    i = body.find(b"served-by ")
    return body[i + 10:i + 15].decode(errors="replace") if i >= 0 else "none"


def status(body):
    return body.split(b"\r\n", 1)[0].decode(errors="replace") if body else "nothing"


def x_node(body):
    for line in body.split(b"\r\n"):
        if line.lower().startswith(b"x-node:"):
            return line.split(b":", 1)[1].strip().decode()
    return "none"


def req(path, extra=b"", close=True):
    c = b"Connection: close\r\n" if close else b""
    return b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n" + c + extra + b"\r\n"


def quiet(conn, tenths=5):
    """Waits a little and says whether the server sent no data, FIN or
    reset meanwhile (acknowledgements do not count)."""
    def busy():
        return sum(1 for x in conn.segs() if x[4] or x[2] & (FIN | RST))
    n = busy()
    time.sleep(tenths / 10)
    return busy() == n


w = Wire()
log(f"scapy loaded in {LOADED:.1f} s")
cases = []


def case(fn):
    cases.append(fn)
    return fn


# --- Headers the hooks cannot read, or that TCP refuses ---------------

def raw_case(desc, pkt, counter, reply="none"):
    """A lone packet with a fresh source port: which counter of the
    front-end moves, and whether anything comes back."""
    c = Conn(w)
    d = Delta("node1")
    w.send(pkt(c))
    d.expect(desc, counter, 1)
    for other in ("rx-malformed", "rx-packets"):
        if other != counter:
            check(f"{desc}: node1 {other}", "+0", f"+{d(other)}")
    if reply == "none":
        time.sleep(0.3)
        check(f"{desc}: no answer", 0, len(c.segs()))
    else:
        ok = w.wait(c.sport, lambda s: any(x[2] & (SYN | ACK) == SYN | ACK for x in s))
        check(f"{desc}: answered with a SYN/ACK", True, ok)
        if ok:  # the request socket goes at once
            c.synack()
            c.send("R", seq=(c.isn + 1) & 0xFFFFFFFF, advance=False)
    no_entry(desc, d)


def no_entry(desc, d):
    # Other cases' entries may expire meanwhile; none may appear.
    check(f"{desc}: no entry made", True, d("entries") <= 0)


@case
def dataofs_past_end():
    raw_case("data offset 15 in a 30-byte segment",
             lambda c: c.pkt("S", dataofs=15) / Raw(b"x" * 10), "rx-malformed")


@case
def header_cut_by_ip_length():
    raw_case("IP length leaves 10 bytes of TCP header",
             lambda c: c.pkt("S", ip={"len": 30}), "rx-malformed")


@case
def dataofs_below_5():
    raw_case("data offset 4", lambda c: c.pkt("S", dataofs=4), "rx-malformed")


@case
def no_tcp_header():
    raw_case("IP protocol TCP with no TCP header at all",
             lambda c: ip_layer(proto=6), "rx-malformed")


def with_options(raw):
    """A SYN whose option bytes are given as they are (scapy would fix
    them): the data offset covers them, the checksum is right."""
    return lambda c: (ip_layer() /
                      TCP(sport=c.sport, dport=80, flags="S", seq=c.isn,
                          dataofs=5 + len(raw) // 4, options=[]) / Raw(raw))


@case
def options_past_header():
    # An MSS option of length 8 in 4 bytes of options: the header is
    # readable, the options do not parse; TCP ignores them and answers.
    raw_case("an option longer than the header (MSS length 8)",
             with_options(b"\x02\x08\x05\xb4"), "rx-packets", reply="synack")


@case
def garbage_options():
    # Option kind 0xfe with length 1, then junk. TCP drops the segment
    # before it looks for a socket: with TCP-AO (or MD5) built in it first
    # looks for their options, and refuses options that do not parse.
    raw_case("garbage options (a length-1 option, junk)",
             with_options(b"\xfe\x01\xff\xff\x03\x00\x00\x00"), "rx-packets")


@case
def bad_checksum_syn():
    before = tcp_mib("node1", "InCsumErrors")
    raw_case("a SYN with a bad checksum", lambda c: c.pkt("S", chksum=0xdead), "rx-packets")
    check("a SYN with a bad checksum: TCP counted it (InCsumErrors)", 1,
          tcp_mib("node1", "InCsumErrors") - before)


@case
def ip_options_syn():
    raw_case("a SYN behind IP options (record route; IPv6: a destination-options header)",
             lambda c: c.pkt("S", ip={"options": [IPOption_RR()]}), "rx-packets", reply="synack")


@case
def syn_fin():
    raw_case("SYN+FIN", lambda c: c.pkt("SF"), "rx-packets")


@case
def syn_rst():
    raw_case("SYN+RST", lambda c: c.pkt("SR"), "rx-packets")


# --- The handshake ------------------------------------------------------

@case
def syn_with_data():
    global expected_resets
    desc = "a SYN carrying the request"
    c = Conn(w)
    d = Delta("node1")
    c.send("S", req(b"/a/"), options=[("MSS", 1460)])
    sa = c.synack()
    check(f"{desc}: the SYN/ACK acknowledges the SYN only", (c.isn + 1) & 0xFFFFFFFF,
          sa[1] if sa else "no SYN/ACK")
    no_entry(desc, d)
    # The data was not taken: the client sends it again after the SYN.
    c.snd = (c.isn + 1) & 0xFFFFFFFF
    c.send("A")
    c.send("PA", req(b"/a/"))
    check(f"{desc}: sent again, handed off", "node2", served_by(c.wait_body(b"served-by")))
    d.expect(desc, "handoff-ok", 1)
    check(f"{desc}: closed cleanly", True, c.close())


@case
def ack_with_wrong_ack():
    global expected_resets
    desc = "a handshake ACK with a wrong acknowledgement number"
    c = Conn(w)
    c.send("S", options=[("MSS", 1460)])
    c.synack()
    d = Delta("node1")
    c.send("A", ack=(c.irs + 1000) & 0xFFFFFFFF)
    ok = w.wait(c.sport, lambda s: any(x[2] & RST for x in s))
    check(f"{desc}: the listener resets it", True, ok)
    expected_resets += 1
    no_entry(desc, d)
    # The request socket is still there; end it.
    c.send("R", seq=(c.isn + 1) & 0xFFFFFFFF, advance=False)


@case
def ack_without_connection():
    global expected_resets
    desc = "an ACK with data and no connection"
    c = Conn(w)
    d = Delta("node1")
    c.irs = 12345
    c.send("PA", req(b"/a/"), seq=(c.isn + 1) & 0xFFFFFFFF)
    ok = w.wait(c.sport, lambda s: any(x[2] & RST for x in s))
    check(f"{desc}: reset by the front-end's stack", True, ok)
    expected_resets += 1
    no_entry(desc, d)
    check(f"{desc}: nothing held", 0, d("held-packets"))


# --- While the head is read (holding) ------------------------------------

def held_then(desc, first, then, want_node, counter="heads-http", tenths=30):
    """A connection whose head arrives as the caller sends it; checks who
    serves it and that it ends cleanly."""
    c = Conn(w).connect()
    d = Delta("node1")
    first(c)
    then(c)
    body = c.wait_body(b"served-by", tenths)
    check(f"{desc}: served by", want_node, served_by(body))
    d.expect(desc, counter, 1)
    check(f"{desc}: closed cleanly", True, c.close())
    return c, d, body


@case
def rst_wrong_seq_holding():
    # A reset TCP would ignore (outside the window) is no reason to stop
    # reading the head: the connection is still handed off.
    def bogus(c):
        c.send("PA", b"GET /a/ HTTP/1.1\r\n")
        c.send("R", seq=(c.snd + 100000) & 0xFFFFFFFF, advance=False)
        time.sleep(0.2)
    c, d, _ = held_then("a reset with a wrong sequence number while holding", bogus,
                        lambda c: c.send("PA", b"Host: t\r\nConnection: close\r\n\r\n"), "node2")
    check("a reset with a wrong sequence number while holding: not counted closed",
          0, d("heads-closed"))


@case
def fin_wrong_seq_holding():
    def bogus(c):
        c.send("PA", b"GET /a/ HTTP/1.1\r\n")
        c.send("FA", seq=(c.snd + 100000) & 0xFFFFFFFF, advance=False)
        time.sleep(0.2)
    c, d, _ = held_then("a FIN far beyond the window while holding", bogus,
                        lambda c: c.send("PA", b"Host: t\r\nConnection: close\r\n\r\n"), "node2")
    check("a FIN far beyond the window while holding: not counted closed", 0, d("heads-closed"))


@case
def rst_holding():
    desc = "a reset while holding"
    c = Conn(w).connect()
    d = Delta("node1")
    c.send("PA", b"GET /a/ HT")
    c.send("R")
    d.expect(desc, "heads-closed", 1)
    d.expect(desc, "local", 1)
    check(f"{desc}: not handed off", 0, d("handoff-requests"))
    check(f"{desc}: the client gets nothing", True, quiet(c))


@case
def fin_holding():
    desc = "a FIN in the middle of the head"
    c = Conn(w).connect()
    d = Delta("node1")
    c.send("PA", b"GET /a/ HT")
    c.send("FA")
    d.expect(desc, "heads-closed", 1)
    d.expect(desc, "local", 1)
    check(f"{desc}: the front-end's server closes, without an answer", (True, b""),
          (c.wait_fin(), c.stream()[0]))
    check(f"{desc}: not handed off", 0, d("handoff-requests"))


@case
def fin_with_head():
    # The FIN rides on the segment that completes the head: the head is
    # read, handed off, and the FIN goes with the held packets.
    desc = "a FIN on the segment that completes the head"
    c = Conn(w).connect()
    d = Delta("node1")
    c.send("FPA", req(b"/a/", close=False))
    body = c.wait_body(b"served-by")
    check(f"{desc}: served by", "node2", served_by(body))
    d.expect(desc, "handoff-ok", 1)
    check(f"{desc}: the back-end closes", True, c.wait_fin())


@case
def bad_checksum_holding():
    # A segment TCP would drop must not become the head: the one with the
    # right checksum, sent after it with the same sequence numbers, is
    # what dispatch sees.
    desc = "a head segment with a bad checksum, then the right one"
    node1_csum = tcp_mib("node1", "InCsumErrors")

    def bad(c):
        c.send("PA", req(b"/b/", close=True), advance=False, chksum=0xbeef)
        time.sleep(0.3)
    held_then(desc, bad, lambda c: c.send("PA", req(b"/a/")), "node2")
    check(f"{desc}: TCP counted the bad one (InCsumErrors)", 1,
          tcp_mib("node1", "InCsumErrors") - node1_csum)


@case
def out_of_window_holding():
    desc = "data far beyond the window while holding"

    def oow(c):
        c.send("PA", b"GET /a/ HTTP/1.1\r\n")
        c.send("PA", b"X" * 100, seq=(c.snd + 1000000) & 0xFFFFFFFF, advance=False)
    held_then(desc, oow, lambda c: c.send("PA", b"Host: t\r\nConnection: close\r\n\r\n"), "node2")


@case
def duplicate_holding():
    desc = "a head segment sent twice"

    def dup(c):
        c.send("PA", b"GET /a/ HTTP/1.1\r\n", advance=False)
        c.send("PA", b"GET /a/ HTTP/1.1\r\n")
    _, _, body = held_then(desc, dup, lambda c: c.send("PA", b"Host: t\r\nConnection: close\r\n\r\n"),
                           "node2")
    check(f"{desc}: the back-end read one request", "HTTP/1.1 200 OK", status(body))


@case
def overlap_holding():
    # The second segment starts inside the first and disagrees with it
    # there: the bytes read first stand, as TCP keeps them (/a/, not /b/).
    desc = "overlapping head segments that disagree"

    def first(c):
        c.send("PA", b"GET /a/ HT")

    def then(c):
        c.send("PA", b"/b/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
               seq=(c.snd - 6) & 0xFFFFFFFF, advance=False)
        c.snd = (c.snd - 6 + len(b"/b/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")) & 0xFFFFFFFF
    _, _, body = held_then(desc, first, then, "node2")
    check(f"{desc}: the back-end served the request as read", "HTTP/1.1 200 OK", status(body))


@case
def out_of_order_holding():
    # The end of the head comes first: it is held but not read; the
    # beginning does not complete the head, the end's retransmission does.
    desc = "the head's end before its beginning"
    tail = b"Host: t\r\nConnection: close\r\n\r\n"

    def first(c):
        c.send("PA", tail, seq=(c.snd + len(b"GET /a/ HTTP/1.1\r\n")) & 0xFFFFFFFF, advance=False)
        c.send("PA", b"GET /a/ HTTP/1.1\r\n")
        time.sleep(0.3)
        check(f"{desc}: not complete yet", 1, stat("node1", "pending"))

    held_then(desc, first, lambda c: c.send("PA", tail), "node2")


@case
def queue_full_holding():
    # More than 64 packets without a complete head: served locally.
    text = req(b"/a/", b"X-Pad: " + b"p" * 30 + b"\r\n")
    desc = f"a head in {len(text)} one-byte segments"
    c = Conn(w)
    c.send("S", options=[("MSS", 1460)])
    c.synack()
    d = Delta("node1")
    # Built before the handshake completes, sent at once: well within the
    # head timeout however slow scapy is.
    frames = [c.pkt("A")] + [c.pkt("PA", bytes([b]), seq=(c.snd + i) & 0xFFFFFFFF)
                             for i, b in enumerate(text)]
    frames = [w.eth + bytes(f) for f in frames]
    c.snd = (c.snd + len(text)) & 0xFFFFFFFF
    for f in frames:
        w.s.send(f)
    body = c.wait_body(b"served-by")
    check(f"{desc}: served by", "node1", served_by(body))
    d.expect(desc, "heads-too-large", 1)
    check(f"{desc}: closed cleanly", True, c.close())


def big_head(n):
    """A GET /a/ head of exactly n bytes (cookie lines of 1000 bytes)."""
    start = b"GET /a/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
    lines = b""
    i = 0
    while len(start) + len(lines) + 2 + 1012 <= n:
        lines += b"X-C%04d: " % i + b"c" * 990 + b"\r\n"
        i += 1
    pad = n - len(start) - len(lines) - 2 - len(b"X-Pad: \r\n")
    return start + lines + b"X-Pad: " + b"p" * pad + b"\r\n\r\n"


def send_big(c, data):
    for i in range(0, len(data), 1400):
        c.send("PA", data[i:i + 1400])


@case
def head_16k():
    desc = "a head of exactly 16 KiB"
    h = big_head(16384)
    assert len(h) == 16384
    held_then(desc, lambda c: send_big(c, h), lambda c: None, "node2")


@case
def head_over_16k():
    desc = "a head of 16 KiB and one byte"
    h = big_head(16385)
    held_then(desc, lambda c: send_big(c, h), lambda c: None, "node1", counter="heads-too-large")


@case
def no_host():
    desc = "an HTTP/1.1 request without Host"
    c = Conn(w).connect()
    d = Delta("node1")
    c.send("PA", b"GET /a/ HTTP/1.1\r\nConnection: close\r\n\r\n")
    body = c.wait_body(b"\r\n\r\n")
    check(f"{desc}: the front-end's server refuses it", "HTTP/1.1 400 Bad Request", status(body))
    d.expect(desc, "heads-bad", 1)
    d.expect(desc, "local", 1)
    check(f"{desc}: closed cleanly", True, c.close())


@case
def http10_no_host():
    held_then("an HTTP/1.0 request without Host", lambda c: c.send("PA", b"GET /a/ HTTP/1.0\r\n\r\n"),
              lambda c: None, "node2")


@case
def nul_in_url():
    desc = "a NUL byte in the URL"
    c = Conn(w).connect()
    d = Delta("node1")
    c.send("PA", req(b"/a/\x00x"))
    body = c.wait_body(b"\r\n\r\n")
    check(f"{desc}: answered by", "node1 HTTP/1.1 400 Bad Request", f"{x_node(body)} {status(body)}")
    d.expect(desc, "heads-bad", 1)
    check(f"{desc}: not handed off", 0, d("handoff-requests"))
    check(f"{desc}: closed cleanly", True, c.close())


@case
def non_ascii_url():
    # Bytes above 0x7f are not control bytes: the head parses, and the
    # rule for /a/ hands it to node2, whose server has no such file.
    desc = "non-ASCII bytes in the URL"
    c = Conn(w).connect()
    d = Delta("node1")
    c.send("PA", req(b"/a/\xc3\xa9\xff"))
    body = c.wait_body(b"\r\n\r\n")
    check(f"{desc}: answered by", "node2 HTTP/1.1 404 Not Found", f"{x_node(body)} {status(body)}")
    d.expect(desc, "heads-http", 1)
    d.expect(desc, "handoff-ok", 1)
    check(f"{desc}: closed cleanly", True, c.close())


# --- While the handoff is in flight (requested) ---------------------------

def netem(*args):
    subprocess.run(["ip", "netns", "exec", SW, "tc", "qdisc", *args], check=True)


@case
def fin_and_rst_requested():
    # node3's control link delays everything by 2.5 s (the shell set the
    # handoff timeout to 8 s): two connections wait for node3's answer
    # ("requested"), one gets the client's FIN meanwhile, the other its
    # reset.
    fin = "a FIN while the handoff is in flight"
    rst = "a reset while the handoff is in flight"
    both = "a FIN and a reset while handoffs are in flight"
    settle()
    d, n3 = Delta("node1"), Delta("node3")
    netem("add", "dev", "c-3", "root", "netem", "delay", "2500ms")
    try:
        cf, cr = Conn(w).connect(), Conn(w).connect()
        cf.send("PA", req(b"/b/", close=False))
        cr.send("PA", req(b"/b/", close=False))
        check(f"{both}: both wait for node3's answer (fe-in-flight)", 2,
              wait_for(lambda: stat("node1", "fe-in-flight"), 2))
        held = d("held-packets")
        cf.send("FA")
        cr.send("RA")
        check(f"{both}: held while the handoffs are in flight", 2,
              wait_for(lambda: d("held-packets") - held, 2))
        check(f"{both}: neither answered yet", 0, d("handoff-ok"))
        d.expect(both, "handoff-ok", 2, tenths=60)
    finally:
        netem("del", "dev", "c-3", "root")
    check(f"{fin}: served by", "node3", served_by(cf.wait_body(b"served-by")))
    check(f"{fin}: the back-end closes", True, cf.wait_fin())
    # The reset was flushed right behind the request: node3's server may
    # have answered before it, so only the ends are checked.
    n3.expect(f"{both}: node3 took both and ended both", "terminate-sent", 2)
    d.expect(both, "terminate-received", 2)
    check(f"{rst}: the client gets no FIN", False, cr.stream()[1])


# --- After the handoff (forwarding), and after its end (tombstone) -------

def handed_off(desc):
    c = Conn(w).connect()
    c.send("PA", req(b"/a/", close=False))
    body = c.wait_body(b"served-by")
    check(f"{desc}: handed off", "node2", served_by(body))
    return c


def again(c, desc):
    """One more request on a kept-alive connection."""
    n = c.stream()[0].count(b"served-by")
    c.send("PA", req(b"/a/", close=False))
    c.w.wait(c.sport, lambda s: c.stream()[0].count(b"served-by") > n)
    c.ack()
    check(f"{desc}: the connection still works", n + 1, c.stream()[0].count(b"served-by"))


def trace_conn(c, desc):
    """For a check that failed: every segment the client got on `c`
    (relative to the server's ISN, acknowledgements relative to the
    client's), and node2's sockets of the connection."""
    for seq, ack, fl, win, pl in c.segs():
        log(f"{desc}: got seq {(seq - c.irs) & 0xFFFFFFFF} ack {(ack - c.isn) & 0xFFFFFFFF} "
            f"flags {fl:#04x} win {win} len {len(pl)}")
    log(f"{desc}: the client's next sequence number is {(c.snd - c.isn) & 0xFFFFFFFF}")
    with open(f"/proc/{PIDS['node2']}/net/tcp") as f:
        for line in f:
            if f":{c.sport:04X} " in line:
                log(f"{desc}: node2 socket {' '.join(line.split()[1:6])}")


@case
def forwarding_hostile():
    desc = "while forwarding"
    settle()
    c = handed_off(desc)
    d1, d2 = Delta("node1"), Delta("node2")
    csum = tcp_mib("node2", "InCsumErrors")
    # A bad checksum is forwarded as it is; the back-end's TCP drops it.
    c.send("PA", req(b"/a/", close=False), advance=False, chksum=0xbeef)
    check(f"{desc}, a bad checksum: node1 forwarded it", True,
          wait_for(lambda: d1("fwd-packets") >= 1, True))
    check(f"{desc}, a bad checksum: node2 InCsumErrors", 1,
          wait_for(lambda: tcp_mib("node2", "InCsumErrors") - csum, 1))
    check(f"{desc}, a bad checksum: no answer", True, quiet(c))
    # A reset outside the window: forwarded, ignored.
    c.send("R", seq=(c.snd + 1000000) & 0xFFFFFFFF, advance=False)
    d1.expect(f"{desc}, a reset with a wrong sequence number", "fwd-packets", 2)
    if d1("fwd-packets") != 2:
        trace_conn(c, f"{desc}, a reset with a wrong sequence number")
    again(c, f"{desc}, after a reset with a wrong sequence number")
    # TCP ignored it: the back-end's entry must not end (its TERMINATE
    # would start the front-end's linger, after which node1's own stack
    # resets the connection).
    time.sleep(0.3)
    check(f"{desc}, a reset with a wrong sequence number: node2 sent no TERMINATE", "+0",
          f"+{d2('terminate-sent')}")
    # Data far outside the window: the back-end acknowledges what it has.
    n = len(c.segs())
    c.send("PA", b"Y" * 50, seq=(c.snd + 1000000) & 0xFFFFFFFF, advance=False)
    ok = c.w.wait(c.sport, lambda s: len(s) > n and s[-1][1] == c.snd and not s[-1][4])
    check(f"{desc}, data beyond the window: the back-end answers with an ACK", True, ok)
    # A duplicate of the last request: old data, no second answer.
    n = c.stream()[0].count(b"served-by")
    last = req(b"/a/", close=False)
    c.send("PA", last, seq=(c.snd - len(last)) & 0xFFFFFFFF, advance=False)
    time.sleep(0.8)
    check(f"{desc}, a duplicate request segment: not answered again", n,
          c.stream()[0].count(b"served-by"))
    # An overlapping segment: the new part is a complete request.
    tail = req(b"/a/", close=False)
    c.send("PA", b"\r\n" + tail, seq=(c.snd - 2) & 0xFFFFFFFF, advance=False)
    c.snd = (c.snd + len(tail)) & 0xFFFFFFFF
    c.w.wait(c.sport, lambda s: c.stream()[0].count(b"served-by") > n)
    c.ack()
    check(f"{desc}, an overlapping segment: its new bytes answered", n + 1,
          c.stream()[0].count(b"served-by"))
    # Options that do not parse cannot be translated: dropped.
    w.send(c.pkt("PA", b"\xfe\x01\xff\xff\x03\x00\x00\x00" + req(b"/a/", close=False),
                 dataofs=7, options=[]))
    d1.expect(f"{desc}, garbage options", "fwd-errors", 1)
    again(c, f"{desc}, after garbage options")
    body = c.stream()[0]
    check(f"{desc}: every answer from node2", body.count(b"served-by"),
          body.count(b"served-by node2"))
    # The client closes: forwarded, the back-end closes too, TERMINATE.
    c.send("FA")
    check(f"{desc}, a FIN: the back-end closes", True, c.wait_fin())
    d1.expect(f"{desc}, a FIN", "terminate-received", 1)
    check(f"{desc}: node1 keeps a tombstone", True, stat("node1", "fe-tombstones") >= 1)


@case
def rst_forwarding():
    desc = "a reset while forwarding"
    settle()
    c = handed_off(desc)
    d1, d2 = Delta("node1"), Delta("node2")
    c.send("R")
    # At least the reset: an ACK of the response still on its way when the
    # count started may be forwarded too.
    check(f"{desc}: node1 forwarded it", True,
          wait_for(lambda: d1("fwd-packets") >= 1, True))
    d2.expect(f"{desc}: node2 saw the reset", "terminate-sent", 1)
    d1.expect(desc, "terminate-received", 1)
    check(f"{desc}: the client gets nothing", True, quiet(c))


@case
def tombstone():
    desc = "after the connection ended (tombstone)"
    settle()
    c = Conn(w).connect()
    c.send("PA", req(b"/a/"))
    body = c.wait_body(b"served-by")
    check(f"{desc}: handed off", "node2", served_by(body))
    d1 = Delta("node1")
    # The server closed first (Connection: close): its socket waits in
    # TIME_WAIT, and the front-end in its tombstone.
    check(f"{desc}: the back-end closes", True, c.close())
    d1.expect(desc, "terminate-received", 1)
    # The client's FIN again (its ACK was lost, as far as it knows):
    # forwarded, and TIME_WAIT acknowledges it again.
    fwd = d1("fwd-packets")
    n = len(c.segs())
    c.send("FA", seq=(c.snd - 1) & 0xFFFFFFFF, advance=False)
    ok = c.w.wait(c.sport, lambda s: len(s) > n and s[-1][2] & ACK and s[-1][1] == c.snd)
    check(f"{desc}, a retransmitted FIN: forwarded and acknowledged", (1, True),
          (d1("fwd-packets") - fwd, ok))
    # A reset: forwarded, answered by nobody.
    c.send("R")
    check(f"{desc}, a reset: forwarded", 2, wait_for(lambda: d1("fwd-packets") - fwd, 2))
    check(f"{desc}, a reset: no answer", True, quiet(c))
    late.append(c)


late = []


@case
def slowloris():
    # One byte a second: the head timeout (2 s) ends the holding and the
    # connection is served locally, although its URL is /a/.
    desc = "a head sent one byte a second"
    c = Conn(w).connect()
    t0 = time.monotonic()
    d = Delta("node1")
    released = None
    sent = 0
    for b in b"GET /a/ ":
        c.send("PA", bytes([b]))
        sent += 1
        until = time.monotonic() + 1
        while time.monotonic() < until and not released:
            if d("heads-timeout"):
                released = time.monotonic() - t0
            time.sleep(0.05)
        if released:
            break
    d.expect(desc, "heads-timeout", 1)
    log(f"{desc}: released {released} s after the handshake, after {sent} bytes")
    # Never before the head timeout; late only by the tick and a slow guest.
    check(f"{desc}: released after the head timeout (2 s)", True,
          released is not None and 1.9 <= released < 2 + SLOW)
    d.expect(desc, "local", 1)
    check(f"{desc}: nothing pending", 0, stat("node1", "pending"))
    c.send("PA", b"GET /a/ "[sent:] + b"HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    check(f"{desc}: served by", "node1", served_by(c.wait_body(b"served-by")))
    check(f"{desc}: closed cleanly", True, c.close())


@case
def after_linger():
    # After the linger time (3 s; the slow head ran meanwhile) the
    # tombstone is gone and the front-end's own stack answers a late
    # packet of that connection with a reset.
    global expected_resets
    desc = "after the linger time"
    c = late[0]
    check(f"{desc}: the tombstones are gone", 0,
          wait_for(lambda: stat("node1", "fe-tombstones"), 0, 60))
    c.send("A")
    ok = c.w.wait(c.sport, lambda s: any(x[2] & RST for x in s))
    check(f"{desc}: the front-end's stack resets a late ACK", True, ok)
    expected_resets += 1


# TH_CASES=name,name runs only those cases (while debugging one).
only = [n for n in os.environ.get("TH_CASES", "").split(",") if n]
for fn in cases:
    if only and fn.__name__ not in only:
        continue
    t0 = time.monotonic()
    try:
        fn()
    except Exception as e:  # one broken case must not hide the others
        check(f"case {fn.__name__} ran", "ok", f"{type(e).__name__}: {e}")
    log(f"{fn.__name__}: {time.monotonic() - t0:.1f} s")
log(f"all cases: {time.monotonic() - T_GO:.1f} s")
out("RESETS", expected_resets)
