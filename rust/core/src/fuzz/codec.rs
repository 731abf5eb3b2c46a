// SPDX-License-Identifier: GPL-2.0

//! The `codec` target: the control-channel decoders a node runs on its
//! peer's bytes, and the round trip through the encoders.

use crate::codec::{
    decode_header, decode_message, encode_frame, frame_len, split_frame, CodecError, Header,
    Message, HEADER_LEN, MAX_BODY, MAX_FRAME,
};

use super::within;

/// Checks the codec on `data`, taken as the bytes received on a channel.
pub fn codec(data: &[u8]) {
    // One buffer for the re-encodings: a frame can be this large, and the
    // stack of a fuzzer or test thread holds it.
    let mut buf = [0u8; MAX_FRAME];
    check_frame(data, &mut buf);
    // Each body decoder on its own, without a header to get right first.
    let body = data.get(..MAX_BODY).unwrap_or(data);
    for ty in 0..=8 {
        check_body(ty, body, &mut buf);
    }
    check_stream(data);
}

/// One frame at the start of `data`.
fn check_frame(data: &[u8], buf: &mut [u8; MAX_FRAME]) {
    let header = decode_header(data);
    let len = frame_len(data);
    match (len, header) {
        (Ok(None), _) => assert!(data.len() < HEADER_LEN),
        (Ok(Some(n)), Ok(h)) => {
            assert_eq!(n, h.frame_len());
            assert!((HEADER_LEN..=MAX_FRAME).contains(&n));
            assert!(h.body_len() <= MAX_BODY);
            // A header re-encodes to the bytes it came from.
            assert_eq!(h.encode(&mut buf[..HEADER_LEN]), Ok(HEADER_LEN));
            assert_eq!(buf[..HEADER_LEN], data[..HEADER_LEN]);
        }
        (Err(e), Err(he)) => {
            assert!(data.len() >= HEADER_LEN);
            assert_eq!(e, he);
        }
        (len, header) => panic!("frame_len {len:?} but header {header:?}"),
    }

    match split_frame(data) {
        Ok(f) => {
            let h = header.expect("split without a header");
            assert_eq!(f.header, h);
            assert!(h.frame_len() <= data.len());
            assert!(within(data, f.body));
            assert_eq!(f.body, &data[HEADER_LEN..HEADER_LEN + h.body_len()]);
            match f.tag {
                Some(tag) => {
                    assert_eq!(tag.len(), h.tag_len());
                    let start = HEADER_LEN + h.body_len();
                    assert_eq!(tag, &data[start..start + h.tag_len()]);
                }
                None => assert_eq!(h.tag_len(), 0),
            }
        }
        Err(e) => match header {
            Ok(h) => {
                assert_eq!(e, CodecError::Truncated);
                assert!(data.len() < h.frame_len());
            }
            Err(he) => assert_eq!(e, he),
        },
    }

    let Ok((h, msg)) = decode_message(data) else {
        return;
    };
    let n = h.frame_len();
    // Bytes after the frame are the next frame's.
    assert_eq!(decode_message(&data[..n]), Ok((h, msg)));
    assert_eq!(msg.msg_type().as_u8(), h.msg_type);
    // Newer peers may append fields, so a body may be longer than its
    // layout, never shorter.
    let body_len = msg.body_len();
    assert!(body_len <= h.body_len(), "{msg:?} in {h:?}");

    // What decodes re-encodes, with the same header fields, to a frame that
    // decodes to the same message. The bytes are the same too, but for the
    // length (a longer body's extra bytes are not kept) and the tag (the
    // encoder leaves it for `auth::seal`).
    let m = encode_frame(&msg, h.seq, h.flags, h.key_id, buf)
        .unwrap_or_else(|e| panic!("{msg:?} decoded but does not encode: {e:?}"));
    assert_eq!(m, HEADER_LEN + body_len + h.tag_len());
    let length = u32::try_from(body_len).expect("a body fits a u32");
    assert_eq!(
        decode_message(&buf[..m]),
        Ok((Header { length, ..h }, msg)),
        "round trip"
    );
    assert_eq!(buf[..8], data[..8]);
    assert_eq!(
        buf[12..HEADER_LEN + body_len],
        data[12..HEADER_LEN + body_len]
    );
    assert!(buf[HEADER_LEN + body_len..m].iter().all(|&b| b == 0));
}

/// `data` as the body of a message of wire type `ty`: a decoded body
/// re-encodes to the bytes it was decoded from (every field has one
/// encoding), and decodes again to the same message.
fn check_body(ty: u8, data: &[u8], buf: &mut [u8; MAX_FRAME]) {
    let msg = match Message::decode_body(ty, data) {
        Ok(msg) => msg,
        Err(CodecError::UnknownType(t)) => {
            assert!(t == ty && !(1..=7).contains(&ty));
            return;
        }
        Err(e) => {
            assert!(
                matches!(e, CodecError::Truncated | CodecError::BadField),
                "{e:?}"
            );
            return;
        }
    };
    assert_eq!(msg.msg_type().as_u8(), ty);
    if let Message::HandoffRequest(r) = &msg {
        assert!(within(data, r.request));
    }
    let n = msg
        .encode_body(buf)
        .unwrap_or_else(|e| panic!("{msg:?} decoded but does not encode: {e:?}"));
    assert_eq!(n, msg.body_len());
    assert!(n <= data.len());
    assert_eq!(buf[..n], data[..n], "{msg:?} encodes to other bytes");
    assert_eq!(Message::decode_body(ty, &buf[..n]), Ok(msg));
}

/// `data` as a stream, read the way the channel reads it: frame after
/// frame, until one is incomplete or the stream is broken.
fn check_stream(data: &[u8]) {
    let mut rest = data;
    loop {
        match frame_len(rest) {
            Ok(Some(n)) if n <= rest.len() => {
                assert!(n >= HEADER_LEN, "no progress");
                let _ = decode_message(&rest[..n]);
                rest = &rest[n..];
            }
            Ok(_) | Err(_) => break,
        }
    }
}
