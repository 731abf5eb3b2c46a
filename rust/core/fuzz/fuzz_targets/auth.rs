// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the authentication of a channel session (keys, tags, sequence
//! numbers). The properties are in the core: `handoff_core::fuzz::auth`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| handoff_core::fuzz::auth(data));
