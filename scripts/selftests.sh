#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the module and run the kselftest suite in the debug kernel's guest:
#
#   scripts/selftests.sh [TEST...]
#
# Prints the guest's KTAP stream, adds one result of its own (the kernel log
# is free of KASAN/UBSAN/lockdep/WARN splats), and ends with the line
# 'selftests: N passed, N failed'. Exits non-zero on any failure.
. "$(dirname "$0")/common.sh"

# TH_RESULTS (a folder name under results/) keeps concurrent runs apart.
ko=$(bash "$TOP/scripts/module.sh" debug)
name=${TH_RESULTS:-selftests}
results=$TOP/results/$name
rm -rf "$results"
mkdir -p "$results"
cp "$ko" "$results/tcp_handoff.ko"
set +e
bash "$TOP/scripts/vm.sh" --flavour debug --results "$results" -- \
	bash "$SRC_IN_ROOT/selftests/run_tests.sh" "$SRC_IN_ROOT/results/$name/tcp_handoff.ko" "$@"
rc=$?
set -e
touch "$results/output.txt"
count() { grep -cE "$1" "$results/output.txt" || true; }
pass=$(count '^ok [0-9]+ ')
skip=$(count '^ok [0-9]+ .*# SKIP')
fail=$(count '^not ok [0-9]+ ')
pass=$((pass - skip))
planned=$(sed -n '0,/^1\.\.[0-9]*$/s/^1\.\.\([0-9]*\)$/\1/p' "$results/output.txt")
ran=$((pass + skip + fail))
if [ -n "$planned" ] && [ "$ran" -lt "$planned" ]; then
	echo "not ok - $((planned - ran)) planned tests never reported (guest died?)"
	fail=$((fail + planned - ran))
fi
if [ -e "$results/splat" ]; then
	echo "not ok - kernel log clean (no KASAN/UBSAN/lockdep/WARN/BUG)"
	fail=$((fail + 1))
elif [ -s "$results/dmesg.txt" ]; then
	echo "ok - kernel log clean (no KASAN/UBSAN/lockdep/WARN/BUG)"
	pass=$((pass + 1))
else
	echo "not ok - kernel log clean: the guest wrote no kernel log"
	fail=$((fail + 1))
fi
[ "$rc" = 0 ] || [ "$fail" -gt 0 ] || { echo "not ok - guest exit code $rc"; fail=$((fail + 1)); }
echo "selftests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
