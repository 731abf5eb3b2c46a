// SPDX-License-Identifier: GPL-2.0

//! The back-end's side of BTCP: connections taken over from a front-end.
//!
//! The worker (`crate::channel`) creates an entry when it accepts a
//! HANDOFF_REQUEST and replays the client's SYN into the local stack. The
//! outbound hook captures the SYN/ACK that TCP answers with (it must never
//! reach the client: the client already has the front-end's), and the
//! worker then replays the handshake-completing ACK with the request bytes,
//! translated into this node's sequence space. From then on every segment
//! the socket sends to the client leaves with the front-end's address,
//! sequence numbers, timestamps and window scale; the client's segments
//! arrive already translated by the front-end and pass untouched.
//!
//! The hooks watch FIN and RST in both directions; whether TCP took a
//! client's RST is seen on the socket at the next tick. Once the connection
//! is closed the worker sends TERMINATE to the front-end, and the entry
//! stays for the linger time so the TIME_WAIT socket's last ACKs are still
//! translated.

use crate::{
    bindings::{self, sk_buff},
    btcp::{
        drop::DropReason,
        slab::{Cache, Cached, SlabBox},
        table::{Entries, Keyed, DUE_BATCH},
        xmit, Ip,
    },
    handoff_core::{
        deadline::expired,
        packet::{flags, TcpHeader},
        seq::{seq_after, Translation},
        tcp_options,
    },
    netns::{Addr, Limits, NetState, Stats},
};
use core::ffi::CStr;
use kernel::{ffi::c_uint, prelude::*};

/// A taken-over connection's 4-tuple on this node (client → local).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) client: Addr,
    pub(crate) cport: u16,
    pub(crate) local: Addr,
    pub(crate) port: u16,
}

impl Key {
    /// Where the socket of this tuple stands (`th_tuple_tcp_state`), and
    /// with `abort` aborts it after the look. Process context.
    pub(crate) fn tcp_state(
        &self,
        net: *mut bindings::net,
        abort: bool,
    ) -> Option<bindings::th_tcp_state> {
        let mut s = bindings::th_tcp_state::default();
        // SAFETY: `net` is live (the caller's worker runs in it); `s` is
        // writable; network-order arguments, addresses of the key's one
        // family.
        let err = unsafe {
            bindings::th_tuple_tcp_state(
                net,
                self.client.family(),
                self.client.bytes().as_ptr(),
                self.cport.to_be(),
                self.local.bytes().as_ptr(),
                self.port.to_be(),
                abort,
                &mut s,
            )
        };
        (err == 0).then_some(s)
    }
}

/// What the local stack's SYN/ACK said.
#[derive(Clone, Copy, Default)]
pub(crate) struct SynAck {
    pub(crate) isn: u32,
    pub(crate) tsval: Option<u32>,
    pub(crate) wscale: Option<u8>,
    pub(crate) sack: bool,
    pub(crate) mss: u16,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The SYN was replayed; waiting for the stack's SYN/ACK.
    Replaying,
    /// The socket is established; its packets are translated.
    Established,
    /// Closed at the given time (FIN both ways, or RST); lingering.
    Closing(u64),
    /// Given up at the given time: everything the socket sends is dropped.
    Aborted(u64),
}

