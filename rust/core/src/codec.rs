// SPDX-License-Identifier: GPL-2.0

//! Control-channel message codec between front-end and back-end nodes.
//!
//! The nodes of a cluster talk over a long-lived in-kernel TCP connection.
//! The front-end sends a [`HandoffRequest`] carrying everything the
//! back-end needs to recreate the client's connection (both handshakes'
//! parameters and the bytes of the first request); the back-end answers with
//! a [`HandoffAck`] carrying its own initial parameters, or a
//! [`HandoffNak`]. Because the peer's bytes are untrusted kernel input, the
//! codec never allocates and never panics: encoders write into a caller's
//! buffer and decoders borrow from the received frame.
//!
//! # Frame layout
//!
//! Every message is one frame: a 16-byte header in network byte order,
//! `length` bytes of body, and, when [`FLAG_HMAC`] is set, an
//! [`HMAC_LEN`]-byte authentication tag that is *not* counted in `length`.
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 2 | magic [`MAGIC`] (`"TH"`) |
//! | 2  | 1 | version [`VERSION`] |
//! | 3  | 1 | message type ([`MsgType`]) |
//! | 4  | 2 | flags |
//! | 6  | 1 | key id with [`FLAG_HMAC`], else 0 |
//! | 7  | 1 | reserved, must be 0 |
//! | 8  | 4 | body length, at most [`MAX_BODY`] |
//! | 12 | 4 | per-session message sequence number |
//!
//! A receiver calls [`frame_len`] on the bytes it has so far to learn how
//! many it needs, then [`decode_message`].
//!
//! # Versioning rule
//!
//! Version 1 bodies have the fixed layouts documented on each type. A body
//! *longer* than its layout is accepted and the extra bytes are ignored, so
//! a later minor revision can append fields without breaking older peers; a
//! *shorter* body is [`CodecError::Truncated`]. Everything that changes how
//! the byte stream is framed or what a message means is strict: another
//! header version is [`CodecError::BadVersion`], an unknown message type is
//! [`CodecError::UnknownType`], unknown header flag bits and a non-zero
//! reserved field are [`CodecError::BadField`], and so are unknown
//! [`TcpInit`] option bits, because a back-end that silently ignored a TCP
//! option it does not understand would build a socket that disagrees with
//! what the client negotiated. New types, flags and options are only sent
//! after both sides announced them in [`Hello::features`]. The one open set
//! is [`NakReason`]: an unknown reason decodes as [`NakReason::Unknown`],
//! since every reason leads to the same action (serve locally).

/// Frame magic, `"TH"`.
pub const MAGIC: u16 = 0x5448;
/// Protocol version written and accepted in frame headers.
pub const VERSION: u8 = 1;
/// Size of the frame header.
pub const HEADER_LEN: usize = 16;
/// Largest body length a frame may declare.
pub const MAX_BODY: usize = 65536;
/// Size of the authentication tag that follows the body when [`FLAG_HMAC`]
/// is set.
pub const HMAC_LEN: usize = 32;
/// Header flag: an [`HMAC_LEN`]-byte tag follows the body.
pub const FLAG_HMAC: u16 = 0x0001;
/// All header flags this version understands.
pub const KNOWN_FLAGS: u16 = FLAG_HMAC;
/// Largest possible frame.
pub const MAX_FRAME: usize = HEADER_LEN + MAX_BODY + HMAC_LEN;

/// Errors from encoding or decoding frames and bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecError {
    /// The input ends before the frame or body does.
    Truncated,
    /// The frame does not start with [`MAGIC`].
    BadMagic,
    /// The frame's version is not [`VERSION`].
    BadVersion,
    /// The message type is not one of [`MsgType`].
    UnknownType(u8),
    /// The body is longer than [`MAX_BODY`].
    Oversized,
    /// The output buffer is too small.
    BufferTooSmall,
    /// A field has a value that is not allowed (reserved bits, address
    /// family, window scale, and so on).
    BadField,
}

/// Control message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    /// [`Hello`].
    Hello = 1,
    /// [`HandoffRequest`].
    HandoffRequest = 2,
    /// [`HandoffAck`].
    HandoffAck = 3,
    /// [`HandoffNak`].
    HandoffNak = 4,
    /// [`Terminate`].
    Terminate = 5,
    /// [`Keepalive`].
    Keepalive = 6,
    /// [`Reconcile`].
    Reconcile = 7,
    /// [`MigrateRequest`] (only to a peer that announced
    /// [`FEATURE_MIGRATE`]).
    MigrateRequest = 8,
    /// [`MigrateState`] (likewise).
    MigrateState = 9,
}

impl MsgType {
    /// Parses a wire type byte.
    pub fn from_u8(v: u8) -> Option<MsgType> {
        Some(match v {
            1 => MsgType::Hello,
            2 => MsgType::HandoffRequest,
            3 => MsgType::HandoffAck,
            4 => MsgType::HandoffNak,
            5 => MsgType::Terminate,
            6 => MsgType::Keepalive,
            7 => MsgType::Reconcile,
            8 => MsgType::MigrateRequest,
            9 => MsgType::MigrateState,
            _ => return None,
        })
    }

    /// The wire type byte.
    pub fn as_u8(self) -> u8 {
        match self {
            MsgType::Hello => 1,
            MsgType::HandoffRequest => 2,
            MsgType::HandoffAck => 3,
            MsgType::HandoffNak => 4,
            MsgType::Terminate => 5,
            MsgType::Keepalive => 6,
            MsgType::Reconcile => 7,
            MsgType::MigrateRequest => 8,
            MsgType::MigrateState => 9,
        }
    }
}

/// Bounds-checked reader over a received body.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.buf.len() {
            return Err(CodecError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        <[u8; N]>::try_from(self.take(N)?).map_err(|_| CodecError::Truncated)
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, CodecError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
}

/// Bounds-checked writer into a caller's buffer.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .ok_or(CodecError::BufferTooSmall)?;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(CodecError::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    fn u8(&mut self, v: u8) -> Result<(), CodecError> {
        self.put(&[v])
    }

    fn u16(&mut self, v: u16) -> Result<(), CodecError> {
        self.put(&v.to_be_bytes())
    }

    fn u32(&mut self, v: u32) -> Result<(), CodecError> {
        self.put(&v.to_be_bytes())
    }

    fn u64(&mut self, v: u64) -> Result<(), CodecError> {
        self.put(&v.to_be_bytes())
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Frame version (always [`VERSION`] once decoded).
    pub version: u8,
    /// Raw message type byte (checked against [`MsgType`] by
    /// [`decode_message`], not by [`decode_header`]).
    pub msg_type: u8,
    /// Header flags, a subset of [`KNOWN_FLAGS`].
    pub flags: u16,
    /// With [`FLAG_HMAC`], the id of the configured key the tag was made
    /// with (see `auth`); 0 without.
    pub key_id: u8,
    /// Body length, at most [`MAX_BODY`].
    pub length: u32,
    /// Per-session message sequence number.
    pub seq: u32,
}

impl Header {
    /// Body length in bytes.
    pub fn body_len(&self) -> usize {
        usize::try_from(self.length).unwrap_or(usize::MAX)
    }

