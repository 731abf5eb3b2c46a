// SPDX-License-Identifier: GPL-2.0

//! TCP sequence-number, timestamp, window and checksum arithmetic for a
//! handed-off connection.
//!
//! After a handoff, the client still believes it talks to the front-end: it
//! saw the front-end's initial sequence number (ISN), timestamp clock and
//! window scale in the SYN/ACK. The back-end's socket has its own ISN and
//! clock, so every segment crossing between the two views must be rewritten:
//! sequence numbers the back-end sends and the acknowledgements and SACK
//! edges that refer to them differ by a constant offset, as do timestamp
//! values and echoes, and the back-end's advertised window must be
//! expressed in the window scale the client agreed with the front-end.
//! The client's own sequence space is shared by both sockets and is never
//! rewritten.
//!
//! All comparisons use RFC 1982 serial-number arithmetic, like the kernel's
//! `before()`/`after()`: `a` is before `b` when `a - b`, taken as a signed
//! 32-bit value, is negative. Offsets are applied with wrapping arithmetic,
//! so translation is a bijection on `u32` and preserves that order.
//!
//! The checksum helpers implement RFC 1624 incremental updates. The kernel
//! module uses the kernel's own helpers on socket buffers; these are the
//! host-tested reference for the same arithmetic (and for packet-level
//! tests written outside the kernel).

/// Largest window-scale shift allowed by RFC 7323; larger values are
/// treated as this.
pub const MAX_WSCALE: u8 = 14;

/// Whether sequence number `a` comes before `b` (modulo 2^32).
pub fn seq_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Whether sequence number `a` comes after `b` (modulo 2^32).
pub fn seq_after(a: u32, b: u32) -> bool {
    seq_before(b, a)
}

/// Whether `lo <= seq <= hi` in sequence space, i.e. `seq` lies in the
/// (wrapping) window that starts at `lo` and ends at `hi`, both inclusive.
pub fn seq_between(seq: u32, lo: u32, hi: u32) -> bool {
    hi.wrapping_sub(lo) >= seq.wrapping_sub(lo)
}

/// Whether a client segment shows that the client received data its
/// front-end never sent, which only the back-end can have sent (design
/// §3, a HANDOFF_ACK that is late or lost).
///
/// `snd_nxt` is the front-end's first sequence number after its SYN/ACK:
/// the front-end sends no data while a handoff is in flight, and a back-end
/// that took the connection over sends its response from exactly there (in
/// the front-end's sequence space). So an acknowledgement beyond `snd_nxt`
/// means response bytes reached the client, and SACK blocks mean some did
/// while an earlier segment is missing. A duplicate ACK without SACK says
/// the same but cannot be told from other pure ACKs: it is not counted,
/// and the handoff is then resolved as if nothing arrived.
pub fn client_saw_response(ack: Option<u32>, has_sack: bool, snd_nxt: u32) -> bool {
    has_sack || ack.is_some_and(|a| seq_after(a, snd_nxt))
}

/// Offsets between the front-end's and the back-end's view of one
/// handed-off connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    /// Back-end ISN minus front-end ISN (wrapping).
    pub seq_delta: u32,
    /// Back-end initial timestamp value minus front-end initial timestamp
    /// value (wrapping).
    pub ts_delta: u32,
    /// Window scale the front-end announced to the client (clamped to
    /// [`MAX_WSCALE`]).
    pub fe_wscale: u8,
    /// Window scale the back-end's socket uses towards the client (clamped
    /// to [`MAX_WSCALE`]).
    pub be_wscale: u8,
}

impl Translation {
    /// Builds the translation from both sides' handshake parameters: the
    /// ISNs and first timestamp values of the front-end's SYN/ACK and of the
    /// back-end's equivalent, and both window scales.
    pub fn new(
        fe_isn: u32,
        be_isn: u32,
        fe_ts0: u32,
        be_ts0: u32,
        fe_wscale: u8,
        be_wscale: u8,
    ) -> Self {
        Translation {
            seq_delta: be_isn.wrapping_sub(fe_isn),
            ts_delta: be_ts0.wrapping_sub(fe_ts0),
            fe_wscale: fe_wscale.min(MAX_WSCALE),
            be_wscale: be_wscale.min(MAX_WSCALE),
        }
    }