/// One connection taken over from a front-end.
pub(crate) struct Conn {
    pub(crate) key: Key,
    pub(crate) phase: Phase,
    pub(crate) fe_node: u32,
    pub(crate) conn_id: u64,
    /// The address the client talks to (the front-end's service).
    pub(crate) service: Addr,
    pub(crate) synack: Option<SynAck>,
    pub(crate) tr: Option<Translation>,
    /// The client's next sequence number right after the replayed request
    /// (where a reset from the client's side must sit).
    pub(crate) replay_end: u32,
    fin_in: bool,
    fin_out: bool,
    /// TERMINATE is to be sent to the front-end. Set only by
    /// [`Conn::closed`], which queues the key for the worker.
    pub(crate) terminate_pending: bool,
    /// A client packet forwarded by the front-end arrived: the front-end
    /// has the HANDOFF_ACK. Until then the ACK is sent again with each
    /// reconciliation round (`channel::handoff::reacknowledge`).
    pub(crate) confirmed: bool,
    /// When the entry was created (`conn-get`'s age).
    pub(crate) since_ms: u64,
    /// When a packet of the connection last passed, either way (idle
    /// timeout).
    last_ms: u64,
    /// The front-end's per-node counters (`NetState::node_slot`).
    pub(crate) slot: Option<u8>,
    /// When a reset from the client arrived, while [`tick`] has yet to
    /// see whether TCP took it ([`NetState::be_resets`]).
    reset_at: Option<u64>,
    /// The end of the data the socket sent so far (this node's sequence
    /// space), and what it was when the client's latest data arrived: a
    /// connection moves to another node only after its server answered
    /// the request it got last (`channel::migrate`).
    pub(crate) out_end: u32,
    pub(crate) out_at_in: u32,
    /// The end of the client's data seen so far (from the replayed request
    /// on): only new data counts as a request to answer, not the
    /// front-end's flush of packets the replay already carried.
    pub(crate) in_end: u32,
    module_ref: bool,
}

impl Conn {
    pub(crate) fn new(key: Key, fe_node: u32, conn_id: u64, service: Addr) -> Self {
        Conn {
            key,
            phase: Phase::Replaying,
            fe_node,
            conn_id,
            service,
            synack: None,
            tr: None,
            replay_end: 0,
            fin_in: false,
            fin_out: false,
            terminate_pending: false,
            confirmed: false,
            since_ms: super::front::now_ms(),
            last_ms: super::front::now_ms(),
            slot: None,
            reset_at: None,
            out_end: 0,
            out_at_in: 0,
            in_end: 0,
            module_ref: false,
        }
    }

    /// Starts translating with `tr`; the socket's data starts at `snd`.
    pub(crate) fn establish(&mut self, tr: Translation, snd: u32) {
        self.tr = Some(tr);
        self.out_end = snd;
        self.out_at_in = snd;
        self.phase = Phase::Established;
        if !self.module_ref {
            // SAFETY: no preconditions; the reference goes with the entry.
            self.module_ref = unsafe { bindings::th_module_get() };
        }
    }

    /// Ends an established connection: it lingers, and its TERMINATE is
    /// due. The key goes to [`NetState::terminating`] (the caller holds
    /// the bucket lock and kicks the worker), so the worker sends it
    /// without walking the table.
    fn closed(&mut self, st: &NetState, now: u64) {
        if self.phase == Phase::Established {
            self.phase = Phase::Closing(now);
            self.terminate_pending = true;
            st.terminating.push(self.key);
            // It lingers from now (`tick`).
            st.be_closing.push(self.key, now);
        }
    }

    /// Gives the connection up at `now`: everything its socket sends is
    /// dropped, and the entry goes after the linger time (`tick`). The
    /// caller holds the bucket lock.
    pub(crate) fn abort(&mut self, st: &NetState, now: u64) {
        self.phase = Phase::Aborted(now);
        st.be_aborted.push(self.key, now);
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.module_ref {
            // SAFETY: this entry took the reference in `establish`.
            unsafe { bindings::th_module_put() };
        }
    }
}

static CONN_CACHE: Cache = Cache::new();

// SAFETY: `CONN_CACHE` is this type's alone.
unsafe impl Cached for Conn {
    const CACHE: &'static Cache = &CONN_CACHE;
    const NAME: &'static CStr = c"tcp_handoff_be_conn";
}

impl Keyed for Conn {
    type Key = Key;

    fn key(&self) -> &Key {
        &self.key
    }
}

/// One bucket of the back-end's table ([`NetState::backend`]).
pub(crate) struct Backend {
    pub(crate) conns: Entries<Conn>,
}

impl Backend {
    pub(crate) fn new() -> Self {
        Backend {
            conns: Entries::new(),
        }
    }