    /// Length of the authentication tag after the body (0 or
    /// [`HMAC_LEN`]).
    pub fn tag_len(&self) -> usize {
        if self.flags & FLAG_HMAC != 0 {
            HMAC_LEN
        } else {
            0
        }
    }

    /// Total frame length: header, body and tag.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN
            .saturating_add(self.body_len())
            .saturating_add(self.tag_len())
    }

    /// Writes the 16 header bytes into `out`, after checking the fields as
    /// [`decode_header`] would.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        if self.version != VERSION {
            return Err(CodecError::BadVersion);
        }
        if self.flags & !KNOWN_FLAGS != 0 || (self.flags & FLAG_HMAC == 0 && self.key_id != 0) {
            return Err(CodecError::BadField);
        }
        if self.body_len() > MAX_BODY {
            return Err(CodecError::Oversized);
        }
        let mut w = Writer::new(out);
        w.u16(MAGIC)?;
        w.u8(self.version)?;
        w.u8(self.msg_type)?;
        w.u16(self.flags)?;
        w.u8(self.key_id)?;
        w.u8(0)?;
        w.u32(self.length)?;
        w.u32(self.seq)?;
        Ok(w.pos)
    }
}

/// Decodes and validates a frame header from the first [`HEADER_LEN`]
/// bytes of `buf`: magic, version, flags, reserved field and length.
pub fn decode_header(buf: &[u8]) -> Result<Header, CodecError> {
    let mut r = Reader { buf };
    let [m0, m1, version, msg_type, f0, f1, r0, r1, l0, l1, l2, l3, s0, s1, s2, s3] =
        r.array::<HEADER_LEN>()?;
    if u16::from_be_bytes([m0, m1]) != MAGIC {
        return Err(CodecError::BadMagic);
    }
    if version != VERSION {
        return Err(CodecError::BadVersion);
    }
    let flags = u16::from_be_bytes([f0, f1]);
    // The key id byte is meaningful only in a tagged frame.
    if flags & !KNOWN_FLAGS != 0 || r1 != 0 || (flags & FLAG_HMAC == 0 && r0 != 0) {
        return Err(CodecError::BadField);
    }
    let header = Header {
        version,
        msg_type,
        flags,
        key_id: r0,
        length: u32::from_be_bytes([l0, l1, l2, l3]),
        seq: u32::from_be_bytes([s0, s1, s2, s3]),
    };
    if header.body_len() > MAX_BODY {
        return Err(CodecError::Oversized);
    }
    Ok(header)
}

/// How many bytes the frame starting at `prefix` occupies in total.
///
/// Returns `Ok(None)` while fewer than [`HEADER_LEN`] bytes are available,
/// and rejects a bad header as soon as it is complete, so a receiver can
/// drop a broken session without waiting for a body.
pub fn frame_len(prefix: &[u8]) -> Result<Option<usize>, CodecError> {
    if prefix.len() < HEADER_LEN {
        return Ok(None);
    }
    decode_header(prefix).map(|h| Some(h.frame_len()))
}

/// A frame split into its parts, borrowing the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The validated header.
    pub header: Header,
    /// The body (`header.length` bytes).
    pub body: &'a [u8],
    /// The authentication tag, present when [`FLAG_HMAC`] is set.
    pub tag: Option<&'a [u8]>,
}

/// Splits a frame into its header, body and authentication tag. Bytes after
/// the frame are ignored.
pub fn split_frame(frame: &[u8]) -> Result<Frame<'_>, CodecError> {
    let header = decode_header(frame)?;
    let mut r = Reader { buf: frame };
    r.take(HEADER_LEN)?;
    let body = r.take(header.body_len())?;
    let tag = if header.tag_len() != 0 {
        Some(r.take(header.tag_len())?)
    } else {
        None
    };
    Ok(Frame { header, body, tag })
}

/// Peer greeting, sent first in each direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// Sender's node id.
    pub node_id: u32,
    /// Lowest protocol version the sender speaks.
    pub proto_min: u8,
    /// Highest protocol version the sender speaks (`>= proto_min`).
    pub proto_max: u8,
    /// Random nonce: with keys configured, the session key is derived
    /// from both HELLOs' nonces (`auth`), so a session's frames are worth
    /// nothing in another.
    pub nonce: [u8; 16],
    /// Optional-feature bits the sender supports.
    pub features: u32,
}

impl Hello {
    /// Body length (node id, versions, nonce, features).
    pub const LEN: usize = 26;

    /// Encodes the body into `out`, returning its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        if self.proto_min > self.proto_max {
            return Err(CodecError::BadField);
        }
        let mut w = Writer::new(out);
        w.u32(self.node_id)?;
        w.u8(self.proto_min)?;
        w.u8(self.proto_max)?;
        w.put(&self.nonce)?;
        w.u32(self.features)?;
        Ok(w.pos)
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader { buf: body };
        let hello = Hello {
            node_id: r.u32()?,
            proto_min: r.u8()?,
            proto_max: r.u8()?,
            nonce: r.array()?,
            features: r.u32()?,
        };
        if hello.proto_min > hello.proto_max {
            return Err(CodecError::BadField);
        }
        Ok(hello)
    }
}

/// An IP address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// Address family: `4` or `6`.
    pub family: u8,
    /// Address in network byte order; IPv4 uses the first 4 bytes and the
    /// rest must be zero.
    pub addr: [u8; 16],
    /// Port in host byte order.
    pub port: u16,
}

impl Endpoint {
    /// Encoded length (family, address, port).
    pub const LEN: usize = 19;

    /// An IPv4 endpoint.
    pub fn v4(addr: [u8; 4], port: u16) -> Self {
        let [a, b, c, d] = addr;
        Endpoint {
            family: 4,
            addr: [a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            port,
        }
    }

    /// An IPv6 endpoint.
    pub fn v6(addr: [u8; 16], port: u16) -> Self {
        Endpoint {
            family: 6,
            addr,
            port,
        }
    }

    /// Checks the family and that an IPv4 address has no stray bytes.
    fn validate(&self) -> Result<(), CodecError> {
        match self.family {
            6 => Ok(()),
            4 if self
                .addr
                .get(4..)
                .is_some_and(|r| r.iter().all(|&b| b == 0)) =>
            {
                Ok(())
            }
            _ => Err(CodecError::BadField),
        }
    }

    /// Encodes into `out`, returning the length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let mut w = Writer::new(out);
        self.write(&mut w)?;
        Ok(w.pos)
    }

    /// Decodes from the start of `buf`.
    pub fn decode(buf: &[u8]) -> Result<Self, CodecError> {
        Self::read(&mut Reader { buf })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        self.validate()?;
        w.u8(self.family)?;
        w.put(&self.addr)?;
        w.u16(self.port)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let ep = Endpoint {
            family: r.u8()?,
            addr: r.array()?,
            port: r.u16()?,
        };
        ep.validate()?;
        Ok(ep)
    }
}

