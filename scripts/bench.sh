#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: boots the production-like kernel (scripts/kconfig/prod.config)
# with the module built against it, runs selftests/bench/bench.sh in the
# guest, and reports:
#
#   scripts/bench.sh [--smoke]
#
# Results go to results/bench-DATE/ (BENCH_RESULTS names another folder
# under results/): the guest's CSV files, summary.csv, table.txt (also
# printed), table.rst (for Documentation/performance.rst) and PNG plots.
# BENCH_ROUNDS, BENCH_SECONDS, BENCH_SIZES, BENCH_CONNS and
# BENCH_SCALE_CONNS change the load (see bench.sh); BENCH_PERF=1 adds a
# perf profile of each configuration; BENCH_PCAP=1 keeps the packet
# headers on the bridge ports of the client, node1 and node2 for runs with
# SYN retransmissions. The guest has 2 vCPUs
# and 3 GiB; KVM=1 uses KVM where it works (scripts/vm.sh).
. "$(dirname "$0")/common.sh"

smoke=()
[ "${1:-}" = --smoke ] && smoke=(--smoke)
ko=$(bash "$TOP/scripts/module.sh" prod)
bash "$TOP/scripts/tools.sh" build >/dev/null
name=${BENCH_RESULTS:-bench-$(date +%Y%m%d-%H%M%S)}
results=$TOP/results/$name
mkdir -p "$results"
cp "$ko" "$results/tcp_handoff.ko"
benv=()
for v in BENCH_ROUNDS BENCH_SECONDS BENCH_SIZES BENCH_CONNS BENCH_SCALE_CONNS BENCH_PERF BENCH_TW_REUSE BENCH_PCAP; do
	[ -n "${!v:-}" ] && benv+=("$v=${!v}")
done
rc=0
TH_SMP=2 bash "$TOP/scripts/vm.sh" --flavour prod --mem 3G --timeout 7200 --results "$results" -- \
	env "${benv[@]}" bash "$SRC_IN_ROOT/selftests/bench/bench.sh" "${smoke[@]}" \
	"$SRC_IN_ROOT/results/$name/tcp_handoff.ko" /mnt/results || rc=$?
[ -f "$results/runs.csv" ] || die "the bench wrote no results (see $results/console.log)"
in_sysroot python3 "$SRC_IN_ROOT/selftests/bench/report.py" "$SRC_IN_ROOT/results/$name" ||
	die "report failed"
log "results: $results"
exit "$rc"
