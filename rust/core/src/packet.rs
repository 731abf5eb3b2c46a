// SPDX-License-Identifier: GPL-2.0

//! IPv4 and TCP header parsing for the netfilter hooks.
//!
//! The hooks copy the first bytes of each header out of the socket buffer
//! (`skb_header_pointer`) and hand them here. Nothing is trusted: every
//! length field is checked against what was actually copied and against
//! the protocol's minimum, so a truncated or lying header is reported as
//! malformed instead of being read past its end.

/// Length of an IPv4 header without options.
pub const IPV4_MIN_LEN: usize = 20;
/// Length of a TCP header without options.
pub const TCP_MIN_LEN: usize = 20;
/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;

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
    /// Not IP version 4.
    BadVersion,
    /// A length field smaller than the fixed header, or larger than the
    /// datagram.
    BadLength,
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

/// Hash of a connection's 4-tuple for the connection tables, keyed by a
/// per-table random `seed` so that a remote sender cannot aim its tuples
/// at one bucket.
pub fn tuple_hash(seed: u32, saddr: [u8; 4], daddr: [u8; 4], sport: u16, dport: u16) -> u32 {
    let ports = u32::from(sport) << 16 | u32::from(dport);
    let mut h = seed ^ 0x9e37_79b9;
    for w in [u32::from_be_bytes(saddr), u32::from_be_bytes(daddr), ports] {
        h = fmix32(h ^ w.wrapping_mul(0xcc9e_2d51))
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }
    fmix32(h)
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
}