/// The parameters of one side's SYN or SYN/ACK that the other node needs to
/// rebuild the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInit {
    /// Initial sequence number.
    pub isn: u32,
    /// Timestamp value sent in the SYN or SYN/ACK (0 without timestamps).
    pub tsval: u32,
    /// Timestamps negotiated (offered, for a SYN).
    pub ts_ok: bool,
    /// SACK permitted.
    pub sack_ok: bool,
    /// Window scale shift, if the option was present (at most 14).
    pub wscale: Option<u8>,
    /// Maximum segment size option value.
    pub mss: u16,
    /// ECN negotiated.
    pub ecn: bool,
    /// Microsecond timestamps (requires `ts_ok`).
    pub usec_ts: bool,
}

/// [`TcpInit`] option bits.
const TI_TS: u8 = 0x01;
const TI_SACK: u8 = 0x02;
const TI_WSCALE: u8 = 0x04;
const TI_ECN: u8 = 0x08;
const TI_USEC_TS: u8 = 0x10;
const TI_KNOWN: u8 = TI_TS | TI_SACK | TI_WSCALE | TI_ECN | TI_USEC_TS;

impl TcpInit {
    /// Encoded length: ISN, TSval, option bits, window scale, MSS.
    pub const LEN: usize = 12;

    fn flag_bits(&self) -> u8 {
        let mut bits = 0;
        if self.ts_ok {
            bits |= TI_TS;
        }
        if self.sack_ok {
            bits |= TI_SACK;
        }
        if self.wscale.is_some() {
            bits |= TI_WSCALE;
        }
        if self.ecn {
            bits |= TI_ECN;
        }
        if self.usec_ts {
            bits |= TI_USEC_TS;
        }
        bits
    }

    fn validate(&self) -> Result<(), CodecError> {
        if self.wscale.is_some_and(|s| s > super::seq::MAX_WSCALE) || (self.usec_ts && !self.ts_ok)
        {
            return Err(CodecError::BadField);
        }
        Ok(())
    }

    /// Encodes into `out`, returning the length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let mut w = Writer::new(out);
        self.write(&mut w)?;
        Ok(w.pos)
    }

    /// Decodes from the start of `buf`.
    pub fn decode(buf: &[u8]) -> Result<Self, CodecError> {
        Self::read(&mut Reader { buf })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        self.validate()?;
        w.u32(self.isn)?;
        w.u32(self.tsval)?;
        w.u8(self.flag_bits())?;
        w.u8(self.wscale.unwrap_or(0))?;
        w.u16(self.mss)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let isn = r.u32()?;
        let tsval = r.u32()?;
        let bits = r.u8()?;
        let wscale = r.u8()?;
        let mss = r.u16()?;
        if bits & !TI_KNOWN != 0 || (bits & TI_WSCALE == 0 && wscale != 0) {
            return Err(CodecError::BadField);
        }
        let init = TcpInit {
            isn,
            tsval,
            ts_ok: bits & TI_TS != 0,
            sack_ok: bits & TI_SACK != 0,
            wscale: (bits & TI_WSCALE != 0).then_some(wscale),
            mss,
            ecn: bits & TI_ECN != 0,
            usec_ts: bits & TI_USEC_TS != 0,
        };
        init.validate()?;
        Ok(init)
    }
}

/// Front-end to back-end: take over this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandoffRequest<'a> {
    /// Front-end-chosen id for this connection, echoed in replies.
    pub conn_id: u64,
    /// The client's address.
    pub client: Endpoint,
    /// The service address the client connected to (the front-end's).
    pub service: Endpoint,
    /// Options of the client's SYN.
    pub client_init: TcpInit,
    /// Options of the front-end's SYN/ACK.
    pub fe_init: TcpInit,
    /// Sequence number of the client's handshake ACK.
    pub client_ack_seq: u32,
    /// TSval of the client's handshake ACK.
    pub client_ack_tsval: u32,
    /// TSecr of the client's handshake ACK.
    pub client_ack_tsecr: u32,
    /// Unscaled window field of the client's handshake ACK.
    pub client_rcv_wnd: u16,
    /// The client bytes received so far (at least the first request head).
    pub request: &'a [u8],
}

impl<'a> HandoffRequest<'a> {
    /// Length of the fixed part, before the request bytes: connection id,
    /// two endpoints, two `TcpInit`s, ACK seq, TSval, TSecr, window and the
    /// 32-bit request length.
    pub const FIXED_LEN: usize = 8 + 2 * Endpoint::LEN + 2 * TcpInit::LEN + 4 + 4 + 4 + 2 + 4;
    /// Longest `request` that fits in one frame.
    pub const MAX_REQUEST: usize = MAX_BODY - Self::FIXED_LEN;

    /// Encodes the body into `out`, returning its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        if self.request.len() > Self::MAX_REQUEST {
            return Err(CodecError::Oversized);
        }
        if self.client.family != self.service.family {
            return Err(CodecError::BadField);
        }
        let request_len = u32::try_from(self.request.len()).map_err(|_| CodecError::Oversized)?;
        let mut w = Writer::new(out);
        w.u64(self.conn_id)?;
        self.client.write(&mut w)?;
        self.service.write(&mut w)?;
        self.client_init.write(&mut w)?;
        self.fe_init.write(&mut w)?;
        w.u32(self.client_ack_seq)?;
        w.u32(self.client_ack_tsval)?;
        w.u32(self.client_ack_tsecr)?;
        w.u16(self.client_rcv_wnd)?;
        w.u32(request_len)?;
        w.put(self.request)?;
        Ok(w.pos)
    }

    /// Decodes a body; `request` borrows from `body`.
    pub fn decode(body: &'a [u8]) -> Result<Self, CodecError> {
        let mut r = Reader { buf: body };
        let conn_id = r.u64()?;
        let client = Endpoint::read(&mut r)?;
        let service = Endpoint::read(&mut r)?;
        let client_init = TcpInit::read(&mut r)?;
        let fe_init = TcpInit::read(&mut r)?;
        let client_ack_seq = r.u32()?;
        let client_ack_tsval = r.u32()?;
        let client_ack_tsecr = r.u32()?;
        let client_rcv_wnd = r.u16()?;
        let request_len = usize::try_from(r.u32()?).map_err(|_| CodecError::Truncated)?;
        let request = r.take(request_len)?;
        if client.family != service.family {
            return Err(CodecError::BadField);
        }
        Ok(HandoffRequest {
            conn_id,
            client,
            service,
            client_init,
            fe_init,
            client_ack_seq,
            client_ack_tsval,
            client_ack_tsecr,
            client_rcv_wnd,
            request,
        })
    }
}

/// Back-end to front-end: the connection was taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandoffAck {
    /// The request's connection id.
    pub conn_id: u64,
    /// The back-end socket's initial parameters (ISN, timestamp, scale),
    /// from which the front-end derives the translation.
    pub be_init: TcpInit,
    /// The back-end's own endpoint of the connection (address and port
    /// its socket uses): where the front-end forwards client packets.
    pub be_addr: Endpoint,
}

impl HandoffAck {
    /// Body length.
    pub const LEN: usize = 8 + TcpInit::LEN + Endpoint::LEN;

