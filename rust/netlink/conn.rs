// SPDX-License-Identifier: GPL-2.0

//! `conn-get`: the connections a namespace tracks, as `ss` lists sockets.
//!
//! The tables are walked bucket by bucket: each bucket is copied out under
//! its lock (a few entries), and the messages are written after the lock
//! is dropped. A dump that fills its buffer resumes at the same table,
//! bucket and position in the next pass; entries that come or go between
//! passes may be missed or shown twice, as with any netlink dump of live
//! state.

use super::{
    addr,
    msg::{self, Msg},
};
use crate::{
    bindings::{self, netlink_callback, sk_buff},
    btcp::{
        back,
        front::{self, now_ms},
        table::BUCKETS,
    },
    netns::{Addr, NetState},
};
use kernel::{ffi::c_int, prelude::*};

use bindings::{
    TCP_HANDOFF_A_CONN_AGE_MS as AGE_MS, TCP_HANDOFF_A_CONN_BACKEND as BACKEND,
    TCP_HANDOFF_A_CONN_CLIENT_ADDR4 as CLIENT_ADDR4,
    TCP_HANDOFF_A_CONN_CLIENT_ADDR6 as CLIENT_ADDR6, TCP_HANDOFF_A_CONN_CLIENT_PORT as CLIENT_PORT,
    TCP_HANDOFF_A_CONN_ID as ID, TCP_HANDOFF_A_CONN_LOCAL_ADDR4 as LOCAL_ADDR4,
    TCP_HANDOFF_A_CONN_LOCAL_ADDR6 as LOCAL_ADDR6, TCP_HANDOFF_A_CONN_NODE as NODE,
    TCP_HANDOFF_A_CONN_SERVICE_ADDR4 as SERVICE_ADDR4,
    TCP_HANDOFF_A_CONN_SERVICE_ADDR6 as SERVICE_ADDR6,
    TCP_HANDOFF_A_CONN_SERVICE_PORT as SERVICE_PORT, TCP_HANDOFF_A_CONN_STATE as STATE,
};

/// One connection, copied out of its bucket.
#[derive(Clone, Copy)]
struct Row {
    backend: bool,
    state: u32,
    client: (Addr, u16),
    service: (Addr, u16),
    local: Option<Addr>,
    node: u32,
    id: u64,
    since_ms: u64,
}

fn front_state(p: front::Phase) -> u32 {
    use front::Phase::*;
    match p {
        Holding => bindings::tcp_handoff_conn_state_TCP_HANDOFF_CONN_STATE_HOLDING,
        Deciding => bindings::tcp_handoff_conn_state_TCP_HANDOFF_CONN_STATE_DECIDING,
        Requested(_) => bindings::tcp_handoff_conn_state_TCP_HANDOFF_CONN_STATE_REQUESTED,
        InDoubt(_) => bindings::tcp_handoff_conn_state_TCP_HANDOFF_CONN_STATE_IN_DOUBT,
        Flushing => bindings::tcp_handoff_conn_state_TCP_HANDOFF_CONN_STATE_FLUSHING,
        Forwarding => bindings::tcp_handoff_conn_state_TCP_HANDOFF_CONN_STATE_FORWARDING,
        Tombstone(_) => bindings::tcp_handoff_conn_state_TCP_HANDOFF_CONN_STATE_TOMBSTONE,
        Released(_) => bindings::tcp_handoff_conn_state_TCP_HANDOFF_CONN_STATE_RELEASED,
    }
}

fn back_state(p: back::Phase) -> u32 {
    use back::Phase::*;
    match p {
        Replaying => bindings::tcp_handoff_conn_state_TCP_HANDOFF_CONN_STATE_REPLAYING,
        Established => bindings::tcp_handoff_conn_state_TCP_HANDOFF_CONN_STATE_ESTABLISHED,
        Closing(_) => bindings::tcp_handoff_conn_state_TCP_HANDOFF_CONN_STATE_CLOSING,
        Aborted(_) => bindings::tcp_handoff_conn_state_TCP_HANDOFF_CONN_STATE_ABORTED,
    }
}

fn front_row(c: &front::Conn) -> Row {
    Row {
        backend: false,
        state: front_state(c.phase),
        client: (c.key.saddr, c.key.sport),
        service: (c.key.daddr, c.key.dport),
        local: None,
        node: c.node,
        id: c.conn_id,
        since_ms: c.since_ms,
    }
}

