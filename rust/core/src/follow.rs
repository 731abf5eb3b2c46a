// SPDX-License-Identifier: GPL-2.0

//! Where a kept-alive connection's later requests start, in the client's
//! sequence space, as the front-end forwards the client's segments
//! (keep-alive routing).
//!
//! A [`Stream`] reads the client's in-order bytes with a [`Framer`]. Body
//! bytes may go on to the back-end serving the connection as they come:
//! they advance [`Stream::limit`]. From the first byte of a later request
//! head on, bytes are *pending*: the caller keeps them (a [`Pending`]
//! buffer) and holds the segments that carry them until the head is
//! complete and decided. A head that stays on its node, or moves with the
//! connection, is passed over ([`Stream::pass_head`]) and the limit moves
//! past it and past whatever of its body is pending.
//!
//! Anything the framer cannot follow to the letter ends following
//! ([`Verdict::Release`]): a gap in the sequence space, a body it refuses,
//! a protocol switch, the last request, a FIN or reset, or more pending
//! bytes than the caller's bound. The connection then stays where it is.

use super::framing::{Body, Framer};
use super::http::{self, HeadStatus, Request};
use super::seq::{seq_after, seq_before};

/// The pending bytes of a [`Stream`]: the client's bytes from
/// [`Stream::limit`] to [`Stream::next_seq`], kept by the caller.
pub trait Pending {
    /// The bytes kept, oldest first.
    fn bytes(&self) -> &[u8];
    /// Appends `data`; false when there is no room for it.
    fn append(&mut self, data: &[u8]) -> bool;
    /// Drops the first `n` bytes (all of them if there are fewer).
    fn consume(&mut self, n: usize);
}

/// Where a followed connection stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Step {
    /// Reading the stream; pending bytes (a head being read) are held.
    Reading,
    /// A complete head at [`Stream::limit`] waits for a decision.
    Deciding,
    /// The head goes to another node with the connection; asked at the
    /// given time (milliseconds) to let it go.
    Moving(u64),
    /// The next node was asked to take the connection.
    Handing,
}

/// What becomes of a client segment of a followed connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// Send it to the current back-end.
    Forward,
    /// Hold it: it carries bytes of a request not yet decided.
    Hold,
    /// Hold it: a head is now complete and is to be decided.
    Decide,
    /// Following ends: what is held goes to the current back-end, then
    /// this segment.
    Release,
}

/// A client segment: its first sequence number, payload length and flags.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    /// Sequence number of the first payload byte.
    pub seq: u32,
    /// Payload bytes.
    pub len: usize,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
}

/// Bytes copied from a segment at a time.
const CHUNK: usize = 256;

/// A client's request stream, as far as the front-end follows it.
///
/// # Invariants
///
/// `limit` is at or before `next_seq`; the caller's pending buffer holds
/// the bytes between them. While it holds any, the framer stands at the
/// head they start, which is at `limit`.
#[derive(Clone, Copy, Debug)]
pub struct Stream {
    framer: Framer,
    next_seq: u32,
    limit: u32,
    /// Most pending bytes.
    max: usize,
    /// Where the connection stands.
    pub step: Step,
    /// Following ended while the connection moved: once the move ends
    /// either way, everything held goes on and following stops.
    pub lost: bool,
}

impl Stream {
    /// Starts following after a first request, `head_len` bytes parsed as
    /// `req`, at the start of `head`: everything the client sent from
    /// `first_seq` on. Returns the stream and how many bytes of `head`
    /// belong to the first request (its head and as much of its body as
    /// `head` holds); the rest, a next request's, is appended to
    /// `pending`. `None` when there is nothing to follow (the first request
    /// is the last, or its body cannot be followed) or `pending` has no
    /// room.
    pub fn start(
        req: &Request<'_>,
        head_len: usize,
        head: &[u8],
        first_seq: u32,
        max: usize,
        pending: &mut impl Pending,
    ) -> Option<(Self, usize)> {
        let mut framer = Framer::new();
        framer.head(req, head_len);
        let rest = head.get(head_len..).unwrap_or(&[]);
        let used = framer.skip(rest);
        if framer.ended().is_some() {
            return None;
        }
        let sent = head_len + used;
        let more = head.get(sent..).unwrap_or(&[]);
        if more.len() > max || !pending.append(more) {
            return None;
        }
        // INVARIANT: the bytes after `sent` are pending; the framer stopped
        // skipping where they start.
        Some((
            Stream {
                framer,
                next_seq: first_seq.wrapping_add(head.len() as u32),
                limit: first_seq.wrapping_add(sent as u32),
                max,
                step: Step::Reading,
                lost: false,
            },
            sent,
        ))
    }

