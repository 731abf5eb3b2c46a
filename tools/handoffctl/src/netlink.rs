// SPDX-License-Identifier: GPL-2.0

//! A small raw generic netlink client.
//!
//! Why it exists: handoffctl needs only a handful of generic netlink features
//! (resolve a family, send a "do" request and wait for its ACK, run a dump,
//! decode extended ACKs), and it must show exactly what the kernel said when
//! it refuses a request, including the extack message, the offending
//! attribute and the missing attribute type.  Writing those few hundred lines
//! on top of `libc` keeps the tool free of large netlink stacks and makes
//! the wire format visible and unit-testable.
//!
//! The layout follows `include/uapi/linux/netlink.h` and `genetlink.h`:
//!
//! * `struct nlmsghdr` is 16 bytes `{len: u32, type: u16, flags: u16,
//!   seq: u32, pid: u32}`, native endian, messages aligned to 4 bytes;
//! * `struct genlmsghdr` is 4 bytes `{cmd: u8, version: u8, reserved: u16}`;
//! * `struct nlattr` is 4 bytes `{len: u16, type: u16}`, where `len` counts
//!   the header and the payload but not the padding to `NLA_ALIGNTO` (4);
//! * `NLMSG_ERROR` carries `struct nlmsgerr {int error; struct nlmsghdr
//!   msg;}`, then (unless `NLM_F_CAPPED`) the payload of the request, then
//!   (with `NLM_F_ACK_TLVS`) the extended ACK attributes `NLMSGERR_ATTR_*`;
//! * `NLMSG_DONE` ends a dump and carries an `int` error, optionally
//!   followed by extended ACK attributes.
//!
//! Everything except [`Socket`] works on byte slices, so the encoding and
//! parsing code is tested without a kernel.

use std::fmt;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// Size of `struct genlmsghdr`.
pub const GENL_HDRLEN: usize = 4;
/// Size of `struct nlattr`.
pub const NLA_HDRLEN: usize = 4;
/// Size of `struct nlmsgerr` (`int error` followed by a `struct nlmsghdr`).
const NLMSGERR_LEN: usize = 4 + NLMSG_HDRLEN;
/// Largest attribute payload: `nla_len` is a `u16` that includes the header.
pub const NLA_MAX_PAYLOAD: usize = u16::MAX as usize - NLA_HDRLEN;

/// Message types below this value are netlink control messages.
pub const NLMSG_MIN_TYPE: u16 = 0x10;
pub const NLMSG_NOOP: u16 = 0x1;
pub const NLMSG_ERROR: u16 = 0x2;
pub const NLMSG_DONE: u16 = 0x3;
pub const NLMSG_OVERRUN: u16 = 0x4;

pub const NLM_F_REQUEST: u16 = 0x01;
/// Set on each message of a dump; the end is `NLMSG_DONE`, not this flag.
#[allow(dead_code)]
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_ACK: u16 = 0x04;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_ROOT: u16 = 0x100;
pub const NLM_F_MATCH: u16 = 0x200;
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
/// Flag of an `NLMSG_ERROR` message: the request payload was not echoed.
pub const NLM_F_CAPPED: u16 = 0x100;
/// Flag of an `NLMSG_ERROR`/`NLMSG_DONE` message: extended ACK TLVs follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

pub const NLA_F_NESTED: u16 = 1 << 15;
pub const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// `enum nlmsgerr_attrs`.
pub const NLMSGERR_ATTR_MSG: u16 = 1;
pub const NLMSGERR_ATTR_OFFS: u16 = 2;
pub const NLMSGERR_ATTR_COOKIE: u16 = 3;
/// Nested policy description; not decoded, only skipped.
#[allow(dead_code)]
pub const NLMSGERR_ATTR_POLICY: u16 = 4;
pub const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;
pub const NLMSGERR_ATTR_MISS_NEST: u16 = 6;

/// The generic netlink controller ("nlctrl").
pub const GENL_ID_CTRL: u16 = 0x10;
pub const CTRL_CMD_GETFAMILY: u8 = 3;
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;
pub const CTRL_ATTR_VERSION: u16 = 3;
#[allow(dead_code)]
pub const CTRL_ATTR_HDRSIZE: u16 = 4;
pub const CTRL_ATTR_MAXATTR: u16 = 5;
pub const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
pub const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
pub const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;
/// The version we put in requests to nlctrl (it does not check it).
const CTRL_VERSION: u8 = 1;

/// How long to wait for the kernel before giving up on a request.
const RECV_TIMEOUT_SECS: libc::time_t = 10;

/// Rounds `len` up to the netlink alignment (`NLMSG_ALIGNTO` and
/// `NLA_ALIGNTO` are both 4).
pub const fn align4(len: usize) -> usize {
    (len + 3) & !3
}

fn rd_u16(buf: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([buf[at], buf[at + 1]])
}

fn rd_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

/// A reply from the kernel that does not follow the netlink rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

fn perr<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

/// An attribute payload longer than `nla_len` can describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrTooLong(pub usize);

impl fmt::Display for AttrTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "attribute payload of {} bytes is longer than the maximum of {}",
            self.0, NLA_MAX_PAYLOAD
        )
    }
}

impl std::error::Error for AttrTooLong {}

/// A generic netlink request under construction: `nlmsghdr`, `genlmsghdr`
/// and a flat list of attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    buf: Vec<u8>,
}

