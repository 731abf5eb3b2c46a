// SPDX-License-Identifier: GPL-2.0

//! Rewriting and building the IPv4/TCP and IPv6/TCP headers of a
//! handed-off connection.
//!
//! Three kinds of packet cross between the front-end's and the back-end's
//! view of one connection:
//!
//! - [`client_to_be`]: a client segment the front-end forwards. Its
//!   destination becomes the back-end, its acknowledgement number, SACK
//!   edges and timestamp echo move into the back-end's spaces.
//! - [`be_to_client`]: a segment the back-end's socket sends to the client.
//!   Its source becomes the service address, its sequence number and
//!   timestamp value move into the front-end's spaces, its window into the
//!   front-end's window scale.
//! - [`build_segment`]: a segment the back-end replays into its own stack
//!   (the client's SYN, the handshake-completing ACK with the request, a
//!   reset that removes a request socket) or nothing else.
//!
//! The rewrites work in place on the linear IP and TCP headers (the caller
//! made them writable) and keep both checksums right in either state a
//! socket buffer's TCP checksum can be in: *complete* (the field covers the
//! whole segment: received packets, `CHECKSUM_NONE`/`UNNECESSARY`) or
//! *partial* (`CHECKSUM_PARTIAL`: the field holds only the folded
//! pseudo-header sum and the device or `skb_checksum_help` completes it
//! later, as for everything TCP sends and for GRO super-packets). In the
//! partial state only an address change touches the field; in the complete
//! state every changed word does, at whatever byte offset it sits. A
//! rewrite that fails leaves the packet as it was: everything that can be
//! refused (the layout, the options) is checked before the first write.
//!
//! IPv6 has the same three, [`client_to_be_v6`], [`be_to_client_v6`] and
//! [`build_segment_v6`], with [`Rewrite6`] and [`Segment6`] for their
//! arguments. They are functions of their own rather than one set taking
//! an address-family enum because every caller knows its family statically
//! (the kernel registers IPv4 and IPv6 netfilter hooks apart, and the
//! connection tables key on one address size), because a family argument
//! that disagreed with the packet would be one more error to handle, and
//! because the IPv4 functions the module calls stay exactly as they were.
//! The names follow the kernel's (`tcp_v6_*`, `ipv6hdr`). What differs:
//! IPv6 has no header checksum; the addresses sit at offsets 8 and 24; the
//! TCP header follows the extension headers ([`parse_ipv6`] finds it); and
//! the TCP pseudo-header holds 16-byte addresses, so an address change
//! updates the TCP checksum by eight words instead of two. The TCP part
//! (sequence and acknowledgement numbers, window, options) is the same code
//! for both families.

use super::packet::{
    flags, parse_ipv6, HeaderError, IPPROTO_TCP, IPV4_MIN_LEN, IPV6_HDR_LEN, TCP_MIN_LEN,
};
use super::seq::{
    csum_fold, csum_partial, csum_replace16, csum_replace2, csum_replace4, Translation,
};
use super::tcp_options::{self, kind, TcpOptions};

/// Why a header could not be rewritten or built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewriteError {
    /// The buffer is shorter than the headers it claims to hold.
    Truncated,
    /// The TCP options are malformed.
    BadOptions,
    /// The output buffer is too small.
    NoRoom,
    /// The IPv6 header chain does not lead to a whole TCP segment at its
    /// destination: another upper-layer protocol, a fragment, a routing
    /// header with segments left, a malformed or overlong chain (see
    /// [`HeaderError`]; a chain that only runs past the buffer is
    /// [`RewriteError::Truncated`]).
    NotTcp,
}

impl From<HeaderError> for RewriteError {
    fn from(e: HeaderError) -> Self {
        match e {
            HeaderError::Truncated => RewriteError::Truncated,
            _ => RewriteError::NotTcp,
        }
    }
}

/// What [`client_to_be`] and [`be_to_client`] change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rewrite<'a> {
    /// The translation of the connection.
    pub tr: &'a Translation,
    /// The new address (destination for [`client_to_be`], source for
    /// [`be_to_client`]).
    pub addr: [u8; 4],
    /// Whether the TCP checksum is in the partial state.
    pub partial: bool,
}

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) -> Option<()> {
    b.get_mut(at..at + 2)?.copy_from_slice(&v.to_be_bytes());
    Some(())
}

pub(crate) fn put32(b: &mut [u8], at: usize, v: u32) -> Option<()> {
    b.get_mut(at..at + 4)?.copy_from_slice(&v.to_be_bytes());
    Some(())
}

/// Offsets of the TCP header and its end in `pkt`.
fn layout(pkt: &[u8]) -> Result<(usize, usize), RewriteError> {
    let ihl = usize::from(*pkt.first().ok_or(RewriteError::Truncated)? & 0x0f) * 4;
    if ihl < IPV4_MIN_LEN {
        return Err(RewriteError::Truncated);
    }
    let doff = usize::from(*pkt.get(ihl + 12).ok_or(RewriteError::Truncated)? >> 4) * 4;
    if doff < TCP_MIN_LEN || pkt.len() < ihl + doff {
        return Err(RewriteError::Truncated);
    }
    Ok((ihl, ihl + doff))
}

/// Replaces the IPv4 address at `at` (12: source, 16: destination) and
/// updates the IP checksum and the TCP pseudo-header part of `check`.
fn replace_addr(pkt: &mut [u8], at: usize, new: [u8; 4], partial: bool, check: &mut u16) {
    let Some(old) = be32(pkt, at) else { return };
    let new = u32::from_be_bytes(new);
    if old == new {
        return;
    }
    let _ = put32(pkt, at, new);
    if let Some(ipc) = be16(pkt, 10) {
        let _ = put16(pkt, 10, csum_replace4(ipc, old, new));
    }
    *check = if partial {
        // The field holds the pseudo-header sum itself, not its complement.
        !csum_replace4(!*check, old, new)
    } else {
        csum_replace4(*check, old, new)
    };
}

