// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the IPv6 header walk, the IPv6 TCP rewrites, the ICMPv6 error
//! rewrite and the IPv6 segment builder. The properties are in the core:
//! `handoff_core::fuzz::ipv6`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| handoff_core::fuzz::ipv6(data));
