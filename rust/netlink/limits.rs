// SPDX-License-Identifier: GPL-2.0

//! `limits-set`, `limits-get`: the namespace's tunables. The policy checks
//! every range, so a request that gets here is applied as given.

use super::msg::Request;
use crate::{
    bindings::{self, genl_info, sk_buff},
    netns::Limits,
};
use kernel::{
    error::{code::EINVAL, from_result},
    ffi::c_int,
    prelude::*,
    sync::atomic::Relaxed,
};

use bindings::{
    TCP_HANDOFF_A_LIMITS_HANDOFF_TIMEOUT_MS as HANDOFF_TIMEOUT_MS,
    TCP_HANDOFF_A_LIMITS_HEAD_TIMEOUT_MS as HEAD_TIMEOUT_MS,
    TCP_HANDOFF_A_LIMITS_IDLE_TIMEOUT_MS as IDLE_TIMEOUT_MS,
    TCP_HANDOFF_A_LIMITS_LARD_HIGH as LARD_HIGH, TCP_HANDOFF_A_LIMITS_LARD_LOW as LARD_LOW,
    TCP_HANDOFF_A_LIMITS_LARD_SHRINK_MS as LARD_SHRINK_MS,
    TCP_HANDOFF_A_LIMITS_LINGER_MS as LINGER_MS, TCP_HANDOFF_A_LIMITS_MAX_CONNS as MAX_CONNS,
};

/// Each limit with its attribute type, in the spec's order.
fn fields(l: &Limits) -> [(u32, &kernel::sync::atomic::Atomic<u32>); 8] {
    [
        (HEAD_TIMEOUT_MS, &l.head_timeout_ms),
        (HANDOFF_TIMEOUT_MS, &l.handoff_timeout_ms),
        (LINGER_MS, &l.linger_ms),
        (MAX_CONNS, &l.max_conns),
        (IDLE_TIMEOUT_MS, &l.idle_timeout_ms),
        (LARD_LOW, &l.lard_low),
        (LARD_HIGH, &l.lard_high),
        (LARD_SHRINK_MS, &l.lard_shrink_ms),
    ]
}

fn set(req: &Request) -> Result<c_int> {
    let st = req.state();
    // Writers of the limits hold the configuration lock.
    let _cfg = st.config.lock();
    // The thresholds are checked together, as they will be after the
    // change: nothing is applied unless the pair stays ordered.
    let new = |ty, cur| req.attr(ty).and_then(|a| a.u32()).unwrap_or(cur);
    let low = new(LARD_LOW, Limits::get(&st.limits.lard_low));
    let high = new(LARD_HIGH, Limits::get(&st.limits.lard_high));
    if low >= high {
        let attr = req.attr(LARD_LOW).or(req.attr(LARD_HIGH));
        return Err(req.fail(EINVAL, c"lard-low must be below lard-high", attr));
    }
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
