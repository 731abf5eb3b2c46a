// SPDX-License-Identifier: GPL-2.0

//! Per-network-namespace state.
//!
//! Each namespace is a separate cluster node as far as the module is
//! concerned: its own configuration, its own counters, its own hooks. The
//! state is allocated by the pernet `init` callback, reached through one
//! pointer slot in `struct net`'s generic array, and freed by the pernet
//! `exit` callback after the namespace's hooks are gone.

use crate::{
    bindings,
    btcp::{
        back::{self, Backend},
        front::{self, Pending},
        table::{DueQueue, Queue, Table},
    },
    channel::Channel,
    handoff_core::{auth::Keyring, http, lard, rules},
    sync::{new_spinlock_bh, SpinLockBh},
    utcp::Listeners,
};
use core::pin::Pin;
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Mutex,
    },
};

/// Most nodes a namespace may configure.
pub(crate) const MAX_NODES: usize = 64;
/// Most services a namespace may configure.
pub(crate) const MAX_SERVICES: usize = 64;
/// The bit of a [`ServiceFilter`] key that marks a deleted service whose
/// connections drain.
const DRAINING: u64 = 1 << 62;
/// Most dispatch rules a namespace may configure.
pub(crate) const MAX_RULES: usize = 256;
/// Most target nodes one rule may list.
pub(crate) const MAX_RULE_TARGETS: usize = 16;
/// Longest host pattern or path of a rule.
pub(crate) const MAX_RULE_STRING: usize = 255;

/// The node limit, for `/sys/kernel/tcp_handoff/max_nodes`.
#[no_mangle]
extern "C" fn th_rs_max_nodes() -> kernel::ffi::c_uint {
    MAX_NODES as kernel::ffi::c_uint
}

/// The service limit, for `/sys/kernel/tcp_handoff/max_services`.
#[no_mangle]
extern "C" fn th_rs_max_services() -> kernel::ffi::c_uint {
    MAX_SERVICES as kernel::ffi::c_uint
}

/// An address of a node, a service or a connection's end, IPv4 or IPv6.
///
/// The connection tables key their entries by this family-tagged type
/// rather than by IPv4-mapped IPv6 addresses: an IPv4 key stays an IPv4
/// key (hashed with the three-word `tuple_hash`, compared by its tag and 4
/// bytes), so IPv4's hot path pays one branch for IPv6's existence, and an
/// IPv6 packet from `::ffff:a.b.c.d` can never alias an IPv4 connection.
/// The derived order puts every IPv4 address before every IPv6 one; the
/// tables only need some total order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl Default for Addr {
    fn default() -> Self {
        Addr::V4([0; 4])
    }
}

impl Addr {
    /// The address as 16 bytes: IPv6 as it is, IPv4 mapped
    /// (`::ffff:a.b.c.d`), for what takes either family in one shape.
    pub(crate) fn to16(&self) -> [u8; 16] {
        match *self {
            Addr::V4([a, b, c, d]) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d],
            Addr::V6(a) => a,
        }
    }

    /// The address of a control-channel endpoint (`family` 4 or 6, as
    /// the codec checked it); `None` for any other family.
    pub(crate) fn of_endpoint(family: u8, addr: &[u8; 16]) -> Option<Addr> {
        match family {
            4 => Some(Addr::V4([addr[0], addr[1], addr[2], addr[3]])),
            6 => Some(Addr::V6(*addr)),
            _ => None,
        }
    }

    /// The control-channel endpoint of this address and `port`.
    pub(crate) fn endpoint(&self, port: u16) -> crate::handoff_core::codec::Endpoint {
        use crate::handoff_core::codec::Endpoint;
        match *self {
            Addr::V4(a) => Endpoint::v4(a, port),
            Addr::V6(a) => Endpoint::v6(a, port),
        }
    }

    /// Whether this is the unspecified address of its family.
    pub(crate) fn is_unspecified(&self) -> bool {
        match self {
            Addr::V4(a) => *a == [0; 4],
            Addr::V6(a) => *a == [0; 16],
        }
    }

    /// The socket address family (`AF_INET` or `AF_INET6`).
    pub(crate) fn family(&self) -> i32 {
        match self {
            Addr::V4(_) => bindings::AF_INET as i32,
            Addr::V6(_) => bindings::AF_INET6 as i32,
        }
    }

    /// The address bytes, network order (4 or 16 of them).
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Addr::V4(a) => a,
            Addr::V6(a) => a,
        }
    }
}

/// A configured cluster node.
#[derive(Clone, Copy)]
pub(crate) struct Node {
    pub(crate) id: u32,
    pub(crate) addr: Addr,
    pub(crate) port: u16,
    pub(crate) weight: u32,
    pub(crate) local: bool,
}

/// A configured service: connections to it take part in handoff.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Service {
    pub(crate) addr: Addr,
    pub(crate) port: u16,
}

/// The path condition of a configured rule (owned bytes).
pub(crate) enum PathCfg {
    Any,
    Prefix(KVec<u8>),
    Suffix(KVec<u8>),
    Exact(KVec<u8>),
}

/// A dispatch rule as configured. Rules are evaluated in ascending `prio`
/// order (the table is kept sorted); the first whose conditions all match
/// decides. `handoff_core::rules::Rule` is the borrowed view the matcher
/// works on.
pub(crate) struct RuleCfg {
    /// Unique within the namespace; the rule's handle for `rule-del`.
    pub(crate) prio: u32,
    /// Required method, `None` for any.
    pub(crate) method: Option<http::Method>,
    /// Required host pattern (`*.example.com` allowed), `None` for any.
    pub(crate) host: Option<KVec<u8>>,
    pub(crate) path: PathCfg,
    /// Candidate node ids, in order.
    pub(crate) targets: KVec<u32>,
    pub(crate) policy: rules::Policy,
    /// Round-robin position (dispatch updates it).
    pub(crate) rr_cursor: u32,
    /// Requests this rule decided.
    pub(crate) hits: u64,
}

