// SPDX-License-Identifier: GPL-2.0

//! What the control messages do (design §3, steps 5 to 11).
//!
//! Front-end: [`decide`] runs dispatch for every complete head and sends
//! HANDOFF_REQUEST; [`on_message`] turns the answer into forwarding
//! (HANDOFF_ACK) or a local release (HANDOFF_NAK); [`timeouts`] and
//! [`peer_lost`] release connections whose answer will not come.
//!
//! Back-end: [`on_message`] takes a HANDOFF_REQUEST over: it replays the
//! client's SYN into the local stack, checks the SYN/ACK the stack answers
//! with (captured by the outbound hook) against what the front-end granted,
//! replays the handshake-completing ACK with the request bytes, and answers
//! HANDOFF_ACK once the socket is established. [`terminates`] reports
//! closed connections.
//!
//! TERMINATE goes both ways and says which way in its reason: the back-end
//! reports a closed connection ([`TERM_CLOSED`]), the front-end withdraws a
//! handoff it gave up on ([`TERM_ABORT`]). [`reconcile`] is the safety net
//! for a TERMINATE that never arrived: the front-end lists what it forwards
//! and the back-end answers [`TERM_UNKNOWN`] for what it does not know.
//!
//! A handoff whose answer is late or was lost with its channel is "in
//! doubt" ([`Phase::InDoubt`]): the back-end may already answer the client,
//! and serving here too would give the client two different byte streams
//! under one sequence space. The front-end serves it here only when it
//! knows the back-end has not taken it (a NAK, or [`TERM_UNKNOWN`] when
//! asked), or when nothing suggests it has (see [`timeouts`]); the back-end
//! repeats its HANDOFF_ACK until a forwarded packet shows the front-end got
//! it ([`reacknowledge`]), and a front-end that had served the connection
//! itself answers that with [`TERM_ABORT`].

use super::Channel;
use crate::{
    bindings,
    btcp::{
        back,
        follow::{Follow, Step},
        front::{self, now_ms, ClientAck, Forward, Phase},
        slab::SlabBox,
        xmit::{self, Seg},
    },
    dispatch,
    handoff_core::{
        codec::{
            HandoffAck, HandoffNak, HandoffRequest, Message, NakReason, Reconcile, TcpInit,
            Terminate, TERMINATE_ABORT as TERM_ABORT, TERMINATE_CLOSED as TERM_CLOSED,
            TERMINATE_UNKNOWN as TERM_UNKNOWN,
        },
        deadline::Deadline,
        http,
        packet::flags,
        rewrite::SegOptions,
        seq::Translation,
    },
    netlink::event::{self, Event},
    netns::{Addr, Limits, NetState, Stats},
    trace,
};
use kernel::prelude::*;

/// How often a front-end lists its forwarded connections to each back-end
/// (and once right after the channel comes up).
pub(super) const RECONCILE_MS: u64 = 10_000;

/// How long a handoff may stay in doubt before the front-end resets the
/// connection: long enough for a dead channel to be noticed (15 s of
/// silence), reconnect and answer, yet bounded, so a back-end that never
/// comes back does not pin the entry.
const IN_DOUBT_MAX_MS: u64 = 60_000;

/// Builds `seg` and hands it to the local stack as if received from the
/// client. Returns false when it could not be injected.
fn inject(net: *mut bindings::net, seg: &Seg<'_>) -> bool {
    let mut buf = KVec::new();
    let len = 60 + 40 + seg.payload.len();
    if buf.extend_with(len, 0u8, GFP_KERNEL).is_err() {
        return false;
    }
    let Some(n) = seg.build(&mut buf) else {
        return false;
    };
    // SAFETY: `net` is live (the worker runs in it); `buf` holds `n`
    // readable bytes, a packet of the family given; the route is looked
    // up towards the client, an address of that family.
    unsafe {
        bindings::th_inject(
            net,
            seg.saddr.family(),
            buf.as_ptr().cast(),
            n as u32,
            seg.saddr.bytes().as_ptr(),
        ) == 0
    }
}

/// A reset from the client's side that removes the local stack's request
/// socket (or kills its socket) without anything reaching the client.
fn reset(net: *mut bindings::net, client: Addr, cport: u16, local: Addr, port: u16, seq: u32) {
    inject(net, &Seg::reset(client, cport, local, port, seq));
}

/// What the local request socket of `key` granted, if it still exists.
fn reqsk_info(net: *mut bindings::net, key: &front::Key) -> Option<bindings::th_reqsk_info> {
    let mut info = bindings::th_reqsk_info::default();
    // SAFETY: `net` is live; `info` is writable; network-order arguments,
    // addresses of the key's one family.
    let kind = unsafe {
        bindings::th_lookup_reqsk(
            net,
            key.saddr.family(),
            key.saddr.bytes().as_ptr(),
            key.sport.to_be(),
            key.daddr.bytes().as_ptr(),
            key.dport.to_be(),
            0,
            &mut info,
        )
    };
    (kind == bindings::TH_SK_REQUEST as i32).then_some(info)
}

/// Serves the front-end connection `key` locally (if it still waits).
pub(super) fn release_local(st: &NetState, net: *mut bindings::net, key: &front::Key) {
    let rel = {
        let mut t = st.pending.lock(front::bucket_of(st, key));
        let Some(c) = t.get_mut(key) else {
            return;
        };
        if !matches!(
            c.phase,
            Phase::Deciding | Phase::Requested(_) | Phase::InDoubt(_)
        ) {
            return;
        }
        front::release(st, c, now_ms())
    };
    front::reinject_all(st, net, rel);
}

/// A front-end connection taken out of [`Phase::Deciding`] for dispatch.
struct Taken {
    key: front::Key,
    head: KVec<u8>,
    ack: ClientAck,
    id: u64,
    /// When it was marked requested.
    at: u64,
}

/// Marks `c` (in bucket `bucket`) requested under a new handoff id, so the
/// local stack's SYN/ACK retransmissions stop reaching the client before
/// the timestamp anchor is read (in [`request`]). The caller lists the id
/// in the bucket (`front::Pending::index_id`) before unlocking it.
fn take(st: &NetState, bucket: usize, c: &mut front::Conn) -> Taken {
    let id = front::new_id(st, bucket);
    let at = now_ms();
    c.phase = Phase::Requested(at);
    c.conn_id = id;
    Taken {
        key: c.key,
        head: core::mem::take(&mut c.head),
        ack: c.ack,
        id,
        at,
    }
}

