// SPDX-License-Identifier: GPL-2.0

//! The control channel: one persistent in-kernel TCP connection per pair of
//! configured nodes, and the namespace's worker that serves it.
//!
//! Everything that may block or that needs a socket runs in one work item
//! per namespace (`th_net_kick` in the glue queues it): socket callbacks,
//! the packet path (a head to decide, a TERMINATE to send) and the
//! housekeeping tick all just kick it, so the channel's state needs no
//! lock of its own beyond the [`Channel`] mutex the worker holds.
//!
//! Of each pair of nodes the one with the lower id connects, the other
//! accepts; both send HELLO first, and a connection counts as up once the
//! peer's HELLO names a configured node whose address is the connection's
//! source. Anything else is refused and counted. A lost or silent
//! connection is closed and retried with exponential back-off (100 ms up
//! to 5 s); KEEPALIVEs every second keep a silent peer detectable. Every
//! 10 s, and whenever a channel comes up, a front-end lists the connections
//! it forwards to that peer (RECONCILE), so one whose TERMINATE was lost
//! does not stay forever.
//!
//! The messages themselves (framing, bodies) are `handoff_core::codec`;
//! what they do is in [`handoff`].

mod auth;
mod handoff;
mod migrate;
pub(crate) mod sock;

use crate::{
    bindings,
    btcp::front::now_ms,
    handoff_core::{
        auth::{self as core_auth, AuthError, Keyring, Session, NONCE_LEN},
        codec::{self, Hello, Keepalive, Message, FLAG_HMAC},
    },
    netlink::event::{self, Event},
    netns::{Addr, NetState, Stats},
    trace,
};
use kernel::{error::code::EAGAIN, prelude::*, sync::atomic::Relaxed};
use sock::{Sock, TCP_ESTABLISHED, TCP_SYN_SENT};

/// Back-off before the first reconnection attempt.
const BACKOFF_MIN_MS: u64 = 100;
/// Longest back-off between attempts.
const BACKOFF_MAX_MS: u64 = 5000;
/// Interval between KEEPALIVEs on an idle connection.
const KEEPALIVE_MS: u64 = 1000;
/// Interval between load reports (a KEEPALIVE carrying this node's load),
/// idle connection or not: the `lard` policy of the other nodes decides on
/// them, so they must not wait for the channel to fall silent.
const REPORT_MS: u64 = 500;
/// A peer silent for this long is considered gone. A closed or reset
/// connection is noticed at once; this only catches a peer that vanished
/// without a word (power, link). It is 15 keepalive intervals: a loaded
/// node's worker can be kept from running for seconds (softirq work on a
/// busy CPU), and a channel torn down by mistake costs every handoff in
/// flight.
const DEAD_MS: u64 = 15_000;
/// How long an accepted connection may take to say HELLO.
const HELLO_TIMEOUT_MS: u64 = 3000;
/// Most bytes queued for one peer before it is considered stuck.
const TX_MAX: usize = 4 << 20;
/// Feature bits this version announces in HELLO.
const FEATURES: u32 = codec::FEATURE_MIGRATE;

/// One configured peer node and its connection.
pub(crate) struct Peer {
    pub(crate) id: u32,
    addr: Addr,
    port: u16,
    sock: Option<Sock>,
    /// HELLO received on the current connection.
    pub(crate) up: bool,
    /// The feature bits of the peer's HELLO on the current connection.
    features: u32,
    hello_sent: bool,
    rx: KVec<u8>,
    tx: KVec<u8>,
    /// Number of the next frame queued on this connection (from 0).
    tx_seq: u32,
    /// This node's HELLO nonce on the current connection.
    nonce: [u8; NONCE_LEN],
    /// With keys: the connection's authenticated session, from the
    /// acceptor's HELLO on.
    session: Option<Session>,
    next_try: u64,
    backoff: u64,
    last_rx: u64,
    last_tx: u64,
    /// When this node last sent its load (a KEEPALIVE).
    last_report: u64,
    /// When the front-end next lists its forwarded connections to this
    /// peer (`handoff::reconcile`).
    pub(crate) next_reconcile: u64,
}

