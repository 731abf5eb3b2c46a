// SPDX-License-Identifier: GPL-2.0

//! Authentication of the control channel: keys, session keys, tags and
//! sequence numbers.
//!
//! A control channel can make a node inject connections into its own TCP
//! stack, so a namespace with keys configured (a [`Keyring`]) talks only to
//! peers that prove they hold one of them:
//!
//! - Every frame carries [`FLAG_HMAC`], the id of the key it was made with
//!   (header byte 6) and an HMAC-SHA256 tag over its header and body.
//! - The connecting node's HELLO is tagged with the configured key itself;
//!   everything after it, in both directions, with a *session key* derived
//!   from that key and both HELLOs' random nonces ([`session_key`]). A
//!   frame of one session is worth nothing in another.
//! - Frames are numbered from 0 in each direction on each connection, and
//!   a receiver takes only the next number ([`Session::open`]): a frame
//!   replayed within a session is refused.
//! - Each frame names its key, and a receiver accepts any key of its
//!   keyring: keys rotate without closing the channel (add the new key
//!   everywhere, make it current everywhere, delete the old one).
//!
//! The HMAC itself is the kernel's (the module passes its implementation
//! as a [`Mac`]); everything else is here, host-tested with a stand-in.

use super::codec::{decode_header, CodecError, Header, FLAG_HMAC, HEADER_LEN, HMAC_LEN};

/// Most keys one namespace holds (enough for a rotation: old, new, next).
pub const MAX_KEYS: usize = 4;
/// Shortest key accepted, in bytes (128 bits).
pub const KEY_MIN: usize = 16;
/// Longest key accepted, in bytes (an HMAC-SHA256 block).
pub const KEY_MAX: usize = 64;
/// Size of a session key and of a tag.
pub const SESSION_KEY_LEN: usize = 32;
/// Size of a HELLO nonce.
pub const NONCE_LEN: usize = 16;
/// Label of the session-key derivation (domain separation).
pub const KDF_LABEL: &[u8] = b"tcp_handoff session key v1";
/// Label of the TCP-AO master key derivation ([`ao_key`]).
pub const AO_LABEL: &[u8] = b"tcp_handoff tcp-ao v1";

/// Length of a channel connection's TCP-AO master key.
pub const AO_KEY_LEN: usize = 32;

/// Refused frames on one connection before it is closed: a peer with the
/// wrong key fails every frame, an attacker who got into the stream too.
pub const MAX_FAILURES: u32 = 3;

/// HMAC-SHA256 over the concatenation of `parts`.
pub trait Mac {
    /// Returns the tag of `parts` under `key`.
    fn hmac(&self, key: &[u8], parts: &[&[u8]]) -> [u8; SESSION_KEY_LEN];
}

/// Why a key could not be added or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Key id 0 is reserved (it means "no key" in a frame header).
    BadId,
    /// Shorter than [`KEY_MIN`] or longer than [`KEY_MAX`] bytes.
    BadLength,
    /// A key with this id exists.
    Exists,
    /// [`MAX_KEYS`] keys exist.
    Full,
    /// No key with this id.
    NotFound,
    /// The key is the current one and others exist: make another current
    /// first (deleting it would leave nothing to send with).
    Current,
}

/// One configured key.
#[derive(Clone, Copy)]
struct Key {
    id: u8,
    len: u8,
    secret: [u8; KEY_MAX],
    /// Which [`Keyring::add`] of the ring made it: a key deleted and added
    /// again under the same id (another secret, perhaps) is another key
    /// to a [`Session`] that derived from the first.
    added: u64,
}

/// The keys of a namespace and which one it sends with.
///
/// # Invariants
///
/// Ids are unique and non-zero; `current` names a key of the ring, and is
/// `Some` exactly when the ring is not empty.
#[derive(Clone, Default)]
pub struct Keyring {
    keys: [Option<Key>; MAX_KEYS],
    current: Option<u8>,
    /// Keys added so far (never reset, so `Key::added` is unique).
    added: u64,
}

impl core::fmt::Debug for Keyring {
    /// Never prints a secret.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Keyring")
            .field(
                "ids",
                &self.keys.iter().flatten().map(|k| k.id).collect::<KeyIds>(),
            )
            .field("current", &self.current)
            .finish()
    }
}

