// SPDX-License-Identifier: GPL-2.0

//! The front-end's reading of a kept-alive connection's later requests
//! (keep-alive routing, `Documentation/keepalive.rst`).
//!
//! After the first handoff the front-end forwards every client byte to the
//! back-end, so it can also read them: a [`Follow`] frames the in-order
//! stream (`handoff_core::follow`, host-tested) and knows where each later
//! request head starts. Bytes before that point go on to the current back-end as
//! they come; from it on, the segments are held until the head is complete
//! and the worker has decided where it goes (`crate::channel::migrate`).
//! A request that stays on its node is released to it at once; one that
//! belongs to another node moves the connection there.
//!
//! Following ends, and every later packet goes to the current back-end as
//! before, as soon as the stream is not what the framer can follow to the
//! letter: a gap in the client's sequence space, a body coding it cannot
//! read, a protocol switch, the last request, a client's FIN or reset, or
//! a head larger than [`PENDING_MAX`]. Losing track is safe: the
//! connection just stays where it is.

use crate::{
    bindings::{self, sk_buff},
    btcp::{
        front::{ClientAck, Forward, Held, HEAD_MAX},
        slab::{Cache, Cached, SlabBox},
        xmit::Seg,
    },
    handoff_core::{
        codec::TcpInit,
        follow::{Pending, Segment, Stream},
        framing::Body,
        http,
        packet::{flags, TcpHeader},
        rewrite::SegOptions,
        seq::{seq_after, seq_before},
    },
    netns::Addr,
};
use core::ffi::CStr;
use kernel::prelude::*;

pub(crate) use crate::handoff_core::follow::{Step, Verdict};

/// Most bytes held for a later request (its head and whatever follows it
/// while it is decided or moved).
pub(crate) const PENDING_MAX: usize = HEAD_MAX;

/// The pending bytes of a followed connection.
pub(crate) struct Buf(KVec<u8>);

impl Pending for Buf {
    fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn append(&mut self, data: &[u8]) -> bool {
        self.0.extend_from_slice(data, GFP_ATOMIC).is_ok()
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.0.len());
        self.0.copy_within(n.., 0);
        self.0.truncate(self.0.len() - n);
    }
}

/// The front-end's view of a forwarded connection's request stream.
pub(crate) struct Follow {
    pub(crate) stream: Stream,
    pub(crate) pending: Buf,
    /// While moving: the length of the head that moves, and where to.
    pub(crate) head_len: usize,
    pub(crate) to: u32,
    /// The client's options from its handshake (a next back-end's
    /// replayed SYN offers them).
    pub(crate) client: TcpInit,
    /// The client's latest acknowledgement, TSval, TSecr and window.
    pub(crate) ack: u32,
    pub(crate) tsval: u32,
    pub(crate) tsecr: u32,
    pub(crate) window: u16,
    /// The TSval of a segment no later than the one that brought the byte
    /// at the stream's limit: no held segment is older, so a next
    /// back-end whose handshake carries it drops none of them (PAWS).
    pub(crate) cut_tsval: u32,
    /// The latest acknowledgement the current back-end got from the
    /// client: a held segment may carry a newer one, which the back-end
    /// needs (its server's last response is acknowledged only there).
    sent_ack: u32,
}

static FOLLOW_CACHE: Cache = Cache::new();

// SAFETY: `FOLLOW_CACHE` is this type's alone.
unsafe impl Cached for Follow {
    const CACHE: &'static Cache = &FOLLOW_CACHE;
    const NAME: &'static CStr = c"tcp_handoff_follow";
}

impl Follow {
    /// Starts following a connection whose first request, `head_len`
    /// bytes parsed as `req`, is handed off, `head` being everything the
    /// client had sent from `first_seq` on (`Stream::start`). Returns the
    /// follower and how many bytes of `head` go with the handoff.
    pub(crate) fn new(
        client: TcpInit,
        ack: &ClientAck,
        first_seq: u32,
        req: &http::Request<'_>,
        head_len: usize,
        head: &[u8],
    ) -> Option<(SlabBox<Self>, usize)> {
        let mut pending = Buf(KVec::new());
        let (stream, sent) =
            Stream::start(req, head_len, head, first_seq, PENDING_MAX, &mut pending)?;
        let f = SlabBox::new(Follow {
            stream,
            pending,
            head_len: 0,
            to: 0,
            client,
            ack: ack.ack.unwrap_or(0),
            tsval: ack.tsval,
            tsecr: ack.tsecr,
            window: ack.window,
            cut_tsval: ack.tsval,
            sent_ack: ack.ack.unwrap_or(0),
        })
        .ok()?;
        Some((f, sent))
    }

    /// The step the connection is at.
    pub(crate) fn step(&self) -> Step {
        self.stream.step
    }

    /// Where the pending bytes start (`Stream::limit`).
    pub(crate) fn limit(&self) -> u32 {
        self.stream.limit()
    }

