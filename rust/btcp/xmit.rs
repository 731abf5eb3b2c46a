// SPDX-License-Identifier: GPL-2.0

//! Rewriting packets in place and sending them on.
//!
//! The arithmetic is `handoff_core::rewrite`'s (host-tested); this file
//! only makes the headers writable, tells it the buffer's checksum state,
//! and hands the result to the stack.

use crate::{
    bindings::{self, sk_buff},
    btcp::{
        drop::DropReason,
        front::{Forward, OwnedSkb},
    },
    handoff_core::{
        icmp,
        packet::{flags, parse_ipv6, IPV4_MIN_LEN, TCP_MIN_LEN},
        rewrite::{self, Rewrite, Rewrite6},
        seq::Translation,
    },
    netns::{Addr, NetState, Stats},
};
use kernel::ffi::c_uint;

/// A segment this node builds in a client's or a service's name, of either
/// family (both addresses of one): the replayed handshake at a back-end,
/// the front-end's head acknowledgements.
pub(crate) struct Seg<'a> {
    pub(crate) saddr: Addr,
    pub(crate) sport: u16,
    pub(crate) daddr: Addr,
    pub(crate) dport: u16,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: u8,
    pub(crate) window: u16,
    pub(crate) options: rewrite::SegOptions,
    pub(crate) payload: &'a [u8],
}

impl Seg<'_> {
    /// A bare reset from `saddr`:`sport` to `daddr`:`dport` at `seq`.
    pub(crate) fn reset(saddr: Addr, sport: u16, daddr: Addr, dport: u16, seq: u32) -> Self {
        Seg {
            saddr,
            sport,
            daddr,
            dport,
            seq,
            ack: 0,
            flags: flags::RST,
            window: 0,
            options: rewrite::SegOptions::default(),
            payload: &[],
        }
    }

    /// Writes the packet into `out`; its length, or `None` when the
    /// addresses are of two families or `out` is too short.
    pub(crate) fn build(&self, out: &mut [u8]) -> Option<usize> {
        let built = match (self.saddr, self.daddr) {
            (Addr::V4(saddr), Addr::V4(daddr)) => rewrite::build_segment(
                &rewrite::Segment {
                    saddr,
                    sport: self.sport,
                    daddr,
                    dport: self.dport,
                    seq: self.seq,
                    ack: self.ack,
                    flags: self.flags,
                    window: self.window,
                    options: self.options,
                    payload: self.payload,
                },
                out,
            ),
            (Addr::V6(saddr), Addr::V6(daddr)) => rewrite::build_segment_v6(
                &rewrite::Segment6 {
                    saddr,
                    sport: self.sport,
                    daddr,
                    dport: self.dport,
                    seq: self.seq,
                    ack: self.ack,
                    flags: self.flags,
                    window: self.window,
                    options: self.options,
                    payload: self.payload,
                },
                out,
            ),
            _ => return None,
        };
        built.ok()
    }
}

/// Most bytes of IP and TCP header a rewrite touches (both with options).
const MAX_HEADERS: usize = 60 + 60;

/// The linear, writable IP and TCP headers of `skb` and whether its TCP
/// checksum is partial; `None` when they cannot be made writable.
///
/// # Safety
///
/// `skb` must be a valid buffer owned by the caller (or a hook's packet
/// that is not yet passed on), with its network header set, holding an
/// IPv4 or IPv6 TCP segment whose headers were already validated
/// (`hdr_len` bytes from the network header, at most [`MAX_HEADERS`] or
/// [`MAX_HEADERS6`]).
unsafe fn headers<'a>(skb: *mut sk_buff, hdr_len: usize) -> Option<(&'a mut [u8], bool)> {
    let mut partial = false;
    // SAFETY: `skb` is valid (function precondition); `partial` is
    // writable.
    let p = unsafe { bindings::th_skb_writable(skb, hdr_len as u32, &mut partial) };
    if p.is_null() {
        return None;
    }
    // SAFETY: the helper made `hdr_len` bytes from `p` linear, writable
    // and private to this buffer; nobody else touches them meanwhile.
    Some((
        unsafe { core::slice::from_raw_parts_mut(p, hdr_len) },
        partial,
    ))
}

/// Most bytes of IPv6 header and extension headers the hooks read (see
/// `hooks::IPV6_LOOK`), and so the most a rewrite touches with the TCP
/// header.
const MAX_HEADERS6: usize = 256 + 60;