/// A set of at most [`MAX_KEYS`] key ids.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeyIds([u8; MAX_KEYS], usize);

impl KeyIds {
    /// The ids, in the order they were put in.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        self.0[..self.1].iter().copied()
    }
}

impl FromIterator<u8> for KeyIds {
    fn from_iter<I: IntoIterator<Item = u8>>(it: I) -> Self {
        let mut ids = KeyIds::default();
        for id in it {
            if let Some(slot) = ids.0.get_mut(ids.1) {
                *slot = id;
                ids.1 += 1;
            }
        }
        ids
    }
}

impl Keyring {
    /// Whether the namespace authenticates its channels.
    pub fn enabled(&self) -> bool {
        self.current.is_some()
    }

    /// The id of the key frames are sent with.
    pub fn current(&self) -> Option<u8> {
        self.current
    }

    /// The secret of key `id`.
    pub fn get(&self, id: u8) -> Option<&[u8]> {
        self.find(id).and_then(Key::secret)
    }

    /// The key with id `id`.
    fn find(&self, id: u8) -> Option<&Key> {
        self.keys.iter().flatten().find(|k| k.id == id)
    }

    /// The ids of the keys, in the order they were added.
    pub fn ids(&self) -> impl Iterator<Item = u8> + '_ {
        self.keys.iter().flatten().map(|k| k.id)
    }

    /// Adds key `id`; the first key becomes current, as does any key added
    /// with `make_current`.
    pub fn add(&mut self, id: u8, secret: &[u8], make_current: bool) -> Result<(), KeyError> {
        if id == 0 {
            return Err(KeyError::BadId);
        }
        if !(KEY_MIN..=KEY_MAX).contains(&secret.len()) {
            return Err(KeyError::BadLength);
        }
        if self.get(id).is_some() {
            return Err(KeyError::Exists);
        }
        let slot = self
            .keys
            .iter_mut()
            .find(|k| k.is_none())
            .ok_or(KeyError::Full)?;
        let mut key = Key {
            id,
            len: secret.len() as u8,
            secret: [0; KEY_MAX],
            added: self.added,
        };
        self.added = self.added.wrapping_add(1);
        key.secret[..secret.len()].copy_from_slice(secret);
        *slot = Some(key);
        if make_current || self.current.is_none() {
            // INVARIANT: `id` is in the ring now.
            self.current = Some(id);
        }
        Ok(())
    }

    /// Makes key `id` the one frames are sent with.
    pub fn set_current(&mut self, id: u8) -> Result<(), KeyError> {
        if self.get(id).is_none() {
            return Err(KeyError::NotFound);
        }
        self.current = Some(id);
        Ok(())
    }

    /// Deletes key `id` (its secret is overwritten). The current key goes
    /// only when it is the last one.
    pub fn remove(&mut self, id: u8) -> Result<(), KeyError> {
        let others = self.keys.iter().flatten().filter(|k| k.id != id).count();
        let slot = self
            .keys
            .iter_mut()
            .find(|k| k.is_some_and(|k| k.id == id))
            .ok_or(KeyError::NotFound)?;
        if self.current == Some(id) && others > 0 {
            return Err(KeyError::Current);
        }
        if let Some(k) = slot {
            wipe(&mut k.secret);
        }
        *slot = None;
        if others == 0 {
            // INVARIANT: the ring is empty.
            self.current = None;
        }
        Ok(())
    }

    /// The TCP-AO changes that take a socket set up for this ring to
    /// `new`. A key is the same key only if it was not deleted and added
    /// again meanwhile (`Key::added`), whatever its id.
    pub fn ao_changes(&self, new: &Keyring) -> AoChanges {
        let added = |r: &Keyring, id| r.find(id).map(|k| k.added);
        let mut c = AoChanges {
            add: new.ids().filter(|&id| self.find(id).is_none()).collect(),
            readd: new
                .ids()
                .filter(|&id| added(self, id).is_some_and(|a| Some(a) != added(new, id)))
                .collect(),
            current: None,
            del: self.ids().filter(|&id| new.find(id).is_none()).collect(),
        };
        if new.current != self.current
            || new
                .current
                .is_some_and(|id| c.readd.iter().any(|r| r == id))
        {
            c.current = new.current;
        }
        c
    }

    /// Deletes every key, overwriting the secrets.
    pub fn clear(&mut self) {
        for slot in self.keys.iter_mut() {
            if let Some(k) = slot {
                wipe(&mut k.secret);
            }
            *slot = None;
        }
        // INVARIANT: the ring is empty. (Assigning a new ring here would
        // drop this one, and `drop` calls `clear`.)
        self.current = None;
    }
}