impl RuleCfg {
    /// A copy of the rule (for [`NetState::rules_fast`]); `None` without
    /// memory.
    pub(crate) fn try_clone(&self) -> Option<Self> {
        let bytes = |b: &[u8]| {
            let mut v = KVec::new();
            v.extend_from_slice(b, GFP_KERNEL).ok().map(|()| v)
        };
        let mut targets = KVec::new();
        targets.extend_from_slice(&self.targets, GFP_KERNEL).ok()?;
        Some(RuleCfg {
            prio: self.prio,
            method: self.method,
            host: match &self.host {
                Some(h) => Some(bytes(h)?),
                None => None,
            },
            path: match &self.path {
                PathCfg::Any => PathCfg::Any,
                PathCfg::Prefix(p) => PathCfg::Prefix(bytes(p)?),
                PathCfg::Suffix(p) => PathCfg::Suffix(bytes(p)?),
                PathCfg::Exact(p) => PathCfg::Exact(bytes(p)?),
            },
            targets,
            policy: self.policy,
            rr_cursor: 0,
            hits: 0,
        })
    }

    /// The borrowed view `handoff_core::rules` matches against.
    pub(crate) fn view(&self) -> rules::Rule<'_> {
        rules::Rule {
            method: self.method,
            host: self.host.as_deref(),
            path: match &self.path {
                PathCfg::Any => rules::PathMatch::Any,
                PathCfg::Prefix(p) => rules::PathMatch::Prefix(p),
                PathCfg::Suffix(p) => rules::PathMatch::Suffix(p),
                PathCfg::Exact(p) => rules::PathMatch::Exact(p),
            },
            targets: &self.targets,
            policy: self.policy,
        }
    }
}

/// The namespace's configuration, changed only from netlink (process
/// context) under [`NetState::config`].
pub(crate) struct Config {
    pub(crate) nodes: KVec<Node>,
    pub(crate) services: KVec<Service>,
    /// Dispatch rules, sorted by `prio`.
    pub(crate) rules: KVec<RuleCfg>,
    /// Keys of the control channels (`key-add`); empty: no
    /// authentication. The worker takes a copy at each run.
    pub(crate) keys: Keyring,
    /// The `lard` policy's server sets, a direct-mapped table of
    /// [`LARD_SLOTS`] indexed by URL hash; allocated by the first decision
    /// of a `lard` rule.
    pub(crate) lard: KVec<lard::ServerSet>,
}

/// Slots of [`Config::lard`]: 32 KiB per namespace that uses the policy.
/// More URLs than this share slots, and a URL whose slot another took
/// starts over (`lard-evicted`).
pub(crate) const LARD_SLOTS: usize = 1024;

/// Tunables of one namespace (`limits-set`). Written under
/// [`NetState::config`], read locklessly by the packet path.
pub(crate) struct Limits {
    /// Longest a first request head may take to arrive (ms).
    pub(crate) head_timeout_ms: Atomic<u32>,
    /// Longest the front-end waits for a back-end's answer (ms).
    pub(crate) handoff_timeout_ms: Atomic<u32>,
    /// How long a closed connection's entry lingers on either side, so
    /// late retransmissions are still translated (ms; at least a TIME_WAIT
    /// period in production).
    pub(crate) linger_ms: Atomic<u32>,
    /// Most connection entries (front-end and back-end each).
    pub(crate) max_conns: Atomic<u32>,
    /// A handed-off connection silent this long is ended (ms): the
    /// back-end aborts its socket (the client gets a reset); a front-end
    /// whose back-end never says so ends its entry after this plus
    /// `linger_ms`.
    pub(crate) idle_timeout_ms: Atomic<u32>,
    /// The `lard` policy's thresholds and shrink period
    /// ([`handoff_core::lard::Params`]); `lard_low < lard_high` always
    /// (`limits-set` refuses a change that would break it).
    pub(crate) lard_low: Atomic<u32>,
    pub(crate) lard_high: Atomic<u32>,
    pub(crate) lard_shrink_ms: Atomic<u32>,
}

impl Limits {
    pub(crate) const DEFAULT_HEAD_TIMEOUT_MS: u32 = 2000;
    pub(crate) const DEFAULT_HANDOFF_TIMEOUT_MS: u32 = 3000;
    pub(crate) const DEFAULT_LINGER_MS: u32 = 60000;
    pub(crate) const DEFAULT_MAX_CONNS: u32 = 16384;
    /// IPVS's default for established TCP connections (`ipvsadm --set`).
    pub(crate) const DEFAULT_IDLE_TIMEOUT_MS: u32 = 900_000;

    const fn new() -> Self {
        Limits {
            head_timeout_ms: Atomic::new(Self::DEFAULT_HEAD_TIMEOUT_MS),
            handoff_timeout_ms: Atomic::new(Self::DEFAULT_HANDOFF_TIMEOUT_MS),
            linger_ms: Atomic::new(Self::DEFAULT_LINGER_MS),
            max_conns: Atomic::new(Self::DEFAULT_MAX_CONNS),
            idle_timeout_ms: Atomic::new(Self::DEFAULT_IDLE_TIMEOUT_MS),
            lard_low: Atomic::new(lard::Params::DEFAULT.low),
            lard_high: Atomic::new(lard::Params::DEFAULT.high),
            lard_shrink_ms: Atomic::new(lard::Params::DEFAULT.shrink_ms as u32),
        }
    }

    /// The `lard` policy's parameters as they are now.
    pub(crate) fn lard(&self) -> lard::Params {
        lard::Params {
            low: Self::get(&self.lard_low),
            high: Self::get(&self.lard_high),
            shrink_ms: u64::from(Self::get(&self.lard_shrink_ms)),
        }
    }

    pub(crate) fn get(v: &Atomic<u32>) -> u32 {
        v.load(Relaxed)
    }
}

