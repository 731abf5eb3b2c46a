// SPDX-License-Identifier: GPL-2.0

//! Per-network-namespace state.
//!
//! Each namespace is a separate cluster node as far as the module is
//! concerned: its own configuration, its own counters, its own hooks. The
//! state is allocated by the pernet `init` callback, reached through one
//! pointer slot in `struct net`'s generic array, and freed by the pernet
//! `exit` callback after the namespace's hooks are gone.

use crate::{
    bindings,
    btcp::front::{self, Pending},
    sync::{new_spinlock_bh, SpinLockBh},
};
use core::pin::Pin;
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Mutex,
    },
};

/// Most nodes a namespace may configure.
pub(crate) const MAX_NODES: usize = 64;
/// Most services a namespace may configure.
pub(crate) const MAX_SERVICES: usize = 64;

/// The node limit, for `/sys/kernel/tcp_handoff/max_nodes`.
#[no_mangle]
extern "C" fn th_rs_max_nodes() -> kernel::ffi::c_uint {
    MAX_NODES as kernel::ffi::c_uint
}

/// The service limit, for `/sys/kernel/tcp_handoff/max_services`.
#[no_mangle]
extern "C" fn th_rs_max_services() -> kernel::ffi::c_uint {
    MAX_SERVICES as kernel::ffi::c_uint
}

/// An address of a node or service, IPv4 or IPv6.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

/// A configured cluster node.
#[derive(Clone, Copy)]
pub(crate) struct Node {
    pub(crate) id: u32,
    pub(crate) addr: Addr,
    pub(crate) port: u16,
    pub(crate) weight: u32,
    pub(crate) local: bool,
}

/// A configured service: connections to it take part in handoff.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Service {
    pub(crate) addr: Addr,
    pub(crate) port: u16,
}

/// The namespace's configuration, changed only from netlink (process
/// context) under [`NetState::config`].
pub(crate) struct Config {
    pub(crate) nodes: KVec<Node>,
    pub(crate) services: KVec<Service>,
}

/// Counters of one namespace. Plain relaxed atomics: they are statistics,
/// read without ordering against anything else.
pub(crate) struct Stats {
    pub(crate) rx_packets: Atomic<u64>,
    pub(crate) rx_bytes: Atomic<u64>,
    pub(crate) tx_packets: Atomic<u64>,
    pub(crate) tx_bytes: Atomic<u64>,
    pub(crate) rx_malformed: Atomic<u64>,
    pub(crate) heads_http: Atomic<u64>,
    pub(crate) heads_bad: Atomic<u64>,
    pub(crate) heads_not_http: Atomic<u64>,
    pub(crate) heads_too_large: Atomic<u64>,
    pub(crate) heads_closed: Atomic<u64>,
    pub(crate) heads_timeout: Atomic<u64>,
    pub(crate) local: Atomic<u64>,
    pub(crate) held_packets: Atomic<u64>,
    pub(crate) reinject_errors: Atomic<u64>,
    pub(crate) table_full: Atomic<u64>,
}

impl Stats {
    const fn new() -> Self {
        Stats {
            rx_packets: Atomic::new(0),
            rx_bytes: Atomic::new(0),
            tx_packets: Atomic::new(0),
            tx_bytes: Atomic::new(0),
            rx_malformed: Atomic::new(0),
            heads_http: Atomic::new(0),
            heads_bad: Atomic::new(0),
            heads_not_http: Atomic::new(0),
            heads_too_large: Atomic::new(0),
            heads_closed: Atomic::new(0),
            heads_timeout: Atomic::new(0),
            local: Atomic::new(0),
            held_packets: Atomic::new(0),
            reinject_errors: Atomic::new(0),
            table_full: Atomic::new(0),
        }
    }

    pub(crate) fn inc(counter: &Atomic<u64>, by: u64) {
        counter.add(by, Relaxed);
    }
}

/// The IPv4 services as the packet path sees them: a fixed array of
/// atomically updated keys, so the hooks (softirq) never take the
/// configuration mutex. Writers hold [`NetState::config`]. A key is
/// `1 << 63 | addr << 16 | port`; 0 is an empty slot.
pub(crate) struct ServiceFilter {
    slots: [Atomic<u64>; MAX_SERVICES],
}

impl ServiceFilter {
    fn new() -> Self {
        ServiceFilter {
            slots: core::array::from_fn(|_| Atomic::new(0)),
        }
    }

    fn key(addr: [u8; 4], port: u16) -> u64 {
        1 << 63 | u64::from(u32::from_be_bytes(addr)) << 16 | u64::from(port)
    }

    /// Whether `addr:port` is a configured IPv4 service.
    pub(crate) fn contains_v4(&self, addr: [u8; 4], port: u16) -> bool {
        let key = Self::key(addr, port);
        self.slots.iter().any(|s| s.load(Relaxed) == key)
    }