/// The TCP part of [`client_to_be`] and [`client_to_be_v6`]: the header at
/// `t`, its options ending at `end` and parsed into `parsed`, all checked
/// by the caller. `check` is the TCP checksum field after the address
/// change; returns the value the field takes in the complete state (in the
/// partial state the caller keeps `check`).
fn tcp_client_to_be(
    pkt: &mut [u8],
    (t, end): (usize, usize),
    parsed: &TcpOptions,
    tr: &Translation,
    check: u16,
) -> Result<u16, RewriteError> {
    // Everything below changes covered words only: in the partial state the
    // device sums them later, so the field must not move.
    let mut full = check;
    let tcp_flags = *pkt.get(t + 13).ok_or(RewriteError::Truncated)?;
    if tcp_flags & flags::ACK != 0 {
        let old = be32(pkt, t + 8).ok_or(RewriteError::Truncated)?;
        let new = tr.client_to_be_ack(old);
        put32(pkt, t + 8, new).ok_or(RewriteError::Truncated)?;
        full = csum_replace4(full, old, new);
    }
    let opts = pkt
        .get_mut(t + TCP_MIN_LEN..end)
        .ok_or(RewriteError::Truncated)?;
    tcp_options::translate_client_to_be(opts, parsed, TCP_MIN_LEN, tr, &mut full)
        .ok_or(RewriteError::Truncated)?;
    Ok(full)
}

/// The TCP part of [`be_to_client`] and [`be_to_client_v6`], as
/// [`tcp_client_to_be`] is of the forward path.
fn tcp_be_to_client(
    pkt: &mut [u8],
    (t, end): (usize, usize),
    parsed: &TcpOptions,
    tr: &Translation,
    check: u16,
) -> Result<u16, RewriteError> {
    let mut full = check;
    let old = be32(pkt, t + 4).ok_or(RewriteError::Truncated)?;
    let new = tr.be_to_client_seq(old);
    put32(pkt, t + 4, new).ok_or(RewriteError::Truncated)?;
    full = csum_replace4(full, old, new);
    let tcp_flags = *pkt.get(t + 13).ok_or(RewriteError::Truncated)?;
    if tcp_flags & flags::SYN == 0 && tr.fe_wscale != tr.be_wscale {
        let old = be16(pkt, t + 14).ok_or(RewriteError::Truncated)?;
        let new = tr.rescale_window(old);
        put16(pkt, t + 14, new).ok_or(RewriteError::Truncated)?;
        full = csum_replace2(full, old, new);
    }
    let opts = pkt
        .get_mut(t + TCP_MIN_LEN..end)
        .ok_or(RewriteError::Truncated)?;
    tcp_options::translate_be_to_client(opts, parsed, TCP_MIN_LEN, tr, &mut full)
        .ok_or(RewriteError::Truncated)?;
    Ok(full)
}

/// Parses the options of the TCP header at `t` ending at `end`, so that a
/// rewrite refuses bad ones before it changes an address.
fn options(pkt: &[u8], (t, end): (usize, usize)) -> Result<TcpOptions, RewriteError> {
    let opts = pkt
        .get(t + TCP_MIN_LEN..end)
        .ok_or(RewriteError::Truncated)?;
    tcp_options::parse(opts).map_err(|_| RewriteError::BadOptions)
}

/// Rewrites a client segment the front-end forwards to the back-end.
pub fn client_to_be(pkt: &mut [u8], rw: &Rewrite<'_>) -> Result<(), RewriteError> {
    let (t, end) = layout(pkt)?;
    let parsed = options(pkt, (t, end))?;
    let mut check = be16(pkt, t + 16).ok_or(RewriteError::Truncated)?;
    replace_addr(pkt, 16, rw.addr, rw.partial, &mut check);
    let full = tcp_client_to_be(pkt, (t, end), &parsed, rw.tr, check)?;
    put16(pkt, t + 16, if rw.partial { check } else { full }).ok_or(RewriteError::Truncated)
}

/// Rewrites a back-end segment on its way to the client.
pub fn be_to_client(pkt: &mut [u8], rw: &Rewrite<'_>) -> Result<(), RewriteError> {
    let (t, end) = layout(pkt)?;
    let parsed = options(pkt, (t, end))?;
    let mut check = be16(pkt, t + 16).ok_or(RewriteError::Truncated)?;
    replace_addr(pkt, 12, rw.addr, rw.partial, &mut check);
    let full = tcp_be_to_client(pkt, (t, end), &parsed, rw.tr, check)?;
    put16(pkt, t + 16, if rw.partial { check } else { full }).ok_or(RewriteError::Truncated)
}

/// What [`client_to_be_v6`] and [`be_to_client_v6`] change: [`Rewrite`]
/// with an IPv6 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rewrite6<'a> {
    /// The translation of the connection.
    pub tr: &'a Translation,
    /// The new address (destination for [`client_to_be_v6`], source for
    /// [`be_to_client_v6`]).
    pub addr: [u8; 16],
    /// Whether the TCP checksum is in the partial state.
    pub partial: bool,
}

/// Offsets of the TCP header and its end in an IPv6 packet: the walk of
/// [`parse_ipv6`] must end at TCP, and the TCP header with its options must
/// be in `pkt` (the payload need not be).
fn layout_v6(pkt: &[u8]) -> Result<(usize, usize), RewriteError> {
    let ip = parse_ipv6(pkt)?;
    if ip.protocol != IPPROTO_TCP {
        return Err(RewriteError::NotTcp);
    }
    let t = ip.header_len;
    let doff = usize::from(*pkt.get(t + 12).ok_or(RewriteError::Truncated)? >> 4) * 4;
    if doff < TCP_MIN_LEN || pkt.len() < t + doff {
        return Err(RewriteError::Truncated);
    }
    Ok((t, t + doff))
}

/// Replaces the IPv6 address at `at` (8: source, 24: destination) and
/// updates the TCP pseudo-header part of `check` over all 16 bytes. There
/// is no IP header checksum to update.
fn replace_addr_v6(pkt: &mut [u8], at: usize, new: [u8; 16], partial: bool, check: &mut u16) {
    let Some(field) = pkt.get_mut(at..at + 16) else {
        return;
    };
    let Ok(old) = <[u8; 16]>::try_from(&*field) else {
        return;
    };
    if old == new {
        return;
    }
    field.copy_from_slice(&new);
    *check = if partial {
        // The field holds the pseudo-header sum itself, not its complement.
        !csum_replace16(!*check, old, new)
    } else {
        csum_replace16(*check, old, new)
    };
}

