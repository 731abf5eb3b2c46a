// SPDX-License-Identifier: GPL-2.0

//! UTCP: upper TCP, the shim on a service's listening sockets.
//!
//! BTCP already keeps a held connection away from `accept()` by
//! withholding the segment that would complete its handshake: TCP holds
//! only a request socket, and a handoff removes it with a reset that only
//! the local stack sees. The shim is the guarantee one layer up. Every IPv4
//! or IPv6 listener (dual-stack ones included) that receives a held connection is shimmed lazily, from the
//! packet path: its `icsk_af_ops` is swapped for a copy whose
//! `syn_recv_sock` (the function that creates the child socket `accept()`
//! returns) asks [`th_rs_utcp_veto`] first. While the front-end holds,
//! decides or has handed off a connection, no child can be created for it,
//! whatever reaches TCP; once the connection is released to local service,
//! children are created as usual and get the listener's original
//! operations back at birth.
//!
//! A listener is restored exactly (its original operations, its reference
//! dropped) when its service is removed, when it stops listening (the
//! housekeeping tick notices), and when the namespace or the module goes.
//! `Documentation/utcp.rst` explains why this is safe: locking, and the
//! lifetimes of listeners, children and the operations table.

use crate::{
    bindings,
    btcp::front::{self, Key},
    netns::{Addr, NetState, Service, Stats},
};
use kernel::prelude::*;

/// A listener this module shimmed.
///
/// # Invariants
///
/// `0` is a socket this module attached to (`th_utcp_attach` returned
/// `TH_UTCP_ATTACHED`), holding the reference that call took.
pub(crate) struct Shimmed(*mut bindings::sock);

// SAFETY: the socket is reference counted and may be restored and released
// from any CPU.
unsafe impl Send for Shimmed {}

impl Shimmed {
    /// Whether the socket still listens, and its bound address and port
    /// (address as sent; port in host order).
    fn listening(&self) -> (bool, Addr, u16) {
        let (mut family, mut addr, mut port) = (0i32, [0u8; 16], 0u16);
        // SAFETY: the reference held (type invariant) keeps the socket
        // alive; the out-pointers are writable, `addr` with room for an
        // IPv6 address.
        let up = unsafe {
            bindings::th_utcp_listening(self.0, &mut family, addr.as_mut_ptr(), &mut port)
        };
        let addr = if family == bindings::AF_INET6 as i32 {
            Addr::V6(addr)
        } else {
            Addr::V4([addr[0], addr[1], addr[2], addr[3]])
        };
        (up, addr, u16::from_be(port))
    }

    /// Whether this listener receives connections for `s`: bound to its
    /// address or to the wildcard of its family. An IPv6 listener on `::`
    /// may also take IPv4 connections (unless `IPV6_V6ONLY`): it is kept
    /// for IPv4 services too, which at worst leaves a shim on a listener
    /// no held connection uses until the next `service-del`.
    fn serves(&self, s: &Service) -> bool {
        let (_, addr, port) = self.listening();
        port == s.port
            && match (addr, s.addr) {
                (Addr::V4(l), Addr::V4(a)) => l == [0; 4] || l == a,
                (Addr::V6(l), Addr::V6(a)) => l == [0; 16] || l == a,
                (Addr::V6(l), Addr::V4(_)) => l == [0; 16],
                (Addr::V4(_), Addr::V6(_)) => false,
            }
    }
}

impl Drop for Shimmed {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this module attached to the socket
        // and owns the reference the detach drops.
        unsafe { bindings::th_utcp_detach(self.0) };
    }
}

/// The namespace's shimmed listeners ([`NetState::utcp`]).
pub(crate) struct Listeners {
    list: KVec<Shimmed>,
    /// Set when the namespace goes: nothing is attached any more.
    closed: bool,
}

