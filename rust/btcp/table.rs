// SPDX-License-Identifier: GPL-2.0

//! The connection tables' shape: a fixed array of buckets, each a list
//! under its own BH-safe spinlock, indexed by a randomly seeded hash of the
//! 4-tuple (`handoff_core::packet::tuple_hash`).
//!
//! A bucket's list ([`Entries`]) is kept sorted by the 4-tuple, so a lookup
//! is a binary search: with tens of thousands of idle connections tracked
//! (a few hundred a bucket) a packet still reads a handful of entries, not
//! every one. The bucket count stays fixed because handoff ids name their
//! bucket (`front::new_id`) and every network namespace carries two tables.
//!
//! A packet takes exactly one bucket lock, so packets of different
//! connections on different CPUs do not contend, and a sender cannot aim
//! its tuples at one bucket without knowing the seed. No code path ever
//! holds two bucket locks, so one lockdep class serves them all. Walks over
//! the whole table (the worker's and the timer's housekeeping) take the
//! buckets one after the other.

use crate::{
    btcp::slab::{Cached, SlabBox},
    handoff_core::{
        deadline::{expired, lost_walk, LostWalk},
        packet::{tuple_hash, tuple_hash6},
    },
    netns::Addr,
    sync::{new_spinlock_bh, SpinLockBh, SpinLockBhBackend},
};
use core::ops::{Deref, DerefMut};
use kernel::{
    alloc::kvec::{InsertError, RemoveError},
    prelude::*,
    sync::{
        atomic::{Atomic, Full, Relaxed, Release},
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

    /// The bucket index of a 4-tuple (addresses and ports as sent). An
    /// IPv4 tuple hashes as it always did (three words); IPv6 takes
    /// `tuple_hash6`, which mixes every word of both addresses.
    pub(crate) fn index(&self, saddr: &Addr, daddr: &Addr, sport: u16, dport: u16) -> usize {
        let h = match (*saddr, *daddr) {
            (Addr::V4(s), Addr::V4(d)) => tuple_hash(self.seed, s, d, sport, dport),
            // A tuple's two ends are of one family; a mixed one (never
            // built) still hashes consistently.
            (s, d) => tuple_hash6(self.seed, s.to16(), d.to16(), sport, dport),
        };
        h as usize % BUCKETS
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

/// A table entry ordered by its key (the connection's 4-tuple).
pub(crate) trait Keyed {
    /// The key; entries of one bucket have distinct keys.
    type Key: Ord;

    /// This entry's key, which never changes once the entry is in a bucket.
    fn key(&self) -> &Self::Key;
}

/// One bucket's entries, each in the module's own slab cache.
///
/// Indexing, iteration and [`Self::remove`] see the entries as a slice;
/// insertion goes through [`Self::insert`] alone.
///
/// # Invariants
///
/// The entries are strictly ascending by [`Keyed::key`].
pub(crate) struct Entries<T: Cached + Keyed> {
    v: KVec<SlabBox<T>>,
}

impl<T: Cached + Keyed> Entries<T> {
    /// No entries.
    pub(crate) fn new() -> Self {
        // INVARIANT: an empty list is sorted.
        Entries { v: KVec::new() }
    }

    /// The index of the entry with `key`.
    pub(crate) fn find(&self, key: &T::Key) -> Option<usize> {
        // By the type invariant the list is sorted, as a binary search needs.
        self.v.binary_search_by(|c| c.key().cmp(key)).ok()
    }

    /// Inserts `conn` in key order. Gives it back if its key is present or
    /// the list cannot grow (an atomic allocation failed).
    pub(crate) fn insert(&mut self, conn: SlabBox<T>) -> Result<(), SlabBox<T>> {
        let at = match self.v.binary_search_by(|c| c.key().cmp(conn.key())) {
            Ok(_) => return Err(conn),
            Err(at) => at,
        };
        if self.v.reserve(1, GFP_ATOMIC).is_err() {
            return Err(conn);
        }
        // INVARIANT: every entry before `at` has a smaller key and every
        // entry from `at` a greater one, so the list stays strictly
        // ascending.
        self.v
            .insert_within_capacity(at, conn)
            .map_err(|e| match e {
                InsertError::IndexOutOfBounds(c) | InsertError::OutOfCapacity(c) => c,
            })
    }

    /// Removes the entry at `i`, keeping the others in order.
    pub(crate) fn remove(&mut self, i: usize) -> Result<SlabBox<T>, RemoveError> {
        // INVARIANT: `KVec::remove` shifts the later entries down, so the
        // order of the rest is unchanged.
        self.v.remove(i)
    }
}

impl<T: Cached + Keyed> Deref for Entries<T> {
    type Target = [SlabBox<T>];

    fn deref(&self) -> &[SlabBox<T>] {
        &self.v
    }
}

impl<T: Cached + Keyed> DerefMut for Entries<T> {
    /// Entries may be changed in place but never rekeyed (see [`Keyed`]).
    fn deref_mut(&mut self) -> &mut [SlabBox<T>] {
        &mut self.v
    }
}

/// Most keys a drained [`Queue`]'s storage keeps for reuse: after a burst
/// the memory goes back instead of staying with an idle namespace.
const QUEUE_KEEP: usize = 4096;

/// Keys of table entries the worker has to look at, pushed from any
/// context (the hooks, in softirq, under a bucket lock).
///
/// The worker used to find such entries by walking the whole table on
/// every run, which made each run cost as much as the table is large, idle
/// connections included. With the queue a run costs one bucket lookup per
/// entry that changed. A key that cannot be queued (an atomic allocation
/// failed) is not lost: the queue remembers it overflowed, and the worker
/// then walks the table once, as before.
///
/// A queued key may be stale by the time the worker looks: its entry gone,
/// or already handled. The worker checks the entry's state under its bucket
/// lock, so a stale or repeated key costs one lookup and nothing else.
///
/// Lock order: a bucket lock, then the queue's lock. Nothing takes a bucket
/// lock while holding the queue's.
///
/// # Invariants
///
/// Every key given to [`Self::push`] is in `keys` until [`Self::take`]
/// hands it out, or `overflow` is nonzero until [`Self::take_overflow`]
/// reports it: a key is never dropped unnoticed.
#[pin_data]
pub(crate) struct Queue<K> {
    #[pin]
    keys: SpinLockBh<KVec<K>>,
    /// Nonzero when a key could not be queued since the last
    /// [`Self::take_overflow`].
    overflow: Atomic<u32>,
}

impl<K> Queue<K> {
    /// An empty queue.
    pub(crate) fn new() -> impl PinInit<Self> {
        // INVARIANT: no key was pushed yet.
        pin_init!(Queue {
            keys <- new_spinlock_bh!(KVec::new(), c"tcp_handoff_queue"),
            overflow: Atomic::new(0),
        })
    }

    /// Queues `key` (any context). The caller kicks the worker.
    pub(crate) fn push(&self, key: K) {
        if self.keys.lock().push(key, GFP_ATOMIC).is_err() {
            // INVARIANT: the key is lost; the mark says so.
            self.overflowed();
        }
    }

    /// Records that a key could not be kept (here or in a list of the
    /// worker's own): the next [`Self::take_overflow`] says so.
    pub(crate) fn overflowed(&self) {
        self.overflow.store(1, Release);
    }

    /// Whether a key was lost since the last call (the caller then walks
    /// the whole table); clears the mark.
    pub(crate) fn take_overflow(&self) -> bool {
        self.overflow.xchg(0, Full) != 0
    }

    /// Moves the queued keys into `into` (whose old contents go); the queue
    /// keeps `into`'s storage, so a busy queue seldom allocates.
    pub(crate) fn take(&self, into: &mut KVec<K>) {
        if into.capacity() > QUEUE_KEEP {
            *into = KVec::new();
        }
        into.clear();
        core::mem::swap(&mut *self.keys.lock(), into);
    }
}

/// Items per block of a [`Fifo`]: a block is one small allocation (a few
/// KiB), which an atomic allocation gets even when memory is fragmented.
const FIFO_BLOCK: usize = 128;

/// A first-in first-out list of `T` in blocks of [`FIFO_BLOCK`] items.
///
/// Tens of thousands of items in one vector would need a contiguous
/// allocation of megabytes, from atomic context, copied at each growth;
/// blocks grow and shrink by one small allocation at a time.
///
/// # Invariants
///
/// `head` indexes the first unread item of `blocks[0]` (0 when there is
/// none); every block but the last is full ([`FIFO_BLOCK`] items).
struct Fifo<T> {
    blocks: KVec<KVec<T>>,
    head: usize,
}

impl<T: Copy> Fifo<T> {
    fn new() -> Self {
        // INVARIANT: no blocks.
        Fifo {
            blocks: KVec::new(),
            head: 0,
        }
    }

    /// Appends `v`; gives it back when no memory could be had (atomic).
    fn push(&mut self, v: T) -> Result<(), T> {
        if self.blocks.last().is_none_or(|b| b.len() == FIFO_BLOCK) {
            let Ok(b) = KVec::with_capacity(FIFO_BLOCK, GFP_ATOMIC) else {
                return Err(v);
            };
            // INVARIANT: the block before the new one, if any, is full.
            if self.blocks.push(b, GFP_ATOMIC).is_err() {
                return Err(v);
            }
        }
        match self.blocks.last_mut() {
            // INVARIANT: the last block may be partly filled.
            Some(b) => b.push_within_capacity(v).map_err(|e| e.0),
            None => Err(v),
        }
    }

    /// Items not yet read: full blocks, then the last one's.
    fn len(&self) -> usize {
        let n = self.blocks.len();
        let last = self.blocks.last().map_or(0, |b| b.len());
        (n.saturating_sub(1) * FIFO_BLOCK + last).saturating_sub(self.head)
    }

    /// The oldest item.
    fn front(&self) -> Option<&T> {
        self.blocks.first()?.get(self.head)
    }

    /// Removes and returns the oldest item.
    fn pop(&mut self) -> Option<T> {
        let first = self.blocks.first_mut()?;
        let v = *first.get(self.head)?;
        self.head += 1;
        if self.head == first.len() {
            if first.len() == FIFO_BLOCK {
                // Read to the end: the block goes (the next one, if any, is
                // read from its start).
                let _ = self.blocks.remove(0);
            } else {
                // The last block, partly filled: kept for the next pushes.
                first.clear();
            }
            // INVARIANT: the new first block, if any, is unread.
            self.head = 0;
        }
        Some(v)
    }
}

/// Largest batch [`DueQueue::pop_due`] hands out (on the caller's stack).
pub(crate) const DUE_BATCH: usize = 16;

/// Timers that all run for the same time (one namespace limit, such as the
/// linger time), each `(key, start)` of a table entry, pushed from any
/// context as entries enter the phase they time. The housekeeping tick
/// takes the ended ones from the head: it costs as many bucket lookups as
/// timers end, however large the table.
///
/// Why the start and not the end: the limit can change at run time, and
/// every timer is compared with the limit of the moment, as the table walk
/// this replaces did. Starts are pushed in the order they were read (each
/// under a bucket lock, with bottom halves off, so two CPUs can swap
/// neighbours by a few microseconds at most), so the queue is in order of
/// start, hence of end, whatever the limit: a lowered limit just makes a
/// longer head due at once, and no walk is needed when a limit changes.
///
/// The caller checks each key it gets under its bucket lock (the entry is
/// still in that phase, with that start): an entry that moved on or went
/// leaves a stale item, which costs a lookup.
///
/// A timer that cannot be queued (no memory) is not lost: `lost` keeps the
/// latest such start, and until that timer ends [`Self::walk_needed`] makes
/// each tick walk the whole table, as before the queue.
///
/// Lock order: a bucket lock, then the queue's lock.
///
/// # Invariants
///
/// Every `(key, start)` given to [`Self::push`] is in `items` until
/// [`Self::pop_due`] hands it out, or `lost` is above `start` until
/// [`Self::walk_needed`] has returned true at a time the timer had ended.
#[pin_data]
pub(crate) struct DueQueue<K> {
    #[pin]
    items: SpinLockBh<Fifo<(K, u64)>>,
    /// 0, or one more than the latest start of a timer not queued.
    lost: Atomic<u64>,
}

impl<K: Copy> DueQueue<K> {
    /// An empty queue.
    pub(crate) fn new() -> impl PinInit<Self> {
        // INVARIANT: nothing pushed yet.
        pin_init!(DueQueue {
            items <- new_spinlock_bh!(Fifo::new(), c"tcp_handoff_due"),
            lost: Atomic::new(0),
        })
    }

    /// Queues the timer of `key` started at `start` (any context; the
    /// caller holds the entry's bucket lock).
    pub(crate) fn push(&self, key: K, start: u64) {
        if self.items.lock().push((key, start)).is_err() {
            // INVARIANT: the timer is not queued; the mark covers it.
            self.lost(start);
        }
    }

    /// Timers queued and not yet handed out (stale ones included: an upper
    /// bound of the entries in the phase, short of any not queued).
    pub(crate) fn len(&self) -> usize {
        self.items.lock().len()
    }

    /// Records that a timer started at `start` is in no queue (here or in
    /// a list of the caller's own): the table is walked until it ends.
    pub(crate) fn lost(&self, start: u64) {
        let mark = start.saturating_add(1);
        let mut cur = self.lost.load(Relaxed);
        while cur < mark {
            match self.lost.cmpxchg(cur, mark, Full) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
    }

    /// Whether the caller must walk the whole table this time, because a
    /// timer could not be queued and may not have ended yet (or ended just
    /// now: this walk is the last).
    pub(crate) fn walk_needed(&self, now: u64, limit: u64) -> bool {
        let mark = self.lost.load(Relaxed);
        match lost_walk(mark, limit, now) {
            LostWalk::No => false,
            LostWalk::Walk => true,
            LostWalk::WalkAndClear => {
                // A timer lost since the load either raised the mark (the
                // exchange fails, the mark stays) or started no later than
                // `mark - 1` and has ended: the caller's walk finds it (its
                // phase was set, under its bucket lock, before the push).
                // INVARIANT: every lost timer ended; the walk follows.
                let _ = self.lost.cmpxchg(mark, 0, Full);
                true
            }
        }
    }

    /// Moves timers ended at `now` (started `limit` ago or more) from the
    /// head into `out`, as many as fit; returns how many. The caller calls
    /// again while it gets a full batch.
    pub(crate) fn pop_due(&self, now: u64, limit: u64, out: &mut [(K, u64); DUE_BATCH]) -> usize {
        let mut q = self.items.lock();
        let mut n = 0;
        while n < DUE_BATCH {
            match q.front() {
                Some(&(_, start)) if expired(start, limit, now) => {}
                _ => break,
            }
            let Some(item) = q.pop() else { break };
            // INVARIANT: handed out.
            out[n] = item;
            n += 1;
        }
        n
    }
}
