// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the HTTP request-head parser, and the dispatch rules on what it
//! parses. The properties are in the core: `handoff_core::fuzz::http_head`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| handoff_core::fuzz::http_head(data));
