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
}
