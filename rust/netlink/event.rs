// SPDX-License-Identifier: GPL-2.0

//! The `events` multicast group: handoffs done and failed, channels up and
//! down, for `handoffctl monitor` (and `ynl --subscribe events`).

use super::msg::Msg;
use crate::{bindings, netns::Addr};
use bindings::{
    TCP_HANDOFF_A_EVENT_CLIENT_ADDR4 as CLIENT_ADDR4,
    TCP_HANDOFF_A_EVENT_CLIENT_ADDR6 as CLIENT_ADDR6,
    TCP_HANDOFF_A_EVENT_CLIENT_PORT as CLIENT_PORT, TCP_HANDOFF_A_EVENT_KIND as KIND,
    TCP_HANDOFF_A_EVENT_LATENCY_US as LATENCY_US, TCP_HANDOFF_A_EVENT_NODE as NODE,
    TCP_HANDOFF_A_EVENT_REASON as REASON,
};
use kernel::prelude::*;

/// An event, as the group reports it.
pub(crate) enum Event<'a> {
    /// Node `node` took the client's connection over, `latency_us` after
    /// the front-end asked.
    HandoffDone {
        node: u32,
        client: (Addr, u16),
        latency_us: u64,
    },
    /// The handoff to `node` was given up; the front-end serves it.
    HandoffFailed {
        node: u32,
        client: (Addr, u16),
        reason: &'a str,
    },
    /// The channel to `node` came up.
    PeerUp { node: u32 },
    /// The channel to `node` went down.
    PeerDown { node: u32, reason: &'a str },
}

impl Event<'_> {
    fn fill(&self, msg: &mut Msg) -> Result {
        let (kind, node) = match *self {
            Event::HandoffDone { node, .. } => (
                bindings::tcp_handoff_event_kind_TCP_HANDOFF_EVENT_KIND_HANDOFF_DONE,
                node,
            ),
            Event::HandoffFailed { node, .. } => (
                bindings::tcp_handoff_event_kind_TCP_HANDOFF_EVENT_KIND_HANDOFF_FAILED,
                node,
            ),
            Event::PeerUp { node } => (
                bindings::tcp_handoff_event_kind_TCP_HANDOFF_EVENT_KIND_PEER_UP,
                node,
            ),
            Event::PeerDown { node, .. } => (
                bindings::tcp_handoff_event_kind_TCP_HANDOFF_EVENT_KIND_PEER_DOWN,
                node,
            ),
        };
        msg.put_u32(KIND, kind)?;
        msg.put_u32(NODE, node)?;
        match *self {
            Event::HandoffDone {
                client, latency_us, ..
            } => {
                put_client(msg, &client.0)?;
                msg.put_be16(CLIENT_PORT, client.1)?;
                msg.put_uint(LATENCY_US, latency_us)
            }
            Event::HandoffFailed { client, reason, .. } => {
                put_client(msg, &client.0)?;
                msg.put_be16(CLIENT_PORT, client.1)?;
                msg.put_str(REASON, reason.as_bytes())
            }
            Event::PeerUp { .. } => Ok(()),
            Event::PeerDown { reason, .. } => msg.put_str(REASON, reason.as_bytes()),
        }
    }
}

/// The client's address, in the attribute of its family.
fn put_client(msg: &mut Msg, a: &Addr) -> Result {
    super::addr::put(msg, a, CLIENT_ADDR4, CLIENT_ADDR6)
}

/// Sends `ev` to the listeners of namespace `net`'s events group, if any
/// (any context; without listeners this costs one load). An event that
/// finds no memory is dropped: events are a view, not state.
pub(crate) fn notify(net: *mut bindings::net, ev: &Event<'_>) {
    // SAFETY: `net` is a live namespace (callers run in it).
    if !unsafe { bindings::th_genl_event_wanted(net) } {
        return;
    }
    // SAFETY: `net` is a live namespace; `Msg::multicast` sends or frees.
    let _ = unsafe { Msg::multicast(net, |m| ev.fill(m)) };
}
