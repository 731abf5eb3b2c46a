# SPDX-License-Identifier: GPL-2.0
# kmemleak_module_check NAME: after NAME was unloaded, lets kmemleak age
# what it left (an object is reported only once it is 5 s old), scans
# twice and prints the reports whose backtrace involves NAME. Returns 0
# when there are none, 1 when there are, 4 when kmemleak is not available
# (run_tests.sh and the multi-VM nodes share it).
kmemleak_module_check() {
	local kmemleak=/sys/kernel/debug/kmemleak reports
	[ -w $kmemleak ] || { echo "# kmemleak not available"; return 4; }
	sleep 6
	echo scan >$kmemleak
	sleep 1
	echo scan >$kmemleak
	reports=$(cat $kmemleak)
	if grep -q "$1" <<<"$reports"; then
		echo "$reports" | sed 's/^/# /'
		return 1
	fi
	echo "# kmemleak: $(grep -c '^unreferenced object' <<<"$reports") reports, none involving $1"
}