impl Peer {
    fn new(id: u32, addr: Addr, port: u16) -> Self {
        Peer {
            id,
            addr,
            port,
            sock: None,
            up: false,
            features: 0,
            hello_sent: false,
            rx: KVec::new(),
            tx: KVec::new(),
            tx_seq: 0,
            nonce: [0; NONCE_LEN],
            session: None,
            next_try: 0,
            backoff: BACKOFF_MIN_MS,
            last_rx: 0,
            last_tx: 0,
            last_report: 0,
            next_reconcile: 0,
        }
    }
}

/// A connection accepted but not yet identified by its HELLO.
struct Incoming {
    sock: Sock,
    peer: Addr,
    rx: KVec<u8>,
    since: u64,
}

/// The local node's channel endpoint.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Local {
    id: u32,
    addr: Addr,
    port: u16,
}

/// The namespace's control channel, under [`NetState::channel`]; used by
/// the worker only (and by `pre_exit` to close it).
pub(crate) struct Channel {
    local: Option<Local>,
    listener: Option<Sock>,
    pub(crate) peers: KVec<Peer>,
    incoming: KVec<Incoming>,
    /// Back-end: (front-end, id) pairs asked about this run, answered by
    /// `handoff::answer_reconciles`.
    pub(crate) asked: KVec<(u32, u64)>,
    /// A copy of the namespace's keys (`Config::keys`), taken at each run.
    keys: Keyring,
    /// Front-end: keys taken from `NetState::deciding` (storage reused).
    deciding: KVec<crate::btcp::front::Key>,
    /// Front-end: the handoffs in flight (`handoff::timeouts`).
    pub(crate) in_flight: handoff::InFlight,
    /// Back-end: the TERMINATEs due (`handoff::terminates`).
    terminating: handoff::Terminating,
    /// Back-end: connections asked to move, waiting for their socket to
    /// be ready (`migrate::poll`).
    pub(crate) moving: KVec<migrate::Outgoing>,
    /// Front-end: connections waiting for MIGRATE_STATE (`migrate::watch`),
    /// and whether one could not be listed.
    awaiting: KVec<(crate::btcp::front::Key, u64)>,
    awaiting_lost: bool,
    /// When the back-end's table is next scanned for idle connections.
    next_idle_scan: u64,
    /// Set in `pre_exit`: the namespace is going, nothing reopens.
    closed: bool,
}

impl Channel {
    pub(crate) fn new() -> Self {
        Channel {
            local: None,
            listener: None,
            peers: KVec::new(),
            incoming: KVec::new(),
            asked: KVec::new(),
            keys: Keyring::default(),
            deciding: KVec::new(),
            in_flight: handoff::InFlight::new(),
            terminating: handoff::Terminating::new(),
            moving: KVec::new(),
            awaiting: KVec::new(),
            awaiting_lost: false,
            next_idle_scan: 0,
            closed: false,
        }
    }

    /// The local node's id, if one is configured.
    pub(crate) fn local_id(&self) -> Option<u32> {
        self.local.map(|l| l.id)
    }

    fn peer_index(&self, id: u32) -> Option<usize> {
        self.peers.iter().position(|p| p.id == id)
    }

    /// Whether the channel to `id` is up.
    pub(crate) fn is_up(&self, id: u32) -> bool {
        self.peers.iter().any(|p| p.id == id && p.up)
    }

    /// Whether the channel to `id` is up and its peer moves kept-alive
    /// connections between back-ends (`migrate`).
    pub(crate) fn migrate_ok(&self, id: u32) -> bool {
        self.peers
            .iter()
            .any(|p| p.id == id && p.up && p.features & codec::FEATURE_MIGRATE != 0)
    }

    /// Whether the channel to `id` is up and has received anything after
    /// time `t` (milliseconds, [`now_ms`]).
    pub(crate) fn heard_since(&self, id: u32, t: u64) -> bool {
        self.peers
            .iter()
            .any(|p| p.id == id && p.up && p.last_rx > t)
    }

