// SPDX-License-Identifier: GPL-2.0

//! `node-add`, `node-del`, `node-get`: the cluster's nodes.

use super::{
    addr,
    msg::{self, Msg, Request},
};
use crate::{
    bindings::{self, genl_info, netlink_callback, sk_buff},
    netns::{NetState, Node, MAX_NODES},
};
use kernel::{
    error::{
        code::{EEXIST, ENOENT, ENOSPC},
        from_result,
    },
    ffi::c_int,
    prelude::*,
};

use bindings::{
    TCP_HANDOFF_A_NODE_ADDR4 as ADDR4, TCP_HANDOFF_A_NODE_ADDR6 as ADDR6,
    TCP_HANDOFF_A_NODE_ID as ID, TCP_HANDOFF_A_NODE_LOCAL as LOCAL,
    TCP_HANDOFF_A_NODE_PORT as PORT, TCP_HANDOFF_A_NODE_STATE as STATE,
    TCP_HANDOFF_A_NODE_WEIGHT as WEIGHT,
};
use kernel::sync::atomic::Relaxed;

fn put_node(msg: &mut Msg, st: &NetState, n: &Node) -> Result {
    msg.put_u32(ID, n.id)?;
    addr::put(msg, &n.addr, ADDR4, ADDR6)?;
    msg.put_be16(PORT, n.port)?;
    msg.put_u32(WEIGHT, n.weight)?;
    msg.put_flag(LOCAL, n.local)?;
    msg.put_u32(STATE, st.node_state(n.id))?;
    if let Some(s) = st.node_stats_of(n.id) {
        use bindings::*;
        for (ty, c) in [
            (TCP_HANDOFF_A_NODE_HANDOFF_OK, &s.handoff_ok),
            (TCP_HANDOFF_A_NODE_HANDOFF_FAILED, &s.handoff_failed),
            (TCP_HANDOFF_A_NODE_FWD_PACKETS, &s.fwd_packets),
            (TCP_HANDOFF_A_NODE_FWD_BYTES, &s.fwd_bytes),
            (TCP_HANDOFF_A_NODE_BE_ACCEPTED, &s.be_accepted),
            (TCP_HANDOFF_A_NODE_BE_TX_PACKETS, &s.be_tx_packets),
            (TCP_HANDOFF_A_NODE_BE_TX_BYTES, &s.be_tx_bytes),
        ] {
            msg.put_uint(ty, c.load(Relaxed))?;
        }
    }
    let (conns, in_flight) = if n.local {
        st.own_load()
    } else {
        st.node_stats_of(n.id).map_or((0, 0), |s| {
            (s.load_conns.load(Relaxed), s.load_in_flight.load(Relaxed))
        })
    };
    msg.put_u32(bindings::TCP_HANDOFF_A_NODE_LOAD_CONNS, conns)?;
    msg.put_u32(bindings::TCP_HANDOFF_A_NODE_LOAD_IN_FLIGHT, in_flight)?;
    Ok(())
}

fn add(req: &Request) -> Result<c_int> {
    let id_attr = req.require(ID)?;
    let id = id_attr.u32().unwrap_or(0);
    let addr = addr::parse(req, ADDR4, ADDR6)?;
    let port = req.require(PORT)?.be16().unwrap_or(0);
    let weight = req.attr(WEIGHT).and_then(|a| a.u32()).unwrap_or(1);
    let local = req.attr(LOCAL).is_some();

    let st = req.state();
    let mut cfg = st.config.lock();
    if cfg.nodes.iter().any(|n| n.id == id) {
        return Err(req.fail(EEXIST, c"a node with this id exists", Some(id_attr)));
    }
    if cfg.nodes.iter().any(|n| n.addr == addr && n.port == port) {
        return Err(req.fail(EEXIST, c"a node with this address and port exists", None));
    }
    if local && cfg.nodes.iter().any(|n| n.local) {
        return Err(req.fail(
            EEXIST,
            c"the local node is already configured",
            req.attr(LOCAL),
        ));
    }
    if cfg.nodes.len() >= MAX_NODES {
        return Err(req.fail(ENOSPC, c"node table is full", None));
    }
    cfg.nodes.push(
        Node {
            id,
            addr,
            port,
            weight,
            local,
        },
        GFP_KERNEL,
    )?;
    st.claim_node_slot(id);
    Ok(0)
}

fn del(req: &Request) -> Result<c_int> {
    let id_attr = req.require(ID)?;
    let id = id_attr.u32().unwrap_or(0);
    let st = req.state();
    let mut cfg = st.config.lock();
    let Some(i) = cfg.nodes.iter().position(|n| n.id == id) else {
        return Err(req.fail(ENOENT, c"no node with this id", Some(id_attr)));
    };
    cfg.nodes.remove(i).map_err(|_| ENOENT)?;
    st.release_node_slot(id);
    Ok(0)
}

fn get(req: &Request) -> Result<c_int> {
    let id_attr = req.require(ID)?;
    let id = id_attr.u32().unwrap_or(0);
    let st = req.state();
    let cfg = st.config.lock();
    let Some(node) = cfg.nodes.iter().find(|n| n.id == id) else {
        return Err(req.fail(ENOENT, c"no node with this id", Some(id_attr)));
    };
    req.reply(|m| put_node(m, st, node))?;
    Ok(0)
}

/// `node-add` (admin).
#[no_mangle]
extern "C" fn tcp_handoff_nl_node_add_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    // SAFETY: generic netlink passes the request's valid `genl_info`.
    from_result(|| add(&unsafe { Request::new(info) }))
}

/// `node-del` (admin).
#[no_mangle]
extern "C" fn tcp_handoff_nl_node_del_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    // SAFETY: generic netlink passes the request's valid `genl_info`.
    from_result(|| del(&unsafe { Request::new(info) }))
}

/// `node-get`, one node.
#[no_mangle]
extern "C" fn tcp_handoff_nl_node_get_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    // SAFETY: generic netlink passes the request's valid `genl_info`.
    from_result(|| get(&unsafe { Request::new(info) }))
}

/// `node-get`, dump of all nodes.
#[no_mangle]
extern "C" fn tcp_handoff_nl_node_get_dumpit(
    skb: *mut sk_buff,
    cb: *mut netlink_callback,
) -> c_int {
    // SAFETY: generic netlink passes a running dump's valid `cb`.
    let st = unsafe { msg::dump_state(cb) };
    let cfg = st.config.lock();
    // SAFETY: `skb` and `cb` are this dump's.
    unsafe { msg::dump(skb, cb, &cfg.nodes, |m, n| put_node(m, st, n)) }
}