    /// The client's next in-order sequence number not yet read.
    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// Bytes before this sequence number may go to the current back-end;
    /// from it on they belong to a request not yet decided.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Reads client segment `seg`; `read(offset, out)` copies its payload
    /// bytes from `offset` into `out` (false when it cannot). Says where
    /// the segment goes.
    pub fn segment(
        &mut self,
        seg: &Segment,
        pending: &mut impl Pending,
        read: &mut impl FnMut(usize, &mut [u8]) -> bool,
    ) -> Verdict {
        match self.read_segment(seg, pending, read) {
            // While the connection moves, nothing may reach the back-end it
            // leaves: the segment waits for the move to end either way.
            Verdict::Release if matches!(self.step, Step::Moving(_) | Step::Handing) => {
                self.lost = true;
                Verdict::Hold
            }
            v => v,
        }
    }

    fn read_segment(
        &mut self,
        seg: &Segment,
        pending: &mut impl Pending,
        read: &mut impl FnMut(usize, &mut [u8]) -> bool,
    ) -> Verdict {
        if self.lost || seg.rst {
            return Verdict::Release;
        }
        if seg.len == 0 && !seg.fin {
            return Verdict::Forward;
        }
        let end = seg.seq.wrapping_add(seg.len as u32);
        if seq_after(seg.seq, self.next_seq) {
            // A gap: the framer cannot tell what this segment holds.
            return Verdict::Release;
        }
        if seq_after(end, self.next_seq) {
            let mut at = self.next_seq.wrapping_sub(seg.seq) as usize;
            let mut buf = [0u8; CHUNK];
            while at < seg.len {
                let n = (seg.len - at).min(CHUNK);
                let Some(out) = buf.get_mut(..n) else {
                    return Verdict::Release;
                };
                if !read(at, out) || !self.read(out, pending) {
                    return Verdict::Release;
                }
                at += n;
            }
        }
        let empty = pending.bytes().is_empty();
        if seg.fin && empty {
            // The client's last byte: nothing more to route.
            return Verdict::Release;
        }
        if !seq_after(end, self.limit) && !seg.fin {
            return Verdict::Forward;
        }
        if self.step != Step::Reading {
            return Verdict::Hold;
        }
        match http::head_status(pending.bytes(), self.max) {
            HeadStatus::Complete { .. } => {
                self.step = Step::Deciding;
                Verdict::Decide
            }
            // A client that closes in the middle of a head sends nothing
            // more: the current back-end gets what there is.
            HeadStatus::Incomplete if !seg.fin => Verdict::Hold,
            _ => Verdict::Release,
        }
    }

    /// Takes the next in-order bytes: a body's clear the way to the
    /// current back-end, a head's are pending. False when following must
    /// end.
    fn read(&mut self, mut data: &[u8], pending: &mut impl Pending) -> bool {
        if pending.bytes().is_empty() && !self.framer.at_head() {
            let used = self.framer.skip(data);
            // INVARIANT: nothing pending, so both move together.
            self.limit = self.limit.wrapping_add(used as u32);
            self.next_seq = self.next_seq.wrapping_add(used as u32);
            data = data.get(used..).unwrap_or(&[]);
            if self.framer.ended().is_some() {
                return false;
            }
        }
        if data.is_empty() {
            return true;
        }
        if pending.bytes().len() + data.len() > self.max || !pending.append(data) {
            return false;
        }
        // INVARIANT: the bytes up to the new `next_seq` are pending, and
        // the framer stands at their head.
        self.next_seq = self.next_seq.wrapping_add(data.len() as u32);
        true
    }

