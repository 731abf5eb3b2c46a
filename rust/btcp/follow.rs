// SPDX-License-Identifier: GPL-2.0

//! The front-end's reading of a kept-alive connection's later requests
//! (keep-alive routing, `Documentation/keepalive.rst`).
//!
//! After the first handoff the front-end forwards every client byte to the
//! back-end, so it can also read them: a [`Follow`] frames the in-order
//! stream (`handoff_core::framing`) and knows where each later request
//! head starts. Bytes before that point go on to the current back-end as
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
        xmit::Seg,
    },
    handoff_core::{
        codec::TcpInit,
        framing::Framer,
        http,
        packet::{flags, TcpHeader},
        rewrite::SegOptions,
        seq::{seq_after, seq_before},
    },
    netns::Addr,
};
use kernel::prelude::*;

/// Most bytes held for a later request (its head and whatever follows it
/// while it is decided or moved).
pub(crate) const PENDING_MAX: usize = HEAD_MAX;

/// Where a followed connection stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Step {
    /// Reading the stream; bytes from [`Follow::limit`] on (a head being
    /// read) are held.
    Reading,
    /// A complete head waits for the worker (its key is queued in
    /// `NetState::deciding`).
    Deciding,
    /// The head of [`Follow::head_len`] bytes goes to node
    /// [`Follow::to`]: MIGRATE_REQUEST was sent to the current back-end at
    /// the given time.
    Moving(u64),
    /// The next back-end was asked to take the connection (the entry is
    /// requested again).
    Handing,
}

/// The front-end's view of a forwarded connection's request stream.
///
/// # Invariants
///
/// `pending` holds the client's bytes from `limit` to `next_seq`. While it
/// is not empty the framer stands at a head that starts at `limit`.
pub(crate) struct Follow {
    pub(crate) framer: Framer,
    /// The client's next in-order sequence number not yet read.
    pub(crate) next_seq: u32,
    /// Client bytes before this sequence number may go to the current
    /// back-end; from it on they belong to a request not yet decided.
    pub(crate) limit: u32,
    pub(crate) pending: KVec<u8>,
    pub(crate) step: Step,
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
    /// The TSval of the segment that brought the byte at `limit`: the
    /// oldest of the held segments, which a next back-end must not see as
    /// older than its handshake (PAWS).
    pub(crate) cut_tsval: u32,
    /// Following ended while the connection was moving: once it has
    /// moved (or stayed), everything held goes on and following stops.
    pub(crate) lost: bool,
    /// The latest acknowledgement the current back-end got from the
    /// client: a held segment may carry a newer one, which the back-end
    /// needs (its server's last response is acknowledged only there).
    sent_ack: u32,
}

/// What the inbound hook does with a packet of a followed connection.
pub(crate) enum Verdict {
    /// Send it to the current back-end.
    Forward,
    /// Hold it (it carries bytes of an undecided request).
    Hold,
    /// Hold it; a head is now complete and must be decided (the caller
    /// queues the key and kicks the worker).
    Decide,
    /// Following ends: send what is held, then this packet, to the
    /// current back-end.
    Release,
}

impl Follow {
    /// Starts following a connection whose first request, `head_len`
    /// bytes parsed as `req`, was handed off with `head` (everything the
    /// client had sent from `first_seq` on). `None` when there is nothing
    /// to follow: the first request was the last, or the client sent more
    /// than its body (a pipelined request, which already went with it).
    pub(crate) fn new(
        client: TcpInit,
        ack: &ClientAck,
        first_seq: u32,
        req: &http::Request<'_>,
        head_len: usize,
        head: &[u8],
    ) -> Option<KBox<Self>> {
        let mut framer = Framer::new();
        framer.head(req, head_len);
        let rest = head.get(head_len..).unwrap_or(&[]);
        if framer.skip(rest) < rest.len() || framer.ended().is_some() {
            return None;
        }
        let next = first_seq.wrapping_add(head.len() as u32);
        // INVARIANT: nothing pending.
        KBox::new(
            Follow {
                framer,
                next_seq: next,
                limit: next,
                pending: KVec::new(),
                step: Step::Reading,
                head_len: 0,
                to: 0,
                client,
                ack: ack.ack.unwrap_or(0),
                tsval: ack.tsval,
                tsecr: ack.tsecr,
                window: ack.window,
                cut_tsval: ack.tsval,
                lost: false,
                sent_ack: ack.ack.unwrap_or(0),
            },
            GFP_KERNEL,
        )
        .ok()
    }

    /// Whether held packet `h` may go to the current back-end: every byte
    /// of it lies before [`Self::limit`] (and a FIN only once nothing is
    /// pending).
    pub(crate) fn forwardable(&self, h: &Held) -> bool {
        !seq_after(h.end, self.limit) && (h.flags & flags::FIN == 0 || self.pending.is_empty())
    }

