// SPDX-License-Identifier: GPL-2.0

//! ICMP errors about a handed-off connection.
//!
//! A back-end answers the client under the front-end's address, so a router
//! that cannot pass one of those segments (fragmentation needed: path MTU
//! discovery) or a client whose port is gone reports the error to the
//! front-end. The front-end recognises the quoted segment (service →
//! client) as one of a forwarded connection and passes the error on to the
//! back-end, rewritten so that the back-end's stack finds its own socket:
//! the outer destination and the quoted source become the back-end's
//! address, the quoted sequence number moves into the back-end's space.
//! The outer IP, quoted IP and ICMP checksums are updated incrementally,
//! so an error whose checksum was right stays right (and a wrong one stays
//! wrong). The quoted TCP checksum, when quoted at all, covers options and
//! a payload that are not there and is checked by nobody; it is left
//! alone.
//!
//! ICMPv6 errors ([`parse_quote_v6`], [`error_to_be_v6`]) carry the same
//! information and get the same rewrite, with three differences. The
//! ICMPv6 checksum covers an IPv6 pseudo-header (RFC 4443 section 2.3), so
//! the outer destination change goes into it as well as the quoted source
//! change; there are no IP header checksums. Both the outer packet and the
//! quote may have extension headers, which are walked as [`parse_ipv6`]
//! walks them, at most [`MAX_EXT_HEADERS`](super::packet::MAX_EXT_HEADERS) each. And an error may quote as
//! much of the offending packet as fits in 1280 bytes, so the quote's TCP
//! header can sit far in; [`Quote6::len`] says how far.

use super::packet::{parse_ipv6, walk_ipv6, Fragments, IPPROTO_TCP, IPV4_MIN_LEN, IPV6_HDR_LEN};
use super::rewrite::{be16, be32, put16, put32, RewriteError};
use super::seq::{csum_replace16, csum_replace2, csum_replace4, Translation};

/// IP protocol number of ICMP.
pub const IPPROTO_ICMP: u8 = 1;
/// Length of the ICMP header (type, code, checksum, 4 bytes of rest).
pub const ICMP_HDR_LEN: usize = 8;
/// Bytes of the quoted TCP header an error must carry (ports and sequence
/// number, RFC 792).
pub const QUOTED_TCP_LEN: usize = 8;
/// Most bytes [`parse_quote`] and [`error_to_be`] look at: outer and quoted
/// IP headers with options, ICMP header, quoted TCP bytes.
pub const MAX_LOOK: usize = 60 + ICMP_HDR_LEN + 60 + QUOTED_TCP_LEN;

/// ICMP types that report an error about a quoted datagram, as TCP reads
/// them (`tcp_v4_err`): destination unreachable (including fragmentation
/// needed), source quench, time exceeded, parameter problem.
pub fn is_error(icmp_type: u8) -> bool {
    matches!(icmp_type, 3 | 4 | 11 | 12)
}

/// The TCP segment an ICMP error quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    /// ICMP type of the error.
    pub icmp_type: u8,
    /// ICMP code of the error.
    pub code: u8,
    /// Quoted source (network order): for an error about a back-end's
    /// reply, the service.
    pub saddr: [u8; 4],
    /// Quoted destination (network order): the client.
    pub daddr: [u8; 4],
    /// Quoted source port, host order.
    pub sport: u16,
    /// Quoted destination port, host order.
    pub dport: u16,
    /// Quoted sequence number (the front-end's space).
    pub seq: u32,
    /// Bytes of `pkt` the rewrite touches (outer headers through the
    /// quoted sequence number).
    pub len: usize,
}

/// Offsets in an ICMP error: the ICMP header and the quoted IP and TCP
/// headers.
struct Layout {
    icmp: usize,
    inner: usize,
    tcp: usize,
}

fn layout(pkt: &[u8]) -> Option<Layout> {
    let first = *pkt.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < IPV4_MIN_LEN || *pkt.get(9)? != IPPROTO_ICMP {
        return None;
    }
    // A later fragment has no ICMP header.
    if be16(pkt, 6)? & 0x1fff != 0 || !is_error(*pkt.get(ihl)?) {
        return None;
    }
    let inner = ihl + ICMP_HDR_LEN;
    let ifirst = *pkt.get(inner)?;
    let iihl = usize::from(ifirst & 0x0f) * 4;
    if ifirst >> 4 != 4 || iihl < IPV4_MIN_LEN || *pkt.get(inner + 9)? != IPPROTO_TCP {
        return None;
    }
    // Only a first fragment quotes the TCP header.
    if be16(pkt, inner + 6)? & 0x1fff != 0 {
        return None;
    }
    let tcp = inner + iihl;
    if pkt.len() < tcp + QUOTED_TCP_LEN {
        return None;
    }
    Some(Layout {
        icmp: ihl,
        inner,
        tcp,
    })
}

