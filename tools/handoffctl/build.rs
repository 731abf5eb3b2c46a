// SPDX-License-Identifier: GPL-2.0

//! Compiles the BPF program of `handoffctl latency` with clang and
//! generates its libbpf-rs skeleton (`$OUT_DIR/latency.skel.rs`).

use libbpf_cargo::SkeletonBuilder;
use std::{env, path::PathBuf};

const SRC: &str = "src/bpf/latency.bpf.c";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    // <linux/types.h> includes <asm/types.h>, which Debian keeps under the
    // multiarch directory (-target bpf has none of its own).
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into());
    let multiarch = format!("-I/usr/include/{arch}-linux-gnu");
    SkeletonBuilder::new()
        .source(SRC)
        .clang_args(["-Wall", "-Werror", "-O2", multiarch.as_str()])
        .build_and_generate(out.join("latency.skel.rs"))
        .unwrap_or_else(|e| panic!("building {SRC}: {e:#}"));
    println!("cargo:rerun-if-changed={SRC}");
}
