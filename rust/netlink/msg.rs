// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over the generic netlink request, reply and dump buffers.

use crate::{bindings, netns::NetState};
use core::ffi::CStr;
use kernel::{
    error::code::{EINVAL, EMSGSIZE, ENOMEM},
    ffi::c_int,
    prelude::*,
};

/// Name of the generic netlink family.
pub(crate) const FAMILY_NAME: &str = "tcp_handoff";

/// One attribute of a request, already validated by the family's policy.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a> {
    nla: *const bindings::nlattr,
    data: &'a [u8],
}

impl<'a> Attr<'a> {
    /// The payload.
    pub(crate) fn data(&self) -> &'a [u8] {
        self.data
    }

    fn array<const N: usize>(&self) -> Option<[u8; N]> {
        self.data.get(..N)?.try_into().ok()
    }

    /// A native-endian `u32` payload.
    pub(crate) fn u32(&self) -> Option<u32> {
        self.array().map(u32::from_ne_bytes)
    }

    /// A big-endian `u16` payload.
    pub(crate) fn be16(&self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    /// A string payload without its NUL terminator: the bytes before the
    /// first NUL (`NLA_NUL_STRING` guarantees one; anything after it is
    /// ignored, as C readers of the attribute would).
    pub(crate) fn str_bytes(&self) -> &'a [u8] {
        let end = self
            .data
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.data.len());
        self.data.get(..end).unwrap_or(&[])
    }
}

/// `struct nlmsghdr` and `struct genlmsghdr` (the family has no header of
/// its own): where a request's attributes start.
const REQUEST_HDR_LEN: usize = 16 + 4;
/// Offset of `genlmsghdr.cmd` in a request.
const REQUEST_CMD_OFFSET: usize = 16;
/// `NLA_TYPE_MASK`: the type bits of `nla_type`.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// A `doit` request.
///
/// # Invariants
///
/// `info` is the valid `genl_info` of a request being handled; the
/// request's namespace is live and has module state.
pub(crate) struct Request {
    info: *mut bindings::genl_info,
}

impl Request {
    /// # Safety
    ///
    /// `info` must be the `genl_info` generic netlink passed to a `doit`
    /// handler of this family, and the value must not outlive the call.
    pub(crate) unsafe fn new(info: *mut bindings::genl_info) -> Self {
        // INVARIANT: guaranteed by the caller; genetlink requests hold a
        // reference on their namespace, whose state the family's
        // registration (after pernet) guarantees.
        Request { info }
    }

    /// The module state of the request's namespace.
    pub(crate) fn state(&self) -> &NetState {
        // SAFETY: by the type invariant `info` is valid and its namespace
        // is live with module state for the duration of the request.
        unsafe { NetState::of(bindings::th_genl_info_net(self.info)) }
    }

