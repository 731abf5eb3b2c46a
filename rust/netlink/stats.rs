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
    prelude::*,
    seq_file::{seq_print, SeqFile},
    sync::atomic::Relaxed,
};

/// Calls `f` with each counter, in the order of the spec's `stats` set:
/// `/proc/net` name, attribute type, value. (One call per counter rather
/// than an array of them: that would take 1.5 KiB of kernel stack.)
fn each(st: &NetState, mut f: impl FnMut(&'static str, u32, u64) -> Result) -> Result {
    let (nodes, services) = {
        let cfg = st.config.lock();
        (cfg.nodes.len() as u64, cfg.services.len() as u64)
    };
    let (mut pending, mut entries) = (0, 0);
    st.pending.for_each(|_, b| {
        let (p, e) = b.counts();
        pending += p;
        entries += e;
    });
    let g = st.gauges();
    let s = &st.stats;
    let v = |c: &kernel::sync::atomic::Atomic<u64>| c.load(Relaxed);
    use bindings::*;
    f("nodes", TCP_HANDOFF_A_STATS_NODES, nodes)?;
    f("services", TCP_HANDOFF_A_STATS_SERVICES, services)?;
    f(
        "rx_packets",
        TCP_HANDOFF_A_STATS_RX_PACKETS,
        v(&s.rx_packets),
    )?;
    f("rx_bytes", TCP_HANDOFF_A_STATS_RX_BYTES, v(&s.rx_bytes))?;
    f(
        "tx_packets",
        TCP_HANDOFF_A_STATS_TX_PACKETS,
        v(&s.tx_packets),
    )?;
    f("tx_bytes", TCP_HANDOFF_A_STATS_TX_BYTES, v(&s.tx_bytes))?;
    f(
        "rx_malformed",
        TCP_HANDOFF_A_STATS_RX_MALFORMED,
        v(&s.rx_malformed),
    )?;
    f("pending", TCP_HANDOFF_A_STATS_PENDING, pending)?;
    f("entries", TCP_HANDOFF_A_STATS_ENTRIES, entries)?;
    f(
        "heads_http",
        TCP_HANDOFF_A_STATS_HEADS_HTTP,
        v(&s.heads_http),
    )?;
    f("heads_bad", TCP_HANDOFF_A_STATS_HEADS_BAD, v(&s.heads_bad))?;
    f(
        "heads_not_http",
        TCP_HANDOFF_A_STATS_HEADS_NOT_HTTP,
        v(&s.heads_not_http),
    )?;
    f(
        "heads_too_large",
        TCP_HANDOFF_A_STATS_HEADS_TOO_LARGE,
        v(&s.heads_too_large),
    )?;
    f(
        "heads_closed",
        TCP_HANDOFF_A_STATS_HEADS_CLOSED,
        v(&s.heads_closed),
    )?;
    f(
        "heads_timeout",
        TCP_HANDOFF_A_STATS_HEADS_TIMEOUT,
        v(&s.heads_timeout),
    )?;
    f("local", TCP_HANDOFF_A_STATS_LOCAL, v(&s.local))?;
    f(
        "held_packets",
        TCP_HANDOFF_A_STATS_HELD_PACKETS,
        v(&s.held_packets),
    )?;
    f(
        "reinject_errors",
        TCP_HANDOFF_A_STATS_REINJECT_ERRORS,
        v(&s.reinject_errors),
    )?;
    f(
        "table_full",
        TCP_HANDOFF_A_STATS_TABLE_FULL,
        v(&s.table_full),
    )?;
    f(
        "handoff_requests",
        TCP_HANDOFF_A_STATS_HANDOFF_REQUESTS,
        v(&s.handoff_requests),
    )?;
    f(
        "handoff_ok",
        TCP_HANDOFF_A_STATS_HANDOFF_OK,
        v(&s.handoff_ok),
    )?;
    f(
        "handoff_nak",
        TCP_HANDOFF_A_STATS_HANDOFF_NAK,
        v(&s.handoff_nak),
    )?;
    f(
        "handoff_timeout",
        TCP_HANDOFF_A_STATS_HANDOFF_TIMEOUT,
        v(&s.handoff_timeout),
    )?;
    f(
        "handoff_no_channel",
        TCP_HANDOFF_A_STATS_HANDOFF_NO_CHANNEL,
        v(&s.handoff_no_channel),
    )?;
    f(
        "fallback_local",
        TCP_HANDOFF_A_STATS_FALLBACK_LOCAL,
        v(&s.fallback_local),
    )?;
    f(
        "fwd_packets",
        TCP_HANDOFF_A_STATS_FWD_PACKETS,
        v(&s.fwd_packets),
    )?;
    f("fwd_bytes", TCP_HANDOFF_A_STATS_FWD_BYTES, v(&s.fwd_bytes))?;
    f(
        "fe_tx_dropped",
        TCP_HANDOFF_A_STATS_FE_TX_DROPPED,
        v(&s.fe_tx_dropped),
    )?;
    f(
        "fwd_errors",
        TCP_HANDOFF_A_STATS_FWD_ERRORS,
        v(&s.fwd_errors),
    )?;
    f(
        "be_requests",
        TCP_HANDOFF_A_STATS_BE_REQUESTS,
        v(&s.be_requests),
    )?;
    f(
        "be_accepted",
        TCP_HANDOFF_A_STATS_BE_ACCEPTED,
        v(&s.be_accepted),
    )?;
    f(
        "be_refused",
        TCP_HANDOFF_A_STATS_BE_REFUSED,
        v(&s.be_refused),
    )?;
    f(
        "be_tx_packets",
        TCP_HANDOFF_A_STATS_BE_TX_PACKETS,
        v(&s.be_tx_packets),
    )?;
    f(
        "be_tx_bytes",
        TCP_HANDOFF_A_STATS_BE_TX_BYTES,
        v(&s.be_tx_bytes),
    )?;
    f(
        "terminate_sent",
        TCP_HANDOFF_A_STATS_TERMINATE_SENT,
        v(&s.terminate_sent),
    )?;
    f(
        "terminate_received",
        TCP_HANDOFF_A_STATS_TERMINATE_RECEIVED,
        v(&s.terminate_received),
    )?;
    f(
        "ctl_connects",
        TCP_HANDOFF_A_STATS_CTL_CONNECTS,
        v(&s.ctl_connects),
    )?;
    f(
        "ctl_disconnects",
        TCP_HANDOFF_A_STATS_CTL_DISCONNECTS,
        v(&s.ctl_disconnects),
    )?;
    f(
        "ctl_msgs_in",
        TCP_HANDOFF_A_STATS_CTL_MSGS_IN,
        v(&s.ctl_msgs_in),
    )?;
    f(
        "ctl_msgs_out",
        TCP_HANDOFF_A_STATS_CTL_MSGS_OUT,
        v(&s.ctl_msgs_out),
    )?;
    f(
        "ctl_bad_msgs",
        TCP_HANDOFF_A_STATS_CTL_BAD_MSGS,
        v(&s.ctl_bad_msgs),
    )?;
    f(
        "ctl_refused",
        TCP_HANDOFF_A_STATS_CTL_REFUSED,
        v(&s.ctl_refused),
    )?;
    f(
        "fe_forwarding",
        TCP_HANDOFF_A_STATS_FE_FORWARDING,
        g.fe_forwarding,
    )?;
    f(
        "fe_tombstones",
        TCP_HANDOFF_A_STATS_FE_TOMBSTONES,
        g.fe_tombstones,
    )?;
    f(
        "fe_in_flight",
        TCP_HANDOFF_A_STATS_FE_IN_FLIGHT,
        g.fe_in_flight,
    )?;
    f("be_conns", TCP_HANDOFF_A_STATS_BE_CONNS, g.be_conns)?;
    f("peers_up", TCP_HANDOFF_A_STATS_PEERS_UP, g.peers_up)?;
    f(
        "utcp_listeners",
        TCP_HANDOFF_A_STATS_UTCP_LISTENERS,
        g.utcp_listeners,
    )?;
    f(
        "utcp_vetoed",
        TCP_HANDOFF_A_STATS_UTCP_VETOED,
        v(&s.utcp_vetoed),
    )?;
    f(
        "utcp_unshimmed",
        TCP_HANDOFF_A_STATS_UTCP_UNSHIMMED,
        v(&s.utcp_unshimmed),
    )?;
    f(
        "icmp_forwarded",
        TCP_HANDOFF_A_STATS_ICMP_FORWARDED,
        v(&s.icmp_forwarded),
    )?;
    f(
        "reconciled",
        TCP_HANDOFF_A_STATS_RECONCILED,
        v(&s.reconciled),
    )?;
    f(
        "handoff_in_doubt",
        TCP_HANDOFF_A_STATS_HANDOFF_IN_DOUBT,
        v(&s.handoff_in_doubt),
    )?;
    f(
        "in_doubt_reset",
        TCP_HANDOFF_A_STATS_IN_DOUBT_RESET,
        v(&s.in_doubt_reset),
    )?;
    f(
        "ack_resent",
        TCP_HANDOFF_A_STATS_ACK_RESENT,
        v(&s.ack_resent),
    )?;
    f(
        "ctl_auth_failed",
        TCP_HANDOFF_A_STATS_CTL_AUTH_FAILED,
        v(&s.ctl_auth_failed),
    )?;
    f(
        "idle_expired",
        TCP_HANDOFF_A_STATS_IDLE_EXPIRED,
        v(&s.idle_expired),
    )?;
    f(
        "lard_assigned",
        TCP_HANDOFF_A_STATS_LARD_ASSIGNED,
        v(&s.lard_assigned),
    )?;
    f(
        "lard_replicated",
        TCP_HANDOFF_A_STATS_LARD_REPLICATED,
        v(&s.lard_replicated),
    )?;
    f(
        "lard_shrunk",
        TCP_HANDOFF_A_STATS_LARD_SHRUNK,
        v(&s.lard_shrunk),
    )?;
    f(
        "lard_evicted",
        TCP_HANDOFF_A_STATS_LARD_EVICTED,
        v(&s.lard_evicted),
    )?;
    f(
        "later_requests",
        TCP_HANDOFF_A_STATS_LATER_REQUESTS,
        v(&s.later_requests),
    )?;
    f(
        "migrations",
        TCP_HANDOFF_A_STATS_MIGRATIONS,
        v(&s.migrations),
    )?;
    f(
        "migrate_refused",
        TCP_HANDOFF_A_STATS_MIGRATE_REFUSED,
        v(&s.migrate_refused),
    )?;
    f(
        "migrated_out",
        TCP_HANDOFF_A_STATS_MIGRATED_OUT,
        v(&s.migrated_out),
    )?;
    Ok(())
}

/// `stats-get`.
#[no_mangle]
extern "C" fn tcp_handoff_nl_stats_get_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    from_result(|| {
        // SAFETY: generic netlink passes the request's valid `genl_info`.
        let req = unsafe { Request::new(info) };
        let st = req.state();
        req.reply(|m| each(st, |_, ty, v| m.put_uint(ty, v)))?;
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
    let _ = each(st, |name, _, v| {
        seq_print!(m, "{} {}\n", name, v);
        Ok(())
    });
    0
}

/// `stats-reset` (admin): zeroes the counters; gauges are computed from
/// the tables when read and keep their values.
#[no_mangle]
extern "C" fn tcp_handoff_nl_stats_reset_doit(_skb: *mut sk_buff, info: *mut genl_info) -> c_int {
    from_result(|| {
        // SAFETY: generic netlink passes the request's valid `genl_info`.
        let req = unsafe { Request::new(info) };
        req.state().stats.zero();
        req.state().zero_node_stats();
        req.state().services.zero_stats();
        Ok(0)
    })
}
