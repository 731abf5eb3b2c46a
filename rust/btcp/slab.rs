// SPDX-License-Identifier: GPL-2.0

//! The module's own slab caches: one per kind of connection entry, and one
//! for the front-end's reading of kept-alive connections (`follow`).
//!
//! Every entry of the front-end's and the back-end's tables is one object of
//! a cache of its own (a bucket holds only pointers to them). The caches are
//! created with `SLAB_NO_MERGE`, so `/proc/slabinfo` shows the module's
//! memory apart from the kernel's: the soak test reads them for growth, and
//! an entry's cost is the cache's object size. At unload,
//! `kmem_cache_destroy` is also a leak check: it warns about any object still
//! allocated.

use crate::{bindings, btcp};
use core::{
    ffi::CStr,
    marker::PhantomData,
    mem::{align_of, size_of},
    ops::{Deref, DerefMut},
    ptr::{self, NonNull},
};
use kernel::{
    prelude::*,
    sync::atomic::{Acquire, Atomic, Full, Release},
};

/// A slab cache that lives from module init to module exit.
///
/// # Invariants
///
/// `ptr` is null, or a cache made by `th_cache_create` for the size and
/// alignment of the one [`Cached`] type whose `CACHE` this is, and not yet
/// destroyed.
pub(crate) struct Cache {
    ptr: Atomic<*mut bindings::kmem_cache>,
}

impl Cache {
    /// A cache not created yet.
    pub(crate) const fn new() -> Self {
        // INVARIANT: null.
        Cache {
            ptr: Atomic::new(ptr::null_mut()),
        }
    }
}

/// A type whose values live in a slab cache of their own.
///
/// # Safety
///
/// No other type names the same `CACHE`.
pub(crate) unsafe trait Cached: Sized {
    /// The cache.
    const CACHE: &'static Cache;
    /// Its name in `/proc/slabinfo`.
    const NAME: &'static CStr;
}

/// An owned `T` in `T`'s slab cache (as `KBox`, but from a named cache).
///
/// # Invariants
///
/// `ptr` points to an initialised `T` allocated from `T::CACHE`, owned by
/// this value.
pub(crate) struct SlabBox<T: Cached> {
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

// SAFETY: a `SlabBox<T>` owns its `T` as a `KBox<T>` does; the cache's
// functions may be called from any context.
unsafe impl<T: Cached + Send> Send for SlabBox<T> {}
// SAFETY: as above; `&SlabBox<T>` gives only `&T`.
unsafe impl<T: Cached + Sync> Sync for SlabBox<T> {}

impl<T: Cached> SlabBox<T> {
    /// Moves `v` into a new object of its cache (`GFP_ATOMIC`), or gives it
    /// back when there is no memory.
    pub(crate) fn new(v: T) -> Result<Self, T> {
        let cache = T::CACHE.ptr.load(Acquire);
        if cache.is_null() {
            return Err(v);
        }
        // SAFETY: by `Cache`'s invariant `cache` is a live cache.
        let p = unsafe { bindings::th_cache_alloc(cache) }.cast::<T>();
        let Some(p) = NonNull::new(p) else {
            return Err(v);
        };
        // SAFETY: the cache's objects have `T`'s size and alignment (the
        // invariants of `Cache` and `Cached`), and `p` is a fresh object.
        unsafe { p.as_ptr().write(v) };
        // INVARIANT: `p` was just allocated from `T::CACHE` and initialised.
        Ok(SlabBox {
            ptr: p,
            _owns: PhantomData,
        })
    }
}

impl<T: Cached> Deref for SlabBox<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: by the type invariant `ptr` is a valid, owned `T`.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: Cached> DerefMut for SlabBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes the access unique.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T: Cached> Drop for SlabBox<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the `T` is valid and owned; it is
        // dropped once, here, and its memory goes back to the cache it came
        // from, which outlives every object (`Caches` is dropped last).
        unsafe {
            ptr::drop_in_place(self.ptr.as_ptr());
            bindings::th_cache_free(T::CACHE.ptr.load(Acquire), self.ptr.as_ptr().cast());
        }
    }
}

/// The module's caches: created at init, destroyed when this is dropped at
/// exit, after every namespace's state (and so every entry) is gone.
pub(crate) struct Caches(());

impl Caches {
    /// Creates every cache.
    pub(crate) fn new() -> Result<Self> {
        // Dropped on an error: destroys the caches created so far.
        let caches = Caches(());
        create::<btcp::front::Conn>()?;
        create::<btcp::back::Conn>()?;
        create::<btcp::follow::Follow>()?;
        Ok(caches)
    }
}

impl Drop for Caches {
    fn drop(&mut self) {
        destroy::<btcp::follow::Follow>();
        destroy::<btcp::back::Conn>();
        destroy::<btcp::front::Conn>();
    }
}

fn create<T: Cached>() -> Result {
    let (size, align) = (size_of::<T>(), align_of::<T>());
    // SAFETY: `NAME` is a static C string; size and alignment are `T`'s.
    let cache =
        unsafe { bindings::th_cache_create(T::NAME.as_char_ptr(), size as u32, align as u32) };
    if cache.is_null() {
        return Err(ENOMEM);
    }
    // INVARIANT: a cache for `T`'s size and alignment; `Cached` gives `T`
    // this `Cache` alone.
    T::CACHE.ptr.store(cache, Release);
    Ok(())
}

fn destroy<T: Cached>() {
    // INVARIANT: null from now on.
    let cache = T::CACHE.ptr.xchg(ptr::null_mut(), Full);
    if !cache.is_null() {
        // SAFETY: a cache made by `create`, destroyed once (the pointer was
        // swapped out above).
        unsafe { bindings::th_cache_destroy(cache) };
    }
}