/// Counters of one namespace. Plain relaxed atomics: they are statistics,
/// read without ordering against anything else.
///
/// # Invariants
///
/// Every field is an `Atomic<u64>` and the layout is C's: [`Stats::zero`]
/// treats the struct as an array of them.
#[repr(C)]
pub(crate) struct Stats {
    pub(crate) rx_packets: Atomic<u64>,
    pub(crate) rx_bytes: Atomic<u64>,
    pub(crate) tx_packets: Atomic<u64>,
    pub(crate) tx_bytes: Atomic<u64>,
    pub(crate) rx_malformed: Atomic<u64>,
    pub(crate) heads_http: Atomic<u64>,
    pub(crate) heads_bad: Atomic<u64>,
    pub(crate) heads_not_http: Atomic<u64>,
    pub(crate) heads_too_large: Atomic<u64>,
    pub(crate) heads_closed: Atomic<u64>,
    pub(crate) heads_timeout: Atomic<u64>,
    pub(crate) local: Atomic<u64>,
    pub(crate) held_packets: Atomic<u64>,
    pub(crate) reinject_errors: Atomic<u64>,
    pub(crate) table_full: Atomic<u64>,
    // Front-end side of handoff.
    /// Heads dispatch sent to another node (HANDOFF_REQUEST sent).
    pub(crate) handoff_requests: Atomic<u64>,
    /// Handoffs the back-end accepted (HANDOFF_ACK received).
    pub(crate) handoff_ok: Atomic<u64>,
    /// Handoffs the back-end refused (HANDOFF_NAK received).
    pub(crate) handoff_nak: Atomic<u64>,
    /// Handoffs that got no answer in time.
    pub(crate) handoff_timeout: Atomic<u64>,
    /// Handoffs not attempted or abandoned because the channel was down.
    pub(crate) handoff_no_channel: Atomic<u64>,
    /// Connections served locally after a failed handoff.
    pub(crate) fallback_local: Atomic<u64>,
    /// Client packets forwarded to a back-end.
    pub(crate) fwd_packets: Atomic<u64>,
    pub(crate) fwd_bytes: Atomic<u64>,
    /// Packets of the local stack dropped for a handed-off connection
    /// (SYN/ACK retransmissions, the held request socket's resets).
    pub(crate) fe_tx_dropped: Atomic<u64>,
    /// ICMP errors about forwarded connections passed on to the back-end.
    pub(crate) icmp_forwarded: Atomic<u64>,
    /// Packets that could not be forwarded (no route, no memory).
    pub(crate) fwd_errors: Atomic<u64>,
    // Back-end side.
    /// HANDOFF_REQUESTs received.
    pub(crate) be_requests: Atomic<u64>,
    /// Of those, connections established here (HANDOFF_ACK sent).
    pub(crate) be_accepted: Atomic<u64>,
    /// Of those, refused (HANDOFF_NAK sent).
    pub(crate) be_refused: Atomic<u64>,
    /// Packets sent to clients directly, translated.
    pub(crate) be_tx_packets: Atomic<u64>,
    pub(crate) be_tx_bytes: Atomic<u64>,
    /// Front-end entries ended because their back-end did not know them
    /// (RECONCILE answered: a lost TERMINATE, a restarted back-end).
    pub(crate) reconciled: Atomic<u64>,
    /// Front-end handoffs whose answer was late or lost with its channel
    /// while the back-end may have taken them ("in doubt": held until it
    /// answers, see `channel::handoff::timeouts`).
    pub(crate) handoff_in_doubt: Atomic<u64>,
    /// Front-end handoffs reset after staying in doubt too long.
    pub(crate) in_doubt_reset: Atomic<u64>,
    /// Back-end HANDOFF_ACKs sent again, for connections no forwarded
    /// packet had confirmed yet.
    pub(crate) ack_resent: Atomic<u64>,
    /// Control frames refused by authentication.
    pub(crate) ctl_auth_failed: Atomic<u64>,
    /// Handed-off connections ended for being idle (front-end entries and
    /// back-end sockets).
    pub(crate) idle_expired: Atomic<u64>,
    /// `lard` policy: URLs given their first node, grown, shrunk, and
    /// dropped from the table for another URL ([`lard::Change`]).
    pub(crate) lard_assigned: Atomic<u64>,
    pub(crate) lard_replicated: Atomic<u64>,
    pub(crate) lard_shrunk: Atomic<u64>,
    pub(crate) lard_evicted: Atomic<u64>,
    /// Keep-alive routing (`channel::migrate`): later requests decided,
    /// connections moved, moves that did not happen (front-end), and
    /// connections let go (back-end).
    pub(crate) later_requests: Atomic<u64>,
    pub(crate) migrations: Atomic<u64>,
    pub(crate) migrate_refused: Atomic<u64>,
    pub(crate) migrated_out: Atomic<u64>,
    /// TERMINATE messages sent (back-end) and received (front-end).
    pub(crate) terminate_sent: Atomic<u64>,
    pub(crate) terminate_received: Atomic<u64>,
    // Control channel.
    pub(crate) ctl_connects: Atomic<u64>,
    pub(crate) ctl_disconnects: Atomic<u64>,
    pub(crate) ctl_msgs_in: Atomic<u64>,
    pub(crate) ctl_msgs_out: Atomic<u64>,
    /// Control messages dropped as malformed, unexpected or unknown.
    pub(crate) ctl_bad_msgs: Atomic<u64>,
    /// Control connections refused (peer not a configured node).
    pub(crate) ctl_refused: Atomic<u64>,
    // UTCP.
    /// Child sockets the listener shim refused (the connection was held or
    /// handed off, yet a segment reached TCP).
    pub(crate) utcp_vetoed: Atomic<u64>,
    /// Held connections whose listener could not be shimmed (not plain
    /// IPv4 or IPv6 TCP, closing, or no memory).
    pub(crate) utcp_unshimmed: Atomic<u64>,
}

// The array view of `Stats` has no remainder (see its invariants).
const _: () = assert!(core::mem::size_of::<Stats>() % core::mem::size_of::<Atomic<u64>>() == 0);

impl Stats {
    /// Sets every counter to zero (`stats-reset`, like `ipvsadm -Z`).
    pub(crate) fn zero(&self) {
        let n = core::mem::size_of::<Self>() / core::mem::size_of::<Atomic<u64>>();
        // SAFETY: by the type invariant `Stats` is laid out as `n`
        // contiguous `Atomic<u64>`s, valid for reads as long as `self`.
        let all = unsafe {
            core::slice::from_raw_parts(core::ptr::from_ref(self).cast::<Atomic<u64>>(), n)
        };
        for c in all {
            c.store(0, kernel::sync::atomic::Relaxed);
        }
    }