    /// Whether held packet `h` starts before [`Self::limit`] and ends after
    /// it: its first part belongs to the request the current back-end
    /// serves.
    pub(crate) fn straddles(&self, h: &Held) -> bool {
        seq_before(h.seq, self.limit) && seq_after(h.end, self.limit)
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
        // SAFETY: guaranteed by the caller.
        let v = match unsafe { self.read_segment(skb, off, tcp, len, last) } {
            // While the connection moves, nothing may reach the back-end it
            // leaves: the packet waits for the move to end either way.
            Verdict::Release if matches!(self.step, Step::Moving(_) | Step::Handing) => {
                self.lost = true;
                Verdict::Hold
            }
            v => v,
        };
        if let (Verdict::Forward | Verdict::Release, Some(a)) = (&v, last.ack) {
            if seq_after(a, self.sent_ack) {
                self.sent_ack = a;
            }
        }
        v
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
        if self.step == Step::Handing || !seq_after(self.ack, self.sent_ack) {
            return None;
        }
        self.sent_ack = self.ack;
        Seg {
            saddr: client,
            sport: cport,
            daddr: fwd.be_addr,
            dport: port,
            seq: self.limit,
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

    /// [`Self::feed`] without the care for a connection that moves.
    ///
    /// # Safety
    ///
    /// As for [`Self::feed`].
    unsafe fn read_segment(
        &mut self,
        skb: *const sk_buff,
        off: i32,
        tcp: &TcpHeader,
        len: usize,
        last: &ClientAck,
    ) -> Verdict {
        if self.lost {
            return Verdict::Release;
        }
        if tcp.flags & flags::RST != 0 {
            return Verdict::Release;
        }
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
        let fin = tcp.flags & flags::FIN != 0;
        if len == 0 && !fin {
            return Verdict::Forward;
        }
        let end = tcp.seq.wrapping_add(len as u32);
        if seq_after(tcp.seq, self.next_seq) {
            // A gap: bytes before it are missing, and the framer cannot
            // tell what this segment holds.
            return Verdict::Release;
        }
        if seq_after(end, self.next_seq) {
            let mut at = self.next_seq.wrapping_sub(tcp.seq) as usize;
            let mut buf = [0u8; 256];
            while at < len {
                let n = (len - at).min(buf.len());
                // SAFETY: `off + at .. + n` lies inside the payload
                // (function precondition); `buf` has `n` writable bytes.
                let err = unsafe {
                    bindings::th_skb_copy_bits(
                        skb,
                        off + at as i32,
                        buf.as_mut_ptr().cast(),
                        n as i32,
                    )
                };
                if err != 0 {
                    return Verdict::Release;
                }
                at += n;
                if !self.read(&buf[..n], last.tsval) {
                    return Verdict::Release;
                }
            }
        }
        if fin && self.pending.is_empty() {
            // The client's last byte: nothing more to route.
            return Verdict::Release;
        }
        if !seq_after(end, self.limit) && !fin {
            return Verdict::Forward;
        }
        if self.step != Step::Reading {
            return Verdict::Hold;
        }
        match http::head_status(&self.pending, PENDING_MAX) {
            http::HeadStatus::Complete { .. } => {
                self.step = Step::Deciding;
                Verdict::Decide
            }
            // A client that closes in the middle of a head sends nothing
            // more: the current back-end gets what there is.
            http::HeadStatus::Incomplete if !fin => Verdict::Hold,
            _ => Verdict::Release,
        }
    }

    /// Takes the next in-order bytes of the stream: a body's bytes clear
    /// the way to the current back-end, a head's are held. False when
    /// following must end.
    fn read(&mut self, mut data: &[u8], tsval: u32) -> bool {
        if self.pending.is_empty() && !self.framer.at_head() {
            let used = self.framer.skip(data);
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
        if self.pending.is_empty() {
            self.cut_tsval = tsval;
        }
        if self.pending.len() + data.len() > PENDING_MAX
            || self.pending.extend_from_slice(data, GFP_ATOMIC).is_err()
        {
            return false;
        }
        // INVARIANT: the bytes up to the new `next_seq` are pending.
        self.next_seq = self.next_seq.wrapping_add(data.len() as u32);
        true
    }

    /// The head at [`Self::limit`], `head_len` bytes parsed as `req`, is
    /// done with (it stays on the current back-end, or went with the
    /// connection to the next): the framer passes over it and over its
    /// body as far as it is pending. False when following must end.
    pub(crate) fn pass_head(&mut self, req: &http::Request<'_>, head_len: usize) -> bool {
        self.framer.head(req, head_len);
        self.consume(head_len);
        let used = self.framer.skip(&self.pending);
        self.consume(used);
        self.step = Step::Reading;
        self.framer.ended().is_none()
    }

    /// Drops the first `n` pending bytes, which now belong to the current
    /// back-end.
    fn consume(&mut self, n: usize) {
        let n = n.min(self.pending.len());
        self.pending.copy_within(n.., 0);
        self.pending.truncate(self.pending.len() - n);
        // INVARIANT: `limit` moves with the bytes it no longer holds.
        self.limit = self.limit.wrapping_add(n as u32);
    }

    /// After a decision: whether the pending bytes already hold the next
    /// complete head (it is decided in turn), and false when they can
    /// never be one (following must end).
    pub(crate) fn next_head(&mut self) -> Option<bool> {
        if self.pending.is_empty() {
            return Some(false);
        }
        match http::head_status(&self.pending, PENDING_MAX) {
            http::HeadStatus::Complete { .. } => {
                self.step = Step::Deciding;
                Some(true)
            }
            http::HeadStatus::Incomplete => Some(false),
            _ => None,
        }
    }
}
