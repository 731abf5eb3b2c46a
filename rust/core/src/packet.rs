// SPDX-License-Identifier: GPL-2.0

//! IPv4, IPv6 and TCP header parsing for the netfilter hooks.
//!
//! The hooks copy the first bytes of each header out of the socket buffer
//! (`skb_header_pointer`) and hand them here. Nothing is trusted: every
//! length field is checked against what was actually copied and against
//! the protocol's minimum, so a truncated or lying header is reported as
//! malformed instead of being read past its end.
//!
//! IPv6 has no header-length field: the upper-layer header follows a chain
//! of extension headers, each naming the next. [`parse_ipv6`] walks that
//! chain to TCP (or whatever else ends it), at most [`MAX_EXT_HEADERS`]
//! links, and reports the packets whose bytes after the chain are not a
//! whole upper-layer segment (fragments) or whose TCP checksum does not
//! cover the destination field (a routing header not yet consumed), so
//! that a hook leaves them to the stack. The IPv6 names follow the
//! kernel's: `ipv6` in functions, a `6` suffix where IPv4 has a type or
//! function of the same name without one ([`tuple_hash6`]).

/// Length of an IPv4 header without options.
pub const IPV4_MIN_LEN: usize = 20;
/// Length of a TCP header without options.
pub const TCP_MIN_LEN: usize = 20;
/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// Length of the fixed IPv6 header.
pub const IPV6_HDR_LEN: usize = 40;
/// Most extension headers [`parse_ipv6`] walks before it gives up with
/// [`HeaderError::TooManyExtensions`]. A packet in the order RFC 8200
/// recommends has at most five of the kinds walked here (hop-by-hop,
/// destination options, routing, fragment, destination options); eight
/// leaves room for the unusual but legal, while a chain of tiny headers
/// built to make every packet expensive to classify is cut short.
pub const MAX_EXT_HEADERS: usize = 8;

/// IPv6 next-header values of the extension headers [`parse_ipv6`] walks
/// through. Authentication (51) and ESP (50) end the walk instead: TCP
/// under them cannot be rewritten without breaking their integrity check,
/// so they are reported as the upper-layer protocol and left alone.
pub mod nexthdr {
    /// Hop-by-hop options; only directly after the fixed header.
    pub const HOP: u8 = 0;
    /// Routing header.
    pub const ROUTING: u8 = 43;
    /// Fragment header.
    pub const FRAGMENT: u8 = 44;
    /// Destination options.
    pub const DEST: u8 = 60;
}

/// TCP flag bits, as in the header's 13th byte.
pub mod flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field significant.
    pub const ACK: u8 = 0x10;
}

/// The fields of an IPv4 header the module uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Header length in bytes (IHL * 4).
    pub header_len: usize,
    /// Total length of the datagram in bytes.
    pub total_len: u16,
    /// Protocol of the payload.
    pub protocol: u8,
    /// Whether this is a non-first fragment (its payload has no TCP header).
    pub is_later_fragment: bool,
    /// Source address, network order.
    pub saddr: [u8; 4],
    /// Destination address, network order.
    pub daddr: [u8; 4],
}

/// Why a header was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer bytes than the fixed part of the header.
    Truncated,
    /// Not the IP version the parser reads (4 for [`parse_ipv4`], 6 for
    /// [`parse_ipv6`]).
    BadVersion,
    /// A length field smaller than the fixed header, or larger than the
    /// datagram.
    BadLength,
    /// An IPv6 fragment other than an atomic one (offset 0, no more
    /// fragments): what follows the chain is not a whole segment, so the
    /// stack must reassemble it first.
    Fragment,
    /// More than [`MAX_EXT_HEADERS`] IPv6 extension headers.
    TooManyExtensions,
    /// A hop-by-hop options header anywhere but directly after the fixed
    /// IPv6 header, which RFC 8200 forbids (the stack answers with a
    /// parameter problem).
    MisplacedExtension,
    /// An IPv6 routing header with segments left: the destination field
    /// names the next hop, not the final destination the TCP checksum
    /// covers, and the packet is the stack's to forward.
    InTransit,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

fn addr4(b: &[u8], at: usize) -> Option<[u8; 4]> {
    Some(be32(b, at)?.to_be_bytes())
}