    /// The head at [`Self::limit`], `head_len` bytes whose body is framed
    /// as `body` ([`Body::of`] its request), is decided (it stays, or goes
    /// with the connection): the framer passes
    /// over it and over as much of its body as is pending. False when
    /// following must end.
    pub fn pass_head(&mut self, body: Body, head_len: usize, pending: &mut impl Pending) -> bool {
        self.framer.head_body(body, head_len);
        self.consume(head_len, pending);
        let used = self.framer.skip(pending.bytes());
        self.consume(used, pending);
        self.step = Step::Reading;
        self.framer.ended().is_none()
    }

    fn consume(&mut self, n: usize, pending: &mut impl Pending) {
        let n = n.min(pending.bytes().len());
        pending.consume(n);
        // INVARIANT: `limit` moves with the bytes no longer pending.
        self.limit = self.limit.wrapping_add(n as u32);
    }

    /// After a decision: whether the pending bytes hold the next complete
    /// head (it is to be decided in turn: the step is then
    /// [`Step::Deciding`]), or `None` when they can never be one (following
    /// must end).
    pub fn next_head(&mut self, pending: &impl Pending) -> Option<bool> {
        if pending.bytes().is_empty() {
            return Some(false);
        }
        match http::head_status(pending.bytes(), self.max) {
            HeadStatus::Complete { .. } => {
                self.step = Step::Deciding;
                Some(true)
            }
            HeadStatus::Incomplete => Some(false),
            _ => None,
        }
    }

    /// Whether a held segment whose payload ends before `end` (with a FIN:
    /// `fin`) may go to the current back-end: it lies before
    /// [`Self::limit`], and a FIN only once nothing is pending.
    pub fn forwardable(&self, end: u32, fin: bool, pending_empty: bool) -> bool {
        !seq_after(end, self.limit) && (!fin || pending_empty)
    }