/// The IP and TCP header length of the IPv6 TCP segment in `skb`, whose
/// network header is at `off`.
///
/// # Safety
///
/// As for [`headers`], with an IPv6 segment.
unsafe fn header_len6(skb: *const sk_buff, off: i32) -> Option<usize> {
    let mut buf = [0u8; MAX_HEADERS6 - 60];
    // SAFETY: `skb` is valid.
    let avail = (unsafe { bindings::th_skb_len(skb) } as usize).saturating_sub(off.max(0) as usize);
    let n = avail.min(buf.len());
    // SAFETY: `buf` has room for `n` bytes.
    let p = unsafe { bindings::th_skb_header_pointer(skb, off, n as i32, buf.as_mut_ptr().cast()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` points at `n` readable bytes.
    let b = unsafe { core::slice::from_raw_parts(p.cast::<u8>(), n) };
    let h = parse_ipv6(b).ok()?.header_len;
    let mut one = [0u8; 1];
    // SAFETY: as above, for one byte.
    let q = unsafe {
        bindings::th_skb_header_pointer(skb, off + h as i32 + 12, 1, one.as_mut_ptr().cast())
    };
    if q.is_null() {
        return None;
    }
    // SAFETY: `q` points at one readable byte.
    Some(h + usize::from(unsafe { *q.cast::<u8>() } >> 4) * 4)
}

/// The IP and TCP header length of the TCP segment in `skb`, read from the
/// (already validated) headers.
///
/// # Safety
///
/// As for [`headers`].
unsafe fn header_len(skb: *const sk_buff) -> Option<usize> {
    let mut buf = [0u8; IPV4_MIN_LEN + 13];
    // SAFETY: `skb` is valid.
    let off = unsafe { bindings::th_skb_network_offset(skb) };
    // SAFETY: `buf` has room for the requested length.
    let p = unsafe {
        bindings::th_skb_header_pointer(skb, off, buf.len() as i32, buf.as_mut_ptr().cast())
    };
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` points at `buf.len()` readable bytes.
    let b = unsafe { core::slice::from_raw_parts(p.cast::<u8>(), buf.len()) };
    if b[0] >> 4 == 6 {
        // SAFETY: guaranteed by the caller; the packet is IPv6.
        return unsafe { header_len6(skb, off) };
    }
    let ihl = usize::from(b[0] & 0x0f) * 4;
    // The TCP header is right after a 20-byte IP header in `b`; with IP
    // options, read its data offset again at the right place.
    let doff_at = ihl + 12;
    let doff = if doff_at < b.len() {
        usize::from(b[doff_at] >> 4) * 4
    } else {
        let mut one = [0u8; 1];
        // SAFETY: as above, for one byte.
        let q = unsafe {
            bindings::th_skb_header_pointer(skb, off + doff_at as i32, 1, one.as_mut_ptr().cast())
        };
        if q.is_null() {
            return None;
        }
        // SAFETY: `q` points at one readable byte.
        usize::from(unsafe { *q.cast::<u8>() } >> 4) * 4
    };
    Some(ihl + doff)
}

/// Takes a packet the local stack sends out of the way without telling the
/// stack: the hook returns `NF_STOLEN` and the packet is freed here, for
/// `reason`.
///
/// A netfilter drop (`NF_DROP`) reports an error to the sender, and a
/// request socket whose SYN/ACK retransmission fails is removed
/// (`reqsk_timer_handler`): the front-end's must survive until the
/// handoff is decided, so the packets it must not send are swallowed.
///
/// # Safety
///
/// `skb` must be a hook's valid packet, not yet passed on.
pub(crate) unsafe fn swallow(skb: *mut sk_buff, reason: DropReason) -> c_uint {
    // SAFETY: the hook owns `skb` and gives it up by returning NF_STOLEN.
    unsafe { bindings::th_kfree_skb_reason(skb, reason.kernel()) };
    bindings::NF_STOLEN
}

/// The linear, writable headers of `skb` (see [`headers`]), or why not.
///
/// # Safety
///
/// As for [`headers`].
unsafe fn writable_headers<'a>(skb: *mut sk_buff) -> Result<(&'a mut [u8], bool), DropReason> {
    // SAFETY: guaranteed by the caller.
    let n = unsafe { header_len(skb) }.ok_or(DropReason::BadHeader)?;
    if !(IPV4_MIN_LEN + TCP_MIN_LEN..=MAX_HEADERS.max(MAX_HEADERS6)).contains(&n) {
        return Err(DropReason::BadHeader);
    }
    // SAFETY: guaranteed by the caller; `n` bytes of headers were read.
    unsafe { headers(skb, n) }.ok_or(DropReason::NoMemory)
}

/// Translates a client packet and sends it to the back-end (front-end,
/// after the handoff). Consumes the packet whatever happens.
pub(crate) fn forward(st: &NetState, net: *mut bindings::net, skb: OwnedSkb, fwd: &Forward) {
    let raw = skb.into_raw();
    let ok = match fwd.be_addr {
        // SAFETY: `raw` is owned here; its headers were validated by the
        // hook.
        Addr::V4(addr) => unsafe { writable_headers(raw) }.and_then(|(hdr, partial)| {
            let rw = Rewrite {
                tr: &fwd.tr,
                addr,
                partial,
            };
            rewrite::client_to_be(hdr, &rw).map_err(|_| DropReason::BadHeader)
        }),
        // SAFETY: as above.
        Addr::V6(addr) => unsafe { writable_headers(raw) }.and_then(|(hdr, partial)| {
            let rw = Rewrite6 {
                tr: &fwd.tr,
                addr,
                partial,
            };
            rewrite::client_to_be_v6(hdr, &rw).map_err(|_| DropReason::BadHeader)
        }),
    };
    if let Err(reason) = ok {
        Stats::inc(&st.stats.fwd_errors, 1);
        // SAFETY: `raw` is still owned here.
        unsafe { OwnedSkb::new(raw) }.drop_with(reason);
        return;
    }
    // SAFETY: `raw` is valid.
    let len = unsafe { bindings::th_skb_len(raw) };
    // SAFETY: `net` is live; the buffer is consumed by the call; the
    // address is of the packet's family.
    let err = unsafe {
        bindings::th_fe_xmit(net, raw, fwd.be_addr.family(), fwd.be_addr.bytes().as_ptr())
    };
    if err < 0 {
        Stats::inc(&st.stats.fwd_errors, 1);
    } else {
        Stats::inc(&st.stats.fwd_packets, 1);
        Stats::inc(&st.stats.fwd_bytes, u64::from(len));
        if let Some(slot) = fwd.slot {
            let n = st.node_stats(slot);
            Stats::inc(&n.fwd_packets, 1);
            Stats::inc(&n.fwd_bytes, u64::from(len));
        }
    }
}

/// Sends a client segment this node built (checksums filled in) to the
/// back-end of `fwd` (front-end, keep-alive routing: part of a held
/// segment, or the acknowledgement it carried).
pub(crate) fn send_built(st: &NetState, net: *mut bindings::net, pkt: &[u8], fwd: &Forward) {
    // SAFETY: `net` is live (the caller runs in it); `pkt` holds a whole
    // packet of the back-end address's family, which is the address given.
    let err = unsafe {
        bindings::th_fe_send_built(
            net,
            fwd.be_addr.family(),
            pkt.as_ptr().cast(),
            pkt.len() as u32,
            fwd.be_addr.bytes().as_ptr(),
        )
    };
    // Not in fwd-packets, which counts the client's own packets.
    if err < 0 {
        Stats::inc(&st.stats.fwd_errors, 1);
    }
}

/// Rewrites an ICMP error about a forwarded connection for its back-end
/// (`handoff_core::icmp::error_to_be`; the first `len` bytes from the
/// network header hold everything it changes) and sends it there.
/// Consumes the packet whatever happens.
pub(crate) fn forward_icmp(
    st: &NetState,
    net: *mut bindings::net,
    skb: OwnedSkb,
    len: usize,
    fwd: &Forward,
) {
    let raw = skb.into_raw();
    let mut partial = false;
    // SAFETY: `raw` is owned here and holds at least `len` bytes from its
    // network header (the quote was parsed from them).
    let p = unsafe { bindings::th_skb_writable(raw, len as u32, &mut partial) };
    let ok = if p.is_null() {
        Err(DropReason::NoMemory)
    } else {
        // SAFETY: the helper made `len` bytes from `p` linear, writable and
        // private to this buffer.
        let pkt = unsafe { core::slice::from_raw_parts_mut(p, len) };
        match fwd.be_addr {
            Addr::V4(a) => icmp::error_to_be(pkt, &fwd.tr, a),
            Addr::V6(a) => icmp::error_to_be_v6(pkt, &fwd.tr, a),
        }
        .map_err(|_| DropReason::BadHeader)
    };
    if let Err(reason) = ok {
        Stats::inc(&st.stats.fwd_errors, 1);
        // SAFETY: `raw` is still owned here.
        unsafe { OwnedSkb::new(raw) }.drop_with(reason);
        return;
    }
    let (family, addr) = (fwd.be_addr.family(), fwd.be_addr.bytes().as_ptr());
    // SAFETY: `net` is live; the buffer is consumed by the call; the
    // address is of the packet's family.
    if unsafe { bindings::th_fe_xmit(net, raw, family, addr) } < 0 {
        Stats::inc(&st.stats.fwd_errors, 1);
    } else {
        Stats::inc(&st.stats.icmp_forwarded, 1);
    }
}

/// Translates, in place, a packet the back-end's socket sends to the
/// client (back-end, at POST_ROUTING). Fails, with the reason to drop it,
/// when the packet could not be rewritten.
///
/// # Safety
///
/// `skb` must be the hook's valid packet, not yet passed on.
pub(crate) unsafe fn to_client(
    skb: *mut sk_buff,
    tr: &Translation,
    service: Addr,
) -> Result<(), DropReason> {
    // SAFETY: guaranteed by the caller.
    let (hdr, partial) = unsafe { writable_headers(skb) }?;
    match service {
        Addr::V4(addr) => rewrite::be_to_client(hdr, &Rewrite { tr, addr, partial }),
        Addr::V6(addr) => rewrite::be_to_client_v6(hdr, &Rewrite6 { tr, addr, partial }),
    }
    .map_err(|_| DropReason::BadHeader)
}