/// Front-end: runs dispatch for every connection whose head is complete.
///
/// The inbound hook queues the key of each connection it marks deciding
/// ([`NetState::deciding`]); each is looked up in its bucket, so a run
/// costs as many lookups as heads completed, however many idle
/// connections the table holds. Only when a key could not be queued does a
/// run walk the table for deciding entries.
pub(super) fn decide(st: &NetState, net: *mut bindings::net, ch: &mut Channel) {
    if st.deciding.take_overflow() {
        while let Some(t) = st.pending.find_map(|bucket, t| {
            let c = t.conns.iter_mut().find(|c| c.phase == Phase::Deciding)?;
            let taken = take(st, bucket, c);
            t.index_id(taken.id, taken.key);
            Some(taken)
        }) {
            dispatch_one(st, net, ch, t);
        }
        // Later requests of followed connections, likewise.
        let mut later = KVec::new();
        st.pending.for_each(|_, t| {
            for c in t.conns.iter().filter(|c| super::migrate::deciding(c)) {
                if later.push(c.key, GFP_ATOMIC).is_err() {
                    // The rest is found by the next walk.
                    st.deciding.overflowed();
                    break;
                }
            }
        });
        for key in later {
            super::migrate::next_request(st, net, ch, &key);
        }
    }
    // Heads completed while this loop runs are queued meanwhile: the loop
    // goes on until the queue is empty, as the walk went on until no entry
    // was deciding.
    let mut keys = core::mem::take(&mut ch.deciding);
    loop {
        st.deciding.take(&mut keys);
        if keys.is_empty() {
            break;
        }
        for key in keys.iter() {
            let bucket = front::bucket_of(st, key);
            // A stale key (its entry gone or decided already) finds no
            // deciding entry.
            let (taken, later) = {
                let mut t = st.pending.lock(bucket);
                let later = t.get_mut(key).is_some_and(|c| super::migrate::deciding(c));
                let taken = t
                    .get_mut(key)
                    .filter(|c| c.phase == Phase::Deciding)
                    .map(|c| take(st, bucket, c));
                if let Some(tk) = &taken {
                    t.index_id(tk.id, tk.key);
                }
                (taken, later)
            };
            if let Some(t) = taken {
                dispatch_one(st, net, ch, t);
            }
            if later {
                super::migrate::next_request(st, net, ch, key);
            }
        }
    }
    keys.clear();
    ch.deciding = keys;
}

/// Runs dispatch for one connection taken out of [`Phase::Deciding`]:
/// hands it to the chosen node or serves it here.
fn dispatch_one(st: &NetState, net: *mut bindings::net, ch: &mut Channel, t: Taken) {
    let Taken {
        key,
        head,
        ack,
        id,
        at,
    } = t;
    // Listed before anything can happen to it: whatever the outcome, a
    // handoff that stays in flight is watched by `timeouts`.
    ch.in_flight.track(st, key, id, at);
    let target = match http::head_status(&head, front::HEAD_MAX) {
        http::HeadStatus::Complete { head_len } => head
            .get(..head_len)
            .and_then(|h| http::parse_head(h).ok())
            .and_then(|req| dispatch::choose(st, ch, &req)),
        _ => None,
    };
    let sent = target.map(|node| (node, request(st, net, ch, node, &key, &head, &ack, id)));
    match sent {
        Some((_, Ok(()))) => Stats::inc(&st.stats.handoff_requests, 1),
        Some((node, Err(reason))) => {
            Stats::inc(&st.stats.fallback_local, 1);
            failed(st, net, node, id, &key, reason);
            release_local(st, net, &key);
        }
        None => release_local(st, net, &key),
    }
}

/// Sends the HANDOFF_REQUEST of connection `key` to `node`; why not when
/// the connection cannot move (served locally then).
#[allow(clippy::too_many_arguments)]
fn request(
    st: &NetState,
    net: *mut bindings::net,
    ch: &mut Channel,
    node: u32,
    key: &front::Key,
    head: &[u8],
    ack: &ClientAck,
    id: u64,
) -> Result<(), &'static str> {
    let Some(info) = reqsk_info(net, key) else {
        return Err("no-request-socket");
    };
    // ECN state and microsecond timestamps cannot be carried over: such
    // connections stay here (design §4).
    if info.ecn_ok != 0 || info.usec_ts != 0 {
        return Err("not-movable");
    }
    let ts = info.tstamp_ok != 0;
    let sack = info.sack_ok != 0;
    let ws = info.wscale_ok != 0;
    let client_init = TcpInit {
        isn: info.rcv_isn,
        tsval: if ts { info.ts_recent } else { 0 },
        ts_ok: ts,
        sack_ok: sack,
        wscale: ws.then_some(info.snd_wscale.min(14)),
        mss: info.mss,
        ecn: false,
        usec_ts: false,
    };
    let fe_init = TcpInit {
        isn: info.snt_isn,
        tsval: if ts { info.snt_tsval_last } else { 0 },
        ts_ok: ts,
        sack_ok: sack,
        wscale: ws.then_some(info.rcv_wscale.min(14)),
        mss: info.mss,
        ecn: false,
        usec_ts: false,
    };
    let req = if ch.migrate_ok(node) {
        request_head(head)
    } else {
        None
    };
    // The later requests of a kept-alive connection are read on, so that
    // one that belongs elsewhere can move it (`super::migrate`).
    let follow = req
        .and_then(|(req, head_len)| Follow::new(client_init, ack, ack.seq, &req, head_len, head));
    // A pipelined next request stays with the front-end, to be decided on
    // its own once the connection forwards.
    let sent = follow.as_ref().map_or(head.len(), |f| f.1);
    let follow = follow.map(|f| f.0);
    let head = head.get(..sent).unwrap_or(head);
    if !send_request(st, ch, node, key, id, &client_init, &fe_init, ack, head) {
        Stats::inc(&st.stats.handoff_no_channel, 1);
        return Err("no-channel");
    }
    let mut t = st.pending.lock(front::bucket_of_id(id));
    if let Some(c) = t.by_id(id) {
        c.node = node;
        c.fe = Some(fe_init);
        if let Some(f) = follow {
            front::start_following(c, f);
        }
    }
    // Else gone meanwhile (the namespace's table was flushed): nothing to
    // serve; the back-end's answer will find no connection.
    Ok(())
}

/// The first request of `head` and its head's length, if complete.
fn request_head(head: &[u8]) -> Option<(http::Request<'_>, usize)> {
    match http::head_status(head, front::HEAD_MAX) {
        http::HeadStatus::Complete { head_len } => {
            let req = http::parse_head(head.get(..head_len)?).ok()?;
            Some((req, head_len))
        }
        _ => None,
    }
}

/// Sends a HANDOFF_REQUEST for connection `id` of `key` to `node`: the
/// client's and this node's handshake, the client's segment to replay and
/// the request bytes it carries. False when the channel would not take it.
#[allow(clippy::too_many_arguments)]
pub(super) fn send_request(
    st: &NetState,
    ch: &mut Channel,
    node: u32,
    key: &front::Key,
    id: u64,
    client_init: &TcpInit,
    fe_init: &TcpInit,
    ack: &ClientAck,
    head: &[u8],
) -> bool {
    let msg = Message::HandoffRequest(HandoffRequest {
        conn_id: id,
        client: key.saddr.endpoint(key.sport),
        service: key.daddr.endpoint(key.dport),
        client_init: *client_init,
        fe_init: *fe_init,
        client_ack_seq: ack.seq,
        client_ack_tsval: ack.tsval,
        client_ack_tsecr: ack.tsecr,
        client_rcv_wnd: ack.window,
        request: head,
    });
    trace::handoff_start(st.netns, id, node, key, head.len());
    ch.send(st, node, &msg)
}

