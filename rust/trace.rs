// SPDX-License-Identifier: GPL-2.0

//! Tracepoints of the trace system `tcp_handoff`.
//!
//! The events are declared in C (`glue/tcp_handoff_trace.h`, instantiated
//! by `glue/trace.c`), as the kernel declares all of its events. Rust calls
//! each through its `rust_do_trace_<name>()` entry point, and only when the
//! tracepoint's static key says something is attached: a disabled event
//! costs one test of a static key, as in C. This is what the kernel crate's
//! `declare_trace!` does for tracepoints the kernel crate's bindings know;
//! these are the module's own, so the module's bindings name them.
//!
//! C header: [`glue/tcp_handoff_trace.h`](glue/tcp_handoff_trace.h).

use crate::bindings;
use crate::{btcp::front::Key, netns::Addr};
use kernel::ffi::c_char;

/// Whether something is attached to tracepoint `$name`.
macro_rules! enabled {
    ($name:ident) => {{
        #[cfg(CONFIG_TRACEPOINTS)]
        {
            kernel::macros::paste! {
                // SAFETY: `__tracepoint_<name>` is a tracepoint the module's
                // C object defines (`glue/trace.c`), and its static key may
                // always be read.
                unsafe {
                    kernel::jump_label::static_branch_unlikely!(
                        bindings::[<__tracepoint_ $name>],
                        kernel::bindings::tracepoint,
                        key
                    )
                }
            }
        }
        #[cfg(not(CONFIG_TRACEPOINTS))]
        {
            false
        }
    }};
}

/// A string argument as the events take it: the bytes and their length
/// (`__string_len`, so no NUL terminator is needed).
fn str_arg(s: &str) -> (*const c_char, u32) {
    (
        s.as_ptr().cast(),
        u32::try_from(s.len()).unwrap_or(u32::MAX),
    )
}

/// A connection's address family as the events take it (`AF_INET` or
/// `AF_INET6`).
fn family(key: &Key) -> u16 {
    key.saddr.family() as u16
}

/// An address and port as the events take them: a pointer to the address's
/// 4 or 16 bytes (valid while `addr` is) and the port in network byte order.
fn addr_port(addr: &Addr, port: u16) -> (*const u8, u16) {
    let ptr = match addr {
        Addr::V4(a) => a.as_ptr(),
        Addr::V6(a) => a.as_ptr(),
    };
    (ptr, port.to_be())
}

/// `tcp_handoff:handoff_queued`: the front-end has the complete head of
/// connection `key` and queues it for dispatch (a handoff's latency starts
/// here).
pub(crate) fn handoff_queued(netns: u32, key: &Key, head_len: usize) {
    if enabled!(handoff_queued) {
        let head_len = u32::try_from(head_len).unwrap_or(u32::MAX);
        let (saddr, sport) = addr_port(&key.saddr, key.sport);
        let (daddr, dport) = addr_port(&key.daddr, key.dport);
        // SAFETY: the addresses point into `key`, which outlives the call,
        // and hold as many bytes as their family says; the event copies
        // its arguments.
        unsafe {
            bindings::rust_do_trace_handoff_queued(
                netns,
                family(key),
                saddr,
                sport,
                daddr,
                dport,
                head_len,
            )
        };
    }
}

/// `tcp_handoff:handoff_start`: the front-end sends the request of
/// connection `id` to `node`.
pub(crate) fn handoff_start(netns: u32, id: u64, node: u32, key: &Key, head_len: usize) {
    if enabled!(handoff_start) {
        let head_len = u32::try_from(head_len).unwrap_or(u32::MAX);
        let (saddr, sport) = addr_port(&key.saddr, key.sport);
        let (daddr, dport) = addr_port(&key.daddr, key.dport);
        // SAFETY: as in `handoff_queued`.
        unsafe {
            bindings::rust_do_trace_handoff_start(
                netns,
                id,
                node,
                family(key),
                saddr,
                sport,
                daddr,
                dport,
                head_len,
            )
        };
    }
}

/// `tcp_handoff:handoff_done`: `node` took connection `id` over.
pub(crate) fn handoff_done(netns: u32, id: u64, node: u32, key: &Key, latency_us: u64) {
    if enabled!(handoff_done) {
        let (saddr, sport) = addr_port(&key.saddr, key.sport);
        // SAFETY: as in `handoff_queued`.
        unsafe {
            bindings::rust_do_trace_handoff_done(
                netns,
                id,
                node,
                family(key),
                saddr,
                sport,
                latency_us,
            )
        };
    }
}

/// `tcp_handoff:handoff_failed`: the handoff of `id` to `node` was given up
/// for `reason`.
pub(crate) fn handoff_failed(netns: u32, id: u64, node: u32, key: &Key, reason: &str) {
    if enabled!(handoff_failed) {
        let (saddr, sport) = addr_port(&key.saddr, key.sport);
        let (ptr, len) = str_arg(reason);
        // SAFETY: as in `handoff_queued`; `ptr` points to `len` readable
        // bytes for the duration of the call, and the event copies them
        // (`__assign_str`).
        unsafe {
            bindings::rust_do_trace_handoff_failed(
                netns,
                id,
                node,
                family(key),
                saddr,
                sport,
                ptr,
                len,
            )
        };
    }
}

/// `tcp_handoff:handoff_terminate`: a TERMINATE about `id` went to
/// (`received` false) or came from `node`.
pub(crate) fn handoff_terminate(netns: u32, id: u64, node: u32, reason: u16, received: bool) {
    if enabled!(handoff_terminate) {
        // SAFETY: the event only copies its scalar arguments.
        unsafe { bindings::rust_do_trace_handoff_terminate(netns, id, node, reason, received) };
    }
}

/// `tcp_handoff:channel_state`: the control channel to `node` came up or
/// went down.
pub(crate) fn channel_state(netns: u32, node: u32, up: bool, reason: &str) {
    if enabled!(channel_state) {
        let (ptr, len) = str_arg(reason);
        // SAFETY: `ptr` points to `len` readable bytes for the duration of
        // the call, and the event copies them (`__assign_str`).
        unsafe { bindings::rust_do_trace_channel_state(netns, node, up, ptr, len) };
    }
}
