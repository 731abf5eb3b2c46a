// SPDX-License-Identifier: GPL-2.0

//! The seed corpora of the fuzz targets, made here with the crate's own
//! encoders so that a frame seed is a valid frame (a fuzzer that starts
//! from valid frames gets past the header checks at once).
//!
//! `cargo test` checks that each seed below is in `fuzz/corpus/<target>/`
//! as made here; `FUZZ_WRITE_SEEDS=1 cargo test seeds` writes them (after
//! a change to the wire format, say). Files in the corpus folders that are
//! not made here (inputs a fuzzer found) are left alone.

use std::string::String;
use std::vec::Vec;
use std::{env, format, fs, vec};

use crate::auth::{seal, session_key, SESSION_KEY_LEN};
use crate::codec::{
    encode_frame, Endpoint, HandoffAck, HandoffNak, HandoffRequest, Hello, Keepalive, Message,
    MigrateRequest, MigrateState, MigrateStatus, NakReason, Reconcile, TcpInit, Terminate,
    FLAG_HMAC, MAX_FRAME, TERMINATE_ABORT,
};

use crate::icmp::IPPROTO_ICMPV6;
use crate::packet::{flags, nexthdr, parse_ipv6, IPPROTO_TCP};
use crate::rewrite::{build_segment_v6, SegOptions, Segment6};
use crate::seq::{csum_fold, csum_partial};

use super::{ToyMac, ACCEPTOR, CONNECTOR, IPV6_CONFIG_LEN, KEYS, NA, NC};

