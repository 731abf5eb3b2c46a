// SPDX-License-Identifier: GPL-2.0

//! The `http_head` target: the request-head functions the front-end runs
//! on a client's first bytes, and the dispatch rules it runs on the result.

use crate::follow::{Pending, Segment, Stream, Verdict};
use crate::framing::{Body, End, Framer};
use crate::http::{
    head_status, parse_head, HeadStatus, Method, ParseError, Request, MAX_METHOD_LEN,
};
use crate::rules::{first_match, pick_target, url_hash, NodeLoad, PathMatch, Policy, Rule};

use super::within;

/// The module's head limit (`btcp::front::HEAD_MAX`, private to the
/// module): the one that matters, but only inputs of that size reach it,
/// so smaller limits are checked too.
const MODULE_HEAD_MAX: usize = 16384;

/// Checks the HTTP head functions on `data`, taken as the bytes a client
/// sent so far.
pub fn http_head(data: &[u8]) {
    for max_head in [MODULE_HEAD_MAX, 64, data.len(), data.len() / 2] {
        check_status(data, max_head);
    }
    // The front-end parses only a complete head, but the parser must cope
    // with anything.
    if let Ok(req) = parse_head(data) {
        check_request(data, &req);
    }
    for m in [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Options,
        Method::Patch,
        Method::Connect,
        Method::Trace,
    ] {
        assert_eq!(m.name().map(Method::from_bytes), Some(m));
    }
    let token = data.split(|&b| b == b' ').next().unwrap_or_default();
    if let Some(name) = Method::from_bytes(token).name() {
        assert_eq!(name, token);
    }
    // Taken as a whole kept-alive stream, the requests found do not depend
    // on how the bytes arrived.
    let whole = frame(data, data.len().max(1));
    for step in [1, 7, data.len() / 2 + 1] {
        assert_eq!(frame(data, step), whole, "pieces of {step}");
    }
    // Followed after its first request as the front-end does, segment by
    // segment: the heads decided do not depend on the segments either.
    let whole = follow(data, data.len().max(1));
    for step in [1, 5, data.len() / 3 + 1] {
        assert_eq!(follow(data, step), whole, "segments of {step}");
    }
}

/// A fixed buffer for a [`Stream`]'s pending bytes.
struct Held {
    buf: [u8; 1024],
    len: usize,
}

impl Pending for Held {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    fn append(&mut self, data: &[u8]) -> bool {
        let Some(to) = self.buf.get_mut(self.len..self.len + data.len()) else {
            return false;
        };
        to.copy_from_slice(data);
        self.len += data.len();
        true
    }
    fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }
}

