// SPDX-License-Identifier: GPL-2.0

//! Moving a kept-alive connection from one back-end to another between
//! two requests (`Documentation/keepalive.rst`).
//!
//! Front-end: the inbound hook reads the client's later request heads
//! (`btcp::follow`) and queues each complete one; [`next_request`] runs
//! dispatch on it. A request that stays on its node is released to it. One
//! that belongs to another node moves the connection: the front-end sends
//! the current back-end MIGRATE_REQUEST with the client's sequence number
//! where the request starts, and holds the request.
//!
//! Back-end ([`on_request`], [`poll`]): it waits until its socket has
//! received exactly the bytes before that point, its server has answered
//! the last of them, and the client has acknowledged everything, with
//! nothing sent for a short while. Then it drops everything the socket
//! sends from then on (the entry is aborted), aborts the socket, and
//! answers MIGRATE_STATE with where the connection stands, in the
//! front-end's sequence and timestamp space. A socket that does not get
//! there in [`MIGRATE_WAIT_MS`] is answered Busy: the request then stays
//! on the node it is on.
//!
//! Front-end ([`on_state`]): the next back-end gets an ordinary
//! HANDOFF_REQUEST, as if the client had just connected: its SYN's
//! sequence number is one before the held request's, this node's side of
//! the handshake one before the server's next byte, and the request rides
//! on the replayed ACK. From its HANDOFF_ACK on, everything is as after a
//! first handoff.

use super::{handoff, Channel};
use crate::{
    bindings,
    btcp::{
        back,
        follow::{Step, PENDING_MAX},
        front::{self, now_ms, ClientAck, Forward, Held, Phase},
        xmit::{self, Seg},
    },
    dispatch,
    handoff_core::{
        codec::{Message, MigrateRequest, MigrateState, MigrateStatus, TcpInit},
        follow::Pending,
        framing::Body,
        http,
        packet::flags,
        rewrite::SegOptions,
    },
    netns::{NetState, Stats},
};
use kernel::prelude::*;

/// How long a back-end waits for its socket to be ready to move.
const MIGRATE_WAIT_MS: u64 = 3000;

/// How long the socket must stay ready (nothing sent, everything
/// acknowledged) before it moves: a server that writes one response in
/// several calls gets that long between two of them.
const SETTLE_MS: u64 = 50;

/// How long a front-end waits for MIGRATE_STATE before the request stays
/// where it is.
const ANSWER_WAIT_MS: u64 = MIGRATE_WAIT_MS + 2000;

/// Whether front-end connection `c` has a later request head waiting for
/// [`next_request`].
pub(super) fn deciding(c: &front::Conn) -> bool {
    c.phase == Phase::Forwarding
        && c.follow
            .as_ref()
            .is_some_and(|f| f.step() == Step::Deciding)
}

/// What to do once the bucket lock is dropped.
enum Then {
    Nothing,
    /// Send these held packets to the current back-end.
    Forward(KVec<Held>, Forward),
    /// Send the prefixes, then ask node `from` to let the connection go.
    Move {
        prefixes: KVec<KVec<u8>>,
        fwd: Forward,
        from: u32,
        id: u64,
        cut: u32,
    },
}

