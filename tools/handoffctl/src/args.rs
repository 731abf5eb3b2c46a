// SPDX-License-Identifier: GPL-2.0

//! Parsing of command line values: ids, ports, addresses, the keyword lists
//! of `node add`, `rule add` and `limits set`, and the arguments of the
//! debug command `raw`.
//!
//! Why not clap value parsers: the grammar is iproute2 style (`addr ADDR
//! port PORT [weight W] [local]`), which clap does not model, and the tool
//! must reject whatever the spec's policy would reject (port 0, id 0, weight
//! above 65535, bad addresses, strings too long, limits out of range) itself, with a clear message and exit code 2,
//! instead of leaving it to the kernel.  Every function here is pure so that
//! it is unit tested.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::handoff::{cmd_by_name, cmd_names, limits_attr, PathSpec, RulePolicy, RuleSpec};
use crate::handoff::{Conn, NodeSpec, CONN_STATES};
use crate::netlink::NLA_MAX_PAYLOAD;

/// An invalid command line, detected by the tool itself (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage<T>(msg: String) -> Result<T, UsageError> {
    Err(UsageError(msg))
}

/// Parses a decimal number within `min..=max`; `what` names it in errors.
pub fn parse_num(what: &str, s: &str, min: u64, max: u64) -> Result<u64, UsageError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return usage(format!(
            "invalid {what} \"{s}\": expected a decimal number between {min} and {max}"
        ));
    }
    match s.parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => usage(format!(
            "invalid {what} \"{s}\": must be between {min} and {max}"
        )),
    }
}

/// A node id: 1 to 2^32-1 (0 means "the local node" and is reserved).
pub fn parse_id(s: &str) -> Result<u32, UsageError> {
    parse_num("node id", s, 1, u32::MAX.into()).map(|v| v as u32)
}

/// A TCP port: 1 to 65535.
pub fn parse_port(s: &str) -> Result<u16, UsageError> {
    parse_num("port", s, 1, u16::MAX.into()).map(|v| v as u16)
}

/// A node weight: 0 to 65535 (the spec's policy maximum).
pub fn parse_weight(s: &str) -> Result<u32, UsageError> {
    parse_num("weight", s, 0, 65535).map(|v| v as u32)
}

/// An IPv4 or IPv6 address literal (no zone index, no brackets).
pub fn parse_addr(s: &str) -> Result<IpAddr, UsageError> {
    if let Ok(a) = s.parse::<Ipv4Addr>() {
        return Ok(IpAddr::V4(a));
    }
    if let Ok(a) = s.parse::<Ipv6Addr>() {
        return Ok(IpAddr::V6(a));
    }
    usage(format!(
        "invalid address \"{s}\": expected an IPv4 or IPv6 address literal"
    ))
}

/// A service: `ADDR:PORT` for IPv4, `[ADDR]:PORT` for IPv6.
pub fn parse_service(s: &str) -> Result<SocketAddr, UsageError> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        match rest.split_once("]:") {
            Some((h, p)) => {
                let a = h.parse::<Ipv6Addr>().or_else(|_| {
                    usage(format!(
                        "invalid service \"{s}\": \"{h}\" is not an IPv6 address"
                    ))
                })?;
                (IpAddr::V6(a), p)
            }
            None => return usage(format!("invalid service \"{s}\": expected [IPV6]:PORT")),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return usage(format!(
                    "invalid service \"{s}\": write IPv6 services as [ADDR]:PORT"
                ))
            }
            Some((h, p)) => {
                let a = h.parse::<Ipv4Addr>().or_else(|_| {
                    usage(format!(
                        "invalid service \"{s}\": \"{h}\" is not an IPv4 address"
                    ))
                })?;
                (IpAddr::V4(a), p)
            }
            None => {
                return usage(format!(
                    "invalid service \"{s}\": expected ADDR:PORT or [ADDR]:PORT"
                ))
            }
        }
    };
    Ok(SocketAddr::new(host, parse_port(port)?))
}