impl Key {
    /// The secret, without the unused end of the array.
    fn secret(&self) -> Option<&[u8]> {
        self.secret.get(..usize::from(self.len))
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Overwrites a secret. A fence after the stores keeps the compiler from
/// dropping them as dead (the memory is freed right after).
pub fn wipe(secret: &mut [u8]) {
    secret.fill(0);
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// Compares two tags in time independent of where they differ.
pub fn tags_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session key of a connection from node `connector` (nonce `nc`) to
/// node `acceptor` (nonce `na`) under configured key `master`:
/// `HMAC(master, KDF_LABEL || nc || na || connector || acceptor)`, ids as
/// big-endian u32.
pub fn session_key<M: Mac>(
    mac: &M,
    master: &[u8],
    connector: u32,
    nc: &[u8; NONCE_LEN],
    acceptor: u32,
    na: &[u8; NONCE_LEN],
) -> [u8; SESSION_KEY_LEN] {
    mac.hmac(
        master,
        &[
            KDF_LABEL,
            nc,
            na,
            &connector.to_be_bytes(),
            &acceptor.to_be_bytes(),
        ],
    )
}

/// The TCP-AO (RFC 5925) master key that configured key `master` gives the
/// channel's TCP connections: `HMAC(master, AO_LABEL)`. A key of its own,
/// so the segments' MACs and the frames' tags never share one.
pub fn ao_key<M: Mac>(mac: &M, master: &[u8]) -> [u8; AO_KEY_LEN] {
    mac.hmac(master, &[AO_LABEL])
}

/// What a socket's TCP-AO keys must do to follow a ring from one state to
/// another ([`Keyring::ao_changes`]), in this order: add `add`, make
/// `current` current (on a connection; a listener has none), delete `del`.
/// A key deleted and added again under the same id is in `readd`: its old
/// MKT must go before the new one is added (ids cannot overlap), so it is
/// done first, unless it is the socket's current key.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AoChanges {
    /// Ids to add (new keys).
    pub add: KeyIds,
    /// Ids whose key changed: delete, then add.
    pub readd: KeyIds,
    /// The new current key, when it changed.
    pub current: Option<u8>,
    /// Ids to delete.
    pub del: KeyIds,
}

impl AoChanges {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        *self == AoChanges::default()
    }
}

/// Writes the tag of a frame encoded with [`FLAG_HMAC`] (its last
/// [`HMAC_LEN`] bytes) under `key`.
pub fn seal<M: Mac>(mac: &M, key: &[u8], frame: &mut [u8]) -> Result<(), CodecError> {
    let h = decode_header(frame)?;
    if h.flags & FLAG_HMAC == 0 || frame.len() != h.frame_len() {
        return Err(CodecError::BadField);
    }
    let (signed, tag) = frame.split_at_mut(frame.len() - HMAC_LEN);
    tag.copy_from_slice(&mac.hmac(key, &[signed]));
    Ok(())
}

/// Why a received frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// The frame does not parse.
    Codec(CodecError),
    /// No tag, from a peer of a namespace that requires one.
    Untagged,
    /// A tag, in a namespace without keys.
    Unexpected,
    /// The key id names no configured key.
    UnknownKey(u8),
    /// The tag is wrong (another key, or a forged frame).
    BadTag,
    /// Not the next sequence number: replayed, or frames went missing.
    Sequence {
        /// The frame's number.
        got: u32,
        /// The number expected.
        want: u32,
    },
}