/// Front-end: decides where the later request of `key` goes (worker).
pub(super) fn next_request(
    st: &NetState,
    net: *mut bindings::net,
    ch: &mut Channel,
    key: &front::Key,
) {
    let bucket = front::bucket_of(st, key);
    // The head is copied out: dispatch takes the configuration's mutex.
    let (head, current, limit) = {
        let mut t = st.pending.lock(bucket);
        let Some(c) = t.get_mut(key).filter(|c| deciding(c)) else {
            return;
        };
        let (Some(f), Some(fwd)) = (c.follow.as_deref(), c.fwd) else {
            return;
        };
        let mut head = KVec::new();
        let copied = match http::head_status(f.pending.bytes(), PENDING_MAX) {
            http::HeadStatus::Complete { head_len } => f
                .pending
                .bytes()
                .get(..head_len)
                .is_some_and(|h| head.extend_from_slice(h, GFP_ATOMIC).is_ok()),
            _ => false,
        };
        if !copied {
            c.follow = None;
            let held = core::mem::take(&mut c.queue);
            drop(t);
            forward_all(st, net, held, &fwd);
            return;
        }
        (head, c.node, f.limit())
    };
    Stats::inc(&st.stats.later_requests, 1);
    let parsed = http::parse_head(&head).ok();
    let to = parsed
        .as_ref()
        .and_then(|req| dispatch::choose_next(st, ch, req, current))
        .filter(|&n| n != current && ch.migrate_ok(n) && ch.migrate_ok(current));
    let then = {
        let mut t = st.pending.lock(bucket);
        let Some(c) = t.get_mut(key).filter(|c| deciding(c) && c.node == current) else {
            return;
        };
        let Some(fwd) = c.fwd else { return };
        match (parsed, to) {
            (Some(req), None) => stay(st, c, &req, head.len(), fwd),
            (Some(_), Some(node)) => match c.follow.as_deref_mut() {
                Some(f) if f.limit() == limit => {
                    let prefixes = prefixes(c, &fwd);
                    let id = c.conn_id;
                    let Some(f) = c.follow.as_deref_mut() else {
                        return;
                    };
                    f.stream.step = Step::Moving(now_ms());
                    f.to = node;
                    f.head_len = head.len();
                    Then::Move {
                        prefixes,
                        fwd,
                        from: current,
                        id,
                        cut: limit,
                    }
                }
                _ => Then::Nothing,
            },
            // A head the server will refuse: it goes where it is.
            (None, _) => {
                c.follow = None;
                Then::Forward(core::mem::take(&mut c.queue), fwd)
            }
        }
    };
    match then {
        Then::Nothing => {}
        Then::Forward(held, fwd) => forward_all(st, net, held, &fwd),
        Then::Move {
            prefixes,
            fwd,
            from,
            id,
            cut,
        } => {
            for p in prefixes.iter() {
                xmit::send_built(st, net, p, &fwd);
            }
            let msg = Message::MigrateRequest(MigrateRequest {
                conn_id: id,
                client_seq: cut,
            });
            // Unsent (the channel is down or full), the wait for its answer
            // ends it (`watch`).
            ch.send(st, from, &msg);
            if ch.awaiting.push((*key, id), GFP_KERNEL).is_err() {
                // `watch` finds it by walking the table.
                ch.awaiting_lost = true;
            }
        }
    }
}

/// The request at the head of `c`'s held bytes stays on its back-end:
/// the framer passes over it, and what may go to the back-end goes.
fn stay(
    st: &NetState,
    c: &mut front::Conn,
    req: &http::Request<'_>,
    head_len: usize,
    fwd: Forward,
) -> Then {
    let Some(f) = c.follow.as_deref_mut() else {
        return Then::Nothing;
    };
    let next = if f.pass_head(Body::of(req), head_len) {
        f.next_head()
    } else {
        None
    };
    match next {
        Some(again) => {
            if again {
                // Decided in turn, in this run of the worker.
                st.deciding.push(c.key);
            }
            Then::Forward(front::take_forwardable(c), fwd)
        }
        None => {
            c.follow = None;
            Then::Forward(core::mem::take(&mut c.queue), fwd)
        }
    }
}

/// The parts of `c`'s held segments that lie before the held request
/// (segments that carry the end of one request and the start of the
/// next), built as client segments to its current back-end.
fn prefixes(c: &front::Conn, fwd: &Forward) -> KVec<KVec<u8>> {
    let mut out = KVec::new();
    let Some(f) = c.follow.as_deref() else {
        return out;
    };
    let ts = c.fe.is_some_and(|fe| fe.ts_ok);
    for h in c.queue.iter().filter(|h| f.straddles(h)) {
        let len = f.limit().wrapping_sub(h.seq) as usize;
        let mut payload = KVec::new();
        if payload.extend_with(len, 0u8, GFP_ATOMIC).is_err() {
            continue;
        }
        // SAFETY: the held buffer is valid and owned by the entry; its
        // payload at `h.off` holds more than `len` bytes (it straddles).
        let err = unsafe {
            bindings::th_skb_copy_bits(
                h.skb.as_ptr(),
                h.off,
                payload.as_mut_ptr().cast(),
                len as i32,
            )
        };
        if err != 0 {
            continue;
        }
        let seg = Seg {
            saddr: c.key.saddr,
            sport: c.key.sport,
            daddr: fwd.be_addr,
            dport: c.key.dport,
            seq: h.seq,
            ack: fwd.tr.client_to_be_ack(f.ack),
            flags: flags::ACK | flags::PSH,
            window: f.window,
            options: SegOptions {
                timestamp: ts.then(|| (f.tsval, fwd.tr.client_to_be_tsecr(f.tsecr))),
                ..SegOptions::default()
            },
            payload: &payload,
        };
        let mut pkt = KVec::new();
        if pkt.extend_with(60 + 40 + len, 0u8, GFP_ATOMIC).is_err() {
            continue;
        }
        if let Some(n) = seg.build(&mut pkt) {
            pkt.truncate(n);
            let _ = out.push(pkt, GFP_ATOMIC);
        }
    }
    out
}

