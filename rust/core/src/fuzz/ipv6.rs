// SPDX-License-Identifier: GPL-2.0

//! The `ipv6` target: the IPv6 header walk, the IPv6 TCP rewrites and the
//! ICMPv6 error rewrite, as the module will run them on packets from the
//! network, and the segment builder on what the input asks for.
//!
//! The input is a [`CONFIG_LEN`]-byte configuration (see [`Config`])
//! followed by the packet, which starts at its IPv6 header. The checksum
//! properties hold for any packet, right or wrong: an incremental update
//! keeps the one's-complement sum over the checksummed bytes exactly what
//! it was, so a packet whose checksum was right stays right and one whose
//! checksum was wrong stays exactly as wrong. The fuzzer need not get a
//! checksum right to test that.

use crate::icmp::{error_to_be_v6, parse_quote_v6, IPPROTO_ICMPV6};
use crate::packet::{
    flags, nexthdr, parse_ipv6, parse_tcp, HeaderError, Ipv6Header, IPPROTO_TCP, IPV6_HDR_LEN,
    MAX_EXT_HEADERS, TCP_MIN_LEN,
};
use crate::rewrite::{
    be_to_client_v6, build_segment_v6, client_to_be_v6, Rewrite6, SegOptions, Segment6,
};
use crate::seq::{csum_fold, csum_partial, Translation};
use crate::tcp_options;

/// Bytes of configuration before the packet.
pub const CONFIG_LEN: usize = 1 + 16 + 18;

/// Most packet bytes the rewrites are run on: a copy of them is made on
/// the stack for each, and a longer input teaches nothing more (the
/// rewrites look at the headers only).
const MAX_PACKET: usize = 2048;

/// What the configuration bytes say.
struct Config {
    /// Byte 0, bit 0: the TCP checksum is in the partial state.
    partial: bool,
    /// Byte 0, bits 1 to 4: which options [`build_segment_v6`] writes.
    options: u8,
    /// Bytes 1 to 16: the address the rewrites put in.
    addr: [u8; 16],
    /// Bytes 17 to 34: ISNs and initial timestamps of both sides (four
    /// 32-bit numbers) and both window scales.
    tr: Translation,
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(w)
}

fn split(data: &[u8]) -> Option<(Config, &[u8])> {
    let (cfg, pkt) = (data.get(..CONFIG_LEN)?, data.get(CONFIG_LEN..)?);
    let mut addr = [0u8; 16];
    addr.copy_from_slice(&cfg[1..17]);
    let tr = Translation::new(
        be32(cfg, 17),
        be32(cfg, 21),
        be32(cfg, 25),
        be32(cfg, 29),
        cfg[33],
        cfg[34],
    );
    let config = Config {
        partial: cfg[0] & 1 != 0,
        options: (cfg[0] >> 1) & 0x0f,
        addr,
        tr,
    };
    Some((config, pkt.get(..MAX_PACKET).unwrap_or(pkt)))
}

/// Checks the IPv6 functions on `data`: configuration, then a packet.
pub fn ipv6(data: &[u8]) {
    check_parse(data);
    let Some((cfg, pkt)) = split(data) else {
        return;
    };
    check_parse(pkt);
    for forward in [true, false] {
        check_rewrite(&cfg, pkt, forward);
    }
    check_icmp(&cfg, pkt);
    check_build(&cfg, pkt);
}

/// [`parse_ipv6`]'s invariants, and that it reads nothing past the chain.
fn check_parse(pkt: &[u8]) {
    let res = parse_ipv6(pkt);
    // A shorter copy of the same packet parses the same or is too short:
    // never another verdict.
    for n in [pkt.len() / 2, pkt.len().saturating_sub(1), IPV6_HDR_LEN] {
        if let Some(prefix) = pkt.get(..n) {
            let r = parse_ipv6(prefix);
            assert!(
                r == res || r == Err(HeaderError::Truncated),
                "{r:?} {res:?}"
            );
        }
    }
    let Ok(ip) = res else {
        return;
    };
    assert!(ip.header_len >= IPV6_HDR_LEN && ip.header_len % 8 == 0);
    assert!(ip.header_len <= pkt.len());
    assert!(ip.header_len <= IPV6_HDR_LEN + usize::from(ip.payload_len));
    assert!((ip.header_len - IPV6_HDR_LEN) / 8 <= MAX_EXT_HEADERS * 256);
    assert_eq!(
        ip.upper_len(),
        IPV6_HDR_LEN + usize::from(ip.payload_len) - ip.header_len
    );
    assert!(!matches!(
        ip.protocol,
        nexthdr::HOP | nexthdr::ROUTING | nexthdr::FRAGMENT | nexthdr::DEST
    ));
    assert_eq!(pkt[0] >> 4, 6);
    assert_eq!(ip.saddr[..], pkt[8..24]);
    assert_eq!(ip.daddr[..], pkt[24..40]);
    // Everything it needs lies before the upper-layer header.
    assert_eq!(parse_ipv6(&pkt[..ip.header_len]), Ok(ip));
    assert_eq!(
        parse_ipv6(&pkt[..ip.header_len - 1]),
        Err(HeaderError::Truncated)
    );
}

