// SPDX-License-Identifier: GPL-2.0

//! The kernel's side of the channel's authentication: its HMAC-SHA256, its
//! random numbers, and the TCP-AO keys of the channel's sockets. What is
//! tagged with which key, and what a receiver accepts, is
//! `handoff_core::auth`'s.

use super::sock::Sock;
use crate::{
    bindings,
    handoff_core::auth::{ao_key, wipe, Keyring, Mac, NONCE_LEN, SESSION_KEY_LEN},
};
use kernel::prelude::*;

/// HMAC-SHA256 of the kernel's crypto library.
pub(super) struct KernelMac;

/// Most parts one HMAC covers (the session-key derivation has five).
const MAX_PARTS: usize = 8;

impl Mac for KernelMac {
    fn hmac(&self, key: &[u8], parts: &[&[u8]]) -> [u8; SESSION_KEY_LEN] {
        let mut ptrs = [core::ptr::null::<u8>(); MAX_PARTS];
        let mut lens = [0usize; MAX_PARTS];
        let n = parts.len().min(MAX_PARTS);
        for (i, p) in parts.iter().take(n).enumerate() {
            ptrs[i] = p.as_ptr();
            lens[i] = p.len();
        }
        let mut out = [0u8; SESSION_KEY_LEN];
        // SAFETY: `key` and each of the first `n` parts are readable for
        // their lengths during the call, and `out` has room for the 32
        // bytes of an HMAC-SHA256.
        unsafe {
            bindings::th_hmac_sha256(
                key.as_ptr(),
                key.len(),
                ptrs.as_ptr(),
                lens.as_ptr(),
                n as u32,
                out.as_mut_ptr(),
            )
        };
        out
    }
}

/// A fresh random HELLO nonce.
pub(super) fn nonce() -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    // SAFETY: `n` is writable for its length.
    unsafe { bindings::th_random_bytes(n.as_mut_ptr().cast(), n.len()) };
    n
}

/// Sets up a new socket's TCP-AO keys for `ring`: every key, the current
/// one current (a listener has no current key: its connections take the
/// one their peer asks for). Nothing without keys.
pub(super) fn ao_install(sock: &Sock, ring: &Keyring, listener: bool) -> Result {
    ao_follow(sock, &Keyring::default(), ring, listener)
}

/// Takes a socket whose TCP-AO keys follow `old` to `new`
/// (`Keyring::ao_changes`). On an error the socket is left half-way: the
/// caller closes it, and its connection starts again with [`ao_install`].
pub(super) fn ao_follow(sock: &Sock, old: &Keyring, new: &Keyring, listener: bool) -> Result {
    let c = old.ao_changes(new);
    // A listener has no current key; a connection's is set again with
    // each deletion (the peer's RNextKeyID may have moved it back).
    let current = new.current().filter(|_| !listener);
    for id in c.readd.iter() {
        sock.ao_del(id, current.filter(|&k| k != id))?;
        ao_add(sock, new, id)?;
    }
    for id in c.add.iter() {
        ao_add(sock, new, id)?;
    }
    if let Some(id) = c.current.filter(|_| !listener) {
        sock.ao_set_current(id)?;
    }
    for id in c.del.iter() {
        sock.ao_del(id, current)?;
    }
    Ok(())
}

/// Adds key `id` of `ring` to `sock`, as its own TCP-AO master key.
fn ao_add(sock: &Sock, ring: &Keyring, id: u8) -> Result {
    let secret = ring.get(id).ok_or(EINVAL)?;
    let mut key = ao_key(&KernelMac, secret);
    let r = sock.ao_add(id, &key);
    wipe(&mut key);
    r
}