    /// Sequence number of a back-end segment, as the client must see it.
    pub fn be_to_client_seq(&self, seq: u32) -> u32 {
        seq.wrapping_sub(self.seq_delta)
    }

    /// A sequence number of the front-end's space (as the client saw it) in
    /// the back-end's: the inverse of [`Self::be_to_client_seq`].
    pub fn fe_to_be_seq(&self, seq: u32) -> u32 {
        seq.wrapping_add(self.seq_delta)
    }

    /// Acknowledgement number of a client segment, as the back-end expects.
    pub fn client_to_be_ack(&self, ack: u32) -> u32 {
        ack.wrapping_add(self.seq_delta)
    }

    /// A SACK block edge sent by the client (it refers to back-end data),
    /// as the back-end expects.
    pub fn client_to_be_sack_edge(&self, edge: u32) -> u32 {
        edge.wrapping_add(self.seq_delta)
    }

    /// Timestamp value (TSval) of a back-end segment, as the client must
    /// see it.
    pub fn be_to_client_tsval(&self, tsval: u32) -> u32 {
        tsval.wrapping_sub(self.ts_delta)
    }

    /// Timestamp echo (TSecr) of a client segment, as the back-end expects.
    pub fn client_to_be_tsecr(&self, tsecr: u32) -> u32 {
        tsecr.wrapping_add(self.ts_delta)
    }

    /// Converts a 16-bit window field sent by the back-end (scaled by
    /// `be_wscale`) into the field the client expects (scaled by
    /// `fe_wscale`).
    ///
    /// The result saturates at `0xffff` and a non-zero window never becomes
    /// zero (it becomes 1), because a spurious zero window would stall the
    /// client in persist mode.
    pub fn rescale_window(&self, win16: u16) -> u16 {
        let be = self.be_wscale.min(MAX_WSCALE);
        let fe = self.fe_wscale.min(MAX_WSCALE);
        // At most 0xffff << 14, which fits in u32.
        let bytes = u32::from(win16) << be;
        let scaled = bytes >> fe;
        let field = u16::try_from(scaled).unwrap_or(u16::MAX);
        if field == 0 && win16 != 0 {
            1
        } else {
            field
        }
    }
}

/// Adds `data` to a one's-complement checksum accumulator, as big-endian
/// 16-bit words (an odd final byte is padded with zero). Fold the result
/// with [`csum_fold`].
pub fn csum_partial(data: &[u8], sum: u32) -> u32 {
    let mut acc = u64::from(sum);
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        if let [hi, lo] = *w {
            acc = acc.wrapping_add(u64::from(u16::from_be_bytes([hi, lo])));
        }
    }
    if let [last] = *words.remainder() {
        acc = acc.wrapping_add(u64::from(last) << 8);
    }
    fold64(acc)
}

/// Folds a 64-bit sum of 16-bit words into a 32-bit accumulator without
/// changing its one's-complement value.
fn fold64(mut acc: u64) -> u32 {
    while acc > 0xffff_ffff {
        acc = (acc & 0xffff_ffff).wrapping_add(acc >> 32);
    }
    u32::try_from(acc).unwrap_or(u32::MAX)
}

/// Folds a 32-bit accumulator to 16 bits with end-around carry, without
/// complementing.
fn fold32(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff).wrapping_add(sum >> 16);
    }
    u16::try_from(sum).unwrap_or(u16::MAX)
}

/// Folds an accumulator and complements it, giving the checksum field value
/// (like the kernel's `csum_fold()`).
pub fn csum_fold(sum: u32) -> u16 {
    !fold32(sum)
}

