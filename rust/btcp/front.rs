// SPDX-License-Identifier: GPL-2.0

//! The front-end's side of BTCP: hold a new connection until its first
//! request head has been read, then serve it locally or hand it off.
//!
//! The entry of a connection is created at its handshake-completing ACK
//! (never per SYN: a SYN flood cannot fill the table), after the
//! listener's request socket confirms the handshake. From then on BTCP
//! withholds the ACK and every following segment from TCP, so TCP keeps
//! only a request socket and `accept()` cannot see the connection, while it
//! copies the in-order request bytes into the entry's head buffer. When the
//! head is complete (or the connection is not HTTP, closes, exceeds a bound
//! or takes too long) the decision is made:
//!
//! - With no peer reachable, or for anything but a complete HTTP head, the
//!   connection is released at once: the held packets are re-injected, in
//!   order, as if just received. TCP completes the handshake and reads the
//!   request; the entry lingers briefly so the re-injected packets pass.
//! - Otherwise the entry waits in [`Phase::Deciding`] for the namespace's
//!   worker, which runs dispatch (`crate::dispatch`) and either releases it
//!   or sends a HANDOFF_REQUEST (`crate::channel`). From then on every
//!   client packet stays queued, and everything the local stack sends on
//!   the connection (SYN/ACK retransmissions) is dropped. A HANDOFF_ACK
//!   turns the entry into a forwarding one: the request socket is removed
//!   with a reset only the local stack sees, the queue is flushed to the
//!   back-end, and every later client packet is translated and sent there.
//!   A NAK, a timeout or a lost channel releases the connection locally.
//! - A TERMINATE from the back-end leaves a tombstone that still forwards
//!   late retransmissions for the linger time, then the entry goes.
//!
//! Nobody acknowledges the held bytes, so a client can send no more than its
//! initial congestion window (ten segments) of request before it waits for
//! its retransmission timer. A head sent in more segments than that is
//! completed by the retransmission (Linux coalesces small segments when it
//! retransmits) or released by the head timeout; either way it is served.

use crate::{
    bindings::{self, sk_buff},
    btcp::{
        drop::DropReason,
        follow::{Follow, Step, Verdict, PENDING_MAX},
        slab::{Cache, Cached, SlabBox},
        table::{DueQueue, Entries, Keyed, BUCKETS, DUE_BATCH},
        xmit, Ip,
    },
    dispatch,
    handoff_core::{
        codec::TcpInit,
        deadline::{expired, spread},
        follow::Pending as _,
        framing::Body,
        http, icmp,
        packet::{flags, TcpHeader},
        rewrite,
        seq::{client_saw_response, seq_after, Translation},
    },
    netns::{Addr, Limits, NetState, Stats, MAX_SERVICES},
    sync::{new_spinlock_bh, SpinLockBh},
    trace, utcp,
};
use core::ffi::CStr;
use kernel::{
    ffi::c_uint,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// Largest request head read before deciding (bigger heads are served
/// locally).
pub(crate) const HEAD_MAX: usize = 16384;
/// Most packets held for one connection.
const QUEUE_MAX: usize = 64;
/// How long a released entry lets its re-injected packets pass.
const LINGER_RELEASED_MS: u64 = 3000;

/// A connection's 4-tuple, as seen by the front-end (client → service).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) saddr: Addr,
    pub(crate) daddr: Addr,
    pub(crate) sport: u16,
    pub(crate) dport: u16,
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
    /// Takes ownership of `skb`.
    ///
    /// # Safety
    ///
    /// `skb` must be a valid buffer that nobody else will use or free (a
    /// netfilter hook's packet it is about to return `NF_STOLEN` for).
    pub(crate) unsafe fn new(skb: *mut sk_buff) -> Self {
        // INVARIANT: guaranteed by the caller.
        OwnedSkb(skb)
    }

    /// The buffer, still owned.
    pub(crate) fn as_ptr(&self) -> *mut sk_buff {
        self.0
    }

    /// Gives up ownership, returning the raw buffer.
    pub(crate) fn into_raw(self) -> *mut sk_buff {
        let skb = self.0;
        core::mem::forget(self);
        skb
    }

    /// Drops the packet, for `reason`.
    pub(crate) fn drop_with(self, reason: DropReason) {
        let skb = self.into_raw();
        // SAFETY: `skb` was owned (type invariant) and is freed here.
        unsafe { bindings::th_kfree_skb_reason(skb, reason.kernel()) };
    }

    /// Gives the buffer back to the stack as freshly received.
    fn reinject(self, net: *mut bindings::net, ifindex: i32) -> bool {
        let skb = self.into_raw();
        // SAFETY: `skb` was owned (type invariant) and ownership passes to
        // the stack here; `net` is live (the caller runs in it).
        unsafe { bindings::th_skb_reinject(net, skb, ifindex) == 0 }
    }
}

/// A packet dropped without a site's own reason goes with its queue (its
/// entry ended or was flushed): [`DropReason::Purged`].
impl Drop for OwnedSkb {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the buffer is ours to free.
        unsafe { bindings::th_kfree_skb_reason(self.0, DropReason::Purged.kernel()) };
    }
}

/// A held client packet and the sequence space it covers.
pub(crate) struct Held {
    pub(crate) skb: OwnedSkb,
    /// The sequence number of its first payload byte, and the one after
    /// its payload.
    pub(crate) seq: u32,
    pub(crate) end: u32,
    pub(crate) flags: u8,
    /// Where its payload starts in the buffer.
    pub(crate) off: i32,
}

impl Held {
    fn new(skb: OwnedSkb, tcp: &TcpHeader, payload_len: usize, off: i32) -> Self {
        Held {
            skb,
            seq: tcp.seq,
            end: tcp.seq.wrapping_add(payload_len as u32),
            flags: tcp.flags,
            off,
        }
    }
}

/// Where a connection is in its life on the front-end.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Reading the request head; packets are held.
    Holding,
    /// Head complete; the worker is to run dispatch. The key was queued
    /// in [`NetState::deciding`] when the entry entered this phase.
    Deciding,
    /// HANDOFF_REQUEST sent at the given time; packets are held.
    Requested(u64),
    /// The answer to the HANDOFF_REQUEST sent at the given time is late or
    /// was lost with its channel, and serving here could clash with a
    /// back-end that already answers the client (design §3, "in doubt").
    /// Packets are held until the back-end's HANDOFF_ACK arrives (again),
    /// or it says it does not know the connection.
    InDoubt(u64),
    /// HANDOFF_ACK received; the worker is flushing the held packets.
    Flushing,
    /// Every client packet is translated and sent to the back-end.
    Forwarding,
    /// The back-end reported the connection closed at the given time;
    /// late packets are still forwarded until the linger time ends.
    Tombstone(u64),
    /// Released to local TCP at the given time; packets pass.
    Released(u64),
}

impl Phase {
    /// Whether the connection is being forwarded to its back-end (counted
    /// in [`FwdCounts`]).
    fn forwarding(self) -> bool {
        matches!(self, Phase::Flushing | Phase::Forwarding)
    }

