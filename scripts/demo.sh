#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make demo': boot the debug kernel in QEMU, load tcp_handoff, and do a
# netlink round trip with handoffctl in a small cluster namespace.
. "$(dirname "$0")/common.sh"

ko=$(bash "$TOP/scripts/module.sh" debug)
mkdir -p "$TOP/results"
cp "$ko" "$TOP/results/tcp_handoff.ko"
results=$TOP/results/demo
rm -rf "$results"
mkdir -p "$results"
exec bash "$TOP/scripts/vm.sh" --flavour debug --results "$results" -- \
	bash "$SRC_IN_ROOT/selftests/demo-guest.sh" "$SRC_IN_ROOT/results/tcp_handoff.ko"
