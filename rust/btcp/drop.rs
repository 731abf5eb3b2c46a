// SPDX-License-Identifier: GPL-2.0

//! Why BTCP drops a packet.
//!
//! Every packet the module drops is freed with `kfree_skb_reason()`, so the
//! kernel's drop tooling sees it: the `skb:kfree_skb` tracepoint (with the
//! reason and, as its location, a function of this module), `perf trace`,
//! dropwatch. A module cannot add reasons to the kernel's list (the
//! subsystem table is closed to modules), so each drop uses the kernel
//! reason that describes it best; the module's counters and
//! `Documentation/troubleshooting.rst` say more.

use crate::bindings;

/// A drop site's reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// A client packet arrived while its connection's held queue was full
    /// (the first request is still being read or decided on): the client
    /// retransmits it. Kernel reason `SOCKET_BACKLOG`.
    HeldQueueFull,
    /// No memory to hold or rewrite a packet. Kernel reason `NOMEM`.
    NoMemory,
    /// A held duplicate (a retransmission of request bytes, a duplicate
    /// ACK) not given back to the local stack when the front-end serves
    /// the connection itself: the stack has the originals. Kernel reason
    /// `TCP_OLD_DATA`.
    StaleHeld,
    /// Held packets freed with their connection's entry (the connection
    /// ended, the table was flushed, the namespace went). Kernel reason
    /// `QUEUE_PURGE`.
    Purged,
    /// A header that could not be read or rewritten (truncated, or TCP
    /// options that do not parse). Kernel reason `HDR_TRUNC`.
    BadHeader,
    /// A segment the local stack sends for a connection another node
    /// serves, or a SYN/ACK retransmission the client must not see
    /// (swallowed by the output hook without an error to the socket).
    /// Kernel reason `NETFILTER_DROP`.
    NotOurs,
    /// Back-end: a segment of a taken-over connection whose handoff was
    /// withdrawn. Kernel reason `TCP_CLOSE`.
    Aborted,
    /// Front-end: a new SYN (another initial sequence number) on a tuple
    /// whose handoff is still being decided or flushed: the client gave
    /// the old connection up and opens a new one before this node knows
    /// where the old one went. It retransmits the SYN. Kernel reason
    /// `TCP_INVALID_SYN`.
    SynWhileDeciding,
}

impl DropReason {
    /// The kernel's `enum skb_drop_reason` value.
    pub(crate) fn kernel(self) -> bindings::skb_drop_reason {
        match self {
            DropReason::HeldQueueFull => bindings::skb_drop_reason_SKB_DROP_REASON_SOCKET_BACKLOG,
            DropReason::NoMemory => bindings::skb_drop_reason_SKB_DROP_REASON_NOMEM,
            DropReason::StaleHeld => bindings::skb_drop_reason_SKB_DROP_REASON_TCP_OLD_DATA,
            DropReason::Purged => bindings::skb_drop_reason_SKB_DROP_REASON_QUEUE_PURGE,
            DropReason::BadHeader => bindings::skb_drop_reason_SKB_DROP_REASON_HDR_TRUNC,
            DropReason::NotOurs => bindings::skb_drop_reason_SKB_DROP_REASON_NETFILTER_DROP,
            DropReason::Aborted => bindings::skb_drop_reason_SKB_DROP_REASON_TCP_CLOSE,
            DropReason::SynWhileDeciding => {
                bindings::skb_drop_reason_SKB_DROP_REASON_TCP_INVALID_SYN
            }
        }
    }
}
