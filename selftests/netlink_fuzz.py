#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Random requests to every operation of the tcp_handoff family.

Usage: netlink_fuzz.py ROUNDS SEED

For each command number (the family's and a few that do not exist) sends
ROUNDS requests with random attribute sets, as "do" and as "dump": mostly
attribute types of the family's range with lengths a policy might accept
(1, 2, 4, 8, 16 bytes, or a string), some of any type, length and content,
some truncated or padded wrongly. Prints one line per command with the
errnos it got back ("cmd N ERRNO:COUNT ...", 0 for success), then "done". A request that gets no answer within 5 s
is reported as a hang. Raw sockets only: nothing here trusts the module.
"""
import random
import socket
import struct
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 16
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300

rounds, seed = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
sock.bind((0, 0))
sock.settimeout(5)
seq = 0


def nla(t, data):
    length = 4 + len(data)
    return struct.pack("=HH", length, t) + data + b"\0" * ((4 - length % 4) % 4)


def send(msg_type, flags, cmd, attrs, raw_tail=b""):
    global seq
    seq += 1
    payload = struct.pack("=BBH", cmd, 1, 0) + attrs + raw_tail
    sock.send(struct.pack("=IHHII", 16 + len(payload), msg_type, flags, seq, 0) + payload)
    return seq


def answers(want_seq):
    """The errnos of the answer to request `want_seq` (0: ok); parts of a
    dump are read until its end."""
    errs = []
    while True:
        data = sock.recv(1 << 16)
        off = 0
        while off + 16 <= len(data):
            length, mtype, _, mseq, _ = struct.unpack_from("=IHHII", data, off)
            if length < 16:
                return errs + ["badlen"]
            if mseq == want_seq:
                if mtype == NLMSG_ERROR:
                    errs.append(-struct.unpack_from("=i", data, off + 16)[0])
                    return errs
                if mtype == NLMSG_DONE:
                    errs.append(0)
                    return errs
            off += (length + 3) & ~3


def family_id():
    s = send(GENL_ID_CTRL, NLM_F_REQUEST, CTRL_CMD_GETFAMILY, nla(CTRL_ATTR_FAMILY_NAME, b"tcp_handoff\0"))
    data = sock.recv(1 << 16)
    length, mtype, _, mseq, _ = struct.unpack_from("=IHHII", data, 0)
    off = 20
    while off + 4 <= length:
        alen, atype = struct.unpack_from("=HH", data, off)
        if atype == CTRL_ATTR_FAMILY_ID:
            return struct.unpack_from("=H", data, off + 4)[0]
        off += (alen + 3) & ~3
    sys.exit("tcp_handoff family not found")


def random_attrs():
    out = b""
    for _ in range(rng.randrange(0, 7)):
        kind = rng.random()
        if kind < 0.7:
            t = rng.randrange(0, 60)
            size = rng.choice([0, 1, 2, 4, 8, 16, 32, 64])
            data = bytes(rng.getrandbits(8) for _ in range(size))
            if rng.random() < 0.2:
                data = bytes(rng.choice(b"abc/.*") for _ in range(size)) + b"\0"
        else:
            t = rng.randrange(0, 1 << 16)
            data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300)))
        out += nla(t, data)
    return out


fam = family_id()
for cmd in list(range(0, 22)) + [99, 255]:
    seen = {}
    for _ in range(rounds):
        dump = rng.random() < 0.3
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if dump else 0)
        tail = b""
        if rng.random() < 0.05:
            # A truncated attribute header at the end.
            tail = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 4)))
        s = send(fam, flags, cmd, random_attrs(), tail)
        try:
            for e in answers(s):
                seen[e] = seen.get(e, 0) + 1
        except socket.timeout:
            print("cmd", cmd, "hang", flush=True)
            sys.exit(1)
    # "cmd N ERRNO:COUNT ...", errno 0 for success.
    print("cmd", cmd, " ".join(
        "%s:%d" % (e, n) for e, n in sorted(seen.items(), key=lambda kv: str(kv[0]))),
        flush=True)
print("done", flush=True)