/// Checks that `frame` (one whole frame) carries a good tag under `key`.
pub fn verify<M: Mac>(mac: &M, key: &[u8], frame: &[u8]) -> Result<Header, AuthError> {
    let h = decode_header(frame).map_err(AuthError::Codec)?;
    if h.flags & FLAG_HMAC == 0 {
        return Err(AuthError::Untagged);
    }
    if frame.len() != h.frame_len() || frame.len() < HEADER_LEN + HMAC_LEN {
        return Err(AuthError::Codec(CodecError::Truncated));
    }
    let (signed, tag) = frame.split_at(frame.len() - HMAC_LEN);
    if !tags_equal(&mac.hmac(key, &[signed]), tag) {
        return Err(AuthError::BadTag);
    }
    Ok(h)
}

/// The authenticated state of one channel connection: the nonces its
/// session keys derive from, the keys derived so far, and the next
/// sequence number expected.
pub struct Session {
    connector: u32,
    acceptor: u32,
    nc: [u8; NONCE_LEN],
    na: [u8; NONCE_LEN],
    /// Session keys derived so far: key id, [`Key::added`] of that key,
    /// session key.
    derived: [Option<(u8, u64, [u8; SESSION_KEY_LEN])>; MAX_KEYS],
    rx_seq: u32,
    failures: u32,
}

impl Drop for Session {
    fn drop(&mut self) {
        for (_, _, k) in self.derived.iter_mut().flatten() {
            wipe(k);
        }
    }
}

impl Session {
    /// A session between `connector` (nonce `nc`) and `acceptor` (nonce
    /// `na`); frame 0 of both directions (the HELLOs) is handled by the
    /// caller, so the next frame expected is `rx_seq`.
    pub fn new(
        connector: u32,
        nc: [u8; NONCE_LEN],
        acceptor: u32,
        na: [u8; NONCE_LEN],
        rx_seq: u32,
    ) -> Self {
        Session {
            connector,
            acceptor,
            nc,
            na,
            derived: [None; MAX_KEYS],
            rx_seq,
            failures: 0,
        }
    }

    /// The session key for configured key `id`, derived on first use.
    pub fn key<M: Mac>(
        &mut self,
        mac: &M,
        ring: &Keyring,
        id: u8,
    ) -> Option<[u8; SESSION_KEY_LEN]> {
        let key = ring.find(id)?;
        let master = key.secret()?;
        // By the id and which key had it: the ring this session last saw
        // may have had another key under this id (the channel copies the
        // configured keys only now and then, so a delete and an add can
        // come as one change).
        if let Some((_, _, k)) = self
            .derived
            .iter()
            .flatten()
            .find(|(kid, added, _)| *kid == id && *added == key.added)
        {
            return Some(*k);
        }
        let k = session_key(
            mac,
            master,
            self.connector,
            &self.nc,
            self.acceptor,
            &self.na,
        );
        // A ring holds at most MAX_KEYS keys, so a free slot exists unless
        // a deleted key's entry lingers: `forget_missing` drops those.
        self.forget_missing(ring);
        if let Some(slot) = self.derived.iter_mut().find(|s| s.is_none()) {
            *slot = Some((id, key.added, k));
        }
        Some(k)
    }

    /// Drops the session keys of keys no longer in `ring` (deleted, or
    /// deleted and added again): a deleted key stops working at once, in
    /// sessions too.
    pub fn forget_missing(&mut self, ring: &Keyring) {
        for slot in self.derived.iter_mut() {
            if let Some((id, added, k)) = slot {
                if ring.find(*id).is_none_or(|key| key.added != *added) {
                    wipe(k);
                    *slot = None;
                }
            }
        }
    }

    /// Tags `frame` (encoded with [`FLAG_HMAC`] and key id `id`) with the
    /// session key of `id`.
    pub fn seal<M: Mac>(&mut self, mac: &M, ring: &Keyring, id: u8, frame: &mut [u8]) -> bool {
        match self.key(mac, ring, id) {
            Some(k) => seal(mac, &k, frame).is_ok(),
            None => false,
        }
    }

    /// Checks a received frame: its key, its tag and its sequence number.
    /// On success the next number is expected; a failure counts towards
    /// [`Session::failed_too_often`].
    pub fn open<M: Mac>(&mut self, mac: &M, ring: &Keyring, frame: &[u8]) -> Result<(), AuthError> {
        let r = self.check(mac, ring, frame);
        match r {
            Ok(()) => self.rx_seq = self.rx_seq.wrapping_add(1),
            Err(_) => self.failures = self.failures.saturating_add(1),
        }
        r
    }

