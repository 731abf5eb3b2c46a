// SPDX-License-Identifier: GPL-2.0

//! `rule-add`, `rule-del`, `rule-get`: the dispatch rules, kept sorted by
//! `prio` (the order the front-end evaluates them in).

use super::msg::{self, Attr, Msg, Request};
use crate::{
    bindings::{self, genl_info, netlink_callback, sk_buff},
    handoff_core::{http::Method, rules::Policy},
    netns::{PathCfg, RuleCfg, MAX_RULES, MAX_RULE_STRING, MAX_RULE_TARGETS},
};
use kernel::{
    error::{
        code::{EEXIST, EINVAL, ENOENT, ENOMEM, ENOSPC},
        from_result,
    },
    ffi::c_int,
    prelude::*,
};

use bindings::{
    TCP_HANDOFF_A_RULE_HITS as HITS, TCP_HANDOFF_A_RULE_HOST as HOST,
    TCP_HANDOFF_A_RULE_METHOD as METHOD, TCP_HANDOFF_A_RULE_PATH_EXACT as PATH_EXACT,
    TCP_HANDOFF_A_RULE_PATH_PREFIX as PATH_PREFIX, TCP_HANDOFF_A_RULE_PATH_SUFFIX as PATH_SUFFIX,
    TCP_HANDOFF_A_RULE_POLICY as POLICY, TCP_HANDOFF_A_RULE_PRIO as PRIO,
    TCP_HANDOFF_A_RULE_TARGET as TARGET, TCP_HANDOFF_CMD_RULE_ADD as CMD_RULE_ADD,
};

/// `enum tcp_handoff_rule_policy` of the uapi header: the value is the
/// index. (The module's bindgen run covers the header's anonymous enums
/// only; the spec's order is pinned by the policy's maximum, 4.)
const POLICIES: [Policy; 5] = [
    Policy::Local,
    Policy::RoundRobin,
    Policy::LeastConnections,
    Policy::HashUrl,
    Policy::Lard,
];

fn policy_value(p: Policy) -> u32 {
    POLICIES
        .iter()
        .position(|q| *q == p)
        .and_then(|i| u32::try_from(i).ok())
        .unwrap_or(0)
}

/// Whether `b` may appear in an HTTP token (RFC 9110 section 5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn put_rule(msg: &mut Msg, r: &RuleCfg) -> Result {
    msg.put_u32(PRIO, r.prio)?;
    if let Some(name) = r.method.and_then(Method::name) {
        msg.put_str(METHOD, name)?;
    }
    if let Some(host) = &r.host {
        msg.put_str(HOST, host)?;
    }
    match &r.path {
        PathCfg::Any => {}
        PathCfg::Prefix(p) => msg.put_str(PATH_PREFIX, p)?,
        PathCfg::Suffix(p) => msg.put_str(PATH_SUFFIX, p)?,
        PathCfg::Exact(p) => msg.put_str(PATH_EXACT, p)?,
    }
    for t in r.targets.iter() {
        msg.put_u32(TARGET, *t)?;
    }
    msg.put_u32(POLICY, policy_value(r.policy))?;
    msg.put_uint(HITS, r.hits)
}

fn owned(bytes: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(bytes.len(), GFP_KERNEL)?;
    v.extend_from_slice(bytes, GFP_KERNEL)?;
    Ok(v)
}

/// A host or path string of a request: not empty, no longer than a rule
/// keeps, and free of bytes no parsed request has there (space, controls).
fn pattern<'a>(req: &Request, attr: Attr<'a>) -> Result<&'a [u8]> {
    let s = attr.str_bytes();
    if s.is_empty() {
        return Err(req.fail(EINVAL, c"host and path must not be empty", Some(attr)));
    }
    if s.len() > MAX_RULE_STRING {
        return Err(req.fail(EINVAL, c"host or path is too long", Some(attr)));
    }
    if s.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(req.fail(
            EINVAL,
            c"host and path must not contain spaces or control characters",
            Some(attr),
        ));
    }
    Ok(s)
}

/// A host pattern: a name, or `*.` and a name (every subdomain). A `*`
/// anywhere else would only ever match itself.
fn host_pattern<'a>(req: &Request, attr: Attr<'a>) -> Result<&'a [u8]> {
    let host = pattern(req, attr)?;
    let name = host.strip_prefix(b"*.").unwrap_or(host);
    if name.is_empty() || name.contains(&b'*') {
        return Err(req.fail(
            EINVAL,
            c"a host pattern may contain * only as a leading \"*.\"",
            Some(attr),
        ));
    }
    Ok(host)
}

fn parse_method(req: &Request) -> Result<Option<Method>> {
    let Some(attr) = req.attr(METHOD) else {
        return Ok(None);
    };
    let token = attr.str_bytes();
    if token.is_empty() || !token.iter().all(|&b| is_tchar(b)) {
        return Err(req.fail(EINVAL, c"method is not a valid HTTP token", Some(attr)));
    }
    match Method::from_bytes(token) {
        Method::Other => Err(req.fail(
            EINVAL,
            c"only GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, CONNECT and TRACE can be matched",
            Some(attr),
        )),
        m => Ok(Some(m)),
    }
}

fn parse_path(req: &Request) -> Result<PathCfg> {
    let prefix = req.attr(PATH_PREFIX);
    let suffix = req.attr(PATH_SUFFIX);
    let exact = req.attr(PATH_EXACT);
    let given = [prefix, suffix, exact]
        .iter()
        .filter(|a| a.is_some())
        .count();
    if given > 1 {
        return Err(req.fail(
            EINVAL,
            c"give at most one of path-prefix, path-suffix and path-exact",
            None,
        ));
    }
    Ok(match (prefix, suffix, exact) {
        (Some(a), _, _) => PathCfg::Prefix(owned(pattern(req, a)?)?),
        (_, Some(a), _) => PathCfg::Suffix(owned(pattern(req, a)?)?),
        (_, _, Some(a)) => PathCfg::Exact(owned(pattern(req, a)?)?),
        _ => PathCfg::Any,
    })
}