fn forward_all(st: &NetState, net: *mut bindings::net, held: KVec<Held>, fwd: &Forward) {
    for h in held {
        xmit::forward(st, net, h.skb, fwd);
    }
}

/// A reset from the service to the client of `key`, at the sequence
/// number the client expects (`seq`): the connection is lost.
fn reset_client(net: *mut bindings::net, key: &front::Key, seq: u32) {
    let mut buf = [0u8; 80];
    let built = Seg::reset(key.daddr, key.dport, key.saddr, key.sport, seq).build(&mut buf);
    if let Some(n) = built {
        // SAFETY: `net` is live; `buf` holds `n` bytes, a packet of the
        // key's family from this node's service address.
        unsafe { bindings::th_send_raw(net, key.saddr.family(), buf.as_ptr().cast(), n as u32) };
    }
}

/// Front-end: the back-end `from` answered a MIGRATE_REQUEST.
pub(super) fn on_state(
    st: &NetState,
    net: *mut bindings::net,
    ch: &mut Channel,
    from: u32,
    m: &MigrateState,
) {
    enum Next {
        Bad,
        Forward(KVec<Held>, Forward),
        Reset(front::Key, u32, KVec<Held>),
        Hand {
            key: front::Key,
            to: u32,
            client: TcpInit,
            fe: TcpInit,
            ack: ClientAck,
            head: KVec<u8>,
        },
    }
    let now = now_ms();
    let next = {
        let mut t = st.pending.lock(front::bucket_of_id(m.conn_id));
        match t.by_id(m.conn_id) {
            Some(c)
                if c.node == from
                    && c.phase == Phase::Forwarding
                    && c.follow
                        .as_ref()
                        .is_some_and(|f| matches!(f.step(), Step::Moving(_))) =>
            {
                on_state_locked(st, c, m, now)
            }
            _ => Next::Bad,
        }
    };
    fn on_state_locked(st: &NetState, c: &mut front::Conn, m: &MigrateState, now: u64) -> Next {
        let (Some(fwd), Some(fe)) = (c.fwd, c.fe) else {
            return Next::Bad;
        };
        let Some(f) = c.follow.as_deref_mut() else {
            return Next::Bad;
        };
        match m.status {
            MigrateStatus::Busy => {
                // The request stays: following ends, what is held goes.
                c.follow = None;
                Next::Forward(core::mem::take(&mut c.queue), fwd)
            }
            MigrateStatus::Ready if m.client_seq == f.limit() => {
                let mut head = KVec::new();
                let Some(bytes) = f.pending.bytes().get(..f.head_len) else {
                    return Next::Bad;
                };
                if head.extend_from_slice(bytes, GFP_ATOMIC).is_err() {
                    return Next::Bad;
                }
                let client = TcpInit {
                    isn: f.limit().wrapping_sub(1),
                    tsval: f.cut_tsval,
                    ..f.client
                };
                let fe = TcpInit {
                    isn: m.server_seq.wrapping_sub(1),
                    tsval: if fe.ts_ok { m.tsval } else { 0 },
                    ..fe
                };
                let ack = ClientAck {
                    seq: f.limit(),
                    window: f.window,
                    tsval: f.cut_tsval,
                    tsecr: 0,
                    ack: Some(f.ack),
                    sack: false,
                };
                let passed = match http::parse_head(&head) {
                    Ok(req) => f.pass_head(Body::of(&req), head.len()),
                    Err(_) => false,
                };
                if !passed {
                    // Whatever follows goes to the next back-end as it is.
                    f.stream.lost = true;
                }
                f.stream.step = Step::Handing;
                let to = f.to;
                front::request_again(st, c, to, fe, ack, now);
                Next::Hand {
                    key: c.key,
                    to,
                    client,
                    fe,
                    ack,
                    head,
                }
            }
            // The socket is gone, and with it where the connection stood.
            _ => {
                let seq = f.ack;
                front::tombstone(st, c, now);
                c.fwd = None;
                Next::Reset(c.key, seq, core::mem::take(&mut c.queue))
            }
        }
    }
    match next {
        Next::Bad => Stats::inc(&st.stats.ctl_bad_msgs, 1),
        Next::Forward(held, fwd) => {
            Stats::inc(&st.stats.migrate_refused, 1);
            forward_all(st, net, held, &fwd);
        }
        Next::Reset(key, seq, held) => {
            Stats::inc(&st.stats.migrate_refused, 1);
            drop(held);
            reset_client(net, &key, seq);
        }
        Next::Hand {
            key,
            to,
            client,
            fe,
            ack,
            head,
        } => {
            ch.in_flight.track(st, key, m.conn_id, now);
            if !handoff::send_request(st, ch, to, &key, m.conn_id, &client, &fe, &ack, &head) {
                // Nowhere to go, and the old socket is gone: the
                // connection is reset (its held packets reach a stack
                // without a socket for them).
                Stats::inc(&st.stats.handoff_no_channel, 1);
                Stats::inc(&st.stats.migrate_refused, 1);
                handoff::failed(st, net, to, m.conn_id, &key, "no-channel");
                handoff::release_local(st, net, &key);
            }
        }
    }
}