/// Front-end: tells `node` to forget connection `id` (TERMINATE, reason
/// [`TERM_ABORT`]): this node serves it, or no longer knows it.
fn abort(st: &NetState, ch: &mut Channel, node: u32, id: u64) {
    let msg = Message::Terminate(Terminate {
        conn_id: id,
        reason: TERM_ABORT,
    });
    ch.send(st, node, &msg);
}

/// Counts a handoff given up (served locally or reset) against its node
/// and reports it to the events group.
pub(super) fn failed(
    st: &NetState,
    net: *mut bindings::net,
    node: u32,
    id: u64,
    key: &front::Key,
    reason: &str,
) {
    trace::handoff_failed(st.netns, id, node, key, reason);
    if let Some(s) = st.node_stats_of(node) {
        Stats::inc(&s.handoff_failed, 1);
    }
    if let Some(s) = st.services.stats_of(&key.daddr, key.dport) {
        Stats::inc(&s.handoff_failed, 1);
    }
    event::notify(
        net,
        &Event::HandoffFailed {
            node,
            client: (key.saddr, key.sport),
            reason,
        },
    );
}

/// The front-end's handoffs in flight ([`Phase::Requested`] or
/// [`Phase::InDoubt`]), so [`timeouts`] looks at them and not at the whole
/// table.
///
/// Only the worker moves an entry into those phases: [`decide`] into
/// [`Phase::Requested`], listing it ([`Self::track`]), and [`timeouts`] or
/// [`peer_lost`] on to [`Phase::InDoubt`], arming its new deadline. Nothing
/// moves an entry back into them.
/// The list may also hold handoffs that ended since (answered, served
/// here, gone): a look drops them. A look happens when a deadline can have
/// passed ([`Deadline`]), and also when the list has doubled since the last
/// one, so under a steady load of quick handoffs it stays about as long as
/// the handoffs of one timeout period, and each costs a constant amount of
/// work however large the table is.
///
/// A walk of the table stands in for the list when a handoff could not be
/// listed (no memory), until the list is rebuilt: none is ever missed.
pub(crate) struct InFlight {
    /// (key, handoff id) of every handoff listed since the last look and
    /// of every one still in flight at it.
    list: KVec<(front::Key, u64)>,
    /// A handoff could not be listed.
    lost: bool,
    /// No deadline of a listed handoff is earlier than this bound.
    next: Deadline,
    /// Look when the list grows this long, due or not.
    prune_at: usize,
}

/// The list length that makes [`timeouts`] look even when nothing is due.
const IN_FLIGHT_PRUNE_MIN: usize = 64;

impl InFlight {
    pub(crate) fn new() -> Self {
        InFlight {
            list: KVec::new(),
            lost: false,
            next: Deadline::new(),
            prune_at: IN_FLIGHT_PRUNE_MIN,
        }
    }

    /// Handoffs listed: those in flight at the last look and those started
    /// since (an upper bound of the handoffs in flight).
    pub(crate) fn listed(&self) -> usize {
        self.list.len()
    }

    /// Lists handoff `id` of connection `key`, marked requested at `at`.
    pub(super) fn track(&mut self, st: &NetState, key: front::Key, id: u64, at: u64) {
        if self.list.push((key, id), GFP_KERNEL).is_err() {
            self.lost = true;
        }
        let limit = u64::from(Limits::get(&st.limits.handoff_timeout_ms));
        self.next.arm(Deadline::of(at, limit));
    }

    /// A listed handoff requested at `at` was put in doubt outside
    /// [`timeouts`] ([`peer_lost`]): its deadline is now the in-doubt one.
    fn doubted(&mut self, at: u64) {
        self.next.arm(Deadline::of(at, IN_DOUBT_MAX_MS));
    }
}

/// When [`timeouts`] must next look at a handoff in phase `phase`, given
/// the handoff timeout `limit`; `None` when it is not in flight.
fn in_flight_deadline(phase: Phase, limit: u64) -> Option<u64> {
    match phase {
        Phase::Requested(at) => Some(Deadline::of(at, limit)),
        Phase::InDoubt(at) => Some(Deadline::of(at, IN_DOUBT_MAX_MS)),
        _ => None,
    }
}

/// What [`timeouts`] does with the in-flight connection `c` at `now`: `None`
/// while its answer is not late. A late request whose back-end may have
/// taken it is put in doubt here, under its bucket lock.
fn late_of(
    ch: &Channel,
    c: &mut front::Conn,
    now: u64,
    limit: u64,
) -> Option<(front::Key, u32, u64, Late)> {
    match c.phase {
        Phase::Requested(at) if now.saturating_sub(at) >= limit => {
            let heard = ch.heard_since(c.node, at);
            if c.response_seen || heard {
                c.phase = Phase::InDoubt(at);
                Some((c.key, c.node, c.conn_id, Late::Doubt { ask: heard }))
            } else {
                Some((c.key, c.node, c.conn_id, Late::Local))
            }
        }
        Phase::InDoubt(at) if now.saturating_sub(at) >= IN_DOUBT_MAX_MS => {
            Some((c.key, c.node, c.conn_id, Late::GiveUp))
        }
        _ => None,
    }
}

