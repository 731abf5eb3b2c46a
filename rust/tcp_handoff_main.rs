// SPDX-License-Identifier: GPL-2.0

//! `tcp_handoff`: TCP connection handoff for web server clusters.
//!
//! Every node of a cluster runs this module. A node that receives a
//! connection (the front-end) reads the first HTTP request, picks the node
//! that should serve it, and migrates the live TCP connection there; that
//! back-end then answers the client directly, under the front-end's address
//! and sequence numbers. See `Documentation/design.rst`.
//!
//! The source tree shows the layers:
//! - [`btcp`]: bottom TCP, the netfilter hooks below the TCP stack: the
//!   front-end's and back-end's connection tables and packet rewriting.
//! - [`channel`]: the persistent control connections between nodes and the
//!   handoff protocol spoken over them.
//! - [`utcp`]: upper TCP, the shim on the services' listening sockets that
//!   keeps held and handed-off connections from `accept()`.
//! - [`dispatch`]: which node serves a request (rules and policies).
//! - [`netlink`]: the `tcp_handoff` generic netlink family (configuration
//!   and counters) and the `/proc/net/tcp_handoff` file.
//! - [`netns`]: the per-network-namespace state all of them share.
//! - [`handoff_core`]: the pure logic (HTTP parsing, dispatch rules,
//!   sequence arithmetic, control-channel codec), also tested on the host.
//! - `glue/`: the C glue for static inlines, macros and C-owned tables.

use kernel::prelude::*;

#[path = "core/src/lib.rs"]
pub mod handoff_core;

mod bindings;
mod btcp;
mod channel;
mod dispatch;
mod netlink;
mod netns;
mod sync;
mod trace;
mod utcp;

module! {
    type: TcpHandoff,
    name: "tcp_handoff",
    authors: ["tcp_handoff developers"],
    description: "TCP connection handoff for web server clusters",
    license: "GPL",
}

/// Registration of the module's pernet operations (state and netfilter
/// hooks in every namespace) and of its generic netlink family.
///
/// # Invariants
///
/// While this value exists, the registrations done by `th_glue_register`
/// are in place; dropping it undoes them.
struct Registration;

impl Registration {
    fn new() -> Result<Self> {
        // SAFETY: `th_glue_register` has no preconditions; on failure it
        // leaves nothing registered.
        kernel::error::to_result(unsafe { bindings::th_glue_register() })?;
        // INVARIANT: registration succeeded above.
        Ok(Registration)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the registrations are in place, and
        // they are undone only here, once.
        unsafe { bindings::th_glue_unregister() };
    }
}

/// The module: its registrations, then the slab caches their entries
/// live in (fields drop in order, so the caches go last).
struct TcpHandoff {
    _registration: Registration,
    _caches: btcp::slab::Caches,
}

impl kernel::Module for TcpHandoff {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let caches = btcp::slab::Caches::new()?;
        let registration = Registration::new()?;
        pr_info!("loaded (netlink family {})\n", netlink::FAMILY_NAME);
        Ok(TcpHandoff {
            _registration: registration,
            _caches: caches,
        })
    }
}

impl Drop for TcpHandoff {
    fn drop(&mut self) {
        pr_info!("unloading\n");
    }
}