    /// Whether the connection belongs to another node (or is about to):
    /// the local stack must not send anything on it.
    fn handed_off(self) -> bool {
        matches!(
            self,
            Phase::Requested(_)
                | Phase::InDoubt(_)
                | Phase::Flushing
                | Phase::Forwarding
                | Phase::Tombstone(_)
        )
    }
}

/// What the client's handshake-completing ACK said (the back-end replays
/// it).
#[derive(Clone, Copy, Default)]
pub(crate) struct ClientAck {
    pub(crate) seq: u32,
    pub(crate) window: u16,
    pub(crate) tsval: u32,
    pub(crate) tsecr: u32,
    /// The segment's acknowledgement number, if it has the ACK flag.
    pub(crate) ack: Option<u32>,
    /// Whether it carries SACK blocks.
    pub(crate) sack: bool,
}

/// Where a handed-off connection's packets go.
#[derive(Clone, Copy)]
pub(crate) struct Forward {
    pub(crate) tr: Translation,
    /// The back-end's data address, of the connection's family.
    pub(crate) be_addr: Addr,
    /// The back-end's per-node counters (`NetState::node_slot`).
    pub(crate) slot: Option<u8>,
}

/// One connection of the front-end.
pub(crate) struct Conn {
    pub(crate) key: Key,
    pub(crate) phase: Phase,
    /// When the entry was created (at the handshake-completing ACK).
    pub(crate) since_ms: u64,
    /// When the client last sent a packet this node forwarded (idle
    /// timeout).
    last_ms: u64,
    ifindex: i32,
    /// Next in-order client sequence number the head expects.
    next_seq: u32,
    pub(crate) head: KVec<u8>,
    pub(crate) queue: KVec<Held>,
    pub(crate) ack: ClientAck,
    /// The handoff, once dispatch chose another node.
    pub(crate) node: u32,
    pub(crate) conn_id: u64,
    /// What this node granted in its handshake, as sent to the back-end.
    pub(crate) fe: Option<TcpInit>,
    pub(crate) fwd: Option<Forward>,
    /// The client acknowledged response data while the handoff was in
    /// flight: the back-end took the connection over
    /// ([`client_saw_response`]).
    pub(crate) response_seen: bool,
    /// Whether this entry holds a module reference (forwarding entries
    /// do: the module cannot be unloaded under a live connection).
    module_ref: bool,
    /// While forwarding: the node this entry is counted for in
    /// [`NetState::fwd_counts`] (`None`: it could not be, and is in the
    /// count of uncounted entries).
    counted: Option<u32>,
    /// How this node acknowledges head bytes in its request socket's name.
    acker: Acker,
    /// While forwarding: the reading of the client's later requests
    /// (`follow`), allocated with the handoff, when there are any to read.
    pub(crate) follow: Option<SlabBox<Follow>>,
}

/// What the request socket granted, to acknowledge head bytes in its name
/// while they are withheld from it: without these ACKs a client sends no
/// more than its initial window and then waits for its retransmission
/// timer, and a head sent in small pieces would never complete.
#[derive(Clone, Copy)]
struct Acker {
    /// First sequence number after this node's SYN/ACK.
    snd_nxt: u32,
    /// The last TSval this node sent (the request socket's), if
    /// timestamps are on.
    tsval: Option<u32>,
    /// This node's window scale and the right edge of its initial window.
    wscale: u8,
    right_edge: u32,
}

static CONN_CACHE: Cache = Cache::new();

// SAFETY: `CONN_CACHE` is this type's alone.
unsafe impl Cached for Conn {
    const CACHE: &'static Cache = &CONN_CACHE;
    const NAME: &'static CStr = c"tcp_handoff_fe_conn";
}

impl Keyed for Conn {
    type Key = Key;

    fn key(&self) -> &Key {
        &self.key
    }
}

/// One bucket of the front-end's table ([`NetState::pending`]).
///
/// Answers from back-ends name their connection by handoff id, and a
/// bucket holds a few hundred entries when the table holds tens of
/// thousands: `ids` finds an id with a binary search of one small array
/// instead of a look into every entry's slab object.
///
/// # Invariants
///
/// Unless `ids_lost`, `ids` holds `(conn_id, key)` of exactly the entries
/// of `conns` whose `conn_id` is nonzero, ascending. An entry's `conn_id`
/// is set once (from 0, by the worker, which then calls
/// [`Self::index_id`]) and entries leave through [`Self::remove`].
pub(crate) struct Pending {
    pub(crate) conns: Entries<Conn>,
    ids: KVec<(u64, Key)>,
    /// An id could not be listed (no memory): [`Self::by_id`] rebuilds the
    /// list, or scans the entries.
    ids_lost: bool,
}

impl Pending {
    pub(crate) fn new() -> Self {
        // INVARIANT: no entries, no ids.
        Pending {
            conns: Entries::new(),
            ids: KVec::new(),
            ids_lost: false,
        }
    }

    /// Lists handoff id `id`, just given to the entry of `key`.
    pub(crate) fn index_id(&mut self, id: u64, key: Key) {
        if self.ids_lost {
            return;
        }
        let Err(at) = self.ids.binary_search_by_key(&id, |e| e.0) else {
            return;
        };
        // INVARIANT: inserted in order, or the list is marked lost.
        if self.ids.reserve(1, GFP_ATOMIC).is_err()
            || self.ids.insert_within_capacity(at, (id, key)).is_err()
        {
            self.ids_lost = true;
            self.ids = KVec::new();
        }
    }

    /// Removes the entry at `i` (drop it outside the lock when possible).
    pub(crate) fn remove(&mut self, i: usize) -> Option<SlabBox<Conn>> {
        let c = self.conns.remove(i).ok()?;
        if c.conn_id != 0 && !self.ids_lost {
            if let Ok(j) = self.ids.binary_search_by_key(&c.conn_id, |e| e.0) {
                // INVARIANT: its id goes with it.
                let _ = self.ids.remove(j);
            }
        }
        Some(c)
    }

    /// Lists every id again after [`Self::index_id`] ran out of memory.
    fn rebuild_ids(&mut self) {
        let n = self.conns.iter().filter(|c| c.conn_id != 0).count();
        let Ok(mut ids) = KVec::with_capacity(n, GFP_ATOMIC) else {
            return;
        };
        for c in self.conns.iter().filter(|c| c.conn_id != 0) {
            // Room was reserved above.
            let _ = ids.push_within_capacity((c.conn_id, c.key));
        }
        crate::handoff_core::sort::heapsort(&mut ids);
        // INVARIANT: every nonzero id of the bucket, ascending.
        self.ids = ids;
        self.ids_lost = false;
    }

    fn find(&self, key: &Key) -> Option<usize> {
        self.conns.find(key)
    }

    /// The connection of `key` in this bucket.
    pub(crate) fn get_mut(&mut self, key: &Key) -> Option<&mut Conn> {
        let i = self.conns.find(key)?;
        Some(&mut self.conns[i])
    }

