#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rmmod with a handed-off connection alive is refused (every forwarding or
# taken-over entry holds a module reference), the transfer completes
# untouched, and once the connection is closed and its linger time is over
# the module unloads cleanly and loads again.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool curl
[ -n "${TH_KO:-}" ] || { log "SKIP: TH_KO (the module to reload) not given"; exit $ksft_skip; }
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }

ip netns exec "$client" curl -s --max-time 60 --limit-rate 150k -o "$TH_TMP/body" \
	http://$SVC_HOST/a/big &
pid=$!
check "the download is handed off" wait_stat "$node1" fe-forwarding 1 100
check "node2 holds the connection" wait_stat "$node2" be-conns 1 50
check_fails "rmmod is refused while it lives" 1 "in use" rmmod tcp_handoff
check "the module is still loaded" module_loaded
wait "$pid"
check_eq "the transfer completed byte-identical" "$(sha256sum <"$TH_TMP/random-1m")" "$(sha256sum <"$TH_TMP/body")"
check "node1: table empty" wait_stat "$node1" entries 0 80
check "node2: table empty" wait_stat "$node2" be-conns 0 150
cleanup_ns
check "rmmod succeeds once the connections are gone" rmmod tcp_handoff
check "insmod again" insmod "$TH_KO"
exit $th_rc
