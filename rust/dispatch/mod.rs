// SPDX-License-Identifier: GPL-2.0

//! Dispatch: which node serves a request.
//!
//! The front-end's worker calls [`choose`] for every complete first
//! request head. The namespace's rules (`rule-add`, evaluated in `prio`
//! order) are matched by `handoff_core::rules`; the first that matches
//! picks among its targets with its policy, skipping nodes whose channel is
//! down. No match, no target up, or a target that is this node itself all
//! mean "serve here".
//!
//! The `lard` policy (`handoff_core::lard`) keeps per-URL server sets in
//! the namespace's table ([`Config::lard`]) and weighs nodes by their load:
//! the connections a node reported serving in its last load report (every
//! node reports to every peer twice a second), or what this front-end
//! alone forwards to it if that is more, as it is between two reports.
//!
//! [`Config::lard`]: crate::netns::Config::lard

use crate::{
    btcp::front::now_ms,
    channel::Channel,
    handoff_core::{
        http::Request,
        lard,
        rules::{self, NodeLoad, Policy},
    },
    netns::{NetState, Stats, LARD_SLOTS},
};
use kernel::{prelude::*, sync::atomic::Relaxed};

/// What dispatch sees of the cluster: which nodes are reachable, and how
/// many connections each one serves for this front-end.
struct Load<'a> {
    st: &'a NetState,
    ch: &'a Channel,
    local: Option<u32>,
}

impl Load<'_> {
    fn is_local(&self, node: u32) -> bool {
        node == 0 || Some(node) == self.local
    }
}

impl NodeLoad for Load<'_> {
    fn is_up(&self, node: u32) -> bool {
        self.is_local(node) || self.ch.is_up(node)
    }

    fn active_conns(&self, node: u32) -> u32 {
        // Kept as entries start and stop forwarding: a decision costs no
        // walk of the table, unless an entry could not be counted.
        if let Some(n) = self.st.fwd_counts.of(node) {
            return n;
        }
        let mut n = 0;
        self.st.pending.for_each(|_, b| n += b.active_for(node));
        n
    }

    fn load(&self, node: u32) -> u32 {
        if self.is_local(node) {
            return self.st.own_load().0;
        }
        let reported = self
            .st
            .node_stats_of(node)
            .map_or(0, |s| s.load_conns.load(Relaxed));
        reported.max(self.active_conns(node))
    }
}

/// The node that should serve `req`, or `None` for this node.
pub(crate) fn choose(st: &NetState, ch: &Channel, req: &Request<'_>) -> Option<u32> {
    let local = ch.local_id();
    let mut guard = st.config.lock();
    let cfg = &mut *guard;
    let idx = cfg.rules.iter().position(|r| r.view().matches(req))?;
    let rule = cfg.rules.get_mut(idx)?;
    rule.hits = rule.hits.wrapping_add(1);
    let load = Load { st, ch, local };
    let view = rule.view();
    let pick = if view.policy == Policy::Lard && lard_table(&mut cfg.lard) {
        let url = rules::url_hash(req.host, req.path);
        let params = st.limits.lard();
        let picked = lard::pick(&mut cfg.lard, url, view.targets, &load, &params, now_ms());
        if let Some((_, change)) = picked {
            count(&st.stats, change);
        }
        picked.map(|(node, _)| node)
    } else {
        let mut cursor = rule.rr_cursor;
        let pick = rules::pick_target(&view, req, &mut cursor, &load);
        rule.rr_cursor = cursor;
        pick
    };
    match pick {
        Some(id) if !load.is_local(id) => Some(id),
        _ => None,
    }
}

/// The node that should serve `req`, a later request on a connection that
/// node `current` serves: `current` itself while the first rule that
/// matches lists it among its targets (a kept-alive connection stays where
/// it is as long as the rules allow: a move costs more than a balanced
/// pick gains), else what [`choose`] picks. `None`: no rule matches, or it
/// picks this node, which cannot take a connection back.
pub(crate) fn choose_next(
    st: &NetState,
    ch: &Channel,
    req: &Request<'_>,
    current: u32,
) -> Option<u32> {
    {
        let cfg = st.config.lock();
        let rule = cfg.rules.iter().find(|r| r.view().matches(req))?;
        if rule.view().targets.contains(&current) {
            return Some(current);
        }
    }
    choose(st, ch, req)
}

/// Whether `req`, a later request on a connection that node `current`
/// serves, stays there by the rules alone, as [`choose_next`] would decide
/// (the first matching rule lists `current`, or no rule matches), from the
/// packet path's copy of the rules (`NetState::rules_fast`): the inbound
/// hook then releases the request to its node at once. False when the
/// worker must decide (the request may move, or the copy is missing).
pub(crate) fn stays(st: &NetState, req: &Request<'_>, current: u32) -> bool {
    let rules = st.rules_fast.lock();
    let Some(rules) = rules.as_ref() else {
        return false;
    };
    match rules.iter().find(|r| r.view().matches(req)) {
        None => true,
        Some(r) => r.targets.contains(&current),
    }
}

/// Allocates the `lard` table on first use; `false` if there is no memory
/// for it (the rule then picks as `pick_target` does, without sets).
fn lard_table(t: &mut KVec<lard::ServerSet>) -> bool {
    if t.is_empty() && t.reserve(LARD_SLOTS, GFP_KERNEL).is_ok() {
        for _ in 0..LARD_SLOTS {
            if t.push_within_capacity(lard::ServerSet::EMPTY).is_err() {
                break;
            }
        }
    }
    !t.is_empty()
}

fn count(s: &Stats, change: lard::Change) {
    let c = match change {
        lard::Change::None => return,
        lard::Change::Assigned => &s.lard_assigned,
        lard::Change::Replicated => &s.lard_replicated,
        lard::Change::Shrunk => &s.lard_shrunk,
        lard::Change::Evicted => &s.lard_evicted,
    };
    Stats::inc(c, 1);
}