    /// Queues `msg` for peer `id`; false when the peer is not up or the
    /// message cannot be queued.
    pub(crate) fn send(&mut self, st: &NetState, id: u32, msg: &Message<'_>) -> bool {
        let Some(i) = self.peer_index(id) else {
            return false;
        };
        let p = &mut self.peers[i];
        if !p.up || !queue_frame(st, &self.keys, p, msg) {
            return false;
        }
        if let Message::Terminate(t) = msg {
            trace::handoff_terminate(st.netns, t.conn_id, id, t.reason, false);
        }
        true
    }

    /// Closes every socket for good (pernet `pre_exit`).
    fn close(&mut self) {
        self.closed = true;
        self.listener = None;
        self.incoming.clear();
        self.peers.clear();
    }

    /// Mirrors the configuration: the local node, the peers and the keys.
    /// Returns the ids of peers removed, with whether their channel was
    /// up, and whether authentication was turned on or off (every
    /// connection must then start again).
    fn sync_config(&mut self, st: &NetState) -> Synced {
        let mut removed = KVec::new();
        let mut ao_failed = KVec::new();
        let cfg = st.config.lock();
        let toggled = cfg.keys.enabled() != self.keys.enabled();
        let old = core::mem::replace(&mut self.keys, cfg.keys.clone());
        for p in self.peers.iter_mut() {
            if let Some(s) = &mut p.session {
                s.forget_missing(&self.keys);
            }
        }
        if toggled {
            // Every connection starts again (see `run`); so does the
            // listener, with the new keys or none.
            self.listener = None;
        } else if !old.ao_changes(&self.keys).is_empty() {
            // The sockets' TCP-AO keys follow the ring, in place: a
            // rotation drops no connection. One that cannot follow is
            // closed and starts again with the whole ring.
            if let Some(l) = &self.listener {
                if auth::ao_follow(l, &old, &self.keys, true).is_err() {
                    self.listener = None;
                }
            }
            for p in self.peers.iter() {
                if let Some(sock) = &p.sock {
                    if auth::ao_follow(sock, &old, &self.keys, false).is_err() {
                        let _ = ao_failed.push(p.id, GFP_KERNEL);
                    }
                }
            }
            let keys = &self.keys;
            self.incoming
                .retain(|inc| auth::ao_follow(&inc.sock, &old, keys, false).is_ok());
        }
        let local = cfg.nodes.iter().find(|n| n.local).map(|n| Local {
            id: n.id,
            addr: n.addr,
            port: n.port,
        });
        if local != self.local {
            self.local = local;
            self.listener = None;
            // Every connection was made as another node: start over.
            for p in self.peers.drain_all() {
                let _ = removed.push((p.id, p.up), GFP_KERNEL);
            }
            self.incoming.clear();
        }
        let mut i = 0;
        while i < self.peers.len() {
            let p = &self.peers[i];
            let keep = cfg
                .nodes
                .iter()
                .any(|n| !n.local && n.id == p.id && n.addr == p.addr && n.port == p.port)
                && reachable(local, p.addr);
            if keep {
                i += 1;
            } else if let Ok(p) = self.peers.remove(i) {
                let _ = removed.push((p.id, p.up), GFP_KERNEL);
            }
        }
        for n in cfg.nodes.iter().filter(|n| !n.local) {
            if reachable(local, n.addr) && self.peer_index(n.id).is_none() {
                let _ = self.peers.push(Peer::new(n.id, n.addr, n.port), GFP_KERNEL);
            }
        }
        if toggled {
            self.incoming.clear();
        }
        Synced {
            removed,
            toggled,
            ao_failed,
        }
    }
}

/// What [`Channel::sync_config`] changed.
struct Synced {
    /// Peers removed, with whether their channel was up.
    removed: KVec<(u32, bool)>,
    /// Authentication was turned on or off.
    toggled: bool,
    /// Peers whose connection's TCP-AO keys could not follow the ring.
    ao_failed: KVec<u32>,
}

