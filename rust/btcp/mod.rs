// SPDX-License-Identifier: GPL-2.0

//! BTCP: the bottom-TCP layer, netfilter hooks below the TCP stack.
//!
//! In the handoff design BTCP sees every packet of a service's connections
//! before TCP does (inbound) and after it (outbound). It records each side's
//! initial state from the handshake, holds the first request, and, once a
//! connection is handed off, rewrites addresses, sequence numbers and
//! timestamps. This stage of the module classifies packets of configured
//! services and counts them; nothing is dropped or rewritten yet.

mod hooks;