/// # Safety
///
/// `skb` must be the buffer generic netlink passed to the `doit` handler
/// together with `req`'s `genl_info`.
unsafe fn add(skb: *mut sk_buff, req: &Request) -> Result<c_int> {
    let prio_attr = req.require(PRIO)?;
    let prio = prio_attr.u32().unwrap_or(0);
    let method = parse_method(req)?;
    let host = match req.attr(HOST) {
        Some(a) => Some(owned(host_pattern(req, a)?)?),
        None => None,
    };
    let path = parse_path(req)?;
    let policy_attr = req.require(POLICY)?;
    let Some(policy) = policy_attr
        .u32()
        .and_then(|v| usize::try_from(v).ok())
        .and_then(|i| POLICIES.get(i).copied())
    else {
        return Err(req.fail(EINVAL, c"unknown policy", Some(policy_attr)));
    };
    let mut targets = KVec::new();
    // SAFETY: `skb` is this request's buffer (function precondition).
    let count = unsafe { req.all_u32(skb, CMD_RULE_ADD, TARGET, &mut targets, MAX_RULE_TARGETS) }
        .map_err(|e| {
        if e == EINVAL {
            req.fail(EINVAL, c"cannot read the targets", None)
        } else {
            e
        }
    })?;
    if count > MAX_RULE_TARGETS {
        return Err(req.fail(EINVAL, c"a rule has at most 16 targets", None));
    }
    if count == 0 && policy != Policy::Local {
        return Err(req.fail(
            EINVAL,
            c"this policy needs at least one target",
            Some(policy_attr),
        ));
    }

    let st = req.state();
    let mut cfg = st.config.lock();
    if cfg.rules.iter().any(|r| r.prio == prio) {
        return Err(req.fail(EEXIST, c"a rule with this prio exists", Some(prio_attr)));
    }
    if cfg.rules.len() >= MAX_RULES {
        return Err(req.fail(ENOSPC, c"rule table is full", None));
    }
    // A target that names no node is most likely a typo (0 is the local
    // node). A node deleted later is skipped by dispatch instead.
    if targets
        .iter()
        .any(|&t| t != 0 && !cfg.nodes.iter().any(|n| n.id == t))
    {
        return Err(req.fail(
            ENOENT,
            c"a target is not a configured node: add the node first",
            None,
        ));
    }
    let at = cfg
        .rules
        .iter()
        .position(|r| r.prio > prio)
        .unwrap_or(cfg.rules.len());
    cfg.rules.reserve(1, GFP_KERNEL)?;
    cfg.rules
        .insert_within_capacity(
            at,
            RuleCfg {
                prio,
                method,
                host,
                path,
                targets,
                policy,
                rr_cursor: 0,
                hits: 0,
            },
        )
        .map_err(|_| ENOMEM)?;
    st.publish_rules(&cfg);
    Ok(0)
}

fn del(req: &Request) -> Result<c_int> {
    let prio_attr = req.require(PRIO)?;
    let prio = prio_attr.u32().unwrap_or(0);
    let mut cfg = req.state().config.lock();
    let Some(i) = cfg.rules.iter().position(|r| r.prio == prio) else {
        return Err(req.fail(ENOENT, c"no rule with this prio", Some(prio_attr)));
    };
    // The rule is dropped after the lock is released.
    let rule = cfg.rules.remove(i).map_err(|_| ENOENT)?;
    req.state().publish_rules(&cfg);
    drop(cfg);
    drop(rule);
    Ok(0)
}

fn get(req: &Request) -> Result<c_int> {
    let prio_attr = req.require(PRIO)?;
    let prio = prio_attr.u32().unwrap_or(0);
    let cfg = req.state().config.lock();
    let Some(rule) = cfg.rules.iter().find(|r| r.prio == prio) else {
        return Err(req.fail(ENOENT, c"no rule with this prio", Some(prio_attr)));
    };
    req.reply(|m| put_rule(m, rule))?;
    Ok(0)
}

/// `rule-add` (admin).
#[no_mangle]
extern "C" fn tcp_handoff_nl_rule_add_doit(skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    // SAFETY: generic netlink passes the request's valid `genl_info` and
    // its buffer `skb`.
    from_result(|| unsafe { add(skb, &Request::new(info)) })
}

/// `rule-del` (admin).
#[no_mangle]
extern "C" fn tcp_handoff_nl_rule_del_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    // SAFETY: generic netlink passes the request's valid `genl_info`.
    from_result(|| del(&unsafe { Request::new(info) }))
}

/// `rule-get`, one rule.
#[no_mangle]
extern "C" fn tcp_handoff_nl_rule_get_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    // SAFETY: generic netlink passes the request's valid `genl_info`.
    from_result(|| get(&unsafe { Request::new(info) }))
}

/// `rule-get`, dump of all rules in prio order.
#[no_mangle]
extern "C" fn tcp_handoff_nl_rule_get_dumpit(
    skb: *mut sk_buff,
    cb: *mut netlink_callback,
) -> c_int {
    // SAFETY: generic netlink passes a running dump's valid `cb`.
    let st = unsafe { msg::dump_state(cb) };
    let cfg = st.config.lock();
    // SAFETY: `skb` and `cb` are this dump's.
    unsafe { msg::dump(skb, cb, &cfg.rules, put_rule) }
}
