// SPDX-License-Identifier: GPL-2.0

//! `limits-set`, `limits-get`: the namespace's tunables. The policy checks
//! every range, so a request that gets here is applied as given.

use super::msg::Request;
use crate::{
    bindings::{self, genl_info, sk_buff},
    netns::Limits,
};
use kernel::{error::from_result, ffi::c_int, prelude::*, sync::atomic::Relaxed};

use bindings::{
    TCP_HANDOFF_A_LIMITS_HANDOFF_TIMEOUT_MS as HANDOFF_TIMEOUT_MS,
    TCP_HANDOFF_A_LIMITS_HEAD_TIMEOUT_MS as HEAD_TIMEOUT_MS,
    TCP_HANDOFF_A_LIMITS_IDLE_TIMEOUT_MS as IDLE_TIMEOUT_MS,
    TCP_HANDOFF_A_LIMITS_LINGER_MS as LINGER_MS, TCP_HANDOFF_A_LIMITS_MAX_CONNS as MAX_CONNS,
};

/// Each limit with its attribute type, in the spec's order.
fn fields(l: &Limits) -> [(u32, &kernel::sync::atomic::Atomic<u32>); 5] {
    [
        (HEAD_TIMEOUT_MS, &l.head_timeout_ms),
        (HANDOFF_TIMEOUT_MS, &l.handoff_timeout_ms),
        (LINGER_MS, &l.linger_ms),
        (MAX_CONNS, &l.max_conns),
        (IDLE_TIMEOUT_MS, &l.idle_timeout_ms),
    ]
}

fn set(req: &Request) -> Result<c_int> {
    let st = req.state();
    // Writers of the limits hold the configuration lock.
    let _cfg = st.config.lock();
    for (ty, value) in fields(&st.limits) {
        if let Some(v) = req.attr(ty).and_then(|a| a.u32()) {
            value.store(v, Relaxed);
        }
    }
    Ok(0)
}

fn get(req: &Request) -> Result<c_int> {
    let st = req.state();
    req.reply(|m| {
        for (ty, value) in fields(&st.limits) {
            m.put_u32(ty, Limits::get(value))?;
        }
        Ok(())
    })?;
    Ok(0)
}

/// `limits-set` (admin).
#[no_mangle]
extern "C" fn tcp_handoff_nl_limits_set_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    // SAFETY: generic netlink passes the request's valid `genl_info`.
    from_result(|| set(&unsafe { Request::new(info) }))
}

/// `limits-get`.
#[no_mangle]
extern "C" fn tcp_handoff_nl_limits_get_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    // SAFETY: generic netlink passes the request's valid `genl_info`.
    from_result(|| get(&unsafe { Request::new(info) }))
}
