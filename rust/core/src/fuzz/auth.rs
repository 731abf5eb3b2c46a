// SPDX-License-Identifier: GPL-2.0

//! The `auth` target: a channel's receiving side ([`Session::open`]) on
//! frames from a peer that holds the keys, one that does not, and bytes
//! from nowhere; with keys replaced under a live session, as an
//! administrator rotating them does.
//!
//! # Input
//!
//! Four bytes of the first sequence number expected (big-endian), then
//! records, each an op byte, a big-endian `u16` length and that many bytes
//! of frame (fewer when the input ends), which the harness may change
//! before the session sees it, as the op's bits say:
//!
//! | bit | what |
//! | --- | --- |
//! | `0x01` | write the sequence number the session expects into the header |
//! | `0x02` | tag it as the peer would: with the session key of the key id in its header |
//! | `0x04` | tag it with that configured key itself instead (how a HELLO is tagged, wrong inside a session) |
//! | `0x08` | then flip bit `op >> 5` of the byte at the position given by one more byte, read before the length |
//! | `0x10` | first replace key 2's secret (delete and add it again, with the other of two secrets) and let the session drop what it no longer has keys for, as the channel does when the configuration changes |
//!
//! The harness keeps its own account of what must happen (which key each
//! id has now, the next sequence number, the failures) and checks every
//! answer of the session against it: a frame is accepted exactly when its
//! tag is the one made with the session key of a configured key over its
//! header and body, and its number is the next one.

use crate::auth::{
    seal, session_key, verify, AuthError, Keyring, Mac, Session, MAX_FAILURES, NONCE_LEN,
    SESSION_KEY_LEN,
};
use crate::codec::{decode_header, HMAC_LEN};

/// A keyed hash standing in for HMAC-SHA256: the checks need a tag that
/// depends on the key and on every byte, not a strong one (a tag the
/// fuzzer manages to forge is still one made with the key, and the
/// account agrees).
pub struct ToyMac;

impl Mac for ToyMac {
    fn hmac(&self, key: &[u8], parts: &[&[u8]]) -> [u8; SESSION_KEY_LEN] {
        let mut tag = [0u8; SESSION_KEY_LEN];
        for (lane, out) in tag.chunks_exact_mut(8).enumerate() {
            // FNV-1a, one lane per eighth of the tag, the key's length
            // between key and message so that neither runs into the other.
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (lane as u64).wrapping_mul(0x9e37_79b9);
            let mut eat = |b: u8| {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            };
            key.iter().for_each(|&b| eat(b));
            (key.len() as u64)
                .to_be_bytes()
                .iter()
                .for_each(|&b| eat(b));
            parts.iter().flat_map(|p| p.iter()).for_each(|&b| eat(b));
            h ^= h >> 33;
            h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
            h ^= h >> 33;
            out.copy_from_slice(&h.to_be_bytes());
        }
        tag
    }
}

/// The connecting node's id.
pub const CONNECTOR: u32 = 1;
/// The accepting node's id.
pub const ACCEPTOR: u32 = 2;
/// The connecting node's HELLO nonce.
pub const NC: [u8; NONCE_LEN] = [0x11; NONCE_LEN];
/// The accepting node's HELLO nonce.
pub const NA: [u8; NONCE_LEN] = [0x22; NONCE_LEN];
/// The keyring both nodes start with (key 1 is current): the shortest,
/// a common and the longest key length.
pub const KEYS: [(u8, &[u8]); 3] = [
    (1, b"0123456789abcdef"),
    (2, b"a 32-byte key for the fuzz ring!"),
    (
        200,
        b"a 64-byte key, as long as an HMAC-SHA256 block, for a fuzz ring.",
    ),
];
/// The secret key 2 is replaced with every other time.
const KEY2_NEXT: &[u8] = b"key 2, replaced by the operator.";

/// The ring of [`KEYS`].
fn ring() -> Keyring {
    let mut ring = Keyring::default();
    for (id, secret) in KEYS {
        ring.add(id, secret, false).expect("a valid key");
    }
    ring
}

/// The session key of `secret` between the two nodes, as the peer derives
/// it.
fn peer_key(secret: &[u8]) -> [u8; SESSION_KEY_LEN] {
    session_key(&ToyMac, secret, CONNECTOR, &NC, ACCEPTOR, &NA)
}