    /// The attribute of type `ty`, if present.
    pub(crate) fn attr(&self, ty: u32) -> Option<Attr<'_>> {
        // SAFETY: `info` is valid (type invariant); the family's `maxattr`
        // bounds `ty` because every caller passes a type of this op's set.
        let nla = unsafe { bindings::th_genl_info_attr(self.info, ty as c_int) };
        if nla.is_null() {
            return None;
        }
        // SAFETY: `nla` is a validated attribute inside the request, which
        // outlives `self`; its payload has `th_nla_len` readable bytes.
        let data = unsafe {
            let len = bindings::th_nla_len(nla).max(0) as usize;
            core::slice::from_raw_parts(bindings::th_nla_data(nla).cast::<u8>(), len)
        };
        Some(Attr { nla, data })
    }

    /// The attribute of type `ty`; sets the extack's missing-attribute
    /// report and fails with `EINVAL` when it is absent.
    pub(crate) fn require(&self, ty: u32) -> Result<Attr<'_>> {
        self.attr(ty).ok_or_else(|| {
            // SAFETY: `info` is valid (type invariant).
            unsafe { bindings::th_genl_set_missing(self.info, ty as c_int) };
            EINVAL
        })
    }

    /// Collects the `u32` payloads of every attribute of type `ty` in the
    /// request, in message order, for a `multi-attr` type ([`Self::attr`]
    /// sees only the last one). Stores at most `max` of them in `out` and
    /// returns how many the request carries.
    ///
    /// The request's attributes were all validated by the op's policy
    /// before the handler ran; this only reads them again, from `skb`.
    ///
    /// # Safety
    ///
    /// `skb` must be the buffer generic netlink passed to the `doit`
    /// handler together with this request's `genl_info`, and `cmd` the
    /// handler's command.
    pub(crate) unsafe fn all_u32(
        &self,
        skb: *mut bindings::sk_buff,
        cmd: u32,
        ty: u32,
        out: &mut KVec<u32>,
        max: usize,
    ) -> Result<usize> {
        let read = |off: usize, buf: &mut [u8; 4]| -> Result {
            let off = c_int::try_from(off).map_err(|_| EINVAL)?;
            // SAFETY: `skb` is the request's buffer (function
            // precondition); `buf` is writable for its 4 bytes.
            let err = unsafe { bindings::th_skb_copy_bits(skb, off, buf.as_mut_ptr().cast(), 4) };
            kernel::error::to_result(err)
        };
        // While a `doit` runs, the buffer starts at the request's netlink
        // header: `netlink_rcv_skb` pulls a message only after its handler
        // has returned. Check that before trusting it: the command must be
        // ours, and the last attribute found must be the one the policy
        // parse kept.
        let mut word = [0u8; 4];
        read(0, &mut word)?;
        let msg_len = u32::from_ne_bytes(word) as usize;
        read(REQUEST_CMD_OFFSET, &mut word)?;
        if u32::from(word[0]) != cmd {
            return Err(EINVAL);
        }
        // SAFETY: `skb` is valid (function precondition).
        let end = msg_len.min(unsafe { bindings::th_skb_len(skb) } as usize);
        let mut off = REQUEST_HDR_LEN;
        let mut count = 0;
        let mut last = None;
        while off + 4 <= end {
            read(off, &mut word)?;
            let [l0, l1, t0, t1] = word;
            let len = usize::from(u16::from_ne_bytes([l0, l1]));
            let kind = u16::from_ne_bytes([t0, t1]) & NLA_TYPE_MASK;
            if len < 4 {
                break;
            }
            if u32::from(kind) == ty && len == 8 {
                read(off + 4, &mut word)?;
                let v = u32::from_ne_bytes(word);
                if out.len() < max {
                    out.push(v, GFP_KERNEL)?;
                }
                count += 1;
                last = Some(v);
            }
            off += (len + 3) & !3;
        }
        if last != self.attr(ty).and_then(|a| a.u32()) {
            return Err(EINVAL);
        }
        Ok(count)
    }

    /// Records `msg` (and the offending attribute) in the extack and
    /// returns `err`, for `return Err(req.fail(...))`.
    pub(crate) fn fail(&self, err: Error, msg: &'static CStr, attr: Option<Attr<'_>>) -> Error {
        let nla = attr.map_or(core::ptr::null(), |a| a.nla);
        // SAFETY: `info` is valid (type invariant); `msg` is static, as the
        // extack keeps the pointer; `nla` is null or inside the request.
        unsafe { bindings::th_genl_set_err(self.info, msg.as_char_ptr(), nla) };
        err
    }

    /// Sends a reply message built by `fill`.
    pub(crate) fn reply(&self, fill: impl FnOnce(&mut Msg) -> Result) -> Result {
        let mut hdr = core::ptr::null_mut();
        // SAFETY: `info` is valid (type invariant); `hdr` is writable.
        let skb = unsafe { bindings::th_genl_reply_new(self.info, &mut hdr) };
        // SAFETY: `skb` is null or the message just started, ours.
        unsafe { Msg::fill_new(skb, fill) }?;
        // SAFETY: `skb`/`hdr` form a message started above; sending
        // consumes the skb whatever the result.
        kernel::error::to_result(unsafe { bindings::th_genl_reply_send(skb, hdr, self.info) })
    }
}

/// A netlink message being built.
///
/// # Invariants
///
/// `skb` is a valid netlink buffer, owned by the builder's caller, with a
/// message started (its genetlink header written) and not yet ended.
pub(crate) struct Msg {
    skb: *mut bindings::sk_buff,
}

impl Msg {
    /// Fills the message `skb` (null when its allocation failed) with
    /// `fill`; frees it if that fails, so the caller sends it only on `Ok`.
    ///
    /// # Safety
    ///
    /// `skb` must be null or a netlink buffer the caller owns, with a
    /// message started and not yet ended.
    unsafe fn fill_new(
        skb: *mut bindings::sk_buff,
        fill: impl FnOnce(&mut Msg) -> Result,
    ) -> Result {
        if skb.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: `skb` is a started message the caller owns.
        let mut msg = Msg { skb };
        if let Err(e) = fill(&mut msg) {
            // SAFETY: `skb` is owned by the caller, who will not send it.
            unsafe { bindings::th_genl_msg_free(skb) };
            return Err(e);
        }
        Ok(())
    }

    /// Builds a message of the events group with `fill` and sends it to
    /// `net`'s listeners (any context).
    ///
    /// # Safety
    ///
    /// `net` must be a live network namespace.
    pub(crate) unsafe fn multicast(
        net: *mut bindings::net,
        fill: impl FnOnce(&mut Msg) -> Result,
    ) -> Result {
        let mut hdr = core::ptr::null_mut();
        // SAFETY: `hdr` is writable.
        let skb = unsafe { bindings::th_genl_event_new(&mut hdr) };
        // SAFETY: `skb` is null or the message just started, ours.
        unsafe { Msg::fill_new(skb, fill) }?;
        // SAFETY: `skb`/`hdr` form a message started above; `net` is live
        // (function precondition); sending consumes the skb.
        unsafe { bindings::th_genl_event_send(net, skb, hdr) };
        Ok(())
    }