    /// Whether held packet `h` may go to the current back-end.
    pub(crate) fn forwardable(&self, h: &Held) -> bool {
        self.stream.forwardable(
            h.end,
            h.flags & flags::FIN != 0,
            self.pending.bytes().is_empty(),
        )
    }

    /// Whether held packet `h` carries the end of the current request and
    /// the start of the next.
    pub(crate) fn straddles(&self, h: &Held) -> bool {
        self.stream.straddles(h.seq, h.end)
    }

    /// Reads a client segment of `len` payload bytes at offset `off` of
    /// `skb` (the inbound hook's, or a held one) and says where it goes.
    ///
    /// # Safety
    ///
    /// `skb` must be a valid buffer holding `len` payload bytes at `off`.
    pub(crate) unsafe fn feed(
        &mut self,
        skb: *const sk_buff,
        off: i32,
        tcp: &TcpHeader,
        len: usize,
        last: &ClientAck,
    ) -> Verdict {
        if let Some(a) = last.ack {
            if !seq_before(a, self.ack) {
                self.ack = a;
                self.window = last.window;
            }
        }
        if seq_after(last.tsval, self.tsval) {
            self.tsval = last.tsval;
            self.tsecr = last.tsecr;
        }
        let seg = Segment {
            seq: tcp.seq,
            len,
            fin: tcp.flags & flags::FIN != 0,
            rst: tcp.flags & flags::RST != 0,
        };
        let mut read = |at: usize, out: &mut [u8]| {
            // SAFETY: `off + at .. + out.len()` lies inside the payload
            // (function precondition); `out` is writable.
            unsafe {
                bindings::th_skb_copy_bits(
                    skb,
                    off + at as i32,
                    out.as_mut_ptr().cast(),
                    out.len() as i32,
                ) == 0
            }
        };
        let was_empty = self.pending.bytes().is_empty();
        let v = self.stream.segment(&seg, &mut self.pending, &mut read);
        if was_empty && !self.pending.bytes().is_empty() {
            self.cut_tsval = last.tsval;
        }
        if let (Verdict::Forward | Verdict::Release, Some(a)) = (v, last.ack) {
            if seq_after(a, self.sent_ack) {
                self.sent_ack = a;
            }
        }
        v
    }

    /// Reads held packet `h`, one the client sent while the first handoff
    /// was decided (before following began), if it brings bytes not read
    /// yet (a request's body, a next request). Its acknowledgement and
    /// timestamps are not looked at: later segments bring newer ones.
    pub(crate) fn feed_held(&mut self, h: &Held) -> Verdict {
        if !seq_after(h.end, self.stream.next_seq()) {
            return Verdict::Forward;
        }
        let tcp = TcpHeader {
            sport: 0,
            dport: 0,
            seq: h.seq,
            ack: 0,
            header_len: 0,
            flags: h.flags,
            window: 0,
        };
        let last = ClientAck {
            tsval: self.tsval,
            tsecr: self.tsecr,
            ..ClientAck::default()
        };
        let len = h.end.wrapping_sub(h.seq) as usize;
        // SAFETY: the held buffer is valid and owned by its entry, with
        // `len` payload bytes at `h.off`.
        unsafe { self.feed(h.skb.as_ptr(), h.off, &tcp, len, &last) }
    }

    /// After [`Self::feed`] held a segment: the acknowledgement it carried
    /// that the current back-end has not seen, as a segment of its own in
    /// the back-end's space (from the client at `client`:`cport` to the
    /// back-end of `fwd` at `port`; `ts`: timestamps are on). Without it
    /// the back-end would wait for the acknowledgement of its last
    /// response, which the client sent along with its next request.
    pub(crate) fn ack_segment(
        &mut self,
        client: Addr,
        cport: u16,
        port: u16,
        fwd: &Forward,
        ts: bool,
        out: &mut [u8],
    ) -> Option<usize> {
        if self.stream.step == Step::Handing || !seq_after(self.ack, self.sent_ack) {
            return None;
        }
        self.sent_ack = self.ack;
        Seg {
            saddr: client,
            sport: cport,
            daddr: fwd.be_addr,
            dport: port,
            seq: self.stream.limit(),
            ack: fwd.tr.client_to_be_ack(self.ack),
            flags: flags::ACK,
            window: self.window,
            options: SegOptions {
                timestamp: ts.then(|| (self.tsval, fwd.tr.client_to_be_tsecr(self.tsecr))),
                ..SegOptions::default()
            },
            payload: &[],
        }
        .build(out)
    }

    /// The pending head of `head_len` bytes, its body framed as `body`, is
    /// decided
    /// (`Stream::pass_head`). False when following must end.
    pub(crate) fn pass_head(&mut self, body: Body, head_len: usize) -> bool {
        self.stream.pass_head(body, head_len, &mut self.pending)
    }

    /// Whether the pending bytes already hold the next complete head
    /// (`Stream::next_head`).
    pub(crate) fn next_head(&mut self) -> Option<bool> {
        self.stream.next_head(&self.pending)
    }
}
