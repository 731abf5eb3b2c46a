// SPDX-License-Identifier: GPL-2.0

//! `key-add`, `key-del`, `key-set`, `key-get`: the keys that authenticate
//! the namespace's control channels (`handoff_core::auth`).
//!
//! Secrets go in and never come out: `key-get` reports ids and which key
//! is current. A key change kicks the worker, which takes a copy of the
//! ring at each run; turning authentication on or off (the first key
//! added, the last deleted) makes the channels reconnect.

use super::msg::{self, Msg, Request};
use crate::{
    bindings::{self, genl_info, netlink_callback, sk_buff},
    handoff_core::auth::{KeyError, KEY_MIN},
};
use kernel::{
    error::{
        code::{EBUSY, EEXIST, EINVAL, ENOENT, ENOSPC},
        from_result,
    },
    ffi::c_int,
    prelude::*,
};

use bindings::{
    TCP_HANDOFF_A_KEY_CURRENT as CURRENT, TCP_HANDOFF_A_KEY_ID as ID,
    TCP_HANDOFF_A_KEY_SECRET as SECRET,
};

/// The request's key id (the policy keeps it within 1..=255).
fn id(req: &Request) -> Result<u8> {
    let a = req.require(ID)?;
    a.u32()
        .and_then(|v| u8::try_from(v).ok())
        .ok_or_else(|| req.fail(EINVAL, c"key id must be 1 to 255", Some(a)))
}

/// Explains a refusal of the keyring.
fn refuse(req: &Request, e: KeyError) -> Error {
    let a = req.attr(ID);
    match e {
        KeyError::BadId => req.fail(EINVAL, c"key id must be 1 to 255", a),
        KeyError::BadLength => req.fail(
            EINVAL,
            c"key secret must be 16 to 64 bytes",
            req.attr(SECRET),
        ),
        KeyError::Exists => req.fail(EEXIST, c"a key with this id exists", a),
        KeyError::Full => req.fail(ENOSPC, c"key table is full (4 keys)", None),
        KeyError::NotFound => req.fail(ENOENT, c"no such key", a),
        KeyError::Current => req.fail(
            EBUSY,
            c"this key is current: make another key current first",
            a,
        ),
    }
}

fn add(req: &Request) -> Result<c_int> {
    let id = id(req)?;
    let secret = req.require(SECRET)?;
    if secret.data().len() < KEY_MIN {
        return Err(refuse(req, KeyError::BadLength));
    }
    let st = req.state();
    {
        let mut cfg = st.config.lock();
        cfg.keys
            .add(id, secret.data(), req.attr(CURRENT).is_some())
            .map_err(|e| refuse(req, e))?;
    }
    st.kick();
    Ok(0)
}

fn del(req: &Request) -> Result<c_int> {
    let id = id(req)?;
    let st = req.state();
    st.config
        .lock()
        .keys
        .remove(id)
        .map_err(|e| refuse(req, e))?;
    st.kick();
    Ok(0)
}

fn set(req: &Request) -> Result<c_int> {
    let id = id(req)?;
    if req.attr(CURRENT).is_none() {
        return Err(req.fail(
            EINVAL,
            c"key-set needs the current flag (the only property a key has)",
            None,
        ));
    }
    let st = req.state();
    st.config
        .lock()
        .keys
        .set_current(id)
        .map_err(|e| refuse(req, e))?;
    st.kick();
    Ok(0)
}

fn put_key(m: &mut Msg, id: u8, current: bool) -> Result {
    m.put_u32(ID, u32::from(id))?;
    m.put_flag(CURRENT, current)
}

/// `key-add` (admin).
#[no_mangle]
extern "C" fn tcp_handoff_nl_key_add_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    // SAFETY: generic netlink passes the request's valid `genl_info`.
    from_result(|| add(&unsafe { Request::new(info) }))
}

/// `key-del` (admin).
#[no_mangle]
extern "C" fn tcp_handoff_nl_key_del_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    // SAFETY: generic netlink passes the request's valid `genl_info`.
    from_result(|| del(&unsafe { Request::new(info) }))
}

/// `key-set` (admin).
#[no_mangle]
extern "C" fn tcp_handoff_nl_key_set_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    // SAFETY: generic netlink passes the request's valid `genl_info`.
    from_result(|| set(&unsafe { Request::new(info) }))
}

/// `key-get`, dump of the keys' ids.
#[no_mangle]
extern "C" fn tcp_handoff_nl_key_get_dumpit(skb: *mut sk_buff, cb: *mut netlink_callback) -> c_int {
    // SAFETY: generic netlink passes a running dump's valid `cb`.
    let st = unsafe { msg::dump_state(cb) };
    let cfg = st.config.lock();
    let current = cfg.keys.current();
    let mut ids = [0u8; crate::handoff_core::auth::MAX_KEYS];
    let mut n = 0;
    for (slot, id) in ids.iter_mut().zip(cfg.keys.ids()) {
        *slot = id;
        n += 1;
    }
    drop(cfg);
    // SAFETY: `skb` and `cb` are this dump's.
    unsafe {
        msg::dump(skb, cb, ids.get(..n).unwrap_or(&[]), |m, &id| {
            put_key(m, id, current == Some(id))
        })
    }
}
