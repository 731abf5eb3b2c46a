#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run cargo on handoffctl inside the sysroot, or the tool it built:
#   scripts/tools.sh build|test|clippy|fmt [cargo args...]
#   scripts/tools.sh run [handoffctl args...]
#
# handoffctl's `latency` command carries a BPF program: build.rs compiles
# it with clang (-target bpf) and links the tool against libbpf. The host
# has neither; the sysroot, which is also the guest's root, has both, so
# the tool is built where it runs. The host's cargo fetches the locked
# crates (the host has the network's certificates), into a CARGO_HOME in the
# project's cache, outside the clone; the sysroot's cargo builds offline.
. "$(dirname "$0")/common.sh"

[ $# -ge 1 ] || die "usage: $0 build|test|clippy|fmt|run [args...]"
bash "$TOP/scripts/sysroot.sh" >/dev/null
if [ "$1" = run ]; then
	shift
	in_sysroot "$SRC_IN_ROOT/tools/handoffctl/target/release/handoffctl" "$@"
	exit
fi
mkdir -p "$CACHE/cargo"
CARGO_HOME=$CACHE/cargo cargo fetch --locked --quiet --manifest-path "$TOP/tools/handoffctl/Cargo.toml"
manifest=$SRC_IN_ROOT/tools/handoffctl/Cargo.toml
cmd=$1
shift
case $cmd in
build) set -- build --release --locked "$@" ;;
test) set -- test --locked "$@" ;;
clippy) set -- clippy --locked --all-targets "$@" -- -D warnings ;;
fmt) set -- fmt "$@" ;;
*) die "unknown command: $cmd" ;;
esac
in_sysroot env CARGO_HOME=/cache/cargo CARGO_NET_OFFLINE=true CARGO_TERM_COLOR=never \
	cargo "$1" --manifest-path "$manifest" "${@:2}"