impl Request {
    /// Starts a request for `cmd` of the family whose id is `family`.
    pub fn new(family: u16, flags: u16, cmd: u8, version: u8) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, kept current
        buf.extend_from_slice(&family.to_ne_bytes()); // nlmsg_type
        buf.extend_from_slice(&flags.to_ne_bytes()); // nlmsg_flags
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_seq, set on send
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: 0, the kernel fills it
        buf.push(cmd); // genlmsghdr.cmd
        buf.push(version); // genlmsghdr.version
        buf.extend_from_slice(&0u16.to_ne_bytes()); // genlmsghdr.reserved
        let mut req = Request { buf };
        req.update_len();
        req
    }

    fn update_len(&mut self) {
        // The length can not exceed u32: every attribute is at most 64 KiB
        // and requests carry a handful of them.
        let len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
    }

    /// Appends an attribute whose payload is known to be short.
    fn push_attr(&mut self, ty: u16, payload: &[u8]) {
        debug_assert!(payload.len() <= NLA_MAX_PAYLOAD);
        let len = (NLA_HDRLEN + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        let padded = align4(self.buf.len());
        self.buf.resize(padded, 0);
        self.update_len();
    }

    /// Appends an attribute with an arbitrary payload; `ty` is used as is,
    /// flag bits included.
    pub fn put(&mut self, ty: u16, payload: &[u8]) -> Result<(), AttrTooLong> {
        if payload.len() > NLA_MAX_PAYLOAD {
            return Err(AttrTooLong(payload.len()));
        }
        self.push_attr(ty, payload);
        Ok(())
    }

    /// Appends a `u32` attribute in host byte order (`NLA_U32`).
    pub fn put_u32(&mut self, ty: u16, value: u32) {
        self.push_attr(ty, &value.to_ne_bytes());
    }

    /// Appends a `u16` attribute in network byte order (`NLA_BE16`).
    pub fn put_be16(&mut self, ty: u16, value: u16) {
        self.push_attr(ty, &value.to_be_bytes());
    }

    /// Appends a flag attribute (`NLA_FLAG`, no payload).
    pub fn put_flag(&mut self, ty: u16) {
        self.push_attr(ty, &[]);
    }

    /// Appends a NUL-terminated string attribute (`NLA_NUL_STRING`).
    pub fn put_str(&mut self, ty: u16, value: &str) -> Result<(), AttrTooLong> {
        let mut payload = Vec::with_capacity(value.len() + 1);
        payload.extend_from_slice(value.as_bytes());
        payload.push(0);
        self.put(ty, &payload)
    }

    /// Sets the sequence number the kernel echoes in its answers.
    pub fn set_seq(&mut self, seq: u32) {
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
    }

    pub fn family(&self) -> u16 {
        rd_u16(&self.buf, 4)
    }

    #[cfg(test)]
    pub fn flags(&self) -> u16 {
        rd_u16(&self.buf, 6)
    }

    pub fn seq(&self) -> u32 {
        rd_u32(&self.buf, 8)
    }

    pub fn cmd(&self) -> u8 {
        self.buf[NLMSG_HDRLEN]
    }

    /// Whether this request asks for a dump.
    #[cfg(test)]
    pub fn is_dump(&self) -> bool {
        self.flags() & NLM_F_DUMP == NLM_F_DUMP
    }

    /// The whole message as it goes on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The top-level attribute that starts at byte `offset` of the message,
    /// as reported by `NLMSGERR_ATTR_OFFS`.  Returns its type (flag bits
    /// masked off) and payload, or `None` if no attribute starts there.
    pub fn attr_at_offset(&self, offset: u32) -> Option<Attr<'_>> {
        let start = NLMSG_HDRLEN + GENL_HDRLEN;
        let mut pos = start;
        for attr in Attrs::new(&self.buf[start..]) {
            let attr = attr.ok()?;
            if pos == offset as usize {
                return Some(attr);
            }
            pos += align4(NLA_HDRLEN + attr.payload.len());
        }
        None
    }
}

/// One netlink attribute of a received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    /// The type as received, including `NLA_F_NESTED`/`NLA_F_NET_BYTEORDER`.
    pub raw_type: u16,
    pub payload: &'a [u8],
}

impl<'a> Attr<'a> {
    /// The attribute type without the flag bits.
    pub fn kind(&self) -> u16 {
        self.raw_type & NLA_TYPE_MASK
    }

    fn exact<const N: usize>(&self, what: &str) -> Result<[u8; N], ParseError> {
        self.payload.try_into().or_else(|_| {
            perr(format!(
                "attribute {} has {} bytes, expected {} for {}",
                self.kind(),
                self.payload.len(),
                N,
                what
            ))
        })
    }

    /// A host-endian `u32` (`NLA_U32`).
    pub fn get_u32(&self) -> Result<u32, ParseError> {
        self.exact::<4>("a u32").map(u32::from_ne_bytes)
    }

    /// A host-endian `u16` (`NLA_U16`).
    pub fn get_u16(&self) -> Result<u16, ParseError> {
        self.exact::<2>("a u16").map(u16::from_ne_bytes)
    }

    /// A big-endian `u16` (`NLA_BE16`).
    pub fn get_be16(&self) -> Result<u16, ParseError> {
        self.exact::<2>("a big-endian u16").map(u16::from_be_bytes)
    }

    /// Exactly `N` bytes (addresses).
    pub fn get_bytes<const N: usize>(&self) -> Result<[u8; N], ParseError> {
        self.exact::<N>("a binary value")
    }

    /// A variable-size unsigned integer (`NLA_UINT`): 4 or 8 bytes, host
    /// endian, as written by `nla_put_uint()`.
    pub fn get_uint(&self) -> Result<u64, ParseError> {
        match self.payload.len() {
            4 => self.get_u32().map(u64::from),
            8 => Ok(u64::from_ne_bytes(self.exact::<8>("a u64")?)),
            n => perr(format!(
                "attribute {} has {} bytes, expected 4 or 8 for a uint",
                self.kind(),
                n
            )),
        }
    }

    /// A string attribute, up to its first NUL byte.
    pub fn get_string(&self) -> String {
        let end = self
            .payload
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.payload.len());
        String::from_utf8_lossy(&self.payload[..end]).into_owned()
    }
}

/// Iterator over a flat run of attributes.  It yields an error and stops if
/// an attribute header is inconsistent with the buffer.
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Attrs<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Attrs {
            rest: buf,
            failed: false,
        }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < NLA_HDRLEN {
            self.failed = true;
            return Some(perr(format!(
                "{} trailing bytes after the last attribute",
                self.rest.len()
            )));
        }
        let len = rd_u16(self.rest, 0) as usize;
        let raw_type = rd_u16(self.rest, 2);
        if len < NLA_HDRLEN || len > self.rest.len() {
            self.failed = true;
            return Some(perr(format!(
                "attribute {} has length {} with {} bytes left",
                raw_type & NLA_TYPE_MASK,
                len,
                self.rest.len()
            )));
        }
        let payload = &self.rest[NLA_HDRLEN..len];
        // The padding of the last attribute may be missing.
        let advance = align4(len).min(self.rest.len());
        self.rest = &self.rest[advance..];
        Some(Ok(Attr { raw_type, payload }))
    }
}

/// Parses all attributes of `buf`.
#[cfg(test)]
pub fn parse_attrs(buf: &[u8]) -> Result<Vec<Attr<'_>>, ParseError> {
    Attrs::new(buf).collect()
}

/// One netlink message of a received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg<'a> {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub portid: u32,
    /// Everything after the `nlmsghdr`, up to `nlmsg_len`.
    pub payload: &'a [u8],
}

/// Iterator over the messages of one datagram.
#[derive(Debug, Clone)]
pub struct Msgs<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Msgs<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Msgs {
            rest: buf,
            failed: false,
        }
    }
}