    pub(crate) fn find(&self, key: &Key) -> Option<usize> {
        self.conns.find(key)
    }

    pub(crate) fn get_mut(&mut self, key: &Key) -> Option<&mut Conn> {
        let i = self.conns.find(key)?;
        Some(&mut self.conns[i])
    }

    /// Removes the entry of `key`, returning it (drop it outside the lock).
    pub(crate) fn remove(&mut self, key: &Key) -> Option<SlabBox<Conn>> {
        let i = self.find(key)?;
        self.conns.remove(i).ok()
    }
}

/// The bucket of `key` in the back-end's table.
pub(crate) fn bucket_of(st: &NetState, key: &Key) -> usize {
    st.backend
        .index(&key.client, &key.local, key.cport, key.port)
}

/// Inbound: a client packet for a taken-over connection passes to TCP;
/// FIN and RST are noted. Returns `None` when the packet is not one.
pub(crate) fn inbound(st: &NetState, ip: &Ip, tcp: &TcpHeader) -> Option<c_uint> {
    let key = Key {
        client: ip.saddr,
        cport: tcp.sport,
        local: ip.daddr,
        port: tcp.dport,
    };
    let mut b = st.backend.lock(bucket_of(st, &key));
    let c = b.get_mut(&key)?;
    // A bare SYN on the tuple of a connection that ended here is a new
    // connection of the client's to this node's own address (a front-end
    // never forwards one: it gives a new SYN to its own stack). The entry
    // goes, or it would swallow the new connection's SYN/ACK until its
    // linger time ends.
    if tcp.flags & (flags::SYN | flags::ACK | flags::RST) == flags::SYN
        && matches!(c.phase, Phase::Closing(_) | Phase::Aborted(_))
    {
        let gone = b.remove(&key);
        drop(b);
        if gone.is_some() {
            st.backend.removed(1);
        }
        // Dropped outside the lock: a module reference may go with it.
        drop(gone);
        return Some(bindings::NF_ACCEPT);
    }
    let mut kick = false;
    // The module's own replayed segments never come this way (they carry
    // the inject mark): this one was forwarded.
    c.confirmed = true;
    c.last_ms = super::front::now_ms();
    let len = ip.total_len.saturating_sub(ip.header_len + tcp.header_len);
    let end = tcp.seq.wrapping_add(len as u32);
    if len > 0 && seq_after(end, c.in_end) {
        c.in_end = end;
        c.out_at_in = c.out_end;
    }
    if c.phase == Phase::Established {
        if tcp.flags & flags::RST != 0 {
            // TCP takes a reset only at the sequence number it expects
            // (RFC 5961), which only the socket knows: one out of the
            // window, or a blind one, is ignored, and the connection goes
            // on. The next tick looks at the socket (`check_reset`).
            if c.reset_at.is_none() {
                let now = super::front::now_ms();
                if st.be_resets.lock().push((key, now), GFP_ATOMIC).is_ok() {
                    c.reset_at = Some(now);
                } else {
                    // Without memory to look later: as if TCP took it.
                    c.closed(st, now);
                    kick = true;
                }
            }
        } else if tcp.flags & flags::FIN != 0 {
            c.fin_in = true;
            if c.fin_out {
                c.closed(st, super::front::now_ms());
                kick = true;
            }
        }
    }
    drop(b);
    if kick {
        st.kick();
    }
    Some(bindings::NF_ACCEPT)
}

