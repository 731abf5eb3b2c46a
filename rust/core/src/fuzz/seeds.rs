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
    NakReason, Reconcile, TcpInit, Terminate, FLAG_HMAC, MAX_FRAME, TERMINATE_ABORT,
};

use super::{ToyMac, ACCEPTOR, CONNECTOR, KEYS, NA, NC};

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

#[test]
fn seeds_are_in_the_corpus() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let write = env::var_os("FUZZ_WRITE_SEEDS").is_some();
    let mut seeds = http_seeds();
    seeds.extend(codec_seeds());
    seeds.extend(auth_seeds());
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