/// One seed: target, file name, bytes.
type Seed = (&'static str, String, Vec<u8>);

/// HTTP request heads as clients send them, and as they should not.
fn http_seeds() -> Vec<Seed> {
    let mut heads: Vec<(&str, Vec<u8>)> = vec![
        ("get-minimal", b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec()),
        (
            "get-browser",
            b"GET /static/img/logo.jpg?v=3 HTTP/1.1\r\nHost: www.example.com:8080\r\n\
              User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: image/avif,image/webp,*/*\r\n\
              Accept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\n\r\n"
                .to_vec(),
        ),
        (
            "post-content-length",
            b"POST /api/v1/items HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\n\
              Content-Length: 13\r\n\r\n{\"name\":\"x\"}\n"
                .to_vec(),
        ),
        (
            "post-chunked",
            b"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
              5\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
        ),
        (
            "pipelined",
            b"GET /a HTTP/1.1\r\nHost: example.com\r\n\r\nGET /b HTTP/1.1\r\nHost: example.com\r\n\r\n\
              HEAD /c HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
                .to_vec(),
        ),
        ("http10-keep-alive", b"GET /index.html HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n".to_vec()),
        ("http10-no-host", b"GET / HTTP/1.0\r\n\r\n".to_vec()),
        (
            "absolute-form",
            b"GET http://Example.COM:80/path/x?q=1&r=2 HTTP/1.1\r\nHost: ignored.example\r\n\r\n"
                .to_vec(),
        ),
        (
            // The path is `/`, which is not in the head.
            "absolute-form-no-path",
            b"GET http://example.com?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec(),
        ),
        ("connect", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".to_vec()),
        ("options-star", b"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec()),
        ("ipv6-host", b"DELETE /x HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n".to_vec()),
        ("empty-host", b"GET / HTTP/1.1\r\nHost:\r\n\r\n".to_vec()),
        ("bare-lf", b"PUT /doc HTTP/1.1\nHost: example.com\nContent-Length: 0\n\n".to_vec()),
        ("mixed-line-ends", b"GET / HTTP/1.1\nHost: example.com\r\n\n".to_vec()),
        (
            "custom-method",
            b"PROPFIND /dav/ HTTP/1.1\r\nHost: example.com\r\nDepth: 1\r\n\r\n".to_vec(),
        ),
        ("incomplete", b"GET /slow HTTP/1.1\r\nHost: exa".to_vec()),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\n  continued\r\n\r\n".to_vec()),
        (
            "duplicate-content-length",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n".to_vec(),
        ),
        (
            "content-length-and-chunked",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_vec(),
        ),
        (
            "odd-bytes",
            b"GET /\x80\xff%00 HTTP/1.1\r\nHost: ex\x00ample.com\r\nX-Bin: \x01\x7f\xfe\r\n\r\n".to_vec(),
        ),
        ("leading-empty-line", b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
        (
            "tls-client-hello",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x5a\x5a\x5a\x5a".to_vec(),
        ),
    ];
    let long_method = format!("{} / HTTP/1.1\r\nHost: a\r\n\r\n", "M".repeat(33));
    heads.push(("long-method", long_method.into_bytes()));
    let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..64 {
        many.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    heads.push(("too-many-headers", many));
    heads
        .into_iter()
        .map(|(name, bytes)| ("http_head", String::from(name), bytes))
        .collect()
}

const INIT: TcpInit = TcpInit {
    isn: 0x1234_5678,
    tsval: 1000,
    ts_ok: true,
    sack_ok: true,
    wscale: Some(7),
    mss: 1460,
    ecn: false,
    usec_ts: false,
};

const REQUEST: &[u8] = b"GET /a/b.jpg HTTP/1.1\r\nHost: example.com\r\n\r\n";

/// One message of each type (and the variants that decode differently).
fn messages() -> Vec<(&'static str, Message<'static>)> {
    vec![
        (
            "hello",
            Message::Hello(Hello {
                node_id: 1,
                proto_min: 1,
                proto_max: 1,
                nonce: NC,
                features: 0,
            }),
        ),
        (
            "handoff-request-v4",
            Message::HandoffRequest(HandoffRequest {
                conn_id: 0x0102_0304_0506_0708,
                client: Endpoint::v4([192, 0, 2, 10], 40000),
                service: Endpoint::v4([198, 51, 100, 1], 80),
                client_init: TcpInit {
                    isn: 0xffff_fff0,
                    ..INIT
                },
                fe_init: TcpInit {
                    wscale: None,
                    ecn: true,
                    ..INIT
                },
                client_ack_seq: 0xffff_fff1,
                client_ack_tsval: 1001,
                client_ack_tsecr: 1000,
                client_rcv_wnd: 502,
                request: REQUEST,
            }),
        ),
        (
            "handoff-request-v6",
            Message::HandoffRequest(HandoffRequest {
                conn_id: 9,
                client: Endpoint::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 1),
                service: Endpoint::v6(
                    [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                    443,
                ),
                client_init: TcpInit {
                    usec_ts: true,
                    wscale: Some(14),
                    ..INIT
                },
                fe_init: INIT,
                client_ack_seq: 1,
                client_ack_tsval: 0,
                client_ack_tsecr: 0,
                client_rcv_wnd: 0,
                request: b"",
            }),
        ),
        (
            "handoff-ack",
            Message::HandoffAck(HandoffAck {
                conn_id: 0x0102_0304_0506_0708,
                be_init: INIT,
                be_addr: Endpoint::v4([198, 51, 100, 2], 80),
            }),
        ),
        (
            "handoff-nak",
            Message::HandoffNak(HandoffNak {
                conn_id: 7,
                reason: NakReason::TableFull,
            }),
        ),
        (
            "handoff-nak-unknown-reason",
            Message::HandoffNak(HandoffNak {
                conn_id: 7,
                reason: NakReason::Unknown(0xbeef),
            }),
        ),
        (
            "terminate",
            Message::Terminate(Terminate {
                conn_id: 7,
                reason: TERMINATE_ABORT,
            }),
        ),
        (
            "keepalive",
            Message::Keepalive(Keepalive {
                active_conns: 12,
                in_flight: 1,
                load: 300,
            }),
        ),
        (
            "reconcile",
            Message::Reconcile(
                Reconcile::from_raw(&[
                    0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                ])
                .expect("two ids"),
            ),
        ),
        (
            "reconcile-empty",
            Message::Reconcile(Reconcile::from_raw(&[]).expect("no ids")),
        ),
        (
            "migrate-request",
            Message::MigrateRequest(MigrateRequest {
                conn_id: 9,
                client_seq: 0xffff_fff0,
            }),
        ),
        (
            "migrate-state",
            Message::MigrateState(MigrateState {
                conn_id: 9,
                status: MigrateStatus::Ready,
                client_seq: 0xffff_fff0,
                server_seq: 77,
                tsval: 1000,
                ts_recent: 2000,
                snd_wnd: 1 << 20,
            }),
        ),
    ]
}

/// `msg` as a frame with sequence number `seq`, tagged (with zeros) under
/// key `key_id` if that is not 0.
fn frame(msg: &Message<'_>, seq: u32, key_id: u8) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_FRAME];
    let flags = if key_id != 0 { FLAG_HMAC } else { 0 };
    let n = encode_frame(msg, seq, flags, key_id, &mut buf).expect("a valid message");
    buf.truncate(n);
    buf
}

/// Valid frames, frames one edit away from valid, and a stream of frames.
fn codec_seeds() -> Vec<Seed> {
    let mut seeds: Vec<(String, Vec<u8>)> = messages()
        .iter()
        .enumerate()
        .map(|(i, (name, msg))| (String::from(*name), frame(msg, i as u32, 0)))
        .collect();
    let ka = messages()[7].1;
    let req = messages()[1].1;
    seeds.push(("keepalive-tagged".into(), frame(&ka, 3, 1)));
    let mut longer = frame(&ka, 4, 0);
    // A body longer than its layout: a later revision's extra field.
    longer[11] += 4;
    longer.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    seeds.push(("keepalive-longer-body".into(), longer));
    let whole = frame(&req, 5, 0);
    seeds.push((
        "handoff-request-truncated".into(),
        whole[..whole.len() / 2].to_vec(),
    ));
    let mut stream = frame(&messages()[0].1, 0, 0);
    stream.extend_from_slice(&frame(&req, 1, 0));
    stream.extend_from_slice(&frame(&ka, 2, 0));
    stream.extend_from_slice(&whole[..20]);
    seeds.push(("stream".into(), stream));
    for (name, at, value) in [
        ("bad-magic", 0, b'X'),
        ("bad-version", 2, 2),
        ("unknown-type", 3, 9),
        ("unknown-flag", 5, 0x02),
        ("reserved-set", 7, 1),
    ] {
        let mut bad = frame(&ka, 6, 0);
        bad[at] = value;
        seeds.push((name.into(), bad));
    }
    let mut oversized = frame(&ka, 7, 0);
    oversized[8..12].copy_from_slice(&0x0001_0001u32.to_be_bytes());
    seeds.push(("oversized-length".into(), oversized));
    seeds
        .into_iter()
        .map(|(name, bytes)| ("codec", name, bytes))
        .collect()
}

/// An `auth` record: op, flip position, length, frame.
fn record(op: u8, flip_at: Option<u8>, frame: &[u8]) -> Vec<u8> {
    let mut r = vec![op];
    r.extend(flip_at);
    let len = u16::try_from(frame.len()).expect("a short frame");
    r.extend_from_slice(&len.to_be_bytes());
    r.extend_from_slice(frame);
    r
}

/// `msg` tagged by the peer under key `key_id`'s first secret.
fn sealed(msg: &Message<'_>, seq: u32, key_id: u8) -> Vec<u8> {
    let secret = KEYS.iter().find(|(id, _)| *id == key_id).expect("a key").1;
    let key: [u8; SESSION_KEY_LEN] = session_key(&ToyMac, secret, CONNECTOR, &NC, ACCEPTOR, &NA);
    let mut f = frame(msg, seq, key_id);
    seal(&ToyMac, &key, &mut f).expect("a tagged frame");
    f
}

/// Sessions: good frames under each key, replays, wrong keys, and keys
/// replaced under a live session.
fn auth_seeds() -> Vec<Seed> {
    let ka = messages()[7].1;
    let term = messages()[6].1;
    let start = |seq: u32| seq.to_be_bytes().to_vec();
    let cat = |parts: &[Vec<u8>]| parts.concat();
    let seeds = vec![
        (
            "each-key-in-turn",
            cat(&[
                start(0),
                record(0, None, &sealed(&ka, 0, 1)),
                record(0, None, &sealed(&term, 1, 2)),
                record(0, None, &sealed(&ka, 2, 200)),
            ]),
        ),
        (
            "replayed",
            cat(&[
                start(5),
                record(0, None, &sealed(&ka, 5, 1)),
                record(0, None, &sealed(&ka, 5, 1)),
            ]),
        ),
        (
            "sequence-wraps",
            cat(&[
                start(u32::MAX),
                record(0, None, &sealed(&ka, u32::MAX, 2)),
                record(0, None, &sealed(&ka, 0, 2)),
            ]),
        ),
        (
            // The harness writes the number and the tag.
            "harness-tags",
            cat(&[
                start(77),
                record(0x03, None, &frame(&ka, 0, 1)),
                record(0x03, None, &frame(&messages()[1].1, 0, 200)),
                record(0x05, None, &frame(&ka, 0, 2)),
            ]),
        ),
        (
            "tag-with-configured-key",
            cat(&[start(0), record(0x05, None, &frame(&ka, 0, 1))]),
        ),
        (
            "bit-flipped-after-tagging",
            cat(&[
                start(0),
                record(0x0b, Some(6), &frame(&ka, 0, 1)),
                record(0x2b, Some(20), &frame(&ka, 0, 1)),
                record(0xeb, Some(40), &frame(&ka, 0, 1)),
            ]),
        ),
        (
            "failures-then-good",
            cat(&[
                start(0),
                record(0, None, &frame(&ka, 0, 0)),
                record(0, None, &frame(&ka, 0, 9)),
                record(0, None, &sealed(&ka, 0, 1)[..40]),
                record(0, None, &sealed(&ka, 0, 1)),
            ]),
        ),
        (
            "garbage",
            cat(&[start(1), record(0x0f, Some(3), b"TH\x01\x06\x00\x01")]),
        ),
    ];
    seeds
        .into_iter()
        .map(|(name, bytes)| ("auth", String::from(name), bytes))
        .collect()
}

const CLIENT6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64];
const SERVICE6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const BACKEND6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const ROUTER6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe];

/// The `ipv6` target's configuration: partial checksum, built options
/// (4 bits), the address the rewrites put in, a translation.
fn ipv6_config(partial: bool, options: u8, addr: [u8; 16], ws: (u8, u8)) -> Vec<u8> {
    let mut c = vec![u8::from(partial) | options << 1];
    c.extend_from_slice(&addr);
    for n in [0x1000_0000u32, 0x2000_0000, 1000, 5000] {
        c.extend_from_slice(&n.to_be_bytes());
    }
    c.extend_from_slice(&[ws.0, ws.1]);
    assert_eq!(c.len(), IPV6_CONFIG_LEN);
    c
}

/// A client segment as [`build_segment_v6`] makes it.
fn segment6(seg_flags: u8, options: SegOptions, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 1500];
    let seg = Segment6 {
        saddr: CLIENT6,
        sport: 40000,
        daddr: SERVICE6,
        dport: 80,
        seq: 0xffff_fff0,
        ack: 0x1234_5678,
        flags: seg_flags,
        window: 502,
        options,
        payload,
    };
    let n = build_segment_v6(&seg, &mut out).expect("room");
    out.truncate(n);
    out
}

/// The sum over the pseudo-header of `p` (upper-layer protocol `proto`)
/// and the upper-layer bytes from `at`, as a checksum field.
fn upper_check(p: &[u8], at: usize, proto: u8) -> u16 {
    let mut sum = csum_partial(&p[8..40], 0);
    sum = csum_partial(&((p.len() - at) as u32).to_be_bytes(), sum);
    sum = csum_partial(&[0, 0, 0, proto], sum);
    csum_fold(csum_partial(&p[at..], sum))
}

/// Sets the payload length of `p` and its checksum field at `check`
/// (whose upper layer starts at `at`) right.
fn fix6(p: &mut [u8], at: usize, check: usize, proto: u8) {
    let plen = (p.len() - 40) as u16;
    p[4..6].copy_from_slice(&plen.to_be_bytes());
    p[check..check + 2].fill(0);
    let c = upper_check(p, at, proto);
    p[check..check + 2].copy_from_slice(&c.to_be_bytes());
}

/// `seg` with `chain` inserted after its fixed header, the first header
/// of the chain being `first`.
fn with_chain(seg: &[u8], first: u8, chain: &[u8]) -> Vec<u8> {
    let mut p = seg[..40].to_vec();
    p[6] = first;
    p.extend_from_slice(chain);
    p.extend_from_slice(&seg[40..]);
    let plen = (p.len() - 40) as u16;
    p[4..6].copy_from_slice(&plen.to_be_bytes());
    p
}

/// A destination-options (or hop-by-hop) header of 8 bytes.
fn opts8(next: u8) -> [u8; 8] {
    [next, 0, 1, 4, 0, 0, 0, 0]
}

/// An ICMPv6 error of type `ty` from a router to the service, quoting
/// `quoted` (a packet from the service to the client).
fn icmp6_error(ty: u8, outer_chain: &[u8], quoted: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0, 0, 0, IPPROTO_ICMPV6, 255];
    p.extend_from_slice(&ROUTER6);
    p.extend_from_slice(&SERVICE6);
    if !outer_chain.is_empty() {
        p[6] = nexthdr::DEST;
        p.extend_from_slice(outer_chain);
    }
    let icmp = p.len();
    p.extend_from_slice(&[ty, 0, 0, 0]);
    p.extend_from_slice(&1280u32.to_be_bytes());
    p.extend_from_slice(quoted);
    fix6(&mut p, icmp, icmp + 2, IPPROTO_ICMPV6);
    p
}

/// IPv6 segments and ICMPv6 errors, each after a configuration: whole
/// segments with and without extension headers (each kind of rewrite
/// applies), in both checksum states, then what must be refused.
fn ipv6_seeds() -> Vec<Seed> {
    let ts = SegOptions {
        timestamp: Some((7, 8)),
        ..SegOptions::default()
    };
    let syn = segment6(
        flags::SYN,
        SegOptions {
            mss: Some(1440),
            wscale: Some(7),
            sack_perm: true,
            timestamp: Some((7, 0)),
        },
        b"",
    );
    let ack = segment6(flags::ACK | flags::PSH, ts, REQUEST);
    // NOP NOP TS, NOP SACK with one block (at an odd offset), EOL.
    let mut sack = ack[..72].to_vec();
    sack[52] = 0xb0;
    sack.extend_from_slice(&[1, 5, 10, 0x12, 0x34, 0x56, 0x79, 0x12, 0x34, 0x60, 0, 0]);
    fix6(&mut sack, 40, 56, IPPROTO_TCP);
    // The partial state: the field holds the pseudo-header sum only.
    let mut partial = ack.clone();
    let mut sum = csum_partial(&partial[8..40], 0);
    sum = csum_partial(&((partial.len() - 40) as u32).to_be_bytes(), sum);
    sum = csum_partial(&[0, 0, 0, IPPROTO_TCP], sum);
    partial[56..58].copy_from_slice(&(!csum_fold(sum)).to_be_bytes());
    let mut chain = opts8(nexthdr::DEST).to_vec();
    chain.extend_from_slice(&opts8(nexthdr::ROUTING));
    chain.extend_from_slice(&[nexthdr::FRAGMENT, 2, 4, 0]); // segment routing, 0 left
    chain.extend_from_slice(&[0; 4]);
    chain.extend_from_slice(&BACKEND6);
    chain.extend_from_slice(&[IPPROTO_TCP, 0, 0, 0, 0, 0, 0, 1]); // atomic
    let ext = with_chain(&ack, nexthdr::HOP, &chain);
    let frag = |off_m: u16| {
        let [a, b] = off_m.to_be_bytes();
        with_chain(&ack, nexthdr::FRAGMENT, &[IPPROTO_TCP, 0, a, b, 0, 0, 0, 2])
    };
    let mut in_transit = chain.clone();
    in_transit[16 + 3] = 1;
    let mut too_many = Vec::new();
    for _ in 0..9 {
        too_many.extend_from_slice(&opts8(nexthdr::DEST));
    }
    too_many[8 * 8] = IPPROTO_TCP;
    let mut misplaced = opts8(nexthdr::HOP).to_vec();
    misplaced.extend_from_slice(&opts8(IPPROTO_TCP));
    let mut jumbo = ack.clone();
    jumbo[4..6].fill(0);
    // What the back-end sent, as a router quotes it.
    let reply = {
        let mut r = ack.clone();
        r[8..24].copy_from_slice(&SERVICE6);
        r[24..40].copy_from_slice(&CLIENT6);
        r[40..42].copy_from_slice(&80u16.to_be_bytes());
        r[42..44].copy_from_slice(&40000u16.to_be_bytes());
        fix6(&mut r, 40, 56, IPPROTO_TCP);
        r
    };
    let quoted_frag = with_chain(
        &reply,
        nexthdr::FRAGMENT,
        &[IPPROTO_TCP, 0, 0, 1, 0, 0, 0, 3],
    );
    let to_be = ipv6_config(false, 0x0f, BACKEND6, (7, 9));
    let to_client = ipv6_config(false, 0x05, SERVICE6, (9, 7));
    let partial_cfg = ipv6_config(true, 0, BACKEND6, (7, 7));
    let cases: Vec<(&str, &[u8], Vec<u8>)> = vec![
        ("syn", &to_be, syn),
        ("ack-timestamps-request", &to_be, ack.clone()),
        ("ack-to-client", &to_client, ack.clone()),
        ("sack-odd-offset", &to_be, sack),
        ("partial-checksum", &partial_cfg, partial),
        ("extension-chain", &to_be, ext),
        ("atomic-fragment", &to_be, frag(0)),
        ("first-fragment", &to_be, frag(1)),
        ("later-fragment", &to_be, frag(0x10)),
        (
            "routing-in-transit",
            &to_be,
            with_chain(&ack, nexthdr::HOP, &in_transit),
        ),
        (
            "too-many-extensions",
            &to_be,
            with_chain(&ack, nexthdr::DEST, &too_many),
        ),
        (
            "misplaced-hop-by-hop",
            &to_be,
            with_chain(&ack, nexthdr::DEST, &misplaced),
        ),
        ("zero-payload-length", &to_be, jumbo),
        ("icmp6-packet-too-big", &to_be, icmp6_error(2, &[], &reply)),
        (
            "icmp6-unreachable-short-quote",
            &to_be,
            icmp6_error(1, &[], &reply[..48]),
        ),
        (
            "icmp6-extensions-both-sides",
            &to_be,
            icmp6_error(
                3,
                &opts8(IPPROTO_ICMPV6),
                &with_chain(&reply, nexthdr::DEST, &opts8(IPPROTO_TCP)),
            ),
        ),
        (
            "icmp6-quoted-first-fragment",
            &to_be,
            icmp6_error(4, &[], &quoted_frag),
        ),
        ("icmp6-echo-request", &to_be, icmp6_error(128, &[], &reply)),
    ];
    cases
        .into_iter()
        .map(|(name, cfg, pkt)| {
            assert!(
                name.starts_with("icmp6")
                    || parse_ipv6(&pkt).map_or(true, |ip| ip.protocol == IPPROTO_TCP)
            );
            ("ipv6", String::from(name), [cfg, &pkt[..]].concat())
        })
        .collect()
}

#[test]
fn seeds_are_in_the_corpus() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let write = env::var_os("FUZZ_WRITE_SEEDS").is_some();
    let mut seeds = http_seeds();
    seeds.extend(codec_seeds());
    seeds.extend(auth_seeds());
    seeds.extend(ipv6_seeds());
    for (target, name, bytes) in seeds {
        assert!(bytes.len() <= 4096, "{target}/{name}: keep seeds small");
        let path = root.join(target).join(&name);
        if write {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, &bytes).unwrap();
        } else {
            assert_eq!(
                fs::read(&path).ok().as_deref(),
                Some(&bytes[..]),
                "{target}/{name} is stale or missing: FUZZ_WRITE_SEEDS=1 cargo test seeds"
            );
        }
    }
}