/// Rewrites an IPv6 client segment the front-end forwards to the back-end:
/// [`client_to_be`] for IPv6. `pkt` starts at the IPv6 header and holds at
/// least the extension headers and the TCP header with its options.
pub fn client_to_be_v6(pkt: &mut [u8], rw: &Rewrite6<'_>) -> Result<(), RewriteError> {
    let (t, end) = layout_v6(pkt)?;
    let parsed = options(pkt, (t, end))?;
    let mut check = be16(pkt, t + 16).ok_or(RewriteError::Truncated)?;
    replace_addr_v6(pkt, 24, rw.addr, rw.partial, &mut check);
    let full = tcp_client_to_be(pkt, (t, end), &parsed, rw.tr, check)?;
    put16(pkt, t + 16, if rw.partial { check } else { full }).ok_or(RewriteError::Truncated)
}

/// Rewrites an IPv6 back-end segment on its way to the client:
/// [`be_to_client`] for IPv6, with `pkt` as for [`client_to_be_v6`].
pub fn be_to_client_v6(pkt: &mut [u8], rw: &Rewrite6<'_>) -> Result<(), RewriteError> {
    let (t, end) = layout_v6(pkt)?;
    let parsed = options(pkt, (t, end))?;
    let mut check = be16(pkt, t + 16).ok_or(RewriteError::Truncated)?;
    replace_addr_v6(pkt, 8, rw.addr, rw.partial, &mut check);
    let full = tcp_be_to_client(pkt, (t, end), &parsed, rw.tr, check)?;
    put16(pkt, t + 16, if rw.partial { check } else { full }).ok_or(RewriteError::Truncated)
}

/// TCP options of a segment built by [`build_segment`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegOptions {
    /// MSS option (SYN only).
    pub mss: Option<u16>,
    /// Window-scale option (SYN only).
    pub wscale: Option<u8>,
    /// SACK-permitted option (SYN only).
    pub sack_perm: bool,
    /// Timestamps option: TSval, TSecr.
    pub timestamp: Option<(u32, u32)>,
}

impl SegOptions {
    /// Encodes the options in Linux's own layout (so each sits aligned) and
    /// returns their length, a multiple of 4.
    fn encode(&self, out: &mut [u8; 40]) -> usize {
        let mut n = 0;
        let mut put = |b: &[u8]| {
            if let Some(dst) = out.get_mut(n..n + b.len()) {
                dst.copy_from_slice(b);
                n += b.len();
            }
        };
        if let Some(mss) = self.mss {
            let [h, l] = mss.to_be_bytes();
            put(&[kind::MSS, 4, h, l]);
        }
        match (self.timestamp, self.sack_perm) {
            (Some(_), true) => put(&[kind::SACK_PERM, 2]),
            (Some(_), false) => put(&[kind::NOP, kind::NOP]),
            (None, true) => put(&[kind::NOP, kind::NOP, kind::SACK_PERM, 2]),
            (None, false) => {}
        }
        if let Some((val, ecr)) = self.timestamp {
            put(&[kind::TIMESTAMP, 10]);
            put(&val.to_be_bytes());
            put(&ecr.to_be_bytes());
        }
        if let Some(ws) = self.wscale {
            put(&[kind::NOP, kind::WSCALE, 3, ws]);
        }
        n
    }
}

/// A segment to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Source address and port.
    pub saddr: [u8; 4],
    /// Source port.
    pub sport: u16,
    /// Destination address.
    pub daddr: [u8; 4],
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful with [`flags::ACK`]).
    pub ack: u32,
    /// Flag bits.
    pub flags: u8,
    /// Window field as sent.
    pub window: u16,
    /// Options.
    pub options: SegOptions,
    /// Payload.
    pub payload: &'a [u8],
}

/// The TCP header fields and payload of a segment to build, whatever its
/// family: what [`Segment`] and [`Segment6`] share.
struct TcpPart<'a> {
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: SegOptions,
    payload: &'a [u8],
}

impl TcpPart<'_> {
    /// Writes the TCP header, with a zero checksum field, and the payload
    /// at the start of `out`, and returns their length ([`TcpPart::len`]).
    fn write(&self, out: &mut [u8]) -> Result<usize, RewriteError> {
        let mut opts = [0u8; 40];
        let olen = self.options.encode(&mut opts);
        let thl = TCP_MIN_LEN + olen;
        let seg = out
            .get_mut(..thl + self.payload.len())
            .ok_or(RewriteError::NoRoom)?;
        seg.fill(0);
        put16(seg, 0, self.sport).ok_or(RewriteError::NoRoom)?;
        put16(seg, 2, self.dport).ok_or(RewriteError::NoRoom)?;
        put32(seg, 4, self.seq).ok_or(RewriteError::NoRoom)?;
        put32(seg, 8, self.ack).ok_or(RewriteError::NoRoom)?;
        *seg.get_mut(12).ok_or(RewriteError::NoRoom)? = ((thl / 4) as u8) << 4;
        *seg.get_mut(13).ok_or(RewriteError::NoRoom)? = self.flags;
        put16(seg, 14, self.window).ok_or(RewriteError::NoRoom)?;
        seg.get_mut(TCP_MIN_LEN..thl)
            .ok_or(RewriteError::NoRoom)?
            .copy_from_slice(opts.get(..olen).unwrap_or(&[]));
        seg.get_mut(thl..)
            .ok_or(RewriteError::NoRoom)?
            .copy_from_slice(self.payload);
        Ok(seg.len())
    }

    /// Length of the segment [`TcpPart::write`] writes.
    fn len(&self) -> usize {
        TCP_MIN_LEN + self.options.encode(&mut [0u8; 40]) + self.payload.len()
    }
}