/// Front-end: moves whose answer is late, or whose channel went down: the
/// request stays where it is (every run of the worker; the list holds the
/// moves in progress).
pub(super) fn watch(st: &NetState, net: *mut bindings::net, ch: &mut Channel, now: u64) {
    if ch.awaiting_lost {
        ch.awaiting_lost = false;
        let mut all = KVec::new();
        st.pending.for_each(|_, t| {
            for c in t.conns.iter() {
                if c.follow
                    .as_ref()
                    .is_some_and(|f| matches!(f.step(), Step::Moving(_)))
                {
                    let _ = all.push((c.key, c.conn_id), GFP_ATOMIC);
                }
            }
        });
        ch.awaiting = all;
    }
    if ch.awaiting.is_empty() {
        return;
    }
    let mut list = core::mem::take(&mut ch.awaiting);
    list.retain(|(key, id)| {
        let mut t = st.pending.lock(front::bucket_of(st, key));
        let Some(c) = t.get_mut(key).filter(|c| c.conn_id == *id) else {
            return false;
        };
        let at = match c.follow.as_deref().map(|f| f.step()) {
            Some(Step::Moving(at)) if c.phase == Phase::Forwarding => at,
            _ => return false,
        };
        if now.saturating_sub(at) < ANSWER_WAIT_MS && ch.is_up(c.node) {
            return true;
        }
        let Some(fwd) = c.fwd else { return false };
        c.follow = None;
        let held = core::mem::take(&mut c.queue);
        drop(t);
        Stats::inc(&st.stats.migrate_refused, 1);
        forward_all(st, net, held, &fwd);
        false
    });
    ch.awaiting = list;
}

/// Back-end: a connection asked to move, waiting for its socket.
pub(crate) struct Outgoing {
    key: back::Key,
    from: u32,
    conn_id: u64,
    /// Where the client's next request starts.
    cut: u32,
    since: u64,
    /// The socket's `snd_nxt` when it was first seen ready, and when.
    ready: Option<(u32, u64)>,
}

/// Back-end: the front-end `from` asks to move connection `r.conn_id`.
pub(super) fn on_request(
    st: &NetState,
    net: *mut bindings::net,
    ch: &mut Channel,
    from: u32,
    r: &MigrateRequest,
) {
    let key = st.backend.find_map(|_, b| {
        b.conns
            .iter()
            .find(|c| c.fe_node == from && c.conn_id == r.conn_id)
            .filter(|c| c.phase == back::Phase::Established)
            .map(|c| c.key)
    });
    let Some(key) = key else {
        answer(st, ch, from, gone(r.conn_id, MigrateStatus::Gone));
        return;
    };
    if ch
        .moving
        .iter()
        .any(|m| m.from == from && m.conn_id == r.conn_id)
    {
        return;
    }
    let m = Outgoing {
        key,
        from,
        conn_id: r.conn_id,
        cut: r.client_seq,
        since: now_ms(),
        ready: None,
    };
    if ch.moving.push(m, GFP_KERNEL).is_err() {
        answer(st, ch, from, gone(r.conn_id, MigrateStatus::Busy));
        return;
    }
    poll(st, net, ch, now_ms());
}