/// Whether two checksum values are equal as one's-complement numbers
/// (0x0000 and 0xffff are both zero).
fn same(a: u16, b: u16) -> bool {
    a == b || (a | b == 0xffff && a & b == 0)
}

/// The one's-complement sum over the pseudo-header of `ip` with upper-layer
/// protocol `proto` and the upper-layer bytes `upper`, as a checksum field
/// value: 0 (or 0xffff) when the checksum in `upper` is right.
fn upper_sum(ip: &Ipv6Header, proto: u8, upper: &[u8]) -> u16 {
    let mut sum = csum_partial(&ip.saddr, 0);
    sum = csum_partial(&ip.daddr, sum);
    sum = csum_partial(&(upper.len() as u32).to_be_bytes(), sum);
    sum = csum_partial(&[0, 0, 0, proto], sum);
    csum_fold(csum_partial(upper, sum))
}

/// The upper-layer bytes of `pkt`, when all of them are there.
fn upper<'a>(pkt: &'a [u8], ip: &Ipv6Header) -> Option<&'a [u8]> {
    pkt.get(ip.header_len..IPV6_HDR_LEN + usize::from(ip.payload_len))
}

/// What the checksum properties compare before and after a TCP rewrite:
/// in the complete state the sum over the whole segment (when it is all
/// in the buffer and holds the TCP header), in the partial state how far
/// the field is from the pseudo-header sum it should hold.
fn tcp_residue(pkt: &[u8], partial: bool) -> Option<u16> {
    let ip = parse_ipv6(pkt).ok()?;
    if partial {
        let t = ip.header_len;
        let field = u16::from_be_bytes([*pkt.get(t + 16)?, *pkt.get(t + 17)?]);
        // The pseudo-header sum alone: an upper-layer part of zeros
        // leaves the sum as it is.
        let mut sum = csum_partial(&ip.saddr, 0);
        sum = csum_partial(&ip.daddr, sum);
        sum = csum_partial(&(ip.upper_len() as u32).to_be_bytes(), sum);
        sum = csum_partial(&[0, 0, 0, IPPROTO_TCP], sum);
        let pseudo = !csum_fold(sum);
        Some(csum_fold(u32::from(field) + u32::from(!pseudo)))
    } else {
        // Only a segment that holds the whole TCP header has a checksum
        // over it: with a payload length that ends sooner (zero, in a BIG
        // TCP super-packet) the changed words lie outside the sum.
        let seg = upper(pkt, &ip)?;
        let doff = usize::from(*seg.get(12)? >> 4) * 4;
        if seg.len() < doff {
            return None;
        }
        Some(upper_sum(&ip, IPPROTO_TCP, seg))
    }
}

