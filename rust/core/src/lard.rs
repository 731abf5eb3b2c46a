// SPDX-License-Identifier: GPL-2.0

//! Locality-aware request distribution with replication (LARD/R).
//!
//! The policy of Pai et al., "Locality-Aware Request Distribution in
//! Cluster-based Network Servers" (ASPLOS 1998): each target (a URL) is
//! served by a small set of nodes, so that its content stays in their
//! caches, and the set changes only when load makes it worth a cold cache.
//! For each request of a target:
//!
//! 1. A target without a set gets the least loaded node.
//! 2. Otherwise the least loaded node `n` of its set serves, unless `n` is
//!    overloaded: its load is above `high` while some node is below `low`,
//!    or it is at least `2 * high`. Then the least loaded node outside the
//!    set joins it and serves (replication).
//! 3. A set of more than one node that has not changed for `shrink_ms`
//!    loses its most loaded node, so that replicas of a target whose
//!    popularity fell are given back.
//!
//! The load of a node is its number of active connections ([`NodeLoad::load`],
//! which the module builds from the nodes' own load reports and its own
//! forwarding counts). Ties between equally loaded nodes are broken by the
//! rendezvous hash of the target, so that on an idle cluster targets spread
//! over the nodes rather than all landing on the first one.
//!
//! The sets live in a direct-mapped table the caller owns (a slice of
//! [`ServerSet`] indexed by the target's hash): the memory is fixed, and a
//! target whose slot another target took simply starts over with a new set
//! ([`Change::Evicted`]), which costs locality, never correctness.

use super::rules::{hrw_weight, NodeLoad};

/// Most nodes one target's set holds.
pub const MAX_SET: usize = 4;

/// The thresholds of LARD/R, in connections, and the shrink period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// `T_low`: a node below it counts as idle.
    pub low: u32,
    /// `T_high`: a node above it is overloaded while another is idle; a
    /// node at `2 * high` is overloaded whatever the others do.
    pub high: u32,
    /// `K`: how long a set of several nodes must stay unchanged before it
    /// gives back its most loaded node, in milliseconds.
    pub shrink_ms: u64,
}

impl Params {
    /// The values of the paper: `T_low` 25, `T_high` 65, `K` 20 s.
    pub const DEFAULT: Params = Params {
        low: 25,
        high: 65,
        shrink_ms: 20_000,
    };

    /// Whether the thresholds make sense: `0 < low < high`.
    pub fn valid(&self) -> bool {
        0 < self.low && self.low < self.high
    }
}

/// What a pick did to the target's set (the module counts each kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing: the set's least loaded node serves.
    None,
    /// The target had no set: it got one node.
    Assigned,
    /// The slot held another target's set, which was dropped for a new set
    /// of this target.
    Evicted,
    /// An overloaded set gained a node (a full set first lost its most
    /// loaded one).
    Replicated,
    /// A set unchanged for `shrink_ms` gave back its most loaded node.
    Shrunk,
}

/// The nodes serving one target: an entry of the caller's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSet {
    /// The target's hash ([`super::rules::url_hash`]).
    url: u32,
    nodes: [u32; MAX_SET],
    /// Nodes in use in `nodes`; 0 for a free slot.
    len: u8,
    /// When the set last changed (caller's clock, milliseconds).
    last_mod: u64,
}

impl Default for ServerSet {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl ServerSet {
    /// A free slot.
    pub const EMPTY: ServerSet = ServerSet {
        url: 0,
        nodes: [0; MAX_SET],
        len: 0,
        last_mod: 0,
    };

    /// The target this set serves, if the slot is in use.
    pub fn url(&self) -> Option<u32> {
        (self.len > 0).then_some(self.url)
    }

    /// The nodes of the set, in the order they joined it.
    pub fn nodes(&self) -> &[u32] {
        self.nodes.get(..usize::from(self.len)).unwrap_or_default()
    }

    fn contains(&self, node: u32) -> bool {
        self.nodes().contains(&node)
    }

    fn push(&mut self, node: u32) {
        if let Some(slot) = self.nodes.get_mut(usize::from(self.len)) {
            *slot = node;
            self.len += 1;
        }
    }