impl<'a> Iterator for Msgs<'a> {
    type Item = Result<Msg<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < NLMSG_HDRLEN {
            self.failed = true;
            return Some(perr(format!(
                "{} trailing bytes after the last message",
                self.rest.len()
            )));
        }
        let len = rd_u32(self.rest, 0) as usize;
        if len < NLMSG_HDRLEN || len > self.rest.len() {
            self.failed = true;
            return Some(perr(format!(
                "message has length {} with {} bytes left",
                len,
                self.rest.len()
            )));
        }
        let msg = Msg {
            ty: rd_u16(self.rest, 4),
            flags: rd_u16(self.rest, 6),
            seq: rd_u32(self.rest, 8),
            portid: rd_u32(self.rest, 12),
            payload: &self.rest[NLMSG_HDRLEN..len],
        };
        let advance = align4(len).min(self.rest.len());
        self.rest = &self.rest[advance..];
        Some(Ok(msg))
    }
}

/// The extended ACK attributes of an `NLMSG_ERROR` or `NLMSG_DONE` message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtAck {
    /// `NLMSGERR_ATTR_MSG`: human readable error or warning.
    pub msg: Option<String>,
    /// `NLMSGERR_ATTR_OFFS`: offset of the offending attribute in the
    /// request, counted from the start of its `nlmsghdr`.
    pub offset: Option<u32>,
    /// `NLMSGERR_ATTR_MISS_TYPE`: type of a missing required attribute.
    pub miss_type: Option<u32>,
    /// `NLMSGERR_ATTR_MISS_NEST`: offset of the nest that lacks it.
    pub miss_nest: Option<u32>,
    /// `NLMSGERR_ATTR_COOKIE`.
    pub cookie: Option<Vec<u8>>,
}

impl ExtAck {
    /// Parses the TLVs; unknown ones (such as `NLMSGERR_ATTR_POLICY`) are
    /// skipped.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let mut ext = ExtAck::default();
        for attr in Attrs::new(buf) {
            let attr = attr?;
            match attr.kind() {
                NLMSGERR_ATTR_MSG => ext.msg = Some(attr.get_string()),
                NLMSGERR_ATTR_OFFS => ext.offset = Some(attr.get_u32()?),
                NLMSGERR_ATTR_MISS_TYPE => ext.miss_type = Some(attr.get_u32()?),
                NLMSGERR_ATTR_MISS_NEST => ext.miss_nest = Some(attr.get_u32()?),
                NLMSGERR_ATTR_COOKIE => ext.cookie = Some(attr.payload.to_vec()),
                _ => {}
            }
        }
        Ok(ext)
    }
}

/// A decoded `NLMSG_ERROR` (an ACK when `error` is 0) or `NLMSG_DONE`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// 0 or a negative errno, as sent by the kernel.
    pub error: i32,
    pub ext: ExtAck,
}

/// Decodes the payload of an `NLMSG_ERROR` message with header `flags`.
pub fn parse_error_msg(flags: u16, payload: &[u8]) -> Result<Status, ParseError> {
    if payload.len() < NLMSGERR_LEN {
        return perr(format!(
            "NLMSG_ERROR message has {} bytes, expected at least {}",
            payload.len(),
            NLMSGERR_LEN
        ));
    }
    let error = rd_u32(payload, 0) as i32;
    let mut ext = ExtAck::default();
    if flags & NLM_F_ACK_TLVS != 0 {
        let tlv_start = if flags & NLM_F_CAPPED != 0 {
            NLMSGERR_LEN
        } else {
            // The kernel echoed the payload of our request, padded.
            let orig_len = rd_u32(payload, 4) as usize;
            match orig_len.checked_sub(NLMSG_HDRLEN) {
                Some(n) => NLMSGERR_LEN + align4(n),
                None => return perr("NLMSG_ERROR echoes a request shorter than its header"),
            }
        };
        if tlv_start > payload.len() {
            return perr("NLMSG_ERROR message is shorter than the request it echoes");
        }
        ext = ExtAck::parse(&payload[tlv_start..])?;
    }
    Ok(Status { error, ext })
}

/// Decodes the payload of an `NLMSG_DONE` message with header `flags`.
pub fn parse_done_msg(flags: u16, payload: &[u8]) -> Result<Status, ParseError> {
    // Very old kernels sent NLMSG_DONE without a payload.
    if payload.len() < 4 {
        return Ok(Status::default());
    }
    let error = rd_u32(payload, 0) as i32;
    let ext = if flags & NLM_F_ACK_TLVS != 0 {
        ExtAck::parse(&payload[4..])?
    } else {
        ExtAck::default()
    };
    Ok(Status { error, ext })
}

/// An error reported by the kernel for our request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    /// Positive errno.
    pub errno: i32,
    pub ext: ExtAck,
    /// Type of the request attribute `ext.offset` points at, if any.
    pub bad_attr: Option<u16>,
}

/// Why a netlink request failed.
#[derive(Debug)]
pub enum NlError {
    /// A system call failed.
    Io { what: &'static str, err: io::Error },
    /// The kernel refused the request.
    Kernel(KernelError),
    /// The kernel's answer made no sense.
    Protocol(String),
}

impl NlError {
    /// The errno that best describes the error.
    pub fn errno(&self) -> i32 {
        match self {
            NlError::Io { err, .. } => err.raw_os_error().unwrap_or(libc::EIO),
            NlError::Kernel(k) => k.errno,
            NlError::Protocol(_) => libc::EPROTO,
        }
    }
}

impl fmt::Display for NlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NlError::Io { what, err } => match err.raw_os_error() {
                Some(errno) => write!(f, "{}: {}", what, strerror(errno)),
                None => write!(f, "{}: {}", what, err),
            },
            NlError::Kernel(k) => {
                f.write_str(&strerror(k.errno))?;
                if let Some(msg) = &k.ext.msg {
                    write!(f, ": {}", msg)?;
                }
                Ok(())
            }
            NlError::Protocol(msg) => write!(f, "malformed netlink answer: {}", msg),
        }
    }
}

impl std::error::Error for NlError {}

impl From<ParseError> for NlError {
    fn from(e: ParseError) -> Self {
        NlError::Protocol(e.0)
    }
}

/// The text for an errno value, as `strerror(3)` gives it.
pub fn strerror(errno: i32) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; the libc crate
    // binds `strerror_r` to the XSI variant, which writes a NUL-terminated
    // string into `buf` and returns 0 on success.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {}", errno);
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// One generic netlink message received as an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenlReply {
    pub cmd: u8,
    pub version: u8,
    /// The attributes, undecoded.
    pub attrs: Vec<u8>,
}

impl GenlReply {
    pub fn attrs(&self) -> Attrs<'_> {
        Attrs::new(&self.attrs)
    }
}