/// Writes `seg` as a complete IPv4 packet (both checksums complete) into
/// `out` and returns its length.
pub fn build_segment(seg: &Segment<'_>, out: &mut [u8]) -> Result<usize, RewriteError> {
    let tcp = TcpPart {
        sport: seg.sport,
        dport: seg.dport,
        seq: seg.seq,
        ack: seg.ack,
        flags: seg.flags,
        window: seg.window,
        options: seg.options,
        payload: seg.payload,
    };
    let tcp_len = tcp.len();
    let total = IPV4_MIN_LEN + tcp_len;
    let total16 = u16::try_from(total).map_err(|_| RewriteError::NoRoom)?;
    let pkt = out.get_mut(..total).ok_or(RewriteError::NoRoom)?;
    pkt.fill(0);
    let [tl0, tl1] = total16.to_be_bytes();
    let ip: [u8; 12] = [0x45, 0, tl0, tl1, 0, 0, 0x40, 0, 64, 6, 0, 0];
    pkt.get_mut(..12)
        .ok_or(RewriteError::NoRoom)?
        .copy_from_slice(&ip);
    pkt.get_mut(12..16)
        .ok_or(RewriteError::NoRoom)?
        .copy_from_slice(&seg.saddr);
    pkt.get_mut(16..20)
        .ok_or(RewriteError::NoRoom)?
        .copy_from_slice(&seg.daddr);
    let ipc = csum_fold(csum_partial(pkt.get(..IPV4_MIN_LEN).unwrap_or(&[]), 0));
    put16(pkt, 10, ipc).ok_or(RewriteError::NoRoom)?;
    let t = IPV4_MIN_LEN;
    tcp.write(pkt.get_mut(t..).ok_or(RewriteError::NoRoom)?)?;
    let mut sum = csum_partial(&seg.saddr, 0);
    sum = csum_partial(&seg.daddr, sum);
    sum = csum_partial(&[0, 6], sum);
    sum = csum_partial(&(tcp_len as u16).to_be_bytes(), sum);
    sum = csum_partial(pkt.get(t..).unwrap_or(&[]), sum);
    put16(pkt, t + 16, csum_fold(sum)).ok_or(RewriteError::NoRoom)?;
    Ok(total)
}

/// Hop limit of the packets [`build_segment_v6`] builds: the IPv4 TTL the
/// IPv4 ones get. They go only into the local stack, which does not look at
/// it, but a packet with hop limit 0 or 1 would be one to explain.
pub const HOP_LIMIT: u8 = 64;

/// A segment to build as IPv6: [`Segment`] with IPv6 addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment6<'a> {
    /// Source address.
    pub saddr: [u8; 16],
    /// Source port.
    pub sport: u16,
    /// Destination address.
    pub daddr: [u8; 16],
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful with [`flags::ACK`]).
    pub ack: u32,
    /// Flag bits.
    pub flags: u8,
    /// Window field as sent.
    pub window: u16,
    /// Options.
    pub options: SegOptions,
    /// Payload.
    pub payload: &'a [u8],
}

