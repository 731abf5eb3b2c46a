// SPDX-License-Identifier: GPL-2.0

//! Request boundaries in a client's byte stream, for routing each request
//! of a kept-alive connection on its own.
//!
//! After the first handoff the front-end still sees every byte the client
//! sends (it forwards them). To route the second and later requests of a
//! connection it must know where each one starts: after the previous head
//! and its body, whose length the head gives (`Content-Length`) or whose
//! chunked coding marks its end. A [`Framer`] follows the stream in order:
//! [`Framer::skip`] passes over the current request's body and stops where
//! the next head begins; the caller collects that head (as it collects the
//! first one, [`super::http::head_status`]) and hands the parsed head to
//! [`Framer::head`], which sets up for its body.
//!
//! The framer is stricter than any server it fronts: a chunked coding it
//! cannot follow to the letter (a bare LF, an over-long size or line), a
//! request that may switch protocols (`Upgrade`, `CONNECT`) or the last
//! request of the connection (`Connection: close`, HTTP/1.0 without
//! keep-alive) ends the framing ([`End`]). The connection then stays where
//! it is: losing track is safe, while disagreeing with the server about
//! where a request ends would let a client smuggle a request past the
//! rules.

use super::http::{Method, Request};

/// Longest chunk-size line (size and extensions, without CRLF), and longest
/// trailer section, that the framer follows.
pub const MAX_CHUNK_LINE: u32 = 4096;

/// Most hex digits of a chunk size (a `u64`).
const MAX_SIZE_DIGITS: u8 = 16;

/// Why a stream is no longer framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The last request's body ended and the client announced no further
    /// request (`Connection: close`, or HTTP/1.0 without keep-alive).
    Close,
    /// The request may switch the connection to another protocol
    /// (`Upgrade`, `CONNECT`): what follows is not framed as requests.
    Tunnel,
    /// The chunked coding broke a rule the framer holds to.
    BadChunk,
}

/// Where the framer stands inside a chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk size: `digits` hex digits so far, worth `size`.
    Size { digits: u8, size: u64 },
    /// After the size, in its extensions (`;...`), `len` bytes of the line.
    Ext { size: u64, len: u32 },
    /// The size line's CR seen; its LF is next.
    SizeLf { size: u64 },
    /// Inside a chunk's data, `left` bytes to go.
    Data { left: u64 },
    /// After a chunk's data: its CR is next.
    DataCr,
    /// After a chunk's data and its CR: the LF is next.
    DataLf,
    /// In the trailer section (after the last chunk): `len` bytes so far,
    /// `line` of them on the current line.
    Trailer { len: u32, line: u32 },
    /// A trailer line's CR seen (`empty`: the line was empty, so its LF
    /// ends the body).
    TrailerLf { len: u32, empty: bool },
}

/// Where the stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At a request head (or inside one the caller collects).
    Head,
    /// Inside a body of known length, `left` bytes to go; `last`: no
    /// request follows it.
    Body { left: u64, last: bool },
    /// Inside a chunked body.
    Chunked { at: Chunk, last: bool },
    /// No longer framed.
    Done(End),
}

/// What the framer needs of a request head: how its body is framed and
/// whether a request may follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Body {
    /// `CONNECT` or `Upgrade`: what follows may not be requests.
    pub tunnel: bool,
    /// A chunked body.
    pub chunked: bool,
    /// The body's length otherwise (`Content-Length`, or none at all).
    pub length: u64,
    /// The connection's last request.
    pub last: bool,
}

impl Body {
    /// The framing of `req`'s body.
    pub fn of(req: &Request<'_>) -> Self {
        Body {
            tunnel: req.method == Method::Connect || req.upgrade,
            chunked: req.chunked,
            // A request without Content-Length or chunked coding has no
            // body (RFC 9112, section 6.3).
            length: req.content_length.unwrap_or(0),
            last: !req.keep_alive,
        }
    }
}

/// Follows the requests of one client byte stream (see the module's
/// documentation).
///
/// # Invariants
///
/// The stream offset only grows; [`Framer::skip`] never takes more bytes
/// than it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framer {
    state: State,
    /// Bytes of the stream passed over so far (heads and bodies).
    offset: u64,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new()
    }
}

impl Framer {
    /// A framer at the start of a stream, where the first head begins.
    pub const fn new() -> Self {
        Framer {
            state: State::Head,
            offset: 0,
        }
    }

    /// Whether the next bytes of the stream start (or continue) a request
    /// head.
    pub fn at_head(&self) -> bool {
        self.state == State::Head
    }