/// Reads the TCP segment an IPv4 ICMP error quotes. `pkt` starts at the
/// outer IP header and holds at least the quoted sequence number (up to
/// [`MAX_LOOK`] bytes are looked at). `None` for anything else: not ICMP,
/// not an error type, a quote that is not TCP or too short.
pub fn parse_quote(pkt: &[u8]) -> Option<Quote> {
    let l = layout(pkt)?;
    Some(Quote {
        icmp_type: *pkt.get(l.icmp)?,
        code: *pkt.get(l.icmp + 1)?,
        saddr: be32(pkt, l.inner + 12)?.to_be_bytes(),
        daddr: be32(pkt, l.inner + 16)?.to_be_bytes(),
        sport: be16(pkt, l.tcp)?,
        dport: be16(pkt, l.tcp + 2)?,
        seq: be32(pkt, l.tcp + 4)?,
        len: l.tcp + QUOTED_TCP_LEN,
    })
}

/// Rewrites, in place, an ICMP error the front-end received about a
/// back-end's reply so the back-end recognises it (see the module
/// documentation). `pkt` holds at least [`Quote::len`] bytes.
pub fn error_to_be(pkt: &mut [u8], tr: &Translation, be_addr: [u8; 4]) -> Result<(), RewriteError> {
    let l = layout(pkt).ok_or(RewriteError::Truncated)?;
    let new_addr = u32::from_be_bytes(be_addr);
    let t = RewriteError::Truncated;

    // Outer destination, and the outer header checksum.
    let old = be32(pkt, 16).ok_or(t)?;
    put32(pkt, 16, new_addr).ok_or(t)?;
    let ipc = be16(pkt, 10).ok_or(t)?;
    put16(pkt, 10, csum_replace4(ipc, old, new_addr)).ok_or(t)?;

    // Inside the ICMP message: every change is also an ICMP checksum
    // change. All fields sit at even offsets from the ICMP header.
    let mut icmp_check = be16(pkt, l.icmp + 2).ok_or(t)?;
    let old = be32(pkt, l.inner + 12).ok_or(t)?;
    put32(pkt, l.inner + 12, new_addr).ok_or(t)?;
    icmp_check = csum_replace4(icmp_check, old, new_addr);
    let old_ipc = be16(pkt, l.inner + 10).ok_or(t)?;
    let new_ipc = csum_replace4(old_ipc, old, new_addr);
    put16(pkt, l.inner + 10, new_ipc).ok_or(t)?;
    icmp_check = csum_replace2(icmp_check, old_ipc, new_ipc);
    let old_seq = be32(pkt, l.tcp + 4).ok_or(t)?;
    let new_seq = tr.fe_to_be_seq(old_seq);
    put32(pkt, l.tcp + 4, new_seq).ok_or(t)?;
    icmp_check = csum_replace4(icmp_check, old_seq, new_seq);
    put16(pkt, l.icmp + 2, icmp_check).ok_or(t)
}

/// IPv6 next-header value of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
/// Most bytes [`parse_quote_v6`] and [`error_to_be_v6`] can need: an
/// ICMPv6 error is never longer than the minimum IPv6 MTU (RFC 4443
/// section 2.4 (c)), so whatever extension headers it and its quote carry,
/// the quoted sequence number lies within this many bytes of a conforming
/// one. They look only as far as [`Quote6::len`]; without extension headers
/// that is [`MIN_LOOK_V6`].
pub const MAX_LOOK_V6: usize = 1280;
/// Bytes [`parse_quote_v6`] needs for an error without extension headers
/// in the outer packet or the quote: outer IPv6 header, ICMPv6 header,
/// quoted IPv6 header, quoted TCP bytes.
pub const MIN_LOOK_V6: usize = IPV6_HDR_LEN + ICMP_HDR_LEN + IPV6_HDR_LEN + QUOTED_TCP_LEN;

