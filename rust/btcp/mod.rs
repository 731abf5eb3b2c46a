// SPDX-License-Identifier: GPL-2.0

//! BTCP: the bottom-TCP layer, netfilter hooks below the TCP stack.
//!
//! In the handoff design BTCP sees every packet of a service's connections
//! before TCP does (inbound) and after it (outbound). It records each side's
//! initial state from the handshake, holds the first request, and, once a
//! connection is handed off, rewrites addresses, sequence numbers and
//! timestamps: [`front`] is the front-end's table, [`back`] the back-end's,
//! [`xmit`] rewrites and sends, [`table`] is the tables' hashed,
//! per-bucket-locked shape, [`slab`] the caches their entries live in, [`drop`] names why a packet is dropped, and
//! `hooks` ties them to netfilter.

pub(crate) mod back;
pub(crate) mod drop;
pub(crate) mod front;
mod hooks;
pub(crate) mod slab;
pub(crate) mod table;
pub(crate) mod xmit;
