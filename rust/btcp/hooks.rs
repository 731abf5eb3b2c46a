// SPDX-License-Identifier: GPL-2.0

//! The netfilter hook functions (IPv4).
//!
//! `glue.c` registers them in every namespace: inbound at PRE_ROUTING just
//! after defragmentation (so a handed-off flow can later be taken before
//! conntrack sees it), outbound at POST_ROUTING after source NAT (so what
//! is rewritten is what leaves).

use crate::{
    bindings,
    btcp::{back, front, Ip},
    handoff_core::{
        icmp::IPPROTO_ICMP,
        packet::{self, IPPROTO_TCP},
        tcp_options,
    },
    netns::{Addr, NetState, Stats},
};
use kernel::ffi::{c_uint, c_void};

/// What the hooks learn of a TCP packet: addresses, ports, and how the
/// header parse went.
enum Classified {
    /// Not IPv4 TCP or ICMP with a readable first fragment: not ours to
    /// look at.
    Other,
    /// An IPv4 ICMP message with its network header at `nhoff`.
    Icmp { nhoff: i32, ip: packet::Ipv4Header },
    /// IPv4 TCP with its network header at `nhoff`; `tcp` is `None` when
    /// its header is malformed. `opts` holds the TCP options (the first
    /// `opts_len` bytes).
    Tcp {
        nhoff: i32,
        ip: packet::Ipv4Header,
        tcp: Option<packet::TcpHeader>,
        opts: [u8; 40],
        opts_len: usize,
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
        Ok(ip) if ip.protocol == IPPROTO_ICMP && !ip.is_later_fragment => {
            return Classified::Icmp { nhoff: off, ip };
        }
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
    let mut tcp = if tp.is_null() {
        None
    } else {
        // SAFETY: `tp` points at `tbuf.len()` readable bytes.
        let t = unsafe { core::slice::from_raw_parts(tp.cast::<u8>(), tbuf.len()) };
        let seg_len = usize::from(ip.total_len).saturating_sub(ip.header_len);
        packet::parse_tcp(t, seg_len).ok()
    };
    let mut opts = [0u8; 40];
    let mut opts_len = 0;
    if let Some(t) = &tcp {
        let n = t.header_len - packet::TCP_MIN_LEN;
        if n > 0 {
            // SAFETY: as above, for the options.
            let op = unsafe {
                bindings::th_skb_header_pointer(
                    skb,
                    toff + packet::TCP_MIN_LEN as i32,
                    n as i32,
                    opts.as_mut_ptr().cast::<c_void>(),
                )
            };
            if op.is_null() {
                tcp = None;
            } else {
                if op != opts.as_ptr().cast::<c_void>() {
                    // SAFETY: `op` points at `n` readable bytes, `opts` has
                    // room for them (n <= 40), and they do not overlap.
                    unsafe {
                        core::ptr::copy_nonoverlapping(op.cast::<u8>(), opts.as_mut_ptr(), n)
                    };
                }
                opts_len = n;
            }
        }
    }
    Classified::Tcp {
        nhoff: off,
        ip,
        tcp,
        opts,
        opts_len,
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
    // The module's own replayed packets pass untouched.
    // SAFETY: netfilter passes a valid skb.
    if unsafe { bindings::th_skb_take_inject_mark(skb) } {
        return bindings::NF_ACCEPT;
    }
    // SAFETY: netfilter passes a valid skb with its network header set.
    let classified = unsafe { classify(skb) };
    // An error about a forwarded connection's reply goes to its back-end.
    if let Classified::Icmp { nhoff, ip } = classified {
        if st.services.contains_addr(&Addr::V4(ip.daddr)) {
            // SAFETY: `net` is the live namespace of `st`; the hook may
            // steal `skb`, whose network header is at `nhoff`.
            return unsafe { front::icmp_inbound(st, net, skb, nhoff) };
        }
        return bindings::NF_ACCEPT;
    }
    if let Classified::Tcp {
        nhoff,
        ip,
        tcp,
        opts,
        opts_len,
    } = classified
    {
        let ipi = Ip::v4(&ip);
        if let Some(tcp) = &tcp {
            if let Some(v) = back::inbound(st, &ipi, tcp) {
                return v;
            }
        }
        let svc = tcp
            .as_ref()
            .and_then(|t| st.services.slot_v4(ip.daddr, t.dport));
        match (tcp, svc) {
            (Some(tcp), Some(slot)) => {
                Stats::inc(&st.stats.rx_packets, 1);
                Stats::inc(&st.stats.rx_bytes, u64::from(ip.total_len));
                let s = st.services.stats(slot);
                Stats::inc(&s.rx_packets, 1);
                Stats::inc(&s.rx_bytes, u64::from(ip.total_len));
                let o = tcp_options::parse(opts.get(..opts_len).unwrap_or(&[])).unwrap_or_default();
                let (tsval, tsecr) = o.timestamp.unwrap_or((0, 0));
                let ack = front::ClientAck {
                    seq: tcp.seq,
                    window: tcp.window,
                    tsval,
                    tsecr,
                    ack: (tcp.flags & packet::flags::ACK != 0).then_some(tcp.ack),
                    sack: o.sack.is_some(),
                };
                // SAFETY: `net` is the live namespace of `st`; the hook may
                // steal `skb`, whose network header is at `nhoff`.
                return unsafe { front::inbound(st, net, skb, nhoff, &ipi, &tcp, ack) };
            }
            // A malformed TCP header has no trustworthy port: count it when
            // its destination is a service address.
            (None, _) if st.services.contains_addr(&Addr::V4(ip.daddr)) => {
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
        ip,
        tcp: Some(tcp),
        opts,
        opts_len,
        ..
    } = classified
    {
        let opts = opts.get(..opts_len).unwrap_or(&[]);
        let ipi = Ip::v4(&ip);
        // SAFETY: `skb` is the hook's packet, headers validated just above.
        if let Some(v) = unsafe { back::outbound(st, skb, &ipi, &tcp, opts) } {
            return v;
        }
        if let Some(slot) = st.services.slot_v4(ip.saddr, tcp.sport) {
            Stats::inc(&st.stats.tx_packets, 1);
            Stats::inc(&st.stats.tx_bytes, u64::from(ip.total_len));
            let s = st.services.stats(slot);
            Stats::inc(&s.tx_packets, 1);
            Stats::inc(&s.tx_bytes, u64::from(ip.total_len));
            // SAFETY: as above.
            return unsafe { front::outbound(st, skb, &ipi, &tcp) };
        }
    }
    bindings::NF_ACCEPT
}