    fn check<M: Mac>(&mut self, mac: &M, ring: &Keyring, frame: &[u8]) -> Result<(), AuthError> {
        let h = decode_header(frame).map_err(AuthError::Codec)?;
        if h.flags & FLAG_HMAC == 0 {
            return Err(AuthError::Untagged);
        }
        let key = self
            .key(mac, ring, h.key_id)
            .ok_or(AuthError::UnknownKey(h.key_id))?;
        verify(mac, &key, frame)?;
        if h.seq != self.rx_seq {
            return Err(AuthError::Sequence {
                got: h.seq,
                want: self.rx_seq,
            });
        }
        Ok(())
    }

    /// Whether the connection refused [`MAX_FAILURES`] frames.
    pub fn failed_too_often(&self) -> bool {
        self.failures >= MAX_FAILURES
    }
}

#[cfg(test)]
mod tests {
    use super::super::codec::{encode_frame, encode_message, Hello, Keepalive, Message, Terminate};
    use super::*;

    /// A stand-in keyed hash (not HMAC): enough to test which key and
    /// which bytes a tag covers.
    struct FakeMac;

    impl Mac for FakeMac {
        fn hmac(&self, key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
            let mut h = [0u8; 32];
            let mut i = 0usize;
            let mut mix = |b: u8| {
                let x = h[i % 32];
                h[i % 32] = x.rotate_left(3) ^ b ^ (i as u8).wrapping_mul(31);
                i += 1;
            };
            for b in key {
                mix(*b);
            }
            mix(0xa5);
            for p in parts {
                for b in *p {
                    mix(*b);
                }
            }
            h
        }
    }

    const K1: &[u8] = b"0123456789abcdef";
    const K2: &[u8] = b"fedcba9876543210fedcba9876543210";

    fn ring() -> Keyring {
        let mut r = Keyring::default();
        r.add(1, K1, false).unwrap();
        r
    }

    fn tagged(msg: &Message<'_>, seq: u32, kid: u8, buf: &mut [u8]) -> usize {
        encode_frame(msg, seq, FLAG_HMAC, kid, buf).unwrap()
    }

