// SPDX-License-Identifier: GPL-2.0

//! A kernel TCP socket of the control channel.

use super::auth;
use crate::{bindings, handoff_core::auth::Keyring, netns::Addr};
use kernel::{error::to_result, prelude::*};

/// TCP states the channel tells apart (`include/net/tcp_states.h`).
pub(crate) const TCP_ESTABLISHED: i32 = 1;
pub(crate) const TCP_SYN_SENT: i32 = 2;

/// An owned kernel socket, released (abortively) on drop.
///
/// # Invariants
///
/// `0` is a valid `struct socket` created by the glue's `th_sock_*`
/// functions and owned by this value; its callbacks kick the namespace's
/// worker.
pub(crate) struct Sock(*mut bindings::socket);

// SAFETY: a kernel socket may be used and released from any process
// context; the worker serialises every use.
unsafe impl Send for Sock {}

impl Sock {
    /// A listening socket on `addr:port`, with the TCP-AO keys of `keys`
    /// (an IPv6 one takes IPv6 connections only).
    pub(crate) fn listen(
        net: *mut bindings::net,
        addr: Addr,
        port: u16,
        keys: &Keyring,
    ) -> Result<Sock> {
        let mut s = core::ptr::null_mut();
        // SAFETY: `net` is live (the worker runs in it); `addr` holds the
        // bytes its family needs; `s` is writable.
        to_result(unsafe {
            bindings::th_sock_listen(
                net,
                addr.family(),
                addr.bytes().as_ptr(),
                port.to_be(),
                &mut s,
            )
        })?;
        // INVARIANT: the call succeeded, so `s` is a new socket we own.
        let sock = Sock(s);
        auth::ao_install(&sock, keys, true)?;
        Ok(sock)
    }

    /// A socket connecting (non-blocking) from `laddr` to `addr:port`, with
    /// the TCP-AO keys of `keys` (set before the SYN: a connection cannot
    /// start signing later). The two addresses must be of one family.
    pub(crate) fn connect(
        net: *mut bindings::net,
        laddr: Addr,
        addr: Addr,
        port: u16,
        keys: &Keyring,
    ) -> Result<Sock> {
        if laddr.family() != addr.family() {
            return Err(EINVAL);
        }
        let mut s = core::ptr::null_mut();
        // SAFETY: as in `listen`.
        to_result(unsafe {
            bindings::th_sock_bound(net, laddr.family(), laddr.bytes().as_ptr(), &mut s)
        })?;
        // INVARIANT: as in `listen`.
        let sock = Sock(s);
        auth::ao_install(&sock, keys, false)?;
        // SAFETY: `sock.0` is a valid, bound, unconnected socket of
        // `addr`'s family, whose bytes `addr` holds.
        to_result(unsafe {
            bindings::th_sock_connect(sock.0, addr.bytes().as_ptr(), port.to_be())
        })?;
        Ok(sock)
    }

    /// Adds TCP-AO master key `id` (for any peer; not current).
    pub(crate) fn ao_add(&self, id: u8, key: &[u8]) -> Result {
        let len = u8::try_from(key.len()).map_err(|_| EINVAL)?;
        // SAFETY: `self.0` is valid (type invariant); `key` is readable for
        // `len` bytes during the call.
        to_result(unsafe { bindings::th_sock_ao_add(self.0, id, key.as_ptr(), len) })
    }

    /// Deletes TCP-AO master key `id`, making `current` (if any) the
    /// connection's current key in the same step.
    pub(crate) fn ao_del(&self, id: u8, current: Option<u8>) -> Result {
        // SAFETY: `self.0` is valid (type invariant).
        to_result(unsafe { bindings::th_sock_ao_del(self.0, id, current.unwrap_or(0)) })
    }

    /// Signs with TCP-AO key `id` from now on, and asks the peer to do the
    /// same (RNextKeyID); every segment must be signed.
    pub(crate) fn ao_set_current(&self, id: u8) -> Result {
        // SAFETY: `self.0` is valid (type invariant).
        to_result(unsafe { bindings::th_sock_ao_set_current(self.0, id) })
    }

    /// Accepts one pending connection and its peer's address, of the
    /// family of `local` (this listener's address); `EAGAIN` when there is
    /// none.
    pub(crate) fn accept(&self, net: *mut bindings::net, local: Addr) -> Result<(Sock, Addr)> {
        let mut s = core::ptr::null_mut();
        let mut peer = [0u8; 16];
        // SAFETY: `self.0` is a valid listening socket (type invariant);
        // `peer` has room for an address of either family.
        to_result(unsafe { bindings::th_sock_accept(net, self.0, &mut s, peer.as_mut_ptr()) })?;
        // INVARIANT: as in `listen`.
        let sock = Sock(s);
        let peer = match local {
            Addr::V4(_) => Addr::V4([peer[0], peer[1], peer[2], peer[3]]),
            Addr::V6(_) => Addr::V6(peer),
        };
        Ok((sock, peer))
    }

    /// The TCP state, or a negative errno when the socket failed.
    pub(crate) fn state(&self) -> i32 {
        // SAFETY: `self.0` is valid (type invariant).
        unsafe { bindings::th_sock_state(self.0) }
    }

    /// Reads what is available into `buf`: `Ok(0)` at end of stream,
    /// `EAGAIN` when nothing is there.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: `self.0` is valid; `buf` has `buf.len()` writable bytes.
        let n =
            unsafe { bindings::th_sock_recv(self.0, buf.as_mut_ptr().cast(), buf.len() as u32) };
        if n < 0 {
            return Err(Error::from_errno(n));
        }
        Ok(n as usize)
    }

    /// Sends what the socket takes now of `buf`; `EAGAIN` when nothing.
    pub(crate) fn send(&self, buf: &[u8]) -> Result<usize> {
        // SAFETY: `self.0` is valid; `buf` is readable.
        let n = unsafe { bindings::th_sock_send(self.0, buf.as_ptr().cast(), buf.len() as u32) };
        if n < 0 {
            return Err(Error::from_errno(n));
        }
        Ok(n as usize)
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        // SAFETY: the socket is ours (type invariant) and released once.
        unsafe { bindings::th_sock_release(self.0) };
    }
}