/// ICMPv6 types that report an error about a quoted packet, as TCP reads
/// them (`tcp_v6_err`): destination unreachable (1), packet too big (2),
/// time exceeded (3), parameter problem (4). Types below 128 that RFC 4443
/// does not define are errors too, but nothing says what they mean for a
/// connection, so they are not passed on.
pub fn is_error_v6(icmp_type: u8) -> bool {
    matches!(icmp_type, 1..=4)
}

/// The TCP segment an ICMPv6 error quotes: [`Quote`] with IPv6 addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote6 {
    /// ICMPv6 type of the error.
    pub icmp_type: u8,
    /// ICMPv6 code of the error.
    pub code: u8,
    /// Quoted source: for an error about a back-end's reply, the service.
    pub saddr: [u8; 16],
    /// Quoted destination: the client.
    pub daddr: [u8; 16],
    /// Quoted source port, host order.
    pub sport: u16,
    /// Quoted destination port, host order.
    pub dport: u16,
    /// Quoted sequence number (the front-end's space).
    pub seq: u32,
    /// Bytes of `pkt` the rewrite touches (outer headers through the
    /// quoted sequence number).
    pub len: usize,
}

fn layout_v6(pkt: &[u8]) -> Option<Layout> {
    // The outer packet must be whole (the checksum covers all of it) and
    // for this node, as for a TCP segment.
    let outer = parse_ipv6(pkt).ok()?;
    if outer.protocol != IPPROTO_ICMPV6 {
        return None;
    }
    let icmp = outer.header_len;
    if !is_error_v6(*pkt.get(icmp)?) {
        return None;
    }
    let inner = icmp + ICMP_HDR_LEN;
    // The quote is cut short by design, so only its headers must be there;
    // a first fragment quotes the TCP header, a later one does not.
    let quoted = walk_ipv6(pkt.get(inner..)?, Fragments::FirstOk).ok()?;
    if quoted.protocol != IPPROTO_TCP {
        return None;
    }
    let tcp = inner + quoted.header_len;
    // The quoted sequence number must be in the buffer, and in the message
    // as its payload length bounds it: bytes past that are no part of the
    // packet (the stack trims them) nor of the checksum.
    let end = tcp + QUOTED_TCP_LEN;
    if pkt.len() < end || IPV6_HDR_LEN + usize::from(outer.payload_len) < end {
        return None;
    }
    Some(Layout { icmp, inner, tcp })
}

/// Reads the TCP segment an ICMPv6 error quotes: [`parse_quote`] for IPv6.
/// `pkt` starts at the outer IPv6 header and holds at least the quoted
/// sequence number ([`MIN_LOOK_V6`] bytes without extension headers, never
/// more than [`MAX_LOOK_V6`] for a conforming error). `None` for anything
/// else: not ICMPv6, not an error type ([`is_error_v6`]), an outer packet
/// that is a fragment or not at its destination, a quote that is not TCP,
/// is a later fragment or is too short (for the buffer or for the outer
/// payload length), a chain of more than
/// [`MAX_EXT_HEADERS`](super::packet::MAX_EXT_HEADERS) extension headers in either.
pub fn parse_quote_v6(pkt: &[u8]) -> Option<Quote6> {
    let l = layout_v6(pkt)?;
    Some(Quote6 {
        icmp_type: *pkt.get(l.icmp)?,
        code: *pkt.get(l.icmp + 1)?,
        saddr: pkt.get(l.inner + 8..l.inner + 24)?.try_into().ok()?,
        daddr: pkt.get(l.inner + 24..l.inner + 40)?.try_into().ok()?,
        sport: be16(pkt, l.tcp)?,
        dport: be16(pkt, l.tcp + 2)?,
        seq: be32(pkt, l.tcp + 4)?,
        len: l.tcp + QUOTED_TCP_LEN,
    })
}

/// Replaces the 16 bytes at `at` with `new` and returns the old ones.
fn swap16(pkt: &mut [u8], at: usize, new: [u8; 16]) -> Option<[u8; 16]> {
    let field = pkt.get_mut(at..at + 16)?;
    let old = <[u8; 16]>::try_from(&*field).ok()?;
    field.copy_from_slice(&new);
    Some(old)
}