/// `node add ID addr ADDR port PORT [weight W] [local]`; keywords may come
/// in any order but only once.
pub fn parse_node_add(id: &str, args: &[String]) -> Result<NodeSpec, UsageError> {
    let id = parse_id(id)?;
    let mut addr = None;
    let mut port = None;
    let mut weight = None;
    let mut local = false;
    let mut it = args.iter();
    while let Some(kw) = it.next() {
        let mut value = |kw: &str| match it.next() {
            Some(v) => Ok(v.clone()),
            None => usage(format!("node add: \"{kw}\" needs a value")),
        };
        let dup = |kw: &str| usage(format!("node add: \"{kw}\" given more than once"));
        match kw.as_str() {
            "addr" | "address" => {
                if addr.is_some() {
                    return dup(kw);
                }
                addr = Some(parse_addr(&value(kw)?)?);
            }
            "port" => {
                if port.is_some() {
                    return dup(kw);
                }
                port = Some(parse_port(&value(kw)?)?);
            }
            "weight" => {
                if weight.is_some() {
                    return dup(kw);
                }
                weight = Some(parse_weight(&value(kw)?)?);
            }
            "local" => {
                if local {
                    return dup(kw);
                }
                local = true;
            }
            other => {
                return usage(format!(
                    "node add: unknown keyword \"{other}\" (expected addr, port, weight or local)"
                ))
            }
        }
    }
    let Some(addr) = addr else {
        return usage("node add: missing \"addr ADDR\"".into());
    };
    let Some(port) = port else {
        return usage("node add: missing \"port PORT\"".into());
    };
    Ok(NodeSpec {
        id,
        addr,
        port,
        weight,
        local,
    })
}

/// A rule's prio: 0 to 2^32-1.
pub fn parse_prio(s: &str) -> Result<u32, UsageError> {
    parse_num("prio", s, 0, u32::MAX.into()).map(|v| v as u32)
}

/// Longest method token (the spec's max-len of `method`).
const MAX_METHOD_LEN: usize = 32;
/// Longest host pattern or path (the spec's max-len).
const MAX_RULE_STRING: usize = 255;

/// A rule policy by its spec name or the short name the text output uses.
pub fn parse_policy(s: &str) -> Result<RulePolicy, UsageError> {
    Ok(match s {
        "local" => RulePolicy::Local,
        "rr" | "round-robin" => RulePolicy::RoundRobin,
        "lc" | "least-conn" => RulePolicy::LeastConn,
        "hash" | "hash-url" => RulePolicy::HashUrl,
        "lard" => RulePolicy::Lard,
        _ => {
            return usage(format!(
                "invalid policy \"{s}\": expected local, rr (round-robin), lc (least-conn), \
                 hash (hash-url) or lard"
            ))
        }
    })
}

/// The targets of `to ID[,ID...]`: node ids, 0 (the local node) allowed.
pub fn parse_targets(s: &str) -> Result<Vec<u32>, UsageError> {
    s.split(',')
        .map(|id| parse_num("target node id", id, 0, u32::MAX.into()).map(|v| v as u32))
        .collect()
}

/// `rule add prio N [method M] [host H] [prefix P | suffix S | exact E]
/// policy POLICY [to ID[,ID...]]`; keywords may come in any order but only
/// once. `method *` and `host *` mean any (the text output's notation).
pub fn parse_rule_add(args: &[String]) -> Result<RuleSpec, UsageError> {
    let mut prio = None;
    let mut method = None;
    let mut host = None;
    let mut path: Option<PathSpec> = None;
    let mut policy = None;
    let mut targets = None;
    let mut it = args.iter();
    while let Some(kw) = it.next() {
        let mut value = |kw: &str| match it.next() {
            Some(v) => Ok(v.clone()),
            None => usage(format!("rule add: \"{kw}\" needs a value")),
        };
        let dup = |kw: &str| usage(format!("rule add: \"{kw}\" given more than once"));
        let long = |kw: &str, v: &str, max: usize| {
            if v.len() > max {
                usage(format!("rule add: the {kw} is longer than {max} bytes"))
            } else {
                Ok(())
            }
        };
        match kw.as_str() {
            "prio" | "priority" | "pref" => {
                if prio.is_some() {
                    return dup(kw);
                }
                prio = Some(parse_prio(&value(kw)?)?);
            }
            "method" => {
                if method.is_some() {
                    return dup(kw);
                }
                let v = value(kw)?;
                long(kw, &v, MAX_METHOD_LEN)?;
                method = Some(v);
            }
            "host" => {
                if host.is_some() {
                    return dup(kw);
                }
                let v = value(kw)?;
                long(kw, &v, MAX_RULE_STRING)?;
                host = Some(v);
            }
            "prefix" | "suffix" | "exact" => {
                if path.is_some() {
                    return usage(
                        "rule add: give at most one of prefix, suffix and exact".to_string(),
                    );
                }
                let v = value(kw)?;
                long("path", &v, MAX_RULE_STRING)?;
                path = Some(match kw.as_str() {
                    "prefix" => PathSpec::Prefix(v),
                    "suffix" => PathSpec::Suffix(v),
                    _ => PathSpec::Exact(v),
                });
            }
            "policy" => {
                if policy.is_some() {
                    return dup(kw);
                }
                policy = Some(parse_policy(&value(kw)?)?);
            }
            "to" => {
                if targets.is_some() {
                    return dup(kw);
                }
                targets = Some(parse_targets(&value(kw)?)?);
            }
            other => {
                return usage(format!(
                    "rule add: unknown keyword \"{other}\" (expected prio, method, host, prefix, \
                     suffix, exact, policy or to)"
                ))
            }
        }
    }
    let Some(prio) = prio else {
        return usage("rule add: missing \"prio N\"".into());
    };
    let Some(policy) = policy else {
        return usage("rule add: missing \"policy POLICY\"".into());
    };
    Ok(RuleSpec {
        prio,
        method: method.filter(|m| m != "*"),
        host: host.filter(|h| h != "*"),
        path,
        policy,
        targets: targets.unwrap_or_default(),
    })
}