/// Writes `seg` as a complete IPv6 packet into `out` and returns its
/// length: a 40-byte header without extension headers (traffic class and
/// flow label 0, hop limit [`HOP_LIMIT`]) and a TCP segment whose checksum
/// is complete over the IPv6 pseudo-header (RFC 8200 section 8.1).
pub fn build_segment_v6(seg: &Segment6<'_>, out: &mut [u8]) -> Result<usize, RewriteError> {
    let tcp = TcpPart {
        sport: seg.sport,
        dport: seg.dport,
        seq: seg.seq,
        ack: seg.ack,
        flags: seg.flags,
        window: seg.window,
        options: seg.options,
        payload: seg.payload,
    };
    let tcp_len = tcp.len();
    let payload_len = u16::try_from(tcp_len).map_err(|_| RewriteError::NoRoom)?;
    let total = IPV6_HDR_LEN + tcp_len;
    let pkt = out.get_mut(..total).ok_or(RewriteError::NoRoom)?;
    let [pl0, pl1] = payload_len.to_be_bytes();
    pkt.get_mut(..8)
        .ok_or(RewriteError::NoRoom)?
        .copy_from_slice(&[0x60, 0, 0, 0, pl0, pl1, IPPROTO_TCP, HOP_LIMIT]);
    pkt.get_mut(8..24)
        .ok_or(RewriteError::NoRoom)?
        .copy_from_slice(&seg.saddr);
    pkt.get_mut(24..40)
        .ok_or(RewriteError::NoRoom)?
        .copy_from_slice(&seg.daddr);
    let t = IPV6_HDR_LEN;
    tcp.write(pkt.get_mut(t..).ok_or(RewriteError::NoRoom)?)?;
    // The pseudo-header: both addresses, the upper-layer length as 32
    // bits, three zero bytes and the next header.
    let mut sum = csum_partial(&seg.saddr, 0);
    sum = csum_partial(&seg.daddr, sum);
    sum = csum_partial(&u32::from(payload_len).to_be_bytes(), sum);
    sum = csum_partial(&[0, 0, 0, IPPROTO_TCP], sum);
    sum = csum_partial(pkt.get(t..).unwrap_or(&[]), sum);
    put16(pkt, t + 16, csum_fold(sum)).ok_or(RewriteError::NoRoom)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::super::packet::{nexthdr, parse_ipv4, parse_tcp};
    use super::super::test_rng::Rng;
    use super::*;
    use std::vec::Vec;

    const CLIENT: [u8; 4] = [198, 51, 100, 100];
    const FE: [u8; 4] = [198, 51, 100, 1];
    const BE: [u8; 4] = [198, 51, 100, 2];

    fn tcp_csum_ok(pkt: &[u8]) -> bool {
        let ip = parse_ipv4(pkt).unwrap();
        let t = ip.header_len;
        let seg = &pkt[t..usize::from(ip.total_len)];
        let mut sum = csum_partial(&ip.saddr, 0);
        sum = csum_partial(&ip.daddr, sum);
        sum = csum_partial(&[0, 6], sum);
        sum = csum_partial(&(seg.len() as u16).to_be_bytes(), sum);
        sum = csum_partial(seg, sum);
        csum_fold(sum) == 0
    }

    fn ip_csum_ok(pkt: &[u8]) -> bool {
        csum_fold(csum_partial(&pkt[..20], 0)) == 0
    }

    /// The pseudo-header sum a partial-checksum packet's field holds.
    fn pseudo(pkt: &[u8]) -> u16 {
        let ip = parse_ipv4(pkt).unwrap();
        let len = usize::from(ip.total_len) - ip.header_len;
        let mut sum = csum_partial(&ip.saddr, 0);
        sum = csum_partial(&ip.daddr, sum);
        sum = csum_partial(&[0, 6], sum);
        sum = csum_partial(&(len as u16).to_be_bytes(), sum);
        !csum_fold(sum)
    }

    fn segment(rng: &mut Rng, payload: &[u8], sack: bool) -> Vec<u8> {
        let mut out = std::vec![0u8; 2000];
        let seg = Segment {
            saddr: CLIENT,
            sport: 40000,
            daddr: FE,
            dport: 80,
            seq: rng.u32(),
            ack: rng.u32(),
            flags: flags::ACK | flags::PSH,
            window: 501,
            options: SegOptions {
                timestamp: Some((rng.u32(), rng.u32())),
                ..SegOptions::default()
            },
            payload,
        };
        let n = build_segment(&seg, &mut out).unwrap();
        out.truncate(n);
        if sack {
            // Replace NOP NOP TS with a SACK block after it: rebuild by hand
            // with the block at an odd offset to exercise the odd path.
            let mut v = out[..52].to_vec();
            v[32] = 0xb0; // data offset 44: NOP NOP TS, NOP SACK(1 block), EOL
            v.extend_from_slice(&[1, 5, 10]);
            v.extend_from_slice(&rng.u32().to_be_bytes());
            v.extend_from_slice(&rng.u32().to_be_bytes());
            v.push(0); // EOL pads the options to 24 bytes
            v.extend_from_slice(payload);
            let total = v.len() as u16;
            v[2..4].copy_from_slice(&total.to_be_bytes());
            v[10] = 0;
            v[11] = 0;
            let ipc = csum_fold(csum_partial(&v[..20], 0));
            v[10..12].copy_from_slice(&ipc.to_be_bytes());
            v[36] = 0;
            v[37] = 0;
            let mut sum = csum_partial(&v[12..16], 0);
            sum = csum_partial(&v[16..20], sum);
            sum = csum_partial(&[0, 6], sum);
            sum = csum_partial(&((v.len() - 20) as u16).to_be_bytes(), sum);
            sum = csum_partial(&v[20..], sum);
            v[36..38].copy_from_slice(&csum_fold(sum).to_be_bytes());
            out = v;
        }
        out
    }

    fn tr(rng: &mut Rng, fe_ws: u8, be_ws: u8) -> Translation {
        Translation::new(rng.u32(), rng.u32(), rng.u32(), rng.u32(), fe_ws, be_ws)
    }

    #[test]
    fn built_segments_parse_and_checksum() {
        let mut out = [0u8; 200];
        let seg = Segment {
            saddr: CLIENT,
            sport: 40000,
            daddr: BE,
            dport: 80,
            seq: 1,
            ack: 0,
            flags: flags::SYN,
            window: 64240,
            options: SegOptions {
                mss: Some(1460),
                wscale: Some(7),
                sack_perm: true,
                timestamp: Some((5, 0)),
            },
            payload: &[],
        };
        let n = build_segment(&seg, &mut out).unwrap();
        assert_eq!(n, 60);
        let pkt = &out[..n];
        assert!(ip_csum_ok(pkt) && tcp_csum_ok(pkt));
        let ip = parse_ipv4(pkt).unwrap();
        let tcp = parse_tcp(&pkt[20..], 40).unwrap();
        assert_eq!((ip.saddr, ip.daddr, tcp.header_len), (CLIENT, BE, 40));
        let o = tcp_options::parse(&pkt[40..60]).unwrap();
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.wscale, Some(7));
        assert!(o.sack_perm);
        assert_eq!(o.timestamp, Some((5, 0)));
        // Every option combination encodes to an aligned, parseable list.
        for bits in 0..16u8 {
            let opts = SegOptions {
                mss: (bits & 1 != 0).then_some(536),
                wscale: (bits & 2 != 0).then_some(14),
                sack_perm: bits & 4 != 0,
                timestamp: (bits & 8 != 0).then_some((1, 2)),
            };
            let n = build_segment(
                &Segment {
                    options: opts,
                    payload: b"GET / HTTP/1.1\r\n\r\n",
                    ..seg
                },
                &mut out,
            )
            .unwrap();
            let pkt = &out[..n];
            assert!(tcp_csum_ok(pkt), "bits {bits}");
            let thl = usize::from(pkt[32] >> 4) * 4;
            let o = tcp_options::parse(&pkt[40..20 + thl]).unwrap();
            assert_eq!(o.mss, opts.mss);
            assert_eq!(o.wscale, opts.wscale);
            assert_eq!(o.sack_perm, opts.sack_perm);
            assert_eq!(o.timestamp, opts.timestamp);
            assert_eq!(&pkt[20 + thl..], b"GET / HTTP/1.1\r\n\r\n");
        }
        assert_eq!(
            build_segment(&seg, &mut [0u8; 59]),
            Err(RewriteError::NoRoom)
        );
    }

    #[test]
    fn forward_keeps_complete_checksums_right() {
        let mut rng = Rng(7);
        for i in 0..2000 {
            let payload: Vec<u8> = (0..(i % 37)).map(|_| rng.u32() as u8).collect();
            let mut pkt = segment(&mut rng, &payload, i % 2 == 0);
            let t = tr(&mut rng, 7, 9);
            let before = pkt.clone();
            client_to_be(
                &mut pkt,
                &Rewrite {
                    tr: &t,
                    addr: BE,
                    partial: false,
                },
            )
            .unwrap();
            assert!(ip_csum_ok(&pkt) && tcp_csum_ok(&pkt), "case {i}");
            assert_eq!(&pkt[16..20], &BE);
            let ack = |p: &[u8]| u32::from_be_bytes(p[28..32].try_into().unwrap());
            assert_eq!(ack(&pkt), t.client_to_be_ack(ack(&before)));
            let thl = usize::from(pkt[32] >> 4) * 4;
            let o0 = tcp_options::parse(&before[40..20 + thl]).unwrap();
            let o1 = tcp_options::parse(&pkt[40..20 + thl]).unwrap();
            let (v0, e0) = o0.timestamp.unwrap();
            assert_eq!(o1.timestamp, Some((v0, t.client_to_be_tsecr(e0))));
        }
    }

    #[test]
    fn return_path_keeps_complete_checksums_right() {
        let mut rng = Rng(11);
        for i in 0..2000 {
            let payload: Vec<u8> = (0..(i % 41)).map(|_| rng.u32() as u8).collect();
            let mut pkt = segment(&mut rng, &payload, false);
            let t = tr(&mut rng, (i % 15) as u8, ((i / 15) % 15) as u8);
            let before = pkt.clone();
            be_to_client(
                &mut pkt,
                &Rewrite {
                    tr: &t,
                    addr: FE,
                    partial: false,
                },
            )
            .unwrap();
            assert!(ip_csum_ok(&pkt) && tcp_csum_ok(&pkt), "case {i}");
            assert_eq!(&pkt[12..16], &FE);
            let seq = |p: &[u8]| u32::from_be_bytes(p[24..28].try_into().unwrap());
            assert_eq!(seq(&pkt), t.be_to_client_seq(seq(&before)));
            let win = |p: &[u8]| u16::from_be_bytes([p[34], p[35]]);
            assert_eq!(win(&pkt), t.rescale_window(win(&before)));
        }
    }

    #[test]
    fn partial_checksums_track_only_the_pseudo_header() {
        let mut rng = Rng(3);
        for i in 0..500 {
            let mut pkt = segment(&mut rng, b"hello", i % 2 == 1);
            // A partial packet's field holds the pseudo-header sum.
            let p = pseudo(&pkt);
            pkt[36..38].copy_from_slice(&p.to_be_bytes());
            let t = tr(&mut rng, 7, 7);
            let rw = Rewrite {
                tr: &t,
                addr: BE,
                partial: true,
            };
            client_to_be(&mut pkt, &rw).unwrap();
            assert_eq!(u16::from_be_bytes([pkt[36], pkt[37]]), pseudo(&pkt));
            let rw = Rewrite { addr: FE, ..rw };
            be_to_client(&mut pkt, &rw).unwrap();
            assert_eq!(u16::from_be_bytes([pkt[36], pkt[37]]), pseudo(&pkt));
            assert!(ip_csum_ok(&pkt));
        }
    }

    #[test]
    fn hostile_headers_are_refused_not_panicked_on() {
        let mut rng = Rng(5);
        let t = tr(&mut rng, 7, 7);
        let rw = Rewrite {
            tr: &t,
            addr: BE,
            partial: false,
        };
        let good = segment(&mut rng, b"x", true);
        for n in 0..good.len() {
            let mut p = good[..n].to_vec();
            let _ = client_to_be(&mut p, &rw);
            let _ = be_to_client(&mut p, &rw);
        }
        for _ in 0..5000 {
            let mut p: Vec<u8> = (0..(rng.u32() % 80)).map(|_| rng.u32() as u8).collect();
            let _ = client_to_be(&mut p, &rw);
            let _ = be_to_client(&mut p, &rw);
        }
        let mut bad = good.clone();
        bad[40] = 2; // an MSS option with a length of 0
        bad[41] = 0;
        assert_eq!(client_to_be(&mut bad, &rw), Err(RewriteError::BadOptions));
    }

    #[test]
    fn a_refused_rewrite_leaves_the_packet_alone() {
        let mut rng = Rng(13);
        let t = tr(&mut rng, 7, 9);
        let mut bad = segment(&mut rng, b"x", true);
        bad[40] = 2; // an MSS option with a length of 0
        bad[41] = 0;
        let before = bad.clone();
        let rw = Rewrite {
            tr: &t,
            addr: BE,
            partial: false,
        };
        assert_eq!(client_to_be(&mut bad, &rw), Err(RewriteError::BadOptions));
        assert_eq!(be_to_client(&mut bad, &rw), Err(RewriteError::BadOptions));
        assert_eq!(bad, before);
        let mut bad6 = segment6(&mut rng, b"x", true, 1);
        let at = bad6.len() - 1 - 24; // the first option byte
        bad6[at] = 2;
        bad6[at + 1] = 0;
        let before = bad6.clone();
        let rw = Rewrite6 {
            tr: &t,
            addr: BE6,
            partial: false,
        };
        assert_eq!(
            client_to_be_v6(&mut bad6, &rw),
            Err(RewriteError::BadOptions)
        );
        assert_eq!(
            be_to_client_v6(&mut bad6, &rw),
            Err(RewriteError::BadOptions)
        );
        assert_eq!(bad6, before);
    }

    const CLIENT6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64];
    const FE6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const BE6: [u8; 16] = [
        0x20, 1, 0xd, 0xb8, 0xff, 0xee, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0xab, 2,
    ];

    /// The TCP checksum of an IPv6 packet from scratch: the sum of the
    /// pseudo-header (addresses, 32-bit upper-layer length, next header)
    /// and the whole segment folds to zero. The segment starts at `t` and
    /// ends where the payload length says.
    fn tcp6_sum(pkt: &[u8], t: usize) -> u16 {
        let end = 40 + usize::from(u16::from_be_bytes([pkt[4], pkt[5]]));
        let seg = &pkt[t..end];
        let mut sum = csum_partial(&pkt[8..24], 0);
        sum = csum_partial(&pkt[24..40], sum);
        sum = csum_partial(&(seg.len() as u32).to_be_bytes(), sum);
        sum = csum_partial(&[0, 0, 0, 6], sum);
        sum = csum_partial(seg, sum);
        csum_fold(sum)
    }

    fn tcp6_csum_ok(pkt: &[u8]) -> bool {
        let ip = parse_ipv6(pkt).unwrap();
        tcp6_sum(pkt, ip.header_len) == 0
    }

    /// The pseudo-header sum a partial-checksum IPv6 packet's field holds.
    fn pseudo6(pkt: &[u8]) -> u16 {
        let ip = parse_ipv6(pkt).unwrap();
        let mut sum = csum_partial(&ip.saddr, 0);
        sum = csum_partial(&ip.daddr, sum);
        sum = csum_partial(&(ip.upper_len() as u32).to_be_bytes(), sum);
        sum = csum_partial(&[0, 0, 0, 6], sum);
        !csum_fold(sum)
    }

    /// A client ACK with timestamps and `payload` from [`build_segment_v6`],
    /// with `ext` extension headers (0 to 3) inserted after the fixed header
    /// and, with `sack`, a SACK block at an odd offset as in [`segment`].
    /// Inserting extension headers changes neither the TCP segment nor its
    /// pseudo-header, so the checksum stays complete.
    fn segment6(rng: &mut Rng, payload: &[u8], sack: bool, ext: usize) -> Vec<u8> {
        let mut out = std::vec![0u8; 2000];
        let seg = Segment6 {
            saddr: CLIENT6,
            sport: 40000,
            daddr: FE6,
            dport: 80,
            seq: rng.u32(),
            ack: rng.u32(),
            flags: flags::ACK | flags::PSH,
            window: 501,
            options: SegOptions {
                timestamp: Some((rng.u32(), rng.u32())),
                ..SegOptions::default()
            },
            payload,
        };
        let n = build_segment_v6(&seg, &mut out).unwrap();
        out.truncate(n);
        if sack {
            let mut v = out[..72].to_vec();
            v[52] = 0xb0;
            v.extend_from_slice(&[1, 5, 10]);
            v.extend_from_slice(&rng.u32().to_be_bytes());
            v.extend_from_slice(&rng.u32().to_be_bytes());
            v.push(0);
            v.extend_from_slice(payload);
            let plen = (v.len() - 40) as u16;
            v[4..6].copy_from_slice(&plen.to_be_bytes());
            v[56..58].fill(0);
            let c = tcp6_sum(&v, 40);
            v[56..58].copy_from_slice(&c.to_be_bytes());
            out = v;
        }
        // Hop-by-hop, destination options, routing (segments left 0).
        let kinds = [nexthdr::HOP, nexthdr::DEST, nexthdr::ROUTING];
        let mut chain = Vec::new();
        for (i, &k) in kinds[..ext].iter().enumerate() {
            let next = kinds.get(i + 1).filter(|_| i + 1 < ext).copied();
            let len8 = 1 + rng.below(3);
            let mut h = std::vec![0u8; len8 * 8];
            h[0] = next.unwrap_or(6);
            h[1] = (len8 - 1) as u8;
            if k == nexthdr::ROUTING {
                h[2] = 4; // segment routing, segments left 0
            } else {
                h[2] = 1; // PadN
                h[3] = (h.len() - 4) as u8;
            }
            chain.extend(h);
        }
        if ext > 0 {
            out[6] = kinds[0];
            let plen = (out.len() - 40 + chain.len()) as u16;
            out[4..6].copy_from_slice(&plen.to_be_bytes());
            out.splice(40..40, chain);
        }
        out
    }

    #[test]
    fn built_v6_segments_parse_and_checksum() {
        let mut out = [0u8; 200];
        let seg = Segment6 {
            saddr: CLIENT6,
            sport: 40000,
            daddr: BE6,
            dport: 80,
            seq: 1,
            ack: 0,
            flags: flags::SYN,
            window: 64240,
            options: SegOptions {
                mss: Some(1440),
                wscale: Some(7),
                sack_perm: true,
                timestamp: Some((5, 0)),
            },
            payload: &[],
        };
        let n = build_segment_v6(&seg, &mut out).unwrap();
        assert_eq!(n, 80);
        let pkt = &out[..n];
        assert_eq!(pkt[..8], [0x60, 0, 0, 0, 0, 40, 6, HOP_LIMIT]);
        assert!(tcp6_csum_ok(pkt));
        let ip = parse_ipv6(pkt).unwrap();
        assert_eq!((ip.saddr, ip.daddr, ip.header_len), (CLIENT6, BE6, 40));
        let tcp = parse_tcp(&pkt[40..], ip.upper_len()).unwrap();
        assert_eq!(
            (tcp.sport, tcp.dport, tcp.seq, tcp.flags),
            (40000, 80, 1, flags::SYN)
        );
        assert_eq!((tcp.header_len, tcp.window), (40, 64240));
        let o = tcp_options::parse(&pkt[60..80]).unwrap();
        assert_eq!(o.mss, Some(1440));
        assert_eq!(o.wscale, Some(7));
        assert!(o.sack_perm);
        assert_eq!(o.timestamp, Some((5, 0)));
        // The same TCP bytes as the IPv4 build, but for the checksum.
        let n4 = build_segment(
            &Segment {
                saddr: CLIENT,
                daddr: BE,
                sport: seg.sport,
                dport: seg.dport,
                seq: seg.seq,
                ack: seg.ack,
                flags: seg.flags,
                window: seg.window,
                options: seg.options,
                payload: seg.payload,
            },
            &mut [0u8; 200],
        )
        .unwrap();
        assert_eq!(n4 + 20, n);
        for bits in 0..16u8 {
            let opts = SegOptions {
                mss: (bits & 1 != 0).then_some(536),
                wscale: (bits & 2 != 0).then_some(14),
                sack_perm: bits & 4 != 0,
                timestamp: (bits & 8 != 0).then_some((1, 2)),
            };
            let n = build_segment_v6(
                &Segment6 {
                    options: opts,
                    payload: b"GET / HTTP/1.1\r\n\r\n",
                    flags: flags::ACK,
                    ack: 0xdead_beef,
                    ..seg
                },
                &mut out,
            )
            .unwrap();
            let pkt = &out[..n];
            assert!(tcp6_csum_ok(pkt), "bits {bits}");
            let thl = usize::from(pkt[52] >> 4) * 4;
            let o = tcp_options::parse(&pkt[60..40 + thl]).unwrap();
            assert_eq!(o.mss, opts.mss);
            assert_eq!(o.wscale, opts.wscale);
            assert_eq!(o.sack_perm, opts.sack_perm);
            assert_eq!(o.timestamp, opts.timestamp);
            assert_eq!(&pkt[40 + thl..], b"GET / HTTP/1.1\r\n\r\n");
            assert_eq!(usize::from(u16::from_be_bytes([pkt[4], pkt[5]])), n - 40);
        }
        assert_eq!(
            build_segment_v6(&seg, &mut [0u8; 79]),
            Err(RewriteError::NoRoom)
        );
        // A payload length that does not fit 16 bits.
        let big = std::vec![0u8; 65536];
        let mut out = std::vec![0u8; 70000];
        let huge = Segment6 {
            payload: &big,
            ..seg
        };
        assert_eq!(build_segment_v6(&huge, &mut out), Err(RewriteError::NoRoom));
    }

    #[test]
    fn v6_forward_keeps_complete_checksums_right() {
        let mut rng = Rng(17);
        for i in 0..2000 {
            let payload: Vec<u8> = (0..(i % 37)).map(|_| rng.u32() as u8).collect();
            let mut pkt = segment6(&mut rng, &payload, i % 2 == 0, i % 4);
            assert!(tcp6_csum_ok(&pkt), "case {i} before");
            let t = tr(&mut rng, 7, 9);
            let before = pkt.clone();
            client_to_be_v6(
                &mut pkt,
                &Rewrite6 {
                    tr: &t,
                    addr: BE6,
                    partial: false,
                },
            )
            .unwrap();
            assert!(tcp6_csum_ok(&pkt), "case {i}");
            let h = parse_ipv6(&pkt).unwrap().header_len;
            assert_eq!(pkt[24..40], BE6);
            // Nothing else before the TCP header moves.
            assert_eq!(pkt[..24], before[..24]);
            assert_eq!(pkt[40..h], before[40..h]);
            let ack = |p: &[u8]| u32::from_be_bytes(p[h + 8..h + 12].try_into().unwrap());
            assert_eq!(ack(&pkt), t.client_to_be_ack(ack(&before)));
            let thl = usize::from(pkt[h + 12] >> 4) * 4;
            let o0 = tcp_options::parse(&before[h + 20..h + thl]).unwrap();
            let o1 = tcp_options::parse(&pkt[h + 20..h + thl]).unwrap();
            let (v0, e0) = o0.timestamp.unwrap();
            assert_eq!(o1.timestamp, Some((v0, t.client_to_be_tsecr(e0))));
            assert_eq!(o0.sack.is_some(), i % 2 == 0);
            if let (Some((a0, n)), Some((a1, _))) = (o0.sack, o1.sack) {
                assert_eq!(n, 1);
                let edge = |p: &[u8], k: usize| {
                    u32::from_be_bytes(p[h + 20 + a0 + 4 * k..][..4].try_into().unwrap())
                };
                assert_eq!(a0, a1);
                for k in 0..2 {
                    assert_eq!(edge(&pkt, k), t.client_to_be_sack_edge(edge(&before, k)));
                }
            }
            assert_eq!(pkt[h + thl..], before[h + thl..], "payload");
        }
    }

    #[test]
    fn v6_return_path_keeps_complete_checksums_right() {
        let mut rng = Rng(19);
        for i in 0..2000 {
            let payload: Vec<u8> = (0..(i % 41)).map(|_| rng.u32() as u8).collect();
            let mut pkt = segment6(&mut rng, &payload, false, (i / 2) % 4);
            let t = tr(&mut rng, (i % 15) as u8, ((i / 15) % 15) as u8);
            let before = pkt.clone();
            be_to_client_v6(
                &mut pkt,
                &Rewrite6 {
                    tr: &t,
                    addr: FE6,
                    partial: false,
                },
            )
            .unwrap();
            assert!(tcp6_csum_ok(&pkt), "case {i}");
            let h = parse_ipv6(&pkt).unwrap().header_len;
            assert_eq!(pkt[8..24], FE6);
            assert_eq!(pkt[..8], before[..8]);
            assert_eq!(pkt[24..h], before[24..h]);
            let seq = |p: &[u8]| u32::from_be_bytes(p[h + 4..h + 8].try_into().unwrap());
            assert_eq!(seq(&pkt), t.be_to_client_seq(seq(&before)));
            let win = |p: &[u8]| u16::from_be_bytes([p[h + 14], p[h + 15]]);
            assert_eq!(win(&pkt), t.rescale_window(win(&before)));
            let o0 = tcp_options::parse(&before[h + 20..h + 32]).unwrap();
            let o1 = tcp_options::parse(&pkt[h + 20..h + 32]).unwrap();
            let (v0, e0) = o0.timestamp.unwrap();
            assert_eq!(o1.timestamp, Some((t.be_to_client_tsval(v0), e0)));
        }
    }

    #[test]
    fn v6_partial_checksums_track_only_the_pseudo_header() {
        let mut rng = Rng(23);
        for i in 0..500 {
            let mut pkt = segment6(&mut rng, b"hello", i % 2 == 1, i % 4);
            let h = parse_ipv6(&pkt).unwrap().header_len;
            let p = pseudo6(&pkt);
            pkt[h + 16..h + 18].copy_from_slice(&p.to_be_bytes());
            let t = tr(&mut rng, 7, 7);
            let rw = Rewrite6 {
                tr: &t,
                addr: BE6,
                partial: true,
            };
            let field = |p: &[u8]| u16::from_be_bytes([p[h + 16], p[h + 17]]);
            client_to_be_v6(&mut pkt, &rw).unwrap();
            assert_eq!(field(&pkt), pseudo6(&pkt));
            let rw = Rewrite6 { addr: FE6, ..rw };
            be_to_client_v6(&mut pkt, &rw).unwrap();
            assert_eq!(field(&pkt), pseudo6(&pkt));
            // The same address again changes nothing at all.
            let before = pkt.clone();
            let same = Rewrite6 {
                addr: pkt[8..24].try_into().unwrap(),
                tr: &Translation::new(0, 0, 0, 0, 7, 7),
                partial: true,
            };
            be_to_client_v6(&mut pkt, &same).unwrap();
            assert_eq!(pkt, before);
        }
    }

    #[test]
    fn v6_refuses_what_is_not_a_whole_tcp_segment() {
        let mut rng = Rng(29);
        let t = tr(&mut rng, 7, 7);
        let rw = Rewrite6 {
            tr: &t,
            addr: BE6,
            partial: false,
        };
        let good = segment6(&mut rng, b"x", true, 2);
        let h = parse_ipv6(&good).unwrap().header_len;
        // The payload need not be there, the TCP header must.
        let thl = usize::from(good[h + 12] >> 4) * 4;
        let mut p = good[..h + thl].to_vec();
        assert_eq!(client_to_be_v6(&mut p, &rw), Ok(()));
        for n in 0..h + thl {
            let mut p = good[..n].to_vec();
            assert_eq!(
                client_to_be_v6(&mut p, &rw),
                Err(RewriteError::Truncated),
                "cut {n}"
            );
            assert_eq!(be_to_client_v6(&mut p, &rw), Err(RewriteError::Truncated));
            assert_eq!(p, good[..n]);
        }
        // An IPv4 packet, UDP, a fragment: not for this rewrite.
        let mut v4 = segment(&mut rng, b"x", false);
        v4.resize(80, 0);
        assert_eq!(client_to_be_v6(&mut v4, &rw), Err(RewriteError::NotTcp));
        let mut udp = good.clone();
        udp[40] = 17; // the first extension header's next header
        let before = udp.clone();
        assert_eq!(client_to_be_v6(&mut udp, &rw), Err(RewriteError::NotTcp));
        assert_eq!(udp, before);
        let mut frag = good.clone();
        frag[6] = nexthdr::FRAGMENT;
        frag[40..48].copy_from_slice(&[nexthdr::DEST, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(client_to_be_v6(&mut frag, &rw), Err(RewriteError::NotTcp));
        for _ in 0..5000 {
            let mut p: Vec<u8> = (0..(rng.u32() % 120)).map(|_| rng.u32() as u8).collect();
            if p.len() > 8 && rng.below(2) == 0 {
                p[0] = 0x60;
                p[4] = 0;
                p[6] = [0, 6, 43, 44, 60][rng.below(5)];
            }
            let _ = client_to_be_v6(&mut p, &rw);
            let _ = be_to_client_v6(&mut p, &rw);
        }
    }
}
