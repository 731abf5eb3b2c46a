// SPDX-License-Identifier: GPL-2.0

//! Bindings to the module's C glue (`glue/glue.h`), generated at build time
//! by the module's own bindgen run (see `Kbuild`).
//!
//! Kernel types that Rust only passes around (`sk_buff`, `net`,
//! `genl_info`, ...) are opaque here: Rust reaches their fields only through
//! glue functions, so a layout change in the kernel cannot be misread.

// `improper_ctypes`: the tracepoints' `struct tracepoint` (the kernel
// crate's binding) holds a zero-sized member; Rust only takes its address.
#![allow(
    dead_code,
    improper_ctypes,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    unnecessary_transmutes,
    clippy::all,
    clippy::as_underscore,
    clippy::cast_lossless,
    clippy::ptr_as_ptr,
    clippy::ref_as_ptr,
    clippy::undocumented_unsafe_blocks
)]

include!("bindings_generated.rs");