    /// Encodes the body into `out`, returning its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let mut w = Writer::new(out);
        w.u64(self.conn_id)?;
        self.be_init.write(&mut w)?;
        self.be_addr.write(&mut w)?;
        Ok(w.pos)
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader { buf: body };
        Ok(HandoffAck {
            conn_id: r.u64()?,
            be_init: TcpInit::read(&mut r)?,
            be_addr: Endpoint::read(&mut r)?,
        })
    }
}

/// Why a back-end refused a handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NakReason {
    /// Nothing listens on the service port.
    NoListener,
    /// The back-end's handoff table is full.
    TableFull,
    /// The back-end is shutting down.
    ShuttingDown,
    /// The negotiated TCP options cannot be reproduced.
    OptionMismatch,
    /// The connection's 4-tuple is already in use.
    TupleBusy,
    /// Any other internal failure.
    Internal,
    /// A reason code this version does not know (kept for forward
    /// compatibility). Encoding `Unknown` with a known code produces that
    /// known reason on decode.
    Unknown(u16),
}

impl NakReason {
    /// Parses a wire reason code.
    pub fn from_u16(v: u16) -> Self {
        match v {
            1 => NakReason::NoListener,
            2 => NakReason::TableFull,
            3 => NakReason::ShuttingDown,
            4 => NakReason::OptionMismatch,
            5 => NakReason::TupleBusy,
            6 => NakReason::Internal,
            other => NakReason::Unknown(other),
        }
    }

    /// The wire reason code.
    pub fn as_u16(self) -> u16 {
        match self {
            NakReason::NoListener => 1,
            NakReason::TableFull => 2,
            NakReason::ShuttingDown => 3,
            NakReason::OptionMismatch => 4,
            NakReason::TupleBusy => 5,
            NakReason::Internal => 6,
            NakReason::Unknown(v) => v,
        }
    }
}

/// Back-end to front-end: the handoff was refused; the front-end keeps
/// serving the connection itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandoffNak {
    /// The request's connection id.
    pub conn_id: u64,
    /// Why.
    pub reason: NakReason,
}

impl HandoffNak {
    /// Body length.
    pub const LEN: usize = 10;

    /// Encodes the body into `out`, returning its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let mut w = Writer::new(out);
        w.u64(self.conn_id)?;
        w.u16(self.reason.as_u16())?;
        Ok(w.pos)
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader { buf: body };
        Ok(HandoffNak {
            conn_id: r.u64()?,
            reason: NakReason::from_u16(r.u16()?),
        })
    }
}

/// Either side: a handed-off connection has ended, so its state can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminate {
    /// The connection id.
    pub conn_id: u64,
    /// Reason code (informational).
    pub reason: u16,
}

impl Terminate {
    /// Body length.
    pub const LEN: usize = 10;

    /// Encodes the body into `out`, returning its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let mut w = Writer::new(out);
        w.u64(self.conn_id)?;
        w.u16(self.reason)?;
        Ok(w.pos)
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader { buf: body };
        Ok(Terminate {
            conn_id: r.u64()?,
            reason: r.u16()?,
        })
    }
}

/// Periodic liveness and load report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Connections the sender currently serves.
    pub active_conns: u32,
    /// Handoffs the sender has started but not finished.
    pub in_flight: u32,
    /// Sender-defined load figure (opaque to the codec).
    pub load: u32,
}

impl Keepalive {
    /// Body length.
    pub const LEN: usize = 12;

    /// Encodes the body into `out`, returning its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let mut w = Writer::new(out);
        w.u32(self.active_conns)?;
        w.u32(self.in_flight)?;
        w.u32(self.load)?;
        Ok(w.pos)
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader { buf: body };
        Ok(Keepalive {
            active_conns: r.u32()?,
            in_flight: r.u32()?,
            load: r.u32()?,
        })
    }
}

/// [`Hello::features`] bit: the sender takes part in moving a kept-alive
/// connection from one back-end to another between requests
/// ([`MigrateRequest`], [`MigrateState`]).
pub const FEATURE_MIGRATE: u32 = 1 << 0;

/// Front-end to the back-end serving connection `conn_id`: the client's
/// next request, which starts at the client's sequence number
/// `client_seq`, goes to another node. The back-end lets its socket go once
/// it has received exactly the bytes before `client_seq` and the client has
/// acknowledged everything it sent, and answers with a [`MigrateState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrateRequest {
    /// The connection id (the front-end's, as in the handoff).
    pub conn_id: u64,
    /// Where the next request starts in the client's sequence space.
    pub client_seq: u32,
}

impl MigrateRequest {
    /// Body length.
    pub const LEN: usize = 12;

    /// Encodes the body into `out`, returning its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let mut w = Writer::new(out);
        w.u64(self.conn_id)?;
        w.u32(self.client_seq)?;
        Ok(w.pos)
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader { buf: body };
        Ok(MigrateRequest {
            conn_id: r.u64()?,
            client_seq: r.u32()?,
        })
    }
}

/// How a back-end answered a [`MigrateRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateStatus {
    /// The socket is gone quietly; the state is where it stopped.
    Ready,
    /// The socket has received more or fewer bytes than `client_seq`, or
    /// the server's response is not all acknowledged in time: the
    /// connection stays where it is.
    Busy,
    /// The back-end does not know the connection (or it has closed).
    Gone,
}

impl MigrateStatus {
    fn to_u16(self) -> u16 {
        match self {
            MigrateStatus::Ready => 0,
            MigrateStatus::Busy => 1,
            MigrateStatus::Gone => 2,
        }
    }

    fn from_u16(v: u16) -> Result<Self, CodecError> {
        Ok(match v {
            0 => MigrateStatus::Ready,
            1 => MigrateStatus::Busy,
            2 => MigrateStatus::Gone,
            _ => return Err(CodecError::BadField),
        })
    }
}

/// Back-end to front-end: the answer to a [`MigrateRequest`], with the
/// connection's state where the back-end stopped, in the front-end's
/// sequence and timestamp space: what the next back-end's replayed
/// handshake starts from (its SYN's sequence number is `client_seq - 1`,
/// the front-end's side continues at `server_seq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrateState {
    /// The connection id.
    pub conn_id: u64,
    /// Whether the connection can move.
    pub status: MigrateStatus,
    /// The client's next sequence number as the socket had it (its
    /// `rcv_nxt`).
    pub client_seq: u32,
    /// The server's next sequence number (its `snd_nxt`, all of it
    /// acknowledged), in the front-end's space.
    pub server_seq: u32,
    /// The socket's current TSval in the front-end's space (0 without
    /// timestamps).
    pub tsval: u32,
    /// The client's latest TSval the socket echoed.
    pub ts_recent: u32,
    /// The client's receive window as the socket last saw it, in bytes.
    pub snd_wnd: u32,
}

impl MigrateState {
    /// Body length.
    pub const LEN: usize = 8 + 2 + 5 * 4;