/// [`client_to_be_v6`] (`forward`) or [`be_to_client_v6`] on a copy of
/// `pkt`.
fn check_rewrite(cfg: &Config, pkt: &[u8], forward: bool) {
    let mut buf = [0u8; MAX_PACKET];
    let p = &mut buf[..pkt.len()];
    p.copy_from_slice(pkt);
    let rw = Rewrite6 {
        tr: &cfg.tr,
        addr: cfg.addr,
        partial: cfg.partial,
    };
    let before = tcp_residue(pkt, cfg.partial);
    let res = if forward {
        client_to_be_v6(p, &rw)
    } else {
        be_to_client_v6(p, &rw)
    };
    if res.is_err() {
        assert_eq!(&p[..], pkt, "a refused rewrite writes nothing");
        return;
    }
    let ip0 = parse_ipv6(pkt).expect("rewritten, so parsed");
    let ip1 = parse_ipv6(p).expect("still parses");
    assert_eq!(ip0.protocol, IPPROTO_TCP);
    let t = ip0.header_len;
    let (addr_at, other_at) = if forward { (24, 8) } else { (8, 24) };
    assert_eq!(p[addr_at..addr_at + 16], cfg.addr);
    assert_eq!(p[other_at..other_at + 16], pkt[other_at..other_at + 16]);
    assert_eq!((ip1.header_len, ip1.payload_len), (t, ip0.payload_len));
    assert_eq!(p[..8], pkt[..8]);
    assert_eq!(p[40..t], pkt[40..t], "extension headers unchanged");
    let tcp0 = parse_tcp(&pkt[t..], usize::MAX).expect("a TCP header");
    let tcp1 = parse_tcp(&p[t..], usize::MAX).expect("a TCP header");
    let end = t + tcp0.header_len;
    assert_eq!(p[end..], pkt[end..], "payload unchanged");
    assert_eq!(
        (tcp1.sport, tcp1.dport, tcp1.flags, tcp1.header_len),
        (tcp0.sport, tcp0.dport, tcp0.flags, tcp0.header_len)
    );
    if forward {
        assert_eq!(tcp1.seq, tcp0.seq);
        let ack = if tcp0.flags & flags::ACK != 0 {
            cfg.tr.client_to_be_ack(tcp0.ack)
        } else {
            tcp0.ack
        };
        assert_eq!(tcp1.ack, ack);
        assert_eq!(tcp1.window, tcp0.window);
    } else {
        assert_eq!(tcp1.seq, cfg.tr.be_to_client_seq(tcp0.seq));
        assert_eq!(tcp1.ack, tcp0.ack);
    }
    let o0 = tcp_options::parse(&pkt[t + TCP_MIN_LEN..end]).expect("options parsed");
    let o1 = tcp_options::parse(&p[t + TCP_MIN_LEN..end]).expect("options still parse");
    if let (Some((v0, e0)), Some(ts1)) = (o0.timestamp, o1.timestamp) {
        let want = if forward {
            (v0, cfg.tr.client_to_be_tsecr(e0))
        } else {
            (cfg.tr.be_to_client_tsval(v0), e0)
        };
        assert_eq!(ts1, want);
    }
    if let Some(b) = before {
        let after = tcp_residue(p, cfg.partial).expect("as computable as before");
        assert!(same(b, after), "checksum residue {b:#x} became {after:#x}");
    }
}

/// [`parse_quote_v6`] and [`error_to_be_v6`] on a copy of `pkt`.
fn check_icmp(cfg: &Config, pkt: &[u8]) {
    let mut buf = [0u8; MAX_PACKET];
    let p = &mut buf[..pkt.len()];
    p.copy_from_slice(pkt);
    let Some(q) = parse_quote_v6(pkt) else {
        assert!(error_to_be_v6(p, &cfg.tr, cfg.addr).is_err());
        assert_eq!(&p[..], pkt, "a refused rewrite writes nothing");
        return;
    };
    assert!(q.len <= pkt.len());
    // It looks no further than `len`.
    assert_eq!(parse_quote_v6(&pkt[..q.len]), Some(q));
    let outer = parse_ipv6(pkt).expect("an IPv6 packet");
    assert_eq!(outer.protocol, IPPROTO_ICMPV6);
    let before = upper(pkt, &outer).map(|m| upper_sum(&outer, IPPROTO_ICMPV6, m));
    error_to_be_v6(p, &cfg.tr, cfg.addr).expect("a parsed quote is rewritten");
    let q1 = parse_quote_v6(p).expect("still a quote");
    assert_eq!(q1.saddr, cfg.addr);
    assert_eq!(p[24..40], cfg.addr);
    assert_eq!(p[..24], pkt[..24]);
    assert_eq!(q1.seq, cfg.tr.fe_to_be_seq(q.seq));
    assert_eq!(
        (q1.icmp_type, q1.code, q1.daddr, q1.sport, q1.dport, q1.len),
        (q.icmp_type, q.code, q.daddr, q.sport, q.dport, q.len)
    );
    assert_eq!(p[q.len..], pkt[q.len..]);
    if let Some(b) = before {
        let outer1 = parse_ipv6(p).expect("still IPv6");
        let m = upper(p, &outer1).expect("as long as before");
        let after = upper_sum(&outer1, IPPROTO_ICMPV6, m);
        assert!(same(b, after), "ICMPv6 residue {b:#x} became {after:#x}");
    }
}

