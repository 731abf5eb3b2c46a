// SPDX-License-Identifier: GPL-2.0

//! The "tcp_handoff" generic netlink family: numbers and message contents.
//!
//! Why a module of its own: the numeric values must match
//! `include/uapi/linux/tcp_handoff.h` (generated from
//! `Documentation/netlink/specs/tcp_handoff.yaml`) exactly, and the byte
//! order of each attribute follows the spec (addresses and ports in network
//! byte order, ids, weights and counters in host byte order).  Keeping all of
//! that here, next to its tests, lets the rest of the tool speak in terms of
//! nodes, services, rules, limits and counters.
//!
//! Replies are decoded leniently with respect to unknown attribute types
//! (a newer module may add some) and strictly with respect to the length of
//! the known ones.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::Serialize;

use crate::netlink::{Attr, AttrTooLong, GenlReply, ParseError, Request};

pub const FAMILY_NAME: &str = "tcp_handoff";
pub const FAMILY_VERSION: u8 = 1;

/// `TCP_HANDOFF_CMD_*`.
pub mod cmd {
    pub const NODE_ADD: u8 = 1;
    pub const NODE_DEL: u8 = 2;
    pub const NODE_GET: u8 = 3;
    pub const SERVICE_ADD: u8 = 4;
    pub const SERVICE_DEL: u8 = 5;
    pub const SERVICE_GET: u8 = 6;
    pub const STATS_GET: u8 = 7;
    pub const RULE_ADD: u8 = 8;
    pub const RULE_DEL: u8 = 9;
    pub const RULE_GET: u8 = 10;
    pub const LIMITS_SET: u8 = 11;
    pub const LIMITS_GET: u8 = 12;
    /// Notifications of the `events` group (never a request).
    pub const EVENT_NTF: u8 = 13;
    pub const CONN_GET: u8 = 14;
    pub const STATS_RESET: u8 = 15;
    pub const KEY_ADD: u8 = 16;
    pub const KEY_DEL: u8 = 17;
    pub const KEY_SET: u8 = 18;
    pub const KEY_GET: u8 = 19;
}

/// `TCP_HANDOFF_A_KEY_*`.
pub mod key_attr {
    pub const ID: u16 = 1;
    pub const SECRET: u16 = 2;
    pub const CURRENT: u16 = 3;
}

/// `TCP_HANDOFF_A_CONN_*`.
pub mod conn_attr {
    pub const BACKEND: u16 = 1;
    pub const STATE: u16 = 2;
    pub const CLIENT_ADDR4: u16 = 3;
    pub const CLIENT_PORT: u16 = 4;
    pub const SERVICE_ADDR4: u16 = 5;
    pub const SERVICE_PORT: u16 = 6;
    pub const LOCAL_ADDR4: u16 = 7;
    pub const NODE: u16 = 8;
    pub const ID: u16 = 9;
    pub const AGE_MS: u16 = 10;
    pub const CLIENT_ADDR6: u16 = 11;
    pub const SERVICE_ADDR6: u16 = 12;
    pub const LOCAL_ADDR6: u16 = 13;
}

/// The spec's `conn-state` names, by value.
pub const CONN_STATES: [&str; 12] = [
    "holding",
    "deciding",
    "requested",
    "in-doubt",
    "flushing",
    "forwarding",
    "tombstone",
    "released",
    "replaying",
    "established",
    "closing",
    "aborted",
];

/// `TCP_HANDOFF_A_EVENT_*`.
pub mod event_attr {
    pub const KIND: u16 = 1;
    pub const NODE: u16 = 2;
    pub const CLIENT_ADDR4: u16 = 3;
    pub const CLIENT_PORT: u16 = 4;
    pub const REASON: u16 = 5;
    pub const LATENCY_US: u16 = 6;
    pub const CLIENT_ADDR6: u16 = 7;
}

/// The family's multicast group of events.
pub const EVENTS_GROUP: &str = "events";

/// `enum tcp_handoff_event_kind`, spec names by value.
pub const EVENT_KINDS: [&str; 4] = ["handoff-done", "handoff-failed", "peer-up", "peer-down"];

/// `TCP_HANDOFF_A_NODE_*`.
pub mod node_attr {
    pub const ID: u16 = 1;
    pub const ADDR4: u16 = 2;
    pub const ADDR6: u16 = 3;
    pub const PORT: u16 = 4;
    pub const WEIGHT: u16 = 5;
    pub const LOCAL: u16 = 6;
    pub const STATE: u16 = 7;
    /// The first of the per-node counters (`NODE_COUNTERS`, in order).
    pub const HANDOFF_OK: u16 = 8;
}

/// The per-service counters of service-get, in attribute order from
/// `service_attr::CONNS`.
pub const SERVICE_COUNTERS: [&str; 8] = [
    "conns",
    "handoff-ok",
    "handoff-failed",
    "local",
    "rx-packets",
    "rx-bytes",
    "tx-packets",
    "tx-bytes",
];

/// The per-node counters of node-get, in attribute order from
/// `node_attr::HANDOFF_OK`; the last two are the node's reported load
/// (gauges).
pub const NODE_COUNTERS: [&str; 9] = [
    "handoff-ok",
    "handoff-failed",
    "fwd-packets",
    "fwd-bytes",
    "be-accepted",
    "be-tx-packets",
    "be-tx-bytes",
    "load-conns",
    "load-in-flight",
];

/// `TCP_HANDOFF_A_SERVICE_*`.
pub mod service_attr {
    pub const ADDR4: u16 = 1;
    pub const ADDR6: u16 = 2;
    pub const PORT: u16 = 3;
    /// The first of the per-service counters (`SERVICE_COUNTERS`).
    pub const CONNS: u16 = 4;
}

/// `TCP_HANDOFF_A_RULE_*`.
pub mod rule_attr {
    pub const PRIO: u16 = 1;
    pub const METHOD: u16 = 2;
    pub const HOST: u16 = 3;
    pub const PATH_PREFIX: u16 = 4;
    pub const PATH_SUFFIX: u16 = 5;
    pub const PATH_EXACT: u16 = 6;
    pub const TARGET: u16 = 7;
    pub const POLICY: u16 = 8;
    pub const HITS: u16 = 9;
}

/// `TCP_HANDOFF_A_LIMITS_*` (limits are decoded by position in
/// `LIMITS_NAMES`).
pub mod limits_attr {
    pub const HEAD_TIMEOUT_MS: u16 = 1;
    pub const HANDOFF_TIMEOUT_MS: u16 = 2;
    pub const LINGER_MS: u16 = 3;
    pub const MAX_CONNS: u16 = 4;
    pub const IDLE_TIMEOUT_MS: u16 = 5;
    pub const LARD_LOW: u16 = 6;
    pub const LARD_HIGH: u16 = 7;
    pub const LARD_SHRINK_MS: u16 = 8;
}

/// `TCP_HANDOFF_A_STATS_*` (stats are decoded by position in
/// `STATS_NAMES`; the tests pin the two together).
#[cfg(test)]
pub mod stats_attr {
    pub const NODES: u16 = 1;
    pub const SERVICES: u16 = 2;
    pub const RX_PACKETS: u16 = 3;
    pub const RX_BYTES: u16 = 4;
    pub const TX_PACKETS: u16 = 5;
    pub const TX_BYTES: u16 = 6;
    pub const RX_MALFORMED: u16 = 7;
    pub const TABLE_FULL: u16 = 19;
    pub const HANDOFF_OK: u16 = 21;
    pub const PEERS_UP: u16 = 47;
    pub const ICMP_FORWARDED: u16 = 51;
}

/// The `stats` attribute set, in type order (type = index + 1).
const STATS_NAMES: [&str; 65] = [
    "nodes",
    "services",
    "rx-packets",
    "rx-bytes",
    "tx-packets",
    "tx-bytes",
    "rx-malformed",
    "pending",
    "entries",
    "heads-http",
    "heads-bad",
    "heads-not-http",
    "heads-too-large",
    "heads-closed",
    "heads-timeout",
    "local",
    "held-packets",
    "reinject-errors",
    "table-full",
    "handoff-requests",
    "handoff-ok",
    "handoff-nak",
    "handoff-timeout",
    "handoff-no-channel",
    "fallback-local",
    "fwd-packets",
    "fwd-bytes",
    "fe-tx-dropped",
    "fwd-errors",
    "be-requests",
    "be-accepted",
    "be-refused",
    "be-tx-packets",
    "be-tx-bytes",
    "terminate-sent",
    "terminate-received",
    "ctl-connects",
    "ctl-disconnects",
    "ctl-msgs-in",
    "ctl-msgs-out",
    "ctl-bad-msgs",
    "ctl-refused",
    "fe-forwarding",
    "fe-tombstones",
    "fe-in-flight",
    "be-conns",
    "peers-up",
    "utcp-listeners",
    "utcp-vetoed",
    "utcp-unshimmed",
    "icmp-forwarded",
    "reconciled",
    "handoff-in-doubt",
    "in-doubt-reset",
    "ack-resent",
    "ctl-auth-failed",
    "idle-expired",
    "lard-assigned",
    "lard-replicated",
    "lard-shrunk",
    "lard-evicted",
    "later-requests",
    "migrations",
    "migrate-refused",
    "migrated-out",
];

