#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build tcp_handoff.ko against a cached test kernel, with clippy (CLIPPY=1):
#
#   scripts/module.sh debug|prod     prints the path of the .ko (host view)
#
# The sources are copied into a build folder in the cache (one per kernel
# flavour), so the work tree stays clean and a debug and a prod build never
# share objects. Any compiler or clippy warning fails the build.
. "$(dirname "$0")/common.sh"

flavour=${1:-debug}
tree=$(bash "$TOP/scripts/kernel.sh" "$flavour")
# TH_BUILD_SUFFIX keeps concurrent builds of one flavour apart.
build=$CACHE/module-$flavour${TH_BUILD_SUFFIX:-}
# An external module must be rebuilt from clean when its kernel changes,
# and so must one last built from another checkout: the copy keeps the
# files' times, and an older checkout's sources would look older than the
# objects built from the newer one.
if [ "$(cat "$build/.kernel" 2>/dev/null)" != "$tree" ] ||
	[ "$(cat "$build/.source" 2>/dev/null)" != "$TOP" ]; then
	rm -rf "$build"
fi
mkdir -p "$build"
echo "$tree" >"$build/.kernel"
echo "$TOP" >"$build/.source"
# cp -a keeps modification times, so make rebuilds only what changed.
(cd "$TOP" && cp -a --parents Kbuild include rust/tcp_handoff_main.rs rust/bindings.rs \
	rust/btcp rust/channel rust/dispatch rust/netlink rust/netns.rs rust/sync.rs rust/trace.rs rust/utcp rust/glue rust/core/src "$build/")
in_sysroot make -C "/cache/$(basename "$tree")" M="/cache/$(basename "$build")" LLVM=1 CLIPPY=1 \
	-j"$(nproc)" modules >"$build/build.log" 2>&1 || { cat "$build/build.log" >&2; die "module build failed"; }
if grep -E '(warning|error)(\[|:)' "$build/build.log" >&2; then
	die "module build has warnings (log: $build/build.log)"
fi
echo "$build/tcp_handoff.ko"
