// SPDX-License-Identifier: GPL-2.0

//! `stats-get` and `/proc/net/tcp_handoff`: the namespace's counters.

use super::msg::Request;
use crate::{
    bindings::{self, genl_info, sk_buff},
    netns::NetState,
};
use kernel::{
    error::from_result,
    ffi::c_int,
    seq_file::{seq_print, SeqFile},
    sync::atomic::Relaxed,
};

/// A snapshot of the counters, in the order of the spec's `stats` set:
/// `/proc/net` name, attribute type, value.
fn snapshot(st: &NetState) -> [(&'static str, u32, u64); 19] {
    let (nodes, services) = {
        let cfg = st.config.lock();
        (cfg.nodes.len() as u64, cfg.services.len() as u64)
    };
    let (pending, entries) = st.pending.lock().counts();
    let s = &st.stats;
    let v = |c: &kernel::sync::atomic::Atomic<u64>| c.load(Relaxed);
    use bindings::*;
    [
        ("nodes", TCP_HANDOFF_A_STATS_NODES, nodes),
        ("services", TCP_HANDOFF_A_STATS_SERVICES, services),
        (
            "rx_packets",
            TCP_HANDOFF_A_STATS_RX_PACKETS,
            v(&s.rx_packets),
        ),
        ("rx_bytes", TCP_HANDOFF_A_STATS_RX_BYTES, v(&s.rx_bytes)),
        (
            "tx_packets",
            TCP_HANDOFF_A_STATS_TX_PACKETS,
            v(&s.tx_packets),
        ),
        ("tx_bytes", TCP_HANDOFF_A_STATS_TX_BYTES, v(&s.tx_bytes)),
        (
            "rx_malformed",
            TCP_HANDOFF_A_STATS_RX_MALFORMED,
            v(&s.rx_malformed),
        ),
        ("pending", TCP_HANDOFF_A_STATS_PENDING, pending),
        ("entries", TCP_HANDOFF_A_STATS_ENTRIES, entries),
        (
            "heads_http",
            TCP_HANDOFF_A_STATS_HEADS_HTTP,
            v(&s.heads_http),
        ),
        ("heads_bad", TCP_HANDOFF_A_STATS_HEADS_BAD, v(&s.heads_bad)),
        (
            "heads_not_http",
            TCP_HANDOFF_A_STATS_HEADS_NOT_HTTP,
            v(&s.heads_not_http),
        ),
        (
            "heads_too_large",
            TCP_HANDOFF_A_STATS_HEADS_TOO_LARGE,
            v(&s.heads_too_large),
        ),
        (
            "heads_closed",
            TCP_HANDOFF_A_STATS_HEADS_CLOSED,
            v(&s.heads_closed),
        ),
        (
            "heads_timeout",
            TCP_HANDOFF_A_STATS_HEADS_TIMEOUT,
            v(&s.heads_timeout),
        ),
        ("local", TCP_HANDOFF_A_STATS_LOCAL, v(&s.local)),
        (
            "held_packets",
            TCP_HANDOFF_A_STATS_HELD_PACKETS,
            v(&s.held_packets),
        ),
        (
            "reinject_errors",
            TCP_HANDOFF_A_STATS_REINJECT_ERRORS,
            v(&s.reinject_errors),
        ),
        (
            "table_full",
            TCP_HANDOFF_A_STATS_TABLE_FULL,
            v(&s.table_full),
        ),
    ]
}

/// `stats-get`.
#[no_mangle]
extern "C" fn tcp_handoff_nl_stats_get_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    from_result(|| {
        // SAFETY: generic netlink passes the request's valid `genl_info`.
        let req = unsafe { Request::new(info) };
        let counters = snapshot(req.state());
        req.reply(|m| {
            for (_, ty, v) in counters {
                m.put_uint(ty, v)?;
            }
            Ok(())
        })?;
        Ok(0)
    })
}

/// Shows `/proc/net/tcp_handoff`: one `name value` line per counter.
#[no_mangle]
extern "C" fn th_rs_proc_show(m: *mut bindings::seq_file, net: *mut bindings::net) -> c_int {
    // SAFETY: the seq_file core passes a valid `seq_file`, used only by
    // this thread during the call; the cast is between two bindgen views
    // of the same C struct.
    let m = unsafe { SeqFile::from_raw(m.cast()) };
    // SAFETY: the proc file exists only while the namespace has state: it
    // is removed in pernet `exit` before the state is freed, and
    // `proc_create_net_single` holds the namespace while the file is open.
    let st = unsafe { NetState::of(net) };
    for (name, _, v) in snapshot(st) {
        seq_print!(m, "{} {}\n", name, v);
    }
    0
}