/// The `rule` attribute set, in type order.
const RULE_NAMES: [&str; 9] = [
    "prio",
    "method",
    "host",
    "path-prefix",
    "path-suffix",
    "path-exact",
    "target",
    "policy",
    "hits",
];

/// The `limits` attribute set, in type order (type = index + 1).
pub const LIMITS_NAMES: [&str; 8] = [
    "head-timeout-ms",
    "handoff-timeout-ms",
    "linger-ms",
    "max-conns",
    "idle-timeout-ms",
    "lard-low",
    "lard-high",
    "lard-shrink-ms",
];

/// `enum tcp_handoff_rule_policy`, in order: spec name and the short name
/// of the text output.
const RULE_POLICIES: [(&str, &str); 5] = [
    ("local", "local"),
    ("round-robin", "rr"),
    ("least-conn", "lc"),
    ("hash-url", "hash"),
    ("lard", "lard"),
];

/// `enum tcp_handoff_node_state`, in order.
const NODE_STATES: [&str; 3] = ["down", "connecting", "up"];

/// The attribute sets of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrSet {
    Node,
    Service,
    Stats,
    Rule,
    Limits,
    Event,
    Conn,
    Key,
}

impl AttrSet {
    /// Attribute names as in the spec, indexed by type - 1.
    fn names(self) -> &'static [&'static str] {
        match self {
            AttrSet::Node => &[
                "id",
                "addr4",
                "addr6",
                "port",
                "weight",
                "local",
                "state",
                "handoff-ok",
                "handoff-failed",
                "fwd-packets",
                "fwd-bytes",
                "be-accepted",
                "be-tx-packets",
                "be-tx-bytes",
                "load-conns",
                "load-in-flight",
            ],
            AttrSet::Service => &[
                "addr4",
                "addr6",
                "port",
                "conns",
                "handoff-ok",
                "handoff-failed",
                "local",
                "rx-packets",
                "rx-bytes",
                "tx-packets",
                "tx-bytes",
            ],
            AttrSet::Stats => &STATS_NAMES,
            AttrSet::Rule => &RULE_NAMES,
            AttrSet::Limits => &LIMITS_NAMES,
            AttrSet::Event => &[
                "kind",
                "node",
                "client-addr4",
                "client-port",
                "reason",
                "latency-us",
                "client-addr6",
            ],
            AttrSet::Conn => &[
                "backend",
                "state",
                "client-addr4",
                "client-port",
                "service-addr4",
                "service-port",
                "local-addr4",
                "node",
                "id",
                "age-ms",
                "client-addr6",
                "service-addr6",
                "local-addr6",
            ],
            AttrSet::Key => &["id", "secret", "current"],
        }
    }

    /// The spec name of attribute `ty`, if known.
    pub fn attr_name(self, ty: u32) -> Option<&'static str> {
        let idx = usize::try_from(ty).ok()?.checked_sub(1)?;
        self.names().get(idx).copied()
    }
}

/// Operations of the family: number, spec name, attribute set.
const COMMANDS: [(u8, &str, AttrSet); 18] = [
    (cmd::NODE_ADD, "node-add", AttrSet::Node),
    (cmd::NODE_DEL, "node-del", AttrSet::Node),
    (cmd::NODE_GET, "node-get", AttrSet::Node),
    (cmd::SERVICE_ADD, "service-add", AttrSet::Service),
    (cmd::SERVICE_DEL, "service-del", AttrSet::Service),
    (cmd::SERVICE_GET, "service-get", AttrSet::Service),
    (cmd::STATS_GET, "stats-get", AttrSet::Stats),
    (cmd::RULE_ADD, "rule-add", AttrSet::Rule),
    (cmd::RULE_DEL, "rule-del", AttrSet::Rule),
    (cmd::RULE_GET, "rule-get", AttrSet::Rule),
    (cmd::LIMITS_SET, "limits-set", AttrSet::Limits),
    (cmd::LIMITS_GET, "limits-get", AttrSet::Limits),
    (cmd::CONN_GET, "conn-get", AttrSet::Conn),
    (cmd::STATS_RESET, "stats-reset", AttrSet::Stats),
    (cmd::KEY_ADD, "key-add", AttrSet::Key),
    (cmd::KEY_DEL, "key-del", AttrSet::Key),
    (cmd::KEY_SET, "key-set", AttrSet::Key),
    (cmd::KEY_GET, "key-get", AttrSet::Key),
];

/// The spec names of the operations, for messages.
pub fn cmd_names() -> Vec<&'static str> {
    COMMANDS.iter().map(|(_, n, _)| *n).collect()
}

/// The command number for a spec name such as "node-add" (underscores are
/// accepted for dashes, case is ignored).
pub fn cmd_by_name(name: &str) -> Option<u8> {
    let name = name.to_ascii_lowercase().replace('_', "-");
    COMMANDS
        .iter()
        .find(|(_, n, _)| *n == name)
        .map(|(c, _, _)| *c)
}

/// The attribute set that command `cmd` uses.
pub fn cmd_attr_set(cmd: u8) -> Option<AttrSet> {
    COMMANDS
        .iter()
        .find(|(c, _, _)| *c == cmd)
        .map(|(_, _, s)| *s)
}

/// Builds a request of this family.
pub fn request(family: u16, flags: u16, cmd: u8) -> Request {
    Request::new(family, flags, cmd, FAMILY_VERSION)
}

/// Adds an address as `addr4` (the four bytes as they are, i.e. network
/// byte order) or `addr6` (16 bytes).
fn put_addr(req: &mut Request, addr4: u16, addr6: u16, addr: IpAddr) {
    let res = match addr {
        IpAddr::V4(a) => req.put(addr4, &a.octets()),
        IpAddr::V6(a) => req.put(addr6, &a.octets()),
    };
    debug_assert!(res.is_ok());
}

/// What `node add` sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    pub id: u32,
    pub addr: IpAddr,
    pub port: u16,
    pub weight: Option<u32>,
    pub local: bool,
}

/// Appends the attributes of a node-add request.
pub fn put_node(req: &mut Request, node: &NodeSpec) {
    req.put_u32(node_attr::ID, node.id);
    put_addr(req, node_attr::ADDR4, node_attr::ADDR6, node.addr);
    req.put_be16(node_attr::PORT, node.port);
    if let Some(w) = node.weight {
        req.put_u32(node_attr::WEIGHT, w);
    }
    if node.local {
        req.put_flag(node_attr::LOCAL);
    }
}

/// Appends the attributes of a service-add/service-del request.
pub fn put_service(req: &mut Request, svc: SocketAddr) {
    put_addr(req, service_attr::ADDR4, service_attr::ADDR6, svc.ip());
    req.put_be16(service_attr::PORT, svc.port());
}

/// `enum tcp_handoff_rule_policy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulePolicy {
    Local = 0,
    RoundRobin = 1,
    LeastConn = 2,
    HashUrl = 3,
    Lard = 4,
}

/// A rule's path condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSpec {
    Prefix(String),
    Suffix(String),
    Exact(String),
}

/// What `rule add` sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub prio: u32,
    pub method: Option<String>,
    pub host: Option<String>,
    pub path: Option<PathSpec>,
    pub policy: RulePolicy,
    pub targets: Vec<u32>,
}

/// Appends the attributes of a rule-add request.
pub fn put_rule(req: &mut Request, rule: &RuleSpec) -> Result<(), AttrTooLong> {
    req.put_u32(rule_attr::PRIO, rule.prio);
    if let Some(m) = &rule.method {
        req.put_str(rule_attr::METHOD, m)?;
    }
    if let Some(h) = &rule.host {
        req.put_str(rule_attr::HOST, h)?;
    }
    match &rule.path {
        Some(PathSpec::Prefix(p)) => req.put_str(rule_attr::PATH_PREFIX, p)?,
        Some(PathSpec::Suffix(p)) => req.put_str(rule_attr::PATH_SUFFIX, p)?,
        Some(PathSpec::Exact(p)) => req.put_str(rule_attr::PATH_EXACT, p)?,
        None => {}
    }
    for t in &rule.targets {
        req.put_u32(rule_attr::TARGET, *t);
    }
    req.put_u32(rule_attr::POLICY, rule.policy as u32);
    Ok(())
}

/// What `limits set` sends: `(attribute type, value)` for each limit given.
pub fn put_limits(req: &mut Request, limits: &[(u16, u32)]) {
    for (ty, v) in limits {
        req.put_u32(*ty, *v);
    }
}

/// Adds context to a length error of a known attribute.
fn named<T>(set: AttrSet, attr: &Attr<'_>, r: Result<T, ParseError>) -> Result<T, ParseError> {
    r.map_err(|e| {
        let name = set.attr_name(attr.kind().into()).unwrap_or("?");
        ParseError(format!("{} attribute {}: {}", set_name(set), name, e.0))
    })
}

fn set_name(set: AttrSet) -> &'static str {
    match set {
        AttrSet::Node => "node",
        AttrSet::Service => "service",
        AttrSet::Stats => "stats",
        AttrSet::Rule => "rule",
        AttrSet::Limits => "limits",
        AttrSet::Event => "event",
        AttrSet::Conn => "conn",
        AttrSet::Key => "key",
    }
}