/// Encodes `msg` as one frame at the end of `p.tx`, tagged when the
/// namespace has keys: with the current key's session key, or, for the
/// connecting side's HELLO (no session yet), with the key itself.
fn queue_frame(st: &NetState, keys: &Keyring, p: &mut Peer, msg: &Message<'_>) -> bool {
    // Exactly the frame's length: a fixed guess once silently dropped every
    // RECONCILE of more than 15 ids (encoding failed for lack of room).
    let tag = if keys.enabled() { codec::HMAC_LEN } else { 0 };
    let need = codec::HEADER_LEN + msg.body_len() + tag;
    if p.tx.len() + need > TX_MAX {
        return false;
    }
    let start = p.tx.len();
    if p.tx.extend_with(need, 0, GFP_KERNEL).is_err() {
        return false;
    }
    let encoded = match keys.current() {
        None => codec::encode_message(msg, p.tx_seq, &mut p.tx[start..]).ok(),
        Some(kid) => codec::encode_frame(msg, p.tx_seq, FLAG_HMAC, kid, &mut p.tx[start..])
            .ok()
            .filter(|&n| {
                let frame = &mut p.tx[start..start + n];
                match (&mut p.session, msg) {
                    (Some(s), _) => s.seal(&auth::KernelMac, keys, kid, frame),
                    (None, Message::Hello(_)) => keys
                        .get(kid)
                        .is_some_and(|k| core_auth::seal(&auth::KernelMac, k, frame).is_ok()),
                    (None, _) => false,
                }
            }),
    };
    match encoded {
        Some(n) => {
            p.tx.truncate(start + n);
            p.tx_seq = p.tx_seq.wrapping_add(1);
            Stats::inc(&st.stats.ctl_msgs_out, 1);
            true
        }
        None => {
            p.tx.truncate(start);
            false
        }
    }
}

fn hello(local: &Local, nonce: [u8; NONCE_LEN]) -> Message<'static> {
    Message::Hello(Hello {
        node_id: local.id,
        proto_min: codec::VERSION,
        proto_max: codec::VERSION,
        nonce,
        features: FEATURES,
    })
}

/// Checks a frame received on peer `p`'s connection against the keys
/// (connecting side: the first is the acceptor's HELLO, which starts the
/// session). Without keys, only an untagged frame passes.
fn authenticate(keys: &Keyring, local: u32, p: &mut Peer, frame: &[u8]) -> Result<(), AuthError> {
    if !keys.enabled() {
        return match codec::decode_header(frame) {
            Ok(h) if h.flags & FLAG_HMAC != 0 => Err(AuthError::Unexpected),
            _ => Ok(()),
        };
    }
    if p.session.is_none() {
        match codec::decode_message(frame) {
            Ok((_, Message::Hello(h))) if h.node_id == p.id => {
                p.session = Some(Session::new(local, p.nonce, p.id, h.nonce, 0));
            }
            Ok(_) => return Err(AuthError::BadTag),
            Err(e) => return Err(AuthError::Codec(e)),
        }
    }
    match &mut p.session {
        Some(s) => s.open(&auth::KernelMac, keys, frame),
        None => Err(AuthError::BadTag),
    }
}

/// Checks the first frame of an accepted connection: with keys, a HELLO
/// numbered 0 and tagged with one of the keys themselves.
fn authenticate_hello(keys: &Keyring, frame: &[u8]) -> Result<(), AuthError> {
    let h = codec::decode_header(frame).map_err(AuthError::Codec)?;
    if !keys.enabled() {
        return if h.flags & FLAG_HMAC != 0 {
            Err(AuthError::Unexpected)
        } else {
            Ok(())
        };
    }
    let key = keys.get(h.key_id).ok_or(AuthError::UnknownKey(h.key_id))?;
    core_auth::verify(&auth::KernelMac, key, frame)?;
    if h.seq != 0 {
        return Err(AuthError::Sequence {
            got: h.seq,
            want: 0,
        });
    }
    Ok(())
}

/// Reports the channel to `node` up: counter, log line, tracepoint and
/// event (`how`: "accepted" or "connected").
fn channel_up(st: &NetState, net: *mut bindings::net, node: u32, how: &str) {
    Stats::inc(&st.stats.ctl_connects, 1);
    pr_info!("node {}: control channel up ({})\n", node, how);
    trace::channel_state(st.netns, node, true, how);
    event::notify(net, &Event::PeerUp { node });
}

