// SPDX-License-Identifier: GPL-2.0

//! A spinlock that also disables bottom halves.
//!
//! The netfilter hooks run in softirq context (packet receive) and in
//! process context (a socket's transmit path, the housekeeping timer's
//! callers); state they share must be locked with `spin_lock_bh()`, or a
//! softirq arriving on a CPU that holds the lock deadlocks it. The kernel
//! crate's [`kernel::sync::SpinLock`] has no such variant in this kernel,
//! so this module provides one as a lock backend, the way the kernel crate
//! builds its own.

use crate::bindings;
use kernel::sync::lock::{Backend, Lock};

/// A `spinlock_t` taken with `spin_lock_bh()`.
pub(crate) type SpinLockBh<T> = Lock<T, SpinLockBhBackend>;

/// Creates a [`SpinLockBh`] initialiser with a lockdep class of its own.
macro_rules! new_spinlock_bh {
    ($inner:expr, $name:literal) => {
        kernel::sync::lock::Lock::new($inner, $name, kernel::static_lock_class!())
    };
}
pub(crate) use new_spinlock_bh;

/// The backend of [`SpinLockBh`].
pub(crate) struct SpinLockBhBackend;

// SAFETY: `spinlock_t` ensures mutual exclusion; `lock`/`unlock` pair the
// `_bh` calls, and `relock` keeps the default (it calls `lock`).
unsafe impl Backend for SpinLockBhBackend {
    type State = kernel::bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut kernel::bindings::lock_class_key,
    ) {
        // SAFETY: the caller guarantees `ptr` is valid for writes and that
        // `name` and `key` live forever.
        unsafe { kernel::bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: the caller guarantees `ptr` is an initialised lock.
        unsafe { bindings::th_spin_lock_bh(ptr.cast()) }
    }

    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        // SAFETY: the caller guarantees `ptr` is an initialised lock.
        (unsafe { bindings::th_spin_trylock_bh(ptr.cast()) } != 0).then_some(())
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: the caller owns the lock.
        unsafe { bindings::th_spin_unlock_bh(ptr.cast()) }
    }

    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: the caller guarantees `ptr` is an initialised lock.
        unsafe { bindings::th_lockdep_assert_held(ptr.cast()) }
    }
}