/// Front-end: handoffs that got no answer in time.
///
/// A back-end answers every request in order on a reliable channel, so a
/// late answer is usually just late. What the front-end does depends on
/// what it knows:
///
/// - the client acknowledged response data ([`Conn::response_seen`]): the
///   back-end has the connection; wait for its HANDOFF_ACK (in doubt);
/// - the peer spoke since the request was sent: the channel works and the
///   answer will come; wait for it and ask (a one-id RECONCILE, answered
///   [`TERM_UNKNOWN`] if the back-end does not hold the connection);
/// - neither: the request or the channel is likely lost; serve the
///   connection here and tell the back-end to forget it.
///
/// A handoff in doubt for [`IN_DOUBT_MAX_MS`] is reset ([`give_up`]).
///
/// Only the handoffs in flight are looked at ([`InFlight`]), and only when
/// one can be late: a run of the worker pays nothing for idle connections.
/// The worker runs at least every tick (100 ms), so a timeout fires at most
/// that late, never early.
///
/// [`Conn::response_seen`]: front::Conn::response_seen
pub(super) fn timeouts(st: &NetState, net: *mut bindings::net, ch: &mut Channel, now: u64) {
    let limit = u64::from(Limits::get(&st.limits.handoff_timeout_ms));
    if ch.in_flight.lost {
        timeouts_walk(st, net, ch, now, limit);
        return;
    }
    let f = &ch.in_flight;
    if !f.next.due(now, limit) && f.list.len() < f.prune_at {
        return;
    }
    let mut next = Deadline::new();
    next.rearm(limit);
    let mut list = core::mem::take(&mut ch.in_flight.list);
    let mut kept = 0;
    for i in 0..list.len() {
        let (key, id) = list[i];
        let (late, due) = {
            let mut t = st.pending.lock(front::bucket_of(st, &key));
            match t.get_mut(&key).filter(|c| c.conn_id == id) {
                Some(c) => {
                    let late = late_of(ch, c, now, limit);
                    // Served here or reset by `handle_late`: done with.
                    let done = matches!(late, Some((_, _, _, Late::Local | Late::GiveUp)));
                    let due = if done {
                        None
                    } else {
                        in_flight_deadline(c.phase, limit)
                    };
                    (late, due)
                }
                None => (None, None),
            }
        };
        if let Some(at) = due {
            next.arm(at);
            list[kept] = (key, id);
            kept += 1;
        }
        if let Some((key, node, id, what)) = late {
            handle_late(st, net, ch, &key, node, id, what);
        }
    }
    list.truncate(kept);
    // Nothing lists a handoff while this runs; should something have, its
    // entries are kept.
    let added = core::mem::replace(&mut ch.in_flight.list, list);
    for e in added {
        if ch.in_flight.list.push(e, GFP_KERNEL).is_err() {
            ch.in_flight.lost = true;
        }
    }
    let f = &mut ch.in_flight;
    f.next = next;
    if f.list.len() > kept {
        // Their deadlines were armed in the bound just replaced: look again
        // at the next run.
        f.next.arm(now);
    }
    f.prune_at = (2 * f.list.len()).max(IN_FLIGHT_PRUNE_MIN);
}

/// [`timeouts`] without its list (a handoff could not be listed): walks
/// the table for late handoffs, then lists every handoff in flight again.
fn timeouts_walk(st: &NetState, net: *mut bindings::net, ch: &mut Channel, now: u64, limit: u64) {
    while let Some((key, node, id, what)) = st
        .pending
        .find_map(|_, t| t.conns.iter_mut().find_map(|c| late_of(ch, c, now, limit)))
    {
        handle_late(st, net, ch, &key, node, id, what);
    }
    let mut list = KVec::new();
    let mut next = Deadline::new();
    next.rearm(limit);
    let mut short = false;
    st.pending.for_each(|_, t| {
        for c in t.conns.iter() {
            if let Some(at) = in_flight_deadline(c.phase, limit) {
                next.arm(at);
                short |= list.push((c.key, c.conn_id), GFP_ATOMIC).is_err();
            }
        }
    });
    if !short {
        // Every handoff in flight is listed: the next runs use the list.
        let f = &mut ch.in_flight;
        f.list = list;
        f.lost = false;
        f.next = next;
        f.prune_at = (2 * f.list.len()).max(IN_FLIGHT_PRUNE_MIN);
    }
}

/// Does what [`late_of`] found for handoff `id` of `key` to `node`.
fn handle_late(
    st: &NetState,
    net: *mut bindings::net,
    ch: &mut Channel,
    key: &front::Key,
    node: u32,
    id: u64,
    what: Late,
) {
    match what {
        Late::Doubt { ask } => {
            Stats::inc(&st.stats.handoff_in_doubt, 1);
            if ask {
                ask_about(st, ch, node, id);
            }
        }
        Late::Local => {
            Stats::inc(&st.stats.handoff_timeout, 1);
            Stats::inc(&st.stats.fallback_local, 1);
            failed(st, net, node, id, key, "timeout");
            release_local(st, net, key);
            abort(st, ch, node, id);
        }
        Late::GiveUp => give_up(st, net, ch, node, key, id),
    }
}

/// What [`timeouts`] does with a late handoff.
enum Late {
    /// Wait for the answer; `ask` when the channel works.
    Doubt { ask: bool },
    /// Serve it here.
    Local,
    /// In doubt for too long: reset it.
    GiveUp,
}

/// Front-end: asks `node` whether it holds connection `id` (a RECONCILE of
/// one id); the answer is [`TERM_UNKNOWN`] or nothing, its HANDOFF_ACK
/// being on its way already.
fn ask_about(st: &NetState, ch: &mut Channel, node: u32, id: u64) {
    let mut raw = [0u8; 8];
    let msg = Reconcile::encode_ids(&[id], &mut raw)
        .and_then(|n| Reconcile::from_raw(&raw[..n]))
        .map(Message::Reconcile);
    if let Ok(msg) = msg {
        ch.send(st, node, &msg);
    }
}

/// Front-end: a handoff stayed in doubt for [`IN_DOUBT_MAX_MS`]. The
/// back-end may hold it but cannot be reached, and serving it here would
/// clash with what the client already has: the connection is reset. The
/// local request socket goes silently; the held packets then reach a stack
/// without a socket for them, which answers each with a reset the client
/// accepts (its sequence number is the client's acknowledgement). The
/// back-end is told to forget it, should it come back.
fn give_up(
    st: &NetState,
    net: *mut bindings::net,
    ch: &mut Channel,
    node: u32,
    key: &front::Key,
    id: u64,
) {
    let rel = {
        let mut t = st.pending.lock(front::bucket_of(st, key));
        let Some(c) = t.get_mut(key) else { return };
        let seq = c.ack.seq;
        (seq, front::release(st, c, now_ms()))
    };
    Stats::inc(&st.stats.in_doubt_reset, 1);
    failed(st, net, node, id, key, "in-doubt");
    reset(net, key.saddr, key.sport, key.daddr, key.dport, rel.0);
    front::reinject_all(st, net, rel.1);
    abort(st, ch, node, id);
}

/// The channel to `node` went down: its handoffs in flight will get no
/// answer on it. Those whose client saw response data stay in doubt (the
/// back-end has them, and repeats its HANDOFF_ACK when the channel is
/// back); the others are served here (should the back-end have taken one
/// after all, its repeated HANDOFF_ACK is answered [`TERM_ABORT`]).
pub(super) fn peer_lost(st: &NetState, net: *mut bindings::net, ch: &mut Channel, node: u32) {
    loop {
        let lost = st.pending.find_map(|_, t| {
            t.conns.iter_mut().find_map(|c| {
                if c.node != node {
                    return None;
                }
                match c.phase {
                    Phase::Requested(at) if c.response_seen => {
                        c.phase = Phase::InDoubt(at);
                        ch.in_flight.doubted(at);
                        Some((c.key, c.conn_id, true))
                    }
                    Phase::Requested(_) => Some((c.key, c.conn_id, false)),
                    Phase::InDoubt(_) if !c.response_seen => Some((c.key, c.conn_id, false)),
                    _ => None,
                }
            })
        });
        let Some((key, id, doubt)) = lost else { return };
        if doubt {
            Stats::inc(&st.stats.handoff_in_doubt, 1);
            continue;
        }
        Stats::inc(&st.stats.handoff_no_channel, 1);
        Stats::inc(&st.stats.fallback_local, 1);
        failed(st, net, node, id, &key, "no-channel");
        release_local(st, net, &key);
    }
}