/// Parses the fixed part of an IPv4 header.
pub fn parse_ipv4(hdr: &[u8]) -> Result<Ipv4Header, HeaderError> {
    let first = *hdr.first().ok_or(HeaderError::Truncated)?;
    if hdr.len() < IPV4_MIN_LEN {
        return Err(HeaderError::Truncated);
    }
    if first >> 4 != 4 {
        return Err(HeaderError::BadVersion);
    }
    let header_len = usize::from(first & 0x0f) * 4;
    let total_len = be16(hdr, 2).ok_or(HeaderError::Truncated)?;
    if header_len < IPV4_MIN_LEN || usize::from(total_len) < header_len {
        return Err(HeaderError::BadLength);
    }
    let frag = be16(hdr, 6).ok_or(HeaderError::Truncated)?;
    Ok(Ipv4Header {
        header_len,
        total_len,
        protocol: *hdr.get(9).ok_or(HeaderError::Truncated)?,
        is_later_fragment: frag & 0x1fff != 0,
        saddr: addr4(hdr, 12).ok_or(HeaderError::Truncated)?,
        daddr: addr4(hdr, 16).ok_or(HeaderError::Truncated)?,
    })
}

/// The fields of an IPv6 header and its extension chain the module uses.
///
/// Invariants (checked by the tests and the `ipv6` fuzz target):
/// `IPV6_HDR_LEN <= header_len <= IPV6_HDR_LEN + payload_len`,
/// `header_len` is a multiple of 8, every byte below `header_len` was in
/// the slice parsed, and `protocol` is not one of the [`nexthdr`] kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Header {
    /// Bytes before the upper-layer header: the fixed header and every
    /// extension header, the counterpart of [`Ipv4Header::header_len`].
    pub header_len: usize,
    /// Payload length field: bytes after the fixed header, extension
    /// headers included.
    pub payload_len: u16,
    /// Protocol of the upper-layer header at `header_len` (the last
    /// next-header value of the chain).
    pub protocol: u8,
    /// Source address, network order.
    pub saddr: [u8; 16],
    /// Destination address, network order.
    pub daddr: [u8; 16],
}

impl Ipv6Header {
    /// Length of the upper-layer segment (header and payload), what
    /// `total_len - header_len` is for IPv4 and what [`parse_tcp`] takes as
    /// `segment_len`.
    pub fn upper_len(&self) -> usize {
        (IPV6_HDR_LEN + usize::from(self.payload_len)).saturating_sub(self.header_len)
    }
}

fn addr16(b: &[u8], at: usize) -> Option<[u8; 16]> {
    b.get(at..at + 16)?.try_into().ok()
}

/// How [`walk_ipv6`] treats a fragment header.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fragments {
    /// Only an atomic fragment passes: the chain must end in a whole
    /// segment (a packet the hooks may rewrite).
    Whole,
    /// A first fragment passes too: its upper-layer header is there, which
    /// is all an ICMPv6 error's quote needs.
    FirstOk,
}

/// Parses an IPv6 header at the start of `pkt` and walks its extension
/// headers; the shared part of [`parse_ipv6`] and of the ICMPv6 quote
/// parser.
pub(crate) fn walk_ipv6(pkt: &[u8], frags: Fragments) -> Result<Ipv6Header, HeaderError> {
    let first = *pkt.first().ok_or(HeaderError::Truncated)?;
    if pkt.len() < IPV6_HDR_LEN {
        return Err(HeaderError::Truncated);
    }
    if first >> 4 != 6 {
        return Err(HeaderError::BadVersion);
    }
    let payload_len = be16(pkt, 4).ok_or(HeaderError::Truncated)?;
    let end = IPV6_HDR_LEN + usize::from(payload_len);
    let mut next = *pkt.get(6).ok_or(HeaderError::Truncated)?;
    let mut at = IPV6_HDR_LEN;
    let mut count = 0;
    loop {
        if !matches!(
            next,
            nexthdr::HOP | nexthdr::ROUTING | nexthdr::DEST | nexthdr::FRAGMENT
        ) {
            break;
        }
        if next == nexthdr::HOP && at != IPV6_HDR_LEN {
            return Err(HeaderError::MisplacedExtension);
        }
        count += 1;
        if count > MAX_EXT_HEADERS {
            return Err(HeaderError::TooManyExtensions);
        }
        // Every extension header is a multiple of 8 bytes, at least 8.
        if at + 8 > end {
            return Err(HeaderError::BadLength);
        }
        let len = if next == nexthdr::FRAGMENT {
            8
        } else {
            (usize::from(*pkt.get(at + 1).ok_or(HeaderError::Truncated)?) + 1) * 8
        };
        if at + len > end {
            return Err(HeaderError::BadLength);
        }
        if at + len > pkt.len() {
            return Err(HeaderError::Truncated);
        }
        match next {
            // Segments left, the fourth byte of every routing type.
            nexthdr::ROUTING if *pkt.get(at + 3).ok_or(HeaderError::Truncated)? != 0 => {
                return Err(HeaderError::InTransit);
            }
            nexthdr::FRAGMENT => {
                let off_m = be16(pkt, at + 2).ok_or(HeaderError::Truncated)?;
                let offset = off_m >> 3;
                let more = off_m & 1 != 0;
                if offset != 0 || (more && frags == Fragments::Whole) {
                    return Err(HeaderError::Fragment);
                }
            }
            _ => {}
        }
        next = *pkt.get(at).ok_or(HeaderError::Truncated)?;
        at += len;
    }
    Ok(Ipv6Header {
        header_len: at,
        payload_len,
        protocol: next,
        saddr: addr16(pkt, 8).ok_or(HeaderError::Truncated)?,
        daddr: addr16(pkt, 24).ok_or(HeaderError::Truncated)?,
    })
}