/// Reports the channel to `node` down, and why.
fn channel_down(st: &NetState, net: *mut bindings::net, node: u32, why: &str) {
    Stats::inc(&st.stats.ctl_disconnects, 1);
    // A load report is only as good as the channel that carried it.
    if let Some(s) = st.node_stats_of(node) {
        s.load_conns.store(0, Relaxed);
        s.load_in_flight.store(0, Relaxed);
    }
    pr_info!("node {}: control channel down ({})\n", node, why);
    trace::channel_state(st.netns, node, false, why);
    event::notify(net, &Event::PeerDown { node, reason: why });
}

/// Drops the connection of peer `i` and schedules a reconnection.
fn disconnect(
    st: &NetState,
    net: *mut bindings::net,
    ch: &mut Channel,
    i: usize,
    now: u64,
    why: &str,
) {
    let id = {
        let p = &mut ch.peers[i];
        if p.sock.is_none() {
            return;
        }
        if p.up {
            channel_down(st, net, p.id, why);
        }
        p.sock = None;
        p.up = false;
        p.hello_sent = false;
        p.session = None;
        p.tx_seq = 0;
        p.rx.clear();
        p.tx.clear();
        p.next_try = now + p.backoff;
        p.backoff = (p.backoff * 2).min(BACKOFF_MAX_MS);
        p.id
    };
    // Handoffs waiting for this peer will get no answer: serve them here.
    handoff::peer_lost(st, net, ch, id);
}

/// Removes the first `n` bytes of `v`.
fn drop_front(v: &mut KVec<u8>, n: usize) {
    let n = n.min(v.len());
    v.copy_within(n.., 0);
    v.truncate(v.len() - n);
}

/// What [`read_into`] found.
#[derive(PartialEq, Eq)]
enum Read {
    /// The socket has nothing more now.
    Drained,
    /// `rx` holds a largest frame's worth; the rest waits in the socket
    /// (TCP's flow control holds the sender back meanwhile).
    Full,
    /// The connection ended (or memory ran out).
    Ended,
}

/// Reads what `sock` has into `rx`, up to [`codec::MAX_FRAME`] bytes.
///
/// A burst of requests larger than that is normal under load: the caller
/// handles the frames read and then reads again, so the channel is never
/// torn down for being busy.
fn read_into(sock: &Sock, rx: &mut KVec<u8>) -> Read {
    let mut buf = [0u8; 1024];
    while rx.len() < codec::MAX_FRAME {
        match sock.recv(&mut buf) {
            Ok(0) => return Read::Ended,
            Ok(n) => {
                if rx.extend_from_slice(&buf[..n], GFP_KERNEL).is_err() {
                    return Read::Ended;
                }
            }
            Err(e) if e == EAGAIN => return Read::Drained,
            Err(_) => return Read::Ended,
        }
    }
    Read::Full
}

/// How many times one worker run refills a peer's buffer before it lets
/// others run (it kicks itself to go on).
const READ_ROUNDS: u32 = 8;

/// The length of the complete frame at the start of `rx`, `Ok(None)` when
/// more bytes are needed, `Err` when the stream is broken.
fn next_frame(rx: &[u8]) -> Result<Option<usize>, ()> {
    match codec::frame_len(rx) {
        Ok(Some(n)) if rx.len() >= n => Ok(Some(n)),
        Ok(_) => Ok(None),
        Err(_) => Err(()),
    }
}

