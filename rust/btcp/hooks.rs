// SPDX-License-Identifier: GPL-2.0

//! The netfilter hook functions, IPv4 and IPv6.
//!
//! `glue.c` registers them in every namespace: inbound at PRE_ROUTING just
//! after defragmentation (so a handed-off flow can later be taken before
//! conntrack sees it), outbound at POST_ROUTING after source NAT (so what
//! is rewritten is what leaves). Each family has its own entry points and
//! header parse ([`classify4`], [`classify6`]); what follows the parse is
//! shared: the tables are keyed by family-tagged addresses
//! ([`crate::netns::Addr`]).

use crate::{
    bindings,
    btcp::{back, front, Ip},
    handoff_core::{
        icmp::{IPPROTO_ICMP, IPPROTO_ICMPV6},
        packet::{self, IPPROTO_TCP},
        tcp_options,
    },
    netns::{Addr, NetState, Stats},
};
use kernel::ffi::{c_uint, c_void};

/// What the hooks learn of a packet: addresses, ports, and how the
/// header parse went.
enum Classified {
    /// Not TCP or ICMP with a readable first fragment: not ours to look
    /// at.
    Other,
    /// An ICMP (`v6`: ICMPv6) message to `daddr`, its network header at
    /// `nhoff`.
    Icmp { nhoff: i32, daddr: Addr, v6: bool },
    /// TCP with its network header at `nhoff`; `tcp` is `None` when its
    /// header is malformed. `opts` holds the TCP options (the first
    /// `opts_len` bytes).
    Tcp {
        nhoff: i32,
        ip: Ip,
        tcp: Option<packet::TcpHeader>,
        opts: [u8; 40],
        opts_len: usize,
    },
}

/// Bytes of IPv6 header and extension headers the hooks read: the fixed
/// header and room for a few extension headers. A TCP segment whose
/// header starts further in (a long hop-by-hop or destination options
/// chain) is left to the stack, as if to no service.
pub(crate) const IPV6_LOOK: usize = 256;

/// Reads the TCP header and options of `skb` at `toff` (`seg_len` bytes of
/// segment, as the IP header says).
///
/// # Safety
///
/// `skb` must be a valid socket buffer.
unsafe fn read_tcp(
    skb: *const bindings::sk_buff,
    toff: i32,
    seg_len: usize,
) -> (Option<packet::TcpHeader>, [u8; 40], usize) {
    let mut tbuf = [0u8; packet::TCP_MIN_LEN];
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
    (tcp, opts, opts_len)
}

/// Reads the IPv4 and TCP headers of `skb` without assuming they are linear.
///
/// # Safety
///
/// `skb` must be a valid socket buffer whose network header is set.
unsafe fn classify4(skb: *const bindings::sk_buff) -> Classified {
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
            return Classified::Icmp {
                nhoff: off,
                daddr: Addr::V4(ip.daddr),
                v6: false,
            };
        }
        _ => return Classified::Other,
    };
    let seg_len = usize::from(ip.total_len).saturating_sub(ip.header_len);
    // SAFETY: `skb` is valid.
    let (tcp, opts, opts_len) = unsafe { read_tcp(skb, off + ip.header_len as i32, seg_len) };
    Classified::Tcp {
        nhoff: off,
        ip: Ip::v4(&ip),
        tcp,
        opts,
        opts_len,
    }
}

/// Reads the IPv6 header, its extension headers and the TCP header of
/// `skb` without assuming they are linear (`handoff_core::packet::parse_ipv6`:
/// fragments, packets in transit through a routing header and chains
/// longer than [`IPV6_LOOK`] are not ours).
///
/// # Safety
///
/// `skb` must be a valid socket buffer whose network header is set.
unsafe fn classify6(skb: *const bindings::sk_buff) -> Classified {
    let mut buf = [0u8; IPV6_LOOK];
    // SAFETY: `skb` is valid (function precondition).
    let off = unsafe { bindings::th_skb_network_offset(skb) };
    // SAFETY: as above.
    let avail = (unsafe { bindings::th_skb_len(skb) } as usize).saturating_sub(off.max(0) as usize);
    let n = avail.min(buf.len());
    // SAFETY: `buf` has room for `n` bytes; the helper returns either null
    // or a pointer to that many readable bytes.
    let p = unsafe {
        bindings::th_skb_header_pointer(skb, off, n as i32, buf.as_mut_ptr().cast::<c_void>())
    };
    if p.is_null() {
        return Classified::Other;
    }
    // SAFETY: see above: `p` points at `n` readable bytes.
    let hdr = unsafe { core::slice::from_raw_parts(p.cast::<u8>(), n) };
    let ip = match packet::parse_ipv6(hdr) {
        Ok(ip) if ip.protocol == IPPROTO_TCP => ip,
        Ok(ip) if ip.protocol == IPPROTO_ICMPV6 => {
            return Classified::Icmp {
                nhoff: off,
                daddr: Addr::V6(ip.daddr),
                v6: true,
            };
        }
        _ => return Classified::Other,
    };
    // SAFETY: `skb` is valid.
    let (tcp, opts, opts_len) =
        unsafe { read_tcp(skb, off + ip.header_len as i32, ip.upper_len()) };
    Classified::Tcp {
        nhoff: off,
        ip: Ip::v6(&ip),
        tcp,
        opts,
        opts_len,
    }
}