/// Everything the kernel answered to one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub replies: Vec<GenlReply>,
    /// The dump changed while it ran (`NLM_F_DUMP_INTR`).
    pub interrupted: bool,
    /// An extack message that came with a successful ACK or `NLMSG_DONE`.
    pub warning: Option<String>,
}

/// Collects the answers to one request from the datagrams the kernel sends,
/// until the final ACK, error or `NLMSG_DONE`.
#[derive(Debug)]
pub struct Transaction {
    family: u16,
    seq: u32,
    outcome: Outcome,
    finished: bool,
}

impl Transaction {
    /// Expects answers to `req`, which has been sent with its current
    /// sequence number.
    pub fn new(req: &Request) -> Self {
        Transaction {
            family: req.family(),
            seq: req.seq(),
            outcome: Outcome::default(),
            finished: false,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Takes the collected answers.
    pub fn into_outcome(self) -> Outcome {
        self.outcome
    }

    /// Processes one datagram.  Returns `Ok(true)` once the request is
    /// complete; messages after that are ignored.
    pub fn feed(&mut self, datagram: &[u8]) -> Result<bool, NlError> {
        for msg in Msgs::new(datagram) {
            if self.finished {
                break;
            }
            let msg = msg?;
            if msg.seq != self.seq {
                // A late answer to an earlier request; not ours.
                continue;
            }
            match msg.ty {
                NLMSG_NOOP => {}
                NLMSG_OVERRUN => return Err(NlError::Protocol("receive overrun".into())),
                NLMSG_ERROR => {
                    let status = parse_error_msg(msg.flags, msg.payload)?;
                    self.finish(status)?;
                }
                NLMSG_DONE => {
                    let status = parse_done_msg(msg.flags, msg.payload)?;
                    self.finish(status)?;
                }
                ty if ty < NLMSG_MIN_TYPE => {
                    // Reserved control message types: ignore.
                }
                ty if ty != self.family => {
                    return Err(NlError::Protocol(format!(
                        "answer of type {} to a request of type {}",
                        ty, self.family
                    )));
                }
                _ => {
                    if msg.payload.len() < GENL_HDRLEN {
                        return Err(NlError::Protocol(format!(
                            "generic netlink message of {} bytes has no genlmsghdr",
                            msg.payload.len()
                        )));
                    }
                    if msg.flags & NLM_F_DUMP_INTR != 0 {
                        self.outcome.interrupted = true;
                    }
                    self.outcome.replies.push(GenlReply {
                        cmd: msg.payload[0],
                        version: msg.payload[1],
                        attrs: msg.payload[GENL_HDRLEN..].to_vec(),
                    });
                    // A "do" answered without NLM_F_ACK would end here, but we
                    // always ask for the ACK and wait for it.
                }
            }
        }
        Ok(self.finished)
    }

    fn finish(&mut self, status: Status) -> Result<(), NlError> {
        self.finished = true;
        if status.error == 0 {
            self.outcome.warning = status.ext.msg;
            return Ok(());
        }
        Err(NlError::Kernel(KernelError {
            // The kernel sends a negative errno; be tolerant of a positive one.
            errno: i32::try_from(status.error.unsigned_abs()).unwrap_or(i32::MAX),
            ext: status.ext,
            bad_attr: None,
        }))
    }
}

/// What nlctrl told us about a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyInfo {
    pub id: u16,
    pub version: u32,
    pub maxattr: u32,
    /// Multicast groups: `(name, id)`.
    pub mcast_groups: Vec<(String, u32)>,
}

/// Decodes a `CTRL_CMD_NEWFAMILY` answer.
pub fn parse_family(reply: &GenlReply) -> Result<FamilyInfo, ParseError> {
    let mut id = None;
    let mut version = 0;
    let mut maxattr = 0;
    let mut mcast_groups = Vec::new();
    for attr in reply.attrs() {
        let attr = attr?;
        match attr.kind() {
            CTRL_ATTR_FAMILY_ID => id = Some(attr.get_u16()?),
            CTRL_ATTR_VERSION => version = attr.get_u32()?,
            CTRL_ATTR_MAXATTR => maxattr = attr.get_u32()?,
            CTRL_ATTR_MCAST_GROUPS => {
                // One nested attribute per group, each with a name and id.
                for grp in Attrs::new(attr.payload) {
                    let (mut name, mut gid) = (None, None);
                    for a in Attrs::new(grp?.payload) {
                        let a = a?;
                        match a.kind() {
                            CTRL_ATTR_MCAST_GRP_NAME => name = Some(a.get_string()),
                            CTRL_ATTR_MCAST_GRP_ID => gid = Some(a.get_u32()?),
                            _ => {}
                        }
                    }
                    if let (Some(name), Some(gid)) = (name, gid) {
                        mcast_groups.push((name, gid));
                    }
                }
            }
            _ => {}
        }
    }
    match id {
        Some(id) => Ok(FamilyInfo {
            id,
            version,
            maxattr,
            mcast_groups,
        }),
        None => perr("nlctrl answer without CTRL_ATTR_FAMILY_ID"),
    }
}

/// Builds the nlctrl request that resolves family `name`.
pub fn getfamily_request(name: &str) -> Result<Request, AttrTooLong> {
    let mut req = Request::new(
        GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_ACK,
        CTRL_CMD_GETFAMILY,
        CTRL_VERSION,
    );
    req.put_str(CTRL_ATTR_FAMILY_NAME, name)?;
    Ok(req)
}

fn io_err(what: &'static str) -> NlError {
    NlError::Io {
        what,
        err: io::Error::last_os_error(),
    }
}

/// Sets `SO_RCVTIMEO` of `fd` to `secs` seconds (0: wait for ever).
fn set_recv_timeout(fd: &OwnedFd, secs: libc::time_t) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: secs,
        tv_usec: 0,
    };
    // SAFETY: `tv` is a valid timeval for the duration of the call and the
    // length passed matches its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A `NETLINK_GENERIC` socket bound to a kernel-assigned port id.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl Socket {
    /// Opens the socket and turns on extended ACKs.
    pub fn open() -> Result<Self, NlError> {
        // SAFETY: plain socket(2) call with constant arguments.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_GENERIC,
            )
        };
        if fd < 0 {
            return Err(io_err("cannot open a generic netlink socket"));
        }
        // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };

        let one: libc::c_int = 1;
        // SAFETY: `one` is a valid c_int for the duration of the call and
        // the length passed matches its size.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_NETLINK,
                libc::NETLINK_EXT_ACK,
                (&one as *const libc::c_int).cast(),
                mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        // Kernels before 4.12 lack extended ACKs; errors still work there.
        if rc < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::ENOPROTOOPT) {
            return Err(io_err("cannot enable NETLINK_EXT_ACK"));
        }

        set_recv_timeout(&fd, RECV_TIMEOUT_SECS)
            .map_err(|_| io_err("cannot set the receive timeout"))?;

        // SAFETY: sockaddr_nl is plain data for which all zeroes is valid.
        let mut addr: libc::sockaddr_nl = unsafe { mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `addr` is a valid sockaddr_nl and the length matches it;
        // nl_pid 0 lets the kernel assign the port id.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io_err("cannot bind the netlink socket"));
        }

        // Start from a per-process sequence number so that answers to an
        // earlier process on a recycled port id can not be mistaken for ours.
        let seq = std::process::id().wrapping_mul(0x10000);
        Ok(Socket {
            fd,
            seq,
            buf: vec![0; 32 * 1024],
        })
    }

    fn send(&self, msg: &[u8]) -> Result<(), NlError> {
        // SAFETY: sockaddr_nl is plain data for which all zeroes is valid.
        let mut dst: libc::sockaddr_nl = unsafe { mem::zeroed() };
        dst.nl_family = libc::AF_NETLINK as libc::sa_family_t; // nl_pid 0: the kernel
        loop {
            // SAFETY: `msg` is valid for reads of `msg.len()` bytes and `dst`
            // is a valid sockaddr_nl whose size is passed along.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    msg.as_ptr().cast(),
                    msg.len(),
                    0,
                    (&dst as *const libc::sockaddr_nl).cast(),
                    mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if n < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(io_err("cannot send the netlink request"));
            }
            if n as usize != msg.len() {
                return Err(NlError::Protocol(format!(
                    "sent {} of {} bytes",
                    n,
                    msg.len()
                )));
            }
            return Ok(());
        }
    }

    /// Receives one datagram from the kernel into `self.buf`, growing the
    /// buffer first if the datagram is larger.  Returns its length.
    fn recv(&mut self) -> Result<usize, NlError> {
        loop {
            // Peek with MSG_TRUNC to learn the real size of the datagram.
            // SAFETY: `self.buf` is valid for writes of its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_PEEK | libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => {
                        return Err(NlError::Io {
                            what: "no answer from the kernel",
                            err: io::Error::from_raw_os_error(libc::ETIMEDOUT),
                        })
                    }
                    _ => {
                        return Err(NlError::Io {
                            what: "cannot receive the netlink answer",
                            err,
                        })
                    }
                }
            }
            let size = n as usize;
            if size > self.buf.len() {
                self.buf.resize(size, 0);
            }

            // SAFETY: sockaddr_nl is plain data for which all zeroes is valid.
            let mut src: libc::sockaddr_nl = unsafe { mem::zeroed() };
            let mut src_len = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            // SAFETY: `self.buf` is valid for writes of its length, `src` and
            // `src_len` are valid for writes and `src_len` holds its size.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    0,
                    (&mut src as *mut libc::sockaddr_nl).cast(),
                    &mut src_len,
                )
            };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(NlError::Io {
                    what: "cannot receive the netlink answer",
                    err,
                });
            }
            if src.nl_pid != 0 {
                // Not from the kernel: ignore.
                continue;
            }
            return Ok(n as usize);
        }
    }

    /// Joins multicast group `group` and from then on waits for messages
    /// without a timeout (see [`Self::notifications`]).
    pub fn subscribe(&mut self, group: u32) -> Result<(), NlError> {
        // SAFETY: `group` is a valid u32 for the duration of the call and the
        // length passed matches its size.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_NETLINK,
                libc::NETLINK_ADD_MEMBERSHIP,
                (&group as *const u32).cast(),
                mem::size_of::<u32>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io_err("cannot join the multicast group"));
        }
        // No timeout: events come when they come.
        set_recv_timeout(&self.fd, 0).map_err(|_| io_err("cannot clear the receive timeout"))
    }

    /// Waits for the next datagram and returns the notifications of family
    /// `family` in it (sequence number 0). An overrun (the kernel dropped
    /// messages because this reader was slow) is an error.
    pub fn notifications(&mut self, family: u16) -> Result<Vec<GenlReply>, NlError> {
        let n = self.recv()?;
        let mut out = Vec::new();
        for msg in Msgs::new(&self.buf[..n]) {
            let msg = msg?;
            if msg.ty == NLMSG_OVERRUN {
                return Err(NlError::Protocol(
                    "receive overrun: events were lost".into(),
                ));
            }
            if msg.ty != family || msg.seq != 0 || msg.payload.len() < GENL_HDRLEN {
                continue;
            }
            out.push(GenlReply {
                cmd: msg.payload[0],
                version: msg.payload[1],
                attrs: msg.payload[GENL_HDRLEN..].to_vec(),
            });
        }
        Ok(out)
    }

    /// Sends `req` with a fresh sequence number and collects the answers.
    pub fn transact(&mut self, req: &mut Request) -> Result<Outcome, NlError> {
        self.seq = self.seq.wrapping_add(1);
        req.set_seq(self.seq);
        self.send(req.as_bytes())?;
        let mut tr = Transaction::new(req);
        while !tr.is_finished() {
            let n = self.recv()?;
            if let Err(mut e) = tr.feed(&self.buf[..n]) {
                if let NlError::Kernel(k) = &mut e {
                    k.bad_attr = k
                        .ext
                        .offset
                        .and_then(|off| req.attr_at_offset(off))
                        .map(|a| a.kind());
                }
                return Err(e);
            }
        }
        Ok(tr.into_outcome())
    }

    /// Asks nlctrl for the family `name`.  A missing family is a
    /// [`NlError::Kernel`] with errno `ENOENT`.
    pub fn resolve_family(&mut self, name: &str) -> Result<FamilyInfo, NlError> {
        let mut req =
            getfamily_request(name).map_err(|e| NlError::Protocol(format!("family name: {e}")))?;
        let outcome = self.transact(&mut req)?;
        match outcome.replies.first() {
            Some(reply) => Ok(parse_family(reply)?),
            None => Err(NlError::Protocol(
                "nlctrl sent no family description".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds one netlink message the way the kernel would.
    fn nlmsg(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&1234u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m.resize(align4(m.len()), 0);
        m
    }

    fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((NLA_HDRLEN + payload.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&ty.to_ne_bytes());
        a.extend_from_slice(payload);
        a.resize(align4(a.len()), 0);
        a
    }

    /// An NLMSG_ERROR for `req` as netlink_ack() builds it.
    fn ack(req: &Request, error: i32, capped: bool, tlvs: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&error.to_ne_bytes());
        let mut flags = 0;
        if capped {
            p.extend_from_slice(&req.as_bytes()[..NLMSG_HDRLEN]);
            flags |= NLM_F_CAPPED;
        } else {
            p.extend_from_slice(req.as_bytes());
        }
        if !tlvs.is_empty() {
            flags |= NLM_F_ACK_TLVS;
            p.extend_from_slice(tlvs);
        }
        nlmsg(NLMSG_ERROR, flags, req.seq(), &p)
    }

    #[test]
    fn header_layout() {
        let mut req = Request::new(0x1c, NLM_F_REQUEST | NLM_F_ACK, 7, 1);
        req.set_seq(0x01020304);
        let b = req.as_bytes();
        assert_eq!(b.len(), 20);
        assert_eq!(rd_u32(b, 0), 20);
        assert_eq!(rd_u16(b, 4), 0x1c);
        assert_eq!(rd_u16(b, 6), 0x5);
        assert_eq!(rd_u32(b, 8), 0x01020304);
        assert_eq!(rd_u32(b, 12), 0);
        assert_eq!(&b[16..20], &[7, 1, 0, 0]);
        assert_eq!(req.cmd(), 7);
        assert!(!req.is_dump());
        let dump = Request::new(0x1c, NLM_F_REQUEST | NLM_F_DUMP, 3, 1);
        assert!(dump.is_dump());
        assert_eq!(dump.flags(), 0x301);
    }

    #[test]
    fn attribute_encoding_and_padding() {
        let mut req = Request::new(0x20, NLM_F_REQUEST, 1, 1);
        req.put_u32(1, 0xdeadbeef);
        req.put_be16(4, 7000);
        req.put_flag(6);
        req.put(3, &[1, 2, 3]).unwrap();
        let b = req.as_bytes();
        let attrs = &b[20..];
        let mut expect = Vec::new();
        expect.extend_from_slice(&8u16.to_ne_bytes());
        expect.extend_from_slice(&1u16.to_ne_bytes());
        expect.extend_from_slice(&0xdeadbeefu32.to_ne_bytes());
        expect.extend_from_slice(&6u16.to_ne_bytes());
        expect.extend_from_slice(&4u16.to_ne_bytes());
        expect.extend_from_slice(&[0x1b, 0x58, 0, 0]); // 7000 big endian + pad
        expect.extend_from_slice(&4u16.to_ne_bytes());
        expect.extend_from_slice(&6u16.to_ne_bytes());
        expect.extend_from_slice(&7u16.to_ne_bytes());
        expect.extend_from_slice(&3u16.to_ne_bytes());
        expect.extend_from_slice(&[1, 2, 3, 0]);
        assert_eq!(attrs, &expect[..]);
        assert_eq!(rd_u32(b, 0) as usize, b.len());
        assert_eq!(b.len() % 4, 0);
    }

    #[test]
    fn string_attribute_is_nul_terminated() {
        let req = getfamily_request("tcp_handoff").unwrap();
        let b = req.as_bytes();
        assert_eq!(rd_u16(b, 4), GENL_ID_CTRL);
        assert_eq!(b[16], CTRL_CMD_GETFAMILY);
        // 4 header + 11 chars + NUL = 16
        assert_eq!(rd_u16(b, 20), 16);
        assert_eq!(rd_u16(b, 22), CTRL_ATTR_FAMILY_NAME);
        assert_eq!(&b[24..36], b"tcp_handoff\0");
        assert_eq!(b.len(), 36);
    }

    #[test]
    fn oversized_attribute_rejected() {
        let mut req = Request::new(0x20, NLM_F_REQUEST, 1, 1);
        assert_eq!(
            req.put(1, &vec![0; NLA_MAX_PAYLOAD + 1]),
            Err(AttrTooLong(NLA_MAX_PAYLOAD + 1))
        );
        assert!(req.put(1, &vec![0; NLA_MAX_PAYLOAD]).is_ok());
        assert_eq!(rd_u16(req.as_bytes(), 20), u16::MAX);
    }

    #[test]
    fn attr_parsing_roundtrip_and_flags() {
        let mut buf = nla(1 | NLA_F_NET_BYTEORDER, &[0xc6, 0x33, 0x64, 0x02]);
        buf.extend(nla(6, &[]));
        buf.extend(nla(9, &[1, 2, 3, 4, 5]));
        let attrs = parse_attrs(&buf).unwrap();
        assert_eq!(attrs.len(), 3);
        assert_eq!(attrs[0].kind(), 1);
        assert_eq!(attrs[0].raw_type, 1 | NLA_F_NET_BYTEORDER);
        assert_eq!(attrs[0].get_bytes::<4>().unwrap(), [0xc6, 0x33, 0x64, 0x02]);
        assert_eq!(attrs[1].payload, &[] as &[u8]);
        assert_eq!(attrs[2].payload, &[1, 2, 3, 4, 5]);
    }

    #[test]
    fn attr_last_padding_may_be_missing() {
        let mut buf = nla(2, &[1, 2, 3]);
        buf.truncate(7);
        let attrs = parse_attrs(&buf).unwrap();
        assert_eq!(attrs[0].payload, &[1, 2, 3]);
    }

    #[test]
    fn attr_parsing_rejects_bad_lengths() {
        // nla_len smaller than the header
        let mut buf = Vec::new();
        buf.extend_from_slice(&2u16.to_ne_bytes());
        buf.extend_from_slice(&1u16.to_ne_bytes());
        assert!(parse_attrs(&buf).is_err());
        // nla_len beyond the buffer
        let mut buf = nla(1, &[0; 4]);
        buf[0] = 12;
        assert!(parse_attrs(&buf).is_err());
        // trailing garbage shorter than a header
        let mut buf = nla(1, &[0; 4]);
        buf.extend_from_slice(&[0, 0]);
        assert!(parse_attrs(&buf).is_err());
        // the iterator stops after the first error
        let mut it = Attrs::new(&[9, 0]);
        assert!(matches!(it.next(), Some(Err(_))));
        assert!(it.next().is_none());
    }

    #[test]
    fn integer_getters_check_length() {
        let four = 5u32.to_ne_bytes();
        let eight = (1u64 << 40).to_ne_bytes();
        let a = Attr {
            raw_type: 1,
            payload: &four,
        };
        assert_eq!(a.get_u32().unwrap(), 5);
        assert_eq!(a.get_uint().unwrap(), 5);
        assert!(a.get_be16().is_err());
        let b = Attr {
            raw_type: 1,
            payload: &eight,
        };
        assert_eq!(b.get_uint().unwrap(), 1 << 40);
        assert!(b.get_u32().is_err());
        let c = Attr {
            raw_type: 1,
            payload: &[1, 2, 3],
        };
        assert!(c.get_uint().is_err());
        let d = Attr {
            raw_type: 1,
            payload: &[0x1b, 0x58],
        };
        assert_eq!(d.get_be16().unwrap(), 7000);
        let s = Attr {
            raw_type: 1,
            payload: b"hello\0\0\0",
        };
        assert_eq!(s.get_string(), "hello");
    }

    #[test]
    fn messages_split() {
        let mut dg = nlmsg(0x20, NLM_F_MULTI, 5, &[1, 1, 0, 0, 9]);
        dg.extend(nlmsg(NLMSG_DONE, NLM_F_MULTI, 5, &0i32.to_ne_bytes()));
        let msgs: Vec<_> = Msgs::new(&dg).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].ty, 0x20);
        assert_eq!(msgs[0].payload, &[1, 1, 0, 0, 9]);
        assert_eq!(msgs[0].portid, 1234);
        assert_eq!(msgs[1].ty, NLMSG_DONE);
        let mut bad = nlmsg(0x20, 0, 5, &[]);
        bad[0] = 40;
        assert!(Msgs::new(&bad).next().unwrap().is_err());
    }

    #[test]
    fn error_with_echoed_request_and_extack() {
        let mut req = Request::new(0x20, NLM_F_REQUEST | NLM_F_ACK, 1, 1);
        req.put_u32(1, 2);
        req.put(99, &[0, 0, 0, 1]).unwrap();
        req.set_seq(77);
        let mut tlvs = nla(NLMSGERR_ATTR_MSG, b"Unknown attribute type\0");
        tlvs.extend(nla(NLMSGERR_ATTR_OFFS, &28u32.to_ne_bytes()));
        let dg = ack(&req, -libc::EINVAL, false, &tlvs);
        let msg = Msgs::new(&dg).next().unwrap().unwrap();
        let st = parse_error_msg(msg.flags, msg.payload).unwrap();
        assert_eq!(st.error, -libc::EINVAL);
        assert_eq!(st.ext.msg.as_deref(), Some("Unknown attribute type"));
        assert_eq!(st.ext.offset, Some(28));
        assert_eq!(req.attr_at_offset(28).unwrap().kind(), 99);
        assert_eq!(req.attr_at_offset(20).unwrap().kind(), 1);
        assert!(req.attr_at_offset(24).is_none());
    }

    #[test]
    fn error_capped_with_missing_attr() {
        let mut req = Request::new(0x20, NLM_F_REQUEST | NLM_F_ACK, 2, 1);
        req.set_seq(3);
        let mut tlvs = nla(NLMSGERR_ATTR_MISS_TYPE, &1u32.to_ne_bytes());
        tlvs.extend(nla(NLMSGERR_ATTR_POLICY | NLA_F_NESTED, &nla(1, &[0; 4])));
        tlvs.extend(nla(NLMSGERR_ATTR_MISS_NEST, &0u32.to_ne_bytes()));
        let dg = ack(&req, -libc::EINVAL, true, &tlvs);
        let msg = Msgs::new(&dg).next().unwrap().unwrap();
        let st = parse_error_msg(msg.flags, msg.payload).unwrap();
        assert_eq!(st.ext.miss_type, Some(1));
        assert_eq!(st.ext.miss_nest, Some(0));
        assert_eq!(st.ext.msg, None);
    }

    #[test]
    fn error_without_tlvs_and_truncated() {
        let req = Request::new(0x20, NLM_F_REQUEST | NLM_F_ACK, 2, 1);
        let dg = ack(&req, -libc::EPERM, false, &[]);
        let msg = Msgs::new(&dg).next().unwrap().unwrap();
        let st = parse_error_msg(msg.flags, msg.payload).unwrap();
        assert_eq!(st.error, -libc::EPERM);
        assert_eq!(st.ext, ExtAck::default());
        assert!(parse_error_msg(0, &[0; 10]).is_err());
        // claims to echo a request longer than what follows
        let mut p = (-1i32).to_ne_bytes().to_vec();
        p.extend_from_slice(&100u32.to_ne_bytes());
        p.extend_from_slice(&[0; 12]);
        assert!(parse_error_msg(NLM_F_ACK_TLVS, &p).is_err());
    }

    #[test]
    fn transaction_do_with_reply_then_ack() {
        let mut req = Request::new(0x20, NLM_F_REQUEST | NLM_F_ACK, 3, 1);
        req.put_u32(1, 2);
        req.set_seq(10);
        let mut tr = Transaction::new(&req);
        let mut payload = vec![3, 1, 0, 0];
        payload.extend(nla(1, &2u32.to_ne_bytes()));
        let reply = nlmsg(0x20, 0, 10, &payload);
        assert!(!tr.feed(&reply).unwrap());
        // a stale message with another sequence number is ignored
        let mut stale = ack(&req, -libc::EINVAL, true, &[]);
        stale[8..12].copy_from_slice(&9u32.to_ne_bytes());
        assert!(!tr.feed(&stale).unwrap());
        assert!(tr.feed(&ack(&req, 0, true, &[])).unwrap());
        let out = tr.into_outcome();
        assert_eq!(out.replies.len(), 1);
        assert_eq!(out.replies[0].cmd, 3);
        let attrs = parse_attrs(&out.replies[0].attrs).unwrap();
        assert_eq!(attrs[0].get_u32().unwrap(), 2);
        assert_eq!(out.warning, None);
    }

    #[test]
    fn transaction_ack_with_warning() {
        let mut req = Request::new(0x20, NLM_F_REQUEST | NLM_F_ACK, 1, 1);
        req.set_seq(4);
        let mut tr = Transaction::new(&req);
        let tlvs = nla(NLMSGERR_ATTR_MSG, b"careful\0");
        assert!(tr.feed(&ack(&req, 0, true, &tlvs)).unwrap());
        assert_eq!(tr.into_outcome().warning.as_deref(), Some("careful"));
    }

    #[test]
    fn transaction_kernel_error() {
        let mut req = Request::new(0x20, NLM_F_REQUEST | NLM_F_ACK, 1, 1);
        req.set_seq(4);
        let mut tr = Transaction::new(&req);
        let tlvs = nla(NLMSGERR_ATTR_MSG, b"a node with this id exists\0");
        match tr.feed(&ack(&req, -libc::EEXIST, false, &tlvs)) {
            Err(NlError::Kernel(k)) => {
                assert_eq!(k.errno, libc::EEXIST);
                assert_eq!(k.ext.msg.as_deref(), Some("a node with this id exists"));
                let e = NlError::Kernel(k);
                assert_eq!(e.to_string(), "File exists: a node with this id exists");
                assert_eq!(e.errno(), libc::EEXIST);
            }
            other => panic!("unexpected {:?}", other),
        }
    }

    #[test]
    fn transaction_dump_over_several_datagrams() {
        let mut req = Request::new(0x20, NLM_F_REQUEST | NLM_F_DUMP, 3, 1);
        req.set_seq(8);
        let mut tr = Transaction::new(&req);
        let one = nlmsg(0x20, NLM_F_MULTI, 8, &[3, 1, 0, 0]);
        let mut dg = one.clone();
        dg.extend(one.clone());
        assert!(!tr.feed(&dg).unwrap());
        let mut dg = nlmsg(0x20, NLM_F_MULTI | NLM_F_DUMP_INTR, 8, &[3, 1, 0, 0]);
        dg.extend(nlmsg(NLMSG_DONE, NLM_F_MULTI, 8, &0i32.to_ne_bytes()));
        assert!(tr.feed(&dg).unwrap());
        let out = tr.into_outcome();
        assert_eq!(out.replies.len(), 3);
        assert!(out.interrupted);
    }

    #[test]
    fn transaction_dump_error_in_done() {
        let mut req = Request::new(0x20, NLM_F_REQUEST | NLM_F_DUMP, 3, 1);
        req.set_seq(8);
        let mut tr = Transaction::new(&req);
        let mut p = (-libc::EMSGSIZE).to_ne_bytes().to_vec();
        p.extend(nla(NLMSGERR_ATTR_MSG, b"too big\0"));
        let dg = nlmsg(NLMSG_DONE, NLM_F_MULTI | NLM_F_ACK_TLVS, 8, &p);
        match tr.feed(&dg) {
            Err(NlError::Kernel(k)) => {
                assert_eq!(k.errno, libc::EMSGSIZE);
                assert_eq!(k.ext.msg.as_deref(), Some("too big"));
            }
            other => panic!("unexpected {:?}", other),
        }
        // An empty NLMSG_DONE ends a dump successfully.
        let mut tr = Transaction::new(&req);
        assert!(tr.feed(&nlmsg(NLMSG_DONE, NLM_F_MULTI, 8, &[])).unwrap());
    }

    #[test]
    fn transaction_rejects_foreign_type_and_short_genl() {
        let mut req = Request::new(0x20, NLM_F_REQUEST | NLM_F_ACK, 1, 1);
        req.set_seq(4);
        let mut tr = Transaction::new(&req);
        assert!(matches!(
            tr.feed(&nlmsg(0x21, 0, 4, &[1, 1, 0, 0])),
            Err(NlError::Protocol(_))
        ));
        let mut tr = Transaction::new(&req);
        assert!(matches!(
            tr.feed(&nlmsg(0x20, 0, 4, &[1, 1])),
            Err(NlError::Protocol(_))
        ));
    }

    #[test]
    fn family_reply_parsing() {
        let mut attrs = nla(CTRL_ATTR_FAMILY_ID, &0x1du16.to_ne_bytes());
        attrs.extend(nla(CTRL_ATTR_FAMILY_NAME, b"tcp_handoff\0"));
        attrs.extend(nla(CTRL_ATTR_VERSION, &1u32.to_ne_bytes()));
        attrs.extend(nla(CTRL_ATTR_HDRSIZE, &0u32.to_ne_bytes()));
        attrs.extend(nla(CTRL_ATTR_MAXATTR, &7u32.to_ne_bytes()));
        attrs.extend(nla(6 | NLA_F_NESTED, &nla(1, &[0; 8])));
        let mut grp = nla(CTRL_ATTR_MCAST_GRP_NAME, b"events\0");
        grp.extend(nla(CTRL_ATTR_MCAST_GRP_ID, &9u32.to_ne_bytes()));
        attrs.extend(nla(
            CTRL_ATTR_MCAST_GROUPS | NLA_F_NESTED,
            &nla(1 | NLA_F_NESTED, &grp),
        ));
        let reply = GenlReply {
            cmd: 1,
            version: 2,
            attrs,
        };
        let fam = parse_family(&reply).unwrap();
        assert_eq!(
            fam,
            FamilyInfo {
                id: 0x1d,
                version: 1,
                maxattr: 7,
                mcast_groups: vec![("events".into(), 9)],
            }
        );
        let empty = GenlReply {
            cmd: 1,
            version: 2,
            attrs: vec![],
        };
        assert!(parse_family(&empty).is_err());
    }

    /// Exercises the socket code against the running kernel's nlctrl
    /// family, which every kernel with generic netlink has.  Skipped where
    /// netlink sockets are unavailable (some sandboxes).
    #[test]
    fn live_kernel_nlctrl() {
        let mut sock = match Socket::open() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipping live netlink test: {e}");
                return;
            }
        };
        let fam = sock.resolve_family("nlctrl").unwrap();
        assert_eq!(fam.id, GENL_ID_CTRL);

        // (Family names are at most 15 bytes; longer ones are EINVAL.)
        match sock.resolve_family("hoctl-nofam") {
            Err(NlError::Kernel(k)) => assert_eq!(k.errno, libc::ENOENT),
            other => panic!("unexpected {:?}", other),
        }

        // A dump spans several datagrams and ends with NLMSG_DONE.
        let mut req = Request::new(
            GENL_ID_CTRL,
            NLM_F_REQUEST | NLM_F_DUMP,
            CTRL_CMD_GETFAMILY,
            CTRL_VERSION,
        );
        let out = sock.transact(&mut req).unwrap();
        assert!(out
            .replies
            .iter()
            .filter_map(|r| parse_family(r).ok())
            .any(|f| f.id == GENL_ID_CTRL));

        // A string without its NUL fails nlctrl's policy; kernels with
        // extended ACK point at the attribute.
        let mut req = Request::new(
            GENL_ID_CTRL,
            NLM_F_REQUEST | NLM_F_ACK,
            CTRL_CMD_GETFAMILY,
            CTRL_VERSION,
        );
        req.put(CTRL_ATTR_FAMILY_NAME, b"AA").unwrap();
        match sock.transact(&mut req) {
            Err(NlError::Kernel(k)) => {
                assert_eq!(k.errno, libc::EINVAL);
                if k.ext.offset.is_some() {
                    assert_eq!(k.bad_attr, Some(CTRL_ATTR_FAMILY_NAME));
                }
            }
            other => panic!("unexpected {:?}", other),
        }

        // The socket still works after an error.
        assert_eq!(sock.resolve_family("nlctrl").unwrap().id, GENL_ID_CTRL);
    }

    #[test]
    fn strerror_texts() {
        assert_eq!(strerror(libc::EEXIST), "File exists");
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
    }
}