    /// Appends an attribute with payload `data`.
    pub(crate) fn put(&mut self, ty: u32, data: &[u8]) -> Result {
        // SAFETY: `skb` is valid (type invariant); `data` is readable.
        let err = unsafe {
            bindings::nla_put(
                self.skb,
                ty as c_int,
                data.len() as c_int,
                data.as_ptr().cast(),
            )
        };
        if err != 0 {
            return Err(EMSGSIZE);
        }
        Ok(())
    }

    /// Appends a native-endian `u32` attribute.
    pub(crate) fn put_u32(&mut self, ty: u32, v: u32) -> Result {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Appends a string attribute: `bytes` (at most 255 of them) and a
    /// NUL terminator.
    pub(crate) fn put_str(&mut self, ty: u32, bytes: &[u8]) -> Result {
        let mut buf = [0u8; 256];
        if bytes.len() >= buf.len() {
            return Err(EMSGSIZE);
        }
        for (d, s) in buf.iter_mut().zip(bytes) {
            *d = *s;
        }
        self.put(ty, buf.get(..=bytes.len()).unwrap_or(&[]))
    }

    /// Appends a big-endian `u16` attribute.
    pub(crate) fn put_be16(&mut self, ty: u32, v: u16) -> Result {
        self.put(ty, &v.to_be_bytes())
    }

    /// Appends a flag attribute when `set`.
    pub(crate) fn put_flag(&mut self, ty: u32, set: bool) -> Result {
        if set {
            self.put(ty, &[])
        } else {
            Ok(())
        }
    }

    /// Appends a `uint` attribute: 4 bytes when the value fits, else 8
    /// (what the kernel's `nla_put_uint` does).
    pub(crate) fn put_uint(&mut self, ty: u32, v: u64) -> Result {
        match u32::try_from(v) {
            Ok(small) => self.put_u32(ty, small),
            Err(_) => self.put(ty, &v.to_ne_bytes()),
        }
    }
}

/// Adds one message, written by `put`, to a pass of a dump; false when
/// `skb` has no room for it (nothing of it is left in `skb`).
///
/// # Safety
///
/// `skb` and `cb` must be the arguments generic netlink passed to a
/// `dumpit` handler of this family.
pub(crate) unsafe fn dump_one(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
    put: impl FnOnce(&mut Msg) -> Result,
) -> bool {
    // SAFETY: `skb` and `cb` are valid (function precondition).
    let hdr = unsafe { bindings::th_genl_dump_put(skb, cb) };
    if hdr.is_null() {
        return false;
    }
    // INVARIANT: a message was just started in `skb`.
    let mut msg = Msg { skb };
    if put(&mut msg).is_err() {
        // SAFETY: `hdr` is the unfinished message just started.
        unsafe { bindings::th_genl_msg_cancel(skb, hdr) };
        return false;
    }
    // SAFETY: as above.
    unsafe { bindings::th_genl_msg_end(skb, hdr) };
    true
}

/// Runs one pass of a dump over `items`, resuming where the previous pass
/// stopped, and returns what a `dumpit` returns (bytes added; 0 at the end).
///
/// # Safety
///
/// `skb` and `cb` must be the arguments generic netlink passed to a
/// `dumpit` handler of this family.
pub(crate) unsafe fn dump<T>(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
    items: &[T],
    put: impl Fn(&mut Msg, &T) -> Result,
) -> c_int {
    // SAFETY: `cb` is valid (function precondition); the cursor is its
    // private argument slot, zero at the first pass.
    let cursor = unsafe { &mut *bindings::th_genl_dump_cursor(cb) };
    let mut next = usize::try_from(*cursor).unwrap_or(usize::MAX);
    while let Some(item) = items.get(next) {
        // SAFETY: `skb` and `cb` are valid (function precondition).
        if !unsafe { dump_one(skb, cb, |m| put(m, item)) } {
            break;
        }
        next += 1;
    }
    *cursor = kernel::ffi::c_long::try_from(next).unwrap_or(kernel::ffi::c_long::MAX);
    // SAFETY: `skb` is valid.
    unsafe { bindings::th_skb_len(skb) as c_int }
}

/// The module state of a dump's namespace.
///
/// # Safety
///
/// `cb` must be the callback of a running dump of this family.
pub(crate) unsafe fn dump_state<'a>(cb: *mut bindings::netlink_callback) -> &'a NetState {
    // SAFETY: a running dump holds its socket, and so its namespace, alive.
    unsafe { NetState::of(bindings::th_genl_dump_net(cb)) }
}
