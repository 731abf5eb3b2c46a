#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ICMP errors about a handed-off connection reach its back-end, translated
# (design, "ICMP errors"): node2 learns a path MTU from an error sent to the
# front-end (icmp_lib.sh tells the case).
source "$(dirname "$0")/icmp_lib.sh"
icmp_error_test 4