fn gone(conn_id: u64, status: MigrateStatus) -> MigrateState {
    MigrateState {
        conn_id,
        status,
        client_seq: 0,
        server_seq: 0,
        tsval: 0,
        ts_recent: 0,
        snd_wnd: 0,
    }
}

fn answer(st: &NetState, ch: &mut Channel, to: u32, m: MigrateState) {
    if m.status == MigrateStatus::Ready {
        Stats::inc(&st.stats.migrated_out, 1);
    }
    ch.send(st, to, &Message::MigrateState(m));
}

/// Back-end: looks at every connection waiting to move (every run of the
/// worker, which runs at least every tick).
pub(super) fn poll(st: &NetState, net: *mut bindings::net, ch: &mut Channel, now: u64) {
    if ch.moving.is_empty() {
        return;
    }
    let mut list = core::mem::take(&mut ch.moving);
    let mut answers = KVec::new();
    let mut kept = 0;
    for i in 0..list.len() {
        match step(st, net, &mut list[i], now) {
            None => {
                list.swap(kept, i);
                kept += 1;
            }
            // Short of memory the front-end's wait ends it.
            Some(a) => {
                let _ = answers.push((list[i].from, a), GFP_KERNEL);
            }
        }
    }
    list.truncate(kept);
    ch.moving = list;
    for (to, a) in answers {
        answer(st, ch, to, a);
    }
}

/// One look at connection `m`: its answer, or `None` while it waits.
fn step(
    st: &NetState,
    net: *mut bindings::net,
    m: &mut Outgoing,
    now: u64,
) -> Option<MigrateState> {
    let entry = st
        .backend
        .lock(back::bucket_of(st, &m.key))
        .get_mut(&m.key)
        .filter(|c| c.conn_id == m.conn_id && c.fe_node == m.from)
        .map(|c| (c.phase, c.tr, c.out_end != c.out_at_in));
    let Some((back::Phase::Established, Some(tr), answered)) = entry else {
        return Some(gone(m.conn_id, MigrateStatus::Gone));
    };
    let Some(s) = m.key.tcp_state(net, false) else {
        return Some(gone(m.conn_id, MigrateStatus::Gone));
    };
    // Received exactly up to the next request and read by the server,
    // which answered the last request, all of it acknowledged.
    let ready = s.established != 0
        && s.rcv_nxt == m.cut
        && s.copied_seq == s.rcv_nxt
        && s.snd_una == s.snd_nxt
        && s.write_seq == s.snd_nxt
        && s.ooo == 0
        && s.usec_ts == 0
        && answered;
    if !ready {
        m.ready = None;
        return (now.saturating_sub(m.since) >= MIGRATE_WAIT_MS)
            .then(|| gone(m.conn_id, MigrateStatus::Busy));
    }
    match m.ready {
        Some((snd, at)) if snd == s.snd_nxt && now.saturating_sub(at) >= SETTLE_MS => {}
        Some((snd, _)) if snd == s.snd_nxt => return None,
        _ => {
            m.ready = Some((s.snd_nxt, now));
            return None;
        }
    }
    // From here everything the socket sends is dropped, its reset too.
    if let Some(c) = st.backend.lock(back::bucket_of(st, &m.key)).get_mut(&m.key) {
        c.abort(st, now);
        c.terminate_pending = false;
    }
    let Some(a) = m.key.tcp_state(net, true) else {
        return Some(gone(m.conn_id, MigrateStatus::Gone));
    };
    if a.write_seq != s.write_seq || a.write_seq_after != s.write_seq || a.rcv_nxt != s.rcv_nxt {
        // The server wrote, or the client sent, in the meantime: the
        // state read is not where the connection stopped.
        return Some(gone(m.conn_id, MigrateStatus::Gone));
    }
    Some(MigrateState {
        conn_id: m.conn_id,
        status: MigrateStatus::Ready,
        client_seq: a.rcv_nxt,
        server_seq: tr.be_to_client_seq(a.snd_nxt),
        tsval: tr.be_to_client_tsval(a.tsval),
        ts_recent: a.ts_recent,
        snd_wnd: a.snd_wnd,
    })
}