    const fn new() -> Self {
        Stats {
            rx_packets: Atomic::new(0),
            rx_bytes: Atomic::new(0),
            tx_packets: Atomic::new(0),
            tx_bytes: Atomic::new(0),
            rx_malformed: Atomic::new(0),
            heads_http: Atomic::new(0),
            heads_bad: Atomic::new(0),
            heads_not_http: Atomic::new(0),
            heads_too_large: Atomic::new(0),
            heads_closed: Atomic::new(0),
            heads_timeout: Atomic::new(0),
            local: Atomic::new(0),
            held_packets: Atomic::new(0),
            reinject_errors: Atomic::new(0),
            table_full: Atomic::new(0),
            handoff_requests: Atomic::new(0),
            handoff_ok: Atomic::new(0),
            handoff_nak: Atomic::new(0),
            handoff_timeout: Atomic::new(0),
            handoff_no_channel: Atomic::new(0),
            fallback_local: Atomic::new(0),
            fwd_packets: Atomic::new(0),
            fwd_bytes: Atomic::new(0),
            fe_tx_dropped: Atomic::new(0),
            fwd_errors: Atomic::new(0),
            icmp_forwarded: Atomic::new(0),
            be_requests: Atomic::new(0),
            be_accepted: Atomic::new(0),
            be_refused: Atomic::new(0),
            be_tx_packets: Atomic::new(0),
            be_tx_bytes: Atomic::new(0),
            reconciled: Atomic::new(0),
            handoff_in_doubt: Atomic::new(0),
            in_doubt_reset: Atomic::new(0),
            ack_resent: Atomic::new(0),
            ctl_auth_failed: Atomic::new(0),
            idle_expired: Atomic::new(0),
            lard_assigned: Atomic::new(0),
            lard_replicated: Atomic::new(0),
            lard_shrunk: Atomic::new(0),
            lard_evicted: Atomic::new(0),
            later_requests: Atomic::new(0),
            migrations: Atomic::new(0),
            migrate_refused: Atomic::new(0),
            migrated_out: Atomic::new(0),
            terminate_sent: Atomic::new(0),
            terminate_received: Atomic::new(0),
            ctl_connects: Atomic::new(0),
            ctl_disconnects: Atomic::new(0),
            ctl_msgs_in: Atomic::new(0),
            ctl_msgs_out: Atomic::new(0),
            ctl_bad_msgs: Atomic::new(0),
            ctl_refused: Atomic::new(0),
            utcp_vetoed: Atomic::new(0),
            utcp_unshimmed: Atomic::new(0),
        }
    }

    pub(crate) fn inc(counter: &Atomic<u64>, by: u64) {
        counter.add(by, Relaxed);
    }
}

/// Counters of one configured service, beside its slot in
/// [`ServiceFilter`]; kept while the service exists, zeroed by
/// `stats-reset`.
pub(crate) struct ServiceStats {
    pub(crate) conns: Atomic<u64>,
    pub(crate) handoff_ok: Atomic<u64>,
    pub(crate) handoff_failed: Atomic<u64>,
    pub(crate) local: Atomic<u64>,
    pub(crate) rx_packets: Atomic<u64>,
    pub(crate) rx_bytes: Atomic<u64>,
    pub(crate) tx_packets: Atomic<u64>,
    pub(crate) tx_bytes: Atomic<u64>,
}

impl ServiceStats {
    fn new() -> Self {
        ServiceStats {
            conns: Atomic::new(0),
            handoff_ok: Atomic::new(0),
            handoff_failed: Atomic::new(0),
            local: Atomic::new(0),
            rx_packets: Atomic::new(0),
            rx_bytes: Atomic::new(0),
            tx_packets: Atomic::new(0),
            tx_bytes: Atomic::new(0),
        }
    }

    /// Every counter, in the spec's order (from `conns`).
    pub(crate) fn all(&self) -> [&Atomic<u64>; 8] {
        [
            &self.conns,
            &self.handoff_ok,
            &self.handoff_failed,
            &self.local,
            &self.rx_packets,
            &self.rx_bytes,
            &self.tx_packets,
            &self.tx_bytes,
        ]
    }

    fn clear(&self) {
        for c in self.all() {
            c.store(0, Relaxed);
        }
    }
}

/// The configured services as the packet path sees them: a fixed array of
/// atomically updated keys, so the hooks (softirq) never take the
/// configuration mutex, and each service's counters beside its key.
/// Writers hold [`NetState::config`]; 0 is an empty slot. A service keeps
/// its slot while it exists, so its counters do too.
///
/// An IPv4 service's key is `1 << 63 | addr << 16 | port`: one load and
/// one compare per slot, as before IPv6. An IPv6 service's key is
/// `1 << 63 | V6 | fold(addr) << 16 | port` (a 32-bit fold of the address
/// as a cheap filter), and its full address sits beside it in two more
/// words, written before the key is stored (release) and read after it is
/// loaded (acquire), compared only when the key matches. An IPv6 key can
/// never equal an IPv4 one (the `V6` bit). Slot addresses are written only
/// while the slot is empty; a packet that races with a slot being freed
/// and reused can read the new address under the old key, and then matches
/// only a packet to the new address, a service configured at that moment.
///
/// A deleted service *drains*, as an IPVS service's connections outlive
/// it: its slot keeps the key with [`DRAINING`] set, so the connections
/// the front-end tracks go on (forwarded, or their handoff completed),
/// while new ones are left to the local stack. The housekeeping tick frees
/// the slot once no entry of the service is left ([`Self::reclaim`]).
pub(crate) struct ServiceFilter {
    slots: [Atomic<u64>; MAX_SERVICES],
    /// The IPv6 address of an IPv6 slot, as two big-endian halves.
    addr6: [[Atomic<u64>; 2]; MAX_SERVICES],
    stats: [ServiceStats; MAX_SERVICES],
}

/// The bit of a [`ServiceFilter`] key that marks an IPv6 service.
const V6: u64 = 1 << 61;

impl ServiceFilter {
    fn new() -> Self {
        ServiceFilter {
            slots: core::array::from_fn(|_| Atomic::new(0)),
            addr6: core::array::from_fn(|_| [Atomic::new(0), Atomic::new(0)]),
            stats: core::array::from_fn(|_| ServiceStats::new()),
        }
    }

    fn key(addr: [u8; 4], port: u16) -> u64 {
        1 << 63 | u64::from(u32::from_be_bytes(addr)) << 16 | u64::from(port)
    }

