// SPDX-License-Identifier: GPL-2.0

//! Pure, allocation-free logic of the `tcp_handoff` connection-handoff module.
//!
//! Everything here is plain arithmetic over byte slices: it parses the first
//! HTTP request head, picks a back-end by dispatch rules, translates TCP
//! sequence numbers, timestamps and windows between the front-end's and the
//! back-end's view of a migrated connection, and encodes the control-channel
//! messages that carry a connection from one node to the other.
//!
//! The same files are compiled twice. The kernel module includes this file
//! as a child module (`#[path = "core/src/lib.rs"] mod handoff_core;`), so it
//! must not carry crate-level attributes, must not use `alloc` or `std`, and
//! refers to sibling modules only through `super::`. On the host, `cargo`
//! builds it through `crate_root.rs` (`#![no_std]`, `#![forbid(unsafe_code)]`)
//! so that the logic is unit-tested without a kernel. No code here may panic
//! on any input: parsers take `&[u8]` and return `Result` or `Option`, slices
//! are accessed with `get`, and arithmetic on peer-supplied values is checked
//! or explicitly wrapping.

pub mod auth;
pub mod codec;
pub mod deadline;
pub mod follow;
pub mod framing;
pub mod http;
pub mod icmp;
pub mod lard;
pub mod packet;
pub mod rewrite;
pub mod rules;
pub mod seq;
pub mod sort;
pub mod tcp_options;
#[cfg(test)]
mod test_rng;