/// What [`Session::open`] must answer: the rules of `auth`, written again
/// from its documentation.
fn expected(ring: &Keyring, frame: &[u8], want: u32) -> Result<(), AuthError> {
    let h = decode_header(frame).map_err(AuthError::Codec)?;
    if h.tag_len() == 0 {
        return Err(AuthError::Untagged);
    }
    let secret = ring.get(h.key_id).ok_or(AuthError::UnknownKey(h.key_id))?;
    if frame.len() != h.frame_len() {
        return Err(AuthError::Codec(crate::codec::CodecError::Truncated));
    }
    let (signed, tag) = frame.split_at(frame.len() - HMAC_LEN);
    if ToyMac.hmac(&peer_key(secret), &[signed]) != tag {
        return Err(AuthError::BadTag);
    }
    if h.seq != want {
        return Err(AuthError::Sequence { got: h.seq, want });
    }
    Ok(())
}

/// Splits `n` bytes off the front of `data` (fewer if it is shorter).
fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = data.split_at(n.min(data.len()));
    *data = tail;
    head
}

/// Checks the authentication of frames built from `data` (see the module
/// documentation for its layout).
pub fn auth(mut data: &[u8]) {
    let mut first = [0u8; 4];
    let seed = take(&mut data, 4);
    first[..seed.len()].copy_from_slice(seed);
    let mut want = u32::from_be_bytes(first);

    let mut ring = ring();
    let mut key2_replaced = false;
    let mut session = Session::new(CONNECTOR, NC, ACCEPTOR, NA, want);
    let mut failures = 0u32;
    let mut frame = [0u8; u16::MAX as usize];
    let mut mine = [0u8; u16::MAX as usize];

    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        let flip_at = if op & 0x08 != 0 {
            take(&mut data, 1).first().copied()
        } else {
            None
        };
        let len = match take(&mut data, 2) {
            &[a, b] => usize::from(u16::from_be_bytes([a, b])),
            _ => 0,
        };
        let bytes = take(&mut data, len);
        let frame = &mut frame[..bytes.len()];
        frame.copy_from_slice(bytes);

        if op & 0x10 != 0 {
            ring.remove(2).expect("key 2 is configured and not current");
            key2_replaced = !key2_replaced;
            let secret = if key2_replaced { KEY2_NEXT } else { KEYS[1].1 };
            ring.add(2, secret, false).expect("room for key 2");
            session.forget_missing(&ring);
        }
        if op & 0x01 != 0 {
            if let Some(seq) = frame.get_mut(12..16) {
                seq.copy_from_slice(&want.to_be_bytes());
            }
        }
        if op & 0x06 != 0 {
            tag(&mut session, &ring, op, frame, &mut mine);
        }
        if let Some(at) = flip_at {
            if let Some(b) = frame.get_mut(usize::from(at) % bytes.len().max(1)) {
                *b ^= 1 << (op >> 5);
            }
        }

        let frame = &*frame;
        let want_result = expected(&ring, frame, want);
        let got = session.open(&ToyMac, &ring, frame);
        assert_eq!(got, want_result, "frame {frame:02x?}");
        match got {
            Ok(()) => want = want.wrapping_add(1),
            Err(_) => failures += 1,
        }
        assert_eq!(session.failed_too_often(), failures >= MAX_FAILURES);

        // The bare check, with a configured key rather than a session key:
        // what it accepts carries that key's tag.
        let (_, secret) = KEYS[0];
        if let Ok(h) = verify(&ToyMac, secret, frame) {
            assert_eq!(frame.len(), h.frame_len());
            let (signed, tag) = frame.split_at(frame.len() - HMAC_LEN);
            assert_eq!(ToyMac.hmac(secret, &[signed]), tag);
        }
    }
}

/// Tags `frame` as op bits `0x02`/`0x04` say, as the peer does, and checks
/// that the session tags a frame of its own the same way.
fn tag(session: &mut Session, ring: &Keyring, op: u8, frame: &mut [u8], mine: &mut [u8]) {
    let Ok(h) = decode_header(frame) else {
        return;
    };
    let Some(secret) = ring.get(h.key_id) else {
        return;
    };
    if op & 0x04 != 0 {
        let _ = seal(&ToyMac, secret, frame);
        return;
    }
    let mine = &mut mine[..frame.len()];
    mine.copy_from_slice(frame);
    let sealed = seal(&ToyMac, &peer_key(secret), frame).is_ok();
    assert_eq!(session.seal(&ToyMac, ring, h.key_id, mine), sealed);
    assert_eq!(
        mine, &*frame,
        "the session tags with another key than its peer"
    );
}