/// The back-end's connections whose TERMINATE is due
/// ([`back::Conn::terminate_pending`]), for [`terminates`].
pub(crate) struct Terminating {
    /// Keys taken from [`NetState::terminating`] (storage reused).
    keys: KVec<back::Key>,
    /// Keys (with their front-end) whose channel is down: their TERMINATE
    /// waits for it to come back. May hold entries no longer pending.
    waiting: KVec<(back::Key, u32)>,
    /// Drop what is no longer pending from `waiting` when it grows this
    /// long.
    prune_at: usize,
}

/// The length of [`Terminating::waiting`] that first makes it pruned.
const WAITING_PRUNE_MIN: usize = 64;

impl Terminating {
    pub(crate) fn new() -> Self {
        Terminating {
            keys: KVec::new(),
            waiting: KVec::new(),
            prune_at: WAITING_PRUNE_MIN,
        }
    }
}

/// Whether a TERMINATE for front-end `node` can go now: its channel is
/// up, or it is no configured peer any more (the message is then dropped:
/// the channel may never come back).
fn terminate_sendable(ch: &Channel, node: u32) -> bool {
    ch.is_up(node) || !ch.peers.iter().any(|p| p.id == node)
}

/// What [`terminate_one`] did.
enum Term {
    /// Sent, or the entry has nothing to send (gone, or no longer due).
    Done,
    /// Its front-end's channel is down; it waits.
    Wait(u32),
}

/// Sends the TERMINATE of the back-end entry `key`, if still due.
fn terminate_one(st: &NetState, ch: &mut Channel, key: &back::Key) -> Term {
    let due = {
        let mut b = st.backend.lock(back::bucket_of(st, key));
        match b.get_mut(key) {
            Some(c) if c.terminate_pending => {
                if !terminate_sendable(ch, c.fe_node) {
                    return Term::Wait(c.fe_node);
                }
                c.terminate_pending = false;
                (c.fe_node, c.conn_id)
            }
            _ => return Term::Done,
        }
    };
    let msg = Message::Terminate(Terminate {
        conn_id: due.1,
        reason: TERM_CLOSED,
    });
    if ch.send(st, due.0, &msg) {
        Stats::inc(&st.stats.terminate_sent, 1);
    }
    Term::Done
}

/// Back-end: reports closed connections to their front-ends.
///
/// The entries to report are those whose keys were queued when they closed
/// ([`NetState::terminating`]) and those still waiting for their channel;
/// each is looked up in its bucket, so a run costs as much as connections
/// closed, not as the table is large. A key that could not be queued or
/// kept makes the next run walk the table for every entry due, as each run
/// used to.
pub(super) fn terminates(st: &NetState, ch: &mut Channel) {
    let mut q = core::mem::replace(&mut ch.terminating, Terminating::new());
    if st.terminating.take_overflow() {
        terminates_walk(st, ch, &mut q);
    }
    st.terminating.take(&mut q.keys);
    for key in q.keys.iter() {
        if let Term::Wait(node) = terminate_one(st, ch, key) {
            if q.waiting.push((*key, node), GFP_KERNEL).is_err() {
                st.terminating.overflowed();
            }
        }
    }
    q.keys.clear();
    // Those waiting are looked up only once their channel is back.
    let mut kept = 0;
    for i in 0..q.waiting.len() {
        let (key, node) = q.waiting[i];
        if terminate_sendable(ch, node) {
            if let Term::Wait(node) = terminate_one(st, ch, &key) {
                q.waiting[kept] = (key, node);
                kept += 1;
            }
        } else {
            q.waiting[kept] = (key, node);
            kept += 1;
        }
    }
    q.waiting.truncate(kept);
    if q.waiting.len() >= q.prune_at {
        // The entries of a channel down for long go after their linger
        // time (`back::tick`) while their keys would stay here: keep only
        // those still due, so the list stays as long as they are, twice at
        // most.
        q.waiting.retain(|(key, _)| {
            st.backend
                .lock(back::bucket_of(st, key))
                .get_mut(key)
                .is_some_and(|c| c.terminate_pending)
        });
        q.prune_at = (2 * q.waiting.len()).max(WAITING_PRUNE_MIN);
    }
    ch.terminating = q;
}

/// [`terminates`] when a key was lost: finds every entry due in the table
/// (and lists again those that wait for their channel).
fn terminates_walk(st: &NetState, ch: &mut Channel, q: &mut Terminating) {
    q.waiting.clear();
    let mut due = KVec::new();
    st.backend.for_each(|_, b| {
        for c in b.conns.iter_mut().filter(|c| c.terminate_pending) {
            if !terminate_sendable(ch, c.fe_node) {
                // Wait for the channel to come back.
                if q.waiting.push((c.key, c.fe_node), GFP_ATOMIC).is_err() {
                    st.terminating.overflowed();
                }
                continue;
            }
            c.terminate_pending = false;
            if due.push((c.fe_node, c.conn_id), GFP_ATOMIC).is_err() {
                c.terminate_pending = true;
                st.terminating.overflowed();
                break;
            }
        }
    });
    for (node, id) in due {
        let msg = Message::Terminate(Terminate {
            conn_id: id,
            reason: TERM_CLOSED,
        });
        if ch.send(st, node, &msg) {
            Stats::inc(&st.stats.terminate_sent, 1);
        }
    }
}