/// Parses an IPv6 header and its extension headers (hop-by-hop, routing,
/// destination options, fragment) up to the upper-layer header.
///
/// `pkt` starts at the IPv6 header and must hold the fixed header and
/// every extension header, but need not hold the payload: like
/// [`parse_ipv4`], this reads the copy of the first bytes a hook made, and
/// a chain that runs past it is [`HeaderError::Truncated`] (a hook copies
/// more, or leaves the packet to the stack). A chain that runs past the
/// payload length is [`HeaderError::BadLength`], the counterpart of an IPv4
/// total length below the header length; a zero payload length (an RFC
/// 2675 jumbogram, or a BIG TCP super-packet) therefore never parses as a
/// segment with a TCP header. Anything that is not a whole segment at its
/// final destination is an error of its own ([`HeaderError::Fragment`],
/// [`HeaderError::InTransit`]), so that no caller can take it for one by
/// forgetting to look at a flag.
pub fn parse_ipv6(pkt: &[u8]) -> Result<Ipv6Header, HeaderError> {
    walk_ipv6(pkt, Fragments::Whole)
}

/// The fields of a TCP header the module uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHeader {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Header length in bytes, options included.
    pub header_len: usize,
    /// Flag bits (see [`flags`]).
    pub flags: u8,
    /// Advertised window, unscaled.
    pub window: u16,
}

/// Parses the fixed part of a TCP header; `segment_len` is the length of
/// the whole segment (header and payload) according to the IP header.
pub fn parse_tcp(hdr: &[u8], segment_len: usize) -> Result<TcpHeader, HeaderError> {
    if hdr.len() < TCP_MIN_LEN || segment_len < TCP_MIN_LEN {
        return Err(HeaderError::Truncated);
    }
    let doff = *hdr.get(12).ok_or(HeaderError::Truncated)?;
    let header_len = usize::from(doff >> 4) * 4;
    if header_len < TCP_MIN_LEN || header_len > segment_len {
        return Err(HeaderError::BadLength);
    }
    Ok(TcpHeader {
        sport: be16(hdr, 0).ok_or(HeaderError::Truncated)?,
        dport: be16(hdr, 2).ok_or(HeaderError::Truncated)?,
        seq: be32(hdr, 4).ok_or(HeaderError::Truncated)?,
        ack: be32(hdr, 8).ok_or(HeaderError::Truncated)?,
        header_len,
        flags: *hdr.get(13).ok_or(HeaderError::Truncated)?,
        window: be16(hdr, 14).ok_or(HeaderError::Truncated)?,
    })
}

/// Murmur3's finaliser: a cheap full-avalanche 32-bit mix.
pub fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// The initial state of a tuple hash keyed by `seed`.
fn hash_start(seed: u32) -> u32 {
    seed ^ 0x9e37_79b9
}

