// SPDX-License-Identifier: GPL-2.0

//! Address attributes shared by nodes and services.

use super::msg::{Msg, Request};
use crate::netns::Addr;
use kernel::{error::code::EINVAL, prelude::*};

/// Reads the one address of a request that carries `addr4` or `addr6`
/// (attribute types `a4`, `a6`), refusing none, both, and addresses no
/// peer can have (unspecified, multicast, limited broadcast).
pub(crate) fn parse(req: &Request, a4: u32, a6: u32) -> Result<Addr> {
    let (attr, addr) = match (req.attr(a4), req.attr(a6)) {
        (Some(a), None) => {
            let b: [u8; 4] = a.data().try_into().map_err(|_| EINVAL)?;
            (a, Addr::V4(b))
        }
        (None, Some(a)) => {
            let b: [u8; 16] = a.data().try_into().map_err(|_| EINVAL)?;
            (a, Addr::V6(b))
        }
        (Some(_), Some(_)) => {
            return Err(req.fail(EINVAL, c"give either addr4 or addr6, not both", None))
        }
        (None, None) => {
            return Err(req.fail(EINVAL, c"an address (addr4 or addr6) is required", None))
        }
    };
    let usable = match addr {
        Addr::V4(b) => b != [0; 4] && b != [255; 4] && !(224..=239).contains(&b[0]),
        Addr::V6(b) => b != [0; 16] && b[0] != 0xff,
    };
    if !usable {
        return Err(req.fail(EINVAL, c"address must be a unicast address", Some(attr)));
    }
    Ok(addr)
}

/// Appends `addr` as `addr4` or `addr6`.
pub(crate) fn put(msg: &mut Msg, addr: &Addr, a4: u32, a6: u32) -> Result {
    match addr {
        Addr::V4(b) => msg.put(a4, b),
        Addr::V6(b) => msg.put(a6, b),
    }
}
