// SPDX-License-Identifier: GPL-2.0

//! The connection tables' shape: a fixed array of buckets, each a short
//! list under its own BH-safe spinlock, indexed by a randomly seeded hash
//! of the 4-tuple (`handoff_core::packet::tuple_hash`).
//!
//! A packet takes exactly one bucket lock, so packets of different
//! connections on different CPUs do not contend, and a sender cannot aim
//! its tuples at one bucket without knowing the seed. No code path ever
//! holds two bucket locks, so one lockdep class serves them all. Walks over
//! the whole table (the worker's and the timer's housekeeping) take the
//! buckets one after the other.

use crate::{
    handoff_core::packet::tuple_hash,
    sync::{new_spinlock_bh, SpinLockBh, SpinLockBhBackend},
};
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        lock::Guard,
    },
};

/// Buckets per table (a power of two).
pub(crate) const BUCKETS: usize = 256;

/// A connection table of `B` (one bucket's contents).
#[pin_data]
pub(crate) struct Table<B> {
    #[pin]
    buckets: [SpinLockBh<B>; BUCKETS],
    seed: u32,
    len: Atomic<u32>,
}

/// A locked bucket.
pub(crate) type Bucket<'a, B> = Guard<'a, B, SpinLockBhBackend>;

impl<B: Unpin> Table<B> {
    /// A table whose buckets start as `empty()`.
    pub(crate) fn new(empty: impl Fn() -> B) -> impl PinInit<Self> {
        pin_init!(Table {
            buckets <- pin_init::pin_init_array_from_fn(|_| {
                new_spinlock_bh!(empty(), c"tcp_handoff_bucket")
            }),
            // SAFETY: no preconditions.
            seed: unsafe { kernel::bindings::get_random_u32() },
            len: Atomic::new(0),
        })
    }

    /// The bucket index of a 4-tuple (addresses and ports as sent).
    pub(crate) fn index(&self, saddr: [u8; 4], daddr: [u8; 4], sport: u16, dport: u16) -> usize {
        tuple_hash(self.seed, saddr, daddr, sport, dport) as usize % BUCKETS
    }

    /// Locks bucket `i` (taken modulo the bucket count).
    pub(crate) fn lock(&self, i: usize) -> Bucket<'_, B> {
        self.buckets[i % BUCKETS].lock()
    }

    /// Runs `f` on each bucket in turn, with its index, until it returns
    /// `Some`.
    pub(crate) fn find_map<R>(&self, mut f: impl FnMut(usize, &mut B) -> Option<R>) -> Option<R> {
        for (i, b) in self.buckets.iter().enumerate() {
            let mut g = b.lock();
            if let Some(r) = f(i, &mut g) {
                return Some(r);
            }
        }
        None
    }

    /// Runs `f` on every bucket in turn.
    pub(crate) fn for_each(&self, mut f: impl FnMut(usize, &mut B)) {
        self.find_map(|i, b| {
            f(i, b);
            None::<()>
        });
    }

    /// Entries in the table (maintained by [`Self::added`] and
    /// [`Self::removed`]).
    pub(crate) fn len(&self) -> usize {
        self.len.load(Relaxed) as usize
    }

    /// Records `n` entries inserted.
    pub(crate) fn added(&self, n: usize) {
        self.len.add(n as u32, Relaxed);
    }

    /// Records `n` entries removed.
    pub(crate) fn removed(&self, n: usize) {
        self.len.fetch_sub(n as u32, Relaxed);
    }
}
