// SPDX-License-Identifier: GPL-2.0

//! Properties the fuzz targets check (`fuzz/fuzz_targets/`).
//!
//! Each function takes arbitrary bytes, feeds them to code that the module
//! runs on bytes from the network, and panics when a property breaks, which
//! libFuzzer reports as a crash. The module itself must never panic on any
//! input, so a panic inside the checked functions is a bug just as a broken
//! property is.
//!
//! The same functions run over the committed seed corpora
//! (`fuzz/corpus/<target>/`) as ordinary unit tests, so `cargo test`
//! replays every seed, including each input that once made a target crash.
//! The checks live in the core crate (behind the `fuzzing` feature, or in
//! its tests) rather than in the fuzz crate for that reason; they use only
//! `core`, like the code they check.

mod auth;
mod codec;
mod http;
mod ipv6;
#[cfg(test)]
mod seeds;

pub use auth::{auth, ToyMac, ACCEPTOR, CONNECTOR, KEYS, NA, NC};
pub use codec::codec;
pub use http::http_head;
pub use ipv6::{ipv6, CONFIG_LEN as IPV6_CONFIG_LEN};

/// A fuzz target's check: panics when a property breaks.
pub type Check = fn(&[u8]);

/// The fuzz targets, by name: the names of `fuzz/fuzz_targets/*.rs` and of
/// the corpus folders.
pub const TARGETS: [(&str, Check); 4] = [
    ("http_head", http_head),
    ("codec", codec),
    ("auth", auth),
    ("ipv6", ipv6),
];

/// Whether `inner` lies within `outer` (the same memory, not equal bytes):
/// parsers return borrowed slices, and one pointing elsewhere would be a
/// bug.
fn within(outer: &[u8], inner: &[u8]) -> bool {
    let start = outer.as_ptr() as usize;
    let end = start + outer.len();
    let p = inner.as_ptr() as usize;
    inner.is_empty() || (p >= start && p + inner.len() <= end)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::vec::Vec;
    use std::{fs, println};

    use super::TARGETS;

    fn corpus_dir(target: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target)
    }

    /// Every seed of every target, through the same check the fuzzer runs.
    #[test]
    fn corpora_pass_their_checks() {
        for (target, check) in TARGETS {
            let dir = corpus_dir(target);
            let mut files: Vec<PathBuf> = fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            assert!(!files.is_empty(), "{}: no seeds", dir.display());
            for file in &files {
                let data = fs::read(file).unwrap();
                println!("{target}: {}", file.display());
                check(&data);
            }
        }
    }
}
