// SPDX-License-Identifier: GPL-2.0

//! The front-end's side of BTCP: hold a new connection until its first
//! request head has been read, then let it go.
//!
//! The entry of a connection is created at its handshake-completing ACK
//! (never per SYN: a SYN flood cannot fill the table), after the
//! listener's request socket confirms the handshake. From then on BTCP
//! withholds the ACK and every following segment from TCP, so TCP keeps
//! only a request socket and `accept()` cannot see the connection, while it
//! copies the in-order request bytes into the entry's head buffer. When the
//! head is complete (or the connection is not HTTP, closes, exceeds a bound
//! or takes too long) the decision is made. A local decision re-injects the
//! held packets, in order, as if just received: TCP completes the
//! handshake and reads the request, and the entry lingers briefly so the
//! re-injected packets pass the hook untouched.
//!
//! Until the control channel exists every decision is local; the parsed
//! request is what dispatch will consume.
//!
//! Nobody acknowledges the held bytes, so a client can send no more than its
//! initial congestion window (ten segments) of request before it waits for
//! its retransmission timer. A head sent in more segments than that is
//! completed by the retransmission (Linux coalesces small segments when it
//! retransmits) or released by the head timeout; either way it is served.

use crate::{
    bindings::{self, sk_buff},
    handoff_core::{
        http,
        packet::{flags, Ipv4Header, TcpHeader},
        seq::seq_after,
    },
    netns::{NetState, Stats},
};
use kernel::{ffi::c_uint, prelude::*};

/// Most connections a namespace holds (or lets linger) at once.
pub(crate) const MAX_PENDING: usize = 1024;
/// Largest request head read before deciding (bigger heads are served
/// locally).
pub(crate) const HEAD_MAX: usize = 16384;
/// Most packets held for one connection.
const QUEUE_MAX: usize = 64;
/// How long a head may take to arrive before the connection is released.
pub(crate) const HEAD_TIMEOUT_MS: u64 = 2000;
/// How long a released entry lets its re-injected packets pass.
const LINGER_MS: u64 = 3000;

/// A connection's 4-tuple, as seen by the front-end (client → service).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    saddr: [u8; 4],
    daddr: [u8; 4],
    sport: u16,
    dport: u16,
}

/// A socket buffer this module owns; freed on drop unless handed back.
///
/// # Invariants
///
/// `0` is a valid `sk_buff` owned by this value.
pub(crate) struct OwnedSkb(*mut sk_buff);

// SAFETY: an `sk_buff` owned by nobody else may be freed or re-injected
// from any CPU.
unsafe impl Send for OwnedSkb {}

impl OwnedSkb {
    /// Gives the buffer back to the stack as freshly received.
    fn reinject(self, net: *mut bindings::net, ifindex: i32) -> bool {
        let skb = self.0;
        core::mem::forget(self);
        // SAFETY: `skb` is owned (type invariant) and ownership passes to
        // the stack here; `net` is live (the caller runs in it).
        unsafe { bindings::th_skb_reinject(net, skb, ifindex) == 0 }
    }
}

impl Drop for OwnedSkb {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the buffer is ours to free.
        unsafe { bindings::th_kfree_skb(self.0) };
    }
}

enum Phase {
    /// Reading the request head; packets are held.
    Holding,
    /// Released to local TCP at the given time; packets pass.
    Released(u64),
}

/// One connection being decided.
pub(crate) struct Conn {
    key: Key,
    phase: Phase,
    since_ms: u64,
    ifindex: i32,
    /// Next in-order client sequence number the head expects.
    next_seq: u32,
    head: KVec<u8>,
    queue: KVec<OwnedSkb>,
}

/// The connections a namespace is deciding, under [`NetState::pending`].
pub(crate) struct Pending {
    conns: KVec<Conn>,
}

impl Pending {
    pub(crate) fn new() -> Self {
        Pending { conns: KVec::new() }
    }

    fn find(&self, key: &Key) -> Option<usize> {
        self.conns.iter().position(|c| c.key == *key)
    }

    /// Connections still being read, and all entries.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let holding = self
            .conns
            .iter()
            .filter(|c| matches!(c.phase, Phase::Holding))
            .count();
        (holding as u64, self.conns.len() as u64)
    }
}

