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

/// A snapshot of the counters, in the order of the spec's `stats` set.
fn snapshot(st: &NetState) -> [(&'static str, u32, u64); 7] {
    let (nodes, services) = {
        let cfg = st.config.lock();
        (cfg.nodes.len() as u64, cfg.services.len() as u64)
    };
    let s = &st.stats;
    [
        ("nodes", bindings::TCP_HANDOFF_A_STATS_NODES, nodes),
        ("services", bindings::TCP_HANDOFF_A_STATS_SERVICES, services),
        (
            "rx_packets",
            bindings::TCP_HANDOFF_A_STATS_RX_PACKETS,
            s.rx_packets.load(Relaxed),
        ),
        (
            "rx_bytes",
            bindings::TCP_HANDOFF_A_STATS_RX_BYTES,
            s.rx_bytes.load(Relaxed),
        ),
        (
            "tx_packets",
            bindings::TCP_HANDOFF_A_STATS_TX_PACKETS,
            s.tx_packets.load(Relaxed),
        ),
        (
            "tx_bytes",
            bindings::TCP_HANDOFF_A_STATS_TX_BYTES,
            s.tx_bytes.load(Relaxed),
        ),
        (
            "rx_malformed",
            bindings::TCP_HANDOFF_A_STATS_RX_MALFORMED,
            s.rx_malformed.load(Relaxed),
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