/// The state of a node as text: the spec name, or the number if this tool
/// does not know it.
pub fn state_name(state: u32) -> String {
    usize::try_from(state)
        .ok()
        .and_then(|i| NODE_STATES.get(i))
        .map(|s| (*s).to_string())
        .unwrap_or_else(|| state.to_string())
}

/// A node as reported by node-get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    pub id: u32,
    pub addr: Option<IpAddr>,
    pub port: Option<u16>,
    pub weight: Option<u32>,
    pub local: bool,
    pub state: Option<String>,
}

impl Node {
    pub fn parse(reply: &GenlReply) -> Result<Node, ParseError> {
        let set = AttrSet::Node;
        let mut id = None;
        let mut node = Node {
            id: 0,
            addr: None,
            port: None,
            weight: None,
            local: false,
            state: None,
        };
        for attr in reply.attrs() {
            let attr = attr?;
            match attr.kind() {
                node_attr::ID => id = Some(named(set, &attr, attr.get_u32())?),
                node_attr::ADDR4 => {
                    let b = named(set, &attr, attr.get_bytes::<4>())?;
                    node.addr = Some(IpAddr::V4(Ipv4Addr::from(b)));
                }
                node_attr::ADDR6 => {
                    let b = named(set, &attr, attr.get_bytes::<16>())?;
                    node.addr = Some(IpAddr::V6(Ipv6Addr::from(b)));
                }
                node_attr::PORT => node.port = Some(named(set, &attr, attr.get_be16())?),
                node_attr::WEIGHT => node.weight = Some(named(set, &attr, attr.get_u32())?),
                node_attr::LOCAL => node.local = true,
                node_attr::STATE => {
                    node.state = Some(state_name(named(set, &attr, attr.get_u32())?));
                }
                _ => {} // newer attribute: ignore
            }
        }
        node.id = id.ok_or_else(|| ParseError("node without an id attribute".into()))?;
        Ok(node)
    }

    /// The one-line text form.
    pub fn to_line(&self) -> String {
        let mut s = format!("node {}", self.id);
        if let Some(a) = self.addr {
            s.push_str(&format!(" addr {}", a));
        }
        if let Some(p) = self.port {
            s.push_str(&format!(" port {}", p));
        }
        if let Some(w) = self.weight {
            s.push_str(&format!(" weight {}", w));
        }
        if let Some(st) = &self.state {
            s.push_str(&format!(" state {}", st));
        }
        if self.local {
            s.push_str(" local");
        }
        s
    }

    /// The `node add` command that creates this node (for `save`).
    pub fn to_command(&self) -> String {
        let mut s = format!("node add {}", self.id);
        if let Some(a) = self.addr {
            s.push_str(&format!(" addr {a}"));
        }
        if let Some(p) = self.port {
            s.push_str(&format!(" port {p}"));
        }
        if let Some(w) = self.weight {
            s.push_str(&format!(" weight {w}"));
        }
        if self.local {
            s.push_str(" local");
        }
        s
    }
}

/// A service as reported by service-get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub addr: IpAddr,
    pub port: u16,
}

impl Service {
    pub fn parse(reply: &GenlReply) -> Result<Service, ParseError> {
        let set = AttrSet::Service;
        let mut addr = None;
        let mut port = None;
        for attr in reply.attrs() {
            let attr = attr?;
            match attr.kind() {
                service_attr::ADDR4 => {
                    let b = named(set, &attr, attr.get_bytes::<4>())?;
                    addr = Some(IpAddr::V4(Ipv4Addr::from(b)));
                }
                service_attr::ADDR6 => {
                    let b = named(set, &attr, attr.get_bytes::<16>())?;
                    addr = Some(IpAddr::V6(Ipv6Addr::from(b)));
                }
                service_attr::PORT => port = Some(named(set, &attr, attr.get_be16())?),
                _ => {}
            }
        }
        match (addr, port) {
            (Some(addr), Some(port)) => Ok(Service { addr, port }),
            _ => Err(ParseError("service without address or port".into())),
        }
    }

    /// The one-line text form (`[v6]:port` for IPv6).
    pub fn to_line(&self) -> String {
        format!("service {}", SocketAddr::new(self.addr, self.port))
    }

    /// The `service add` command that creates this service (for `save`).
    pub fn to_command(&self) -> String {
        format!("service add {}", SocketAddr::new(self.addr, self.port))
    }
}

/// The counters of a node-get or service-get reply: attributes `first`,
/// `first + 1`, ... in the order of a `*_COUNTERS` list (absent ones are 0).
fn read_counters<const N: usize>(
    reply: &GenlReply,
    set: AttrSet,
    first: u16,
) -> Result<[u64; N], ParseError> {
    let mut values = [0; N];
    for attr in reply.attrs() {
        let attr = attr?;
        let Some(i) = attr.kind().checked_sub(first) else {
            continue;
        };
        if let Some(v) = values.get_mut(usize::from(i)) {
            *v = named(set, &attr, attr.get_uint())?;
        }
    }
    Ok(values)
}

/// Right-aligned columns, one per counter name or value.
fn counter_columns<T: std::fmt::Display>(cells: impl IntoIterator<Item = T>) -> String {
    cells.into_iter().map(|c| format!(" {c:>14}")).collect()
}

/// Serializes `head` entries then one entry per counter.
fn serialize_counters<S: serde::Serializer>(
    s: S,
    head: &[(&str, serde_json::Value)],
    names: &[&str],
    values: &[u64],
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(head.len() + names.len()))?;
    for (k, v) in head {
        m.serialize_entry(k, v)?;
    }
    for (n, v) in names.iter().zip(values) {
        m.serialize_entry(n, v)?;
    }
    m.end()
}

/// One node's counters, as node-get reports them (`stats show nodes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCounters {
    pub id: u32,
    pub state: String,
    pub values: [u64; NODE_COUNTERS.len()],
}

impl NodeCounters {
    pub fn parse(reply: &GenlReply) -> Result<NodeCounters, ParseError> {
        let node = Node::parse(reply)?;
        Ok(NodeCounters {
            id: node.id,
            state: node.state.unwrap_or_else(|| "-".into()),
            values: read_counters(reply, AttrSet::Node, node_attr::HANDOFF_OK)?,
        })
    }

    /// The column names of [`NodeCounters::to_line`].
    pub fn header() -> String {
        format!("{:<6} {:<11}", "node", "state") + &counter_columns(NODE_COUNTERS)
    }

    pub fn to_line(&self) -> String {
        format!("{:<6} {:<11}", self.id, self.state) + &counter_columns(self.values)
    }
}

impl Serialize for NodeCounters {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let head = [("id", self.id.into()), ("state", self.state.clone().into())];
        serialize_counters(s, &head, &NODE_COUNTERS, &self.values)
    }
}

/// One service's counters, as service-get reports them (`stats show
/// services`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCounters {
    pub service: SocketAddr,
    pub values: [u64; SERVICE_COUNTERS.len()],
}

impl ServiceCounters {
    pub fn parse(reply: &GenlReply) -> Result<ServiceCounters, ParseError> {
        let svc = Service::parse(reply)?;
        Ok(ServiceCounters {
            service: SocketAddr::new(svc.addr, svc.port),
            values: read_counters(reply, AttrSet::Service, service_attr::CONNS)?,
        })
    }

    /// The column names of [`ServiceCounters::to_line`].
    pub fn header() -> String {
        format!("{:<22}", "service") + &counter_columns(SERVICE_COUNTERS)
    }

    pub fn to_line(&self) -> String {
        format!("{:<22}", self.service.to_string()) + &counter_columns(self.values)
    }
}

impl Serialize for ServiceCounters {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let head = [("service", self.service.to_string().into())];
        serialize_counters(s, &head, &SERVICE_COUNTERS, &self.values)
    }
}

/// A connection as conn-get reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conn {
    /// `frontend` (received here) or `backend` (taken over here).
    pub side: &'static str,
    /// The spec's `conn-state` name, or the number if unknown.
    pub state: String,
    pub client: SocketAddr,
    pub service: SocketAddr,
    /// Back-end: its own address for the connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<IpAddr>,
    /// The peer node (back-end handed to, or front-end it came from).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub age_ms: u64,
}

