// SPDX-License-Identifier: GPL-2.0

//! Rewriting and building the IPv4/TCP headers of a handed-off connection.
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
//! state every changed word does, at whatever byte offset it sits.

use super::packet::{flags, IPV4_MIN_LEN, TCP_MIN_LEN};
use super::seq::{csum_fold, csum_partial, csum_replace2, csum_replace4, Translation};
use super::tcp_options::{self, kind};

/// Why a header could not be rewritten or built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewriteError {
    /// The buffer is shorter than the headers it claims to hold.
    Truncated,
    /// The TCP options are malformed.
    BadOptions,
    /// The output buffer is too small.
    NoRoom,
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

/// Rewrites a client segment the front-end forwards to the back-end.
pub fn client_to_be(pkt: &mut [u8], rw: &Rewrite<'_>) -> Result<(), RewriteError> {
    let (t, end) = layout(pkt)?;
    let mut check = be16(pkt, t + 16).ok_or(RewriteError::Truncated)?;
    replace_addr(pkt, 16, rw.addr, rw.partial, &mut check);
    // Everything below changes covered words only: in the partial state the
    // device sums them later, so the field must not move.
    let mut full = check;
    let tcp_flags = *pkt.get(t + 13).ok_or(RewriteError::Truncated)?;
    if tcp_flags & flags::ACK != 0 {
        let old = be32(pkt, t + 8).ok_or(RewriteError::Truncated)?;
        let new = rw.tr.client_to_be_ack(old);
        put32(pkt, t + 8, new).ok_or(RewriteError::Truncated)?;
        full = csum_replace4(full, old, new);
    }
    let opts = pkt
        .get_mut(t + TCP_MIN_LEN..end)
        .ok_or(RewriteError::Truncated)?;
    let parsed = tcp_options::parse(opts).map_err(|_| RewriteError::BadOptions)?;
    tcp_options::translate_client_to_be(opts, &parsed, TCP_MIN_LEN, rw.tr, &mut full)
        .ok_or(RewriteError::Truncated)?;
    put16(pkt, t + 16, if rw.partial { check } else { full }).ok_or(RewriteError::Truncated)
}

/// Rewrites a back-end segment on its way to the client.
pub fn be_to_client(pkt: &mut [u8], rw: &Rewrite<'_>) -> Result<(), RewriteError> {
    let (t, end) = layout(pkt)?;
    let mut check = be16(pkt, t + 16).ok_or(RewriteError::Truncated)?;
    replace_addr(pkt, 12, rw.addr, rw.partial, &mut check);
    let mut full = check;
    let old = be32(pkt, t + 4).ok_or(RewriteError::Truncated)?;
    let new = rw.tr.be_to_client_seq(old);
    put32(pkt, t + 4, new).ok_or(RewriteError::Truncated)?;
    full = csum_replace4(full, old, new);
    let tcp_flags = *pkt.get(t + 13).ok_or(RewriteError::Truncated)?;
    if tcp_flags & flags::SYN == 0 && rw.tr.fe_wscale != rw.tr.be_wscale {
        let old = be16(pkt, t + 14).ok_or(RewriteError::Truncated)?;
        let new = rw.tr.rescale_window(old);
        put16(pkt, t + 14, new).ok_or(RewriteError::Truncated)?;
        full = csum_replace2(full, old, new);
    }
    let opts = pkt
        .get_mut(t + TCP_MIN_LEN..end)
        .ok_or(RewriteError::Truncated)?;
    let parsed = tcp_options::parse(opts).map_err(|_| RewriteError::BadOptions)?;
    tcp_options::translate_be_to_client(opts, &parsed, TCP_MIN_LEN, rw.tr, &mut full)
        .ok_or(RewriteError::Truncated)?;
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

/// Writes `seg` as a complete IPv4 packet (both checksums complete) into
/// `out` and returns its length.
pub fn build_segment(seg: &Segment<'_>, out: &mut [u8]) -> Result<usize, RewriteError> {
    let mut opts = [0u8; 40];
    let olen = seg.options.encode(&mut opts);
    let thl = TCP_MIN_LEN + olen;
    let total = IPV4_MIN_LEN + thl + seg.payload.len();
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
    put16(pkt, t, seg.sport).ok_or(RewriteError::NoRoom)?;
    put16(pkt, t + 2, seg.dport).ok_or(RewriteError::NoRoom)?;
    put32(pkt, t + 4, seg.seq).ok_or(RewriteError::NoRoom)?;
    put32(pkt, t + 8, seg.ack).ok_or(RewriteError::NoRoom)?;
    *pkt.get_mut(t + 12).ok_or(RewriteError::NoRoom)? = ((thl / 4) as u8) << 4;
    *pkt.get_mut(t + 13).ok_or(RewriteError::NoRoom)? = seg.flags;
    put16(pkt, t + 14, seg.window).ok_or(RewriteError::NoRoom)?;
    pkt.get_mut(t + TCP_MIN_LEN..t + thl)
        .ok_or(RewriteError::NoRoom)?
        .copy_from_slice(opts.get(..olen).unwrap_or(&[]));
    pkt.get_mut(t + thl..)
        .ok_or(RewriteError::NoRoom)?
        .copy_from_slice(seg.payload);
    let tcp_len = u32::try_from(thl + seg.payload.len()).map_err(|_| RewriteError::NoRoom)?;
    let mut sum = csum_partial(&seg.saddr, 0);
    sum = csum_partial(&seg.daddr, sum);
    sum = csum_partial(&[0, 6], sum);
    sum = csum_partial(&(tcp_len as u16).to_be_bytes(), sum);
    sum = csum_partial(pkt.get(t..).unwrap_or(&[]), sum);
    put16(pkt, t + 16, csum_fold(sum)).ok_or(RewriteError::NoRoom)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::super::packet::{parse_ipv4, parse_tcp};
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
}