/// Updates checksum field `check` after a 16-bit word changed from `old` to
/// `new` (RFC 1624 equation 3: `HC' = ~(~HC + ~m + m')`).
pub fn csum_replace2(check: u16, old: u16, new: u16) -> u16 {
    let sum = u32::from(!check)
        .wrapping_add(u32::from(!old))
        .wrapping_add(u32::from(new));
    csum_fold(sum)
}

/// Updates checksum field `check` after a 32-bit field (two adjacent
/// 16-bit words, as a big-endian value) changed from `old` to `new`.
pub fn csum_replace4(check: u16, old: u32, new: u32) -> u16 {
    let [o0, o1, o2, o3] = old.to_be_bytes();
    let [n0, n1, n2, n3] = new.to_be_bytes();
    let sum = u32::from(!check)
        .wrapping_add(u32::from(!u16::from_be_bytes([o0, o1])))
        .wrapping_add(u32::from(!u16::from_be_bytes([o2, o3])))
        .wrapping_add(u32::from(u16::from_be_bytes([n0, n1])))
        .wrapping_add(u32::from(u16::from_be_bytes([n2, n3])));
    csum_fold(sum)
}

/// Updates checksum field `check` after a 16-byte field (an IPv6 address,
/// at an even offset of the checksummed data) changed from `old` to `new`:
/// [`csum_replace4`] over its eight 16-bit words at once.
pub fn csum_replace16(check: u16, old: [u8; 16], new: [u8; 16]) -> u16 {
    let mut sum = u32::from(!check);
    // Indices rather than `chunks_exact().zip()`: the kernel's objtool
    // rejects the iterator adapter's code in the module ("falls through to
    // next function"), and these bounds are known at compile time.
    for k in 0..8 {
        // At most 17 terms below 2^16 each: no overflow.
        sum = sum
            .wrapping_add(u32::from(!u16::from_be_bytes([old[2 * k], old[2 * k + 1]])))
            .wrapping_add(u32::from(u16::from_be_bytes([new[2 * k], new[2 * k + 1]])));
    }
    csum_fold(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::test_rng::Rng;

    /// A value biased towards the edges of the sequence space.
    fn seq(r: &mut Rng) -> u32 {
        let small = (r.next() % 1024) as u32;
        match r.next() % 4 {
            0 => small,
            1 => 0u32.wrapping_sub(small),
            2 => 0x8000_0000u32.wrapping_add(small).wrapping_sub(512),
            _ => r.u32(),
        }
    }

    #[test]
    fn response_evidence() {
        let nxt = 0xffff_fff0;
        assert!(!client_saw_response(None, false, nxt));
        assert!(!client_saw_response(Some(nxt), false, nxt));
        // An ACK of the SYN/ACK only, from before the handshake: not data.
        assert!(!client_saw_response(Some(nxt.wrapping_sub(1)), false, nxt));
        assert!(client_saw_response(Some(nxt.wrapping_add(1)), false, nxt));
        // Across the wrap.
        assert!(client_saw_response(Some(0x10), false, nxt));
        // SACK blocks: a later segment arrived while the first is missing.
        assert!(client_saw_response(Some(nxt), true, nxt));
        assert!(client_saw_response(None, true, nxt));
    }

    #[test]
    fn serial_comparisons() {
        assert!(seq_before(1, 2));
        assert!(!seq_before(2, 2));
        assert!(seq_before(0xffff_fff0, 5));
        assert!(seq_after(5, 0xffff_fff0));
        assert!(!seq_after(7, 7));
        assert!(seq_between(5, 5, 5));
        assert!(seq_between(0, 0xffff_fff0, 10));
        assert!(seq_between(0xffff_ffff, 0xffff_fff0, 10));
        assert!(!seq_between(11, 0xffff_fff0, 10));
        assert!(!seq_between(0xffff_ffef, 0xffff_fff0, 10));
        let mut rng = Rng(7);
        for _ in 0..10_000 {
            let (a, b) = (seq(&mut rng), seq(&mut rng));
            assert_eq!(seq_after(a, b), seq_before(b, a));
            if a != b && a.wrapping_sub(b) != 0x8000_0000 {
                assert!(seq_before(a, b) ^ seq_after(a, b));
            }
            // seq_between agrees with before/after inside a window < 2^31.
            let lo = a;
            let hi = lo.wrapping_add(rng.u32() >> 2);
            let s = b;
            let expect = !seq_before(s, lo) && !seq_after(s, hi);
            if s.wrapping_sub(lo) < 0x8000_0000 || s.wrapping_sub(hi) >= 0x8000_0000 {
                assert_eq!(seq_between(s, lo, hi), expect, "{s} {lo} {hi}");
            }
        }
    }

    #[test]
    fn translation_round_trips() {
        let mut rng = Rng(0xdead_beef);
        for _ in 0..10_000 {
            let t = Translation::new(
                seq(&mut rng),
                seq(&mut rng),
                seq(&mut rng),
                seq(&mut rng),
                7,
                9,
            );
            let x = seq(&mut rng);
            assert_eq!(t.be_to_client_seq(t.client_to_be_ack(x)), x);
            assert_eq!(t.client_to_be_ack(t.be_to_client_seq(x)), x);
            assert_eq!(t.be_to_client_seq(t.client_to_be_sack_edge(x)), x);
            assert_eq!(t.be_to_client_tsval(t.client_to_be_tsecr(x)), x);
            assert_eq!(t.client_to_be_tsecr(t.be_to_client_tsval(x)), x);
            // Order is preserved for values within 2^31 of each other.
            let y = x.wrapping_add((rng.u32() >> 1).max(1) & 0x7fff_ffff);
            if x != y {
                assert!(seq_before(x, y));
                assert!(seq_before(t.be_to_client_seq(x), t.be_to_client_seq(y)));
                assert!(seq_before(t.client_to_be_ack(x), t.client_to_be_ack(y)));
                assert!(seq_before(t.be_to_client_tsval(x), t.be_to_client_tsval(y)));
            }
        }
    }

    #[test]
    fn translation_new() {
        let t = Translation::new(0xffff_fff0, 0x10, 100, 50, 20, 3);
        assert_eq!(t.seq_delta, 0x20);
        assert_eq!(t.ts_delta, 0u32.wrapping_sub(50));
        assert_eq!(t.fe_wscale, 14);
        assert_eq!(t.be_wscale, 3);
        // The back-end's ISN maps to the front-end's ISN.
        assert_eq!(t.be_to_client_seq(0x10), 0xffff_fff0);
        assert_eq!(t.client_to_be_ack(0xffff_fff1), 0x11);
        assert_eq!(t.be_to_client_tsval(50), 100);
    }

    #[test]
    fn window_rescaling() {
        let t = Translation::new(0, 0, 0, 0, 7, 7);
        assert_eq!(t.rescale_window(1234), 1234);
        let t = Translation::new(0, 0, 0, 0, 2, 0);
        assert_eq!(t.rescale_window(1000), 250);
        assert_eq!(t.rescale_window(3), 1);
        assert_eq!(t.rescale_window(0), 0);
        let t = Translation::new(0, 0, 0, 0, 0, 4);
        assert_eq!(t.rescale_window(0x1000), 0xffff);
        assert_eq!(t.rescale_window(0x0fff), 0xfff0);
        // Scales above 14 act as 14, also when set directly.
        let t = Translation {
            fe_wscale: 200,
            be_wscale: 255,
            ..Translation::new(0, 0, 0, 0, 0, 0)
        };
        assert_eq!(t.rescale_window(77), 77);

        let mut rng = Rng(99);
        for _ in 0..2_000 {
            let t = Translation::new(0, 0, 0, 0, (rng.next() % 16) as u8, (rng.next() % 16) as u8);
            let a = rng.u32() as u16;
            let b = rng.u32() as u16;
            let (lo, hi) = (a.min(b), a.max(b));
            let (wl, wh) = (t.rescale_window(lo), t.rescale_window(hi));
            assert!(wl <= wh, "monotonic");
            assert_eq!(wl == 0, lo == 0, "zero iff zero");
            let bytes = u64::from(hi) << t.be_wscale;
            let back = u64::from(wh) << t.fe_wscale;
            if wh < 0xffff && wh > 1 {
                // Never advertises more than the back-end offered and loses
                // less than one unit of the client's scale.
                assert!(back <= bytes && bytes - back < (1u64 << t.fe_wscale));
            }
            if wh == 0xffff {
                assert!(bytes >= 0xffff_u64 << t.fe_wscale);
            }
        }
    }

    /// Checksum field over `data` computed from scratch.
    fn full(data: &[u8]) -> u16 {
        csum_fold(csum_partial(data, 0))
    }

    /// Equal as one's-complement values (0x0000 and 0xffff both mean zero).
    fn same(a: u16, b: u16) -> bool {
        a == b || (a | b == 0xffff && a & b == 0)
    }

    #[test]
    fn checksum_reference() {
        // RFC 1071 example words.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold32(csum_partial(&data, 0)), 0xddf2);
        assert_eq!(full(&data), !0xddf2);
        assert_eq!(full(&[0xab]), !0xab00);
        assert_eq!(csum_partial(&[], 5), 5);
    }

    #[test]
    fn incremental_matches_full() {
        let mut rng = Rng(0x1234_5678);
        let mut buf = [0u8; 64];
        for i in 0..5_000 {
            let len = 8 + 2 * (rng.next() % 28) as usize;
            for b in &mut buf[..len] {
                *b = rng.next() as u8;
            }
            if i % 50 == 0 {
                buf[..len].fill(0);
            }
            let check = full(&buf[..len]);
            let off = 2 * (rng.next() as usize % (len / 2 - 1));
            if rng.next() & 1 == 0 {
                let old = u16::from_be_bytes([buf[off], buf[off + 1]]);
                let new = if i % 7 == 0 { 0 } else { rng.u32() as u16 };
                buf[off..off + 2].copy_from_slice(&new.to_be_bytes());
                let inc = csum_replace2(check, old, new);
                assert!(same(inc, full(&buf[..len])), "{inc:#x}");
            } else {
                let old = u32::from_be_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]);
                let new = if i % 7 == 0 { 0 } else { rng.u32() };
                buf[off..off + 4].copy_from_slice(&new.to_be_bytes());
                let inc = csum_replace4(check, old, new);
                assert!(same(inc, full(&buf[..len])), "{inc:#x}");
            }
            // A buffer including its correct checksum sums to zero.
            let c = full(&buf[..len]);
            buf[len..len + 2].copy_from_slice(&c.to_be_bytes());
            assert!(same(full(&buf[..len + 2]), 0));
        }
    }

    #[test]
    fn replace16_matches_full() {
        let mut rng = Rng(0x6666_1624);
        let mut buf = [0u8; 72];
        for i in 0..5_000 {
            for b in &mut buf {
                *b = rng.next() as u8;
            }
            if i % 50 == 0 {
                buf.fill(0);
            }
            let check = full(&buf);
            let off = 2 * rng.below(29);
            let old: [u8; 16] = buf[off..off + 16].try_into().unwrap();
            let mut new = [0u8; 16];
            if i % 7 != 0 {
                for b in &mut new {
                    *b = rng.next() as u8;
                }
            }
            if i % 11 == 0 {
                new = old;
            }
            buf[off..off + 16].copy_from_slice(&new);
            let inc = csum_replace16(check, old, new);
            assert!(same(inc, full(&buf)), "{inc:#x}");
            // The same as four 4-byte replacements.
            let mut c4 = check;
            for w in 0..4 {
                let word =
                    |a: &[u8; 16]| u32::from_be_bytes(a[w * 4..w * 4 + 4].try_into().unwrap());
                c4 = csum_replace4(c4, word(&old), word(&new));
            }
            assert!(same(inc, c4));
        }
    }
}
