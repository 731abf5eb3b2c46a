#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ICMPv6 errors about a handed-off IPv6 connection reach its back-end,
# translated (design, "ICMP errors"): handoff_icmp.sh for an IPv6 service
# (icmp_lib.sh tells the case).
source "$(dirname "$0")/icmp_lib.sh"
icmp_error_test 6
