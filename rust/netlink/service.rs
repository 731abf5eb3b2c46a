// SPDX-License-Identifier: GPL-2.0

//! `service-add`, `service-del`, `service-get`: the virtual services whose
//! connections take part in handoff.

use super::{
    addr,
    msg::{self, Msg, Request},
};
use crate::{
    bindings::{self, genl_info, netlink_callback, sk_buff},
    netns::{NetState, Service, MAX_SERVICES},
};
use kernel::{
    error::{
        code::{EEXIST, ENOENT, ENOSPC},
        from_result,
    },
    ffi::c_int,
    prelude::*,
    sync::atomic::Relaxed,
};

use bindings::{
    TCP_HANDOFF_A_SERVICE_ADDR4 as ADDR4, TCP_HANDOFF_A_SERVICE_ADDR6 as ADDR6,
    TCP_HANDOFF_A_SERVICE_PORT as PORT,
};

fn put_service(msg: &mut Msg, st: &NetState, s: &Service) -> Result {
    addr::put(msg, &s.addr, ADDR4, ADDR6)?;
    msg.put_be16(PORT, s.port)?;
    if let Some(c) = st.services.stats_of(&s.addr, s.port) {
        // The counters' attributes follow `conns` in the spec's order.
        for (i, v) in c.all().into_iter().enumerate() {
            msg.put_uint(
                bindings::TCP_HANDOFF_A_SERVICE_CONNS + i as u32,
                v.load(Relaxed),
            )?;
        }
    }
    Ok(())
}

fn parse(req: &Request) -> Result<Service> {
    let addr = addr::parse(req, ADDR4, ADDR6)?;
    let port = req.require(PORT)?.be16().unwrap_or(0);
    Ok(Service { addr, port })
}

fn add(req: &Request) -> Result<c_int> {
    let svc = parse(req)?;
    let st = req.state();
    let mut cfg = st.config.lock();
    if cfg.services.contains(&svc) {
        return Err(req.fail(EEXIST, c"this service exists", None));
    }
    if cfg.services.len() >= MAX_SERVICES {
        return Err(req.fail(ENOSPC, c"service table is full", None));
    }
    if !st.services.has_room(&svc.addr, svc.port) {
        return Err(req.fail(
            ENOSPC,
            c"service table is full (deleted services still drain their connections)",
            None,
        ));
    }
    cfg.services.push(svc, GFP_KERNEL)?;
    st.services.publish(&cfg.services);
    Ok(0)
}

fn del(req: &Request) -> Result<c_int> {
    let svc = parse(req)?;
    let st = req.state();
    let mut cfg = st.config.lock();
    let Some(i) = cfg.services.iter().position(|s| *s == svc) else {
        return Err(req.fail(ENOENT, c"no such service", None));
    };
    cfg.services.remove(i).map_err(|_| ENOENT)?;
    st.services.publish(&cfg.services);
    // Listeners of the removed service get their own operations back.
    crate::utcp::detach_unserved(st, &cfg.services);
    Ok(0)
}

/// `service-add` (admin).
#[no_mangle]
extern "C" fn tcp_handoff_nl_service_add_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    // SAFETY: generic netlink passes the request's valid `genl_info`.
    from_result(|| add(&unsafe { Request::new(info) }))
}

/// `service-del` (admin).
#[no_mangle]
extern "C" fn tcp_handoff_nl_service_del_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    // SAFETY: generic netlink passes the request's valid `genl_info`.
    from_result(|| del(&unsafe { Request::new(info) }))
}

/// `service-get`, dump of all services.
#[no_mangle]
extern "C" fn tcp_handoff_nl_service_get_dumpit(
    skb: *mut sk_buff,
    cb: *mut netlink_callback,
) -> c_int {
    // SAFETY: generic netlink passes a running dump's valid `cb`.
    let st = unsafe { msg::dump_state(cb) };
    let cfg = st.config.lock();
    // SAFETY: `skb` and `cb` are this dump's.
    unsafe { msg::dump(skb, cb, &cfg.services, |m, s| put_service(m, st, s)) }
}