/// `rule del prio N` (or `rule del N`).
pub fn parse_rule_del(args: &[String]) -> Result<u32, UsageError> {
    match args {
        [kw, n] if matches!(kw.as_str(), "prio" | "priority" | "pref") => parse_prio(n),
        [n] => parse_prio(n),
        _ => usage("rule del: expected \"prio N\"".into()),
    }
}

/// Range of the timeouts of `limits set` (the spec's checks).
const TIMEOUT_MS: (u64, u64) = (10, 600_000);
/// Range of `max-conns`.
const MAX_CONNS: (u64, u64) = (1, 1_048_576);
/// Range of `idle-timeout` (1 s to a day).
const IDLE_TIMEOUT_MS: (u64, u64) = (1000, 86_400_000);
/// Ranges of the lard thresholds (connections) and shrink period (ms).
const LARD_LOW: (u64, u64) = (1, 1_048_576);
const LARD_HIGH: (u64, u64) = (2, 1_048_576);
const LARD_SHRINK_MS: (u64, u64) = (100, 3_600_000);

/// `limits set [head-timeout MS] [handoff-timeout MS] [linger MS]
/// [max-conns N] [idle-timeout MS] [lard-low N] [lard-high N] [lard-shrink MS]` (the
/// spec names, with `-ms`, are accepted too): the
/// `(attribute type, value)` pairs to send, at least one.
pub fn parse_limits_set(args: &[String]) -> Result<Vec<(u16, u32)>, UsageError> {
    let mut out: Vec<(u16, u32)> = Vec::new();
    let mut it = args.iter();
    while let Some(kw) = it.next() {
        let (ty, name, (min, max)) = match kw.as_str() {
            "head-timeout" | "head-timeout-ms" => {
                (limits_attr::HEAD_TIMEOUT_MS, "head-timeout", TIMEOUT_MS)
            }
            "handoff-timeout" | "handoff-timeout-ms" => (
                limits_attr::HANDOFF_TIMEOUT_MS,
                "handoff-timeout",
                TIMEOUT_MS,
            ),
            "linger" | "linger-ms" => (limits_attr::LINGER_MS, "linger", TIMEOUT_MS),
            "max-conns" => (limits_attr::MAX_CONNS, "max-conns", MAX_CONNS),
            "idle-timeout" | "idle-timeout-ms" => (
                limits_attr::IDLE_TIMEOUT_MS,
                "idle-timeout",
                IDLE_TIMEOUT_MS,
            ),
            "lard-low" => (limits_attr::LARD_LOW, "lard-low", LARD_LOW),
            "lard-high" => (limits_attr::LARD_HIGH, "lard-high", LARD_HIGH),
            "lard-shrink" | "lard-shrink-ms" => {
                (limits_attr::LARD_SHRINK_MS, "lard-shrink", LARD_SHRINK_MS)
            }
            other => {
                return usage(format!(
                    "limits set: unknown keyword \"{other}\" (expected head-timeout, \
                     handoff-timeout, linger, max-conns, idle-timeout, lard-low, lard-high \
                     or lard-shrink)"
                ))
            }
        };
        if out.iter().any(|(t, _)| *t == ty) {
            return usage(format!("limits set: \"{name}\" given more than once"));
        }
        let Some(v) = it.next() else {
            return usage(format!("limits set: \"{name}\" needs a value"));
        };
        out.push((ty, parse_num(name, v, min, max)? as u32));
    }
    let given = |ty| out.iter().find(|(t, _)| *t == ty).map(|(_, v)| *v);
    if let (Some(low), Some(high)) = (given(limits_attr::LARD_LOW), given(limits_attr::LARD_HIGH)) {
        if low >= high {
            return usage(format!(
                "limits set: lard-low ({low}) must be below lard-high ({high})"
            ));
        }
    }
    if out.is_empty() {
        return usage(
            "limits set: nothing to set (give head-timeout, handoff-timeout, linger, max-conns, \
             idle-timeout, lard-low, lard-high or lard-shrink)"
                .into(),
        );
    }
    Ok(out)
}

