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

use super::packet::{IPPROTO_TCP, IPV4_MIN_LEN};
use super::rewrite::{be16, be32, put16, put32, RewriteError};
use super::seq::{csum_replace2, csum_replace4, Translation};

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
}
