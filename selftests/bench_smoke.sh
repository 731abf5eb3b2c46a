#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The smoke version of make bench (selftests/bench/bench.sh --smoke): each
# configuration (direct, tcp_handoff, HAProxy, IPVS direct routing) serves
# every object byte for byte from the node its rules name, then takes two
# seconds of wrk load per mode with no error; 100 idle handed-off
# connections stay open through a run and the tables drain afterwards.
# Only correctness is asserted here, never a timing: make bench reports
# those, on the production-like kernel.
source "$(dirname "$0")/lib.sh"
require_module
for t in wrk nginx haproxy ipvsadm curl; do
	require_tool "$t"
done
"$(dirname "$0")/bench/bench.sh" --smoke "$TH_KO" "$TH_TMP/bench" || th_rc=$ksft_fail
runs=$(($(wc -l <"$TH_TMP/bench/runs.csv") - 1))
# 4 configurations x 2 modes, and the scale run's 4 points.
check_eq "wrk runs recorded" 12 "$runs"
check "every run served requests without error" awk -F, 'NR > 1 && ($6 == 0 || $10 != 0) { exit 1 }' \
	"$TH_TMP/bench/runs.csv"
check "handoff latency samples recorded" test "$(wc -l <"$TH_TMP/bench/latency.csv")" -gt 1
exit $th_rc