/// Rewrites, in place, an ICMPv6 error the front-end received about a
/// back-end's reply so the back-end recognises it: [`error_to_be`] for
/// IPv6. `pkt` holds at least [`Quote6::len`] bytes. The outer destination
/// and the quoted source become `be_addr`, the quoted sequence number moves
/// into the back-end's space, and the ICMPv6 checksum follows all three
/// (the outer destination through its pseudo-header), so that a right
/// checksum stays right and a wrong one wrong.
pub fn error_to_be_v6(
    pkt: &mut [u8],
    tr: &Translation,
    be_addr: [u8; 16],
) -> Result<(), RewriteError> {
    let l = layout_v6(pkt).ok_or(RewriteError::Truncated)?;
    let t = RewriteError::Truncated;
    let mut check = be16(pkt, l.icmp + 2).ok_or(t)?;
    let old = swap16(pkt, 24, be_addr).ok_or(t)?;
    check = csum_replace16(check, old, be_addr);
    // Extension headers are multiples of 8 bytes, so every field below
    // sits at an even offset from the ICMPv6 header.
    let old = swap16(pkt, l.inner + 8, be_addr).ok_or(t)?;
    check = csum_replace16(check, old, be_addr);
    let old_seq = be32(pkt, l.tcp + 4).ok_or(t)?;
    let new_seq = tr.fe_to_be_seq(old_seq);
    put32(pkt, l.tcp + 4, new_seq).ok_or(t)?;
    check = csum_replace4(check, old_seq, new_seq);
    put16(pkt, l.icmp + 2, check).ok_or(t)
}

#[cfg(test)]
mod tests {
    use super::super::seq::{csum_fold, csum_partial};
    use super::super::test_rng::Rng;
    use super::*;
    extern crate std;
    use std::{vec, vec::Vec};