impl Conn {
    pub fn parse(reply: &GenlReply) -> Result<Conn, ParseError> {
        let set = AttrSet::Conn;
        let mut backend = false;
        let (mut state, mut caddr, mut cport, mut saddr, mut sport) =
            (None, None, None, None, None);
        let (mut local, mut node, mut id, mut age) = (None, None, None, None);
        for attr in reply.attrs() {
            let attr = attr?;
            match attr.kind() {
                conn_attr::BACKEND => backend = true,
                conn_attr::STATE => state = Some(named(set, &attr, attr.get_u32())?),
                conn_attr::CLIENT_ADDR4 => {
                    caddr = Some(IpAddr::V4(Ipv4Addr::from(named(
                        set,
                        &attr,
                        attr.get_bytes::<4>(),
                    )?)))
                }
                conn_attr::CLIENT_ADDR6 => {
                    caddr = Some(IpAddr::V6(Ipv6Addr::from(named(
                        set,
                        &attr,
                        attr.get_bytes::<16>(),
                    )?)))
                }
                conn_attr::CLIENT_PORT => cport = Some(named(set, &attr, attr.get_be16())?),
                conn_attr::SERVICE_ADDR4 => {
                    saddr = Some(IpAddr::V4(Ipv4Addr::from(named(
                        set,
                        &attr,
                        attr.get_bytes::<4>(),
                    )?)))
                }
                conn_attr::SERVICE_ADDR6 => {
                    saddr = Some(IpAddr::V6(Ipv6Addr::from(named(
                        set,
                        &attr,
                        attr.get_bytes::<16>(),
                    )?)))
                }
                conn_attr::SERVICE_PORT => sport = Some(named(set, &attr, attr.get_be16())?),
                conn_attr::LOCAL_ADDR4 => {
                    local = Some(IpAddr::V4(Ipv4Addr::from(named(
                        set,
                        &attr,
                        attr.get_bytes::<4>(),
                    )?)))
                }
                conn_attr::LOCAL_ADDR6 => {
                    local = Some(IpAddr::V6(Ipv6Addr::from(named(
                        set,
                        &attr,
                        attr.get_bytes::<16>(),
                    )?)))
                }
                conn_attr::NODE => node = Some(named(set, &attr, attr.get_u32())?),
                conn_attr::ID => id = Some(named(set, &attr, attr.get_uint())?),
                conn_attr::AGE_MS => age = Some(named(set, &attr, attr.get_uint())?),
                _ => {}
            }
        }
        let (Some(state), Some(caddr), Some(cport), Some(saddr), Some(sport), Some(age)) =
            (state, caddr, cport, saddr, sport, age)
        else {
            return Err(ParseError(
                "connection without state, client, service or age".into(),
            ));
        };
        Ok(Conn {
            side: if backend { "backend" } else { "frontend" },
            state: CONN_STATES
                .get(state as usize)
                .map_or_else(|| state.to_string(), |s| (*s).to_string()),
            client: SocketAddr::new(caddr, cport),
            service: SocketAddr::new(saddr, sport),
            local,
            node,
            id,
            age_ms: age,
        })
    }

    /// The text form: one line, columns as in the header [`Conn::HEADER`].
    pub fn to_line(&self) -> String {
        let node = self.node.map_or_else(|| "-".to_string(), |n| n.to_string());
        let id = self
            .id
            .map_or_else(|| "-".to_string(), |i| format!("{i:#x}"));
        format!(
            "{:<9} {:<12} {:<22} {:<22} {:>5} {:>8.1}s {}",
            self.side,
            self.state,
            self.client.to_string(),
            self.service.to_string(),
            node,
            self.age_ms as f64 / 1000.0,
            id
        )
    }

    /// The column names of [`Conn::to_line`].
    pub const HEADER: &'static str =
        "side      state        client                 service                 node       age id";
}

/// A rule as reported by rule-get. `None` conditions match anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub prio: u32,
    pub method: Option<String>,
    pub host: Option<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub exact: Option<String>,
    /// The spec name (`round-robin`), or the number if unknown.
    pub policy: String,
    pub targets: Vec<u32>,
    pub hits: u64,
}

/// The policy of a rule as text: `(spec name, short name)`, or the number
/// twice if this tool does not know it.
fn policy_names(policy: u32) -> (String, String) {
    usize::try_from(policy)
        .ok()
        .and_then(|i| RULE_POLICIES.get(i))
        .map(|(long, short)| ((*long).to_string(), (*short).to_string()))
        .unwrap_or_else(|| (policy.to_string(), policy.to_string()))
}

impl Rule {
    pub fn parse(reply: &GenlReply) -> Result<Rule, ParseError> {
        let set = AttrSet::Rule;
        let mut prio = None;
        let mut rule = Rule {
            prio: 0,
            method: None,
            host: None,
            prefix: None,
            suffix: None,
            exact: None,
            policy: String::new(),
            targets: Vec::new(),
            hits: 0,
        };
        let mut policy = None;
        for attr in reply.attrs() {
            let attr = attr?;
            match attr.kind() {
                rule_attr::PRIO => prio = Some(named(set, &attr, attr.get_u32())?),
                rule_attr::METHOD => rule.method = Some(attr.get_string()),
                rule_attr::HOST => rule.host = Some(attr.get_string()),
                rule_attr::PATH_PREFIX => rule.prefix = Some(attr.get_string()),
                rule_attr::PATH_SUFFIX => rule.suffix = Some(attr.get_string()),
                rule_attr::PATH_EXACT => rule.exact = Some(attr.get_string()),
                rule_attr::TARGET => rule.targets.push(named(set, &attr, attr.get_u32())?),
                rule_attr::POLICY => policy = Some(named(set, &attr, attr.get_u32())?),
                rule_attr::HITS => rule.hits = named(set, &attr, attr.get_uint())?,
                _ => {} // newer attribute: ignore
            }
        }
        rule.prio = prio.ok_or_else(|| ParseError("rule without a prio attribute".into()))?;
        let policy = policy.ok_or_else(|| ParseError("rule without a policy attribute".into()))?;
        rule.policy = policy_names(policy).0;
        Ok(rule)
    }

    /// The one-line text form: `rule PRIO method M host H [prefix P |
    /// suffix S | exact E] policy POLICY [to ID,...] hits N`, with `*` for
    /// any method or host.
    pub fn to_line(&self) -> String {
        let mut s = format!(
            "rule {} method {} host {}",
            self.prio,
            self.method.as_deref().unwrap_or("*"),
            self.host.as_deref().unwrap_or("*")
        );
        for (kw, v) in [
            ("prefix", &self.prefix),
            ("suffix", &self.suffix),
            ("exact", &self.exact),
        ] {
            if let Some(v) = v {
                s.push_str(&format!(" {kw} {v}"));
            }
        }
        let short = RULE_POLICIES
            .iter()
            .find(|(long, _)| *long == self.policy)
            .map_or(self.policy.as_str(), |(_, short)| short);
        s.push_str(&format!(" policy {short}"));
        if !self.targets.is_empty() {
            let ids: Vec<String> = self.targets.iter().map(u32::to_string).collect();
            s.push_str(&format!(" to {}", ids.join(",")));
        }
        s.push_str(&format!(" hits {}", self.hits));
        s
    }

    /// The `rule add` command that creates this rule (for `save`); values
    /// are escaped so that a batch reads them back unchanged.
    pub fn to_command(&self) -> String {
        let mut s = format!("rule add prio {}", self.prio);
        for (kw, v) in [
            ("method", &self.method),
            ("host", &self.host),
            ("prefix", &self.prefix),
            ("suffix", &self.suffix),
            ("exact", &self.exact),
        ] {
            if let Some(v) = v {
                s.push_str(&format!(" {kw} {}", batch_escape(v)));
            }
        }
        let short = RULE_POLICIES
            .iter()
            .find(|(long, _)| *long == self.policy)
            .map_or(self.policy.as_str(), |(_, short)| short);
        s.push_str(&format!(" policy {short}"));
        if !self.targets.is_empty() {
            let ids: Vec<String> = self.targets.iter().map(u32::to_string).collect();
            s.push_str(&format!(" to {}", ids.join(",")));
        }
        s
    }
}