/// Handles one message from peer `from` (HELLO and KEEPALIVE are the
/// channel's own).
pub(super) fn on_message(
    st: &NetState,
    net: *mut bindings::net,
    ch: &mut Channel,
    from: u32,
    msg: &Message<'_>,
) {
    if let Message::Terminate(t) = msg {
        trace::handoff_terminate(st.netns, t.conn_id, from, t.reason, true);
    }
    match msg {
        Message::HandoffRequest(r) => {
            Stats::inc(&st.stats.be_requests, 1);
            let reply = match take_over(st, net, from, r) {
                Ok(ack) => {
                    Stats::inc(&st.stats.be_accepted, 1);
                    if let Some(s) = st.node_stats_of(from) {
                        Stats::inc(&s.be_accepted, 1);
                    }
                    Message::HandoffAck(ack)
                }
                Err(reason) => {
                    Stats::inc(&st.stats.be_refused, 1);
                    Message::HandoffNak(HandoffNak {
                        conn_id: r.conn_id,
                        reason,
                    })
                }
            };
            ch.send(st, from, &reply);
        }
        Message::HandoffAck(a) => on_ack(st, net, ch, from, a),
        Message::HandoffNak(n) => {
            let key = {
                let mut t = st.pending.lock(front::bucket_of_id(n.conn_id));
                t.by_id(n.conn_id)
                    .filter(|c| {
                        c.node == from && matches!(c.phase, Phase::Requested(_) | Phase::InDoubt(_))
                    })
                    .map(|c| c.key)
            };
            match key {
                Some(key) => {
                    Stats::inc(&st.stats.handoff_nak, 1);
                    Stats::inc(&st.stats.fallback_local, 1);
                    failed(st, net, from, n.conn_id, &key, "nak");
                    release_local(st, net, &key);
                }
                None => Stats::inc(&st.stats.ctl_bad_msgs, 1),
            }
        }
        Message::Terminate(t) if t.reason == TERM_ABORT => abort_backend(st, net, from, t.conn_id),
        Message::Terminate(t) => {
            let mut p = st.pending.lock(front::bucket_of_id(t.conn_id));
            match p.by_id(t.conn_id).filter(|c| c.node == from) {
                Some(c) if matches!(c.phase, Phase::Flushing | Phase::Forwarding) => {
                    front::tombstone(st, c, now_ms());
                    if t.reason == TERM_UNKNOWN {
                        // The back-end has nothing of the connection (it
                        // restarted, or let the entry go): its stack would
                        // answer a forwarded packet with a reset under its
                        // own address, which the client discards. Late
                        // packets go to the local stack instead, whose
                        // answers the tombstone swallows; after the linger
                        // time the client's next packet gets this node's
                        // reset (fault_be_restart.sh).
                        c.fwd = None;
                    }
                    drop(p);
                    Stats::inc(&st.stats.terminate_received, 1);
                    if t.reason == TERM_UNKNOWN {
                        Stats::inc(&st.stats.reconciled, 1);
                    }
                }
                // Asked about a handoff in doubt: the back-end never took
                // it (or gave it up), so it is served here.
                Some(c) if matches!(c.phase, Phase::InDoubt(_)) && t.reason == TERM_UNKNOWN => {
                    let key = c.key;
                    drop(p);
                    Stats::inc(&st.stats.reconciled, 1);
                    Stats::inc(&st.stats.fallback_local, 1);
                    failed(st, net, from, t.conn_id, &key, "unknown");
                    release_local(st, net, &key);
                }
                // A reconciliation answer may cross the TERMINATE that
                // already ended the entry.
                _ if t.reason == TERM_UNKNOWN => {}
                _ => {
                    drop(p);
                    Stats::inc(&st.stats.ctl_bad_msgs, 1);
                }
            }
        }
        Message::Reconcile(r) => answer_reconcile(ch, from, r),
        Message::MigrateRequest(r) => super::migrate::on_request(st, net, ch, from, r),
        Message::MigrateState(m) => super::migrate::on_state(st, net, ch, from, m),
        _ => Stats::inc(&st.stats.ctl_bad_msgs, 1),
    }
}

/// Front-end: lists the connections it forwards to each peer whose
/// reconciliation is due (see [`Reconcile`]), [`Reconcile::MAX_IDS`] per
/// message.
pub(super) fn reconcile(st: &NetState, ch: &mut Channel, now: u64) {
    let mut i = 0;
    while i < ch.peers.len() {
        let p = &ch.peers[i];
        i += 1;
        if !p.up || now < p.next_reconcile {
            continue;
        }
        let node = p.id;
        ch.peers[i - 1].next_reconcile = now + RECONCILE_MS;
        reacknowledge(st, ch, node);
        let mut ids = KVec::new();
        let mut short = false;
        st.pending.for_each(|_, b| {
            for c in b.conns.iter() {
                if c.node == node
                    && matches!(c.phase, Phase::Forwarding | Phase::InDoubt(_))
                    && ids.push(c.conn_id, GFP_ATOMIC).is_err()
                {
                    short = true;
                }
            }
        });
        if short {
            // Try again soon with what memory allows then.
            ch.peers[i - 1].next_reconcile = now + 1000;
        }
        let mut raw = [0u8; 8 * Reconcile::MAX_IDS];
        for chunk in ids.chunks(Reconcile::MAX_IDS) {
            let msg = Reconcile::encode_ids(chunk, &mut raw)
                .and_then(|n| Reconcile::from_raw(&raw[..n]))
                .map(Message::Reconcile);
            let sent = msg.is_ok_and(|msg| ch.send(st, node, &msg));
            if !sent {
                // The send queue is full (or the channel went): the rest of
                // the round waits for a retry soon.
                if let Some(p) = ch.peers.get_mut(i - 1) {
                    p.next_reconcile = now + 1000;
                }
                break;
            }
        }
    }
}

/// Back-end: sends HANDOFF_ACK again for every connection taken over from
/// `node` that no forwarded packet has confirmed yet ([`back::Conn::confirmed`]),
/// with each reconciliation round (so at once when a channel comes back).
/// Its first HANDOFF_ACK may have been lost with a channel: the front-end
/// then holds the connection in doubt, and this one lets it forward. A
/// front-end that already forwards ignores it; one that served the
/// connection itself answers [`TERM_ABORT`].
fn reacknowledge(st: &NetState, ch: &mut Channel, node: u32) {
    let mut acks = KVec::new();
    st.backend.for_each(|_, b| {
        for c in b.conns.iter() {
            if c.fe_node == node && !c.confirmed {
                if let Some(a) = ack_of(c) {
                    // Short of memory, the rest wait for the next round.
                    let _ = acks.push(a, GFP_ATOMIC);
                }
            }
        }
    });
    for a in acks {
        if !ch.send(st, node, &Message::HandoffAck(a)) {
            break;
        }
        Stats::inc(&st.stats.ack_resent, 1);
    }
}

/// The HANDOFF_ACK that describes the established connection `c`.
fn ack_of(c: &back::Conn) -> Option<HandoffAck> {
    if !matches!(c.phase, back::Phase::Established | back::Phase::Closing(_)) {
        return None;
    }
    let sa = c.synack?;
    Some(HandoffAck {
        conn_id: c.conn_id,
        be_init: TcpInit {
            isn: sa.isn,
            tsval: sa.tsval.unwrap_or(0),
            ts_ok: sa.tsval.is_some(),
            sack_ok: sa.sack,
            wscale: sa.wscale.map(|w| w.min(14)),
            mss: sa.mss,
            ecn: false,
            usec_ts: false,
        },
        be_addr: c.key.local.endpoint(c.key.port),
    })
}

/// Back-end: notes the ids a front-end asks about; [`answer_reconciles`]
/// answers them all after the run has read every peer's input.
fn answer_reconcile(ch: &mut Channel, from: u32, r: &Reconcile<'_>) {
    if ch.asked.reserve(r.len(), GFP_KERNEL).is_err() {
        // Without the whole list nothing is torn down by mistake: the
        // front-end asks again next round.
        return;
    }
    for id in r.ids() {
        // Room was reserved above.
        let _ = ch.asked.push_within_capacity((from, id));
    }
}

