// SPDX-License-Identifier: GPL-2.0

//! TCP option parsing and in-place translation.
//!
//! A handshake's options decide whether a connection can move: the
//! back-end must agree with what the front-end granted (window scaling,
//! SACK, timestamps), and the front-end's timestamp clock must be
//! re-anchored. After a handoff every segment's timestamps and SACK blocks
//! are rewritten between the two nodes' views.
//!
//! Parsing is strict about lengths (a truncated or zero-length option is an
//! error, as it is for the kernel's `tcp_parse_options`) and tolerant of
//! unknown kinds, which are skipped by their length. Options may sit at any
//! byte offset: a hostile or merely unusual sender need not align them with
//! NOPs. [`csum_replace4_at`] updates a checksum for a 32-bit field at an
//! odd offset, where the kernel's `csum_replace4` alone would be wrong.

use super::seq::{csum_replace4, Translation};

/// Option kinds this module reads or rewrites.
pub mod kind {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No-operation (padding).
    pub const NOP: u8 = 1;
    /// Maximum segment size.
    pub const MSS: u8 = 2;
    /// Window scale.
    pub const WSCALE: u8 = 3;
    /// SACK permitted.
    pub const SACK_PERM: u8 = 4;
    /// SACK blocks.
    pub const SACK: u8 = 5;
    /// Timestamps.
    pub const TIMESTAMP: u8 = 8;
}

/// Why an option list was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionError {
    /// An option's length byte is missing or runs past the header.
    Truncated,
    /// An option's length is impossible for its kind (or below 2).
    BadLength,
}

/// The options of one segment. Offsets are relative to the start of the
/// option bytes given to [`parse`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// MSS (SYN and SYN/ACK only).
    pub mss: Option<u16>,
    /// Window scale shift as sent (not clamped).
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_perm: bool,
    /// Timestamp value and echo reply.
    pub timestamp: Option<(u32, u32)>,
    /// Offset of the timestamp option's TSval field.
    pub ts_offset: Option<usize>,
    /// Offset of the first SACK block and the number of blocks.
    pub sack: Option<(usize, usize)>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let w = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
}

