// SPDX-License-Identifier: GPL-2.0

//! BTCP: the bottom-TCP layer, netfilter hooks below the TCP stack.
//!
//! In the handoff design BTCP sees every packet of a service's connections
//! before TCP does (inbound) and after it (outbound). It records each side's
//! initial state from the handshake, holds the first request, and, once a
//! connection is handed off, rewrites addresses, sequence numbers and
//! timestamps. This stage holds each new connection until its first request
//! head is read and then releases it to the local TCP stack ([`front`]);
//! the handoff to another node builds on that.

pub(crate) mod front;
mod hooks;
