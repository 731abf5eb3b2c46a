#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Random attribute sets to every operation of the family (and to command
# numbers it does not have), "do" and "dump", from raw netlink sockets
# (netlink_fuzz.py): first as an unprivileged user, who gets only EPERM (or
# EOPNOTSUPP) from every admin operation and changes nothing (the saved
# configuration, the keys and the gauges are the same before and after),
# then as root. Every request is answered; the module keeps working; the
# kernel log stays clean (the runner checks it).
source "$(dirname "$0")/lib.sh"
require_module
require_tool setpriv
setup_ns fz || exit $ksft_fail
"$HANDOFFCTL" -n "$fz" -b - <<-CONF || { log "FAIL: configuration"; exit $ksft_fail; }
	node add 1 addr 198.51.100.129 port 7000 local
	node add 2 addr 198.51.100.130 port 7000
	service add 198.51.100.1:80
	rule add prio 10 prefix /a/ policy rr to 2
	limits set linger 1234
	key add 7 secret 00112233445566778899aabbccddeeff
CONF
snapshot() {
	"$HANDOFFCTL" -n "$fz" save
	"$HANDOFFCTL" -n "$fz" key show
	"$HANDOFFCTL" -n "$fz" stats show | grep -E '^(nodes|services|entries|pending) '
}
snapshot >"$TH_TMP/before"
fuzz="$(dirname "$0")/netlink_fuzz.py"

ip netns exec "$fz" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	python3 "$fuzz" 100 1 >"$TH_TMP/user" 2>&1
sed 's/^/# user: /' "$TH_TMP/user"
check "unprivileged: every request answered" grep -qx done "$TH_TMP/user"
# The admin operations: node-add/del, service-add/del, rule-add/del,
# limits-set, stats-reset, key-add/del/set.
check "unprivileged: admin operations only ever refused (EPERM, EOPNOTSUPP)" python3 -c '
import sys
admin = {1, 2, 4, 5, 8, 9, 11, 15, 16, 17, 18}
for line in open(sys.argv[1]):
    w = line.split()
    if w[0] == "cmd" and int(w[1]) in admin:
        errnos = {int(x.split(":")[0]) for x in w[2:]}
        assert errnos <= {1, 95}, (w[1], errnos)
' "$TH_TMP/user"
snapshot >"$TH_TMP/after"
check "unprivileged: nothing changed" diff "$TH_TMP/before" "$TH_TMP/after"

ip netns exec "$fz" python3 "$fuzz" 100 2 >"$TH_TMP/root" 2>&1
sed 's/^/# root: /' "$TH_TMP/root"
check "root: every request answered" grep -qx done "$TH_TMP/root"
check "root: the family still works" "$HANDOFFCTL" -n "$fz" node show
check "root: and still refuses a bad request with its extack" sh -c \
	"\"$HANDOFFCTL\" -n $fz node add 1 addr 198.51.100.129 port 7000 2>&1 | grep -q 'a node with this id exists'"
exit $th_rc