/// Identifies accepted connections by their HELLO.
fn service_incoming(st: &NetState, net: *mut bindings::net, ch: &mut Channel, now: u64) {
    let Some(local) = ch.local else {
        ch.incoming.clear();
        return;
    };
    let mut i = 0;
    while i < ch.incoming.len() {
        let inc = &mut ch.incoming[i];
        let alive = read_into(&inc.sock, &mut inc.rx) != Read::Ended;
        let mut verdict: Option<Option<(u32, [u8; NONCE_LEN], u32)>> = None;
        match next_frame(&inc.rx) {
            Ok(Some(n)) => {
                let frame = &inc.rx[..n];
                verdict = Some(match authenticate_hello(&ch.keys, frame) {
                    Ok(()) => match codec::decode_message(frame) {
                        Ok((_, Message::Hello(h))) => Some((h.node_id, h.nonce, h.features)),
                        _ => None,
                    },
                    Err(_) => {
                        Stats::inc(&st.stats.ctl_auth_failed, 1);
                        None
                    }
                });
                drop_front(&mut inc.rx, n);
            }
            Ok(None) if alive && now.saturating_sub(inc.since) < HELLO_TIMEOUT_MS => {}
            _ => verdict = Some(None),
        }
        let Some(who) = verdict else {
            i += 1;
            continue;
        };
        let Ok(inc) = ch.incoming.remove(i) else {
            continue;
        };
        // Only a configured node with a lower id connects to this one, and
        // only from its configured address.
        let pi = who.and_then(|(id, _, _)| {
            ch.peers
                .iter()
                .position(|p| p.id == id && p.id < local.id && p.addr == inc.peer)
        });
        let Some(pi) = pi else {
            Stats::inc(&st.stats.ctl_refused, 1);
            continue;
        };
        disconnect(st, net, ch, pi, now, "peer reconnected");
        let p = &mut ch.peers[pi];
        p.sock = Some(inc.sock);
        p.rx = inc.rx;
        p.up = true;
        p.features = who.map_or(0, |w| w.2);
        p.backoff = BACKOFF_MIN_MS;
        p.last_rx = now_ms();
        p.nonce = auth::nonce();
        if let (true, Some((_, nc, _))) = (ch.keys.enabled(), who) {
            // The connecting node's HELLO was frame 0.
            p.session = Some(Session::new(p.id, nc, local.id, p.nonce, 1));
        }
        p.hello_sent = queue_frame(st, &ch.keys, p, &hello(&local, p.nonce));
        // As on the connecting side: reconcile at once.
        p.next_reconcile = now;
        channel_up(st, net, p.id, "accepted");
    }
}

/// Whether a peer at `addr` can have a channel with the local node: only
/// one of the same address family can (a channel socket is IPv4 or IPv6,
/// not both), and any other stays down. With no local node yet, every
/// peer is kept: nothing connects until there is one.
fn reachable(local: Option<Local>, addr: Addr) -> bool {
    local.is_none_or(|l| l.addr.family() == addr.family())
}

/// Opens the listener and outgoing connections that are due.
fn connect(st: &NetState, net: *mut bindings::net, ch: &mut Channel, now: u64) {
    let Some(local) = ch.local else { return };
    if ch.listener.is_none() {
        ch.listener = Sock::listen(net, local.addr, local.port, &ch.keys).ok();
    }
    if let Some(l) = &ch.listener {
        while let Ok((sock, peer)) = l.accept(net, local.addr) {
            let inc = Incoming {
                sock,
                peer,
                rx: KVec::new(),
                since: now,
            };
            if ch.incoming.len() >= 64 || ch.incoming.push(inc, GFP_KERNEL).is_err() {
                Stats::inc(&st.stats.ctl_refused, 1);
            }
        }
    }
    for p in ch.peers.iter_mut() {
        if p.id > local.id && p.sock.is_none() && now >= p.next_try {
            match Sock::connect(net, local.addr, p.addr, p.port, &ch.keys) {
                Ok(s) => {
                    p.sock = Some(s);
                    p.last_rx = now_ms();
                }
                Err(_) => {
                    p.next_try = now + p.backoff;
                    p.backoff = (p.backoff * 2).min(BACKOFF_MAX_MS);
                }
            }
        }
    }
}

