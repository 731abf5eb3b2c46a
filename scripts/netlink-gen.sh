#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Generate the netlink policy code, the kernel header and the uapi header from
# Documentation/netlink/specs/tcp_handoff.yaml with the kernel's own
# ynl_gen_c.py, as the kernel does for its in-tree families. The generated
# files are committed; 'scripts/netlink-gen.sh --check' (run by 'make check')
# fails when they no longer match the spec.
. "$(dirname "$0")/common.sh"

mode=${1:-write}
if [ "${2:-}" != "--inside" ]; then
	# Only the kernel's tools/net/ynl and netlink schemas are needed: take
	# them from the source tarball, not from a (slow to build) kernel tree.
	bash "$TOP/scripts/sysroot.sh" >/dev/null
	ynl=$CACHE/ynl-$(sysroot_key)
	if [ ! -f "$ynl/.complete" ]; then
		rm -rf "$ynl" && mkdir -p "$ynl"
		tar -C "$ynl" -xf "$(sysroot_dir)/usr/src/linux-source-7.2.tar.xz" --strip-components=1 \
			linux-source-7.2/tools/net/ynl linux-source-7.2/Documentation/netlink
		touch "$ynl/.complete"
	fi
	in_sysroot bash "$SRC_IN_ROOT/scripts/netlink-gen.sh" "$mode" --inside "/cache/$(basename "$ynl")"
	exit
fi

ktree=$3
gen=$ktree/tools/net/ynl/pyynl/ynl_gen_c.py
# ynl looks for the schema beside the specs folder: give it the kernel's.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# It also names the spec relative to the nearest folder with a MAINTAINERS
# file (the kernel tree's root): lay out a small tree of that shape.
mkdir -p "$work/Documentation/netlink/specs"
touch "$work/MAINTAINERS"
cp "$SRC_IN_ROOT/Documentation/netlink/specs/tcp_handoff.yaml" "$work/Documentation/netlink/specs/"
cp "$ktree"/Documentation/netlink/genetlink*.yaml "$work/Documentation/netlink/"
spec=$work/Documentation/netlink/specs/tcp_handoff.yaml

cd "$SRC_IN_ROOT"
status=0
gen_one() { # mode kind output
	# The source includes its header by the output's name: keep the name.
	local out; out=$work/$(basename "$3")
	python3 "$gen" --mode "$1" "--$2" --spec "$spec" -o "$out" >/dev/null
	if [ "$mode" = --check ]; then
		cmp -s "$out" "$3" || { echo "stale generated file: $3 (run scripts/netlink-gen.sh)" >&2; status=1; }
	else
		cp "$out" "$3"
	fi
}
gen_one uapi header include/uapi/linux/tcp_handoff.h
gen_one kernel header rust/glue/netlink-gen.h
gen_one kernel source rust/glue/netlink-gen.c
exit $status