/// Parses the option bytes of a TCP header (everything after the fixed 20
/// bytes, up to the data offset).
pub fn parse(opts: &[u8]) -> Result<TcpOptions, OptionError> {
    let mut out = TcpOptions::default();
    let mut i = 0;
    while let Some(&k) = opts.get(i) {
        match k {
            kind::EOL => break,
            kind::NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = usize::from(*opts.get(i + 1).ok_or(OptionError::Truncated)?);
        if len < 2 {
            return Err(OptionError::BadLength);
        }
        let body = opts.get(i + 2..i + len).ok_or(OptionError::Truncated)?;
        match (k, len) {
            (kind::MSS, 4) => out.mss = Some(u16::from_be_bytes([body[0], body[1]])),
            (kind::WSCALE, 3) => out.wscale = Some(body[0]),
            (kind::SACK_PERM, 2) => out.sack_perm = true,
            (kind::TIMESTAMP, 10) => {
                let val = be32(body, 0).ok_or(OptionError::Truncated)?;
                let ecr = be32(body, 4).ok_or(OptionError::Truncated)?;
                out.timestamp = Some((val, ecr));
                out.ts_offset = Some(i + 2);
            }
            (kind::SACK, l) if l >= 10 && (l - 2) % 8 == 0 => {
                out.sack = Some((i + 2, (l - 2) / 8));
            }
            (kind::MSS | kind::WSCALE | kind::SACK_PERM | kind::TIMESTAMP | kind::SACK, _) => {
                return Err(OptionError::BadLength)
            }
            // Unknown kinds are skipped by their length.
            _ => {}
        }
        i += len;
    }
    Ok(out)
}

/// Updates checksum `check` for a 32-bit field that changed from `old` to
/// `new` at byte offset `offset` of the checksummed data. At an odd offset
/// the field straddles 16-bit words, and its contribution to the one's
/// complement sum is the aligned contribution rotated by 8 bits.
pub fn csum_replace4_at(check: u16, offset: usize, old: u32, new: u32) -> u16 {
    if offset % 2 == 0 {
        csum_replace4(check, old, new)
    } else {
        csum_replace4(check, old.rotate_right(8), new.rotate_right(8))
    }
}

fn rewrite32(
    buf: &mut [u8],
    at: usize,
    f: impl Fn(u32) -> u32,
    check: &mut u16,
    base: usize,
) -> Option<()> {
    let old = be32(buf, at)?;
    let new = f(old);
    buf.get_mut(at..at + 4)?.copy_from_slice(&new.to_be_bytes());
    *check = csum_replace4_at(*check, base + at, old, new);
    Some(())
}

/// Rewrites, in place, the options of a client segment on its way from the
/// front-end to the back-end: TSecr and every SACK edge move into the
/// back-end's spaces. `opts` are the option bytes as parsed into `parsed`,
/// `base` their offset from the start of the TCP header (20 plus whatever
/// precedes them), and `check` the TCP checksum to keep correct for data
/// that is checksummed in full (the caller decides, by `ip_summed`, whether
/// the updated value is stored). Returns `None` if `parsed` does not fit
/// `opts` (a caller bug, never a packet's fault).
pub fn translate_client_to_be(
    opts: &mut [u8],
    parsed: &TcpOptions,
    base: usize,
    tr: &Translation,
    check: &mut u16,
) -> Option<()> {
    if let Some(at) = parsed.ts_offset {
        rewrite32(opts, at + 4, |v| tr.client_to_be_tsecr(v), check, base)?;
    }
    if let Some((at, blocks)) = parsed.sack {
        for e in 0..blocks * 2 {
            rewrite32(
                opts,
                at + e * 4,
                |v| tr.client_to_be_sack_edge(v),
                check,
                base,
            )?;
        }
    }
    Some(())
}

/// Rewrites, in place, the TSval of a back-end segment on its way to the
/// client. Arguments as for [`translate_client_to_be`].
pub fn translate_be_to_client(
    opts: &mut [u8],
    parsed: &TcpOptions,
    base: usize,
    tr: &Translation,
    check: &mut u16,
) -> Option<()> {
    if let Some(at) = parsed.ts_offset {
        rewrite32(opts, at, |v| tr.be_to_client_tsval(v), check, base)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::super::seq::{csum_fold, csum_partial};
    use super::*;

    /// A SYN's usual options: MSS, SACK-perm, TS, NOP, wscale.
    const SYN_OPTS: [u8; 20] = [
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ];

    #[test]
    fn parses_a_syn() {
        let o = parse(&SYN_OPTS).unwrap();
        assert_eq!(o.mss, Some(1460));
        assert!(o.sack_perm);
        assert_eq!(o.timestamp, Some((1, 0)));
        assert_eq!(o.ts_offset, Some(8));
        assert_eq!(o.wscale, Some(7));
        assert_eq!(o.sack, None);
    }

    #[test]
    fn parses_sack_blocks_and_skips_unknown() {
        let mut v = [0u8; 32];
        v[..2].copy_from_slice(&[1, 1]);
        v[2..4].copy_from_slice(&[5, 18]);
        v[20..24].copy_from_slice(&[30, 4, 0xaa, 0xbb]); // unknown kind 30
        let o = parse(&v[..24]).unwrap();
        assert_eq!(o.sack, Some((4, 2)));
    }

    #[test]
    fn rejects_bad_lengths() {
        assert_eq!(parse(&[2]), Err(OptionError::Truncated));
        assert_eq!(parse(&[2, 4, 1]), Err(OptionError::Truncated));
        assert_eq!(parse(&[30, 0]), Err(OptionError::BadLength));
        assert_eq!(parse(&[30, 1]), Err(OptionError::BadLength));
        assert_eq!(
            parse(&[8, 9, 0, 0, 0, 0, 0, 0, 0]),
            Err(OptionError::BadLength)
        );
        assert_eq!(
            parse(&[5, 9, 0, 0, 0, 0, 0, 0, 0]),
            Err(OptionError::BadLength)
        );
        assert_eq!(parse(&[3, 4, 7, 0]), Err(OptionError::BadLength));
        // EOL ends the list; what follows is padding.
        assert_eq!(parse(&[0, 99, 99]).unwrap(), TcpOptions::default());
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut x: u32 = 0x1234_5678;
        for _ in 0..20_000 {
            let mut buf = [0u8; 40];
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let n = (x % 41) as usize;
            for (j, b) in buf.iter_mut().enumerate() {
                *b = (x.rotate_left(j as u32) % 12) as u8;
            }
            let _ = parse(&buf[..n]);
        }
    }

    /// The full checksum of a buffer, as the receiver would compute it.
    fn full(buf: &[u8]) -> u16 {
        csum_fold(csum_partial(buf, 0))
    }

    #[test]
    fn odd_offset_checksum_update_matches_recomputation() {
        let mut x: u32 = 99;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut buf = [0u8; 24];
            for (j, b) in buf.iter_mut().enumerate() {
                *b = x.rotate_left(j as u32) as u8 ^ j as u8;
            }
            let at = (x as usize % 19) + 1;
            // The check field lives in the first two bytes.
            buf[0] = 0;
            buf[1] = 0;
            let check = full(&buf);
            let old = be32(&buf, at + 1).unwrap();
            let new = old.wrapping_mul(2_654_435_761).wrapping_add(x);
            buf[at + 1..at + 5].copy_from_slice(&new.to_be_bytes());
            assert_eq!(
                csum_replace4_at(check, at + 1, old, new),
                full(&buf),
                "offset {}",
                at + 1
            );
        }
    }

    #[test]
    fn translation_round_trip_keeps_checksum_right() {
        let tr = Translation::new(1000, 5000, 77, 0xffff_fff0, 7, 9);
        // Odd alignment: one NOP before the TS option, then SACK.
        let mut seg = [0u8; 2 + 1 + 10 + 2 + 18 + 1];
        let opts_at = 2; // the "check" field is seg[0..2]
        let o = &mut seg[opts_at..];
        o[0] = 1;
        o[1..3].copy_from_slice(&[8, 10]);
        o[3..7].copy_from_slice(&123u32.to_be_bytes());
        o[7..11].copy_from_slice(&456u32.to_be_bytes());
        o[11..13].copy_from_slice(&[1, 1]);
        o[13..15].copy_from_slice(&[5, 18]);
        o[15..19].copy_from_slice(&2000u32.to_be_bytes());
        o[19..23].copy_from_slice(&2100u32.to_be_bytes());
        o[23..27].copy_from_slice(&(u32::MAX - 5).to_be_bytes());
        o[27..31].copy_from_slice(&7u32.to_be_bytes());
        let mut check = full(&seg);
        let parsed = parse(&seg[opts_at..]).unwrap();
        assert_eq!(parsed.ts_offset, Some(3));
        translate_client_to_be(&mut seg[opts_at..], &parsed, opts_at, &tr, &mut check).unwrap();
        let mut after = seg;
        after[0] = 0;
        after[1] = 0;
        assert_eq!(check, full(&after));
        let p2 = parse(&seg[opts_at..]).unwrap();
        assert_eq!(p2.timestamp, Some((123, tr.client_to_be_tsecr(456))));
        assert_eq!(be32(&seg, opts_at + 15), Some(2000u32.wrapping_add(4000)));
        assert_eq!(
            be32(&seg, opts_at + 23),
            Some((u32::MAX - 5).wrapping_add(4000))
        );
        translate_be_to_client(&mut seg[opts_at..], &p2, opts_at, &tr, &mut check).unwrap();
        let mut after = seg;
        after[0] = 0;
        after[1] = 0;
        assert_eq!(check, full(&after));
        assert_eq!(
            parse(&seg[opts_at..]).unwrap().timestamp.map(|t| t.0),
            Some(tr.be_to_client_tsval(123))
        );
    }
}