/// Reads, handles and writes the connection of every peer.
fn service_peers(st: &NetState, net: *mut bindings::net, ch: &mut Channel, now: u64) {
    let Some(local) = ch.local else { return };
    let mut i = 0;
    let mut rounds = 0;
    while i < ch.peers.len() {
        let mut down: Option<&'static str> = None;
        let mut full = false;
        {
            let p = &mut ch.peers[i];
            let Some(state) = p.sock.as_ref().map(Sock::state) else {
                i += 1;
                continue;
            };
            if state == TCP_SYN_SENT {
                if now_ms().saturating_sub(p.last_rx) > DEAD_MS {
                    down = Some("connect timed out");
                } else {
                    i += 1;
                    continue;
                }
            } else if state != TCP_ESTABLISHED {
                down = Some("connection closed or failed");
            } else {
                if !p.hello_sent {
                    p.nonce = auth::nonce();
                    p.hello_sent = queue_frame(st, &ch.keys, p, &hello(&local, p.nonce));
                    // The peer's HELLO is due from now on.
                    p.last_rx = now_ms();
                }
                if !p.up && now_ms().saturating_sub(p.last_rx) > DEAD_MS {
                    // It accepted the connection but never answered: a
                    // stuck or foreign listener would hold the channel
                    // down for good.
                    down = Some("no HELLO from the peer");
                }
                if let Some(sock) = &p.sock {
                    match read_into(sock, &mut p.rx) {
                        Read::Drained => {}
                        Read::Full => full = true,
                        Read::Ended => down = Some("end of stream or read error"),
                    }
                }
            }
        }
        // Handle the complete frames received.
        while down.is_none() {
            let rx = core::mem::take(&mut ch.peers[i].rx);
            let n = match next_frame(&rx) {
                Ok(Some(n)) => n,
                Ok(None) => {
                    ch.peers[i].rx = rx;
                    break;
                }
                Err(()) => {
                    Stats::inc(&st.stats.ctl_bad_msgs, 1);
                    down = Some("bad frame");
                    break;
                }
            };
            ch.peers[i].last_rx = now_ms();
            Stats::inc(&st.stats.ctl_msgs_in, 1);
            let keys = &ch.keys;
            let p = &mut ch.peers[i];
            if authenticate(keys, local.id, p, &rx[..n]).is_err() {
                // Dropped. Before the channel is up nothing good can follow
                // (another key); after, a few refusals close it.
                Stats::inc(&st.stats.ctl_auth_failed, 1);
                let fatal = !p.up || p.session.as_ref().is_none_or(Session::failed_too_often);
                let mut rx = rx;
                drop_front(&mut rx, n);
                p.rx = rx;
                if fatal {
                    down = Some("authentication failed");
                }
                continue;
            }
            match codec::decode_message(&rx[..n]) {
                Ok((_, Message::Hello(h))) if h.node_id == ch.peers[i].id => {
                    if !ch.peers[i].up {
                        ch.peers[i].up = true;
                        ch.peers[i].features = h.features;
                        ch.peers[i].backoff = BACKOFF_MIN_MS;
                        ch.peers[i].next_reconcile = now;
                        channel_up(st, net, ch.peers[i].id, "connected");
                    }
                }
                Ok((_, Message::Keepalive(k))) => {
                    // Before HELLO it only shows the peer is alive.
                    if ch.peers[i].up {
                        if let Some(s) = st.node_stats_of(ch.peers[i].id) {
                            s.load_conns.store(k.active_conns, Relaxed);
                            s.load_in_flight.store(k.in_flight, Relaxed);
                        }
                    }
                }
                Ok((_, msg)) if ch.peers[i].up => {
                    let id = ch.peers[i].id;
                    handoff::on_message(st, net, ch, id, &msg);
                }
                _ => {
                    Stats::inc(&st.stats.ctl_bad_msgs, 1);
                    down = Some("unexpected message");
                }
            }
            let mut rx = rx;
            drop_front(&mut rx, n);
            if let Some(p) = ch.peers.get_mut(i) {
                // `on_message` may have queued to, but not replaced, `rx`.
                p.rx = rx;
            }
        }
        if down.is_none() {
            let in_flight = u32::try_from(ch.in_flight.listed()).unwrap_or(u32::MAX);
            let p = &mut ch.peers[i];
            if p.up
                && (now.saturating_sub(p.last_tx) >= KEEPALIVE_MS
                    || now.saturating_sub(p.last_report) >= REPORT_MS)
            {
                let (active_conns, in_flight) = (st.own_load().0, in_flight);
                st.set_own_in_flight(in_flight);
                let ka = Message::Keepalive(Keepalive {
                    active_conns,
                    in_flight,
                    load: 0,
                });
                if queue_frame(st, &ch.keys, p, &ka) {
                    p.last_report = now;
                }
            }
            // Measured now, not at the start of the run: a long run must
            // not make a peer look silent.
            if p.up && now_ms().saturating_sub(p.last_rx) > DEAD_MS {
                down = Some("peer silent");
            }
        }
        // The answers to what was just read go out now, not at the end of
        // the run: taking many connections over can keep a run busy for
        // long, and a front-end waits for each answer.
        if down.is_none() && !write_out(&mut ch.peers[i], now_ms()) {
            down = Some("write error");
        }
        if down.is_none() && full {
            // More is waiting in the socket: read this peer again, or let
            // the next run do it.
            rounds += 1;
            if rounds < READ_ROUNDS {
                continue;
            }
            st.kick();
        }
        rounds = 0;
        if let Some(why) = down {
            disconnect(st, net, ch, i, now, why);
        }
        i += 1;
    }
}

