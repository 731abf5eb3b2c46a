#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# handoffctl save / restore, like ipvsadm-save and ipvsadm-restore: a saved
# configuration (limits, IPv4 and IPv6 nodes and services, rules whose
# paths need quoting) restored into an empty namespace saves identically;
# -j save agrees with the kernel; a restore stops at its first bad line,
# names it and exits with that command's code.
source "$(dirname "$0")/lib.sh"
require_module
setup_ns a b c || exit $ksft_fail
h() { "$HANDOFFCTL" -n "$a" "$@"; }

check "configure a" h -b - <<'EOF_CONF'
limits set head-timeout 1500 handoff-timeout 900 linger 4000 max-conns 5000
node add 1 addr 198.51.100.129 port 7000 local
node add 2 addr 198.51.100.130 port 7000 weight 5
node add 3 addr 2001:db8:2::3 port 7001 weight 0
service add 198.51.100.1:80
service add [2001:db8:1::10]:8080
rule add prio 10 method GET prefix /a/ policy rr to 2,3
rule add prio 20 host *.example.com suffix .jpg policy hash to 3
rule add prio 30 exact /it\'s#1\" policy lc to 2
rule add prio 40 policy local
EOF_CONF
"$HANDOFFCTL" -n "$a" save >"$TH_TMP/a.save"
sed 's/^/# a: /' "$TH_TMP/a.save"
check_eq "save has one line per object and the limits" 10 "$(wc -l <"$TH_TMP/a.save")"
check "restore into an empty namespace" "$HANDOFFCTL" -n "$b" restore <"$TH_TMP/a.save"
"$HANDOFFCTL" -n "$b" save >"$TH_TMP/b.save"
check "the restored namespace saves identically" cmp "$TH_TMP/a.save" "$TH_TMP/b.save"
check_eq "the quoted path came back byte for byte" "rule 30 method * host * exact /it's#1\" policy lc to 2 hits 0" \
	"$("$HANDOFFCTL" -n "$b" rule show | grep '^rule 30 ')"
check "-j save agrees with the kernel" python3 -c '
import json, subprocess, sys
h, ns = sys.argv[1], sys.argv[2]
def j(*a):
    return json.loads(subprocess.run([h, "-n", ns, "-j", *a], check=True, capture_output=True).stdout)
c = j("save")
assert c["nodes"] == j("node", "show"), c["nodes"]
assert c["services"] == j("service", "show"), c["services"]
assert c["rules"] == j("rule", "show"), c["rules"]
assert c["limits"] == j("limits", "show"), c["limits"]
assert c["limits"]["linger-ms"] == 4000 and len(c["rules"]) == 4, c
' "$HANDOFFCTL" "$b"

# A restore that fails half way: the first two lines apply, the third is
# refused by the kernel (exit 1, its extack), the fourth never runs.
printf 'node add 5 addr 198.51.100.5 port 7000\nservice add 198.51.100.1:80\nnode add 5 addr 198.51.100.6 port 7000\nnode add 6 addr 198.51.100.6 port 7000\n' >"$TH_TMP/bad"
check_fails "restore stops at the refused line" 1 "line 3 failed" \
	sh -c "\"$HANDOFFCTL\" -n $c restore <$TH_TMP/bad"
check_eq "what came before it applied, nothing after" "node add 5 addr 198.51.100.5 port 7000 weight 1
service add 198.51.100.1:80" "$("$HANDOFFCTL" -n "$c" save | grep -v '^limits')"
check_fails "a usage error in a restore exits 2" 2 "line 1 failed" \
	sh -c "echo 'node add x' | \"$HANDOFFCTL\" -n $c restore"
check_fails "restore takes no batch file" 2 "batch" "$HANDOFFCTL" -n "$c" -b "$TH_TMP/bad" restore
exit $th_rc
