// SPDX-License-Identifier: GPL-2.0

//! Host build of the `tcp_handoff` core logic.
//!
//! The real module tree starts at `lib.rs`, which the kernel module also
//! compiles as an ordinary child module (`#[path = "core/src/lib.rs"] mod
//! handoff_core;`). Crate-level attributes cannot live there, so this file
//! is the crate root for `cargo build`/`cargo test` and re-exports
//! everything from `lib.rs`.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

#[path = "lib.rs"]
mod core_impl;

pub use core_impl::*;

// Host-only, so it lives here and not in `lib.rs`: the module never
// compiles it.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
