#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest side of 'make demo': load the module and show it working.
set -eu
source "$(dirname "$0")/lib.sh"
ko=$1
trap - EXIT
run() { printf '\n$ %s\n' "$*"; "$@"; }

run insmod "$ko"
run grep tcp_handoff /proc/modules
run cat /sys/module/tcp_handoff/version
run "$HANDOFFCTL" node add 1 addr 198.51.100.129 port 7000 local
run "$HANDOFFCTL" node add 2 addr 198.51.100.130 port 7000
run "$HANDOFFCTL" node add 3 addr 2001:db8:2::3 port 7000 weight 2
run "$HANDOFFCTL" service add 198.51.100.1:80
run "$HANDOFFCTL" -j node show
run "$HANDOFFCTL" -j -p service show
run "$HANDOFFCTL" stats show
run cat /proc/net/tcp_handoff
run dmesg --notime | grep tcp_handoff
echo
echo "demo: tcp_handoff is loaded; node 2 is listed by 'handoffctl -j node show' above."