    /// Why the stream is no longer framed, if it is not.
    pub fn ended(&self) -> Option<End> {
        match self.state {
            State::Done(end) => Some(end),
            _ => None,
        }
    }

    /// How many bytes of the stream were passed over so far: where the
    /// next head starts, when [`Framer::at_head`].
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The head of the request at [`Framer::offset`], `head_len` bytes
    /// long, parsed as `req`: its body follows. A request that is the
    /// connection's last or that may switch protocols ends the framing
    /// after its body (or at once, for a tunnel).
    pub fn head(&mut self, req: &Request<'_>, head_len: usize) {
        self.head_body(Body::of(req), head_len);
    }

    /// [`Framer::head`] with what it needs of the request taken already
    /// ([`Body::of`]), so the head's bytes need not be kept.
    pub fn head_body(&mut self, body: Body, head_len: usize) {
        if self.state != State::Head {
            return;
        }
        self.offset = self.offset.saturating_add(head_len as u64);
        let last = body.last;
        self.state = if body.tunnel {
            State::Done(End::Tunnel)
        } else if body.chunked {
            State::Chunked {
                at: Chunk::Size { digits: 0, size: 0 },
                last,
            }
        } else {
            Self::after_body(body.length, last)
        };
    }

    /// The state for a body of `left` bytes (none: at once what follows).
    fn after_body(left: u64, last: bool) -> State {
        match (left, last) {
            (0, true) => State::Done(End::Close),
            (0, false) => State::Head,
            (left, last) => State::Body { left, last },
        }
    }

    /// Passes over the current request's body in `data`, the stream's next
    /// bytes. Returns how many leading bytes of `data` belong to it; when
    /// that is fewer than all of them, the rest starts the next head (or
    /// the stream ended, [`Framer::ended`]). At a head, returns 0.
    pub fn skip(&mut self, data: &[u8]) -> usize {
        let mut used = 0usize;
        loop {
            let rest = data.get(used..).unwrap_or(&[]);
            match self.state {
                State::Head | State::Done(_) => break,
                State::Body { left, last } => {
                    let n = left.min(rest.len() as u64);
                    used += n as usize;
                    self.state = if n == left {
                        Self::after_body(0, last)
                    } else {
                        State::Body {
                            left: left - n,
                            last,
                        }
                    };
                    if n < left {
                        break;
                    }
                }
                State::Chunked { at, last } => {
                    let Some(&b) = rest.first() else { break };
                    if let Chunk::Data { left } = at {
                        // Data in bulk, not byte by byte.
                        let n = left.min(rest.len() as u64);
                        used += n as usize;
                        self.state = State::Chunked {
                            at: if n == left {
                                Chunk::DataCr
                            } else {
                                Chunk::Data { left: left - n }
                            },
                            last,
                        };
                        continue;
                    }
                    used += 1;
                    self.state = match chunk_byte(at, b) {
                        Ok(Some(at)) => State::Chunked { at, last },
                        Ok(None) => Self::after_body(0, last),
                        Err(end) => State::Done(end),
                    };
                }
            }
        }
        self.offset = self.offset.saturating_add(used as u64);
        used
    }
}