/// One round of the tuple hash: absorbs the 32-bit word `w` into `h`.
fn hash_word(h: u32, w: u32) -> u32 {
    fmix32(h ^ w.wrapping_mul(0xcc9e_2d51))
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

/// Hash of a connection's 4-tuple for the connection tables, keyed by a
/// per-table random `seed` so that a remote sender cannot aim its tuples
/// at one bucket.
pub fn tuple_hash(seed: u32, saddr: [u8; 4], daddr: [u8; 4], sport: u16, dport: u16) -> u32 {
    let ports = u32::from(sport) << 16 | u32::from(dport);
    let mut h = hash_start(seed);
    for w in [u32::from_be_bytes(saddr), u32::from_be_bytes(daddr), ports] {
        h = hash_word(h, w);
    }
    fmix32(h)
}

/// Hash of an IPv6 connection's 4-tuple, the counterpart of [`tuple_hash`]
/// with the same seed and mixing.
///
/// Each address is folded in as its four 32-bit words, one mixing round
/// per word, rather than XOR-folded to one word first: a sender who picks
/// its own source address (any address in its /64, say) could otherwise
/// make any number of addresses with the same XOR and so the same bucket,
/// whatever the seed.
pub fn tuple_hash6(seed: u32, saddr: [u8; 16], daddr: [u8; 16], sport: u16, dport: u16) -> u32 {
    let ports = u32::from(sport) << 16 | u32::from(dport);
    let mut h = hash_start(seed);
    for a in [saddr, daddr] {
        // Indices, as in `csum_replace16` (objtool and `chunks_exact`).
        for k in 0..4 {
            let w = [a[4 * k], a[4 * k + 1], a[4 * k + 2], a[4 * k + 3]];
            h = hash_word(h, u32::from_be_bytes(w));
        }
    }
    fmix32(hash_word(h, ports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuple_hash_spreads_and_depends_on_the_seed() {
        // One client, one service, 25,600 consecutive source ports (what a
        // load generator produces) over 256 buckets.
        let mut counts = [0u32; 256];
        for port in 30000..55600u16 {
            let h = tuple_hash(
                0x1234_5678,
                [198, 51, 100, 100],
                [198, 51, 100, 1],
                port,
                80,
            );
            counts[(h % 256) as usize] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min >= 60 && *max <= 150, "min {min} max {max}");
        let a = tuple_hash(1, [1, 2, 3, 4], [5, 6, 7, 8], 9, 10);
        let b = tuple_hash(2, [1, 2, 3, 4], [5, 6, 7, 8], 9, 10);
        assert_ne!(a, b);
        assert_ne!(a, tuple_hash(1, [5, 6, 7, 8], [1, 2, 3, 4], 9, 10));
    }

    const IP: [u8; 20] = [
        0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0, 198, 51, 100, 1, 198, 51, 100, 10,
    ];
    const TCP: [u8; 20] = [
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ];

    #[test]
    fn parses_ipv4_and_tcp() {
        let ip = parse_ipv4(&IP).unwrap();
        assert_eq!(ip.header_len, 20);
        assert_eq!(ip.total_len, 60);
        assert_eq!(ip.protocol, IPPROTO_TCP);
        assert!(!ip.is_later_fragment);
        assert_eq!(ip.daddr, [198, 51, 100, 10]);
        let tcp = parse_tcp(&TCP, 40).unwrap();
        assert_eq!((tcp.sport, tcp.dport, tcp.seq), (40000, 80, 1));
        assert_eq!(tcp.flags, flags::SYN);
    }

    #[test]
    fn rejects_lies_and_truncation() {
        for n in 0..IP.len() {
            assert_eq!(parse_ipv4(&IP[..n]), Err(HeaderError::Truncated));
        }
        let mut bad = IP;
        bad[0] = 0x44; // IHL 4: shorter than the fixed header
        assert_eq!(parse_ipv4(&bad), Err(HeaderError::BadLength));
        bad[0] = 0x65;
        assert_eq!(parse_ipv4(&bad), Err(HeaderError::BadVersion));
        let mut short = IP;
        short[3] = 10; // total length below header length
        assert_eq!(parse_ipv4(&short), Err(HeaderError::BadLength));
        let mut frag = IP;
        frag[7] = 1;
        assert!(parse_ipv4(&frag).unwrap().is_later_fragment);

        for n in 0..TCP.len() {
            assert_eq!(parse_tcp(&TCP[..n], 40), Err(HeaderError::Truncated));
        }
        let mut t = TCP;
        t[12] = 0x40; // data offset 4
        assert_eq!(parse_tcp(&t, 40), Err(HeaderError::BadLength));
        t[12] = 0xf0; // 60 bytes of header in a 40-byte segment
        assert_eq!(parse_tcp(&t, 40), Err(HeaderError::BadLength));
        assert_eq!(parse_tcp(&TCP, 19), Err(HeaderError::Truncated));
    }

    #[test]
    fn tuple_hash_is_unchanged_by_the_shared_rounds() {
        // Values from before the rounds were shared with `tuple_hash6`:
        // the hash must not move under a running module's tables (and
        // keeps its spread, which the test above measured on it).
        assert_eq!(tuple_hash(0, [0; 4], [0; 4], 0, 0), 0x2ee1_959b);
        let h = tuple_hash(
            0x1234_5678,
            [198, 51, 100, 100],
            [198, 51, 100, 1],
            40000,
            80,
        );
        assert_eq!(h, 0x1b52_49fd);
        let h = tuple_hash(u32::MAX, [255; 4], [1, 2, 3, 4], 65535, 1);
        assert_eq!(h, 0x71da_d538);
    }

    const V6_CLIENT: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64];
    const V6_SERVICE: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

    #[test]
    fn tuple_hash6_spreads_and_depends_on_everything() {
        let mut counts = [0u32; 256];
        for port in 30000..55600u16 {
            let h = tuple_hash6(0x1234_5678, V6_CLIENT, V6_SERVICE, port, 80);
            counts[(h % 256) as usize] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min >= 60 && *max <= 150, "min {min} max {max}");
        // One client port, 25,600 source addresses of one /64 (the low
        // 64 bits are the sender's to choose).
        let mut counts = [0u32; 256];
        for i in 0..25600u32 {
            let mut a = V6_CLIENT;
            a[12..].copy_from_slice(&i.wrapping_mul(0x9e37_79b9).to_be_bytes());
            counts[(tuple_hash6(7, a, V6_SERVICE, 40000, 443) % 256) as usize] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min >= 60 && *max <= 150, "min {min} max {max}");
        let a = tuple_hash6(1, V6_CLIENT, V6_SERVICE, 9, 10);
        assert_ne!(a, tuple_hash6(2, V6_CLIENT, V6_SERVICE, 9, 10));
        assert_ne!(a, tuple_hash6(1, V6_SERVICE, V6_CLIENT, 9, 10));
        assert_ne!(a, tuple_hash6(1, V6_CLIENT, V6_SERVICE, 10, 9));
        // The same bits flipped in two words of an address: equal under an
        // XOR fold of the words, different here.
        let mut b = V6_CLIENT;
        b[8] ^= 0x80;
        b[12] ^= 0x80;
        assert_ne!(a, tuple_hash6(1, b, V6_SERVICE, 9, 10));
        // Every byte of both addresses counts.
        for i in 0..32 {
            let (mut s, mut d) = (V6_CLIENT, V6_SERVICE);
            if i < 16 {
                s[i] ^= 1;
            } else {
                d[i - 16] ^= 1;
            }
            assert_ne!(a, tuple_hash6(1, s, d, 9, 10), "byte {i}");
        }
    }

    /// An IPv6 header from `V6_CLIENT` to `V6_SERVICE` with `next` as its
    /// next header, followed by `chain` (extension headers, written by
    /// hand) and `upper`; the payload length covers both.
    fn v6(next: u8, chain: &[u8], upper: &[u8]) -> Vec<u8> {
        let mut p = std::vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((chain.len() + upper.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&V6_CLIENT);
        p.extend_from_slice(&V6_SERVICE);
        p.extend_from_slice(chain);
        p.extend_from_slice(upper);
        p
    }

    /// An options-type extension header (hop-by-hop, destination options)
    /// of `len8` 8-byte units, padded with PadN.
    fn opts_hdr(next: u8, len8: u8) -> Vec<u8> {
        let mut h = std::vec![0u8; usize::from(len8) * 8];
        h[0] = next;
        h[1] = len8 - 1;
        h[2] = 1; // PadN over the rest
        h[3] = (h.len() - 4) as u8;
        h
    }

    /// A fragment header: `offset` in 8-byte units, `more` fragments.
    fn frag_hdr(next: u8, offset: u16, more: bool) -> [u8; 8] {
        let [a, b] = (offset << 3 | u16::from(more)).to_be_bytes();
        [next, 0, a, b, 0, 0, 0x12, 0x34]
    }

    /// A segment-routing header (type 4) with one segment and
    /// `segments_left`.
    fn routing_hdr(next: u8, segments_left: u8) -> [u8; 24] {
        let mut h = [0u8; 24];
        h[0] = next;
        h[1] = 2;
        h[2] = 4;
        h[3] = segments_left;
        h[8..].copy_from_slice(&V6_SERVICE);
        h
    }

    use std::vec::Vec;

    #[test]
    fn parses_ipv6_without_extensions() {
        let p = v6(IPPROTO_TCP, &[], &TCP);
        let ip = parse_ipv6(&p).unwrap();
        assert_eq!(ip.header_len, IPV6_HDR_LEN);
        assert_eq!(ip.payload_len, 20);
        assert_eq!(ip.protocol, IPPROTO_TCP);
        assert_eq!((ip.saddr, ip.daddr), (V6_CLIENT, V6_SERVICE));
        assert_eq!(ip.upper_len(), 20);
        let tcp = parse_tcp(&p[ip.header_len..], ip.upper_len()).unwrap();
        assert_eq!((tcp.sport, tcp.dport, tcp.seq), (40000, 80, 1));
        // Only the headers are needed, not the payload.
        assert_eq!(parse_ipv6(&p[..IPV6_HDR_LEN]), Ok(ip));
        // Traffic class and flow label are no business of the parser.
        let mut tc = p.clone();
        tc[1..4].copy_from_slice(&[0xff, 0xff, 0xff]);
        assert_eq!(parse_ipv6(&tc), Ok(ip));
    }

    #[test]
    fn walks_the_extension_chain_to_tcp() {
        let mut chain = opts_hdr(nexthdr::DEST, 1);
        chain.extend(opts_hdr(nexthdr::ROUTING, 2));
        chain.extend(routing_hdr(nexthdr::FRAGMENT, 0));
        chain.extend(frag_hdr(nexthdr::DEST, 0, false)); // atomic
        chain.extend(opts_hdr(IPPROTO_TCP, 3));
        let p = v6(nexthdr::HOP, &chain, &TCP);
        let ip = parse_ipv6(&p).unwrap();
        assert_eq!(ip.header_len, 40 + 8 + 16 + 24 + 8 + 24);
        assert_eq!(ip.header_len, 40 + chain.len());
        assert_eq!(ip.protocol, IPPROTO_TCP);
        assert_eq!(ip.upper_len(), 20);
        assert_eq!(&p[ip.header_len..], &TCP);
        // Every cut inside the chain is a truncation, never a misreading.
        for n in 0..ip.header_len {
            assert_eq!(parse_ipv6(&p[..n]), Err(HeaderError::Truncated), "cut {n}");
        }
        assert_eq!(parse_ipv6(&p[..ip.header_len]), Ok(ip));
        // The chain ends at a protocol it does not walk, TCP or not:
        // authentication, no next header, UDP.
        for proto in [51, 50, 59, 17] {
            let p = v6(nexthdr::DEST, &opts_hdr(proto, 1), &[0; 8]);
            let ip = parse_ipv6(&p).unwrap();
            assert_eq!((ip.protocol, ip.header_len, ip.upper_len()), (proto, 48, 8));
        }
    }

    #[test]
    fn ipv6_rejects_lies_and_truncation() {
        let p = v6(IPPROTO_TCP, &[], &TCP);
        for n in 0..IPV6_HDR_LEN {
            assert_eq!(parse_ipv6(&p[..n]), Err(HeaderError::Truncated));
        }
        let mut bad = p.clone();
        bad[0] = 0x45;
        assert_eq!(parse_ipv6(&bad), Err(HeaderError::BadVersion));
        // As for IPv4, the length is checked before the version.
        assert_eq!(parse_ipv6(&IP), Err(HeaderError::Truncated));
        let mut v4 = [0u8; 40];
        v4[..20].copy_from_slice(&IP);
        assert_eq!(parse_ipv6(&v4), Err(HeaderError::BadVersion));
        assert_eq!(parse_ipv4(&p), Err(HeaderError::BadVersion));
        // A chain longer than the payload length says.
        let mut short = v6(nexthdr::DEST, &opts_hdr(IPPROTO_TCP, 2), &TCP);
        short[4..6].copy_from_slice(&15u16.to_be_bytes());
        assert_eq!(parse_ipv6(&short), Err(HeaderError::BadLength));
        short[4..6].copy_from_slice(&16u16.to_be_bytes());
        let ip = parse_ipv6(&short).unwrap();
        assert_eq!((ip.header_len, ip.upper_len()), (56, 0));
        short[4..6].copy_from_slice(&4u16.to_be_bytes());
        assert_eq!(parse_ipv6(&short), Err(HeaderError::BadLength));
        // A jumbogram's zero payload length leaves no room for TCP.
        let mut jumbo = v6(nexthdr::HOP, &opts_hdr(IPPROTO_TCP, 1), &TCP);
        jumbo[4..6].fill(0);
        assert_eq!(parse_ipv6(&jumbo), Err(HeaderError::BadLength));
        let mut jumbo = p.clone();
        jumbo[4..6].fill(0);
        let ip = parse_ipv6(&jumbo).unwrap();
        assert_eq!(
            parse_tcp(&jumbo[40..], ip.upper_len()),
            Err(HeaderError::Truncated)
        );
    }

    #[test]
    fn ipv6_bounds_the_chain() {
        let chain = |n: usize| {
            let mut c = Vec::new();
            for i in 0..n {
                let next = if i + 1 == n {
                    IPPROTO_TCP
                } else {
                    nexthdr::DEST
                };
                c.extend(opts_hdr(next, 1));
            }
            v6(nexthdr::DEST, &c, &TCP)
        };
        let ip = parse_ipv6(&chain(MAX_EXT_HEADERS)).unwrap();
        assert_eq!(ip.header_len, 40 + 8 * MAX_EXT_HEADERS);
        let p = chain(MAX_EXT_HEADERS + 1);
        assert_eq!(parse_ipv6(&p), Err(HeaderError::TooManyExtensions));
        // Whatever the buffer holds: the count is checked first.
        assert_eq!(
            parse_ipv6(&p[..40 + 8 * MAX_EXT_HEADERS]),
            Err(HeaderError::TooManyExtensions)
        );
        // Hop-by-hop is allowed only first.
        let mut c = opts_hdr(nexthdr::HOP, 1);
        c.extend(opts_hdr(IPPROTO_TCP, 1));
        let p = v6(nexthdr::DEST, &c, &TCP);
        assert_eq!(parse_ipv6(&p), Err(HeaderError::MisplacedExtension));
        // A routing header with segments left: not at its destination.
        let p = v6(nexthdr::ROUTING, &routing_hdr(IPPROTO_TCP, 1), &TCP);
        assert_eq!(parse_ipv6(&p), Err(HeaderError::InTransit));
        let p = v6(nexthdr::ROUTING, &routing_hdr(IPPROTO_TCP, 0), &TCP);
        assert_eq!(parse_ipv6(&p).unwrap().header_len, 64);
    }

    #[test]
    fn ipv6_fragments_are_not_segments() {
        let frag = |offset: u16, more: bool| {
            v6(
                nexthdr::FRAGMENT,
                &frag_hdr(IPPROTO_TCP, offset, more),
                &TCP,
            )
        };
        // An atomic fragment (RFC 6946) is a whole packet.
        let ip = parse_ipv6(&frag(0, false)).unwrap();
        assert_eq!(
            (ip.protocol, ip.header_len, ip.upper_len()),
            (IPPROTO_TCP, 48, 20)
        );
        // The first of several: a TCP header, but not the whole segment.
        assert_eq!(parse_ipv6(&frag(0, true)), Err(HeaderError::Fragment));
        // A later one: no TCP header at all.
        assert_eq!(parse_ipv6(&frag(1, true)), Err(HeaderError::Fragment));
        assert_eq!(parse_ipv6(&frag(185, false)), Err(HeaderError::Fragment));
        // What an ICMPv6 error's quote needs: the first fragment's TCP
        // header, so only later fragments are refused there.
        let ip = walk_ipv6(&frag(0, true), Fragments::FirstOk).unwrap();
        assert_eq!((ip.protocol, ip.header_len), (IPPROTO_TCP, 48));
        assert_eq!(
            walk_ipv6(&frag(1, false), Fragments::FirstOk),
            Err(HeaderError::Fragment)
        );
        // The walk stops at a later fragment and never reads its payload
        // as headers, even when that payload looks like some.
        let mut c = frag_hdr(nexthdr::DEST, 3, true).to_vec();
        c.extend(opts_hdr(IPPROTO_TCP, 1));
        let p = v6(nexthdr::FRAGMENT, &c, &TCP);
        assert_eq!(parse_ipv6(&p), Err(HeaderError::Fragment));
    }
}