    fn remove(&mut self, node: u32) {
        let len = usize::from(self.len);
        if let Some(i) = self.nodes().iter().position(|&n| n == node) {
            self.nodes.copy_within(i + 1..len, i);
            self.len -= 1;
        }
    }

    /// Keeps only the nodes for which `keep` holds; whether any went.
    fn retain(&mut self, mut keep: impl FnMut(u32) -> bool) -> bool {
        let before = self.len;
        let mut i = 0;
        while let Some(&node) = self.nodes().get(i) {
            if keep(node) {
                i += 1;
            } else {
                self.remove(node);
            }
        }
        self.len != before
    }
}

/// The slot of `url` in a table of `slots` entries.
pub fn slot_of(url: u32, slots: usize) -> Option<usize> {
    let i = usize::try_from(url).ok()?;
    i.checked_rem(slots)
}

/// The node among `nodes` that `better` prefers, or `None` if `nodes` is
/// empty. `better(a, b)` is whether `a` beats `b`.
fn best(nodes: impl Iterator<Item = u32>, better: impl Fn(u32, u32) -> bool) -> Option<u32> {
    nodes.fold(None, |acc, n| match acc {
        Some(b) if !better(n, b) => Some(b),
        _ => Some(n),
    })
}

/// Chooses the node for a request of target `url` among the rule's
/// `targets`, updating the target's set in `slots` (the caller's
/// direct-mapped table).
///
/// Targets that `loads` reports down are never chosen, and leave every set
/// they were in; so do nodes no longer among `targets` (the rule changed).
/// `None`: no target is up, or `slots` is empty. `now` is in milliseconds
/// and only compared with itself.
pub fn pick(
    slots: &mut [ServerSet],
    url: u32,
    targets: &[u32],
    loads: &impl NodeLoad,
    p: &Params,
    now: u64,
) -> Option<(u32, Change)> {
    let up = || targets.iter().copied().filter(|&n| loads.is_up(n));
    // Least loaded first; among equals, the target's rendezvous favourite.
    let lighter = |a: u32, b: u32| {
        let (la, lb) = (loads.load(a), loads.load(b));
        la < lb || (la == lb && hrw_weight(url, a) > hrw_weight(url, b))
    };
    let least = best(up(), lighter)?;
    let set = slots.get_mut(slot_of(url, slots.len())?)?;

    let mut change = Change::None;
    if set.url() != Some(url) {
        if set.url().is_some() {
            change = Change::Evicted;
        }
        *set = ServerSet::EMPTY;
        set.url = url;
    }
    if set.retain(|n| targets.contains(&n) && loads.is_up(n)) && set.len == 0 {
        // Every node of the set went: start over as a new target.
        set.url = url;
    }
    if set.len == 0 {
        set.push(least);
        set.last_mod = now;
        if change == Change::None {
            change = Change::Assigned;
        }
        return Some((least, change));
    }

    let mut n = best(set.nodes().iter().copied(), lighter)?;
    let heaviest = best(set.nodes().iter().copied(), |a, b| !lighter(a, b) && a != b)?;
    let load = loads.load(n);
    let idle_exists = up().any(|node| loads.load(node) < p.low);
    let overloaded = (load > p.high && idle_exists) || load >= p.high.saturating_mul(2);
    if overloaded {
        if let Some(extra) = best(up().filter(|&node| !set.contains(node)), lighter) {
            if usize::from(set.len) == MAX_SET {
                set.remove(heaviest);
            }
            set.push(extra);
            set.last_mod = now;
            n = extra;
            change = Change::Replicated;
        }
    }
    if change == Change::None
        && set.len > 1
        && now.saturating_sub(set.last_mod) > p.shrink_ms
        && heaviest != n
    {
        set.remove(heaviest);
        set.last_mod = now;
        change = Change::Shrunk;
    }
    Some((n, change))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Nodes 1..=8 with settable loads and a down bitmap.
    struct Cluster {
        load: [u32; 9],
        down: u16,
    }

    impl Cluster {
        fn new() -> Self {
            Cluster {
                load: [0; 9],
                down: 0,
            }
        }
    }

    impl NodeLoad for Cluster {
        fn is_up(&self, node: u32) -> bool {
            node < 9 && self.down & (1 << node) == 0
        }
        fn active_conns(&self, node: u32) -> u32 {
            self.load.get(node as usize).copied().unwrap_or(u32::MAX)
        }
    }

    const P: Params = Params::DEFAULT;
    const T: &[u32] = &[2, 3, 4];

    fn one(slots: &mut [ServerSet], url: u32, c: &Cluster, now: u64) -> (u32, Change) {
        pick(slots, url, T, c, &P, now).unwrap()
    }

    #[test]
    fn a_target_keeps_its_node_while_it_is_not_overloaded() {
        let mut slots = [ServerSet::EMPTY; 16];
        let mut c = Cluster::new();
        let (first, ch) = one(&mut slots, 7, &c, 0);
        assert_eq!(ch, Change::Assigned);
        for load in 0..=P.high {
            c.load[first as usize] = load;
            assert_eq!(one(&mut slots, 7, &c, 1), (first, Change::None));
        }
    }

    #[test]
    fn idle_cluster_spreads_targets_by_hash() {
        let mut slots = [ServerSet::EMPTY; 256];
        let c = Cluster::new();
        let mut per_node = [0u32; 9];
        for url in 0..256u32 {
            let url = url.wrapping_mul(0x9e37_79b9) | 1;
            let (n, _) = pick(&mut slots, url, T, &c, &P, 0).unwrap();
            per_node[n as usize] += 1;
        }
        for &n in T {
            assert!(per_node[n as usize] > 40, "{per_node:?}");
        }
    }

    #[test]
    fn new_target_goes_to_the_least_loaded_node() {
        let mut slots = [ServerSet::EMPTY; 16];
        let mut c = Cluster::new();
        c.load = [0, 0, 30, 5, 40, 0, 0, 0, 0];
        assert_eq!(one(&mut slots, 3, &c, 0), (3, Change::Assigned));
    }

    #[test]
    fn overload_with_an_idle_node_replicates() {
        let mut slots = [ServerSet::EMPTY; 16];
        let mut c = Cluster::new();
        c.load = [0, 0, 0, 50, 50, 0, 0, 0, 0];
        assert_eq!(one(&mut slots, 1, &c, 0).0, 2);
        // Above high, but nobody is idle: stay.
        c.load = [0, 0, 70, 50, 50, 0, 0, 0, 0];
        assert_eq!(one(&mut slots, 1, &c, 1), (2, Change::None));
        // Above high and node 4 is below low: node 4 joins and serves.
        c.load[4] = 10;
        assert_eq!(one(&mut slots, 1, &c, 2), (4, Change::Replicated));
        assert_eq!(slots[1].nodes(), &[2, 4]);
        // The least loaded of the set serves from now on.
        c.load[4] = 20;
        assert_eq!(one(&mut slots, 1, &c, 3), (4, Change::None));
    }

    #[test]
    fn twice_high_replicates_even_without_an_idle_node() {
        let mut slots = [ServerSet::EMPTY; 16];
        let mut c = Cluster::new();
        c.load = [0, 0, 0, 100, 100, 0, 0, 0, 0];
        assert_eq!(one(&mut slots, 1, &c, 0).0, 2);
        c.load[2] = 2 * P.high - 1;
        assert_eq!(one(&mut slots, 1, &c, 1), (2, Change::None));
        c.load[2] = 2 * P.high;
        assert_eq!(one(&mut slots, 1, &c, 2), (3, Change::Replicated));
    }

    #[test]
    fn a_quiet_set_shrinks_back_after_k() {
        let mut slots = [ServerSet::EMPTY; 16];
        let mut c = Cluster::new();
        c.load = [0, 0, 0, 50, 50, 0, 0, 0, 0];
        one(&mut slots, 1, &c, 0);
        c.load = [0, 0, 200, 50, 50, 0, 0, 0, 0];
        assert_eq!(one(&mut slots, 1, &c, 10), (3, Change::Replicated));
        c.load = [0, 0, 30, 20, 50, 0, 0, 0, 0];
        assert_eq!(one(&mut slots, 1, &c, 10 + P.shrink_ms), (3, Change::None));
        assert_eq!(
            one(&mut slots, 1, &c, 11 + P.shrink_ms),
            (3, Change::Shrunk)
        );
        assert_eq!(slots[1].nodes(), &[3]);
        // One node left: nothing more to give back.
        assert_eq!(
            one(&mut slots, 1, &c, 100 + 3 * P.shrink_ms),
            (3, Change::None)
        );
    }

    #[test]
    fn full_set_replaces_its_heaviest_node() {
        let targets: Vec<u32> = (1..=8).collect();
        let mut slots = [ServerSet::EMPTY; 4];
        let mut c = Cluster::new();
        c.load = [0, 500, 500, 500, 500, 500, 500, 500, 0];
        let step = |slots: &mut [ServerSet], c: &Cluster, now: u64| {
            pick(slots, 2, &targets, c, &P, now).unwrap()
        };
        assert_eq!(step(&mut slots, &c, 0), (8, Change::Assigned));
        for node in [7u32, 6, 5, 4] {
            // The set's nodes are all at 2 * high; `node` is the lightest.
            for i in 1..=8 {
                c.load[i] = 500;
            }
            c.load[node as usize] = 100;
            for &m in slots[2].nodes() {
                c.load[m as usize] = 200 + m;
            }
            assert_eq!(
                step(&mut slots, &c, u64::from(node)),
                (node, Change::Replicated)
            );
        }
        assert_eq!(slots[2].len as usize, MAX_SET);
        // 8 was the heaviest when 4 joined (208 against 207, 206, 205).
        assert_eq!(slots[2].nodes(), &[7, 6, 5, 4]);
    }

    #[test]
    fn down_and_removed_nodes_leave_the_set() {
        let mut slots = [ServerSet::EMPTY; 16];
        let mut c = Cluster::new();
        c.load = [0, 0, 0, 50, 50, 0, 0, 0, 0];
        assert_eq!(one(&mut slots, 5, &c, 0).0, 2);
        c.down = 1 << 2;
        c.load[4] = 10;
        assert_eq!(one(&mut slots, 5, &c, 1), (4, Change::Assigned));
        assert_eq!(slots[5].nodes(), &[4]);
        // Node 4 is no longer a target of the rule.
        let (n, ch) = pick(&mut slots, 5, &[3], &c, &P, 2).unwrap();
        assert_eq!((n, ch), (3, Change::Assigned));
        // No target up at all.
        c.down = 0b1_1111_1110;
        assert_eq!(pick(&mut slots, 5, T, &c, &P, 3), None);
    }

    #[test]
    fn another_target_in_the_slot_is_evicted() {
        let mut slots = [ServerSet::EMPTY; 4];
        let c = Cluster::new();
        assert_eq!(one(&mut slots, 1, &c, 0).1, Change::Assigned);
        assert_eq!(one(&mut slots, 5, &c, 0).1, Change::Evicted);
        assert_eq!(slots[1].url(), Some(5));
        assert_eq!(pick(&mut [], 1, T, &c, &P, 0), None);
    }

    #[test]
    fn any_loads_keep_the_invariants() {
        // Random loads, targets going up and down, clock jumps: the chosen
        // node is always an up target, and every set holds distinct up
        // targets, never more than MAX_SET.
        let mut rng = super::super::test_rng::Rng(0x1a2d);
        let targets: Vec<u32> = (1..=8).collect();
        let mut slots = [ServerSet::EMPTY; 8];
        let mut c = Cluster::new();
        let mut now = 0u64;
        for _ in 0..20_000 {
            for l in c.load.iter_mut() {
                *l = rng.u32() % 200;
            }
            c.down = (rng.u32() as u16) & 0b1_1111_1110 & !(1 << (1 + rng.u32() % 8));
            now += u64::from(rng.u32() % 5000);
            let url = rng.u32() % 32;
            let (n, _) = pick(&mut slots, url, &targets, &c, &P, now).unwrap();
            assert!(c.is_up(n) && targets.contains(&n));
            let set = &slots[slot_of(url, slots.len()).unwrap()];
            assert!(set.nodes().contains(&n));
            assert!((1..=MAX_SET).contains(&set.nodes().len()));
            let mut seen = set.nodes().to_vec();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), set.nodes().len());
        }
    }

    #[test]
    fn params_are_checked() {
        assert!(Params::DEFAULT.valid());
        let bad = |low, high| Params {
            low,
            high,
            shrink_ms: 1,
        };
        assert!(!bad(0, 1).valid());
        assert!(!bad(5, 5).valid());
        assert!(bad(1, 2).valid());
    }
}