    /// Whether `addr` is the address of any configured IPv4 service.
    pub(crate) fn contains_v4_addr(&self, addr: [u8; 4]) -> bool {
        let a = u64::from(u32::from_be_bytes(addr));
        self.slots.iter().any(|s| {
            let k = s.load(Relaxed);
            k != 0 && (k >> 16) & 0xffff_ffff == a
        })
    }

    /// Rebuilds the filter from the configuration. A packet that races with
    /// this sees either the old or the new set for each slot; both are
    /// configurations the administrator asked for.
    pub(crate) fn publish(&self, services: &[Service]) {
        let mut keys = services.iter().filter_map(|s| match s.addr {
            Addr::V4(a) => Some(Self::key(a, s.port)),
            Addr::V6(_) => None,
        });
        for slot in &self.slots {
            slot.store(keys.next().unwrap_or(0), Relaxed);
        }
    }
}

/// Everything the module keeps for one network namespace.
#[pin_data]
pub(crate) struct NetState {
    #[pin]
    pub(crate) config: Mutex<Config>,
    pub(crate) services: ServiceFilter,
    /// Connections whose first request is being read (the packet path's
    /// state: a BH-safe spinlock).
    #[pin]
    pub(crate) pending: SpinLockBh<Pending>,
    pub(crate) stats: Stats,
}

impl NetState {
    /// Returns the state of `net`.
    ///
    /// # Safety
    ///
    /// `net` must be a live namespace whose pernet `init` has succeeded and
    /// whose `exit` has not started, and the returned reference must not be
    /// used after that (hooks and netlink requests satisfy this: they are
    /// unregistered or finished before `exit` frees the state).
    pub(crate) unsafe fn of<'a>(net: *const bindings::net) -> &'a NetState {
        // SAFETY: the caller guarantees `init` stored a valid pointer and
        // `exit` has not freed it.
        unsafe { &*bindings::th_net_state(net).cast::<NetState>() }
    }

    fn new() -> impl PinInit<Self> {
        pin_init!(NetState {
            config <- new_mutex!(Config {
                nodes: KVec::new(),
                services: KVec::new(),
            }),
            services: ServiceFilter::new(),
            pending <- new_spinlock_bh!(Pending::new(), c"tcp_handoff_pending"),
            stats: Stats::new(),
        })
    }
}

fn net_init(net: *mut bindings::net) -> Result {
    let state = KBox::pin_init(NetState::new(), GFP_KERNEL)?;
    // SAFETY: the state is never moved out of its box: it is only reached
    // through this pointer until `net_exit` rebuilds the pinned box.
    let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(state) });
    // SAFETY: `net` is the namespace being initialised; its slot is ours.
    unsafe { bindings::th_net_set_state(net, raw.cast()) };
    // SAFETY: `net` is live; the state its hooks use is in place.
    let err = unsafe { bindings::th_net_register_hooks(net) };
    if let Err(e) = kernel::error::to_result(err) {
        free_state(net);
        return Err(e);
    }
    // SAFETY: `net` is live.
    if let Err(e) = kernel::error::to_result(unsafe { bindings::th_net_proc_create(net) }) {
        // SAFETY: the hooks were registered just above.
        unsafe { bindings::th_net_unregister_hooks(net) };
        free_state(net);
        return Err(e);
    }
    // SAFETY: `net` is live and its state in place; the timer is stopped
    // in `th_rs_net_exit` before the state is freed.
    unsafe { bindings::th_net_tick_start(net) };
    Ok(())
}

fn free_state(net: *mut bindings::net) {
    // SAFETY: `net` is live and its slot holds the pointer `net_init` stored.
    let raw = unsafe { bindings::th_net_state(net) }.cast::<NetState>();
    // SAFETY: nothing else refers to the namespace's state any more: its
    // hooks are unregistered (which waits for running ones) and netlink
    // requests hold a reference on the namespace, so none is running.
    drop(unsafe { Pin::new_unchecked(KBox::from_raw(raw)) });
    // SAFETY: as above.
    unsafe { bindings::th_net_set_state(net, core::ptr::null_mut()) };
}

/// Pernet `init`, called from the C trampoline in `glue.c`.
#[no_mangle]
extern "C" fn th_rs_net_init(net: *mut bindings::net) -> kernel::ffi::c_int {
    match net_init(net) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Pernet `exit`, called from the C trampoline in `glue.c`.
#[no_mangle]
extern "C" fn th_rs_net_exit(net: *mut bindings::net) {
    // SAFETY: `net` is being dismantled; `init` succeeded for it. After
    // these no hook or timer callback runs, so the state can go (held
    // packets are freed with it).
    unsafe {
        bindings::th_net_proc_remove(net);
        bindings::th_net_unregister_hooks(net);
        bindings::th_net_tick_stop(net);
    }
    free_state(net);
}

/// The housekeeping timer's callback (softirq), from `glue.c`.
#[no_mangle]
extern "C" fn th_rs_tick(net: *mut bindings::net) {
    // SAFETY: the timer runs only between `th_net_tick_start` in `init` and
    // `th_net_tick_stop` in `exit`, while the state is in place.
    let st = unsafe { NetState::of(net) };
    front::tick(st, net);
}