    /// The two halves of an IPv6 address as the slots store them.
    fn halves(a: [u8; 16]) -> [u64; 2] {
        let (hi, lo) = a.split_at(8);
        [
            u64::from_be_bytes(hi.try_into().unwrap_or([0; 8])),
            u64::from_be_bytes(lo.try_into().unwrap_or([0; 8])),
        ]
    }

    fn key6(addr: [u8; 16], port: u16) -> u64 {
        let [hi, lo] = Self::halves(addr);
        let x = hi ^ lo;
        let fold = (x ^ (x >> 32)) & 0xffff_ffff;
        1 << 63 | V6 | fold << 16 | u64::from(port)
    }

    /// Whether slot `i` (whose key matched an IPv6 key) holds `addr`.
    fn addr6_is(&self, i: usize, addr: [u8; 16]) -> bool {
        let want = Self::halves(addr);
        let a = &self.addr6[i % MAX_SERVICES];
        a[0].load(Relaxed) == want[0] && a[1].load(Relaxed) == want[1]
    }

    /// The slot of the IPv4 service `addr:port`, if configured or draining.
    pub(crate) fn slot_v4(&self, addr: [u8; 4], port: u16) -> Option<usize> {
        let key = Self::key(addr, port);
        self.slots
            .iter()
            .position(|s| s.load(Relaxed) & !DRAINING == key)
    }

    /// The slot of the IPv6 service `addr:port`, if configured or draining.
    pub(crate) fn slot_v6(&self, addr: [u8; 16], port: u16) -> Option<usize> {
        let key = Self::key6(addr, port);
        (0..MAX_SERVICES).find(|&i| {
            // Acquire: the address words were stored before the key.
            self.slots[i].load(Acquire) & !DRAINING == key && self.addr6_is(i, addr)
        })
    }

    /// The slot of the service `addr:port`, if configured or draining.
    pub(crate) fn slot(&self, addr: &Addr, port: u16) -> Option<usize> {
        match *addr {
            Addr::V4(a) => self.slot_v4(a, port),
            Addr::V6(a) => self.slot_v6(a, port),
        }
    }

    /// Whether the service `addr:port` was deleted and drains: new
    /// connections are not its.
    pub(crate) fn draining(&self, addr: &Addr, port: u16) -> bool {
        self.slot(addr, port)
            .is_some_and(|i| self.slots[i].load(Relaxed) & DRAINING != 0)
    }

    /// Whether any service drains (the tick then looks for its entries).
    pub(crate) fn any_draining(&self) -> bool {
        self.slots.iter().any(|s| s.load(Relaxed) & DRAINING != 0)
    }

    /// Frees the slots of draining services that `in_use` says no entry
    /// refers to any more (any context: a slot changed meanwhile by
    /// [`Self::publish`] is left alone).
    pub(crate) fn reclaim(&self, in_use: &[bool; MAX_SERVICES]) {
        for (slot, used) in self.slots.iter().zip(in_use) {
            let k = slot.load(Relaxed);
            if k & DRAINING != 0 && !used {
                let _ = slot.cmpxchg(k, 0, Relaxed);
            }
        }
    }

    /// Whether a new service would find a slot (draining services hold
    /// theirs).
    pub(crate) fn has_room(&self, addr: &Addr, port: u16) -> bool {
        self.slot(addr, port).is_some() || self.slots.iter().any(|s| s.load(Relaxed) == 0)
    }

    /// The counters of slot `slot` (from [`Self::slot`]).
    pub(crate) fn stats(&self, slot: usize) -> &ServiceStats {
        &self.stats[slot % MAX_SERVICES]
    }

    /// The counters of the service `addr:port`, if configured.
    pub(crate) fn stats_of(&self, addr: &Addr, port: u16) -> Option<&ServiceStats> {
        self.slot(addr, port).map(|i| self.stats(i))
    }

    /// Zeroes every service's counters (`stats-reset`).
    pub(crate) fn zero_stats(&self) {
        for s in &self.stats {
            s.clear();
        }
    }

    /// Whether `addr` is the address of any configured service.
    pub(crate) fn contains_addr(&self, addr: &Addr) -> bool {
        match *addr {
            Addr::V4(a) => {
                let a = u64::from(u32::from_be_bytes(a));
                self.slots.iter().any(|s| {
                    let k = s.load(Relaxed);
                    k != 0 && k & V6 == 0 && (k >> 16) & 0xffff_ffff == a
                })
            }
            Addr::V6(a) => {
                let fold = Self::key6(a, 0) & (0xffff_ffff << 16);
                (0..MAX_SERVICES).any(|i| {
                    let k = self.slots[i].load(Acquire);
                    k & V6 != 0 && k & (0xffff_ffff << 16) == fold && self.addr6_is(i, a)
                })
            }
        }
    }

    /// The key of service `s`, and its IPv6 address if it has one.
    fn key_of(s: &Service) -> (u64, Option<[u8; 16]>) {
        match s.addr {
            Addr::V4(a) => (Self::key(a, s.port), None),
            Addr::V6(a) => (Self::key6(a, s.port), Some(a)),
        }
    }

    /// Whether slot `i` holds key `k` exactly and, for an IPv6 service,
    /// its address `a6`.
    fn holds(&self, i: usize, k: u64, a6: Option<[u8; 16]>) -> bool {
        self.slots[i].load(Relaxed) == k && a6.is_none_or(|a| self.addr6_is(i, a))
    }

    /// Brings the filter in line with the configuration (called under the
    /// configuration lock): removed services free their slots, new ones
    /// take free slots with zeroed counters, the others stay where they
    /// are. A packet that races with this sees either the old or the new
    /// set for each slot; both are configurations the administrator asked
    /// for.
    pub(crate) fn publish(&self, services: &[Service]) {
        let wanted = |i: usize, k: u64| {
            services.iter().any(|s| {
                let (sk, a6) = Self::key_of(s);
                sk == k && a6.is_none_or(|a| self.addr6_is(i, a))
            })
        };
        for (i, slot) in self.slots.iter().enumerate() {
            let k = slot.load(Relaxed);
            if k != 0 && k & DRAINING == 0 && !wanted(i, k) {
                slot.store(k | DRAINING, Relaxed);
            }
        }
        for s in services {
            let (k, a6) = Self::key_of(s);
            if (0..MAX_SERVICES).any(|i| self.holds(i, k, a6)) {
                continue;
            }
            // Added back while it drained: it keeps its slot and counters.
            if let Some(i) = (0..MAX_SERVICES).find(|&i| self.holds(i, k | DRAINING, a6)) {
                self.slots[i].store(k, Relaxed);
                continue;
            }
            if let Some(i) = self.slots.iter().position(|slot| slot.load(Relaxed) == 0) {
                self.stats[i].clear();
                if let Some(a) = a6 {
                    let [hi, lo] = Self::halves(a);
                    self.addr6[i][0].store(hi, Relaxed);
                    self.addr6[i][1].store(lo, Relaxed);
                }
                // Release: a reader that sees the key sees the address.
                self.slots[i].store(k, Release);
            }
        }
    }
}