    /// The connection with handoff id `id` in this bucket.
    pub(crate) fn by_id(&mut self, id: u64) -> Option<&mut Conn> {
        if id == 0 {
            return None;
        }
        if self.ids_lost {
            self.rebuild_ids();
        }
        if self.ids_lost {
            return self
                .conns
                .iter_mut()
                .find(|c| c.conn_id == id)
                .map(|c| &mut **c);
        }
        let j = self.ids.binary_search_by_key(&id, |e| e.0).ok()?;
        let i = self.conns.find(&self.ids[j].1)?;
        let c: &mut Conn = &mut self.conns[i];
        (c.conn_id == id).then_some(c)
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

    /// Tombstone and in-flight entries (forwarding ones are counted in
    /// [`FwdCounts`]).
    pub(crate) fn handoff_counts(&self) -> (u64, u64) {
        let (mut tomb, mut flight) = (0, 0);
        for c in self.conns.iter() {
            match c.phase {
                Phase::Tombstone(_) => tomb += 1,
                Phase::Deciding | Phase::Requested(_) | Phase::InDoubt(_) => flight += 1,
                _ => {}
            }
        }
        (tomb, flight)
    }

    /// Forwarding connections handed to `node` (walking the bucket: only
    /// while some entry is missing from [`FwdCounts`]).
    pub(crate) fn active_for(&self, node: u32) -> u32 {
        self.conns
            .iter()
            .filter(|c| c.node == node && matches!(c.phase, Phase::Flushing | Phase::Forwarding))
            .count() as u32
    }
}

/// The bucket of `key` in the front-end's table.
pub(crate) fn bucket_of(st: &NetState, key: &Key) -> usize {
    st.pending
        .index(&key.saddr, &key.daddr, key.sport, key.dport)
}

/// A handoff id for a connection in bucket `bucket`: the low bits name the
/// bucket, so an answer finds its connection with one bucket lock.
pub(crate) fn new_id(st: &NetState, bucket: usize) -> u64 {
    let n = st.next_id.fetch_add(1, kernel::sync::atomic::Relaxed);
    (n << 8 | bucket as u64) | 1 << 63
}

/// The bucket a handoff id names.
pub(crate) fn bucket_of_id(id: u64) -> usize {
    (id & 0xff) as usize
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.module_ref {
            // SAFETY: this entry took the reference in `forwarding`.
            unsafe { bindings::th_module_put() };
        }
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

/// Held packets to re-inject once the lock is dropped.
pub(crate) struct Release {
    skbs: KVec<Held>,
    ifindex: i32,
    /// The service's address and port (its counters).
    service: (Addr, u16),
}

pub(crate) fn now_ms() -> u64 {
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
}

/// Moves `c` into `phase`, keeping [`NetState::fwd_counts`] in step: every
/// change of phase into or out of forwarding goes through here.
fn set_phase(st: &NetState, c: &mut Conn, phase: Phase) {
    match (c.phase.forwarding(), phase.forwarding()) {
        (false, true) => c.counted = st.fwd_counts.enter(c.node),
        (true, false) => st.fwd_counts.leave(c.counted.take()),
        _ => {}
    }
    c.phase = phase;
}

/// Ends the holding phase of `c` (in `st`'s table, its bucket locked),
/// taking its packets out for re-injection; the entry lingers
/// [`LINGER_RELEASED_MS`] ([`NetState::released`]).
pub(crate) fn release(st: &NetState, c: &mut Conn, now: u64) -> Release {
    set_phase(st, c, Phase::Released(now));
    c.follow = None;
    st.released.push(c.key, now);
    c.head = KVec::new();
    c.fwd = None;
    Release {
        skbs: core::mem::take(&mut c.queue),
        ifindex: c.ifindex,
        service: (c.key.daddr, c.key.dport),
    }
}

/// Gives released packets back to the local stack (any context).
///
/// Only what the stack has not seen goes back: the handshake-completing
/// ACK first, then segments that bring new sequence space, a FIN or a
/// RST. The client's retransmissions of its head and its duplicate ACKs
/// are dropped: re-injected behind the originals they are stale, and the
/// server, already answering on another CPU, may have closed by the time
/// they arrive, which would send the client a reset.
pub(crate) fn reinject_all(st: &NetState, net: *mut bindings::net, r: Release) {
    Stats::inc(&st.stats.local, 1);
    if let Some(s) = st.services.stats_of(&r.service.0, r.service.1) {
        Stats::inc(&s.local, 1);
    }
    let mut covered: Option<u32> = None;
    for h in r.skbs {
        let fresh = match covered {
            None => true,
            Some(end) => {
                h.flags & (flags::SYN | flags::FIN | flags::RST) != 0 || seq_after(h.end, end)
            }
        };
        if !fresh {
            h.skb.drop_with(DropReason::StaleHeld);
            continue;
        }
        if covered.is_none_or(|end| seq_after(h.end, end)) {
            covered = Some(h.end);
        }
        if !h.skb.reinject(net, r.ifindex) {
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
        http::HeadStatus::Incomplete if closes(c, tcp, len) => Some(Reason::Closed),
        http::HeadStatus::Incomplete if c.queue.len() >= QUEUE_MAX => Some(Reason::QueueFull),
        http::HeadStatus::Incomplete => None,
    }
}

/// Whether `tcp` closes the held connection `c` as TCP would take it: a FIN
/// after every byte before it was read, or a reset inside the window (the
/// request socket's own check, `tcp_in_window` in `tcp_check_req`).
/// Anything else, such as a blind reset or FIN outside the window or a FIN
/// after a gap, is held like any other packet and left to TCP when the
/// connection is released or handed off.
fn closes(c: &Conn, tcp: &TcpHeader, len: usize) -> bool {
    if tcp.flags & flags::RST != 0 {
        return !seq_after(c.next_seq, tcp.seq) && !seq_after(tcp.seq, c.acker.right_edge);
    }
    tcp.flags & flags::FIN != 0 && tcp.seq.wrapping_add(len as u32) == c.next_seq
}

/// Whether TCP would drop `skb` for its checksum (its TCP header at
/// `thoff`). Only segments whose bytes the front-end reads are checked:
/// forwarded ones are the back-end's TCP's to check.
///
/// # Safety
///
/// `skb` must be the inbound hook's valid packet, not yet passed on, with
/// its TCP header at `thoff`.
unsafe fn csum_bad(skb: *mut sk_buff, family: i32, thoff: i32) -> bool {
    // SAFETY: guaranteed by the caller.
    unsafe { bindings::th_skb_tcp_csum_bad(skb, family, thoff) }
}

/// Queues `skb` on `c`; a packet that cannot be queued is dropped (the
/// client retransmits it).
fn enqueue(st: &NetState, c: &mut Conn, skb: Held) {
    Stats::inc(&st.stats.held_packets, 1);
    if c.queue.len() >= QUEUE_MAX {
        Stats::inc(&st.stats.heads_too_large, 1);
        skb.skb.drop_with(DropReason::HeldQueueFull);
        return;
    }
    if c.queue.reserve(1, GFP_ATOMIC).is_err() {
        Stats::inc(&st.stats.heads_too_large, 1);
        skb.skb.drop_with(DropReason::NoMemory);
        return;
    }
    if let Err(e) = c.queue.push_within_capacity(skb) {
        e.0.skb.drop_with(DropReason::NoMemory);
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
    ip: &Ip,
    tcp: &TcpHeader,
    ack: ClientAck,
) -> c_uint {
    let key = Key {
        saddr: ip.saddr,
        daddr: ip.daddr,
        sport: tcp.sport,
        dport: tcp.dport,
    };
    let thoff = nhoff + ip.header_len as i32;
    let payload_off = thoff + tcp.header_len as i32;
    let payload_len = ip.total_len.saturating_sub(ip.header_len + tcp.header_len);
    let now = now_ms();

    let bucket = bucket_of(st, &key);
    if st.pending.lock(bucket).find(&key).is_none() {
        // A new entry starts only at the segment that completes the
        // handshake of a request socket (plain ACK, with or without data).
        if tcp.flags & (flags::SYN | flags::RST | flags::FIN) != 0 || tcp.flags & flags::ACK == 0 {
            return bindings::NF_ACCEPT;
        }
        let mut info = bindings::th_reqsk_info::default();
        // SAFETY: `net` is live; `info` is writable. Addresses (of the
        // key's one family) and ports are passed in network order, as the
        // lookup wants them.
        let kind = unsafe {
            bindings::th_lookup_reqsk(
                net,
                key.saddr.family(),
                key.saddr.bytes().as_ptr(),
                tcp.sport.to_be(),
                key.daddr.bytes().as_ptr(),
                tcp.dport.to_be(),
                bindings::th_skb_iif(skb),
                &mut info,
            )
        };
        if kind != bindings::TH_SK_REQUEST as i32
            || tcp.seq != info.rcv_isn.wrapping_add(1)
            || tcp.ack != info.snt_isn.wrapping_add(1)
            // SAFETY: the hook's packet, its TCP header at `thoff`.
            || unsafe { csum_bad(skb, key.saddr.family(), thoff) }
        {
            return bindings::NF_ACCEPT;
        }
        // The shim guards the listener before the connection is held.
        // SAFETY: the request socket's listener is valid while the hook
        // runs (RCU read-side section; listeners are RCU-freed).
        unsafe { utcp::attach(st, info.listener) };
        let mut t = st.pending.lock(bucket);
        if t.find(&key).is_none() {
            // A deleted service's connections drain; new ones are the
            // local stack's alone.
            if st.services.draining(&key.daddr, key.dport) {
                return bindings::NF_ACCEPT;
            }
            if st.pending.len() >= Limits::get(&st.limits.max_conns) as usize {
                drop(t);
                Stats::inc(&st.stats.table_full, 1);
                return bindings::NF_ACCEPT;
            }
            let conn = Conn {
                key,
                phase: Phase::Holding,
                since_ms: now,
                last_ms: now,
                // SAFETY: `skb` is valid.
                ifindex: unsafe { bindings::th_skb_iif(skb) },
                next_seq: tcp.seq,
                head: KVec::new(),
                queue: KVec::new(),
                ack,
                node: 0,
                conn_id: 0,
                fe: None,
                fwd: None,
                response_seen: false,
                module_ref: false,
                counted: None,
                follow: None,
                acker: Acker {
                    snd_nxt: info.snt_isn.wrapping_add(1),
                    tsval: (info.tstamp_ok != 0).then_some(info.snt_tsval_last),
                    wscale: if info.wscale_ok != 0 {
                        info.rcv_wscale.min(14)
                    } else {
                        0
                    },
                    right_edge: tcp.seq.wrapping_add(info.rcv_wnd),
                },
            };
            let Ok(conn) = SlabBox::new(conn) else {
                return bindings::NF_ACCEPT;
            };
            if t.conns.insert(conn).is_err() {
                return bindings::NF_ACCEPT;
            }
            st.pending.added(1);
            // The head timeout runs from now.
            st.holding.push(key, now);
            if let Some(s) = st.services.stats_of(&key.daddr, key.dport) {
                Stats::inc(&s.conns, 1);
            }
        }
    }

    let mut t = st.pending.lock(bucket);
    let Some(i) = t.find(&key) else {
        return bindings::NF_ACCEPT;
    };
    let c = &mut t.conns[i];
    // Connection-per-request clients reuse their ports quickly: a SYN with
    // another initial sequence number than the entry's connection is a new
    // connection on the tuple, and the client has given the old one up.
    let new_syn = tcp.flags & (flags::SYN | flags::ACK | flags::RST) == flags::SYN
        && tcp.seq != c.ack.seq.wrapping_sub(1);
    match c.phase {
        Phase::Released(_) => return bindings::NF_ACCEPT,
        // Forwarded, or forwarded until lately: the entry only carried the
        // old connection to its back-end. Sending the new SYN there would
        // meet a socket of the old connection, or none (its entry gone, its
        // SYN/ACK would reach the client under the back-end's own address):
        // the entry ends here and the local stack answers the SYN. A
        // back-end socket still open closes by itself (idle timeout).
        Phase::Forwarding | Phase::Tombstone(_) if new_syn => {
            if c.phase == Phase::Forwarding {
                // Leaves the forwarding counts.
                tombstone(st, c, now);
            }
            let gone = t.remove(i);
            drop(t);
            if gone.is_some() {
                st.pending.removed(1);
            }
            // Dropped outside the lock: a module reference may go with it.
            drop(gone);
            return bindings::NF_ACCEPT;
        }
        // Still deciding where the old connection goes: the new SYN must
        // neither join its held packets nor reach a request socket of the
        // old connection. The client retransmits it.
        Phase::Deciding | Phase::Requested(_) | Phase::InDoubt(_) | Phase::Flushing if new_syn => {
            drop(t);
            // SAFETY: the hook's packet, not yet passed on.
            return unsafe { xmit::swallow(skb, DropReason::SynWhileDeciding) };
        }
        Phase::Forwarding | Phase::Tombstone(_) => {
            let Some(fwd) = c.fwd else {
                return bindings::NF_ACCEPT;
            };
            c.last_ms = now;
            // A segment TCP will drop for its checksum is no part of the
            // stream: it goes on as it is, unread.
            let forwarding = c.phase == Phase::Forwarding
                && c.follow.is_some()
                // SAFETY: the hook's packet, its TCP header at `thoff`.
                && (payload_len == 0 || !unsafe { csum_bad(skb, key.saddr.family(), thoff) });
            let verdict = match c.follow.as_mut() {
                // SAFETY: the hook's packet holds `payload_len` bytes at
                // `payload_off`.
                Some(f) if forwarding => unsafe {
                    f.feed(skb, payload_off, tcp, payload_len, &ack)
                },
                _ => Verdict::Forward,
            };
            match verdict {
                Verdict::Forward => {}
                Verdict::Hold | Verdict::Decide => {
                    // SAFETY: the hook may steal `skb`; it is ours from here.
                    let owned = unsafe { OwnedSkb::new(skb) };
                    enqueue(st, c, Held::new(owned, tcp, payload_len, payload_off));
                    let (go, decide) = match verdict {
                        Verdict::Decide => decide_inline(st, c),
                        _ => (KVec::new(), false),
                    };
                    if decide {
                        st.deciding.push(key);
                    }
                    // IPv6 header (40) and TCP header with timestamps (32).
                    let mut buf = [0u8; 80];
                    let ts = c.fe.is_some_and(|fe| fe.ts_ok);
                    let held = !c.queue.is_empty();
                    let acked = c.follow.as_mut().filter(|_| held).and_then(|f| {
                        f.ack_segment(key.saddr, key.sport, key.dport, &fwd, ts, &mut buf)
                    });
                    drop(t);
                    if let Some(n) = acked {
                        xmit::send_built(st, net, buf.get(..n).unwrap_or(&[]), &fwd);
                    }
                    for h in go {
                        xmit::forward(st, net, h.skb, &fwd);
                    }
                    if decide {
                        st.kick();
                    }
                    return bindings::NF_STOLEN;
                }
                Verdict::Release => {
                    // Following ends: what was held goes first.
                    c.follow = None;
                    let held = core::mem::take(&mut c.queue);
                    drop(t);
                    for h in held {
                        xmit::forward(st, net, h.skb, &fwd);
                    }
                    // SAFETY: the hook may steal `skb`; it is ours from here.
                    let owned = unsafe { OwnedSkb::new(skb) };
                    xmit::forward(st, net, owned, &fwd);
                    return bindings::NF_STOLEN;
                }
            }
            drop(t);
            // SAFETY: the hook may steal `skb`; it is ours from here.
            let owned = unsafe { OwnedSkb::new(skb) };
            xmit::forward(st, net, owned, &fwd);
            return bindings::NF_STOLEN;
        }
        Phase::Deciding | Phase::Requested(_) | Phase::InDoubt(_) | Phase::Flushing => {
            if matches!(c.phase, Phase::Requested(_) | Phase::InDoubt(_))
                && client_saw_response(ack.ack, ack.sack, c.acker.snd_nxt)
            {
                c.response_seen = true;
            }
            // A connection that moves to its next back-end: its bytes are
            // read on (held either way), unless TCP will drop them.
            // SAFETY: the hook's packet, its TCP header at `thoff`.
            let readable = payload_len == 0 || !unsafe { csum_bad(skb, key.saddr.family(), thoff) };
            if let Some(f) = c.follow.as_mut().filter(|_| readable) {
                // SAFETY: the hook's packet holds `payload_len` bytes at
                // `payload_off`.
                let v = unsafe { f.feed(skb, payload_off, tcp, payload_len, &ack) };
                if let Verdict::Release = v {
                    c.follow = None;
                }
            }
            // SAFETY: the hook may steal `skb`; it is ours from here.
            let owned = unsafe { OwnedSkb::new(skb) };
            enqueue(st, c, Held::new(owned, tcp, payload_len, payload_off));
            return bindings::NF_STOLEN;
        }
        Phase::Holding => {}
    }
    // A segment TCP would drop for its checksum must not become part of
    // the head, nor be acknowledged: TCP drops it (InCsumErrors) and the
    // client sends it again.
    // SAFETY: the hook's packet, its TCP header at `thoff`.
    if unsafe { csum_bad(skb, key.saddr.family(), thoff) } {
        return bindings::NF_ACCEPT;
    }
    let before = c.next_seq;
    let decided = absorb(c, skb, payload_off, tcp, payload_len);
    // SAFETY: the hook may steal `skb`; from here this module owns it.
    let owned = Held::new(unsafe { OwnedSkb::new(skb) }, tcp, payload_len, payload_off);
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
        (None, None) => {
            // Still reading: acknowledge what was read, so the client sends
            // the rest of its head.
            let ack = (c.next_seq != before).then(|| head_ack(c, &ack));
            drop(t);
            if let Some(seg) = ack {
                send_head_ack(net, &seg);
            }
            return bindings::NF_STOLEN;
        }
    };
    count_reason(st, reason);
    // A complete HTTP head goes to dispatch when another node could take
    // it; everything else is served here at once.
    if matches!(reason, Reason::Http) && extra.is_none() && st.dispatch_wanted() {
        c.phase = Phase::Deciding;
        trace::handoff_queued(st.netns, &key, c.head.len());
        // The worker finds it by its key, not by walking the table.
        st.deciding.push(key);
        drop(t);
        // SAFETY: `net` is live.
        unsafe { bindings::th_net_kick(net) };
        return bindings::NF_STOLEN;
    }
    let rel = release(st, c, now);
    drop(t);
    let ifindex = rel.ifindex;
    reinject_all(st, net, rel);
    if let Some(h) = extra {
        if !h.skb.reinject(net, ifindex) {
            Stats::inc(&st.stats.reinject_errors, 1);
        }
    }
    bindings::NF_STOLEN
}

/// The acknowledgement of the head bytes read so far, from the service to
/// the client, as the request socket would send it.
fn head_ack(c: &Conn, last: &ClientAck) -> AckSeg {
    let a = &c.acker;
    let room = a.right_edge.wrapping_sub(c.next_seq);
    let room = if seq_after(a.right_edge, c.next_seq) {
        room
    } else {
        0
    };
    AckSeg {
        key: c.key,
        seq: a.snd_nxt,
        ack: c.next_seq,
        window: u16::try_from(room >> a.wscale).unwrap_or(u16::MAX),
        ts: a.tsval.map(|v| (v, last.tsval)),
    }
}

/// A head acknowledgement to send once the bucket lock is dropped.
struct AckSeg {
    key: Key,
    seq: u32,
    ack: u32,
    window: u16,
    ts: Option<(u32, u32)>,
}

fn send_head_ack(net: *mut bindings::net, a: &AckSeg) {
    let options = rewrite::SegOptions {
        timestamp: a.ts,
        ..Default::default()
    };
    // IPv6 header (40) and TCP header with timestamps (32).
    let mut buf = [0u8; 80];
    let built = xmit::Seg {
        saddr: a.key.daddr,
        sport: a.key.dport,
        daddr: a.key.saddr,
        dport: a.key.sport,
        seq: a.seq,
        ack: a.ack,
        flags: flags::ACK,
        window: a.window,
        options,
        payload: &[],
    }
    .build(&mut buf);
    if let Some(n) = built {
        // SAFETY: `net` is live; `buf` holds `n` readable bytes, a packet
        // of the key's family.
        unsafe { bindings::th_send_raw(net, a.key.saddr.family(), buf.as_ptr().cast(), n as u32) };
    }
}

/// Bytes of an ICMPv6 error the front-end reads to find its quote: the
/// minimum ([`icmp::MIN_LOOK_V6`]) with room for extension headers. An
/// error whose quote lies further in is left to the local stack.
const ICMP6_LOOK: usize = 256;

/// The inbound hook's work for an ICMP message to a service address: an
/// error that quotes a reply of a forwarded connection (service → client)
/// is rewritten for its back-end and sent there (design, "ICMP"); the
/// rest passes.
///
/// # Safety
///
/// As for [`inbound`].
pub(crate) unsafe fn icmp_inbound(
    st: &NetState,
    net: *mut bindings::net,
    skb: *mut sk_buff,
    nhoff: i32,
    v6: bool,
) -> c_uint {
    let mut buf = [0u8; ICMP6_LOOK];
    let look = if v6 { ICMP6_LOOK } else { icmp::MAX_LOOK };
    // SAFETY: `skb` is valid (function precondition).
    let len = (unsafe { bindings::th_skb_len(skb) } as usize)
        .saturating_sub(nhoff.max(0) as usize)
        .min(look);
    // SAFETY: `buf` has room for `len` bytes; the helper returns null or a
    // pointer to that many readable bytes.
    let p =
        unsafe { bindings::th_skb_header_pointer(skb, nhoff, len as i32, buf.as_mut_ptr().cast()) };
    if p.is_null() {
        return bindings::NF_ACCEPT;
    }
    // SAFETY: as above.
    let pkt = unsafe { core::slice::from_raw_parts(p.cast::<u8>(), len) };
    // The quoted segment went from the service to the client: its
    // connection's key is the reverse.
    let (key, qlen) = if v6 {
        let Some(q) = icmp::parse_quote_v6(pkt) else {
            return bindings::NF_ACCEPT;
        };
        let key = Key {
            saddr: Addr::V6(q.daddr),
            daddr: Addr::V6(q.saddr),
            sport: q.dport,
            dport: q.sport,
        };
        (key, q.len)
    } else {
        let Some(q) = icmp::parse_quote(pkt) else {
            return bindings::NF_ACCEPT;
        };
        let key = Key {
            saddr: Addr::V4(q.daddr),
            daddr: Addr::V4(q.saddr),
            sport: q.dport,
            dport: q.sport,
        };
        (key, q.len)
    };
    let fwd = {
        let t = st.pending.lock(bucket_of(st, &key));
        match t.find(&key) {
            Some(i) if matches!(t.conns[i].phase, Phase::Forwarding | Phase::Tombstone(_)) => {
                t.conns[i].fwd
            }
            _ => None,
        }
    };
    let Some(fwd) = fwd else {
        return bindings::NF_ACCEPT;
    };
    // SAFETY: the hook may steal `skb`; it is ours from here.
    let owned = unsafe { OwnedSkb::new(skb) };
    xmit::forward_icmp(st, net, owned, qlen, &fwd);
    bindings::NF_STOLEN
}

/// Whether this node holds, decides on or has handed off the connection of
/// `key` (the UTCP shim then refuses it a child socket).
pub(crate) fn holds(st: &NetState, key: &Key) -> bool {
    let t = st.pending.lock(bucket_of(st, key));
    t.find(key)
        .is_some_and(|i| !matches!(t.conns[i].phase, Phase::Released(_)))
}

/// The outbound hook's verdict on a packet the local stack sends from a
/// service: swallowed when its connection belongs to another node.
///
/// # Safety
///
/// `skb` must be the hook's valid packet, not yet passed on.
pub(crate) unsafe fn outbound(
    st: &NetState,
    skb: *mut sk_buff,
    ip: &Ip,
    tcp: &TcpHeader,
) -> c_uint {
    let key = Key {
        saddr: ip.daddr,
        daddr: ip.saddr,
        sport: tcp.dport,
        dport: tcp.sport,
    };
    let t = st.pending.lock(bucket_of(st, &key));
    match t.find(&key) {
        // The client acknowledged this SYN/ACK already (the entry holds its
        // ACK, withheld from the request socket, which therefore keeps
        // retransmitting): a copy only makes the client answer with a
        // duplicate ACK, stale by the time it is re-injected.
        Some(i)
            if t.conns[i].phase.handed_off()
                || (tcp.flags & flags::SYN != 0
                    && matches!(t.conns[i].phase, Phase::Holding | Phase::Deciding)) =>
        {
            drop(t);
            Stats::inc(&st.stats.fe_tx_dropped, 1);
            // SAFETY: guaranteed by the caller.
            unsafe { xmit::swallow(skb, DropReason::NotOurs) }
        }
        _ => bindings::NF_ACCEPT,
    }
}

/// Marks `c` as accepted by its back-end and takes its held packets for the
/// flush. The caller forwards them, then calls [`flush_done`].
pub(crate) fn start_forwarding(st: &NetState, c: &mut Conn, fwd: Forward) -> KVec<Held> {
    c.fwd = Some(fwd);
    set_phase(st, c, Phase::Flushing);
    c.last_ms = now_ms();
    c.head = KVec::new();
    if !c.module_ref {
        // SAFETY: no preconditions; the reference is dropped with the entry.
        c.module_ref = unsafe { bindings::th_module_get() };
    }
    take_forwardable(c)
}

/// Starts following `c`'s later requests with `f`, made from the bytes
/// the handoff carries: what the client sent after them while the handoff
/// was decided, held already, is read first, so the hook reads every
/// later segment in order.
pub(crate) fn start_following(c: &mut Conn, mut f: SlabBox<Follow>) {
    let ended = c
        .queue
        .iter()
        .any(|h| matches!(f.feed_held(h), Verdict::Release));
    c.follow = (!ended).then_some(f);
}

/// Takes the held packets of `c` that may go to its current back-end:
/// all of them, unless some carry bytes of a later request not yet decided
/// (`follow`), which stay held.
pub(crate) fn take_forwardable(c: &mut Conn) -> KVec<Held> {
    let held = core::mem::take(&mut c.queue);
    let Some(f) = c.follow.as_deref() else {
        return held;
    };
    if f.stream.lost {
        // Following ended while the connection moved: everything goes.
        c.follow = None;
        return held;
    }
    let mut out = KVec::new();
    for h in held {
        let to = if f.forwardable(&h) {
            &mut out
        } else {
            &mut c.queue
        };
        // Without memory the packet goes; the client sends it again.
        let _ = to.push(h, GFP_ATOMIC);
    }
    out
}

/// Ends the forwarding of `c` (its bucket locked): the back-end reported
/// it closed, or it was idle too long. The entry lingers as a tombstone
/// ([`NetState::tombstones`]); packets still held go with it.
pub(crate) fn tombstone(st: &NetState, c: &mut Conn, now: u64) {
    set_phase(st, c, Phase::Tombstone(now));
    st.tombstones.push(c.key, now);
    c.follow = None;
}

/// Moves `c`, a forwarded connection, back to requested: it is handed to
/// `node` again (a later request belongs there), with what this node
/// grants in its name (`fe`) and the client's segment to replay (`ack`).
pub(crate) fn request_again(
    st: &NetState,
    c: &mut Conn,
    node: u32,
    fe: TcpInit,
    ack: ClientAck,
    now: u64,
) {
    set_phase(st, c, Phase::Requested(now));
    c.node = node;
    c.fe = Some(fe);
    c.ack = ack;
    c.fwd = None;
    c.response_seen = false;
}

/// A later request head of `c` is complete: while the rules keep it on
/// the connection's node (`dispatch::stays`), it is passed over here, in
/// the hook, so a request that stays costs no wait for the worker, and the
/// next pending head, if complete, is looked at in turn. Returns the held
/// packets that may now go to the back-end, and whether a head is left for
/// the worker (one that may move).
fn decide_inline(st: &NetState, c: &mut Conn) -> (KVec<Held>, bool) {
    let node = c.node;
    let mut worker = false;
    let mut ended = false;
    while let Some(f) = c.follow.as_deref_mut() {
        if f.step() != Step::Deciding {
            break;
        }
        let found = {
            let bytes = f.pending.bytes();
            match http::head_status(bytes, PENDING_MAX) {
                http::HeadStatus::Complete { head_len } => bytes
                    .get(..head_len)
                    .and_then(|h| http::parse_head(h).ok())
                    .map(|req| (head_len, Body::of(&req), dispatch::stays(st, &req, node))),
                _ => None,
            }
        };
        match found {
            Some((head_len, body, true)) => {
                Stats::inc(&st.stats.later_requests, 1);
                match f.pass_head(body, head_len).then(|| f.next_head()).flatten() {
                    Some(true) => {}
                    Some(false) => break,
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            // A head that may move, or does not parse: the worker's.
            _ => {
                worker = true;
                break;
            }
        }
    }
    if ended {
        // Following ended: everything held goes.
        c.follow = None;
        return (core::mem::take(&mut c.queue), false);
    }
    (take_forwardable(c), worker)
}

/// Ends a flush: returns packets queued meanwhile, or switches `c` to
/// forwarding when there are none to send (packets of a later request not
/// yet decided stay held).
pub(crate) fn flush_done(st: &NetState, c: &mut Conn) -> KVec<Held> {
    let out = take_forwardable(c);
    if !out.is_empty() || c.phase != Phase::Flushing {
        return out;
    }
    c.phase = Phase::Forwarding;
    // The held bytes may already hold the next request's head.
    let Some(f) = c.follow.as_mut() else {
        return out;
    };
    let decide = match f.step() {
        Step::Deciding => true,
        Step::Reading => match f.next_head() {
            Some(decide) => decide,
            None => {
                // They can never be one: following ends, and they go.
                c.follow = None;
                return core::mem::take(&mut c.queue);
            }
        },
        _ => false,
    };
    if decide {
        st.deciding.push(c.key);
        st.kick();
    }
    out
}

/// The front-end's forwarding connections per back-end node, for
/// least-connections dispatch (`crate::dispatch`), which used to count
/// them by walking the whole table once per candidate node and decision.
///
/// Counted by node id, not by the node's counter slot: a slot is reused by
/// another node after `node-del` while entries of the deleted node may
/// still forward, and dispatch counts entries by the id they were handed
/// to. An id's count goes when it drops to 0, so deleted nodes leave
/// nothing behind. The phase changes that enter and leave forwarding all
/// go through `set_phase`, under the entry's bucket lock.
///
/// Lock order: a bucket lock, then this lock.
///
/// # Invariants
///
/// For every node id, its count in `nodes` (0 when absent; never stored as
/// 0) is the number of entries in a forwarding phase counted for that id
/// (`Conn::counted`); `uncounted` is the number of entries in a forwarding
/// phase counted for none (no memory for their id's count).
#[pin_data]
pub(crate) struct FwdCounts {
    #[pin]
    nodes: SpinLockBh<KVec<(u32, u32)>>,
    uncounted: Atomic<u32>,
}

impl FwdCounts {
    /// No forwarding entries.
    pub(crate) fn new() -> impl PinInit<Self> {
        // INVARIANT: no entry forwards yet.
        pin_init!(FwdCounts {
            nodes <- new_spinlock_bh!(KVec::new(), c"tcp_handoff_fwd_counts"),
            uncounted: Atomic::new(0),
        })
    }

    /// An entry handed to `node` starts forwarding: returns the id it is
    /// counted for, for [`Self::leave`].
    fn enter(&self, node: u32) -> Option<u32> {
        let mut v = self.nodes.lock();
        if let Some(e) = v.iter_mut().find(|e| e.0 == node) {
            // INVARIANT: one more entry counted for `node`.
            e.1 += 1;
            return Some(node);
        }
        if v.push((node, 1), GFP_ATOMIC).is_ok() {
            return Some(node);
        }
        drop(v);
        // INVARIANT: the entry is counted for no id.
        self.uncounted.add(1, Relaxed);
        None
    }

    /// An entry counted as `counted` (what [`Self::enter`] returned) stops
    /// forwarding.
    fn leave(&self, counted: Option<u32>) {
        let Some(node) = counted else {
            // INVARIANT: one uncounted entry fewer.
            self.uncounted.fetch_sub(1, Relaxed);
            return;
        };
        let mut v = self.nodes.lock();
        if let Some(i) = v.iter().position(|e| e.0 == node) {
            // INVARIANT: one entry fewer for `node`; a count of 0 goes.
            if v[i].1 <= 1 {
                let _ = v.remove(i);
            } else {
                v[i].1 -= 1;
            }
        }
    }

    /// Entries forwarding to `node`; `None` while some forwarding entry is
    /// counted for no id (the caller then counts by walking the table).
    pub(crate) fn of(&self, node: u32) -> Option<u32> {
        if self.uncounted.load(Relaxed) != 0 {
            return None;
        }
        let v = self.nodes.lock();
        Some(v.iter().find(|e| e.0 == node).map_or(0, |e| e.1))
    }

    /// Every forwarding entry (the `fe-forwarding` gauge: the suite's
    /// checks that it returns to 0 check these counts).
    pub(crate) fn total(&self) -> u64 {
        let counted: u64 = self.nodes.lock().iter().map(|e| u64::from(e.1)).sum();
        counted + u64::from(self.uncounted.load(Relaxed))
    }
}

/// The housekeeping timer's period (`TH_TICK_MS` in `glue.c`).
const TICK_MS: u64 = 100;

/// Longest pass of the idle scan over the whole table (see [`tick`]).
const IDLE_PASS_MAX_MS: u64 = 4000;

/// Housekeeping, every tick: release heads that take too long, free
/// tombstones and released entries after their linger time, end
/// forwarding entries idle for too long.
///
/// It runs in timer softirq context with bottom halves off, so it must cost
/// what is due, not what is tracked: the table may hold tens of thousands
/// of idle forwarding entries and tombstones. Head timeouts, released
/// entries and tombstones each end a fixed time after their entry entered
/// the phase, so each phase has a queue of (key, start) in start order
/// ([`DueQueue`]): the tick pops the ended ones and checks each under its
/// bucket lock (still in that phase, with that start). When a queue lost a
/// timer (no memory), the tick walks the whole table, as it always did,
/// until that timer has ended.
///
/// Idle expiry has no such order (each packet moves an entry's deadline),
/// and its timeout is long (15 minutes plus the linger time by default):
/// each tick scans a few buckets in turn, so a whole pass takes at most an
/// eighth of the timeout and at most [`IDLE_PASS_MAX_MS`]
/// (`handoff_core::deadline::spread`). An entry ends that much late at
/// worst, and the scan visits each entry once every few seconds instead of
/// ten times a second.
///
/// While a service drains, the tick still walks the whole table to learn
/// which draining services have entries left (a drain is rare and ends).
pub(crate) fn tick(st: &NetState, net: *mut bindings::net) {
    let now = now_ms();
    let head_timeout = u64::from(Limits::get(&st.limits.head_timeout_ms));
    let linger = u64::from(Limits::get(&st.limits.linger_ms));
    // The back-end ends an idle connection after the idle timeout and
    // tells this node; a front-end entry still forwarding `linger` later
    // has a back-end that will not (gone, or another timeout).
    let idle = u64::from(Limits::get(&st.limits.idle_timeout_ms)) + linger;
    let mut late = KVec::new();
    // Every mark is looked at (no short circuit): each clears its own.
    let walk = st.holding.walk_needed(now, head_timeout)
        | st.released.walk_needed(now, LINGER_RELEASED_MS)
        | st.tombstones.walk_needed(now, linger);
    let draining = st.services.any_draining();
    if walk || draining {
        tick_walk(st, now, walk, draining, &mut late);
    }
    if !walk {
        idle_scan(st, now, idle);
    }
    let mut batch = [(Key::default(), 0u64); DUE_BATCH];
    loop {
        let n = st.holding.pop_due(now, head_timeout, &mut batch);
        for &(key, at) in batch.iter().take(n) {
            let mut t = st.pending.lock(bucket_of(st, &key));
            let Some(c) = t.get_mut(&key) else { continue };
            if c.phase != Phase::Holding || c.since_ms != at {
                continue;
            }
            let r = release(st, c, now);
            if late.push(r, GFP_ATOMIC).is_err() {
                // The packets are freed with `r`; the client retransmits.
                Stats::inc(&st.stats.reinject_errors, 1);
            }
        }
        if n < DUE_BATCH {
            break;
        }
    }
    expire_queued(st, &st.released, now, LINGER_RELEASED_MS, Phase::Released);
    expire_queued(st, &st.tombstones, now, linger, Phase::Tombstone);
    for r in late {
        count_reason(st, Reason::Timeout);
        reinject_all(st, net, r);
    }
}

/// Removes the entries whose timer in `q` ended at `now` (`limit` after
/// they entered the phase `phase(start)`).
fn expire_queued(st: &NetState, q: &DueQueue<Key>, now: u64, limit: u64, phase: fn(u64) -> Phase) {
    let mut batch = [(Key::default(), 0u64); DUE_BATCH];
    loop {
        let n = q.pop_due(now, limit, &mut batch);
        for &(key, at) in batch.iter().take(n) {
            let gone = {
                let mut t = st.pending.lock(bucket_of(st, &key));
                match t.find(&key) {
                    // Still in the phase the item timed: not a stale item.
                    Some(i) if t.conns[i].phase == phase(at) => t.remove(i),
                    _ => None,
                }
            };
            if gone.is_some() {
                st.pending.removed(1);
            }
            // Dropped outside the lock: a module reference may go with it.
            drop(gone);
        }
        if n < DUE_BATCH {
            break;
        }
    }
}

/// The idle scan's share of one tick: ends forwarding entries idle for
/// `idle` in the next few buckets (see [`tick`]).
fn idle_scan(st: &NetState, now: u64, idle: u64) {
    let n = spread(BUCKETS, TICK_MS, idle, IDLE_PASS_MAX_MS);
    // Only the namespace's timer uses the cursor: the tick does not run
    // twice at once.
    let first = st.idle_cursor.load(Relaxed) as usize % BUCKETS;
    for b in first..first + n {
        let mut t = st.pending.lock(b % BUCKETS);
        for c in t.conns.iter_mut() {
            if c.phase == Phase::Forwarding && expired(c.last_ms, idle, now) {
                tombstone(st, c, now);
                Stats::inc(&st.stats.idle_expired, 1);
            }
        }
    }
    st.idle_cursor
        .store(((first + n) % BUCKETS) as u32, Relaxed);
}

/// The tick as it was before its queues: one walk of the whole table.
/// `expire`: a queue lost a timer, so every timer is checked here;
/// `draining`: a service drains, so which have entries left is noted.
fn tick_walk(st: &NetState, now: u64, expire: bool, draining: bool, late: &mut KVec<Release>) {
    let head_timeout = u64::from(Limits::get(&st.limits.head_timeout_ms));
    let linger = u64::from(Limits::get(&st.limits.linger_ms));
    let idle = u64::from(Limits::get(&st.limits.idle_timeout_ms)) + linger;
    let mut gone = KVec::new();
    // Which draining services still have entries (counted before this
    // tick's removals: a slot is freed a tick later at worst).
    let mut in_use = [false; MAX_SERVICES];
    st.pending.for_each(|_, t| {
        if draining {
            for c in t.conns.iter() {
                if let Some(i) = st.services.slot(&c.key.daddr, c.key.dport) {
                    in_use[i % MAX_SERVICES] = true;
                }
            }
        }
        if !expire {
            return;
        }
        for c in t.conns.iter_mut() {
            if c.phase == Phase::Forwarding && expired(c.last_ms, idle, now) {
                tombstone(st, c, now);
                Stats::inc(&st.stats.idle_expired, 1);
            }
            if matches!(c.phase, Phase::Holding) && expired(c.since_ms, head_timeout, now) {
                let r = release(st, c, now);
                if late.push(r, GFP_ATOMIC).is_err() {
                    // The packets are freed with `r`; the client retransmits.
                    Stats::inc(&st.stats.reinject_errors, 1);
                }
            }
        }
        // Entries are dropped outside the lock when possible: a module
        // reference may go with them.
        let mut i = 0;
        while i < t.conns.len() {
            let ended = match t.conns[i].phase {
                Phase::Released(at) => expired(at, LINGER_RELEASED_MS, now),
                Phase::Tombstone(at) => expired(at, linger, now),
                _ => false,
            };
            if ended {
                if let Some(c) = t.remove(i) {
                    st.pending.removed(1);
                    // On failure the entry is dropped here, under the lock.
                    let _ = gone.push(c, GFP_ATOMIC);
                }
            } else {
                i += 1;
            }
        }
    });
    drop(gone);
    if draining {
        st.services.reclaim(&in_use);
    }
}
