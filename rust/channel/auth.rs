// SPDX-License-Identifier: GPL-2.0

//! The kernel's side of the channel's authentication: its HMAC-SHA256 and
//! its random numbers. What is tagged with which key, and what a receiver
//! accepts, is `handoff_core::auth`'s.

use crate::{
    bindings,
    handoff_core::auth::{Mac, NONCE_LEN, SESSION_KEY_LEN},
};

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