/// Writes what `p`'s socket takes now; false when the socket is broken.
fn write_out(p: &mut Peer, now: u64) -> bool {
    let Some(sock) = &p.sock else { return true };
    if sock.state() != TCP_ESTABLISHED {
        return true;
    }
    while !p.tx.is_empty() {
        match sock.send(&p.tx) {
            Ok(n) if n > 0 => {
                drop_front(&mut p.tx, n);
                p.last_tx = now;
            }
            Err(e) if e == EAGAIN => break,
            _ => return false,
        }
    }
    true
}

/// Writes what each peer's socket takes now.
fn flush(st: &NetState, net: *mut bindings::net, ch: &mut Channel, now: u64) {
    let mut i = 0;
    while i < ch.peers.len() {
        if !write_out(&mut ch.peers[i], now) {
            disconnect(st, net, ch, i, now, "write error");
        }
        i += 1;
    }
}

/// One run of the namespace's worker.
fn run(st: &NetState, net: *mut bindings::net) {
    let mut ch = st.channel.lock();
    if ch.closed {
        return;
    }
    let now = now_ms();
    let Synced {
        removed,
        toggled,
        ao_failed,
    } = ch.sync_config(st);
    for id in ao_failed {
        if let Some(i) = ch.peer_index(id) {
            disconnect(st, net, &mut ch, i, now, "TCP-AO keys could not be changed");
        }
    }
    if toggled {
        // Keys were turned on or off: every connection starts again, under
        // the new rule.
        for i in 0..ch.peers.len() {
            disconnect(st, net, &mut ch, i, now, "authentication changed");
            ch.peers[i].next_try = now;
        }
    }
    for (id, up) in removed {
        // A removed peer's channel closed with its socket: its handoffs in
        // flight get no answer on it, as when a channel breaks.
        if up {
            channel_down(st, net, id, "removed");
        }
        handoff::peer_lost(st, net, &mut ch, id);
    }
    connect(st, net, &mut ch, now);
    service_incoming(st, net, &mut ch, now);
    service_peers(st, net, &mut ch, now);
    handoff::answer_reconciles(st, &mut ch);
    handoff::decide(st, net, &mut ch);
    handoff::timeouts(st, net, &mut ch, now);
    migrate::watch(st, net, &mut ch, now);
    migrate::poll(st, net, &mut ch, now);
    if now >= ch.next_idle_scan {
        // Once a second: a scan walks the whole table.
        ch.next_idle_scan = now + 1000;
        crate::btcp::back::expire_idle(st);
    }
    handoff::terminates(st, &mut ch);
    handoff::reconcile(st, &mut ch, now);
    flush(st, net, &mut ch, now);
    st.set_peers_up(ch.peers.iter().filter(|p| p.up).count() as u32);
    st.set_peer_states(&ch);
}

/// The worker, from the glue's work item.
#[no_mangle]
extern "C" fn th_rs_work(net: *mut bindings::net) {
    // SAFETY: the work item runs only while the namespace's state exists:
    // `pre_exit` stops it for good before `exit` frees the state.
    let st = unsafe { NetState::of(net) };
    run(st, net);
}

/// Pernet `pre_exit`: closes the channel's sockets while the namespace
/// still works.
#[no_mangle]
extern "C" fn th_rs_net_pre_exit(net: *mut bindings::net) {
    // SAFETY: `pre_exit` runs before `exit` frees the state.
    let st = unsafe { NetState::of(net) };
    st.channel.lock().close();
    crate::utcp::close(st);
}