/// Outbound: a packet the local stack sends to a taken-over connection's
/// client. Returns `None` when it is not one.
///
/// # Safety
///
/// `skb` must be the hook's valid packet (IPv4 TCP, headers validated,
/// TCP options `opts`), not yet passed on.
pub(crate) unsafe fn outbound(
    st: &NetState,
    skb: *mut sk_buff,
    ip: &Ip,
    tcp: &TcpHeader,
    opts: &[u8],
) -> Option<c_uint> {
    let key = Key {
        client: ip.daddr,
        cport: tcp.dport,
        local: ip.saddr,
        port: tcp.sport,
    };
    let mut b = st.backend.lock(bucket_of(st, &key));
    let c = b.get_mut(&key)?;
    let verdict = match c.phase {
        Phase::Replaying => {
            if tcp.flags & (flags::SYN | flags::ACK) == flags::SYN | flags::ACK {
                let o = tcp_options::parse(opts).unwrap_or_default();
                c.synack = Some(SynAck {
                    isn: tcp.seq,
                    tsval: o.timestamp.map(|(v, _)| v),
                    wscale: o.wscale,
                    sack: o.sack_perm,
                    mss: o.mss.unwrap_or(536),
                });
            }
            // SAFETY: guaranteed by the caller.
            unsafe { xmit::swallow(skb, DropReason::NotOurs) }
        }
        // SAFETY: guaranteed by the caller.
        Phase::Aborted(_) => unsafe { xmit::swallow(skb, DropReason::Aborted) },
        Phase::Established | Phase::Closing(_) => {
            // A SYN/ACK retransmission would re-open the client's view of
            // the handshake: never let it out.
            if tcp.flags & flags::SYN != 0 {
                // SAFETY: guaranteed by the caller.
                unsafe { xmit::swallow(skb, DropReason::NotOurs) }
            } else {
                let Some(tr) = c.tr else {
                    // SAFETY: guaranteed by the caller.
                    return Some(unsafe { xmit::swallow(skb, DropReason::NotOurs) });
                };
                let service = c.service;
                let slot = c.slot;
                c.last_ms = super::front::now_ms();
                let len = ip.total_len.saturating_sub(ip.header_len + tcp.header_len);
                let end = tcp.seq.wrapping_add(len as u32);
                if len > 0 && seq_after(end, c.out_end) {
                    c.out_end = end;
                }
                let mut kick = false;
                if tcp.flags & flags::RST != 0 {
                    c.closed(st, super::front::now_ms());
                    kick = true;
                } else if tcp.flags & flags::FIN != 0 {
                    c.fin_out = true;
                    if c.fin_in {
                        c.closed(st, super::front::now_ms());
                        kick = true;
                    }
                }
                drop(b);
                if kick {
                    st.kick();
                }
                // SAFETY: guaranteed by the caller.
                let rewritten = unsafe { xmit::to_client(skb, &tr, service) };
                if let Ok(()) = rewritten {
                    Stats::inc(&st.stats.be_tx_packets, 1);
                    Stats::inc(&st.stats.be_tx_bytes, ip.total_len as u64);
                    if let Some(slot) = slot {
                        let n = st.node_stats(slot);
                        Stats::inc(&n.be_tx_packets, 1);
                        Stats::inc(&n.be_tx_bytes, ip.total_len as u64);
                    }
                    return Some(bindings::NF_ACCEPT);
                }
                Stats::inc(&st.stats.fwd_errors, 1);
                let reason = rewritten.err().unwrap_or(DropReason::BadHeader);
                // SAFETY: guaranteed by the caller; the hook gives `skb` up.
                return Some(unsafe { bindings::th_nf_drop_reason(skb, reason.kernel()) });
            }
        }
    };
    Some(verdict)
}

/// Ends taken-over connections idle for the idle timeout (worker, process
/// context): their sockets are aborted as `ss -K` would, which sends the
/// client a reset (translated on its way out, like any of the socket's
/// segments) and closes the entry, so the front-end hears TERMINATE.
pub(crate) fn expire_idle(st: &NetState) {
    let now = super::front::now_ms();
    let idle = u64::from(Limits::get(&st.limits.idle_timeout_ms));
    let mut due = KVec::new();
    st.backend.for_each(|_, b| {
        for c in b.conns.iter() {
            if c.phase == Phase::Established
                && now.saturating_sub(c.last_ms) >= idle
                && due.push(c.key, GFP_ATOMIC).is_err()
            {
                // Without memory the rest waits for the next scan.
                break;
            }
        }
    });
    for key in due {
        // SAFETY: the namespace is live while its worker runs; process
        // context; network-order arguments, addresses of the key's family
        // (the two ends of a tuple are of one family).
        let err = unsafe {
            bindings::th_tuple_abort(
                st.net(),
                key.client.family(),
                key.client.bytes().as_ptr(),
                key.cport.to_be(),
                key.local.bytes().as_ptr(),
                key.port.to_be(),
            )
        };
        Stats::inc(&st.stats.idle_expired, 1);
        if err != 0 {
            // No socket (it went without a reset this node saw): end the
            // entry as a close.
            let mut b = st.backend.lock(bucket_of(st, &key));
            if let Some(c) = b.get_mut(&key) {
                c.closed(st, now);
            }
        }
    }
}

