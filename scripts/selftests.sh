#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the module and run the kselftest suite in the debug kernel's guest:
#
#   scripts/selftests.sh [TEST...]
#
# The tests are shared out over TH_JOBS guests that run side by side (default:
# one per host CPU, at most 2; each guest gets one vCPU then), each with its
# own module load, kmemleak scan and kernel-log check. Prints each guest's
# KTAP stream, adds one result per guest of its own (the kernel log is free
# of KASAN/UBSAN/lockdep/WARN splats), and ends with the line
# 'selftests: N passed, N failed, N skipped'. Exits non-zero on any failure.
#
# TH_FULL=1 (make check-full) also runs the long variants of the tests
# (full option products, soaks), with longer timeouts; TH_FULL_STEP=N runs
# every Nth case of a product only.
. "$(dirname "$0")/common.sh"

# TH_RESULTS (a folder name under results/) keeps concurrent runs apart.
ko=$(bash "$TOP/scripts/module.sh" debug)
name=${TH_RESULTS:-selftests}
results=$TOP/results/$name
# How long each test takes, to share them out evenly: selftests/timings,
# then what the last run here measured.
declare -A weight nominal
while read -r t secs; do
	nominal[$t]=$secs
done < <(grep -v '^#' "$TOP/selftests/timings" 2>/dev/null)
while read -r t secs; do
	weight[$t]=$secs
done < <(
	grep -v '^#' "$TOP/selftests/timings" 2>/dev/null
	cat "$results"/guest*/run.log 2>/dev/null |
		grep -aoE '[a-z0-9_]+\.sh(@6)?: exit [0-9]+ after [0-9]+ s' | awk '{ sub(":$", "", $1); print $1, $5 }'
)
rm -rf "$results"
mkdir -p "$results"
cp "$ko" "$results/tcp_handoff.ko"

if [ $# -gt 0 ]; then
	tests=("$@")
else
	list=print-tests
	[ "${TH_FULL:-0}" != 1 ] || list=print-tests-full
	read -r -a tests <<<"$(make -s --no-print-directory -C "$TOP/selftests" $list)"
fi
jobs=${TH_JOBS:-$(nproc)}
[ "$jobs" -le 2 ] || jobs=2
[ "$jobs" -le "${#tests[@]}" ] || jobs=${#tests[@]}
[ "$jobs" -ge 1 ] || jobs=1
smp=2
[ "$jobs" -eq 1 ] || smp=1

env=()
# Each guest's share took up to 2,550 s in CI on a slow host: the bound
# leaves room for that and stays inside CI's 90 minutes with the builds
# and the cluster run.
timeout=4200
if [ "${TH_FULL:-0}" = 1 ]; then
	env=(env TH_FULL=1 TH_FULL_STEP="${TH_FULL_STEP:-1}")
	timeout=14400
fi

# Longest first, each to the guest with the least work so far (a test never
# timed counts one minute). Each guest then runs its share in the
# Makefile's order.
declare -a group load
for ((k = 0; k < jobs; k++)); do load[k]=0; done
declare -a guest_of
while read -r secs i; do
	best=0
	for ((k = 1; k < jobs; k++)); do
		[ "${load[k]}" -lt "${load[best]}" ] && best=$k
	done
	guest_of[i]=$best
	load[best]=$((load[best] + secs))
done < <(for i in "${!tests[@]}"; do echo "${weight[${tests[i]}]:-60} $i"; done | sort -rn)
for i in "${!tests[@]}"; do
	group[guest_of[i]]+=" ${tests[i]}"
done

pids=()
for ((k = 0; k < jobs; k++)); do
	dir=$results/guest$k
	mkdir -p "$dir"
	: >"$dir/run.log" # before the progress tail below looks for it
	# shellcheck disable=SC2086 # the group is a word list
	(
		set +e
		TH_SMP=$smp bash "$TOP/scripts/vm.sh" --flavour debug --timeout "$timeout" \
			--results "$dir" -- "${env[@]}" bash "$SRC_IN_ROOT/selftests/run_tests.sh" \
			"$SRC_IN_ROOT/results/$name/tcp_handoff.ko" ${group[k]} >"$dir/run.log" 2>&1
		echo $? >"$dir/rc"
	) &
	pids+=($!)
	log "guest $k: ${group[k]# }"
done
# Progress while the guests run: each test's verdict as it comes; the
# whole logs follow at the end.
tail -q -n +1 -F "$results"/guest*/run.log 2>/dev/null |
	grep --line-buffered -aE '^(ok|not ok) [0-9]+ |exit [0-9]+ after' &
progress=$!
wait "${pids[@]}"
kill "$progress" 2>/dev/null

pass=0 skip=0 fail=0
summary=()
for ((k = 0; k < jobs; k++)); do
	dir=$results/guest$k
	echo "# ---- guest $k:${group[k]}"
	cat "$dir/run.log"
	touch "$dir/output.txt"
	count() { grep -acE "$1" "$dir/output.txt" || true; }
	p=$(count '^ok [0-9]+ ')
	s=$(count '^ok [0-9]+ .*# SKIP')
	f=$(count '^not ok [0-9]+ ')
	p=$((p - s))
	planned=$(sed -n '0,/^1\.\.[0-9]*$/s/^1\.\.\([0-9]*\)$/\1/p' "$dir/output.txt")
	ran=$((p + s + f))
	if [ -n "$planned" ] && [ "$ran" -lt "$planned" ]; then
		echo "not ok - guest $k: $((planned - ran)) planned tests never reported (guest died?)"
		f=$((f + planned - ran))
	fi
	if [ -e "$dir/splat" ]; then
		echo "not ok - guest $k: kernel log clean (no KASAN/UBSAN/lockdep/WARN/BUG)"
		f=$((f + 1))
	elif [ -s "$dir/dmesg.txt" ]; then
		echo "ok - guest $k: kernel log clean (no KASAN/UBSAN/lockdep/WARN/BUG)"
		p=$((p + 1))
	else
		echo "not ok - guest $k: kernel log clean: the guest wrote no kernel log"
		f=$((f + 1))
	fi
	# The run's summary, printed last: what failed, what never ran, and
	# how fast this host ran the tests against selftests/timings.
	took=0 expected=0 missing=""
	for t in ${group[k]}; do
		line=$(grep -aoE "^# $t: exit [0-9]+ after [0-9]+ s" "$dir/run.log" | tail -n 1)
		if [ -z "$line" ]; then
			missing+=" $t"
			continue
		fi
		read -r _ _ _ code _ secs _ <<<"$line"
		took=$((took + secs))
		expected=$((expected + ${nominal[$t]:-60}))
		[ "$code" = 0 ] || [ "$code" = 4 ] ||
			summary+=("# failed: $t (guest $k, exit $code after $secs s; selftests/timings: ${nominal[$t]:-?} s)")
	done
	[ -z "$missing" ] || summary+=("# never reported (guest $k):$missing")
	summary+=("# guest $k: tests ran $took s, $expected s by selftests/timings ($(awk -v a="$took" -v b="$expected" 'BEGIN { printf "%.1f", b ? a / b : 0 }')x)")
	rc=$(cat "$dir/rc" 2>/dev/null || echo 1)
	[ "$rc" = 0 ] || [ "$f" -gt 0 ] || { echo "not ok - guest $k: exit code $rc"; f=$((f + 1)); }
	pass=$((pass + p)) skip=$((skip + s)) fail=$((fail + f))
done
echo "# ---- summary (each guest's whole log is above)"
printf '%s\n' "${summary[@]}"
echo "selftests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