/// The OP of `raw`: a command number (0-255) or a spec name like
/// `node-add`.
pub fn parse_raw_op(s: &str) -> Result<u8, UsageError> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return parse_num("command number", s, 0, 255).map(|v| v as u8);
    }
    cmd_by_name(s).ok_or_else(|| {
        UsageError(format!(
            "unknown operation \"{s}\": use a number or one of {}",
            cmd_names().join(", ")
        ))
    })
}

/// One `TYPE:HEX` argument of `raw`: the attribute type (decimal or `0x`
/// hex, flag bits allowed) and its payload as hex digits (may be empty).
pub fn parse_raw_attr(s: &str) -> Result<(u16, Vec<u8>), UsageError> {
    let Some((ty, hex)) = s.split_once(':') else {
        return usage(format!(
            "invalid attribute \"{s}\": expected TYPE:HEX, e.g. 99:00000001"
        ));
    };
    let ty = if let Some(h) = ty.strip_prefix("0x").or_else(|| ty.strip_prefix("0X")) {
        u16::from_str_radix(h, 16)
            .ok()
            .filter(|_| !h.starts_with('+'))
    } else {
        parse_num("attribute type", ty, 0, u16::MAX.into())
            .ok()
            .map(|v| v as u16)
    };
    let Some(ty) = ty else {
        return usage(format!(
            "invalid attribute \"{s}\": the type must be 0 to 65535"
        ));
    };
    let payload =
        parse_hex(hex).map_err(|e| UsageError(format!("invalid attribute \"{s}\": {e}")))?;
    if payload.len() > NLA_MAX_PAYLOAD {
        return usage(format!(
            "invalid attribute \"{s}\": payload longer than {NLA_MAX_PAYLOAD} bytes"
        ));
    }
    Ok((ty, payload))
}

fn parse_hex(hex: &str) -> Result<Vec<u8>, String> {
    let hex = hex.strip_prefix("0x").unwrap_or(hex);
    if hex.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    let digit = |c: u8| -> Result<u8, String> {
        (c as char)
            .to_digit(16)
            .map(|d| d as u8)
            .ok_or_else(|| format!("\"{}\" is not a hex digit", c as char))
    };
    hex.as_bytes()
        .chunks(2)
        .map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// Lower-case hex of `bytes`, for printing raw replies.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which connections `conn show` lists; `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnFilter {
    pub side: Option<&'static str>,
    pub state: Option<&'static str>,
    pub node: Option<u32>,
    pub client: Option<(IpAddr, Option<u16>)>,
    pub service: Option<SocketAddr>,
}

impl ConnFilter {
    /// Whether `c` passes the filter.
    pub fn matches(&self, c: &Conn) -> bool {
        self.side.is_none_or(|s| c.side == s)
            && self.state.is_none_or(|s| c.state == s)
            && self.node.is_none_or(|n| c.node == Some(n))
            && self
                .client
                .is_none_or(|(a, p)| c.client.ip() == a && p.is_none_or(|p| c.client.port() == p))
            && self.service.is_none_or(|s| c.service == s)
    }
}