/// The inbound hook's work once `skb` is classified (either family).
///
/// # Safety
///
/// `net` must be the live namespace of `st`; `skb` the hook's valid packet,
/// classified as `classified`.
unsafe fn hook_in(
    st: &NetState,
    net: *mut bindings::net,
    skb: *mut bindings::sk_buff,
    classified: Classified,
) -> c_uint {
    // An error about a forwarded connection's reply goes to its back-end.
    if let Classified::Icmp { nhoff, daddr, v6 } = classified {
        if st.services.contains_addr(&daddr) {
            // SAFETY: `net` is the live namespace of `st`; the hook may
            // steal `skb`, whose network header is at `nhoff`.
            return unsafe { front::icmp_inbound(st, net, skb, nhoff, v6) };
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
        if let Some(tcp) = &tcp {
            if let Some(v) = back::inbound(st, &ip, tcp) {
                return v;
            }
        }
        let svc = tcp
            .as_ref()
            .and_then(|t| st.services.slot(&ip.daddr, t.dport));
        match (tcp, svc) {
            (Some(tcp), Some(slot)) => {
                Stats::inc(&st.stats.rx_packets, 1);
                Stats::inc(&st.stats.rx_bytes, ip.total_len as u64);
                let s = st.services.stats(slot);
                Stats::inc(&s.rx_packets, 1);
                Stats::inc(&s.rx_bytes, ip.total_len as u64);
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
                return unsafe { front::inbound(st, net, skb, nhoff, &ip, &tcp, ack) };
            }
            // A malformed TCP header has no trustworthy port: count it when
            // its destination is a service address.
            (None, _) if st.services.contains_addr(&ip.daddr) => {
                Stats::inc(&st.stats.rx_malformed, 1);
            }
            _ => {}
        }
    }
    bindings::NF_ACCEPT
}

/// The outbound hook's work once `skb` is classified (either family).
///
/// # Safety
///
/// `skb` must be the hook's valid packet, classified as `classified`.
unsafe fn hook_out(st: &NetState, skb: *mut bindings::sk_buff, classified: Classified) -> c_uint {
    if let Classified::Tcp {
        ip,
        tcp: Some(tcp),
        opts,
        opts_len,
        ..
    } = classified
    {
        let opts = opts.get(..opts_len).unwrap_or(&[]);
        // SAFETY: `skb` is the hook's packet, headers validated just above.
        if let Some(v) = unsafe { back::outbound(st, skb, &ip, &tcp, opts) } {
            return v;
        }
        if let Some(slot) = st.services.slot(&ip.saddr, tcp.sport) {
            Stats::inc(&st.stats.tx_packets, 1);
            Stats::inc(&st.stats.tx_bytes, ip.total_len as u64);
            let s = st.services.stats(slot);
            Stats::inc(&s.tx_packets, 1);
            Stats::inc(&s.tx_bytes, ip.total_len as u64);
            // SAFETY: as above.
            return unsafe { front::outbound(st, skb, &ip, &tcp) };
        }
    }
    bindings::NF_ACCEPT
}

/// How a hook reads its packet's headers: `classify4` or `classify6`.
type Classify = unsafe fn(*const bindings::sk_buff) -> Classified;

/// The inbound hook of either family.
///
/// # Safety
///
/// `skb` and `state` are what netfilter passed to the hook, and `classify`
/// reads the hook's family.
unsafe fn hook_in_family(
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
    classify: Classify,
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
    // SAFETY: netfilter passes a valid skb with its network header set, of
    // the family `classify` reads.
    let classified = unsafe { classify(skb) };
    // SAFETY: `net` is the namespace of `st`; `skb` is the hook's packet.
    unsafe { hook_in(st, net, skb, classified) }
}

/// The outbound hook of either family.
///
/// # Safety
///
/// As for [`hook_in_family`].
unsafe fn hook_out_family(
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
    classify: Classify,
) -> c_uint {
    // SAFETY: as in `hook_in_family`.
    let st = unsafe { NetState::of(bindings::th_hook_state_net(state)) };
    // SAFETY: as in `hook_in_family`.
    let classified = unsafe { classify(skb) };
    // SAFETY: `skb` is the hook's packet.
    unsafe { hook_out(st, skb, classified) }
}

/// Inbound hook (IPv4 PRE_ROUTING), called from the trampoline in `glue.c`.
#[no_mangle]
extern "C" fn th_rs_hook_in(
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> c_uint {
    // SAFETY: netfilter calls the IPv4 hook with its own arguments.
    unsafe { hook_in_family(skb, state, classify4) }
}

/// Inbound hook (IPv6 PRE_ROUTING), called from the trampoline in `glue.c`.
#[no_mangle]
extern "C" fn th_rs_hook_in6(
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> c_uint {
    // SAFETY: netfilter calls the IPv6 hook with its own arguments.
    unsafe { hook_in_family(skb, state, classify6) }
}

/// Outbound hook (IPv4 POST_ROUTING), called from the trampoline in `glue.c`.
#[no_mangle]
extern "C" fn th_rs_hook_out(
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> c_uint {
    // SAFETY: netfilter calls the IPv4 hook with its own arguments.
    unsafe { hook_out_family(skb, state, classify4) }
}

/// Outbound hook (IPv6 POST_ROUTING), called from the trampoline in `glue.c`.
#[no_mangle]
extern "C" fn th_rs_hook_out6(
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> c_uint {
    // SAFETY: netfilter calls the IPv6 hook with its own arguments.
    unsafe { hook_out_family(skb, state, classify6) }
}
