// SPDX-License-Identifier: GPL-2.0

//! A small xorshift64* generator for the property-style tests, so that
//! they need no dependencies and replay the same cases on every run.

/// The generator; the seed must not be zero.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// 32 random bits.
    pub(crate) fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
}