/// The filters of `conn show`: `frontend` or `backend`, `state STATE`,
/// `node ID`, `client ADDR[:PORT]`, `service ADDR:PORT`.
pub fn parse_conn_filter(args: &[String]) -> Result<ConnFilter, UsageError> {
    let mut f = ConnFilter::default();
    let mut it = args.iter();
    while let Some(kw) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .map(String::as_str)
                .ok_or_else(|| UsageError(format!("conn show: \"{name}\" needs a value")))
        };
        match kw.as_str() {
            "frontend" | "fe" => f.side = Some("frontend"),
            "backend" | "be" => f.side = Some("backend"),
            "state" => {
                let v = value("state")?;
                let Some(s) = CONN_STATES.iter().find(|s| **s == v) else {
                    return usage(format!(
                        "conn show: unknown state \"{v}\" (expected one of {})",
                        CONN_STATES.join(", ")
                    ));
                };
                f.state = Some(s);
            }
            "node" => f.node = Some(parse_id(value("node")?)?),
            "client" => {
                let v = value("client")?;
                f.client = Some(match v.parse::<SocketAddr>() {
                    Ok(sa) => (sa.ip(), Some(sa.port())),
                    Err(_) => (parse_addr(v)?, None),
                });
            }
            "service" => f.service = Some(parse_service(value("service")?)?),
            other => {
                return usage(format!(
                    "conn show: unknown filter \"{other}\" (expected frontend, backend, \
                     state, node, client or service)"
                ))
            }
        }
    }
    Ok(f)
}

/// What `key add` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub id: u32,
    pub secret: Vec<u8>,
    pub current: bool,
}

/// A key id: 1 to 255 (carried in one byte of each frame).
pub fn parse_key_id(s: &str) -> Result<u32, UsageError> {
    parse_num("key id", s, 1, 255).map(|v| v as u32)
}