fn back_row(c: &back::Conn) -> Row {
    Row {
        backend: true,
        state: back_state(c.phase),
        client: (c.key.client, c.key.cport),
        service: (c.service, c.key.port),
        local: Some(c.key.local),
        node: c.fe_node,
        id: c.conn_id,
        since_ms: c.since_ms,
    }
}

fn put_row(m: &mut Msg, r: &Row, now: u64) -> Result {
    m.put_flag(BACKEND, r.backend)?;
    m.put_u32(STATE, r.state)?;
    addr::put(m, &r.client.0, CLIENT_ADDR4, CLIENT_ADDR6)?;
    m.put_be16(CLIENT_PORT, r.client.1)?;
    addr::put(m, &r.service.0, SERVICE_ADDR4, SERVICE_ADDR6)?;
    m.put_be16(SERVICE_PORT, r.service.1)?;
    if let Some(local) = &r.local {
        addr::put(m, local, LOCAL_ADDR4, LOCAL_ADDR6)?;
    }
    if r.node != 0 {
        m.put_u32(NODE, r.node)?;
    }
    if r.id != 0 {
        m.put_uint(ID, r.id)?;
    }
    m.put_uint(AGE_MS, now.saturating_sub(r.since_ms))
}

/// Where a dump stands: table (0 front-end, 1 back-end), bucket, and
/// position in the bucket, packed into the dump's one cursor slot.
#[derive(Clone, Copy)]
struct Cursor {
    table: usize,
    bucket: usize,
    pos: usize,
}

impl Cursor {
    fn unpack(v: i64) -> Self {
        let v = v as u64;
        Cursor {
            table: (v >> 48) as usize & 0xff,
            bucket: (v >> 32) as usize & 0xffff,
            pos: v as u32 as usize,
        }
    }

    fn pack(self) -> i64 {
        ((self.table as u64) << 48 | (self.bucket as u64) << 32 | self.pos as u64) as i64
    }
}

/// The rows of bucket `bucket` of table `table`, from position `pos`.
fn rows(st: &NetState, table: usize, bucket: usize, pos: usize) -> Result<KVec<Row>> {
    let mut out = KVec::new();
    if table == 0 {
        let b = st.pending.lock(bucket);
        out.reserve(b.conns.len().saturating_sub(pos), GFP_ATOMIC)?;
        for c in b.conns.iter().skip(pos) {
            out.push_within_capacity(front_row(c)).map_err(|_| ENOMEM)?;
        }
    } else {
        let b = st.backend.lock(bucket);
        out.reserve(b.conns.len().saturating_sub(pos), GFP_ATOMIC)?;
        for c in b.conns.iter().skip(pos) {
            out.push_within_capacity(back_row(c)).map_err(|_| ENOMEM)?;
        }
    }
    Ok(out)
}

/// `conn-get`, dump.
#[no_mangle]
extern "C" fn tcp_handoff_nl_conn_get_dumpit(
    skb: *mut sk_buff,
    cb: *mut netlink_callback,
) -> c_int {
    // SAFETY: generic netlink passes a running dump's valid `cb`.
    let st = unsafe { msg::dump_state(cb) };
    // SAFETY: `cb` is valid; the cursor is its private slot, zero at first.
    let slot = unsafe { &mut *bindings::th_genl_dump_cursor(cb) };
    let mut at = Cursor::unpack(*slot as i64);
    let now = now_ms();
    'tables: while at.table < 2 {
        while at.bucket < BUCKETS {
            let rows = match rows(st, at.table, at.bucket, at.pos) {
                Ok(rows) => rows,
                Err(e) => return e.to_errno(),
            };
            for r in rows.iter() {
                // SAFETY: `skb` and `cb` are this dump's.
                if !unsafe { msg::dump_one(skb, cb, |m| put_row(m, r, now)) } {
                    break 'tables;
                }
                at.pos += 1;
            }
            at.bucket += 1;
            at.pos = 0;
        }
        at.table += 1;
        at.bucket = 0;
    }
    *slot = at.pack() as isize;
    // SAFETY: `skb` is valid.
    unsafe { bindings::th_skb_len(skb) as c_int }
}