/// Follows `data` after its first request in segments of `step` bytes,
/// deciding each later head at once: a digest of the heads decided (where
/// each starts, its path), how many, and where following stopped.
fn follow(data: &[u8], step: usize) -> Option<(u64, u32, u32)> {
    const ISN: u32 = 0xffff_fff0;
    let HeadStatus::Complete { head_len } = head_status(data, 1024) else {
        return None;
    };
    let req = parse_head(&data[..head_len]).ok()?;
    let mut p = Held {
        buf: [0; 1024],
        len: 0,
    };
    let first = head_len.min(data.len());
    let (mut s, sent) = Stream::start(&req, head_len, &data[..first], ISN, 1024, &mut p)?;
    assert_eq!(sent, head_len);
    let (mut digest, mut heads) = (0u64, 0u32);
    let mut at = first;
    while at < data.len() {
        let n = step.min(data.len() - at);
        let seg = Segment {
            seq: ISN.wrapping_add(at as u32),
            len: n,
            fin: false,
            rst: false,
        };
        let base = at;
        let v = s.segment(&seg, &mut p, &mut |off, out: &mut [u8]| {
            out.copy_from_slice(&data[base + off..base + off + out.len()]);
            true
        });
        let lo = s.limit().wrapping_sub(ISN) as usize;
        let hi = s.next_seq().wrapping_sub(ISN) as usize;
        assert_eq!(p.bytes(), &data[lo..hi], "pending bytes");
        match v {
            Verdict::Forward | Verdict::Hold => {}
            Verdict::Release => return Some((digest, heads, s.limit())),
            Verdict::Decide => loop {
                let HeadStatus::Complete { head_len } = head_status(p.bytes(), 1024) else {
                    unreachable!("deciding without a complete head");
                };
                let mut head = [0u8; 1024];
                head[..head_len].copy_from_slice(&p.bytes()[..head_len]);
                let Ok(req) = parse_head(&head[..head_len]) else {
                    return Some((digest, heads, s.limit()));
                };
                for &b in s.limit().to_le_bytes().iter().chain(req.path) {
                    digest = (digest ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
                }
                heads += 1;
                if !s.pass_head(Body::of(&req), head_len, &mut p) {
                    return Some((digest, heads, s.limit()));
                }
                match s.next_head(&p) {
                    Some(true) => {}
                    Some(false) => break,
                    None => return Some((digest, heads, s.limit())),
                }
            },
        }
        at += n;
    }
    Some((digest, heads, s.limit()))
}

/// How a framed stream ended up: a digest of each head found (its offset
/// and path), how many, the framer's offset, and why framing stopped
/// (`Some(None)`: at a head that is not a valid request).
type Framed = (u64, u32, u64, Option<Option<End>>);

/// Frames `data` as a client's stream fed in pieces of `step` bytes, as the
/// front-end would: heads collected across pieces, bodies passed over.
fn frame(data: &[u8], step: usize) -> Framed {
    const HEAD_MAX: usize = 2048;
    let mut f = Framer::new();
    let mut head = [0u8; HEAD_MAX];
    let mut have = 0usize;
    let (mut digest, mut heads) = (0u64, 0u32);
    for piece in data.chunks(step) {
        let mut rest = piece;
        loop {
            let before = f.offset();
            let n = f.skip(rest);
            assert!(n <= rest.len() && f.offset() - before == n as u64);
            rest = &rest[n..];
            if let Some(end) = f.ended() {
                return (digest, heads, f.offset(), Some(Some(end)));
            }
            if rest.is_empty() {
                break;
            }
            assert!(f.at_head(), "bytes left only at a head");
            let take = rest.len().min(HEAD_MAX - have);
            head[have..have + take].copy_from_slice(&rest[..take]);
            let had = have;
            have += take;
            match head_status(&head[..have], HEAD_MAX) {
                HeadStatus::Complete { head_len } => {
                    let Ok(req) = parse_head(&head[..head_len]) else {
                        return (digest, heads, f.offset(), Some(None));
                    };
                    for &b in f.offset().to_le_bytes().iter().chain(req.path) {
                        digest = (digest ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
                    }
                    heads += 1;
                    f.head(&req, head_len);
                    rest = &rest[head_len - had..];
                    have = 0;
                }
                HeadStatus::Incomplete => break,
                HeadStatus::NotHttp | HeadStatus::TooLarge => {
                    return (digest, heads, f.offset(), Some(None));
                }
            }
        }
    }
    (digest, heads, f.offset(), f.ended().map(Some))
}

/// `head_status` with limit `max_head`, what the front-end does with its
/// verdict, and what it would have said on the bytes before.
fn check_status(data: &[u8], max_head: usize) {
    let status = head_status(data, max_head);
    match status {
        HeadStatus::Complete { head_len } => {
            assert!(head_len <= data.len() && head_len <= max_head, "{status:?}");
            let head = &data[..head_len];
            assert!(
                head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n"),
                "a head ends with an empty line"
            );
            // What the front-end parses: a complete head is never
            // "incomplete" to the parser, and the bytes after it (body,
            // next pipelined request) change nothing.
            let parsed = parse_head(head);
            assert_ne!(parsed, Err(ParseError::Incomplete), "{status:?}");
            assert_eq!(parsed, parse_head(data), "bytes after the head matter");
            if let Ok(req) = parsed {
                check_request(head, &req);
                check_dispatch(&req);
            }
            // One byte less is not a head yet.
            assert_eq!(
                head_status(&data[..head_len - 1], max_head),
                HeadStatus::Incomplete
            );
        }
        HeadStatus::Incomplete => {
            assert!(data.len() < max_head);
            assert!(
                parse_head(data).is_err(),
                "a request without a complete head"
            );
        }
        HeadStatus::TooLarge => assert!(data.len() >= max_head),
        HeadStatus::NotHttp => {
            // The parser may take a method longer than the sniffer does,
            // nothing else.
            if let Ok(req) = parse_head(data) {
                assert!(req.method_raw.len() > MAX_METHOD_LEN, "{req:?}");
            }
        }
    }
    // The front-end asks again as each segment arrives and acts on the
    // first verdict other than Incomplete: more bytes must not change it.
    // (A limit shorter than a method may see TooLarge before NotHttp; the
    // connection is refused either way.)
    let len = data.len();
    for cut in [1, len / 3, len / 2, len.saturating_sub(1)] {
        let Some(prefix) = data.get(..cut) else {
            continue;
        };
        match head_status(prefix, max_head) {
            HeadStatus::Incomplete => {}
            HeadStatus::TooLarge if status == HeadStatus::NotHttp => {}
            early => assert_eq!(early, status, "after {cut} bytes"),
        }
    }
}

/// Whether `b` is a token character (RFC 9110 section 5.6.2), written
/// again from the RFC rather than taken from the parser.
fn tchar(b: u8) -> bool {
    b.is_ascii_graphic() && !b"\"(),/:;<=>?@[\\]{}".contains(&b)
}

/// What every accepted request must look like.
fn check_request(head: &[u8], req: &Request<'_>) {
    // The one slice not from the head: the path of an absolute-form target
    // without one.
    let path = Some(req.path).filter(|p| *p != b"/");
    for part in [Some(req.method_raw), path, req.query, req.host]
        .into_iter()
        .flatten()
    {
        assert!(within(head, part), "a slice outside the head: {req:?}");
    }
    assert!(!req.method_raw.is_empty() && req.method_raw.iter().all(|&b| tchar(b)));
    assert_eq!(Method::from_bytes(req.method_raw), req.method);
    if let Some(name) = req.method.name() {
        assert_eq!(name, req.method_raw);
    }
    assert!(req.version_minor <= 9);
    assert!(
        !(req.chunked && req.content_length.is_some()),
        "two framings: {req:?}"
    );
    assert!(
        !req.chunked || req.version_minor >= 1,
        "chunked in HTTP/1.0"
    );
    if req.version_minor >= 1 {
        // HTTP/1.1 needs a Host header (it may be empty, then `host` is
        // None), unless the target names one.
        assert!(req.host.is_some() || head_has_host_header(head), "{req:?}");
    }
    if let Some(host) = req.host {
        assert!(!host.is_empty());
        assert!(
            !host.iter().any(|&b| b <= b' '
                || b == 0x7f
                || matches!(b, b'/' | b'?' | b'#' | b'@' | b',' | b'\\')),
            "host {host:?}"
        );
    }
    // Bytes that would let two parsers disagree about the target.
    for part in [Some(req.path), req.query].into_iter().flatten() {
        assert!(
            !part.iter().any(|&b| b <= b' ' || b == 0x7f || b == b'#'),
            "target {part:?}"
        );
    }
    assert!(!req.path.contains(&b'?'));
    match req.method {
        Method::Connect => {
            assert!(req.path.is_empty() && req.query.is_none() && req.host.is_some());
        }
        m => assert!(
            req.path.first() == Some(&b'/') || (req.path == b"*" && m == Method::Options),
            "path {:?}",
            req.path
        ),
    }
}

/// Whether some header line of `head` is named `Host`.
fn head_has_host_header(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n')
        .skip(1)
        .any(|line| line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"host:"))
}

/// Every node is up, with a load that differs per node.
struct AllUp;

impl NodeLoad for AllUp {
    fn is_up(&self, _node: u32) -> bool {
        true
    }
    fn active_conns(&self, node: u32) -> u32 {
        node.wrapping_mul(7) % 5
    }
}

/// The dispatch rules the front-end runs on a parsed request: a match is
/// the first rule that matches, and a pick is one of the rule's targets.
fn check_dispatch(req: &Request<'_>) {
    const TARGETS: &[u32] = &[1, 2, 3];
    let rules = [
        Rule {
            method: Some(Method::Post),
            host: None,
            path: PathMatch::Prefix(b"/api/"),
            targets: TARGETS,
            policy: Policy::RoundRobin,
        },
        Rule {
            method: None,
            host: Some(b"*.example.com"),
            path: PathMatch::Suffix(b".jpg"),
            targets: TARGETS,
            policy: Policy::HashUrl,
        },
        Rule {
            method: Some(Method::Get),
            host: Some(b"example.com"),
            path: PathMatch::Exact(b"/"),
            targets: TARGETS,
            policy: Policy::LeastConnections,
        },
        Rule {
            method: None,
            host: None,
            path: PathMatch::Any,
            targets: TARGETS,
            policy: Policy::HashUrl,
        },
    ];
    let i = first_match(&rules, req).expect("the last rule matches anything");
    assert!(rules[i].matches(req) && !rules[..i].iter().any(|r| r.matches(req)));
    let mut cursor = url_hash(req.host, req.path);
    for rule in &rules {
        let node = pick_target(rule, req, &mut cursor, &AllUp).expect("every node is up");
        assert!(TARGETS.contains(&node));
    }
    // The same URL always goes to the same node.
    assert_eq!(
        pick_target(&rules[3], req, &mut 0, &AllUp),
        pick_target(&rules[3], req, &mut 1, &AllUp)
    );
}