    /// Whether a held segment covering `seq..end` starts before
    /// [`Self::limit`] and ends after it: its first part belongs to the
    /// request the current back-end serves.
    pub fn straddles(&self, seq: u32, end: u32) -> bool {
        seq_before(seq, self.limit) && seq_after(end, self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::super::http::parse_head;
    use super::super::test_rng::Rng;
    use super::*;
    use std::{format, vec, vec::Vec};

    impl Pending for Vec<u8> {
        fn bytes(&self) -> &[u8] {
            self
        }
        fn append(&mut self, data: &[u8]) -> bool {
            self.extend_from_slice(data);
            true
        }
        fn consume(&mut self, n: usize) {
            self.drain(..n.min(self.len()));
        }
    }

    const MAX: usize = 16384;
    const ISN: u32 = 0xffff_ff00;

    fn get(path: &str) -> Vec<u8> {
        format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n").into_bytes()
    }

    fn put(path: &str, body: &[u8]) -> Vec<u8> {
        let mut v = format!(
            "PUT {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        v.extend_from_slice(body);
        v
    }

    fn chunked(path: &str) -> Vec<u8> {
        format!("POST {path} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nGET /\r\n0\r\n\r\n")
            .into_bytes()
    }

    /// What a front-end does with a stream: its first request handed off,
    /// the rest sent in segments of `size` bytes, each decision taken at
    /// once. Returns the paths decided, in order, with the client sequence
    /// number each head started at, and the bytes that were cleared for
    /// the back-end (forwarded, or released by a decision) in order.
    fn run(stream: &[u8], size: usize) -> (Vec<(Vec<u8>, u32)>, u32) {
        let first_len = match http::head_status(stream, MAX) {
            HeadStatus::Complete { head_len } => head_len,
            _ => panic!("no first head"),
        };
        let req = parse_head(&stream[..first_len]).unwrap();
        // The first segment: the first head and 10 bytes more, if any.
        let first = (first_len + 10).min(stream.len());
        let mut pending: Vec<u8> = Vec::new();
        let (mut s, sent) =
            Stream::start(&req, first_len, &stream[..first], ISN, MAX, &mut pending).unwrap();
        assert!(sent <= first);
        assert_eq!(s.limit(), ISN.wrapping_add(sent as u32));
        assert_eq!(pending, stream[sent..first]);
        let mut decided = Vec::new();
        let decide = |s: &mut Stream, pending: &mut Vec<u8>, decided: &mut Vec<(Vec<u8>, u32)>| loop {
            assert_eq!(s.step, Step::Deciding);
            let head_len = match http::head_status(pending, MAX) {
                HeadStatus::Complete { head_len } => head_len,
                _ => panic!("deciding without a head"),
            };
            let copy = pending[..head_len].to_vec();
            let req = parse_head(&copy).unwrap();
            decided.push((req.path.to_vec(), s.limit()));
            // The head starts where the limit is.
            let off = s.limit().wrapping_sub(ISN) as usize;
            assert_eq!(&stream[off..off + head_len], &copy[..]);
            if !s.pass_head(Body::of(&req), head_len, pending) {
                return false;
            }
            match s.next_head(pending) {
                Some(true) => continue,
                Some(false) => return true,
                None => return false,
            }
        };
        if s.next_head(&pending) == Some(true) && !decide(&mut s, &mut pending, &mut decided) {
            return (decided, s.limit());
        }
        let mut at = first;
        while at < stream.len() {
            let n = size.min(stream.len() - at);
            let seg = Segment {
                seq: ISN.wrapping_add(at as u32),
                len: n,
                fin: false,
                rst: false,
            };
            let base = at;
            let mut read = |off: usize, out: &mut [u8]| {
                out.copy_from_slice(&stream[base + off..base + off + out.len()]);
                true
            };
            let v = s.segment(&seg, &mut pending, &mut read);
            // The pending bytes are the stream's between limit and next.
            let (lo, hi) = (
                s.limit().wrapping_sub(ISN) as usize,
                s.next_seq().wrapping_sub(ISN) as usize,
            );
            assert_eq!(pending, stream[lo..hi]);
            match v {
                Verdict::Forward => assert!(!seq_after(seg.seq.wrapping_add(n as u32), s.limit())),
                Verdict::Hold => {}
                Verdict::Decide => {
                    if !decide(&mut s, &mut pending, &mut decided) {
                        break;
                    }
                }
                Verdict::Release => break,
            }
            at += n;
        }
        (decided, s.limit())
    }

    #[test]
    fn every_later_head_is_decided_where_it_starts_however_the_stream_is_cut() {
        let mut stream = get("/a/1");
        let mut want = Vec::new();
        for (i, part) in [
            get("/b/2"),
            put("/a/3", b"GET /x HTTP/1.1\r\n\r\n"),
            get("/b/4"),
            chunked("/a/5"),
            get("/b/6"),
        ]
        .iter()
        .enumerate()
        {
            let path = format!("/{}/{}", ["b", "a", "b", "a", "b"][i], i + 2).into_bytes();
            want.push((path, ISN.wrapping_add(stream.len() as u32)));
            stream.extend_from_slice(part);
        }
        for size in 1..80 {
            let (decided, _) = run(&stream, size);
            assert_eq!(decided, want, "segments of {size}");
        }
    }

    #[test]
    fn a_body_that_looks_like_a_request_is_never_decided() {
        let stream = [get("/a/1"), put("/a/2", &get("/b/evil")), get("/b/3")].concat();
        for size in [1, 7, 64, 1000] {
            let paths: Vec<_> = run(&stream, size).0.into_iter().map(|d| d.0).collect();
            assert_eq!(paths, vec![b"/a/2".to_vec(), b"/b/3".to_vec()]);
        }
    }

    #[test]
    fn pipelined_in_the_first_segment_stays_pending() {
        let stream = [get("/a/1"), get("/b/2")].concat();
        let req_len = get("/a/1").len();
        let req = parse_head(&stream[..req_len]).unwrap();
        let mut pending = Vec::new();
        let (mut s, sent) = Stream::start(&req, req_len, &stream, 1, MAX, &mut pending).unwrap();
        assert_eq!(sent, req_len);
        assert_eq!(pending, get("/b/2"));
        assert_eq!(s.next_head(&pending), Some(true));
        assert_eq!(s.step, Step::Deciding);
        assert_eq!(s.limit(), 1 + req_len as u32);
    }

    #[test]
    fn the_last_request_ends_following() {
        let close = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
        let req = parse_head(close).unwrap();
        assert!(Stream::start(&req, close.len(), close, 1, MAX, &mut Vec::new()).is_none());
    }

    fn started() -> (Stream, Vec<u8>, u32) {
        let first = get("/a/1");
        let req = parse_head(&first).unwrap();
        let mut pending = Vec::new();
        let (s, _) = Stream::start(&req, first.len(), &first, 100, MAX, &mut pending).unwrap();
        (s, pending, 100 + first.len() as u32)
    }

    fn feed(s: &mut Stream, pending: &mut Vec<u8>, seq: u32, data: &[u8], fin: bool) -> Verdict {
        let seg = Segment {
            seq,
            len: data.len(),
            fin,
            rst: false,
        };
        s.segment(&seg, pending, &mut |off, out: &mut [u8]| {
            out.copy_from_slice(&data[off..off + out.len()]);
            true
        })
    }

    #[test]
    fn a_gap_ends_following_but_not_while_the_connection_moves() {
        let (mut s, mut p, next) = started();
        assert_eq!(
            feed(&mut s, &mut p, next + 5, b"GET", false),
            Verdict::Release
        );
        let (mut s, mut p, next) = started();
        let head = get("/b/2");
        assert_eq!(feed(&mut s, &mut p, next, &head, false), Verdict::Decide);
        s.step = Step::Moving(0);
        assert_eq!(
            feed(&mut s, &mut p, next + 1000, b"x", false),
            Verdict::Hold
        );
        assert!(s.lost);
    }

    #[test]
    fn acks_and_old_bytes_go_on_while_a_head_is_held() {
        let (mut s, mut p, next) = started();
        assert_eq!(
            feed(&mut s, &mut p, next, b"GET /b/2 HT", false),
            Verdict::Hold
        );
        assert_eq!(feed(&mut s, &mut p, next, b"", false), Verdict::Forward);
        assert_eq!(
            feed(&mut s, &mut p, next - 4, b"\r\n\r\n", false),
            Verdict::Forward
        );
        assert_eq!(
            feed(&mut s, &mut p, next + 11, b"TP/1.1\r\n\r\n", false),
            Verdict::Decide
        );
        assert_eq!(s.limit(), next);
        assert!(s.forwardable(next, false, false));
        assert!(!s.forwardable(next + 11, false, false));
        assert!(s.straddles(next - 4, next + 11));
    }

    #[test]
    fn a_fin_ends_following_between_requests_and_waits_behind_a_head() {
        let (mut s, mut p, next) = started();
        assert_eq!(feed(&mut s, &mut p, next, b"", true), Verdict::Release);
        let (mut s, mut p, next) = started();
        // In the middle of a head: the current back-end gets it.
        assert_eq!(
            feed(&mut s, &mut p, next, b"GET /b/2", true),
            Verdict::Release
        );
        let (mut s, mut p, next) = started();
        let head = get("/b/2");
        assert_eq!(feed(&mut s, &mut p, next, &head, true), Verdict::Decide);
        assert!(!s.forwardable(next + head.len() as u32, true, false));
    }

    #[test]
    fn a_head_too_large_ends_following() {
        let (mut s, mut p, next) = started();
        let big = vec![b'a'; 300];
        let mut head = b"GET /".to_vec();
        head.extend_from_slice(&big);
        let mut st = Stream { max: 200, ..s };
        assert_eq!(feed(&mut st, &mut p, next, &head, false), Verdict::Release);
        assert_eq!(
            feed(&mut s, &mut Vec::new(), next, b"GET /", false),
            Verdict::Hold
        );
    }

    #[test]
    fn random_streams_never_clear_bytes_past_an_undecided_head() {
        let mut rng = Rng(7);
        for _ in 0..200 {
            let mut stream = get("/a/0");
            let mut want = Vec::new();
            for i in 0..rng.below(6) {
                let part = match rng.below(3) {
                    0 => get(&format!("/b/{i}")),
                    1 => put(&format!("/a/{i}"), &vec![b'G'; rng.below(600)]),
                    _ => chunked(&format!("/c/{i}")),
                };
                want.push(ISN.wrapping_add(stream.len() as u32));
                stream.extend_from_slice(&part);
            }
            let size = 1 + rng.below(300);
            let starts: Vec<u32> = run(&stream, size).0.into_iter().map(|d| d.1).collect();
            assert_eq!(starts, want, "segments of {size}");
        }
    }
}
