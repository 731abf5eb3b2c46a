// SPDX-License-Identifier: GPL-2.0

//! The netfilter hook functions (IPv4).
//!
//! `glue.c` registers them in every namespace: inbound at PRE_ROUTING just
//! after defragmentation (so a handed-off flow can later be taken before
//! conntrack sees it), outbound at POST_ROUTING after source NAT (so what
//! is rewritten is what leaves).

use crate::{
    bindings,
    btcp::front,
    handoff_core::packet::{self, IPPROTO_TCP},
    netns::{NetState, Stats},
};
use kernel::ffi::{c_uint, c_void};

/// What the hooks learn of a TCP packet: addresses, ports, and how the
/// header parse went.
enum Classified {
    /// Not IPv4 TCP with a readable first fragment: not ours to look at.
    Other,
    /// IPv4 TCP with its network header at `nhoff`; `tcp` is `None` when
    /// its header is malformed.
    Tcp {
        nhoff: i32,
        ip: packet::Ipv4Header,
        tcp: Option<packet::TcpHeader>,
    },
}

/// Reads the IPv4 and TCP headers of `skb` without assuming they are linear.
///
/// # Safety
///
/// `skb` must be a valid socket buffer whose network header is set.
unsafe fn classify(skb: *const bindings::sk_buff) -> Classified {
    let mut buf = [0u8; packet::IPV4_MIN_LEN];
    // SAFETY: `skb` is valid (function precondition).
    let off = unsafe { bindings::th_skb_network_offset(skb) };
    // SAFETY: `buf` has room for the requested length; the helper returns
    // either null or a pointer to that many readable bytes.
    let p = unsafe {
        bindings::th_skb_header_pointer(
            skb,
            off,
            buf.len() as i32,
            buf.as_mut_ptr().cast::<c_void>(),
        )
    };
    if p.is_null() {
        return Classified::Other;
    }
    // SAFETY: see above: `p` points at `buf.len()` readable bytes.
    let hdr = unsafe { core::slice::from_raw_parts(p.cast::<u8>(), buf.len()) };
    let ip = match packet::parse_ipv4(hdr) {
        Ok(ip) if ip.protocol == IPPROTO_TCP && !ip.is_later_fragment => ip,
        _ => return Classified::Other,
    };
    let mut tbuf = [0u8; packet::TCP_MIN_LEN];
    let toff = off + ip.header_len as i32;
    // SAFETY: as above, for the TCP header.
    let tp = unsafe {
        bindings::th_skb_header_pointer(
            skb,
            toff,
            tbuf.len() as i32,
            tbuf.as_mut_ptr().cast::<c_void>(),
        )
    };
    let tcp = if tp.is_null() {
        None
    } else {
        // SAFETY: `tp` points at `tbuf.len()` readable bytes.
        let t = unsafe { core::slice::from_raw_parts(tp.cast::<u8>(), tbuf.len()) };
        let seg_len = usize::from(ip.total_len).saturating_sub(ip.header_len);
        packet::parse_tcp(t, seg_len).ok()
    };
    Classified::Tcp {
        nhoff: off,
        ip,
        tcp,
    }
}

/// Inbound hook (PRE_ROUTING), called from the trampoline in `glue.c`.
#[no_mangle]
extern "C" fn th_rs_hook_in(
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> c_uint {
    // SAFETY: netfilter passes a valid hook state whose namespace is live
    // and has its module state (the hook is registered only after it).
    let net = unsafe { bindings::th_hook_state_net(state) };
    // SAFETY: as above.
    let st = unsafe { NetState::of(net) };
    // SAFETY: netfilter passes a valid skb with its network header set.
    if let Classified::Tcp { nhoff, ip, tcp } = unsafe { classify(skb) } {
        match tcp {
            Some(tcp) if st.services.contains_v4(ip.daddr, tcp.dport) => {
                Stats::inc(&st.stats.rx_packets, 1);
                Stats::inc(&st.stats.rx_bytes, u64::from(ip.total_len));
                // SAFETY: `net` is the live namespace of `st`; the hook may
                // steal `skb`, whose network header is at `nhoff`.
                return unsafe { front::inbound(st, net, skb, nhoff, &ip, &tcp) };
            }
            // A malformed TCP header has no trustworthy port: count it when
            // its destination is a service address.
            None if st.services.contains_v4_addr(ip.daddr) => {
                Stats::inc(&st.stats.rx_malformed, 1);
            }
            _ => {}
        }
    }
    bindings::NF_ACCEPT
}

/// Outbound hook (POST_ROUTING), called from the trampoline in `glue.c`.
#[no_mangle]
extern "C" fn th_rs_hook_out(
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> c_uint {
    // SAFETY: as in `th_rs_hook_in`.
    let st = unsafe { NetState::of(bindings::th_hook_state_net(state)) };
    // SAFETY: as in `th_rs_hook_in`.
    let classified = unsafe { classify(skb) };
    if let Classified::Tcp {
        ip, tcp: Some(tcp), ..
    } = classified
    {
        if st.services.contains_v4(ip.saddr, tcp.sport) {
            Stats::inc(&st.stats.tx_packets, 1);
            Stats::inc(&st.stats.tx_bytes, u64::from(ip.total_len));
        }
    }
    bindings::NF_ACCEPT
}
