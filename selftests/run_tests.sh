#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest: inserts the module, runs every TEST_PROGS entry of
# the Makefile (or those named) with the timeout of 'settings', prints KTAP,
# then unloads the module and checks kmemleak for leaks it left. An entry
# NAME.sh@6 runs NAME.sh with TH_FAMILY=6 (TEST_PROGS_V6).
#
#   run_tests.sh MODULE.ko [TEST...]

set -u
ko=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
source "$here/kmemleak.sh"
timeout=$(sed -n 's/^timeout=//p' "$here/settings")
# The long variants of make check-full (TH_FULL=1) take longer.
[ "${TH_FULL:-0}" != 1 ] || timeout=$((timeout * 8))
if [ $# -gt 0 ]; then
	tests=("$@")
else
	list=print-tests
	[ "${TH_FULL:-0}" != 1 ] || list=print-tests-full
	read -r -a tests <<<"$(make -s --no-print-directory -C "$here" $list)"
fi

# How slowly this guest runs right now against the host the suite's waits
# were tuned on, where 5 fork+execs of true took PACE_REF_MS (the debug
# kernel under TCG, one vCPU; 526 to 559 ms seen). Each test's waits
# stretch by TH_SLOW, three times that ratio and never less than 3
# (lib.sh), unless TH_SLOW is set.
PACE_REF_MS=550
pace_ms() {
	local t0=${EPOCHREALTIME/./} i
	for i in {1..5}; do /bin/true; done
	echo $(((${EPOCHREALTIME/./} - t0) / 1000))
}
fixed_slow=${TH_SLOW:-}

kmemleak=/sys/kernel/debug/kmemleak
[ -w $kmemleak ] && echo clear >$kmemleak

echo "KTAP version 1"
echo "1..$((${#tests[@]} + 1))"
pass=0 fail=0 skip=0 n=0
result() { # status name [directive]
	n=$((n + 1))
	case $1 in
	pass) pass=$((pass + 1)); echo "ok $n $2" ;;
	skip) skip=$((skip + 1)); echo "ok $n $2 # SKIP" ;;
	*) fail=$((fail + 1)); echo "not ok $n $2" ;;
	esac
}

if ! insmod "$ko"; then
	echo "# insmod $ko failed"
fi
for t in "${tests[@]}"; do
	pace=$(pace_ms)
	slow=$(((3 * pace + PACE_REF_MS - 1) / PACE_REF_MS))
	[ "$slow" -ge 3 ] || slow=3
	export TH_SLOW=${fixed_slow:-$slow}
	echo "# selftests: tcp_handoff: $t (pace $pace ms, TH_SLOW=$TH_SLOW)"
	start=$(date +%s)
	# The test's own bound stretches with its waits.
	limit=$((timeout * (TH_SLOW > 3 ? TH_SLOW : 3) / 3))
	# NAME.sh@6: NAME.sh again, its service on IPv6 (lib.sh).
	prog=${t%@*} family=4
	[ "$prog" = "$t" ] || family=${t##*@}
	TH_FAMILY=$family TH_KO=$ko timeout "$limit" "$here/$prog" 2>&1 | sed -u 's/^\([^#]\)/# \1/'
	rc=${PIPESTATUS[0]}
	echo "# $t: exit $rc after $(( $(date +%s) - start )) s"
	case $rc in
	0) result pass "$t" ;;
	4) result skip "$t" ;;
	124) echo "# $t: timed out after ${limit}s"; result fail "$t" ;;
	*) result fail "$t" ;;
	esac
done

# Leaks: unload, let kmemleak age the objects, scan, and look for any
# report whose backtrace involves the module.
name="kmemleak_after_rmmod"
if [ -d /sys/module/tcp_handoff ] && ! rmmod tcp_handoff; then
	echo "# rmmod failed"
	result fail "$name"
else
	kmemleak_module_check tcp_handoff
	case $? in
	0) result pass "$name" ;;
	4) result skip "$name" ;;
	*) result fail "$name" ;;
	esac
fi
echo "# totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ $fail -eq 0 ]