impl Listeners {
    pub(crate) fn new() -> Self {
        Listeners {
            list: KVec::new(),
            closed: false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }
}

/// Shims `listener`, the listening socket of a connection the front-end
/// starts to hold, unless it already is (packet path).
///
/// # Safety
///
/// `listener` must be a socket that stays valid for the call (a request
/// socket's listener, under the hook's RCU read-side section).
pub(crate) unsafe fn attach(st: &NetState, listener: *mut bindings::sock) {
    if listener.is_null() {
        return;
    }
    // The shim itself is switched without the list's lock: nearly every
    // held connection finds its listener shimmed already, and that answer
    // costs one load. Only a listener shimmed just now takes the
    // namespace's lock, to be recorded.
    // SAFETY: `listener` is valid (function precondition).
    match unsafe { bindings::th_utcp_attach(listener) } as u32 {
        bindings::TH_UTCP_ATTACHED => {}
        bindings::TH_UTCP_ALREADY => return,
        _ => {
            Stats::inc(&st.stats.utcp_unshimmed, 1);
            return;
        }
    }
    // INVARIANT: attached just now, with its reference; dropping the
    // record (on every path below) detaches again.
    let shimmed = Shimmed(listener);
    let mut l = st.utcp.lock();
    // `close` may have run between the attach and the lock: then the
    // record is dropped on return, which restores the listener at once.
    if l.closed || l.list.reserve(1, GFP_ATOMIC).is_err() {
        Stats::inc(&st.stats.utcp_unshimmed, 1);
        return;
    }
    if let Err(e) = l.list.push_within_capacity(shimmed) {
        // Cannot happen (room was reserved); dropping detaches.
        drop(e);
    }
}

/// Restores listeners that stopped listening (housekeeping tick).
pub(crate) fn prune(st: &NetState) {
    let mut l = st.utcp.lock();
    l.list.retain(|s| s.listening().0);
}

/// Restores listeners that serve none of `services` (after `service-del`).
pub(crate) fn detach_unserved(st: &NetState, services: &[Service]) {
    let mut l = st.utcp.lock();
    l.list
        .retain(|s| s.listening().0 && services.iter().any(|svc| s.serves(svc)));
}

/// Restores every listener and attaches no more (pernet `pre_exit`; the
/// grace period before `exit` lets running shim calls finish).
pub(crate) fn close(st: &NetState) {
    let mut l = st.utcp.lock();
    l.closed = true;
    l.list.clear();
}

/// The shim's question, from `th_utcp_syn_recv_sock` in `glue.c` (packet
/// path): may this connection (addresses and ports as sent) have a child
/// socket? Not while the front-end holds it, decides on it or has handed
/// it off.
#[no_mangle]
extern "C" fn th_rs_utcp_veto(
    net: *mut bindings::net,
    family: i32,
    saddr: *const u8,
    sport: u16,
    daddr: *const u8,
    dport: u16,
) -> bool {
    // SAFETY: the glue calls this only while the namespace's state is in
    // place (it checks the slot; `exit` frees the state only after
    // `pre_exit` restored every listener and a grace period passed).
    let st = unsafe { NetState::of(net) };
    // SAFETY: the glue passes addresses of `family` from the segment's
    // header: 16 readable bytes each for IPv6, 4 for IPv4.
    let (saddr, daddr) = unsafe {
        if family == bindings::AF_INET6 as i32 {
            (
                Addr::V6(core::ptr::read_unaligned(saddr.cast::<[u8; 16]>())),
                Addr::V6(core::ptr::read_unaligned(daddr.cast::<[u8; 16]>())),
            )
        } else {
            (
                Addr::V4(core::ptr::read_unaligned(saddr.cast::<[u8; 4]>())),
                Addr::V4(core::ptr::read_unaligned(daddr.cast::<[u8; 4]>())),
            )
        }
    };
    let key = Key {
        saddr,
        daddr,
        sport: u16::from_be(sport),
        dport: u16::from_be(dport),
    };
    let veto = front::holds(st, &key);
    if veto {
        Stats::inc(&st.stats.utcp_vetoed, 1);
    }
    veto
}