/// One byte of chunked framing other than chunk data: the next place, or
/// `None` when the byte ended the body.
fn chunk_byte(at: Chunk, b: u8) -> Result<Option<Chunk>, End> {
    Ok(Some(match at {
        Chunk::Size { digits, size } => match (b as char).to_digit(16) {
            Some(d) if digits < MAX_SIZE_DIGITS => Chunk::Size {
                digits: digits + 1,
                size: (size << 4) | u64::from(d),
            },
            Some(_) => return Err(End::BadChunk),
            None if digits == 0 => return Err(End::BadChunk),
            None => match b {
                b';' => Chunk::Ext {
                    size,
                    len: u32::from(digits) + 1,
                },
                b'\r' => Chunk::SizeLf { size },
                _ => return Err(End::BadChunk),
            },
        },
        Chunk::Ext { size, len } => match b {
            b'\r' => Chunk::SizeLf { size },
            b'\n' => return Err(End::BadChunk),
            _ if len >= MAX_CHUNK_LINE => return Err(End::BadChunk),
            _ => Chunk::Ext { size, len: len + 1 },
        },
        Chunk::SizeLf { size } => match b {
            b'\n' if size == 0 => Chunk::Trailer { len: 0, line: 0 },
            b'\n' => Chunk::Data { left: size },
            _ => return Err(End::BadChunk),
        },
        // Handled in bulk by the caller; a zero-length run is the CR next.
        Chunk::Data { .. } | Chunk::DataCr => match b {
            b'\r' => Chunk::DataLf,
            _ => return Err(End::BadChunk),
        },
        Chunk::DataLf => match b {
            b'\n' => Chunk::Size { digits: 0, size: 0 },
            _ => return Err(End::BadChunk),
        },
        Chunk::Trailer { len, line } => match b {
            b'\r' => Chunk::TrailerLf {
                len,
                empty: line == 0,
            },
            b'\n' => return Err(End::BadChunk),
            _ if len >= MAX_CHUNK_LINE => return Err(End::BadChunk),
            _ => Chunk::Trailer {
                len: len + 1,
                line: line + 1,
            },
        },
        Chunk::TrailerLf { empty: true, .. } if b == b'\n' => return Ok(None),
        Chunk::TrailerLf { len, empty: false } if b == b'\n' => Chunk::Trailer { len, line: 0 },
        Chunk::TrailerLf { .. } => return Err(End::BadChunk),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::http::{head_status, parse_head, HeadStatus};
    use super::super::test_rng::Rng;
    use super::*;
    use std::{format, panic, vec, vec::Vec};

    /// Frames `stream` fed in pieces of `step` bytes, as a front-end would:
    /// returns the paths of the heads found and how the stream ended.
    fn frame(stream: &[u8], step: usize) -> (Vec<Vec<u8>>, Option<End>, u64) {
        let mut f = Framer::new();
        let mut head: Vec<u8> = Vec::new();
        let mut paths = Vec::new();
        for piece in stream.chunks(step.max(1)) {
            let mut rest = piece;
            loop {
                let n = f.skip(rest);
                rest = &rest[n..];
                if rest.is_empty() || !f.at_head() {
                    break;
                }
                let had = head.len();
                head.extend_from_slice(rest);
                match head_status(&head, 16384) {
                    HeadStatus::Complete { head_len } => {
                        let req = parse_head(&head[..head_len]).expect("valid head");
                        paths.push(req.path.to_vec());
                        f.head(&req, head_len);
                        rest = &rest[head_len - had..];
                        head.clear();
                    }
                    HeadStatus::Incomplete => break,
                    other => panic!("{other:?}"),
                }
            }
        }
        (paths, f.ended(), f.offset())
    }

    const A: &[u8] = b"GET /a/1 HTTP/1.1\r\nHost: t\r\n\r\n";
    const POST: &[u8] = b"POST /b/up HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
    const CHUNKED: &[u8] = b"POST /b/c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Sum: 1\r\n\r\n";
    const CLOSE: &[u8] = b"GET /a/last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

    fn paths(p: &[&str]) -> Vec<Vec<u8>> {
        p.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn pipelined_requests_in_any_pieces() {
        let stream = [A, POST, CHUNKED, A, CLOSE].concat();
        for step in 1..=stream.len() {
            let (p, end, off) = frame(&stream, step);
            assert_eq!(
                p,
                paths(&["/a/1", "/b/up", "/b/c", "/a/1", "/a/last"]),
                "step {step}"
            );
            assert_eq!(end, Some(End::Close), "step {step}");
            assert_eq!(off, stream.len() as u64, "step {step}");
        }
    }

    #[test]
    fn keep_alive_stream_stays_open() {
        let stream = [A, POST, A].concat();
        let (p, end, off) = frame(&stream, 7);
        assert_eq!(p.len(), 3);
        assert_eq!(end, None);
        assert_eq!(off, stream.len() as u64);
    }

    #[test]
    fn body_bytes_never_read_as_heads() {
        // A body that looks like a request is the body.
        let body = b"GET /b/evil HTTP/1.1\r\nHost: t\r\n\r\n";
        let smuggle = [
            format!(
                "POST /a/x HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
            body,
            A,
        ]
        .concat();
        let (p, _, _) = frame(&smuggle, 3);
        assert_eq!(p, paths(&["/a/x", "/a/1"]));
    }

    #[test]
    fn tunnels_end_framing() {
        let up =
            b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        let (p, end, _) = frame(&[&up[..], A].concat(), 5);
        assert_eq!((p.len(), end), (1, Some(End::Tunnel)));
        let conn = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
        let (p, end, _) = frame(&[&conn[..], A].concat(), 64);
        assert_eq!((p.len(), end), (1, Some(End::Tunnel)));
    }

    #[test]
    fn http10_without_keep_alive_is_last() {
        let (p, end, _) = frame(b"GET /a/ HTTP/1.0\r\n\r\n", 4);
        assert_eq!((p.len(), end), (1, Some(End::Close)));
        let (p, end, _) = frame(b"GET /a/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 4);
        assert_eq!((p.len(), end), (1, None));
    }

    fn chunked(body: &[u8]) -> Vec<u8> {
        [
            &b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            body,
        ]
        .concat()
    }

    #[test]
    fn strict_chunked_coding() {
        for bad in [
            &b"5\nhello\r\n0\r\n\r\n"[..], // bare LF after the size
            b"5\r\nhelloX\r\n0\r\n\r\n",   // data longer than its size
            b"x\r\n",                      // no digits
            b"11111111111111111\r\n",      // 17 digits
            b";ext\r\n",                   // extension without size
            b"0\r\nX: 1\n\r\n",            // bare LF in a trailer
            b"0\r\n\r\r",                  // CR CR
            b"5 \r\nhello\r\n0\r\n\r\n",   // space after the size
        ] {
            let (_, end, _) = frame(&chunked(bad), 1);
            assert_eq!(end, Some(End::BadChunk), "{:?}", core::str::from_utf8(bad));
        }
        let long_ext = [
            &b"1;"[..],
            &[b'e'; MAX_CHUNK_LINE as usize],
            b"\r\nx\r\n0\r\n\r\n",
        ]
        .concat();
        assert_eq!(frame(&chunked(&long_ext), 100).1, Some(End::BadChunk));
        let ok_ext = [&b"1;"[..], &[b'e'; 100], b"\r\nx\r\n0\r\n\r\n", A].concat();
        let (p, end, _) = frame(&chunked(&ok_ext), 9);
        assert_eq!((p.len(), end), (2, None));
    }

    #[test]
    fn upper_case_hex_and_big_chunks() {
        let data = vec![b'z'; 0x1af];
        let body = [&b"1aF\r\n"[..], &data, b"\r\n0\r\n\r\n", A].concat();
        let (p, end, off) = frame(&chunked(&body), 50);
        assert_eq!((p.len(), end), (2, None));
        assert_eq!(off, chunked(&body).len() as u64);
    }

    #[test]
    fn huge_content_length_counts_down() {
        let mut f = Framer::new();
        let head = b"PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: 18446744073709551615\r\n\r\n";
        let req = parse_head(head).unwrap();
        f.head(&req, head.len());
        let chunk = [0u8; 4096];
        for _ in 0..100 {
            assert_eq!(f.skip(&chunk), chunk.len());
        }
        assert!(!f.at_head() && f.ended().is_none());
    }

    /// Random streams of valid requests, cut at random points: every head
    /// is found, in order, and the offset ends at the stream's length.
    #[test]
    fn random_streams() {
        let mut rng = Rng(0x5eed_f4a1);
        for _ in 0..300 {
            let mut stream = Vec::new();
            let mut want = Vec::new();
            let n = 1 + rng.below(8);
            for i in 0..n {
                let path = format!("/p/{i}");
                match rng.below(3) {
                    0 => stream.extend_from_slice(
                        format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
                    ),
                    1 => {
                        let len = rng.below(3000);
                        stream.extend_from_slice(
                            format!(
                                "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n"
                            )
                            .as_bytes(),
                        );
                        stream.extend((0..len).map(|_| rng.below(256) as u8));
                    }
                    _ => {
                        stream.extend_from_slice(
                            format!("POST {path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n").as_bytes(),
                        );
                        for _ in 0..rng.below(4) {
                            let len = 1 + rng.below(500);
                            stream.extend_from_slice(format!("{len:x}\r\n").as_bytes());
                            stream.extend((0..len).map(|_| rng.below(256) as u8));
                            stream.extend_from_slice(b"\r\n");
                        }
                        stream.extend_from_slice(b"0\r\n\r\n");
                    }
                }
                want.push(path.into_bytes());
            }
            let step = 1 + rng.below(700);
            let (p, end, off) = frame(&stream, step);
            assert_eq!(p, want);
            assert_eq!(end, None);
            assert_eq!(off, stream.len() as u64);
        }
    }

    /// Arbitrary bytes after a chunked head never make the framer take
    /// more than it is given, nor panic.
    #[test]
    fn arbitrary_bytes() {
        let mut rng = Rng(77);
        for _ in 0..500 {
            let mut f = Framer::new();
            let head = b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
            f.head(&parse_head(head).unwrap(), head.len());
            let junk: Vec<u8> = (0..rng.below(300))
                .map(|_| b"0123456789aF;\r\n x"[rng.below(17)])
                .collect();
            let before = f.offset();
            let n = f.skip(&junk);
            assert!(n <= junk.len());
            assert_eq!(f.offset() - before, n as u64);
        }
    }
}