/// Housekeeping, every tick: entries of closed connections go, and with
/// them the local socket's hold on the tuple.
///
/// The front-end forwards late client packets for `linger` after it hears
/// TERMINATE, which is after this node saw the connection close: this
/// node keeps translating for twice that. Then the entry goes, and so must
/// anything that could still answer under the back-end's own address: a
/// TIME_WAIT socket of the tuple is removed with it, and a socket still
/// closing (FIN retransmissions) keeps the entry until it is done.
///
/// A TERMINATE still waiting for its channel does not keep the entry
/// longer: the channel may never come back (the front-end deleted this
/// node, or is gone for good), and the entry with its module reference
/// would stay forever (fault_node_del.sh). The front-end learns of the
/// end from RECONCILE instead, which answers a lost TERMINATE.
///
/// Timer softirq context: the tick costs what ends, not what the table
/// holds. Closed and aborted entries are queued with the time they entered
/// their phase ([`NetState::be_closing`], [`NetState::be_aborted`]; see
/// `front::tick`), and those whose tuple still has a closing socket are
/// looked at again each tick ([`NetState::be_retry`]), as the walk did.
/// A timer that could not be queued makes the tick walk the table until
/// it has ended.
pub(crate) fn tick(st: &NetState) {
    let now = super::front::now_ms();
    let linger = u64::from(Limits::get(&st.limits.linger_ms));
    let resets = core::mem::take(&mut *st.be_resets.lock());
    let mut kick = false;
    for &(key, at) in resets.iter() {
        kick |= check_reset(st, key, at, now);
    }
    drop(resets);
    if kick {
        st.kick();
    }
    let retry = core::mem::take(&mut *st.be_retry.lock());
    for &(key, phase) in retry.iter() {
        end(st, key, phase);
    }
    drop(retry);
    let walk = st.be_closing.walk_needed(now, 2 * linger) | st.be_aborted.walk_needed(now, linger);
    if walk {
        tick_walk(st, now, linger);
    }
    let mut batch = [(Key::default(), 0u64); DUE_BATCH];
    for (q, limit, phase) in [
        (
            &st.be_closing,
            2 * linger,
            Phase::Closing as fn(u64) -> Phase,
        ),
        (&st.be_aborted, linger, Phase::Aborted),
    ] {
        loop {
            let n = q.pop_due(now, limit, &mut batch);
            for &(key, at) in batch.iter().take(n) {
                end(st, key, phase(at));
            }
            if n < DUE_BATCH {
                break;
            }
        }
    }
}

/// How long after a client's reset its socket may still stand before the
/// reset counts as ignored by TCP. TCP handles the reset right after the
/// hook, or when the socket's owner releases it; the tick that looks may
/// run on another CPU meanwhile.
const RESET_SETTLE_MS: u64 = 1000;