/// Back-end: answers TERMINATE ([`TERM_UNKNOWN`]) for each id asked this
/// run ([`answer_reconcile`]) that no entry of the table carries.
///
/// A front-end lists up to [`Reconcile::MAX_IDS`] ids per message, so one
/// round over a large table arrives as hundreds of messages; the table is
/// scanned once per worker run, not once per message. The scan follows the
/// messages, and every id a front-end lists had its back-end entry before
/// the HANDOFF_ACK that made the front-end forward it: a live connection is
/// never reported unknown. An entry removed after the scan is caught by the
/// next round.
pub(super) fn answer_reconciles(st: &NetState, ch: &mut Channel) {
    if ch.asked.is_empty() {
        return;
    }
    let asked = core::mem::take(&mut ch.asked);
    let mut known = KVec::new();
    let mut short = known.reserve(st.backend.len(), GFP_KERNEL).is_err();
    st.backend.for_each(|_, b| {
        // An entry given up is not the front-end's connection any more.
        for c in b.conns.iter() {
            if !matches!(c.phase, back::Phase::Aborted(_)) {
                short |= known.push((c.fe_node, c.conn_id), GFP_ATOMIC).is_err();
            }
        }
    });
    if !short {
        crate::handoff_core::sort::heapsort(&mut known);
        for &(from, id) in asked.iter() {
            if known.binary_search(&(from, id)).is_err() {
                let msg = Message::Terminate(Terminate {
                    conn_id: id,
                    reason: TERM_UNKNOWN,
                });
                if ch.send(st, from, &msg) {
                    Stats::inc(&st.stats.terminate_sent, 1);
                }
            }
        }
    }
    // Without the whole table (`short`) nothing is torn down by mistake:
    // the front-end asks again next round.
}

/// Front-end: the back-end took connection `a.conn_id` over.
fn on_ack(st: &NetState, net: *mut bindings::net, ch: &mut Channel, from: u32, a: &HandoffAck) {
    let be_addr = Addr::of_endpoint(a.be_addr.family, &a.be_addr.addr);
    let started = {
        let mut t = st.pending.lock(front::bucket_of_id(a.conn_id));
        match t.by_id(a.conn_id) {
            Some(c)
                if c.node == from
                    && matches!(c.phase, Phase::Requested(_) | Phase::InDoubt(_))
                    && be_addr.is_some_and(|b| {
                        // Of the connection's own family: the front-end
                        // rewrites only the destination, not the header.
                        !b.is_unspecified() && b.family() == c.key.saddr.family()
                    }) =>
            {
                let asked_at = match c.phase {
                    Phase::Requested(at) | Phase::InDoubt(at) => at,
                    _ => 0,
                };
                c.fe.map(|fe| {
                    let tr = Translation::new(
                        fe.isn,
                        a.be_init.isn,
                        fe.tsval,
                        a.be_init.tsval,
                        fe.wscale.unwrap_or(0),
                        a.be_init.wscale.unwrap_or(0),
                    );
                    let fwd = Forward {
                        tr,
                        be_addr: be_addr.unwrap_or_default(),
                        slot: st.node_slot(from),
                    };
                    let key = c.key;
                    // A connection moved from another back-end
                    // (`super::migrate`): its request bytes are read on.
                    let moved = match c.follow.as_deref_mut() {
                        Some(f) if f.step() == Step::Handing => {
                            f.stream.step = Step::Reading;
                            true
                        }
                        _ => false,
                    };
                    (
                        key,
                        asked_at,
                        c.ack.seq,
                        fwd,
                        moved,
                        front::start_forwarding(st, c, fwd),
                    )
                })
            }
            // The same answer again (`reacknowledge`): already forwarding.
            Some(c)
                if c.node == from
                    && matches!(
                        c.phase,
                        Phase::Flushing | Phase::Forwarding | Phase::Tombstone(_)
                    ) =>
            {
                return;
            }
            _ => None,
        }
    };
    let Some((key, asked_at, seq, fwd, moved, mut skbs)) = started else {
        // Served here already (timeout, lost channel) or unknown: the
        // back-end must forget it.
        Stats::inc(&st.stats.ctl_bad_msgs, 1);
        abort(st, ch, from, a.conn_id);
        return;
    };
    Stats::inc(&st.stats.handoff_ok, 1);
    if let Some(s) = st.node_stats_of(from) {
        Stats::inc(&s.handoff_ok, 1);
    }
    if let Some(s) = st.services.stats_of(&key.daddr, key.dport) {
        Stats::inc(&s.handoff_ok, 1);
    }
    // The clock is jiffies: a resolution of a few milliseconds (the
    // tracepoints give a BPF program the means to do better).
    let latency_us = now_ms().saturating_sub(asked_at).saturating_mul(1000);
    trace::handoff_done(st.netns, a.conn_id, from, &key, latency_us);
    event::notify(
        net,
        &Event::HandoffDone {
            node: from,
            client: (key.saddr, key.sport),
            latency_us,
        },
    );
    if moved {
        Stats::inc(&st.stats.migrations, 1);
    } else {
        // The local request socket goes silently (a reset only this stack
        // sees).
        reset(net, key.saddr, key.sport, key.daddr, key.dport, seq);
    }
    // Flush what the client sent meanwhile, then forward directly.
    loop {
        for h in skbs {
            xmit::forward(st, net, h.skb, &fwd);
        }
        let mut t = st.pending.lock(front::bucket_of_id(a.conn_id));
        skbs = match t.by_id(a.conn_id) {
            Some(c) => front::flush_done(st, c),
            None => KVec::new(),
        };
        if skbs.is_empty() {
            return;
        }
    }
}