    const KA: Message<'static> = Message::Keepalive(Keepalive {
        active_conns: 1,
        in_flight: 2,
        load: 3,
    });

    #[test]
    fn keyring_rules() {
        let mut r = Keyring::default();
        assert!(!r.enabled());
        assert_eq!(r.add(0, K1, false), Err(KeyError::BadId));
        assert_eq!(r.add(1, &K1[..15], false), Err(KeyError::BadLength));
        assert_eq!(r.add(1, &[7; 65], false), Err(KeyError::BadLength));
        r.add(1, K1, false).unwrap();
        assert_eq!(r.current(), Some(1), "the first key is current");
        assert_eq!(r.add(1, K2, false), Err(KeyError::Exists));
        r.add(2, K2, false).unwrap();
        assert_eq!(r.current(), Some(1));
        assert_eq!(r.remove(1), Err(KeyError::Current));
        r.set_current(2).unwrap();
        assert_eq!(r.set_current(9), Err(KeyError::NotFound));
        r.remove(1).unwrap();
        assert_eq!(r.get(1), None);
        assert_eq!(r.get(2), Some(K2));
        r.add(3, K1, true).unwrap();
        assert_eq!(r.current(), Some(3), "added as current");
        r.add(4, K1, false).unwrap();
        r.add(5, K1, false).unwrap();
        assert_eq!(r.add(6, K1, false), Err(KeyError::Full));
        assert_eq!(r.ids().collect::<KeyIds>().1, 4);
        for id in [2, 4, 5] {
            r.remove(id).unwrap();
        }
        r.remove(3).unwrap();
        assert!(!r.enabled(), "the last key may go, current or not");
        assert_eq!(r.remove(3), Err(KeyError::NotFound));
        let text = {
            let mut r = ring();
            r.add(2, K2, false).unwrap();
            let mut s = StrBuf::default();
            core::fmt::write(&mut s, format_args!("{r:?}")).unwrap();
            s
        };
        assert!(
            !text.as_str().contains("0123"),
            "no secret in Debug: {}",
            text.as_str()
        );
    }

    /// A small fixed-size string for `Debug` output in no_std tests.
    struct StrBuf([u8; 256], usize);

    impl Default for StrBuf {
        fn default() -> Self {
            StrBuf([0; 256], 0)
        }
    }

    impl StrBuf {
        fn as_str(&self) -> &str {
            core::str::from_utf8(&self.0[..self.1]).unwrap()
        }
    }

    impl core::fmt::Write for StrBuf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            self.0
                .get_mut(self.1..end)
                .ok_or(core::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }

    #[test]
    fn ao_key_is_its_own() {
        let m = FakeMac;
        let k = ao_key(&m, K1);
        assert_eq!(k, ao_key(&m, K1));
        assert_ne!(k, ao_key(&m, K2));
        assert_ne!(k, session_key(&m, K1, 1, &[1; 16], 2, &[2; 16]));
    }

    fn ids(v: &[u8]) -> KeyIds {
        v.iter().copied().collect()
    }

    #[test]
    fn ao_changes_follow_a_rotation() {
        let empty = Keyring::default();
        let mut a = Keyring::default();
        a.add(1, K1, false).unwrap();
        assert!(a.ao_changes(&a.clone()).is_empty());
        // Turning keys on: everything is new.
        let c = empty.ao_changes(&a);
        assert_eq!((c.add, c.current), (ids(&[1]), Some(1)));
        // Rotation: add 2, make it current, delete 1.
        let mut b = a.clone();
        b.add(2, K2, false).unwrap();
        let c = a.ao_changes(&b);
        assert_eq!(
            c,
            AoChanges {
                add: ids(&[2]),
                ..Default::default()
            }
        );
        let mut d = b.clone();
        d.set_current(2).unwrap();
        assert_eq!(
            b.ao_changes(&d),
            AoChanges {
                current: Some(2),
                ..Default::default()
            }
        );
        let mut e = d.clone();
        e.remove(1).unwrap();
        assert_eq!(
            d.ao_changes(&e),
            AoChanges {
                del: ids(&[1]),
                ..Default::default()
            }
        );
        // All at once.
        let c = a.ao_changes(&e);
        assert_eq!((c.add, c.current, c.del), (ids(&[2]), Some(2), ids(&[1])));
        // Turning keys off.
        let c = e.ao_changes(&empty);
        assert_eq!((c.del, c.current), (ids(&[2]), None));
    }

    #[test]
    fn ao_changes_see_a_key_added_again() {
        let mut a = Keyring::default();
        a.add(1, K1, false).unwrap();
        a.add(2, K2, false).unwrap();
        let mut b = a.clone();
        b.remove(2).unwrap();
        b.add(2, K1, false).unwrap();
        assert_eq!(
            a.ao_changes(&b),
            AoChanges {
                readd: ids(&[2]),
                ..Default::default()
            }
        );
        // The current key added again is current again (its MKT is new).
        let mut only = Keyring::default();
        only.add(1, K1, false).unwrap();
        let mut c = only.clone();
        c.remove(1).unwrap();
        c.add(1, K2, false).unwrap();
        let ch = only.ao_changes(&c);
        assert_eq!((ch.readd, ch.current), (ids(&[1]), Some(1)));
    }

    #[test]
    fn session_keys_depend_on_everything() {
        let m = FakeMac;
        let base = session_key(&m, K1, 1, &[1; 16], 2, &[2; 16]);
        assert_ne!(base, session_key(&m, K2, 1, &[1; 16], 2, &[2; 16]));
        assert_ne!(base, session_key(&m, K1, 1, &[3; 16], 2, &[2; 16]));
        assert_ne!(base, session_key(&m, K1, 1, &[1; 16], 2, &[3; 16]));
        assert_ne!(base, session_key(&m, K1, 2, &[1; 16], 1, &[2; 16]));
        assert_eq!(base, session_key(&m, K1, 1, &[1; 16], 2, &[2; 16]));
    }

    #[test]
    fn sealed_frames_open_once_in_order() {
        let m = FakeMac;
        let r = ring();
        let mut tx = Session::new(1, [1; 16], 2, [2; 16], 1);
        let mut rx = Session::new(1, [1; 16], 2, [2; 16], 1);
        let mut buf = [0u8; 256];
        let mut frames = [[0u8; 256]; 3];
        let mut lens = [0usize; 3];
        for (i, seq) in (1..4).enumerate() {
            let n = tagged(&KA, seq, 1, &mut buf);
            assert!(tx.seal(&m, &r, 1, &mut buf[..n]));
            frames[i][..n].copy_from_slice(&buf[..n]);
            lens[i] = n;
        }
        assert_eq!(rx.open(&m, &r, &frames[0][..lens[0]]), Ok(()));
        // The same frame again: a replay.
        assert_eq!(
            rx.open(&m, &r, &frames[0][..lens[0]]),
            Err(AuthError::Sequence { got: 1, want: 2 })
        );
        // Skipping one: refused too (TCP loses nothing).
        assert_eq!(
            rx.open(&m, &r, &frames[2][..lens[2]]),
            Err(AuthError::Sequence { got: 3, want: 2 })
        );
        assert_eq!(rx.open(&m, &r, &frames[1][..lens[1]]), Ok(()));
        assert_eq!(rx.open(&m, &r, &frames[2][..lens[2]]), Ok(()));
        assert!(!rx.failed_too_often());
        // A frame of another session (other nonces) does not open here.
        let mut other = Session::new(1, [9; 16], 2, [2; 16], 4);
        let n = tagged(&KA, 4, 1, &mut buf);
        assert!(other.seal(&m, &r, 1, &mut buf[..n]));
        assert_eq!(rx.open(&m, &r, &buf[..n]), Err(AuthError::BadTag));
        assert!(rx.failed_too_often(), "three refusals");
    }

    #[test]
    fn forged_truncated_untagged_and_unknown_key_are_refused() {
        let m = FakeMac;
        let r = ring();
        let mut tx = Session::new(1, [1; 16], 2, [2; 16], 1);
        let mut rx = Session::new(1, [1; 16], 2, [2; 16], 1);
        let mut buf = [0u8; 256];
        let term = Message::Terminate(Terminate {
            conn_id: 77,
            reason: 0,
        });
        let n = tagged(&term, 1, 1, &mut buf);
        assert!(tx.seal(&m, &r, 1, &mut buf[..n]));
        // Every single-bit change of header, body or tag is caught.
        for i in 0..n {
            for bit in 0..8 {
                let mut f = buf;
                f[i] ^= 1 << bit;
                assert!(rx.check(&m, &r, &f[..n]).is_err(), "byte {i} bit {bit}");
            }
        }
        assert_eq!(
            rx.check(&m, &r, &buf[..n - 1]),
            Err(AuthError::Codec(CodecError::Truncated))
        );
        let u = encode_message(&term, 1, &mut buf).unwrap();
        assert_eq!(rx.check(&m, &r, &buf[..u]), Err(AuthError::Untagged));
        let n = tagged(&term, 1, 9, &mut buf);
        assert_eq!(rx.check(&m, &r, &buf[..n]), Err(AuthError::UnknownKey(9)));
        assert_eq!(rx.rx_seq, 1, "nothing was accepted");
    }

    #[test]
    fn keys_rotate_within_a_session() {
        let m = FakeMac;
        let mut r = ring();
        let mut tx = Session::new(1, [1; 16], 2, [2; 16], 1);
        let mut rx = Session::new(1, [1; 16], 2, [2; 16], 1);
        let mut buf = [0u8; 256];
        let mut seq = 1;
        let mut send = |tx: &mut Session, r: &Keyring, kid: u8, buf: &mut [u8]| {
            let n = tagged(&KA, seq, kid, buf);
            seq += 1;
            assert!(tx.seal(&m, r, kid, &mut buf[..n]));
            n
        };
        let n = send(&mut tx, &r, 1, &mut buf);
        assert_eq!(rx.open(&m, &r, &buf[..n]), Ok(()));
        // Key 2 arrives on both nodes; the sender switches to it.
        r.add(2, K2, false).unwrap();
        let n = send(&mut tx, &r, 2, &mut buf);
        assert_eq!(rx.open(&m, &r, &buf[..n]), Ok(()));
        // Key 1 goes: frames under it no longer open, in this session too.
        r.set_current(2).unwrap();
        let n1 = send(&mut tx, &r, 1, &mut buf);
        let old = buf;
        r.remove(1).unwrap();
        rx.forget_missing(&r);
        assert_eq!(rx.open(&m, &r, &old[..n1]), Err(AuthError::UnknownKey(1)));
        assert!(
            !tx.seal(&m, &r, 1, &mut buf[..n1]),
            "nor can one send with it"
        );
        let n = send(&mut tx, &r, 2, &mut buf);
        // The refused frame used number 3: the sender's next is 4.
        assert_eq!(
            rx.open(&m, &r, &buf[..n]),
            Err(AuthError::Sequence { got: 4, want: 3 })
        );
    }

    /// Found by the `auth` fuzz target (corpus file auth/key-replaced): a
    /// session kept the session key of a key deleted and added again
    /// under the same id with another secret, so frames under the deleted
    /// secret still opened, frames under the new one did not, and the
    /// session tagged its own with the deleted one.
    #[test]
    fn a_key_replaced_under_its_id_is_another_key() {
        const K2_NEW: &[u8] = b"another secret for key number 2.";
        let m = FakeMac;
        let mut old = ring();
        old.add(2, K2, false).unwrap();
        let mut r = old.clone();
        let new_session = || Session::new(1, [1; 16], 2, [2; 16], 1);
        // Two receivers: one that is told of the change, one that is not.
        let (mut rx, mut rx_unsynced) = (new_session(), new_session());
        // A peer that still has the old secret, one that has the new.
        let (mut stale_tx, mut tx) = (new_session(), new_session());
        let mut buf = [0u8; 256];
        let n = tagged(&KA, 1, 2, &mut buf);
        assert!(stale_tx.seal(&m, &old, 2, &mut buf[..n]));
        assert_eq!(rx.open(&m, &r, &buf[..n]), Ok(()));
        assert_eq!(rx_unsynced.open(&m, &r, &buf[..n]), Ok(()));

        // Deleted and added again between two looks of the channel at the
        // configuration: the session never sees a ring without key 2.
        r.remove(2).unwrap();
        r.add(2, K2_NEW, false).unwrap();
        rx.forget_missing(&r);

        let n = tagged(&KA, 2, 2, &mut buf);
        let mut stale = buf;
        assert!(stale_tx.seal(&m, &old, 2, &mut stale[..n]));
        assert!(tx.seal(&m, &r, 2, &mut buf[..n]));
        for rx in [&mut rx, &mut rx_unsynced] {
            assert_eq!(rx.check(&m, &r, &stale[..n]), Err(AuthError::BadTag));
            assert_eq!(rx.check(&m, &r, &buf[..n]), Ok(()));
            let mut own = buf;
            assert!(rx.seal(&m, &r, 2, &mut own[..n]));
            assert_eq!(own[..n], buf[..n], "tagged with the new secret");
        }
    }

    #[test]
    fn a_hello_is_tagged_with_the_configured_key() {
        let m = FakeMac;
        let r = ring();
        let mut buf = [0u8; 256];
        let hello = Message::Hello(Hello {
            node_id: 1,
            proto_min: 1,
            proto_max: 1,
            nonce: [5; 16],
            features: 0,
        });
        let n = tagged(&hello, 0, 1, &mut buf);
        seal(&m, K1, &mut buf[..n]).unwrap();
        assert_eq!(verify(&m, K1, &buf[..n]).map(|h| h.key_id), Ok(1));
        assert_eq!(verify(&m, K2, &buf[..n]), Err(AuthError::BadTag));
        assert!(r.get(1).is_some());
        let u = encode_message(&hello, 0, &mut buf).unwrap();
        assert_eq!(verify(&m, K1, &buf[..u]), Err(AuthError::Untagged));
        assert_eq!(seal(&m, K1, &mut buf[..u]), Err(CodecError::BadField));
    }

    #[test]
    fn tag_comparison() {
        assert!(tags_equal(&[1, 2, 3], &[1, 2, 3]));
        assert!(!tags_equal(&[1, 2, 3], &[1, 2, 4]));
        assert!(!tags_equal(&[1, 2, 3], &[1, 2]));
        let mut s = [9u8; 8];
        wipe(&mut s);
        assert_eq!(s, [0; 8]);
    }
}