/// Why a held connection is let go.
#[derive(Clone, Copy)]
enum Reason {
    Http,
    BadHttp,
    NotHttp,
    TooLarge,
    Closed,
    Timeout,
    QueueFull,
}

/// What to re-inject once the lock is dropped.
struct Release {
    skbs: KVec<OwnedSkb>,
    ifindex: i32,
}

fn now_ms() -> u64 {
    // SAFETY: no preconditions.
    unsafe { bindings::th_jiffies_ms() }
}

fn count_reason(st: &NetState, why: Reason) {
    let s = &st.stats;
    let c = match why {
        Reason::Http => &s.heads_http,
        Reason::BadHttp => &s.heads_bad,
        Reason::NotHttp => &s.heads_not_http,
        Reason::TooLarge | Reason::QueueFull => &s.heads_too_large,
        Reason::Closed => &s.heads_closed,
        Reason::Timeout => &s.heads_timeout,
    };
    Stats::inc(c, 1);
    // Every decision is local until the control channel exists.
    Stats::inc(&s.local, 1);
}

/// Ends the holding phase of `c`, taking its packets out for re-injection.
fn release(c: &mut Conn, now: u64) -> Release {
    c.phase = Phase::Released(now);
    c.head = KVec::new();
    Release {
        skbs: core::mem::take(&mut c.queue),
        ifindex: c.ifindex,
    }
}

fn reinject_all(st: &NetState, net: *mut bindings::net, r: Release) {
    for skb in r.skbs {
        if !skb.reinject(net, r.ifindex) {
            Stats::inc(&st.stats.reinject_errors, 1);
        }
    }
}

/// Reads the request bytes of `skb` that extend `c.head` (in order, or
/// overlapping what was read: a retransmission may coalesce many small
/// segments into one), and says whether the head is now decided.
fn absorb(
    c: &mut Conn,
    skb: *const sk_buff,
    off: i32,
    tcp: &TcpHeader,
    len: usize,
) -> Option<Reason> {
    let end = tcp.seq.wrapping_add(len as u32);
    if len > 0 && !seq_after(tcp.seq, c.next_seq) && seq_after(end, c.next_seq) {
        let skip = c.next_seq.wrapping_sub(tcp.seq) as usize;
        let room = HEAD_MAX.saturating_sub(c.head.len());
        let take = (len - skip).min(room);
        let start = c.head.len();
        if take > 0 && c.head.extend_with(take, 0, GFP_ATOMIC).is_ok() {
            // SAFETY: `skb` is valid; `off + skip .. + take` lies inside its
            // payload, and the destination has `take` writable bytes.
            let err = unsafe {
                bindings::th_skb_copy_bits(
                    skb,
                    off + skip as i32,
                    c.head.as_mut_ptr().add(start).cast(),
                    take as i32,
                )
            };
            if err != 0 {
                c.head.truncate(start);
                return Some(Reason::BadHttp);
            }
            c.next_seq = c.next_seq.wrapping_add(take as u32);
        }
    }
    match http::head_status(&c.head, HEAD_MAX) {
        http::HeadStatus::Complete { head_len } => {
            let head = c.head.get(..head_len).unwrap_or(&[]);
            Some(match http::parse_head(head) {
                Ok(_request) => Reason::Http,
                Err(_) => Reason::BadHttp,
            })
        }
        http::HeadStatus::NotHttp => Some(Reason::NotHttp),
        http::HeadStatus::TooLarge => Some(Reason::TooLarge),
        http::HeadStatus::Incomplete if tcp.flags & (flags::FIN | flags::RST) != 0 => {
            Some(Reason::Closed)
        }
        http::HeadStatus::Incomplete if c.queue.len() >= QUEUE_MAX => Some(Reason::QueueFull),
        http::HeadStatus::Incomplete => None,
    }
}

