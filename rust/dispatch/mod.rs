// SPDX-License-Identifier: GPL-2.0

//! Dispatch: which node serves a request.
//!
//! The front-end's worker calls [`choose`] for every complete first
//! request head. The namespace's rules (`rule-add`, evaluated in `prio`
//! order) are matched by `handoff_core::rules`; the first that matches
//! picks among its targets with its policy, skipping nodes whose channel is
//! down. No match, no target up, or a target that is this node itself all
//! mean "serve here".

use crate::{
    channel::Channel,
    handoff_core::{http::Request, rules},
    netns::NetState,
};

/// What dispatch sees of the cluster: which nodes are reachable, and how
/// many connections each one serves for this front-end.
struct Load<'a> {
    st: &'a NetState,
    ch: &'a Channel,
    local: Option<u32>,
}

impl rules::NodeLoad for Load<'_> {
    fn is_up(&self, node: u32) -> bool {
        node == 0 || Some(node) == self.local || self.ch.is_up(node)
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
}

/// The node that should serve `req`, or `None` for this node.
pub(crate) fn choose(st: &NetState, ch: &Channel, req: &Request<'_>) -> Option<u32> {
    let local = ch.local_id();
    let mut cfg = st.config.lock();
    let idx = cfg.rules.iter().position(|r| r.view().matches(req))?;
    let rule = cfg.rules.get_mut(idx)?;
    rule.hits = rule.hits.wrapping_add(1);
    let mut cursor = rule.rr_cursor;
    let load = Load { st, ch, local };
    let pick = rules::pick_target(&rule.view(), req, &mut cursor, &load);
    rule.rr_cursor = cursor;
    match pick {
        Some(id) if id != 0 && Some(id) != local => Some(id),
        _ => None,
    }
}