/// `v` as one word of a batch line: blanks, quotes, `#` and backslashes
/// get a backslash; the empty string is `''`.
pub fn batch_escape(v: &str) -> String {
    if v.is_empty() {
        return "''".into();
    }
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if c.is_whitespace() || matches!(c, '\'' | '"' | '#' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Reads a reply whose attributes are numbered 1..=N in spec order (the
/// `limits` and `stats` sets) into one slot each; attributes beyond N (a
/// newer module) are ignored, absent ones stay `None`.
fn parse_numbered<T: Copy, const N: usize>(
    reply: &GenlReply,
    set: AttrSet,
    read: impl Fn(&Attr<'_>) -> Result<T, ParseError>,
) -> Result<[Option<T>; N], ParseError> {
    let mut values = [None; N];
    for attr in reply.attrs() {
        let attr = attr?;
        let idx = usize::from(attr.kind()).wrapping_sub(1);
        if let Some(slot) = values.get_mut(idx) {
            *slot = Some(named(set, &attr, read(&attr))?);
        }
    }
    Ok(values)
}

/// `(name, value)` for each present slot, in spec order.
fn numbered_entries<T: Copy>(
    names: &[&'static str],
    values: &[Option<T>],
) -> Vec<(&'static str, T)> {
    names
        .iter()
        .zip(values)
        .filter_map(|(n, v)| v.map(|v| (*n, v)))
        .collect()
}

/// Serialises `(name, value)` pairs as one JSON object.
fn serialize_entries<S: serde::Serializer, T: Serialize>(
    s: S,
    entries: Vec<(&'static str, T)>,
) -> Result<S::Ok, S::Error> {
    Ordered(&entries).serialize(s)
}

/// `(name, value)` pairs as one JSON object, keys in the pairs' order (a
/// `serde_json::Map` would sort them by name): `stats show -j --rate`
/// lists its rates in spec order, as `stats show -j` lists its counters.
pub struct Ordered<'a, T>(pub &'a [(&'static str, T)]);

impl<T: Serialize> Serialize for Ordered<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The limits of limits-get, in spec order; absent attributes stay `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    values: [Option<u32>; LIMITS_NAMES.len()],
}

impl Limits {
    pub fn parse(reply: &GenlReply) -> Result<Limits, ParseError> {
        let values = parse_numbered(reply, AttrSet::Limits, |a| a.get_u32())?;
        Ok(Limits { values })
    }

    /// `(name, value)` for each limit present, in spec order.
    pub fn entries(&self) -> Vec<(&'static str, u32)> {
        numbered_entries(&LIMITS_NAMES, &self.values)
    }
}

impl Serialize for Limits {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_entries(s, self.entries())
    }
}

/// The counters of stats-get, in spec order; absent attributes stay `None`
/// and are not printed. Every counter is a `uint` (4 or 8 bytes); reading
/// `nodes` and `services` the same way keeps working if they ever widen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    values: [Option<u64>; STATS_NAMES.len()],
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            values: [None; STATS_NAMES.len()],
        }
    }
}

impl Stats {
    pub fn parse(reply: &GenlReply) -> Result<Stats, ParseError> {
        let values = parse_numbered(reply, AttrSet::Stats, |a| a.get_uint())?;
        Ok(Stats { values })
    }

    /// `(name, value)` for each counter present, in spec order.
    pub fn entries(&self) -> Vec<(&'static str, u64)> {
        numbered_entries(&STATS_NAMES, &self.values)
    }

    /// Per-second rates between `earlier` and `self`, `secs` apart, in
    /// spec order: gauges ([`STATS_GAUGES`]) as they are now, counters as
    /// their increase per second (0 when a counter went backwards: zeroed
    /// meanwhile).
    pub fn rates(&self, earlier: &Stats, secs: f64) -> Vec<(&'static str, f64)> {
        let before: std::collections::HashMap<_, _> = earlier.entries().into_iter().collect();
        self.entries()
            .into_iter()
            .map(|(name, now)| {
                let v = if STATS_GAUGES.contains(&name) {
                    now as f64
                } else {
                    let then = before.get(name).copied().unwrap_or(now);
                    now.saturating_sub(then) as f64 / secs
                };
                (name, v)
            })
            .collect()
    }
}

/// The entries of `stats-get` that are instantaneous values, not counters:
/// `stats-reset` leaves them alone and `--rate` shows them as they are.
pub const STATS_GAUGES: [&str; 10] = [
    "nodes",
    "services",
    "pending",
    "entries",
    "fe-forwarding",
    "fe-tombstones",
    "fe-in-flight",
    "be-conns",
    "peers-up",
    "utcp-listeners",
];

impl Serialize for Stats {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_entries(s, self.entries())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::{align4, parse_attrs, NLM_F_ACK, NLM_F_REQUEST};

    fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&ty.to_ne_bytes());
        a.extend_from_slice(payload);
        a.resize(align4(a.len()), 0);
        a
    }

    fn reply(cmd: u8, attrs: Vec<u8>) -> GenlReply {
        GenlReply {
            cmd,
            version: 1,
            attrs,
        }
    }

    #[test]
    fn conn_ipv6_decoding() {
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap().octets();
        let mut a = nla(conn_attr::BACKEND, &[]);
        a.extend(nla(conn_attr::STATE, &9u32.to_ne_bytes()));
        a.extend(nla(conn_attr::CLIENT_ADDR6, &v6("2001:db8:1::100")));
        a.extend(nla(conn_attr::CLIENT_PORT, &40000u16.to_be_bytes()));
        a.extend(nla(conn_attr::SERVICE_ADDR6, &v6("2001:db8:1::1")));
        a.extend(nla(conn_attr::SERVICE_PORT, &80u16.to_be_bytes()));
        a.extend(nla(conn_attr::LOCAL_ADDR6, &v6("2001:db8:1::2")));
        a.extend(nla(conn_attr::AGE_MS, &5u64.to_ne_bytes()));
        let c = Conn::parse(&reply(cmd::CONN_GET, a)).unwrap();
        assert_eq!(c.side, "backend");
        assert_eq!(c.state, "established");
        assert_eq!(c.client.to_string(), "[2001:db8:1::100]:40000");
        assert_eq!(c.service.to_string(), "[2001:db8:1::1]:80");
        assert_eq!(c.local.unwrap().to_string(), "2001:db8:1::2");
    }

    #[test]
    fn events_decode_and_print() {
        let mut attrs = nla(event_attr::KIND, &0u32.to_ne_bytes());
        attrs.extend(nla(event_attr::NODE, &2u32.to_ne_bytes()));
        attrs.extend(nla(event_attr::CLIENT_ADDR4, &[198, 51, 100, 100]));
        attrs.extend(nla(event_attr::CLIENT_PORT, &40000u16.to_be_bytes()));
        attrs.extend(nla(event_attr::LATENCY_US, &3000u32.to_ne_bytes()));
        let ev = Event::parse(&reply(cmd::EVENT_NTF, attrs)).unwrap();
        assert_eq!(
            ev.to_line(),
            "handoff done node 2 client 198.51.100.100:40000 latency 3000us"
        );
        let mut attrs = nla(event_attr::KIND, &3u32.to_ne_bytes());
        attrs.extend(nla(event_attr::NODE, &3u32.to_ne_bytes()));
        attrs.extend(nla(event_attr::REASON, b"peer silent\0"));
        let ev = Event::parse(&reply(cmd::EVENT_NTF, attrs)).unwrap();
        assert_eq!(ev.to_line(), "peer down node 3 reason peer silent");
        assert_eq!(
            serde_json::to_string(&ev).unwrap(),
            r#"{"event":"peer-down","node":3,"client":null,"reason":"peer silent","latency-us":null}"#
        );
        // An IPv6 client.
        let mut attrs = nla(event_attr::KIND, &0u32.to_ne_bytes());
        attrs.extend(nla(event_attr::NODE, &2u32.to_ne_bytes()));
        attrs.extend(nla(
            event_attr::CLIENT_ADDR6,
            &"2001:db8:1::100".parse::<Ipv6Addr>().unwrap().octets(),
        ));
        attrs.extend(nla(event_attr::CLIENT_PORT, &40000u16.to_be_bytes()));
        let ev = Event::parse(&reply(cmd::EVENT_NTF, attrs)).unwrap();
        assert_eq!(
            ev.to_line(),
            "handoff done node 2 client [2001:db8:1::100]:40000"
        );
        // A kind this tool does not know is shown by number.
        let attrs = nla(event_attr::KIND, &9u32.to_ne_bytes());
        assert_eq!(Event::parse(&reply(13, attrs)).unwrap().to_line(), "9");
        assert!(Event::parse(&reply(13, Vec::new())).is_err());
    }

    #[test]
    fn numbers_match_uapi_header() {
        // Values of include/uapi/linux/tcp_handoff.h.
        assert_eq!(FAMILY_NAME, "tcp_handoff");
        assert_eq!(FAMILY_VERSION, 1);
        assert_eq!(cmd::NODE_ADD, 1);
        assert_eq!(cmd::STATS_GET, 7);
        assert_eq!(node_attr::STATE, 7);
        assert_eq!(service_attr::PORT, 3);
        assert_eq!(stats_attr::RX_MALFORMED, 7);
        assert_eq!(cmd_by_name("node-add"), Some(1));
        assert_eq!(cmd_by_name("NODE_DEL"), Some(2));
        assert_eq!(cmd_by_name("service-get"), Some(6));
        assert_eq!(cmd_by_name("stats-get"), Some(7));
        assert_eq!(cmd_by_name("bogus"), None);
        assert_eq!(cmd_attr_set(4), Some(AttrSet::Service));
        assert_eq!(cmd_attr_set(0), None);
        assert_eq!(AttrSet::Node.attr_name(4), Some("port"));
        assert_eq!(AttrSet::Node.attr_name(0), None);
        assert_eq!(AttrSet::Node.attr_name(8), Some("handoff-ok"));
        assert_eq!(AttrSet::Node.attr_name(17), None);
        assert_eq!(AttrSet::Stats.attr_name(3), Some("rx-packets"));
        assert_eq!(cmd::EVENT_NTF, 13);
        assert_eq!(event_attr::LATENCY_US, 6);
        assert_eq!(AttrSet::Event.attr_name(4), Some("client-port"));
        assert_eq!(EVENT_KINDS[3], "peer-down");
    }

    #[test]
    fn node_add_ipv4_encoding() {
        let mut req = request(0x1d, NLM_F_REQUEST | NLM_F_ACK, cmd::NODE_ADD);
        put_node(
            &mut req,
            &NodeSpec {
                id: 2,
                addr: "198.51.100.2".parse().unwrap(),
                port: 7000,
                weight: Some(3),
                local: true,
            },
        );
        let b = req.as_bytes();
        assert_eq!(&b[16..20], &[cmd::NODE_ADD, 1, 0, 0]);
        let attrs = parse_attrs(&b[20..]).unwrap();
        let kinds: Vec<u16> = attrs.iter().map(|a| a.kind()).collect();
        assert_eq!(kinds, [1, 2, 4, 5, 6]);
        assert_eq!(attrs[0].payload, &2u32.to_ne_bytes());
        // addr4: the address bytes as they are (network byte order)
        assert_eq!(attrs[1].payload, &[198, 51, 100, 2]);
        // port: big endian
        assert_eq!(attrs[2].payload, &[0x1b, 0x58]);
        assert_eq!(attrs[3].payload, &3u32.to_ne_bytes());
        assert!(attrs[4].payload.is_empty());
        // total: 20 + 8 (id) + 8 (addr4) + 8 (port, padded) + 8 + 4
        assert_eq!(b.len(), 56);
    }

    #[test]
    fn node_add_ipv6_without_optional() {
        let mut req = request(0x1d, NLM_F_REQUEST | NLM_F_ACK, cmd::NODE_ADD);
        put_node(
            &mut req,
            &NodeSpec {
                id: 9,
                addr: "2001:db8::2".parse().unwrap(),
                port: 1,
                weight: None,
                local: false,
            },
        );
        let attrs = parse_attrs(&req.as_bytes()[20..]).unwrap();
        let kinds: Vec<u16> = attrs.iter().map(|a| a.kind()).collect();
        assert_eq!(kinds, [1, 3, 4]);
        assert_eq!(
            attrs[1].payload,
            &"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(attrs[2].payload, &[0, 1]);
    }

    #[test]
    fn service_encoding() {
        let mut req = request(0x1d, NLM_F_REQUEST | NLM_F_ACK, cmd::SERVICE_ADD);
        put_service(&mut req, "198.51.100.10:80".parse().unwrap());
        let attrs = parse_attrs(&req.as_bytes()[20..]).unwrap();
        assert_eq!(attrs[0].kind(), service_attr::ADDR4);
        assert_eq!(attrs[0].payload, &[198, 51, 100, 10]);
        assert_eq!(attrs[1].kind(), service_attr::PORT);
        assert_eq!(attrs[1].payload, &[0, 80]);

        let mut req = request(0x1d, NLM_F_REQUEST | NLM_F_ACK, cmd::SERVICE_DEL);
        put_service(&mut req, "[2001:db8::1]:443".parse().unwrap());
        let attrs = parse_attrs(&req.as_bytes()[20..]).unwrap();
        assert_eq!(attrs[0].kind(), service_attr::ADDR6);
        assert_eq!(attrs[0].payload.len(), 16);
        assert_eq!(attrs[1].payload, &443u16.to_be_bytes());
    }

    #[test]
    fn node_reply_decoding() {
        let mut a = nla(node_attr::ID, &2u32.to_ne_bytes());
        a.extend(nla(node_attr::ADDR4, &[198, 51, 100, 2]));
        a.extend(nla(node_attr::PORT, &7000u16.to_be_bytes()));
        a.extend(nla(node_attr::WEIGHT, &1u32.to_ne_bytes()));
        a.extend(nla(node_attr::STATE, &0u32.to_ne_bytes()));
        a.extend(nla(42, &[1, 2, 3])); // unknown: ignored
        let node = Node::parse(&reply(cmd::NODE_GET, a)).unwrap();
        assert_eq!(
            node.to_line(),
            "node 2 addr 198.51.100.2 port 7000 weight 1 state down"
        );
        assert_eq!(
            serde_json::to_string(&node).unwrap(),
            r#"{"id":2,"addr":"198.51.100.2","port":7000,"weight":1,"local":false,"state":"down"}"#
        );

        let mut a = nla(node_attr::ID, &1u32.to_ne_bytes());
        a.extend(nla(
            node_attr::ADDR6,
            &"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets(),
        ));
        a.extend(nla(node_attr::PORT, &7000u16.to_be_bytes()));
        a.extend(nla(node_attr::WEIGHT, &5u32.to_ne_bytes()));
        a.extend(nla(node_attr::LOCAL, &[]));
        a.extend(nla(node_attr::STATE, &2u32.to_ne_bytes()));
        let node = Node::parse(&reply(cmd::NODE_GET, a)).unwrap();
        assert_eq!(
            node.to_line(),
            "node 1 addr 2001:db8::1 port 7000 weight 5 state up local"
        );
        assert!(node.local);
    }

    #[test]
    fn node_reply_errors() {
        // no id
        let a = nla(node_attr::PORT, &7000u16.to_be_bytes());
        assert!(Node::parse(&reply(cmd::NODE_GET, a)).is_err());
        // short addr6
        let mut a = nla(node_attr::ID, &1u32.to_ne_bytes());
        a.extend(nla(node_attr::ADDR6, &[0; 4]));
        let e = Node::parse(&reply(cmd::NODE_GET, a)).unwrap_err();
        assert!(e.0.contains("addr6"), "{}", e.0);
        // unknown state number is shown as a number
        assert_eq!(state_name(1), "connecting");
        assert_eq!(state_name(17), "17");
    }

    #[test]
    fn service_reply_decoding() {
        let mut a = nla(service_attr::ADDR4, &[198, 51, 100, 10]);
        a.extend(nla(service_attr::PORT, &80u16.to_be_bytes()));
        let s = Service::parse(&reply(cmd::SERVICE_GET, a)).unwrap();
        assert_eq!(s.to_line(), "service 198.51.100.10:80");
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"addr":"198.51.100.10","port":80}"#
        );
        let mut a = nla(
            service_attr::ADDR6,
            &"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets(),
        );
        a.extend(nla(99, &[]));
        a.extend(nla(service_attr::PORT, &80u16.to_be_bytes()));
        let s = Service::parse(&reply(cmd::SERVICE_GET, a)).unwrap();
        assert_eq!(s.to_line(), "service [2001:db8::1]:80");
        let a = nla(service_attr::PORT, &80u16.to_be_bytes());
        assert!(Service::parse(&reply(cmd::SERVICE_GET, a)).is_err());
    }

    #[test]
    fn stats_decoding_uint_sizes_and_unknown() {
        let mut a = nla(stats_attr::NODES, &1u32.to_ne_bytes());
        a.extend(nla(stats_attr::SERVICES, &2u32.to_ne_bytes()));
        a.extend(nla(stats_attr::RX_PACKETS, &10u32.to_ne_bytes()));
        a.extend(nla(stats_attr::RX_BYTES, &(5u64 << 32).to_ne_bytes()));
        a.extend(nla(stats_attr::TX_PACKETS, &0u32.to_ne_bytes()));
        a.extend(nla(100, &[0; 12]));
        a.extend(nla(stats_attr::TX_BYTES, &7u64.to_ne_bytes()));
        a.extend(nla(stats_attr::RX_MALFORMED, &0u32.to_ne_bytes()));
        let st = Stats::parse(&reply(cmd::STATS_GET, a)).unwrap();
        assert_eq!(
            st.entries(),
            vec![
                ("nodes", 1),
                ("services", 2),
                ("rx-packets", 10),
                ("rx-bytes", 5 << 32),
                ("tx-packets", 0),
                ("tx-bytes", 7),
                ("rx-malformed", 0),
            ]
        );
        assert_eq!(
            serde_json::to_string(&st).unwrap(),
            r#"{"nodes":1,"services":2,"rx-packets":10,"rx-bytes":21474836480,"tx-packets":0,"tx-bytes":7,"rx-malformed":0}"#
        );
        let a = nla(stats_attr::RX_BYTES, &[0; 3]);
        let e = Stats::parse(&reply(cmd::STATS_GET, a)).unwrap_err();
        assert!(e.0.contains("rx-bytes"), "{}", e.0);
        let partial = Stats::parse(&reply(cmd::STATS_GET, nla(2, &3u32.to_ne_bytes()))).unwrap();
        assert_eq!(
            serde_json::to_string(&partial).unwrap(),
            r#"{"services":3}"#
        );
    }

    #[test]
    fn node_counters() {
        let mut a = nla(node_attr::ID, &2u32.to_ne_bytes());
        a.extend(nla(node_attr::STATE, &2u32.to_ne_bytes()));
        a.extend(nla(node_attr::HANDOFF_OK, &3u32.to_ne_bytes()));
        a.extend(nla(node_attr::HANDOFF_OK + 3, &(1u64 << 33).to_ne_bytes()));
        a.extend(nla(node_attr::HANDOFF_OK + 7, &5u32.to_ne_bytes()));
        a.extend(nla(node_attr::HANDOFF_OK + 9, &7u32.to_ne_bytes()));
        let n = NodeCounters::parse(&reply(cmd::NODE_GET, a)).unwrap();
        assert_eq!(n.id, 2);
        assert_eq!(n.state, "up");
        assert_eq!(n.values, [3, 0, 0, 1 << 33, 0, 0, 0, 5, 0]);
        assert_eq!(
            serde_json::to_string(&n).unwrap(),
            r#"{"id":2,"state":"up","handoff-ok":3,"handoff-failed":0,"fwd-packets":0,"fwd-bytes":8589934592,"be-accepted":0,"be-tx-packets":0,"be-tx-bytes":0,"load-conns":5,"load-in-flight":0}"#
        );
        assert!(n.to_line().starts_with("2      up "));
    }

    #[test]
    fn service_counters() {
        let mut a = nla(service_attr::ADDR4, &[198, 51, 100, 1]);
        a.extend(nla(service_attr::PORT, &80u16.to_be_bytes()));
        a.extend(nla(service_attr::CONNS, &5u64.to_ne_bytes()));
        a.extend(nla(service_attr::CONNS + 7, &9u32.to_ne_bytes()));
        let s = ServiceCounters::parse(&reply(cmd::SERVICE_GET, a)).unwrap();
        assert_eq!(s.service.to_string(), "198.51.100.1:80");
        assert_eq!(s.values, [5, 0, 0, 0, 0, 0, 0, 9]);
        assert!(serde_json::to_string(&s)
            .unwrap()
            .starts_with(r#"{"service":"198.51.100.1:80","conns":5,"#));
    }

    #[test]
    fn stats_rates() {
        let mk = |nodes: u32, rx: u64| {
            let mut a = nla(stats_attr::NODES, &nodes.to_ne_bytes());
            a.extend(nla(stats_attr::RX_PACKETS, &rx.to_ne_bytes()));
            Stats::parse(&reply(cmd::STATS_GET, a)).unwrap()
        };
        // A gauge as it is now, a counter per second.
        assert_eq!(
            mk(3, 150).rates(&mk(2, 50), 2.0),
            vec![("nodes", 3.0), ("rx-packets", 50.0)]
        );
        // Zeroed meanwhile: no negative rate.
        assert_eq!(mk(3, 10).rates(&mk(3, 50), 1.0)[1], ("rx-packets", 0.0));
        // -j keeps the spec's order, as stats show -j does (handoff-ok
        // sorts before rx-packets by name, comes after it in the spec).
        let mk2 = |rx: u64, ok: u64| {
            let mut a = nla(stats_attr::RX_PACKETS, &rx.to_ne_bytes());
            a.extend(nla(stats_attr::HANDOFF_OK, &ok.to_ne_bytes()));
            Stats::parse(&reply(cmd::STATS_GET, a)).unwrap()
        };
        assert_eq!(
            serde_json::to_string(&mk2(20, 4)).unwrap(),
            r#"{"rx-packets":20,"handoff-ok":4}"#
        );
        assert_eq!(
            serde_json::to_string(&Ordered(&mk2(20, 4).rates(&mk2(0, 0), 2.0))).unwrap(),
            r#"{"rx-packets":10.0,"handoff-ok":2.0}"#
        );
    }

    #[test]
    fn new_numbers_match_uapi_header() {
        assert_eq!(cmd::RULE_ADD, 8);
        assert_eq!(cmd::LIMITS_GET, 12);
        assert_eq!(cmd_by_name("rule-add"), Some(8));
        assert_eq!(cmd_by_name("rule-del"), Some(9));
        assert_eq!(cmd_by_name("rule-get"), Some(10));
        assert_eq!(cmd_by_name("limits-set"), Some(11));
        assert_eq!(cmd_by_name("LIMITS_GET"), Some(12));
        assert_eq!(cmd_attr_set(8), Some(AttrSet::Rule));
        assert_eq!(cmd_attr_set(11), Some(AttrSet::Limits));
        assert_eq!(cmd_names().len(), 18);
        assert_eq!(cmd_by_name("key-add"), Some(16));
        assert_eq!(cmd_by_name("key-get"), Some(19));
        assert_eq!(cmd_attr_set(18), Some(AttrSet::Key));
        assert_eq!(AttrSet::Key.attr_name(3), Some("current"));
        assert_eq!(AttrSet::Stats.attr_name(56), Some("ctl-auth-failed"));
        assert_eq!(cmd_by_name("stats-reset"), Some(15));
        for g in STATS_GAUGES {
            assert!(STATS_NAMES.contains(&g), "{g}");
        }
        assert_eq!(cmd_by_name("conn-get"), Some(14));
        assert_eq!(cmd_attr_set(14), Some(AttrSet::Conn));
        assert_eq!(
            AttrSet::Conn.attr_name(conn_attr::AGE_MS.into()),
            Some("age-ms")
        );
        assert_eq!(
            AttrSet::Conn.attr_name(conn_attr::CLIENT_ADDR6.into()),
            Some("client-addr6")
        );
        assert_eq!(
            AttrSet::Conn.attr_name(conn_attr::LOCAL_ADDR6.into()),
            Some("local-addr6")
        );
        assert_eq!(AttrSet::Conn.attr_name(14), None);
        assert_eq!(
            AttrSet::Event.attr_name(event_attr::CLIENT_ADDR6.into()),
            Some("client-addr6")
        );
        let header = include_str!("../../../include/uapi/linux/tcp_handoff.h");
        let after = |name: &str| header.split(name).nth(1).unwrap_or("");
        // The uapi enums list the attributes in order after the first.
        assert!(after("TCP_HANDOFF_A_CONN_BACKEND = 1,")
            .trim_start()
            .starts_with("TCP_HANDOFF_A_CONN_STATE,"));
        assert!(after("TCP_HANDOFF_A_CONN_ID,")
            .trim_start()
            .starts_with("TCP_HANDOFF_A_CONN_AGE_MS,"));
        assert!(after("TCP_HANDOFF_A_CONN_AGE_MS,")
            .trim_start()
            .starts_with("TCP_HANDOFF_A_CONN_CLIENT_ADDR6,"));
        assert!(after("TCP_HANDOFF_A_CONN_SERVICE_ADDR6,")
            .trim_start()
            .starts_with("TCP_HANDOFF_A_CONN_LOCAL_ADDR6,"));
        assert!(after("TCP_HANDOFF_A_EVENT_LATENCY_US,")
            .trim_start()
            .starts_with("TCP_HANDOFF_A_EVENT_CLIENT_ADDR6,"));
        assert!(after("TCP_HANDOFF_CMD_LIMITS_GET,")
            .trim_start()
            .starts_with("TCP_HANDOFF_CMD_EVENT_NTF,"));
        assert!(after("TCP_HANDOFF_CMD_EVENT_NTF,")
            .trim_start()
            .starts_with("TCP_HANDOFF_CMD_CONN_GET,"));
        assert!(after("TCP_HANDOFF_CMD_CONN_GET,")
            .trim_start()
            .starts_with("TCP_HANDOFF_CMD_STATS_RESET,"));
        assert_eq!(
            AttrSet::Rule.attr_name(rule_attr::TARGET.into()),
            Some("target")
        );
        assert_eq!(
            AttrSet::Rule.attr_name(rule_attr::HITS.into()),
            Some("hits")
        );
        assert_eq!(
            AttrSet::Limits.attr_name(limits_attr::MAX_CONNS.into()),
            Some("max-conns")
        );
        assert_eq!(
            AttrSet::Limits.attr_name(limits_attr::HEAD_TIMEOUT_MS.into()),
            Some("head-timeout-ms")
        );
        assert_eq!(
            AttrSet::Limits.attr_name(limits_attr::HANDOFF_TIMEOUT_MS.into()),
            Some("handoff-timeout-ms")
        );
        assert_eq!(
            AttrSet::Limits.attr_name(limits_attr::LINGER_MS.into()),
            Some("linger-ms")
        );
        assert_eq!(
            AttrSet::Stats.attr_name(stats_attr::TABLE_FULL.into()),
            Some("table-full")
        );
        assert_eq!(
            AttrSet::Stats.attr_name(stats_attr::HANDOFF_OK.into()),
            Some("handoff-ok")
        );
        assert_eq!(
            AttrSet::Stats.attr_name(stats_attr::PEERS_UP.into()),
            Some("peers-up")
        );
        assert_eq!(
            AttrSet::Stats.attr_name(stats_attr::ICMP_FORWARDED.into()),
            Some("icmp-forwarded")
        );
        assert_eq!(AttrSet::Stats.attr_name(55), Some("ack-resent"));
        assert_eq!(AttrSet::Stats.attr_name(57), Some("idle-expired"));
        assert_eq!(AttrSet::Stats.attr_name(61), Some("lard-evicted"));
        assert_eq!(AttrSet::Node.attr_name(16), Some("load-in-flight"));
        assert_eq!(AttrSet::Limits.attr_name(8), Some("lard-shrink-ms"));
        assert_eq!(AttrSet::Stats.attr_name(65), Some("migrated-out"));
        assert_eq!(AttrSet::Stats.attr_name(66), None);
        assert_eq!(RulePolicy::HashUrl as u32, 3);
        assert_eq!(RulePolicy::Lard as u32, 4);
    }

    #[test]
    fn rule_add_encoding() {
        let mut req = request(0x1d, NLM_F_REQUEST | NLM_F_ACK, cmd::RULE_ADD);
        put_rule(
            &mut req,
            &RuleSpec {
                prio: 10,
                method: Some("GET".into()),
                host: None,
                path: Some(PathSpec::Suffix(".jpg".into())),
                policy: RulePolicy::RoundRobin,
                targets: vec![2, 3],
            },
        )
        .unwrap();
        let attrs = parse_attrs(&req.as_bytes()[20..]).unwrap();
        let kinds: Vec<u16> = attrs.iter().map(|a| a.kind()).collect();
        assert_eq!(
            kinds,
            [
                rule_attr::PRIO,
                rule_attr::METHOD,
                rule_attr::PATH_SUFFIX,
                rule_attr::TARGET,
                rule_attr::TARGET,
                rule_attr::POLICY
            ]
        );
        assert_eq!(attrs[0].payload, &10u32.to_ne_bytes());
        // strings are NUL-terminated (NLA_NUL_STRING)
        assert_eq!(attrs[1].payload, b"GET\0");
        assert_eq!(attrs[2].payload, b".jpg\0");
        assert_eq!(attrs[3].payload, &2u32.to_ne_bytes());
        assert_eq!(attrs[4].payload, &3u32.to_ne_bytes());
        assert_eq!(attrs[5].payload, &1u32.to_ne_bytes());
    }

    #[test]
    fn rule_reply_decoding() {
        let mut a = nla(rule_attr::PRIO, &10u32.to_ne_bytes());
        a.extend(nla(rule_attr::METHOD, b"GET\0"));
        a.extend(nla(rule_attr::PATH_PREFIX, b"/a/\0"));
        a.extend(nla(rule_attr::TARGET, &2u32.to_ne_bytes()));
        a.extend(nla(rule_attr::TARGET, &3u32.to_ne_bytes()));
        a.extend(nla(rule_attr::POLICY, &1u32.to_ne_bytes()));
        a.extend(nla(rule_attr::HITS, &0u32.to_ne_bytes()));
        a.extend(nla(42, &[1])); // unknown: ignored
        let r = Rule::parse(&reply(cmd::RULE_GET, a)).unwrap();
        assert_eq!(
            r.to_line(),
            "rule 10 method GET host * prefix /a/ policy rr to 2,3 hits 0"
        );
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"prio":10,"method":"GET","host":null,"prefix":"/a/","suffix":null,"exact":null,"policy":"round-robin","targets":[2,3],"hits":0}"#
        );

        let mut a = nla(rule_attr::PRIO, &1u32.to_ne_bytes());
        a.extend(nla(rule_attr::HOST, b"*.example.com\0"));
        a.extend(nla(rule_attr::PATH_EXACT, b"/\0"));
        a.extend(nla(rule_attr::POLICY, &0u32.to_ne_bytes()));
        a.extend(nla(rule_attr::HITS, &(7u64 << 32).to_ne_bytes()));
        let r = Rule::parse(&reply(cmd::RULE_GET, a)).unwrap();
        assert_eq!(
            r.to_line(),
            "rule 1 method * host *.example.com exact / policy local hits 30064771072"
        );
        let mut a = nla(rule_attr::PRIO, &1u32.to_ne_bytes());
        a.extend(nla(rule_attr::POLICY, &9u32.to_ne_bytes()));
        a.extend(nla(rule_attr::TARGET, &5u32.to_ne_bytes()));
        let r = Rule::parse(&reply(cmd::RULE_GET, a)).unwrap();
        assert_eq!(r.to_line(), "rule 1 method * host * policy 9 to 5 hits 0");

        // no prio, no policy, short target
        let a = nla(rule_attr::POLICY, &0u32.to_ne_bytes());
        assert!(Rule::parse(&reply(cmd::RULE_GET, a)).is_err());
        let a = nla(rule_attr::PRIO, &0u32.to_ne_bytes());
        assert!(Rule::parse(&reply(cmd::RULE_GET, a)).is_err());
        let mut a = nla(rule_attr::PRIO, &0u32.to_ne_bytes());
        a.extend(nla(rule_attr::POLICY, &0u32.to_ne_bytes()));
        a.extend(nla(rule_attr::TARGET, &[1, 2]));
        let e = Rule::parse(&reply(cmd::RULE_GET, a)).unwrap_err();
        assert!(e.0.contains("target"), "{}", e.0);
    }

    #[test]
    fn limits_encoding_and_decoding() {
        let mut req = request(0x1d, NLM_F_REQUEST | NLM_F_ACK, cmd::LIMITS_SET);
        put_limits(&mut req, &[(limits_attr::LINGER_MS, 500)]);
        let attrs = parse_attrs(&req.as_bytes()[20..]).unwrap();
        assert_eq!(attrs.len(), 1);
        assert_eq!(attrs[0].kind(), limits_attr::LINGER_MS);
        assert_eq!(attrs[0].payload, &500u32.to_ne_bytes());

        let mut a = nla(limits_attr::HEAD_TIMEOUT_MS, &2000u32.to_ne_bytes());
        a.extend(nla(limits_attr::HANDOFF_TIMEOUT_MS, &3000u32.to_ne_bytes()));
        a.extend(nla(limits_attr::LINGER_MS, &60000u32.to_ne_bytes()));
        a.extend(nla(9, &[0; 4]));
        a.extend(nla(limits_attr::MAX_CONNS, &16384u32.to_ne_bytes()));
        let l = Limits::parse(&reply(cmd::LIMITS_GET, a)).unwrap();
        assert_eq!(
            l.entries(),
            vec![
                ("head-timeout-ms", 2000),
                ("handoff-timeout-ms", 3000),
                ("linger-ms", 60000),
                ("max-conns", 16384),
            ]
        );
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"{"head-timeout-ms":2000,"handoff-timeout-ms":3000,"linger-ms":60000,"max-conns":16384}"#
        );
        let a = nla(limits_attr::MAX_CONNS, &[0; 2]);
        let e = Limits::parse(&reply(cmd::LIMITS_GET, a)).unwrap_err();
        assert!(e.0.contains("max-conns"), "{}", e.0);
    }

    #[test]
    fn stats_decoding_new_counters() {
        let mut a = nla(stats_attr::HANDOFF_OK, &4u32.to_ne_bytes());
        a.extend(nla(stats_attr::PEERS_UP, &2u32.to_ne_bytes()));
        let st = Stats::parse(&reply(cmd::STATS_GET, a)).unwrap();
        assert_eq!(st.entries(), vec![("handoff-ok", 4), ("peers-up", 2)]);
    }
}

/// An event of the `events` group, as `monitor` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The spec name (`handoff-done`), or the number if unknown.
    pub event: String,
    pub node: Option<u32>,
    pub client: Option<SocketAddr>,
    pub reason: Option<String>,
    #[serde(rename = "latency-us")]
    pub latency_us: Option<u64>,
}

impl Event {
    pub fn parse(reply: &GenlReply) -> Result<Event, ParseError> {
        let set = AttrSet::Event;
        let (mut kind, mut node, mut addr, mut port, mut reason, mut latency) =
            (None, None, None, None, None, None);
        for attr in reply.attrs() {
            let attr = attr?;
            match attr.kind() {
                event_attr::KIND => kind = Some(named(set, &attr, attr.get_u32())?),
                event_attr::NODE => node = Some(named(set, &attr, attr.get_u32())?),
                event_attr::CLIENT_ADDR4 => {
                    addr = Some(IpAddr::V4(Ipv4Addr::from(named(
                        set,
                        &attr,
                        attr.get_bytes::<4>(),
                    )?)))
                }
                event_attr::CLIENT_ADDR6 => {
                    addr = Some(IpAddr::V6(Ipv6Addr::from(named(
                        set,
                        &attr,
                        attr.get_bytes::<16>(),
                    )?)))
                }
                event_attr::CLIENT_PORT => port = Some(named(set, &attr, attr.get_be16())?),
                event_attr::REASON => reason = Some(attr.get_string()),
                event_attr::LATENCY_US => latency = Some(named(set, &attr, attr.get_uint())?),
                _ => {}
            }
        }
        let Some(kind) = kind else {
            return Err(ParseError("event without a kind".into()));
        };
        let event = usize::try_from(kind)
            .ok()
            .and_then(|i| EVENT_KINDS.get(i))
            .map_or_else(|| kind.to_string(), |n| (*n).to_string());
        Ok(Event {
            event,
            node,
            client: addr.zip(port).map(|(a, p)| SocketAddr::new(a, p)),
            reason,
            latency_us: latency,
        })
    }

    /// One line, like `ip monitor`: `handoff done node 2 client A:P
    /// latency 3000us`.
    pub fn to_line(&self) -> String {
        let mut s = self.event.replacen('-', " ", 1);
        if let Some(n) = self.node {
            s.push_str(&format!(" node {n}"));
        }
        if let Some(c) = self.client {
            s.push_str(&format!(" client {c}"));
        }
        if let Some(r) = &self.reason {
            s.push_str(&format!(" reason {r}"));
        }
        if let Some(l) = self.latency_us {
            s.push_str(&format!(" latency {l}us"));
        }
        s
    }
}

/// A key as key-get reports it: its id and whether it is current (the
/// secret never comes back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Key {
    pub id: u32,
    pub current: bool,
}

impl Key {
    pub fn parse(reply: &GenlReply) -> Result<Key, ParseError> {
        let mut id = None;
        let mut current = false;
        for attr in reply.attrs() {
            let attr = attr?;
            match attr.kind() {
                key_attr::ID => id = Some(named(AttrSet::Key, &attr, attr.get_u32())?),
                key_attr::CURRENT => current = true,
                _ => {}
            }
        }
        let id = id.ok_or_else(|| ParseError("key: no id attribute".into()))?;
        Ok(Key { id, current })
    }

    /// `key 1 current`, like the command that sets it.
    pub fn to_line(&self) -> String {
        if self.current {
            format!("key {} current", self.id)
        } else {
            format!("key {}", self.id)
        }
    }
}