/// Looks at the socket of `key`, whose client sent a reset at `at`: gone,
/// TCP took the reset and the connection is closed (its TERMINATE is due:
/// returns true, the worker is to be kicked); still there after
/// [`RESET_SETTLE_MS`], TCP ignored it. Until then it is looked at again
/// next tick.
fn check_reset(st: &NetState, key: Key, at: u64, now: u64) -> bool {
    let pending = st
        .backend
        .lock(bucket_of(st, &key))
        .get_mut(&key)
        .is_some_and(|c| c.phase == Phase::Established && c.reset_at == Some(at));
    if !pending {
        return false;
    }
    let mut info = bindings::th_reqsk_info::default();
    // SAFETY: the namespace is live while its timer runs; `info` is
    // writable; network-order arguments, addresses of the key's family.
    let kind = unsafe {
        bindings::th_lookup_reqsk(
            st.net(),
            key.client.family(),
            key.client.bytes().as_ptr(),
            key.cport.to_be(),
            key.local.bytes().as_ptr(),
            key.port.to_be(),
            0,
            &mut info,
        )
    };
    let open = kind == bindings::TH_SK_FULL as i32;
    let settled = now.saturating_sub(at) >= RESET_SETTLE_MS;
    let mut b = st.backend.lock(bucket_of(st, &key));
    let Some(c) = b.get_mut(&key) else {
        return false;
    };
    if c.phase != Phase::Established || c.reset_at != Some(at) {
        return false;
    }
    if !open {
        c.reset_at = None;
        c.closed(st, now);
        return true;
    }
    if settled {
        c.reset_at = None;
    } else if st.be_resets.lock().push((key, at), GFP_ATOMIC).is_err() {
        // Not looked at again: the socket's own reset or FIN, or the idle
        // timeout, ends the entry.
        c.reset_at = None;
    }
    false
}

/// Ends the entry of `key`, whose linger time in `phase` is over: removes
/// it with its tuple's TIME_WAIT socket, or, while a socket of the tuple is
/// still closing, lists it to be looked at again next tick.
///
/// An entry no longer in `phase` (gone, or moved on to another phase or
/// start, and queued again for that) is left alone: the item was stale.
fn end(st: &NetState, key: Key, phase: Phase) {
    let current = st
        .backend
        .lock(bucket_of(st, &key))
        .get_mut(&key)
        .is_some_and(|c| c.phase == phase);
    if !current {
        return;
    }
    // SAFETY: the namespace is live while its timer runs; network-order
    // arguments, addresses of the key's family.
    let held = unsafe {
        bindings::th_tuple_release(
            st.net(),
            key.client.family(),
            key.client.bytes().as_ptr(),
            key.cport.to_be(),
            key.local.bytes().as_ptr(),
            key.port.to_be(),
        )
    };
    if held != bindings::TH_SK_NONE as i32 {
        if st.be_retry.lock().push((key, phase), GFP_ATOMIC).is_err() {
            // Listed nowhere: the walk finds it again (its timer ended).
            match phase {
                Phase::Closing(at) => st.be_closing.lost(at),
                Phase::Aborted(at) => st.be_aborted.lost(at),
                _ => {}
            }
        }
        return;
    }
    let gone = {
        let mut b = st.backend.lock(bucket_of(st, &key));
        match b.get_mut(&key) {
            Some(c) if c.phase == phase => b.remove(&key),
            _ => None,
        }
    };
    if gone.is_some() {
        st.backend.removed(1);
    }
    // Dropped here, outside the lock (it may hold a module reference).
    drop(gone);
}

/// The tick as it was before its queues (a timer could not be queued):
/// ends every entry whose linger time is over, walking the whole table.
fn tick_walk(st: &NetState, now: u64, linger: u64) {
    let mut due = KVec::new();
    st.backend.for_each(|_, b| {
        for c in b.conns.iter() {
            let (ended, q) = match c.phase {
                Phase::Closing(at) => (expired(at, 2 * linger, now), &st.be_closing),
                Phase::Aborted(at) => (expired(at, linger, now), &st.be_aborted),
                _ => continue,
            };
            if ended && due.push((c.key, c.phase), GFP_ATOMIC).is_err() {
                // Without memory the rest waits for the next tick, which
                // walks again.
                if let Phase::Closing(at) | Phase::Aborted(at) = c.phase {
                    q.lost(at);
                }
                break;
            }
        }
    });
    for (key, phase) in due {
        end(st, key, phase);
    }
}
