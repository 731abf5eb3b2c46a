// SPDX-License-Identifier: GPL-2.0

//! The `tcp_handoff` generic netlink family and `/proc/net/tcp_handoff`.
//!
//! The family is described by `Documentation/netlink/specs/tcp_handoff.yaml`;
//! its policies and operation table are generated from that spec into
//! `glue/netlink-gen.c` by the kernel's `ynl_gen_c.py`, so the strict
//! attribute validation (unknown attributes, lengths, ranges) and the
//! CAP_NET_ADMIN check happen before any handler here runs. The handlers
//! check what a policy cannot express (which attributes must come together,
//! duplicates, table limits, consistent rules) and explain every refusal in
//! the extack.

mod addr;
mod conn;
pub(crate) mod event;
mod key;
mod limits;
mod msg;
mod node;
mod rule;
mod service;
mod stats;

pub(crate) use msg::FAMILY_NAME;