/// The inbound hook's work for a packet to a configured service.
///
/// # Safety
///
/// `net` must be the live namespace of `st`, `skb` a valid buffer the
/// hook may steal, with its network header at `nhoff`.
pub(crate) unsafe fn inbound(
    st: &NetState,
    net: *mut bindings::net,
    skb: *mut sk_buff,
    nhoff: i32,
    ip: &Ipv4Header,
    tcp: &TcpHeader,
) -> c_uint {
    let key = Key {
        saddr: ip.saddr,
        daddr: ip.daddr,
        sport: tcp.sport,
        dport: tcp.dport,
    };
    let payload_off = nhoff + (ip.header_len + tcp.header_len) as i32;
    let payload_len = usize::from(ip.total_len).saturating_sub(ip.header_len + tcp.header_len);
    let now = now_ms();

    if st.pending.lock().find(&key).is_none() {
        // A new entry starts only at the segment that completes the
        // handshake of a request socket (plain ACK, with or without data).
        if tcp.flags & (flags::SYN | flags::RST | flags::FIN) != 0 || tcp.flags & flags::ACK == 0 {
            return bindings::NF_ACCEPT;
        }
        let mut info = bindings::th_reqsk_info::default();
        // SAFETY: `net` is live; `info` is writable. Addresses and ports
        // are passed in network order, as the lookup wants them.
        let kind = unsafe {
            bindings::th_lookup_reqsk(
                net,
                u32::from_ne_bytes(ip.saddr),
                tcp.sport.to_be(),
                u32::from_ne_bytes(ip.daddr),
                tcp.dport.to_be(),
                bindings::th_skb_iif(skb),
                &mut info,
            )
        };
        if kind != bindings::TH_SK_REQUEST as i32
            || tcp.seq != info.rcv_isn.wrapping_add(1)
            || tcp.ack != info.snt_isn.wrapping_add(1)
        {
            return bindings::NF_ACCEPT;
        }
        let mut t = st.pending.lock();
        if t.find(&key).is_none() {
            if t.conns.len() >= MAX_PENDING {
                drop(t);
                Stats::inc(&st.stats.table_full, 1);
                return bindings::NF_ACCEPT;
            }
            let conn = Conn {
                key,
                phase: Phase::Holding,
                since_ms: now,
                // SAFETY: `skb` is valid.
                ifindex: unsafe { bindings::th_skb_iif(skb) },
                next_seq: tcp.seq,
                head: KVec::new(),
                queue: KVec::new(),
            };
            if t.conns.push(conn, GFP_ATOMIC).is_err() {
                return bindings::NF_ACCEPT;
            }
        }
    }

    let mut t = st.pending.lock();
    let Some(i) = t.find(&key) else {
        return bindings::NF_ACCEPT;
    };
    let c = &mut t.conns[i];
    if let Phase::Released(_) = c.phase {
        return bindings::NF_ACCEPT;
    }
    let decided = absorb(c, skb, payload_off, tcp, payload_len);
    // INVARIANT: the hook may steal `skb`; from here this module owns it.
    let owned = OwnedSkb(skb);
    Stats::inc(&st.stats.held_packets, 1);
    // A packet that cannot be queued is still ours: it is re-injected last.
    let extra = if c.queue.reserve(1, GFP_ATOMIC).is_ok() {
        c.queue.push_within_capacity(owned).err().map(|e| e.0)
    } else {
        Some(owned)
    };
    let reason = match (decided, &extra) {
        (Some(r), _) => r,
        (None, Some(_)) => Reason::QueueFull,
        (None, None) => return bindings::NF_STOLEN,
    };
    let rel = release(c, now);
    drop(t);
    count_reason(st, reason);
    let ifindex = rel.ifindex;
    reinject_all(st, net, rel);
    if let Some(skb) = extra {
        if !skb.reinject(net, ifindex) {
            Stats::inc(&st.stats.reinject_errors, 1);
        }
    }
    bindings::NF_STOLEN
}

/// Housekeeping, every tick: release heads that take too long, forget
/// released entries after their linger time.
pub(crate) fn tick(st: &NetState, net: *mut bindings::net) {
    let now = now_ms();
    let mut late = KVec::new();
    {
        let mut t = st.pending.lock();
        for c in t.conns.iter_mut() {
            if matches!(c.phase, Phase::Holding)
                && now.saturating_sub(c.since_ms) >= HEAD_TIMEOUT_MS
            {
                let r = release(c, now);
                if late.push(r, GFP_ATOMIC).is_err() {
                    // The packets are freed with `r`; the client retransmits.
                    Stats::inc(&st.stats.reinject_errors, 1);
                }
            }
        }
        t.conns.retain(
            |c| !matches!(c.phase, Phase::Released(at) if now.saturating_sub(at) >= LINGER_MS),
        );
    }
    for r in late {
        count_reason(st, Reason::Timeout);
        reinject_all(st, net, r);
    }
}