/// A key secret written as hex: 16 to 64 bytes.
pub fn parse_key_secret(hex: &str) -> Result<Vec<u8>, UsageError> {
    let hex = hex.trim();
    let bytes = parse_hex(hex).map_err(|e| UsageError(format!("key secret: {e}")))?;
    if !(16..=64).contains(&bytes.len()) {
        return usage(format!(
            "key secret: {} bytes; a key is 16 to 64 bytes (32 to 128 hex digits)",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// `key add ID (secret HEX | secret-file FILE) [current]`. A file holds
/// the hex digits (so the secret stays out of the process list);
/// `read_file` reads it.
pub fn parse_key_add(
    id: &str,
    args: &[String],
    read_file: impl Fn(&str) -> Result<String, String>,
) -> Result<KeySpec, UsageError> {
    let id = parse_key_id(id)?;
    let mut secret = None;
    let mut current = false;
    let mut it = args.iter();
    while let Some(kw) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .map(String::as_str)
                .ok_or_else(|| UsageError(format!("key add: \"{name}\" needs a value")))
        };
        match kw.as_str() {
            "secret" => secret = Some(parse_key_secret(value("secret")?)?),
            "secret-file" => {
                let path = value("secret-file")?;
                let text = read_file(path)
                    .map_err(|e| UsageError(format!("key add: cannot read \"{path}\": {e}")))?;
                secret = Some(parse_key_secret(&text)?);
            }
            "current" => current = true,
            other => {
                return usage(format!(
                "key add: unknown argument \"{other}\" (expected secret, secret-file or current)"
            ))
            }
        }
    }
    let secret = secret.ok_or_else(|| {
        UsageError("key add: a secret (secret HEX or secret-file FILE) is required".into())
    })?;
    Ok(KeySpec {
        id,
        secret,
        current,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn conn_filters() {
        let f =
            |a: &[&str]| parse_conn_filter(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(f(&[]).unwrap(), ConnFilter::default());
        let g = f(&[
            "backend",
            "state",
            "in-doubt",
            "node",
            "2",
            "client",
            "198.51.100.100:4000",
        ])
        .unwrap();
        assert_eq!(g.side, Some("backend"));
        assert_eq!(g.state, Some("in-doubt"));
        assert_eq!(g.node, Some(2));
        assert_eq!(
            g.client,
            Some(("198.51.100.100".parse().unwrap(), Some(4000)))
        );
        assert_eq!(
            f(&["client", "198.51.100.100"]).unwrap().client,
            Some(("198.51.100.100".parse().unwrap(), None))
        );
        assert!(f(&["state", "bogus"])
            .unwrap_err()
            .0
            .contains("unknown state"));
        assert!(f(&["node"]).unwrap_err().0.contains("needs a value"));
        assert!(f(&["node", "0"]).is_err());
        assert!(f(&["color", "red"])
            .unwrap_err()
            .0
            .contains("unknown filter"));
        let c = Conn {
            side: "frontend",
            state: "forwarding".into(),
            client: "198.51.100.100:4000".parse().unwrap(),
            service: "198.51.100.1:80".parse().unwrap(),
            local: None,
            node: Some(2),
            id: Some(1),
            age_ms: 5,
        };
        assert!(f(&["frontend", "node", "2", "client", "198.51.100.100"])
            .unwrap()
            .matches(&c));
        assert!(!f(&["backend"]).unwrap().matches(&c));
        assert!(!f(&["client", "198.51.100.100:4001"]).unwrap().matches(&c));
        assert!(f(&["service", "198.51.100.1:80"]).unwrap().matches(&c));
        assert!(!f(&["state", "holding"]).unwrap().matches(&c));
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("1"), Ok(1));
        assert_eq!(parse_port("65535"), Ok(65535));
        assert!(parse_port("0")
            .unwrap_err()
            .0
            .contains("between 1 and 65535"));
        assert!(parse_port("70000").is_err());
        assert!(parse_port("-1").is_err());
        assert!(parse_port("+80").is_err());
        assert!(parse_port("").is_err());
        assert!(parse_port("8o").is_err());
        assert!(parse_port("99999999999999999999999").is_err());
    }

    #[test]
    fn ids_and_weights() {
        assert_eq!(parse_id("2"), Ok(2));
        assert_eq!(parse_id("4294967295"), Ok(u32::MAX));
        assert!(parse_id("0").is_err());
        assert!(parse_id("4294967296").is_err());
        assert_eq!(parse_weight("0"), Ok(0));
        assert_eq!(parse_weight("65535"), Ok(65535));
        assert!(parse_weight("65536").is_err());
    }

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addr("198.51.100.2"),
            Ok("198.51.100.2".parse().unwrap())
        );
        assert_eq!(
            parse_addr("2001:db8::1"),
            Ok("2001:db8::1".parse().unwrap())
        );
        let e = parse_addr("999.1.1.1").unwrap_err();
        assert!(e.0.contains("999.1.1.1"), "{}", e.0);
        assert!(parse_addr("1.2.3").is_err());
        assert!(parse_addr("[2001:db8::1]").is_err());
        assert!(parse_addr("fe80::1%eth0").is_err());
        assert!(parse_addr("example.com").is_err());
    }

    #[test]
    fn services() {
        assert_eq!(
            parse_service("198.51.100.10:80"),
            Ok("198.51.100.10:80".parse().unwrap())
        );
        assert_eq!(
            parse_service("[2001:db8::1]:80"),
            Ok("[2001:db8::1]:80".parse().unwrap())
        );
        assert!(parse_service("198.51.100.10").is_err());
        assert!(parse_service("198.51.100.10:0").is_err());
        assert!(parse_service("198.51.100.10:70000").is_err());
        assert!(parse_service("999.1.1.1:80").is_err());
        assert!(parse_service("2001:db8::1:80")
            .unwrap_err()
            .0
            .contains("[ADDR]:PORT"));
        assert!(parse_service("[2001:db8::1]").is_err());
        assert!(parse_service("[1.2.3.4]:80").is_err());
        assert!(parse_service("[fe80::1%2]:80").is_err());
    }

    #[test]
    fn node_add_keywords() {
        let n = parse_node_add(
            "2",
            &strings(&[
                "addr",
                "198.51.100.2",
                "port",
                "7000",
                "weight",
                "3",
                "local",
            ]),
        )
        .unwrap();
        assert_eq!(
            n,
            NodeSpec {
                id: 2,
                addr: "198.51.100.2".parse().unwrap(),
                port: 7000,
                weight: Some(3),
                local: true
            }
        );
        let n = parse_node_add("7", &strings(&["port", "1", "addr", "2001:db8::7"])).unwrap();
        assert_eq!(n.weight, None);
        assert!(!n.local);
        assert!(n.addr.is_ipv6());

        for bad in [
            &["addr", "1.2.3.4"][..],
            &["port", "80"],
            &["addr", "1.2.3.4", "port"],
            &["addr", "1.2.3.4", "port", "80", "bogus"],
            &["addr", "1.2.3.4", "port", "80", "port", "81"],
            &["addr", "1.2.3.4", "port", "80", "local", "local"],
            &["addr", "999.1.1.1", "port", "80"],
            &["addr", "1.2.3.4", "port", "0"],
            &["addr", "1.2.3.4", "port", "70000"],
            &["addr", "1.2.3.4", "port", "80", "weight", "70000"],
        ] {
            assert!(parse_node_add("1", &strings(bad)).is_err(), "{:?}", bad);
        }
        assert!(parse_node_add("0", &strings(&["addr", "1.2.3.4", "port", "80"])).is_err());
    }

    #[test]
    fn rule_add_keywords() {
        let r = parse_rule_add(&strings(&[
            "prio", "10", "method", "GET", "host", "*", "prefix", "/a/", "policy", "rr", "to",
            "2,3",
        ]))
        .unwrap();
        assert_eq!(
            r,
            RuleSpec {
                prio: 10,
                method: Some("GET".into()),
                host: None,
                path: Some(PathSpec::Prefix("/a/".into())),
                policy: RulePolicy::RoundRobin,
                targets: vec![2, 3],
            }
        );
        let r = parse_rule_add(&strings(&["policy", "local", "prio", "0"])).unwrap();
        assert_eq!(r.prio, 0);
        assert_eq!(r.policy, RulePolicy::Local);
        assert!(r.targets.is_empty() && r.path.is_none() && r.method.is_none());
        let r = parse_rule_add(&strings(&[
            "prio",
            "4294967295",
            "host",
            "*.example.com",
            "suffix",
            ".jpg",
            "policy",
            "hash-url",
            "to",
            "0,7",
        ]))
        .unwrap();
        assert_eq!(r.host.as_deref(), Some("*.example.com"));
        assert_eq!(r.path, Some(PathSpec::Suffix(".jpg".into())));
        assert_eq!(r.policy, RulePolicy::HashUrl);
        assert_eq!(r.targets, vec![0, 7]);
        for (name, p) in [
            ("round-robin", RulePolicy::RoundRobin),
            ("lc", RulePolicy::LeastConn),
            ("least-conn", RulePolicy::LeastConn),
            ("hash", RulePolicy::HashUrl),
        ] {
            assert_eq!(parse_policy(name), Ok(p));
        }
        // Semantic checks are the kernel's: these parse.
        assert!(parse_rule_add(&strings(&["prio", "1", "policy", "rr"])).is_ok());
        assert!(
            parse_rule_add(&strings(&["prio", "1", "method", "G T", "policy", "local"])).is_ok()
        );
        assert!(parse_rule_add(&strings(&["prio", "1", "host", "", "policy", "local"])).is_ok());

        let long = "x".repeat(256);
        for bad in [
            &["policy", "local"][..],
            &["prio", "1"],
            &["prio", "1", "policy"],
            &["prio", "-1", "policy", "local"],
            &["prio", "4294967296", "policy", "local"],
            &["prio", "1", "prio", "2", "policy", "local"],
            &["prio", "1", "policy", "random"],
            &["prio", "1", "policy", "rr", "to", "2,,3"],
            &["prio", "1", "policy", "rr", "to", "2,x"],
            &["prio", "1", "policy", "rr", "to", "2", "to", "3"],
            &[
                "prio", "1", "prefix", "/a", "suffix", ".b", "policy", "local",
            ],
            &[
                "prio", "1", "prefix", "/a", "exact", "/a", "policy", "local",
            ],
            &[
                "prio",
                "1",
                "method",
                "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG",
                "policy",
                "local",
            ],
            &["prio", "1", "host", long.as_str(), "policy", "local"],
            &["prio", "1", "exact", long.as_str(), "policy", "local"],
            &["prio", "1", "policy", "local", "bogus"],
        ] {
            assert!(parse_rule_add(&strings(bad)).is_err(), "{:?}", bad);
        }
        let e =
            parse_rule_add(&strings(&["prio", "1", "prefix", "/a", "suffix", ".b"])).unwrap_err();
        assert!(e.0.contains("at most one"), "{}", e.0);
    }

    #[test]
    fn rule_del_args() {
        assert_eq!(parse_rule_del(&strings(&["prio", "10"])), Ok(10));
        assert_eq!(parse_rule_del(&strings(&["7"])), Ok(7));
        assert!(parse_rule_del(&strings(&[])).is_err());
        assert!(parse_rule_del(&strings(&["prio"])).is_err());
        assert!(parse_rule_del(&strings(&["prio", "x"])).is_err());
        assert!(parse_rule_del(&strings(&["id", "1"])).is_err());
    }

    #[test]
    fn limits_set_keywords() {
        assert_eq!(
            parse_limits_set(&strings(&["linger", "500", "max-conns", "1"])),
            Ok(vec![
                (limits_attr::LINGER_MS, 500),
                (limits_attr::MAX_CONNS, 1)
            ])
        );
        assert_eq!(
            parse_limits_set(&strings(&[
                "head-timeout-ms",
                "10",
                "handoff-timeout",
                "600000",
                "max-conns",
                "1048576"
            ])),
            Ok(vec![
                (limits_attr::HEAD_TIMEOUT_MS, 10),
                (limits_attr::HANDOFF_TIMEOUT_MS, 600000),
                (limits_attr::MAX_CONNS, 1048576)
            ])
        );
        for bad in [
            &[][..],
            &["linger"],
            &["linger", "9"],
            &["linger", "600001"],
            &["head-timeout", "0"],
            &["max-conns", "0"],
            &["max-conns", "1048577"],
            &["linger", "100", "linger-ms", "200"],
            &["timeout", "100"],
            &["lard-low", "0"],
            &["lard-high", "1"],
            &["lard-shrink", "99"],
            &["lard-low", "65", "lard-high", "65"],
        ] {
            assert!(parse_limits_set(&strings(bad)).is_err(), "{:?}", bad);
        }
    }

    #[test]
    fn limits_set_lard() {
        assert_eq!(
            parse_limits_set(&strings(&[
                "lard-low",
                "2",
                "lard-high",
                "4",
                "lard-shrink-ms",
                "3000"
            ])),
            Ok(vec![
                (limits_attr::LARD_LOW, 2),
                (limits_attr::LARD_HIGH, 4),
                (limits_attr::LARD_SHRINK_MS, 3000)
            ])
        );
        assert_eq!(parse_policy("lard"), Ok(RulePolicy::Lard));
    }

    #[test]
    fn key_arguments() {
        let none = |_: &str| -> Result<String, String> { Err("no files here".into()) };
        let hex = "00112233445566778899aabbccddeeff";
        let k = parse_key_add("7", &strings(&["secret", hex, "current"]), none).unwrap();
        assert_eq!((k.id, k.secret.len(), k.current), (7, 16, true));
        let file = |p: &str| -> Result<String, String> {
            assert_eq!(p, "/k");
            Ok(format!("{hex}{hex}\n"))
        };
        let k = parse_key_add("1", &strings(&["secret-file", "/k"]), file).unwrap();
        assert_eq!((k.secret.len(), k.current), (32, false));
        for (id, args, text) in [
            ("0", &["secret", hex][..], "between 1 and 255"),
            ("256", &["secret", hex][..], "between 1 and 255"),
            ("1", &[][..], "a secret"),
            ("1", &["secret", "0011"][..], "2 bytes"),
            ("1", &["secret", &"ab".repeat(65)][..], "65 bytes"),
            ("1", &["secret", "xyz"][..], "key secret"),
            ("1", &["secret"][..], "needs a value"),
            ("1", &["secret-file", "/nope"][..], "cannot read"),
            ("1", &["secret", hex, "now"][..], "unknown argument"),
        ] {
            let e = parse_key_add(id, &strings(args), none).unwrap_err();
            assert!(e.0.contains(text), "{id} {args:?}: {}", e.0);
        }
    }

    #[test]
    fn raw_ops() {
        assert_eq!(parse_raw_op("1"), Ok(1));
        assert_eq!(parse_raw_op("0"), Ok(0));
        assert_eq!(parse_raw_op("255"), Ok(255));
        assert!(parse_raw_op("256").is_err());
        assert_eq!(parse_raw_op("node-add"), Ok(1));
        assert_eq!(parse_raw_op("stats-get"), Ok(7));
        assert_eq!(parse_raw_op("rule-add"), Ok(8));
        assert_eq!(parse_raw_op("limits-get"), Ok(12));
        assert!(parse_raw_op("frob").unwrap_err().0.contains("rule-get"));
        assert!(parse_raw_op("frobnicate").is_err());
    }

    #[test]
    fn raw_attrs() {
        assert_eq!(parse_raw_attr("99:00000001"), Ok((99, vec![0, 0, 0, 1])));
        assert_eq!(parse_raw_attr("6:"), Ok((6, vec![])));
        assert_eq!(
            parse_raw_attr("0x8001:0xAbCd"),
            Ok((0x8001, vec![0xab, 0xcd]))
        );
        assert!(parse_raw_attr("99").is_err());
        assert!(parse_raw_attr("99:123").is_err());
        assert!(parse_raw_attr("99:zz").is_err());
        assert!(parse_raw_attr("70000:00").is_err());
        assert!(parse_raw_attr(":00").is_err());
        assert!(parse_raw_attr("0x:00").is_err());
        let long = format!("1:{}", "00".repeat(NLA_MAX_PAYLOAD + 1));
        assert!(parse_raw_attr(&long).is_err());
        assert_eq!(to_hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