/// [`build_segment_v6`] with the packet bytes as payload: a complete,
/// parseable segment that says what it was asked to.
fn check_build(cfg: &Config, pkt: &[u8]) {
    let payload = pkt.get(..1000).unwrap_or(pkt);
    let o = cfg.options;
    let options = SegOptions {
        mss: (o & 1 != 0).then_some(cfg.tr.seq_delta as u16),
        wscale: (o & 2 != 0).then_some(cfg.tr.fe_wscale),
        sack_perm: o & 4 != 0,
        timestamp: (o & 8 != 0).then_some((cfg.tr.ts_delta, cfg.tr.seq_delta)),
    };
    let seg = Segment6 {
        saddr: cfg.addr,
        sport: cfg.tr.seq_delta as u16,
        daddr: [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        dport: (cfg.tr.ts_delta >> 16) as u16,
        seq: cfg.tr.seq_delta,
        ack: cfg.tr.ts_delta,
        flags: cfg.addr[0],
        window: u16::from(cfg.tr.be_wscale) << 8,
        options,
        payload,
    };
    let mut out = [0u8; 1200];
    let n = build_segment_v6(&seg, &mut out).expect("room for it");
    let p = &out[..n];
    let ip = parse_ipv6(p).expect("a built packet parses");
    assert_eq!((ip.header_len, ip.protocol), (IPV6_HDR_LEN, IPPROTO_TCP));
    assert_eq!((ip.saddr, ip.daddr), (seg.saddr, seg.daddr));
    let seg_bytes = upper(p, &ip).expect("all there");
    assert_eq!(seg_bytes.len(), n - IPV6_HDR_LEN);
    assert!(same(upper_sum(&ip, IPPROTO_TCP, seg_bytes), 0), "checksum");
    let tcp = parse_tcp(seg_bytes, ip.upper_len()).expect("a TCP header");
    assert_eq!(
        (tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.flags, tcp.window),
        (seg.sport, seg.dport, seg.seq, seg.ack, seg.flags, seg.window)
    );
    let parsed = tcp_options::parse(&seg_bytes[TCP_MIN_LEN..tcp.header_len]).expect("options");
    assert_eq!(
        (
            parsed.mss,
            parsed.wscale,
            parsed.sack_perm,
            parsed.timestamp
        ),
        (
            options.mss,
            options.wscale,
            options.sack_perm,
            options.timestamp
        )
    );
    assert_eq!(&seg_bytes[tcp.header_len..], payload);
    // No room is an error, not a partial packet.
    assert!(build_segment_v6(&seg, &mut out[..n - 1]).is_err());
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::vec::Vec;

    use super::{ipv6, CONFIG_LEN};

    /// xorshift64*, as the core's tests use (their generator is private
    /// to the module tree).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// A few thousand mutations of the seeds through the check, so that
    /// `cargo test` tries the properties on wrong checksums, bent length
    /// fields and cut packets without a fuzzer: one to three bytes of the
    /// packet changed, then maybe a cut.
    #[test]
    fn mutated_seeds_pass_the_check() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/ipv6");
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .filter(|s| s.len() > CONFIG_LEN)
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty());
        let mut rng = Rng(0x1d6_f022);
        for seed in &seeds {
            for _ in 0..300 {
                let mut m = seed.clone();
                for _ in 0..1 + rng.below(3) {
                    // Header bytes more often than payload bytes.
                    let span = if rng.below(4) == 0 {
                        m.len()
                    } else {
                        (CONFIG_LEN + 100).min(m.len())
                    };
                    let at = CONFIG_LEN + rng.below(span - CONFIG_LEN);
                    m[at] = (rng.next() >> 32) as u8;
                }
                if rng.below(4) == 0 {
                    m.truncate(rng.below(m.len() + 1));
                }
                ipv6(&m);
            }
        }
    }
}
