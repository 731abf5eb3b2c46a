// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the control-channel frame and message decoders, and the round
//! trip through the encoders. The properties are in the core:
//! `handoff_core::fuzz::codec`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| handoff_core::fuzz::codec(data));
