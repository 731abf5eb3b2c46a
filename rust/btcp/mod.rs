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

use crate::{
    handoff_core::packet::{Ipv4Header, Ipv6Header, IPV6_HDR_LEN},
    netns::Addr,
};

/// What the hooks learn of a TCP packet's IP header, IPv4 or IPv6: the
/// tables and the front-end's stages work on this, not on either
/// family's header.
#[derive(Clone, Copy)]
pub(crate) struct Ip {
    pub(crate) saddr: Addr,
    pub(crate) daddr: Addr,
    /// Bytes before the TCP header (IPv6: extension headers included).
    pub(crate) header_len: usize,
    /// The packet's length as its header says.
    pub(crate) total_len: usize,
}

impl Ip {
    pub(crate) fn v4(h: &Ipv4Header) -> Self {
        Ip {
            saddr: Addr::V4(h.saddr),
            daddr: Addr::V4(h.daddr),
            header_len: h.header_len,
            total_len: usize::from(h.total_len),
        }
    }

    pub(crate) fn v6(h: &Ipv6Header) -> Self {
        Ip {
            saddr: Addr::V6(h.saddr),
            daddr: Addr::V6(h.daddr),
            header_len: h.header_len,
            total_len: IPV6_HDR_LEN + usize::from(h.payload_len),
        }
    }
}

pub(crate) mod back;
pub(crate) mod drop;
pub(crate) mod follow;
pub(crate) mod front;
mod hooks;
pub(crate) mod slab;
pub(crate) mod table;
pub(crate) mod xmit;
