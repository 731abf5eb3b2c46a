// SPDX-License-Identifier: GPL-2.0

//! The earliest deadline of a set of timers, kept so that a periodic check
//! costs nothing until one of them can have expired.
//!
//! The front-end's worker must notice a handoff whose answer is late, yet
//! runs on every event (a request head, a control message, the 100 ms
//! tick). Looking at every handoff in flight on each run would make every
//! run pay for them; [`Deadline`] answers "can anything be due?" in
//! constant time instead. It keeps a lower bound of the deadlines armed
//! since the last look: a timer that goes away early (the answer came)
//! leaves the bound where it was, which costs one look that finds nothing,
//! never a missed expiry. After a look the caller rearms it with the
//! deadlines still pending.
//!
//! A deadline is `start + limit`. The limit may change at run time (an
//! administrator lowers the handoff timeout): a bound computed with the
//! old limit could then be too late, so a change of the limit makes the
//! next check due at once.

/// A lower bound of the earliest pending deadline, with the limit it was
/// computed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// No deadline pending before this time (`u64::MAX`: none pending).
    earliest: u64,
    /// The limit the deadlines were computed with.
    limit: u64,
}

impl Default for Deadline {
    fn default() -> Self {
        Self::new()
    }
}

impl Deadline {
    /// Nothing armed.
    pub const fn new() -> Self {
        Deadline {
            earliest: u64::MAX,
            limit: 0,
        }
    }

    /// The deadline of a timer started at `start` that runs for `limit`
    /// (saturating: a timer whose end cannot be expressed never expires).
    pub fn of(start: u64, limit: u64) -> u64 {
        start.saturating_add(limit)
    }

    /// Whether some deadline can have passed at `now`, or the limit is no
    /// longer the one the deadlines were computed with.
    pub fn due(&self, now: u64, limit: u64) -> bool {
        now >= self.earliest || limit != self.limit
    }

    /// Arms a timer that ends at `at` (keeps the earlier of the two).
    pub fn arm(&mut self, at: u64) {
        self.earliest = self.earliest.min(at);
    }

    /// Starts over after a look at every pending timer: nothing is armed,
    /// and deadlines are computed with `limit` from now on. The caller arms
    /// again each timer still pending.
    pub fn rearm(&mut self, limit: u64) {
        self.earliest = u64::MAX;
        self.limit = limit;
    }

    /// The earliest deadline armed, if any.
    pub fn earliest(&self) -> Option<u64> {
        (self.earliest != u64::MAX).then_some(self.earliest)
    }
}

/// Whether a timer started at `start` that runs for `limit` has ended at
/// `now` (the tables' own test: a start in the future has not ended).
pub fn expired(start: u64, limit: u64, now: u64) -> bool {
    now.saturating_sub(start) >= limit
}

/// What a queue of timers that lost some (they could not be queued) asks
/// of its periodic check, see [`lost_walk`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostWalk {
    /// Nothing was lost: the queue is complete.
    No,
    /// A lost timer may still be running: walk the whole table, and keep
    /// the mark.
    Walk,
    /// Every lost timer has ended by now: walk once more (it ends them),
    /// then the mark can go.
    WalkAndClear,
}

/// The check of a timer queue whose mark `latest` is 0 (nothing lost) or
/// one more than the latest start of a timer that could not be queued.
///
/// The timers of one queue all run for the current `limit`, so the lost
/// ones have all ended once the latest of them has; until then the table
/// is walked at every check, as if there were no queue. The limit is read
/// at each check: a lowered one ends them sooner, a raised one later,
/// exactly as for the timers in the queue.
pub fn lost_walk(latest: u64, limit: u64, now: u64) -> LostWalk {
    match latest {
        0 => LostWalk::No,
        l if expired(l - 1, limit, now) => LostWalk::WalkAndClear,
        _ => LostWalk::Walk,
    }
}