/// Everything the module keeps for one network namespace.
#[pin_data]
pub(crate) struct NetState {
    #[pin]
    pub(crate) config: Mutex<Config>,
    pub(crate) services: ServiceFilter,
    /// Connections whose first request is being read (the packet path's
    /// state: a BH-safe spinlock).
    #[pin]
    pub(crate) pending: Table<Pending>,
    /// Keys of front-end entries that entered [`front::Phase::Deciding`]
    /// (pushed by the inbound hook, taken by the worker's
    /// `channel::handoff::decide`).
    #[pin]
    pub(crate) deciding: Queue<front::Key>,
    /// Head timeouts: front-end entries created (in [`front::Phase::Holding`])
    /// and when (`front::tick`).
    #[pin]
    pub(crate) holding: DueQueue<front::Key>,
    /// Front-end entries released to the local stack, and when.
    #[pin]
    pub(crate) released: DueQueue<front::Key>,
    /// Front-end entries made tombstones, and when.
    #[pin]
    pub(crate) tombstones: DueQueue<front::Key>,
    /// Where the front-end's idle scan goes on at the next tick (a bucket).
    pub(crate) idle_cursor: Atomic<u32>,
    /// The front-end's forwarding entries per back-end node (dispatch's
    /// least-connections policy).
    #[pin]
    pub(crate) fwd_counts: front::FwdCounts,
    /// Source of handoff ids (see `front::new_id`).
    pub(crate) next_id: Atomic<u64>,
    /// Connections taken over from front-ends (packet path: BH-safe).
    #[pin]
    pub(crate) backend: Table<Backend>,
    /// Keys of back-end entries whose TERMINATE is to be sent
    /// (`back::Conn::terminate_pending`; taken by the worker's
    /// `channel::handoff::terminates`).
    #[pin]
    pub(crate) terminating: Queue<back::Key>,
    /// Back-end entries closed ([`back::Phase::Closing`]), and when
    /// (`back::tick`).
    #[pin]
    pub(crate) be_closing: DueQueue<back::Key>,
    /// Back-end entries given up ([`back::Phase::Aborted`]), and when.
    #[pin]
    pub(crate) be_aborted: DueQueue<back::Key>,
    /// Back-end entries ended whose tuple still had a closing socket:
    /// looked at again at each tick (`back::tick`).
    #[pin]
    pub(crate) be_retry: SpinLockBh<KVec<(back::Key, back::Phase)>>,
    /// Back-end entries whose client sent a reset, and when: whether TCP
    /// took it is looked at each tick (`back::tick`).
    #[pin]
    pub(crate) be_resets: SpinLockBh<KVec<(back::Key, u64)>>,
    /// A copy of the dispatch rules for the packet path, made at each rule
    /// change ([`Self::publish_rules`]): the inbound hook decides with it
    /// that a kept-alive connection's later request stays on its node
    /// (`dispatch::stays`) without the configuration's mutex. `None` when
    /// the copy could not be made (the worker decides then).
    #[pin]
    pub(crate) rules_fast: SpinLockBh<Option<KVec<RuleCfg>>>,
    /// Listeners with the UTCP shim (packet path and control path:
    /// BH-safe).
    #[pin]
    pub(crate) utcp: SpinLockBh<Listeners>,
    /// The control channel, used by the namespace's worker.
    #[pin]
    pub(crate) channel: Mutex<Channel>,
    pub(crate) stats: Stats,
    pub(crate) limits: Limits,
    /// Peers whose channel is up (the packet path asks dispatch only then).
    peers_up: Atomic<u32>,
    /// Handoffs this node has in flight as front-end, as its last load
    /// report said (published by the worker, for `node-get`).
    own_in_flight: Atomic<u32>,
    /// Channel state of each peer for `node-get`, as `id << 8 | state`
    /// (0: unused slot); written by the worker, read without its lock.
    peer_states: [Atomic<u64>; MAX_NODES],
    /// Per-node counters (see [`NodeStats`]).
    node_stats: [NodeStats; MAX_NODES],
    /// The namespace (as an address): the worker is kicked through it.
    net: usize,
    /// The namespace's inode number, which tracepoints carry to tell the
    /// nodes of one kernel apart.
    pub(crate) netns: u32,
}

/// Counters of one configured node, in a slot of [`NetState::node_stats`]
/// claimed at `node-add` and cleared at `node-del`. Entries keep the slot
/// index (not the id), so the packet path counts without a lookup.
pub(crate) struct NodeStats {
    /// The node id owning the slot; 0 when free.
    id: Atomic<u32>,
    pub(crate) handoff_ok: Atomic<u64>,
    pub(crate) handoff_failed: Atomic<u64>,
    pub(crate) fwd_packets: Atomic<u64>,
    pub(crate) fwd_bytes: Atomic<u64>,
    pub(crate) be_accepted: Atomic<u64>,
    pub(crate) be_tx_packets: Atomic<u64>,
    pub(crate) be_tx_bytes: Atomic<u64>,
    /// The node's last load report (`KEEPALIVE`): connections it serves as
    /// back-end and handoffs it has in flight. Gauges, not counters:
    /// `stats-reset` leaves them; they are zeroed while the node's channel
    /// is down.
    pub(crate) load_conns: Atomic<u32>,
    pub(crate) load_in_flight: Atomic<u32>,
}