    /// Encodes the body into `out`, returning its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let mut w = Writer::new(out);
        w.u64(self.conn_id)?;
        w.u16(self.status.to_u16())?;
        w.u32(self.client_seq)?;
        w.u32(self.server_seq)?;
        w.u32(self.tsval)?;
        w.u32(self.ts_recent)?;
        w.u32(self.snd_wnd)?;
        Ok(w.pos)
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader { buf: body };
        Ok(MigrateState {
            conn_id: r.u64()?,
            status: MigrateStatus::from_u16(r.u16()?)?,
            client_seq: r.u32()?,
            server_seq: r.u32()?,
            tsval: r.u32()?,
            ts_recent: r.u32()?,
            snd_wnd: r.u32()?,
        })
    }
}

/// Front-end to back-end: the connections (ids) the front-end forwards to
/// the receiver. The back-end answers a [`Terminate`] with reason
/// [`TERMINATE_UNKNOWN`] for each id it does not know, so an entry whose
/// TERMINATE was lost (a channel that broke with it queued, a back-end that
/// restarted) does not forward forever: established entries never expire
/// by idleness, this is how they are reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconcile<'a> {
    /// The ids, 8 bytes each, big-endian (see [`Reconcile::ids`]).
    raw: &'a [u8],
}

/// [`Terminate::reason`]: the connection ended normally (FIN or RST seen).
pub const TERMINATE_CLOSED: u16 = 0;
/// [`Terminate::reason`]: the front-end gave the handoff up; the back-end
/// must forget it.
pub const TERMINATE_ABORT: u16 = 1;
/// [`Terminate::reason`]: answer to [`Reconcile`]: the back-end does not
/// know the connection.
pub const TERMINATE_UNKNOWN: u16 = 2;

impl<'a> Reconcile<'a> {
    /// Most ids in one message.
    pub const MAX_IDS: usize = 128;

    /// A message listing the ids already encoded in `raw` (8 bytes each,
    /// big-endian; see [`Reconcile::encode_ids`]).
    pub fn from_raw(raw: &'a [u8]) -> Result<Self, CodecError> {
        if raw.len() % 8 != 0 || raw.len() / 8 > Self::MAX_IDS {
            return Err(CodecError::BadField);
        }
        Ok(Reconcile { raw })
    }

    /// Encodes up to [`Self::MAX_IDS`] ids into `out` (at least 8 bytes per
    /// id), returning the bytes used; give them to [`Self::from_raw`].
    pub fn encode_ids(ids: &[u64], out: &mut [u8]) -> Result<usize, CodecError> {
        if ids.len() > Self::MAX_IDS {
            return Err(CodecError::Oversized);
        }
        let mut w = Writer::new(out);
        for id in ids {
            w.u64(*id)?;
        }
        Ok(w.pos)
    }

    /// The ids listed.
    pub fn ids(&self) -> impl Iterator<Item = u64> + 'a {
        self.raw
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes(<[u8; 8]>::try_from(c).unwrap_or([0; 8])))
    }

    /// How many ids are listed.
    pub fn len(&self) -> usize {
        self.raw.len() / 8
    }

    /// Whether no id is listed.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Encodes the body into `out`, returning its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let mut w = Writer::new(out);
        w.u16(u16::try_from(self.len()).map_err(|_| CodecError::Oversized)?)?;
        w.put(self.raw)?;
        Ok(w.pos)
    }

    /// Decodes a body: a count, then that many ids.
    pub fn decode(body: &'a [u8]) -> Result<Self, CodecError> {
        let mut r = Reader { buf: body };
        let n = usize::from(r.u16()?);
        if n > Self::MAX_IDS {
            return Err(CodecError::BadField);
        }
        // Bytes after the ids are ignored (forward compatibility).
        Ok(Reconcile {
            raw: r.take(n * 8)?,
        })
    }
}

/// Any control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// See [`Hello`].
    Hello(Hello),
    /// See [`HandoffRequest`].
    HandoffRequest(HandoffRequest<'a>),
    /// See [`HandoffAck`].
    HandoffAck(HandoffAck),
    /// See [`HandoffNak`].
    HandoffNak(HandoffNak),
    /// See [`Terminate`].
    Terminate(Terminate),
    /// See [`Keepalive`].
    Keepalive(Keepalive),
    /// See [`Reconcile`].
    Reconcile(Reconcile<'a>),
    /// See [`MigrateRequest`].
    MigrateRequest(MigrateRequest),
    /// See [`MigrateState`].
    MigrateState(MigrateState),
}

impl<'a> Message<'a> {
    /// The length of the encoded body ([`Self::encode_body`] writes exactly
    /// this much); a frame adds [`HEADER_LEN`] (and [`HMAC_LEN`] if tagged).
    pub fn body_len(&self) -> usize {
        match self {
            Message::Hello(_) => Hello::LEN,
            Message::HandoffRequest(r) => HandoffRequest::FIXED_LEN + r.request.len(),
            Message::HandoffAck(_) => HandoffAck::LEN,
            Message::HandoffNak(_) => HandoffNak::LEN,
            Message::Terminate(_) => Terminate::LEN,
            Message::Keepalive(_) => Keepalive::LEN,
            Message::Reconcile(r) => 2 + 8 * r.len(),
            Message::MigrateRequest(_) => MigrateRequest::LEN,
            Message::MigrateState(_) => MigrateState::LEN,
        }
    }

    /// The message's wire type.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Message::Hello(_) => MsgType::Hello,
            Message::HandoffRequest(_) => MsgType::HandoffRequest,
            Message::HandoffAck(_) => MsgType::HandoffAck,
            Message::HandoffNak(_) => MsgType::HandoffNak,
            Message::Terminate(_) => MsgType::Terminate,
            Message::Keepalive(_) => MsgType::Keepalive,
            Message::Reconcile(_) => MsgType::Reconcile,
            Message::MigrateRequest(_) => MsgType::MigrateRequest,
            Message::MigrateState(_) => MsgType::MigrateState,
        }
    }

    /// Encodes only the body into `out`, returning its length.
    pub fn encode_body(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        match self {
            Message::Hello(m) => m.encode(out),
            Message::HandoffRequest(m) => m.encode(out),
            Message::HandoffAck(m) => m.encode(out),
            Message::HandoffNak(m) => m.encode(out),
            Message::Terminate(m) => m.encode(out),
            Message::Keepalive(m) => m.encode(out),
            Message::Reconcile(m) => m.encode(out),
            Message::MigrateRequest(m) => m.encode(out),
            Message::MigrateState(m) => m.encode(out),
        }
    }

    /// Decodes a body of wire type `msg_type`.
    pub fn decode_body(msg_type: u8, body: &'a [u8]) -> Result<Self, CodecError> {
        let ty = MsgType::from_u8(msg_type).ok_or(CodecError::UnknownType(msg_type))?;
        Ok(match ty {
            MsgType::Hello => Message::Hello(Hello::decode(body)?),
            MsgType::HandoffRequest => Message::HandoffRequest(HandoffRequest::decode(body)?),
            MsgType::HandoffAck => Message::HandoffAck(HandoffAck::decode(body)?),
            MsgType::HandoffNak => Message::HandoffNak(HandoffNak::decode(body)?),
            MsgType::Terminate => Message::Terminate(Terminate::decode(body)?),
            MsgType::Keepalive => Message::Keepalive(Keepalive::decode(body)?),
            MsgType::Reconcile => Message::Reconcile(Reconcile::decode(body)?),
            MsgType::MigrateRequest => Message::MigrateRequest(MigrateRequest::decode(body)?),
            MsgType::MigrateState => Message::MigrateState(MigrateState::decode(body)?),
        })
    }
}