/// Back-end: takes a connection over, or says why not.
fn take_over(
    st: &NetState,
    net: *mut bindings::net,
    from: u32,
    r: &HandoffRequest<'_>,
) -> Result<HandoffAck, NakReason> {
    // The codec checked that both are of one family.
    let (Some(client), Some(service)) = (
        Addr::of_endpoint(r.client.family, &r.client.addr),
        Addr::of_endpoint(r.service.family, &r.service.addr),
    ) else {
        return Err(NakReason::Internal);
    };
    let (cport, port) = (r.client.port, r.service.port);
    let ci = &r.client_init;
    let fe = &r.fe_init;
    if ci.ecn || ci.usec_ts || fe.usec_ts {
        return Err(NakReason::OptionMismatch);
    }
    // The source address of this node's route to the client, of the
    // client's family (its data address, reported in HANDOFF_ACK).
    let mut local = match client {
        Addr::V4(_) => Addr::V4([0; 4]),
        Addr::V6(_) => Addr::V6([0; 16]),
    };
    let out = match &mut local {
        Addr::V4(a) => a.as_mut_ptr(),
        Addr::V6(a) => a.as_mut_ptr(),
    };
    // SAFETY: `net` is live; `client` is of its family, and `out` has room
    // for an address of that family.
    let err =
        unsafe { bindings::th_route_saddr(net, client.family(), client.bytes().as_ptr(), out) };
    if err != 0 || local.is_unspecified() {
        return Err(NakReason::Internal);
    }
    // SAFETY: `net` is live; network-order arguments, `local` of `family`.
    if !unsafe {
        bindings::th_has_listener(net, local.family(), local.bytes().as_ptr(), port.to_be())
    } {
        return Err(NakReason::NoListener);
    }
    let key = back::Key {
        client,
        cport,
        local,
        port,
    };
    let busy = |net| {
        let mut info = bindings::th_reqsk_info::default();
        // SAFETY: `net` is live; `info` is writable; `client` and `local`
        // are of one family (the route to the client gave `local`).
        unsafe {
            bindings::th_lookup_reqsk(
                net,
                client.family(),
                client.bytes().as_ptr(),
                cport.to_be(),
                local.bytes().as_ptr(),
                port.to_be(),
                0,
                &mut info,
            )
        }
    };
    // A socket for this tuple already exists: the replayed SYN would hit it
    // (design §5, tuple collisions). A TIME_WAIT entry is no obstacle when
    // the SYN is newer than the old connection, which the client's
    // per-tuple ISN and timestamp clocks make the normal case: the stack
    // then recycles it. When it is not, the stack answers the SYN with an
    // ACK instead of a SYN/ACK, and the takeover fails cleanly below.
    let found = busy(net);
    if found != bindings::TH_SK_NONE as i32 && found != bindings::TH_SK_TIME_WAIT as i32 {
        return Err(NakReason::TupleBusy);
    }
    let bucket = back::bucket_of(st, &key);
    let mut stale = None;
    {
        let mut b = st.backend.lock(bucket);
        if let Some(c) = b.get_mut(&key) {
            // An entry of a connection that ended here (closed, or given
            // up: a kept-alive connection that moved away and now comes
            // back, a client that reuses its port) only waits for its
            // linger time: no obstacle once its socket is gone or in
            // TIME_WAIT, which the replayed SYN recycles as for any new
            // connection.
            let ended = matches!(c.phase, back::Phase::Closing(_) | back::Phase::Aborted(_));
            if !ended
                || (found != bindings::TH_SK_NONE as i32
                    && found != bindings::TH_SK_TIME_WAIT as i32)
            {
                return Err(NakReason::TupleBusy);
            }
            stale = b.remove(&key);
            st.backend.removed(1);
        }
        if st.backend.len() >= Limits::get(&st.limits.max_conns) as usize {
            return Err(NakReason::TableFull);
        }
        let mut conn = back::Conn::new(key, from, r.conn_id, service);
        conn.slot = st.node_slot(from);
        let conn = SlabBox::new(conn).map_err(|_| NakReason::TableFull)?;
        b.conns.insert(conn).map_err(|_| NakReason::TableFull)?;
        st.backend.added(1);
    }
    // Dropped outside the lock (it may hold a module reference).
    drop(stale);
    let fail = |reason| {
        let gone = st.backend.lock(bucket).remove(&key);
        if gone.is_some() {
            st.backend.removed(1);
        }
        drop(gone);
        reset(net, client, cport, local, port, ci.isn.wrapping_add(1));
        Err(reason)
    };
    // Step 6: the client's SYN, with exactly the options the front-end
    // granted.
    let syn = Seg {
        saddr: client,
        sport: cport,
        daddr: local,
        dport: port,
        seq: ci.isn,
        ack: 0,
        flags: flags::SYN,
        window: u16::MAX,
        options: SegOptions {
            mss: Some(ci.mss),
            wscale: ci.wscale,
            sack_perm: ci.sack_ok,
            timestamp: ci.ts_ok.then_some((ci.tsval, 0)),
        },
        payload: &[],
    };
    if !inject(net, &syn) {
        return fail(NakReason::Internal);
    }
    let synack = {
        let mut b = st.backend.lock(bucket);
        let Some(c) = b.get_mut(&key) else {
            drop(b);
            return fail(NakReason::Internal);
        };
        let Some(sa) = c.synack else {
            drop(b);
            return fail(NakReason::Internal);
        };
        // This stack must grant what the front-end granted (it cannot grant
        // more: the replayed SYN asked for no more).
        if sa.tsval.is_some() != fe.ts_ok
            || sa.sack != fe.sack_ok
            || sa.wscale.is_some() != fe.wscale.is_some()
        {
            drop(b);
            return fail(NakReason::OptionMismatch);
        }
        let tr = Translation::new(
            fe.isn,
            sa.isn,
            fe.tsval,
            sa.tsval.unwrap_or(0),
            fe.wscale.unwrap_or(0),
            sa.wscale.unwrap_or(0),
        );
        c.establish(tr, sa.isn.wrapping_add(1));
        sa
    };
    // The handshake-completing ACK with the request, in this node's
    // sequence space; its TSecr is this stack's own SYN/ACK TSval.
    let ack = Seg {
        saddr: client,
        sport: cport,
        daddr: local,
        dport: port,
        seq: r.client_ack_seq,
        ack: synack.isn.wrapping_add(1),
        flags: if r.request.is_empty() {
            flags::ACK
        } else {
            flags::ACK | flags::PSH
        },
        window: r.client_rcv_wnd,
        options: SegOptions {
            timestamp: synack.tsval.map(|v| (r.client_ack_tsval, v)),
            ..SegOptions::default()
        },
        payload: r.request,
    };
    let established = inject(net, &ack) && busy(net) == bindings::TH_SK_FULL as i32;
    if !established {
        if let Some(c) = st.backend.lock(bucket).get_mut(&key) {
            c.abort(st, now_ms());
        }
        reset(net, client, cport, local, port, r.client_ack_seq);
        return Err(NakReason::Internal);
    }
    let mut b = st.backend.lock(bucket);
    let Some(c) = b.get_mut(&key) else {
        drop(b);
        return fail(NakReason::Internal);
    };
    c.replay_end = r.client_ack_seq.wrapping_add(r.request.len() as u32);
    c.in_end = c.replay_end;
    ack_of(c).ok_or(NakReason::Internal)
}

/// Back-end: the front-end gave connection `id` up and served it itself;
/// the local socket is reset without a word to the client.
fn abort_backend(st: &NetState, net: *mut bindings::net, from: u32, id: u64) {
    let hit = st.backend.find_map(|_, b| {
        b.conns
            .iter_mut()
            .find(|c| c.fe_node == from && c.conn_id == id)
            .map(|c| {
                c.abort(st, now_ms());
                c.terminate_pending = false;
                (c.key, c.replay_end)
            })
    });
    match hit {
        Some((k, seq)) => reset(net, k.client, k.cport, k.local, k.port, seq),
        None => Stats::inc(&st.stats.ctl_bad_msgs, 1),
    }
}