impl NodeStats {
    fn new() -> Self {
        NodeStats {
            id: Atomic::new(0),
            handoff_ok: Atomic::new(0),
            handoff_failed: Atomic::new(0),
            fwd_packets: Atomic::new(0),
            fwd_bytes: Atomic::new(0),
            be_accepted: Atomic::new(0),
            be_tx_packets: Atomic::new(0),
            be_tx_bytes: Atomic::new(0),
            load_conns: Atomic::new(0),
            load_in_flight: Atomic::new(0),
        }
    }

    fn clear(&self) {
        for c in [
            &self.handoff_ok,
            &self.handoff_failed,
            &self.fwd_packets,
            &self.fwd_bytes,
            &self.be_accepted,
            &self.be_tx_packets,
            &self.be_tx_bytes,
        ] {
            c.store(0, Relaxed);
        }
    }
}

/// Instantaneous sizes of the namespace's tables, for `stats-get` and
/// `/proc/net/tcp_handoff`.
#[derive(Default)]
pub(crate) struct Gauges {
    /// Front-end connections handed off and being forwarded.
    pub(crate) fe_forwarding: u64,
    /// Front-end entries of closed connections kept for late packets.
    pub(crate) fe_tombstones: u64,
    /// Front-end connections waiting for a back-end's answer.
    pub(crate) fe_in_flight: u64,
    /// Back-end connections (taken over from a front-end), any state.
    pub(crate) be_conns: u64,
    /// Peers whose control channel is up.
    pub(crate) peers_up: u64,
    /// Listeners with the UTCP shim.
    pub(crate) utcp_listeners: u64,
}

impl NetState {
    /// Returns the state of `net`.
    ///
    /// # Safety
    ///
    /// `net` must be a live namespace whose pernet `init` has succeeded and
    /// whose `exit` has not started, and the returned reference must not be
    /// used after that (hooks and netlink requests satisfy this: they are
    /// unregistered or finished before `exit` frees the state).
    pub(crate) unsafe fn of<'a>(net: *const bindings::net) -> &'a NetState {
        // SAFETY: the caller guarantees `init` stored a valid pointer and
        // `exit` has not freed it.
        unsafe { &*bindings::th_net_state(net).cast::<NetState>() }
    }

    /// Current table sizes.
    pub(crate) fn gauges(&self) -> Gauges {
        let (mut fe_tombstones, mut fe_in_flight) = (0, 0);
        self.pending.for_each(|_, b| {
            let (t, i) = b.handoff_counts();
            fe_tombstones += t;
            fe_in_flight += i;
        });
        Gauges {
            fe_forwarding: self.fwd_counts.total(),
            fe_tombstones,
            fe_in_flight,
            be_conns: self.backend.len() as u64,
            peers_up: u64::from(self.peers_up.load(Relaxed)),
            utcp_listeners: self.utcp.lock().len() as u64,
        }
    }

    /// The control-channel state of node `id`, as a
    /// `tcp_handoff_node_state` value.
    pub(crate) fn node_state(&self, id: u32) -> u32 {
        self.peer_states
            .iter()
            .map(|s| s.load(Relaxed))
            .find(|&v| v >> 8 == u64::from(id) && v != 0)
            .map_or(
                bindings::tcp_handoff_node_state_TCP_HANDOFF_NODE_STATE_DOWN,
                |v| (v & 0xff) as u32,
            )
    }

    /// The slot of node `id`'s counters, if it has one.
    pub(crate) fn node_slot(&self, id: u32) -> Option<u8> {
        (id != 0)
            .then(|| {
                self.node_stats
                    .iter()
                    .position(|s| s.id.load(Relaxed) == id)
            })
            .flatten()
            .map(|i| i as u8)
    }

    /// The counters in slot `slot` (from [`Self::node_slot`]).
    pub(crate) fn node_stats(&self, slot: u8) -> &NodeStats {
        &self.node_stats[usize::from(slot) % MAX_NODES]
    }

    /// The counters of node `id`, if it has a slot.
    pub(crate) fn node_stats_of(&self, id: u32) -> Option<&NodeStats> {
        self.node_slot(id).map(|s| self.node_stats(s))
    }

    /// Gives node `id` a zeroed slot; `node-add` calls it under the
    /// configuration lock, so two nodes never race for one slot. At most
    /// [`MAX_NODES`] nodes exist, so a slot is always free.
    pub(crate) fn claim_node_slot(&self, id: u32) {
        if let Some(s) = self.node_stats.iter().find(|s| s.id.load(Relaxed) == 0) {
            s.clear();
            s.load_conns.store(0, Relaxed);
            s.load_in_flight.store(0, Relaxed);
            s.id.store(id, Relaxed);
        }
    }

    /// Zeroes every node's counters (`stats-reset`).
    pub(crate) fn zero_node_stats(&self) {
        for s in &self.node_stats {
            s.clear();
        }
    }

    /// Frees node `id`'s slot (`node-del`, under the configuration lock).
    pub(crate) fn release_node_slot(&self, id: u32) {
        if let Some(s) = self.node_stats_of(id) {
            s.id.store(0, Relaxed);
        }
    }

    /// Publishes the peers' channel states (worker only).
    pub(crate) fn set_peer_states(&self, ch: &Channel) {
        let mut peers = ch.peers.iter();
        for slot in &self.peer_states {
            let v = peers.next().map_or(0, |p| {
                let state = if p.up {
                    bindings::tcp_handoff_node_state_TCP_HANDOFF_NODE_STATE_UP
                } else {
                    bindings::tcp_handoff_node_state_TCP_HANDOFF_NODE_STATE_CONNECTING
                };
                u64::from(p.id) << 8 | u64::from(state)
            });
            slot.store(v, Relaxed);
        }
    }

    /// This node's load as it reports it to its peers: connections it
    /// serves as back-end (entries not closed or given up, which only
    /// linger), and handoffs it has in flight as front-end (as of the
    /// worker's last report).
    pub(crate) fn own_load(&self) -> (u32, u32) {
        let ended = self.be_closing.len() + self.be_aborted.len();
        let conns = self.backend.len().saturating_sub(ended);
        let conns = u32::try_from(conns).unwrap_or(u32::MAX);
        (conns, self.own_in_flight.load(Relaxed))
    }

    /// Records the in-flight figure of the report being sent.
    pub(crate) fn set_own_in_flight(&self, n: u32) {
        self.own_in_flight.store(n, Relaxed);
    }

    pub(crate) fn set_peers_up(&self, n: u32) {
        self.peers_up.store(n, Relaxed);
    }