/// Encodes a whole frame with the given header `flags` (and `key_id`, with
/// [`FLAG_HMAC`]) into `out` and returns its length.
///
/// With [`FLAG_HMAC`] the [`HMAC_LEN`] bytes after the body are zeroed and
/// included in the returned length; the caller computes the tag over the
/// header and body and writes it there (`auth::seal`).
pub fn encode_frame(
    msg: &Message<'_>,
    seq: u32,
    flags: u16,
    key_id: u8,
    out: &mut [u8],
) -> Result<usize, CodecError> {
    let body_out = out
        .get_mut(HEADER_LEN..)
        .ok_or(CodecError::BufferTooSmall)?;
    let body_len = msg.encode_body(body_out)?;
    if body_len > MAX_BODY {
        return Err(CodecError::Oversized);
    }
    let header = Header {
        version: VERSION,
        msg_type: msg.msg_type().as_u8(),
        flags,
        key_id,
        length: u32::try_from(body_len).map_err(|_| CodecError::Oversized)?,
        seq,
    };
    let total = header.frame_len();
    let tag_start = HEADER_LEN.saturating_add(body_len);
    out.get_mut(tag_start..total)
        .ok_or(CodecError::BufferTooSmall)?
        .fill(0);
    header.encode(out)?;
    Ok(total)
}

/// Encodes a whole frame (header with no flags, then body) into `out` and
/// returns its length.
pub fn encode_message(msg: &Message<'_>, seq: u32, out: &mut [u8]) -> Result<usize, CodecError> {
    encode_frame(msg, seq, 0, 0, out)
}