/// How many of `buckets` a periodic check every `tick` must visit so that
/// a whole pass takes at most an eighth of `limit` (and at most `max_pass`,
/// at least one tick): a timer of `limit` then ends at most that late.
pub fn spread(buckets: usize, tick: u64, limit: u64, max_pass: u64) -> usize {
    let pass = (limit / 8).min(max_pass).max(tick).max(1);
    let ticks = (pass / tick.max(1)).max(1);
    let n = (buckets as u64).div_ceil(ticks);
    (n as usize).clamp(1, buckets.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_armed_is_never_due() {
        let mut d = Deadline::new();
        d.rearm(3000);
        assert!(!d.due(0, 3000));
        assert!(!d.due(u64::MAX - 1, 3000));
        assert_eq!(d.earliest(), None);
    }

    #[test]
    fn due_at_the_deadline_never_before() {
        let mut d = Deadline::new();
        d.rearm(3000);
        d.arm(Deadline::of(100, 3000));
        assert!(!d.due(3099, 3000));
        assert!(d.due(3100, 3000));
        assert!(d.due(9999, 3000));
    }

    #[test]
    fn keeps_the_earliest() {
        let mut d = Deadline::new();
        d.rearm(10);
        d.arm(50);
        d.arm(20);
        d.arm(70);
        assert_eq!(d.earliest(), Some(20));
        assert!(!d.due(19, 10));
        assert!(d.due(20, 10));
    }

    #[test]
    fn a_timer_gone_early_costs_one_look() {
        // The bound stays where it was; the look finds nothing pending and
        // rearms with what is left.
        let mut d = Deadline::new();
        d.rearm(10);
        d.arm(20);
        assert!(d.due(20, 10));
        d.rearm(10);
        assert!(!d.due(21, 10));
    }

    #[test]
    fn a_changed_limit_is_due_at_once() {
        let mut d = Deadline::new();
        d.rearm(3000);
        d.arm(Deadline::of(0, 3000));
        assert!(!d.due(10, 3000));
        // Lowered: the armed bound (3000) would be late for a 100 ms limit.
        assert!(d.due(10, 100));
        // Raised: a look is also due, and only rearms.
        assert!(d.due(10, 5000));
        d.rearm(5000);
        assert!(!d.due(10, 5000));
    }

    #[test]
    fn saturates() {
        assert_eq!(Deadline::of(u64::MAX - 1, 10), u64::MAX);
        let mut d = Deadline::new();
        d.rearm(10);
        d.arm(Deadline::of(u64::MAX - 1, 10));
        assert!(!d.due(u64::MAX - 1, 10));
    }
    #[test]
    fn expired_as_the_tables_test() {
        assert!(!expired(100, 50, 149));
        assert!(expired(100, 50, 150));
        // A start after `now` has not ended, unless nothing was to run.
        assert!(!expired(200, 50, 100));
        assert!(expired(200, 0, 100));
    }

    #[test]
    fn lost_timers_walk_until_the_latest_ends() {
        assert_eq!(lost_walk(0, 1000, 5000), LostWalk::No);
        // Lost a timer started at 100 (mark 101) of 1000 ms.
        assert_eq!(lost_walk(101, 1000, 500), LostWalk::Walk);
        assert_eq!(lost_walk(101, 1000, 1099), LostWalk::Walk);
        assert_eq!(lost_walk(101, 1000, 1100), LostWalk::WalkAndClear);
        // The limit lowered meanwhile: they end sooner.
        assert_eq!(lost_walk(101, 100, 200), LostWalk::WalkAndClear);
        // Raised: later.
        assert_eq!(lost_walk(101, 5000, 1100), LostWalk::Walk);
        // Started at 0 is still a mark.
        assert_eq!(lost_walk(1, 10, 5), LostWalk::Walk);
    }

    #[test]
    fn spread_bounds_the_pass() {
        // 960 s: a pass of at most 4 s (40 ticks of 100 ms).
        assert_eq!(spread(256, 100, 960_000, 4000), 7);
        // 3 s: a pass of 375 ms, 3 ticks.
        assert_eq!(spread(256, 100, 3000, 4000), 86);
        // Tiny limits visit everything each tick.
        assert_eq!(spread(256, 100, 0, 4000), 256);
        assert_eq!(spread(256, 100, 100, 4000), 256);
        assert_eq!(spread(256, 0, 0, 0), 256);
        assert_eq!(spread(0, 100, 1000, 4000), 1);
        for limit in [0, 1, 799, 800, 1600, 3000, 60_000, u64::MAX] {
            let n = spread(256, 100, limit, 4000);
            let ticks = 256usize.div_ceil(n) as u64;
            assert!(ticks * 100 <= (limit / 8).clamp(100, 4000), "{limit}");
        }
    }
}