    /// Copies `cfg`'s rules for the packet path ([`Self::rules_fast`]);
    /// called with the configuration's mutex held, after each change.
    pub(crate) fn publish_rules(&self, cfg: &Config) {
        let copy = (|| {
            let mut v = KVec::with_capacity(cfg.rules.len(), GFP_KERNEL).ok()?;
            for r in cfg.rules.iter() {
                v.push(r.try_clone()?, GFP_KERNEL).ok()?;
            }
            Some(v)
        })();
        let old = core::mem::replace(&mut *self.rules_fast.lock(), copy);
        // The old copy goes outside the lock.
        drop(old);
    }

    /// Whether a complete head should wait for dispatch: only when some
    /// other node could take it.
    pub(crate) fn dispatch_wanted(&self) -> bool {
        self.peers_up.load(Relaxed) > 0
    }

    /// The namespace this state belongs to (valid while the state is).
    pub(crate) fn net(&self) -> *mut bindings::net {
        self.net as *mut bindings::net
    }

    /// Schedules the namespace's worker (any context).
    pub(crate) fn kick(&self) {
        // SAFETY: `net` is the live namespace this state belongs to (the
        // state is freed before the namespace).
        unsafe { bindings::th_net_kick(self.net as *mut bindings::net) };
    }

    fn new(net: *mut bindings::net) -> impl PinInit<Self> {
        // SAFETY: `net` is the namespace being initialised, alive for the
        // call.
        let netns = unsafe { bindings::th_net_inum(net) };
        pin_init!(NetState {
            config <- new_mutex!(Config {
                nodes: KVec::new(),
                services: KVec::new(),
                rules: KVec::new(),
                keys: Keyring::default(),
                lard: KVec::new(),
            }),
            services: ServiceFilter::new(),
            pending <- Table::new(Pending::new),
            deciding <- Queue::new(),
            holding <- DueQueue::new(),
            released <- DueQueue::new(),
            tombstones <- DueQueue::new(),
            idle_cursor: Atomic::new(0),
            fwd_counts <- front::FwdCounts::new(),
            next_id: Atomic::new(1),
            backend <- Table::new(Backend::new),
            terminating <- Queue::new(),
            be_closing <- DueQueue::new(),
            be_aborted <- DueQueue::new(),
            be_retry <- new_spinlock_bh!(KVec::new(), c"tcp_handoff_be_retry"),
            be_resets <- new_spinlock_bh!(KVec::new(), c"tcp_handoff_be_resets"),
            rules_fast <- new_spinlock_bh!(Some(KVec::new()), c"tcp_handoff_rules_fast"),
            utcp <- new_spinlock_bh!(Listeners::new(), c"tcp_handoff_utcp"),
            channel <- new_mutex!(Channel::new()),
            stats: Stats::new(),
            limits: Limits::new(),
            peers_up: Atomic::new(0),
            own_in_flight: Atomic::new(0),
            peer_states: core::array::from_fn(|_| Atomic::new(0)),
            node_stats: core::array::from_fn(|_| NodeStats::new()),
            net: net as usize,
            netns,
        })
    }
}

fn net_init(net: *mut bindings::net) -> Result {
    // The state holds two bucket arrays (tens of KiB with lock debugging):
    // virtually contiguous memory is enough.
    let state = KVBox::pin_init(NetState::new(net), GFP_KERNEL)?;
    // SAFETY: the state is never moved out of its box: it is only reached
    // through this pointer until `net_exit` rebuilds the pinned box.
    let raw = KVBox::into_raw(unsafe { Pin::into_inner_unchecked(state) });
    // SAFETY: `net` is the namespace being initialised; its slot is ours.
    unsafe { bindings::th_net_set_state(net, raw.cast()) };
    // SAFETY: `net` is live; the state its hooks use is in place.
    let err = unsafe { bindings::th_net_register_hooks(net) };
    if let Err(e) = kernel::error::to_result(err) {
        free_state(net);
        return Err(e);
    }
    // SAFETY: `net` is live.
    if let Err(e) = kernel::error::to_result(unsafe { bindings::th_net_proc_create(net) }) {
        // SAFETY: the hooks were registered just above.
        unsafe { bindings::th_net_unregister_hooks(net) };
        free_state(net);
        return Err(e);
    }
    // SAFETY: `net` is live and its state in place; the timer is stopped
    // in `th_rs_net_exit` before the state is freed.
    unsafe { bindings::th_net_tick_start(net) };
    Ok(())
}

fn free_state(net: *mut bindings::net) {
    // SAFETY: `net` is live and its slot holds the pointer `net_init` stored.
    let raw = unsafe { bindings::th_net_state(net) }.cast::<NetState>();
    // SAFETY: nothing else refers to the namespace's state any more: its
    // hooks are unregistered (which waits for running ones) and netlink
    // requests hold a reference on the namespace, so none is running.
    drop(unsafe { Pin::new_unchecked(KVBox::from_raw(raw)) });
    // SAFETY: as above.
    unsafe { bindings::th_net_set_state(net, core::ptr::null_mut()) };
}

/// Pernet `init`, called from the C trampoline in `glue.c`.
#[no_mangle]
extern "C" fn th_rs_net_init(net: *mut bindings::net) -> kernel::ffi::c_int {
    match net_init(net) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Pernet `exit`, called from the C trampoline in `glue.c`.
#[no_mangle]
extern "C" fn th_rs_net_exit(net: *mut bindings::net) {
    // SAFETY: `net` is being dismantled; `init` succeeded for it. After
    // these no hook or timer callback runs, so the state can go (held
    // packets are freed with it).
    unsafe {
        bindings::th_net_proc_remove(net);
        bindings::th_net_unregister_hooks(net);
        bindings::th_net_tick_stop(net);
    }
    free_state(net);
}

/// The housekeeping timer's callback (softirq), from `glue.c`.
#[no_mangle]
extern "C" fn th_rs_tick(net: *mut bindings::net) {
    // SAFETY: the timer runs only between `th_net_tick_start` in `init` and
    // `th_net_tick_stop` in `exit`, while the state is in place.
    let st = unsafe { NetState::of(net) };
    front::tick(st, net);
    back::tick(st);
    crate::utcp::prune(st);
    st.kick();
}