/// Decodes one frame from the start of `frame`; bytes after it (the next
/// frame) are ignored. An HMAC tag, if flagged, is not verified here: use
/// [`split_frame`] to get it.
pub fn decode_message(frame: &[u8]) -> Result<(Header, Message<'_>), CodecError> {
    let frame = split_frame(frame)?;
    Ok((
        frame.header,
        Message::decode_body(frame.header.msg_type, frame.body)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::test_rng::Rng;

    const INIT: TcpInit = TcpInit {
        isn: 0xfedc_ba98,
        tsval: 12345,
        ts_ok: true,
        sack_ok: true,
        wscale: Some(7),
        mss: 1460,
        ecn: false,
        usec_ts: false,
    };

    const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

    /// Ids 1, 2 and u64::MAX, as a [`Reconcile`] lists them.
    const RECONCILE_IDS: [u8; 24] = {
        let mut b = [0u8; 24];
        b[7] = 1;
        b[15] = 2;
        let mut i = 16;
        while i < 24 {
            b[i] = 0xff;
            i += 1;
        }
        b
    };

    #[test]
    fn reconcile_lists_ids_and_rejects_bad_counts() {
        let mut raw = [0u8; 8 * 3];
        let n = Reconcile::encode_ids(&[1, 2, u64::MAX], &mut raw).unwrap();
        assert_eq!(raw[..n], RECONCILE_IDS);
        let r = Reconcile::from_raw(&raw[..n]).unwrap();
        let ids: [u64; 3] = {
            let mut it = r.ids();
            [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(ids, [1, 2, u64::MAX]);
        assert_eq!(r.len(), 3);
        assert!(Reconcile::from_raw(&raw[..7]).is_err());
        let many = [0u8; 8 * (Reconcile::MAX_IDS + 1)];
        assert_eq!(Reconcile::from_raw(&many).err(), Some(CodecError::BadField));
        let ids = [0u64; Reconcile::MAX_IDS + 1];
        let mut big = [0u8; 8 * (Reconcile::MAX_IDS + 1)];
        assert_eq!(
            Reconcile::encode_ids(&ids, &mut big).err(),
            Some(CodecError::Oversized)
        );
        // A count that disagrees with the body, either way.
        assert_eq!(
            Reconcile::decode(&[0, 2, 0, 0, 0, 0, 0, 0, 0, 1]).err(),
            Some(CodecError::Truncated)
        );
        assert_eq!(Reconcile::decode(&[0, 0, 9]).map(|r| r.len()), Ok(0));
        assert_eq!(
            Reconcile::decode(&[0x01, 0x00]).err(),
            Some(CodecError::BadField)
        );
        assert_eq!(Reconcile::decode(&[0]).err(), Some(CodecError::Truncated));
    }

    fn samples() -> [Message<'static>; 14] {
        [
            Message::Hello(Hello {
                node_id: 7,
                proto_min: 1,
                proto_max: 3,
                nonce: [0xa5; 16],
                features: 0x8000_0001,
            }),
            Message::HandoffRequest(HandoffRequest {
                conn_id: u64::MAX - 1,
                client: Endpoint::v4([192, 0, 2, 1], 50000),
                service: Endpoint::v4([198, 51, 100, 7], 80),
                client_init: TcpInit {
                    wscale: None,
                    ecn: true,
                    ..INIT
                },
                fe_init: INIT,
                client_ack_seq: 0xffff_ffff,
                client_ack_tsval: 1,
                client_ack_tsecr: 2,
                client_rcv_wnd: 502,
                request: REQ,
            }),
            Message::HandoffRequest(HandoffRequest {
                conn_id: 1,
                client: Endpoint::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 1),
                service: Endpoint::v6([0xfe; 16], 443),
                client_init: TcpInit {
                    usec_ts: true,
                    wscale: Some(14),
                    ..INIT
                },
                fe_init: TcpInit {
                    ts_ok: false,
                    tsval: 0,
                    sack_ok: false,
                    wscale: Some(0),
                    ..INIT
                },
                client_ack_seq: 0,
                client_ack_tsval: 0,
                client_ack_tsecr: 0,
                client_rcv_wnd: 0,
                request: b"",
            }),
            Message::HandoffAck(HandoffAck {
                conn_id: 42,
                be_init: INIT,
                be_addr: Endpoint::v4([198, 51, 100, 2], 80),
            }),
            Message::HandoffNak(HandoffNak {
                conn_id: 43,
                reason: NakReason::TupleBusy,
            }),
            Message::HandoffNak(HandoffNak {
                conn_id: 44,
                reason: NakReason::Unknown(999),
            }),
            Message::Terminate(Terminate {
                conn_id: 45,
                reason: 3,
            }),
            Message::Keepalive(Keepalive {
                active_conns: 1,
                in_flight: 2,
                load: 3,
            }),
            Message::Keepalive(Keepalive {
                active_conns: 0,
                in_flight: 0,
                load: u32::MAX,
            }),
            Message::Reconcile(Reconcile::from_raw(&RECONCILE_IDS).unwrap()),
            Message::Reconcile(Reconcile::from_raw(&[]).unwrap()),
            Message::MigrateRequest(MigrateRequest {
                conn_id: 46,
                client_seq: u32::MAX,
            }),
            Message::MigrateState(MigrateState {
                conn_id: 47,
                status: MigrateStatus::Ready,
                client_seq: 1,
                server_seq: 0x8000_0000,
                tsval: 3,
                ts_recent: 4,
                snd_wnd: 65535 << 7,
            }),
            Message::MigrateState(MigrateState {
                conn_id: 48,
                status: MigrateStatus::Gone,
                client_seq: 0,
                server_seq: 0,
                tsval: 0,
                ts_recent: 0,
                snd_wnd: 0,
            }),
        ]
    }

    #[test]
    fn migrate_state_rejects_unknown_status() {
        let mut buf = [0u8; MigrateState::LEN];
        let msg = MigrateState {
            conn_id: 1,
            status: MigrateStatus::Busy,
            client_seq: 2,
            server_seq: 3,
            tsval: 4,
            ts_recent: 5,
            snd_wnd: 6,
        };
        assert_eq!(msg.encode(&mut buf), Ok(MigrateState::LEN));
        assert_eq!(buf[8..10], [0, 1]);
        assert_eq!(MigrateState::decode(&buf), Ok(msg));
        buf[9] = 3;
        assert_eq!(MigrateState::decode(&buf), Err(CodecError::BadField));
        assert_eq!(MsgType::from_u8(9), Some(MsgType::MigrateState));
        assert_eq!(MsgType::from_u8(10), None);
    }

    #[test]
    fn round_trip_every_type() {
        let mut buf = [0u8; 512];
        for (i, msg) in samples().iter().enumerate() {
            let seq = 1000 + i as u32;
            let n = encode_message(msg, seq, &mut buf).unwrap();
            assert_eq!(frame_len(&buf[..n]), Ok(Some(n)));
            assert_eq!(frame_len(&buf[..HEADER_LEN - 1]), Ok(None));
            let (h, back) = decode_message(&buf[..n]).unwrap();
            assert_eq!(back, *msg);
            assert_eq!(h.seq, seq);
            assert_eq!(h.flags, 0);
            assert_eq!(h.msg_type, msg.msg_type().as_u8());
            assert_eq!(h.body_len() + HEADER_LEN, n);
            // Trailing bytes (the next frame) are ignored.
            let (_, again) = decode_message(&buf[..n + 10]).unwrap();
            assert_eq!(again, *msg);
        }
    }

    #[test]
    fn body_lengths() {
        let mut buf = [0u8; 512];
        for msg in samples() {
            let n = msg.encode_body(&mut buf).unwrap();
            assert_eq!(msg.body_len(), n, "{msg:?}");
        }
        assert_eq!(HandoffRequest::FIXED_LEN, 88);
        // The largest RECONCILE fits a frame, and its length is exact.
        let ids: [u64; Reconcile::MAX_IDS] = core::array::from_fn(|i| i as u64 * 7919);
        let mut raw = [0u8; 8 * Reconcile::MAX_IDS];
        let used = Reconcile::encode_ids(&ids, &mut raw).unwrap();
        let msg = Message::Reconcile(Reconcile::from_raw(&raw[..used]).unwrap());
        let mut frame = [0u8; MAX_FRAME];
        let n = encode_message(&msg, 1, &mut frame).unwrap();
        assert_eq!(n, HEADER_LEN + msg.body_len());
        assert_eq!(decode_message(&frame[..n]).unwrap().1, msg);
    }

    #[test]
    fn hmac_framing() {
        let mut buf = [0xffu8; 512];
        let msg = samples()[3];
        let n = encode_frame(&msg, 9, FLAG_HMAC, 7, &mut buf).unwrap();
        assert_eq!(n, HEADER_LEN + HandoffAck::LEN + HMAC_LEN);
        assert_eq!(frame_len(&buf[..HEADER_LEN]), Ok(Some(n)));
        assert_eq!(buf[6..8], [7, 0], "the key id, then a reserved byte");
        let frame = split_frame(&buf[..n]).unwrap();
        assert_eq!(frame.header.flags, FLAG_HMAC);
        assert_eq!(frame.header.key_id, 7);
        assert_eq!(frame.body.len(), HandoffAck::LEN);
        assert_eq!(frame.tag, Some(&[0u8; HMAC_LEN][..]));
        assert_eq!(decode_message(&buf[..n]).unwrap().1, msg);
        assert_eq!(decode_message(&buf[..n - 1]), Err(CodecError::Truncated));
        assert_eq!(
            encode_frame(&msg, 9, FLAG_HMAC, 7, &mut buf[..n - 1]),
            Err(CodecError::BufferTooSmall)
        );
        assert_eq!(
            encode_frame(&msg, 9, 0x0002, 0, &mut buf),
            Err(CodecError::BadField)
        );
        // A key id without a tag means nothing: refused both ways.
        assert_eq!(
            encode_frame(&msg, 9, 0, 7, &mut buf),
            Err(CodecError::BadField)
        );
        let m = encode_message(&msg, 9, &mut buf).unwrap();
        buf[6] = 7;
        assert_eq!(decode_message(&buf[..m]), Err(CodecError::BadField));
        buf[6] = 0;
        buf[7] = 1;
        assert_eq!(decode_message(&buf[..m]), Err(CodecError::BadField));
    }

    #[test]
    fn every_truncation_is_truncated() {
        let mut buf = [0u8; 512];
        let mut body = [0u8; 512];
        for msg in samples() {
            let n = encode_message(&msg, 1, &mut buf).unwrap();
            for k in 0..n {
                assert_eq!(
                    decode_message(&buf[..k]),
                    Err(CodecError::Truncated),
                    "k={k}"
                );
            }
            // A consistent frame whose body itself is too short.
            let blen = msg.encode_body(&mut body).unwrap();
            for k in 0..blen {
                assert_eq!(
                    Message::decode_body(msg.msg_type().as_u8(), &body[..k]),
                    Err(CodecError::Truncated),
                    "k={k}"
                );
                buf[8..12].copy_from_slice(&(k as u32).to_be_bytes());
                assert_eq!(
                    decode_message(&buf[..HEADER_LEN + k]),
                    Err(CodecError::Truncated)
                );
            }
            // Longer bodies are accepted for forward compatibility.
            let mut long = [0u8; 600];
            long[..blen].copy_from_slice(&body[..blen]);
            long[blen..blen + 5].fill(0xee);
            assert_eq!(
                Message::decode_body(msg.msg_type().as_u8(), &long[..blen + 5]),
                Ok(msg)
            );
        }
    }

    #[test]
    fn encode_buffer_too_small() {
        let mut buf = [0u8; 512];
        for msg in samples() {
            let n = encode_message(&msg, 1, &mut buf).unwrap();
            for k in 0..n {
                assert_eq!(
                    encode_message(&msg, 1, &mut buf[..k]),
                    Err(CodecError::BufferTooSmall)
                );
            }
        }
    }

    #[test]
    fn header_validation() {
        let mut buf = [0u8; 64];
        let n = encode_message(&samples()[6], 5, &mut buf).unwrap();
        let frame = &buf[..n];
        let with = |off: usize, val: &[u8]| {
            let mut f = [0u8; 64];
            f[..n].copy_from_slice(frame);
            f[off..off + val.len()].copy_from_slice(val);
            f
        };
        let f = with(0, b"TX");
        assert_eq!(frame_len(&f[..n]), Err(CodecError::BadMagic));
        assert_eq!(decode_message(&f[..n]), Err(CodecError::BadMagic));
        let f = with(2, &[2]);
        assert_eq!(decode_message(&f[..n]), Err(CodecError::BadVersion));
        let f = with(3, &[0]);
        assert_eq!(frame_len(&f[..n]), Ok(Some(n)));
        assert_eq!(decode_message(&f[..n]), Err(CodecError::UnknownType(0)));
        let f = with(3, &[200]);
        assert_eq!(decode_message(&f[..n]), Err(CodecError::UnknownType(200)));
        let f = with(4, &[0x80, 0]);
        assert_eq!(frame_len(&f[..n]), Err(CodecError::BadField));
        let f = with(6, &[0, 1]);
        assert_eq!(frame_len(&f[..n]), Err(CodecError::BadField));
        assert_eq!(decode_message(&f[..n]), Err(CodecError::BadField));
        let f = with(8, &(MAX_BODY as u32 + 1).to_be_bytes());
        assert_eq!(frame_len(&f[..HEADER_LEN]), Err(CodecError::Oversized));
        let f = with(8, &u32::MAX.to_be_bytes());
        assert_eq!(frame_len(&f[..HEADER_LEN]), Err(CodecError::Oversized));
        let f = with(8, &(MAX_BODY as u32).to_be_bytes());
        assert_eq!(frame_len(&f[..HEADER_LEN]), Ok(Some(HEADER_LEN + MAX_BODY)));
        assert_eq!(decode_message(&f[..n]), Err(CodecError::Truncated));
    }

    #[test]
    fn field_validation() {
        let mut buf = [0u8; 512];
        let Message::HandoffRequest(req) = samples()[1] else {
            unreachable!()
        };
        let bad_ep = Endpoint {
            addr: [1; 16],
            ..Endpoint::v4([1, 2, 3, 4], 5)
        };
        let fam5 = Endpoint {
            family: 5,
            ..Endpoint::v6([0; 16], 5)
        };
        for bad in [
            HandoffRequest {
                client: bad_ep,
                ..req
            },
            HandoffRequest {
                service: fam5,
                ..req
            },
            HandoffRequest {
                service: Endpoint::v6([0; 16], 80),
                ..req
            },
            HandoffRequest {
                fe_init: TcpInit {
                    wscale: Some(15),
                    ..INIT
                },
                ..req
            },
            HandoffRequest {
                fe_init: TcpInit {
                    ts_ok: false,
                    usec_ts: true,
                    ..INIT
                },
                ..req
            },
        ] {
            assert_eq!(bad.encode(&mut buf), Err(CodecError::BadField));
        }
        let hello = Hello {
            node_id: 1,
            proto_min: 2,
            proto_max: 1,
            nonce: [0; 16],
            features: 0,
        };
        assert_eq!(hello.encode(&mut buf), Err(CodecError::BadField));

        // Decoder-side checks on hand-made bodies.
        let n = req.encode(&mut buf).unwrap();
        let tcp_bits = 8 + 2 * Endpoint::LEN + 8;
        let mut b = buf;
        b[tcp_bits] |= 0x80;
        assert_eq!(HandoffRequest::decode(&b[..n]), Err(CodecError::BadField));
        let mut b = buf;
        b[tcp_bits] &= !TI_WSCALE;
        b[tcp_bits + 1] = 3;
        assert_eq!(HandoffRequest::decode(&b[..n]), Err(CodecError::BadField));
        let mut b = buf;
        b[tcp_bits + 1] = 15;
        assert_eq!(HandoffRequest::decode(&b[..n]), Err(CodecError::BadField));
        let mut b = buf;
        b[8] = 6;
        assert_eq!(HandoffRequest::decode(&b[..n]), Err(CodecError::BadField));
        let mut b = buf;
        b[8 + 1 + 5] = 1;
        assert_eq!(HandoffRequest::decode(&b[..n]), Err(CodecError::BadField));
        let mut hb = [0u8; Hello::LEN];
        hb[4] = 3;
        hb[5] = 2;
        assert_eq!(Hello::decode(&hb), Err(CodecError::BadField));

        // Oversized request payloads are refused by the encoder.
        let big = [b'x'; HandoffRequest::MAX_REQUEST + 1];
        let mut out = [0u8; MAX_FRAME + 64];
        let too_big = HandoffRequest {
            request: &big,
            ..req
        };
        assert_eq!(too_big.encode(&mut out), Err(CodecError::Oversized));
        let max = HandoffRequest {
            request: &big[..HandoffRequest::MAX_REQUEST],
            ..req
        };
        let n = encode_message(&Message::HandoffRequest(max), 0, &mut out).unwrap();
        assert_eq!(n, HEADER_LEN + MAX_BODY);
        assert_eq!(
            decode_message(&out[..n]).unwrap().1,
            Message::HandoffRequest(max)
        );
    }

    #[test]
    fn nak_reasons() {
        for v in 0..=20u16 {
            assert_eq!(NakReason::from_u16(v).as_u16(), v);
        }
        assert_eq!(NakReason::from_u16(1), NakReason::NoListener);
        assert_eq!(NakReason::from_u16(6), NakReason::Internal);
        assert_eq!(NakReason::from_u16(7), NakReason::Unknown(7));
        for v in 1..=9u8 {
            assert_eq!(MsgType::from_u8(v).map(MsgType::as_u8), Some(v));
        }
        assert_eq!(MsgType::from_u8(0), None);
        assert_eq!(MsgType::from_u8(10), None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let mut buf = [0u8; 256];
        let mut valid = [0u8; 256];
        let samples = samples();
        for i in 0..10_000 {
            let len;
            if i % 2 == 0 {
                len = (rng.next() % 256) as usize;
                for b in &mut buf[..len] {
                    *b = rng.next() as u8;
                }
                // Make some of them pass the header checks.
                if i % 4 == 0 && len >= HEADER_LEN {
                    buf[..4].copy_from_slice(&[0x54, 0x48, 1, (rng.next() % 8) as u8]);
                    buf[4..8].fill(0);
                    let blen = (rng.next() % 256) as u32;
                    buf[8..12].copy_from_slice(&blen.to_be_bytes());
                }
            } else {
                let msg = &samples[(rng.next() % samples.len() as u64) as usize];
                len = encode_message(msg, 0, &mut valid).unwrap();
                buf[..len].copy_from_slice(&valid[..len]);
                for _ in 0..1 + rng.next() % 4 {
                    let pos = (rng.next() % len as u64) as usize;
                    buf[pos] = rng.next() as u8;
                }
            }
            let f = &buf[..len];
            let fl = frame_len(f);
            if let Ok((h, _)) = decode_message(f) {
                assert_eq!(fl, Ok(Some(h.frame_len())));
                assert!(h.frame_len() <= len);
            }
            for ty in 0..8u8 {
                let _ = Message::decode_body(ty, &f[len.min(HEADER_LEN)..]);
            }
        }
    }
}