    fn ip_header(out: &mut [u8], proto: u8, total: usize, src: [u8; 4], dst: [u8; 4]) {
        out[0] = 0x45;
        out[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        out[6] = 0x40;
        out[8] = 64;
        out[9] = proto;
        out[12..16].copy_from_slice(&src);
        out[16..20].copy_from_slice(&dst);
        let c = csum_fold(csum_partial(&out[..20], 0));
        out[10..12].copy_from_slice(&c.to_be_bytes());
    }

    const ROUTER: [u8; 4] = [198, 51, 100, 254];
    const SERVICE: [u8; 4] = [198, 51, 100, 1];
    const CLIENT: [u8; 4] = [198, 51, 100, 100];
    const BE: [u8; 4] = [198, 51, 100, 2];

    /// A fragmentation-needed error about service:80 → client:40000 with
    /// sequence number `seq`, quoting `tcp_len` bytes of TCP header.
    fn frag_needed(seq: u32, tcp_len: usize) -> Vec<u8> {
        let total = 20 + 8 + 20 + tcp_len;
        let mut p = vec![0u8; total];
        ip_header(&mut p, IPPROTO_ICMP, total, ROUTER, SERVICE);
        p[20] = 3;
        p[21] = 4;
        p[26..28].copy_from_slice(&1280u16.to_be_bytes());
        ip_header(&mut p[28..], IPPROTO_TCP, 1500, SERVICE, CLIENT);
        p[48..50].copy_from_slice(&80u16.to_be_bytes());
        p[50..52].copy_from_slice(&40000u16.to_be_bytes());
        p[52..56].copy_from_slice(&seq.to_be_bytes());
        for (i, b) in p[56..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let c = csum_fold(csum_partial(&p[20..], 0));
        p[22..24].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn sums_ok(p: &[u8]) -> bool {
        csum_fold(csum_partial(&p[..20], 0)) == 0
            && csum_fold(csum_partial(&p[20..], 0)) == 0
            && csum_fold(csum_partial(&p[28..48], 0)) == 0
    }

    #[test]
    fn parses_the_quoted_segment() {
        let p = frag_needed(0x1234_5678, 8);
        let q = parse_quote(&p).unwrap();
        assert_eq!((q.icmp_type, q.code), (3, 4));
        assert_eq!((q.saddr, q.daddr), (SERVICE, CLIENT));
        assert_eq!((q.sport, q.dport, q.seq), (80, 40000, 0x1234_5678));
        assert_eq!(q.len, 56);
    }

    #[test]
    fn rejects_what_is_not_an_error_about_tcp() {
        let p = frag_needed(1, 8);
        let mut echo = p.clone();
        echo[20] = 8;
        assert_eq!(parse_quote(&echo), None);
        let mut udp = p.clone();
        udp[28 + 9] = 17;
        assert_eq!(parse_quote(&udp), None);
        let mut later = p.clone();
        later[28 + 7] = 1;
        assert_eq!(parse_quote(&later), None);
        assert_eq!(parse_quote(&p[..55]), None);
        let mut tcp = p.clone();
        tcp[9] = IPPROTO_TCP;
        assert_eq!(parse_quote(&tcp), None);
        for n in 0..p.len() {
            let _ = parse_quote(&p[..n]);
        }
    }

    #[test]
    fn rewrite_moves_addresses_and_sequence_and_keeps_checksums() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let tr = Translation::new(rng.u32(), rng.u32(), rng.u32(), rng.u32(), 7, 9);
            let seq = rng.u32();
            let tcp_len = [8usize, 20, 28][rng.below(3)];
            let mut p = frag_needed(seq, tcp_len);
            let tail = p[56..].to_vec();
            assert!(sums_ok(&p));
            error_to_be(&mut p, &tr, BE).unwrap();
            assert!(sums_ok(&p), "checksums after the rewrite");
            let q = parse_quote(&p).unwrap();
            assert_eq!(p[16..20], BE, "outer destination");
            assert_eq!(q.saddr, BE, "quoted source");
            assert_eq!(q.daddr, CLIENT);
            // The back-end's own sequence number: what it sent before
            // the front-end's outbound translation.
            assert_eq!(tr.be_to_client_seq(q.seq), seq);
            assert_eq!(p[12..16], ROUTER, "outer source unchanged");
            assert_eq!(p[56..], tail[..], "the rest of the quote unchanged");
        }
    }

    #[test]
    fn rewrite_refuses_short_or_foreign_packets() {
        let tr = Translation::new(1, 2, 3, 4, 0, 0);
        let mut p = frag_needed(5, 8);
        assert!(error_to_be(&mut p[..50], &tr, BE).is_err());
        p[20] = 0;
        assert!(error_to_be(&mut p, &tr, BE).is_err());
    }

    const ROUTER6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe];
    const SERVICE6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const CLIENT6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64];
    const BE6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 2, 0xab, 0xcd, 0, 0, 0, 0, 0, 0, 0, 2];

    /// `n` destination-options headers of 8 bytes, the last naming `last`
    /// as its next header.
    fn dest_opts(n: usize, last: u8) -> Vec<u8> {
        let mut c = Vec::new();
        for i in 0..n {
            let next = if i + 1 == n { last } else { 60 };
            c.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
        }
        c
    }

    /// An IPv6 header with `chain` (whose first header is `next`) for a
    /// payload of `payload_len` bytes, chain included.
    fn ipv6(next: u8, payload_len: usize, src: [u8; 16], dst: [u8; 16]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(payload_len as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p
    }

    /// The ICMPv6 checksum from scratch: the pseudo-header (outer source
    /// and destination, 32-bit length, next header 58) and the message
    /// from `icmp` to the end of `p` sum to zero.
    fn icmp6_sum(p: &[u8], icmp: usize) -> u16 {
        let msg = &p[icmp..];
        let mut sum = csum_partial(&p[8..24], 0);
        sum = csum_partial(&p[24..40], sum);
        sum = csum_partial(&(msg.len() as u32).to_be_bytes(), sum);
        sum = csum_partial(&[0, 0, 0, IPPROTO_ICMPV6], sum);
        csum_fold(csum_partial(msg, sum))
    }

    /// An ICMPv6 error of `ty` from a router about service:80 → client:40000
    /// with sequence number `seq`, with `outer_ext` and `quote_ext`
    /// destination-options headers before the ICMPv6 header and before the
    /// quoted TCP header, quoting `tcp_len` bytes of TCP header.
    fn error6(ty: u8, seq: u32, outer_ext: usize, quote_ext: usize, tcp_len: usize) -> Vec<u8> {
        let outer_next = if outer_ext > 0 { 60 } else { IPPROTO_ICMPV6 };
        let quote_next = if quote_ext > 0 { 60 } else { IPPROTO_TCP };
        let msg_len = ICMP_HDR_LEN + 40 + 8 * quote_ext + tcp_len;
        let mut p = ipv6(outer_next, 8 * outer_ext + msg_len, ROUTER6, SERVICE6);
        p.extend(dest_opts(outer_ext, IPPROTO_ICMPV6));
        let icmp = p.len();
        p.extend_from_slice(&[ty, 0, 0, 0]);
        p.extend_from_slice(&1280u32.to_be_bytes()); // MTU, pointer or unused
                                                     // The offending packet was longer than what is quoted of it.
        p.extend(ipv6(quote_next, 1400, SERVICE6, CLIENT6));
        p.extend(dest_opts(quote_ext, IPPROTO_TCP));
        let t = p.len();
        p.resize(t + tcp_len, 0);
        p[t..t + 2].copy_from_slice(&80u16.to_be_bytes());
        p[t + 2..t + 4].copy_from_slice(&40000u16.to_be_bytes());
        p[t + 4..t + 8].copy_from_slice(&seq.to_be_bytes());
        for (i, b) in p[t + 8..].iter_mut().enumerate() {
            *b = i as u8 ^ 0x5a;
        }
        let c = icmp6_sum(&p, icmp);
        p[icmp + 2..icmp + 4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(icmp6_sum(&p, icmp), 0);
        p
    }

    #[test]
    fn v6_is_error_is_what_tcp_reads() {
        for ty in 0..=255u8 {
            assert_eq!(is_error_v6(ty), (1..=4).contains(&ty), "type {ty}");
        }
    }

    #[test]
    fn parses_the_quoted_segment_v6() {
        for ty in 1..=4 {
            for (oe, qe) in [(0, 0), (1, 0), (0, 2), (2, 3)] {
                let p = error6(ty, 0x1234_5678, oe, qe, 8);
                let q = parse_quote_v6(&p).unwrap();
                assert_eq!((q.icmp_type, q.code), (ty, 0));
                assert_eq!((q.saddr, q.daddr), (SERVICE6, CLIENT6));
                assert_eq!((q.sport, q.dport, q.seq), (80, 40000, 0x1234_5678));
                assert_eq!(q.len, MIN_LOOK_V6 + 8 * (oe + qe));
                assert_eq!(q.len, p.len());
                // Only the first `len` bytes are looked at.
                assert_eq!(parse_quote_v6(&p[..q.len]), Some(q));
                assert_eq!(parse_quote_v6(&p[..q.len - 1]), None);
            }
        }
        // A whole TCP header quoted: `len` still ends at the sequence number.
        let p = error6(2, 7, 0, 0, 20);
        assert_eq!(parse_quote_v6(&p).unwrap().len, MIN_LOOK_V6);
        // The quote of a first fragment has its TCP header.
        let mut p = error6(2, 7, 0, 1, 8);
        p[48 + 6] = 44; // the quoted header's next header: fragment
        p[88..96].copy_from_slice(&[IPPROTO_TCP, 0, 0, 1, 0, 0, 0, 9]);
        assert_eq!(parse_quote_v6(&p).unwrap().seq, 7);
    }

    #[test]
    fn v6_rejects_what_is_not_an_error_about_tcp() {
        let p = error6(1, 1, 0, 0, 8);
        let mut echo = p.clone();
        echo[40] = 128;
        assert_eq!(parse_quote_v6(&echo), None);
        let mut reserved = p.clone();
        reserved[40] = 0;
        assert_eq!(parse_quote_v6(&reserved), None);
        let mut udp = p.clone();
        udp[48 + 6] = 17;
        assert_eq!(parse_quote_v6(&udp), None);
        let mut not_icmp = p.clone();
        not_icmp[6] = IPPROTO_TCP;
        assert_eq!(parse_quote_v6(&not_icmp), None);
        let mut v4_inside = p.clone();
        v4_inside[48] = 0x45;
        assert_eq!(parse_quote_v6(&v4_inside), None);
        let mut v4_outside = p.clone();
        v4_outside[0] = 0x45;
        assert_eq!(parse_quote_v6(&v4_outside), None);
        // An ICMPv4 error is not one, and the reverse.
        assert_eq!(parse_quote_v6(&frag_needed(1, 8)), None);
        assert_eq!(parse_quote(&p), None);
        // The quote of a later fragment has no TCP header.
        let mut later = error6(1, 1, 0, 1, 8);
        later[48 + 6] = 44;
        later[88..96].copy_from_slice(&[IPPROTO_TCP, 0, 0, 8, 0, 0, 0, 9]);
        assert_eq!(parse_quote_v6(&later), None);
        // An outer fragment is the stack's to reassemble.
        let mut frag = error6(1, 1, 1, 0, 8);
        frag[6] = 44;
        frag[40..48].copy_from_slice(&[IPPROTO_ICMPV6, 0, 0, 1, 0, 0, 0, 9]);
        assert_eq!(parse_quote_v6(&frag), None);
        // A quote past the end of the message as its length says.
        let mut short = p.clone();
        short[4..6].copy_from_slice(&(ICMP_HDR_LEN as u16 + 40 + 7).to_be_bytes());
        assert_eq!(parse_quote_v6(&short), None);
        short[4..6].copy_from_slice(&(ICMP_HDR_LEN as u16 + 40 + 8).to_be_bytes());
        assert!(parse_quote_v6(&short).is_some());
        // Chains are bounded in the outer packet and in the quote.
        let limit = super::super::packet::MAX_EXT_HEADERS;
        assert!(parse_quote_v6(&error6(1, 1, limit, limit, 8)).is_some());
        assert_eq!(parse_quote_v6(&error6(1, 1, limit + 1, 0, 8)), None);
        assert_eq!(parse_quote_v6(&error6(1, 1, 0, limit + 1, 8)), None);
        for n in 0..p.len() {
            assert_eq!(parse_quote_v6(&p[..n]), None);
        }
        let mut rng = Rng(41);
        for _ in 0..5000 {
            let mut q = error6(
                1 + rng.below(4) as u8,
                rng.u32(),
                rng.below(3),
                rng.below(3),
                8,
            );
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(q.len());
                q[at] = rng.u32() as u8;
            }
            let n = rng.below(q.len() + 1);
            let before = q.clone();
            if parse_quote_v6(&q[..n]).is_none() {
                assert!(
                    error_to_be_v6(&mut q[..n], &Translation::new(1, 2, 3, 4, 0, 0), BE6).is_err()
                );
                assert_eq!(q, before, "a refused rewrite writes nothing");
            }
        }
    }

    #[test]
    fn v6_rewrite_moves_addresses_and_sequence_and_keeps_the_checksum() {
        let mut rng = Rng(0x1d6_4443);
        for i in 0..2000 {
            let tr = Translation::new(rng.u32(), rng.u32(), rng.u32(), rng.u32(), 7, 9);
            let seq = rng.u32();
            let (oe, qe) = (rng.below(3), rng.below(3));
            let tcp_len = [8usize, 20, 28, 1000][rng.below(4)];
            let mut p = error6(1 + (i % 4) as u8, seq, oe, qe, tcp_len);
            let icmp = 40 + 8 * oe;
            let q0 = parse_quote_v6(&p).unwrap();
            let tail = p[q0.len..].to_vec();
            let before = p.clone();
            error_to_be_v6(&mut p, &tr, BE6).unwrap();
            assert_eq!(
                icmp6_sum(&p, icmp),
                0,
                "checksum after the rewrite, case {i}"
            );
            let q = parse_quote_v6(&p).unwrap();
            assert_eq!(p[24..40], BE6, "outer destination");
            assert_eq!(q.saddr, BE6, "quoted source");
            assert_eq!(q.daddr, CLIENT6);
            assert_eq!((q.sport, q.dport, q.len), (80, 40000, q0.len));
            assert_eq!(tr.be_to_client_seq(q.seq), seq);
            assert_eq!(p[..24], before[..24], "outer source unchanged");
            assert_eq!(p[q.len..], tail[..], "the rest of the quote unchanged");
            // A wrong checksum stays exactly as wrong.
            let mut bad = before.clone();
            bad[icmp + 2] ^= 0x10;
            let off = icmp6_sum(&bad, icmp);
            error_to_be_v6(&mut bad, &tr, BE6).unwrap();
            assert_eq!(icmp6_sum(&bad, icmp), off);
        }
    }

    #[test]
    fn v6_rewrite_refuses_short_or_foreign_packets() {
        let tr = Translation::new(1, 2, 3, 4, 0, 0);
        let mut p = error6(2, 5, 1, 1, 8);
        let n = p.len();
        assert!(error_to_be_v6(&mut p[..n - 1], &tr, BE6).is_err());
        p[48] = 128;
        let before = p.clone();
        assert_eq!(
            error_to_be_v6(&mut p, &tr, BE6),
            Err(RewriteError::Truncated)
        );
        assert_eq!(p, before);
        let mut v4 = frag_needed(5, 8);
        assert!(error_to_be_v6(&mut v4, &tr, BE6).is_err());
    }
}
