#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Every handoffctl command, plain and -j, checked against the kernel: node,
# service, rule and limits add/del/show, save and restore into an empty
# namespace, in bare namespaces; stats show (totals, services, nodes,
# --rate, -Z), stats zero, conn show and its filters, monitor and latency
# on the handoff cluster with a handed-off and a half-read connection
# held; completion, man, -b, -p, -n. Each JSON output must agree with the
# plain output of the same command and with the kernel's state, read
# independently: /proc/net/tcp_handoff for the counters, and the family's
# replies as raw attributes (handoffctl raw), decoded here with the
# numbers of the uapi header. Usage errors exit 2, kernel refusals 1 with
# the kernel's extack, both also as {"error", "errno"} on stdout under -j.
#
# A process costs a third of a second or more here: most commands run in
# batches (-b; one JSON document a line under -j), each object also alone.
source "$(dirname "$0")/lib.sh"
require_module
require_tool nginx
require_tool python3
setup_handoff_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
new_ns cfg empty || exit $ksft_fail
O=$TH_TMP/o C=$TH_TMP/cmds
mkdir -p "$O" "$C"
read -r n1_pid <"$TH_TMP/nginx-node1/nginx.pid"
read -r n2_pid <"$TH_TMP/nginx-node2/nginx.pid"

# hc KEY NS RC ARGS...: handoffctl [-n NS] ARGS (NS "-": none), stdout in
# $O/KEY and stderr in $O/KEY.err for the checks at the end; it must exit
# with RC.
hc() {
	local key=$1 ns=$2 want=$3 rc where="" nsopt=()
	shift 3
	if [ "$ns" != - ]; then
		nsopt=(-n "$ns")
		where=" (in ${ns%-*})"
	fi
	"$HANDOFFCTL" "${nsopt[@]}" "$@" >"$O/$key" 2>"$O/$key.err"
	rc=$?
	if [ "$rc" = "$want" ]; then
		log "ok: handoffctl $*$where exits $rc"
	else
		log "FAIL: handoffctl $*$where: exit $rc, wanted $want"
		sed 's/^/#   /' "$O/$key.err" "$O/$key"
		th_rc=$ksft_fail
	fi
}
# The counters of a namespace from /proc/net/tcp_handoff, read through a
# process inside it (nginx) by builtins only: nothing runs between the two
# reads around a command.
psnap() { # KEY PID
	local lines
	mapfile -t lines <"/proc/$2/net/tcp_handoff"
	printf '%s\n' "${lines[@]}" >"$O/$1"
}
proc_wait() { # PID NAME VALUE: waits until the counter has the value
	local TH_END k v
	th_deadline 150
	while :; do
		while read -r k v; do
			[ "$k" = "$2" ] && break
		done <"/proc/$1/net/tcp_handoff"
		[ "$v" = "$3" ] && return 0
		th_before_deadline || return 1
		th_sleep 0.1
	done
}
wait_file() { # FILE TEXT [N]: waits until N lines of FILE contain TEXT
	local TH_END lines l n
	th_deadline 300
	while :; do
		n=0
		if [ -e "$1" ]; then
			mapfile -t lines <"$1"
			for l in "${lines[@]}"; do [[ $l == *"$2"* ]] && n=$((n + 1)); done
		fi
		[ "$n" -ge "${3:-1}" ] && return 0
		th_before_deadline || return 1
		th_sleep 0.1
	done
}

# --- monitor and latency on the front-end, before any handoff ------------
# Two latency tracers stop on SIGINT once the handoffs are done; one more
# reports once after a second and ends by itself, before any request.
bgrun() { # KEY ARGS...: handoffctl -n node1 ARGS in the background
	local key=$1
	shift
	"$HANDOFFCTL" -n "$node1" "$@" >"$O/$key" 2>"$O/$key.err" &
}
bgrun mon monitor
mon=($!)
bgrun mon.j -j monitor
mon+=($!)
bgrun lat latency show
lat=($!)
bgrun lat.j -j latency show
lat+=($!)
bgrun lat1.j -j latency show interval 1 count 1
lat1=($!)
for f in mon mon.j; do wait_file "$O/$f.err" listening; done
for f in lat lat.j; do wait_file "$O/$f.err" tracing; done
check "monitor and -j monitor listen" grep -q listening "$O/mon.err" "$O/mon.j.err"
check "latency show and -j latency show trace" grep -q tracing "$O/lat.err" "$O/lat.j.err"
rc=0
for p in "${lat1[@]}"; do wait "$p" || rc=$?; done
check_eq "-j latency show interval 1 count 1 ends by itself" 0 "$rc"

# The client (one process): /a/ and /b/ on connections of their own, handed
# off to node2 and node3, whose entries expire while the bare namespaces
# are tested below; then, once told, one /a/ handed off and kept open, and
# one request head half sent, held on node1 (whose head timeout waits).
hc n1.setlimits "$node1" 0 limits set head-timeout 60000
ip netns exec "$client" python3 -S - "$TH_TMP" <<'PY' &
import os, socket, sys, time
def get(path, port=0, close=True):
    s = socket.socket()
    s.bind(("198.51.100.100", port))
    s.connect(("198.51.100.1", 80))
    close_hdr = b"Connection: close\r\n" if close else b""
    s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (path, close_hdr))
    resp = b""
    while b"served-by" not in resp:
        resp += s.recv(4096)
    while close and s.recv(4096):
        pass
    return s
def wait_for(name):
    while not os.path.exists(sys.argv[1] + "/" + name):
        time.sleep(0.2)
get(b"/a/").close()
get(b"/b/").close()
wait_for("hold")
held = get(b"/a/", 41001, close=False)
half = socket.socket()
half.bind(("198.51.100.100", 41002))
half.connect(("198.51.100.1", 80))
half.sendall(b"GET /b/ HTTP/1.1\r\nHo")
open(sys.argv[1] + "/ready", "w").close()
wait_for("release")
held.close()
half.close()
PY
holder=$!

# --- node, service, rule, limits in a bare namespace ----------------------
# Added by a batch, plain and -j (which prints nothing on success). A rule
# may only name configured nodes. Command files are written by printf, a
# builtin: no process.
printf '%s\n' \
	"limits set head-timeout 1500 handoff-timeout 900 linger 4000 max-conns 5000 idle-timeout 600000" \
	"key add 3 secret 00112233445566778899aabbccddeeff" \
	"node add 1 addr 198.51.100.129 port 7000 local" \
	"node add 2 addr 198.51.100.130 port 7000 weight 5" \
	"node add 3 addr 2001:db8:2::3 port 7001 weight 0" \
	"node add 4 addr 198.51.100.132 port 7000" \
	"service add 198.51.100.1:80" \
	"service add [2001:db8:1::10]:8080" \
	"rule add prio 10 method GET prefix /a/ policy rr to 2,3" \
	"rule add prio 20 host *.example.com suffix .jpg policy hash to 3" \
	"rule add prio 30 exact /x policy lc to 2" \
	"rule add prio 40 policy local" \
	"rule add prio 50 method POST host www.example.com prefix /up/ policy lc to 4,3" \
	"limits set linger 5000" >"$C/add"
printf '%s\n' \
	"node add 5 addr 2001:db8:2::5 port 7000 weight 65535" \
	"service add 198.51.100.2:443" \
	"rule add prio 60 policy rr to 5" \
	"limits set max-conns 6000" >"$C/add.j"
hc cfg.add "$cfg" 0 -b "$C/add"
hc cfg.add.j "$cfg" 0 -j -b "$C/add.j"
# Every show, then (-j only) the kernel's replies as raw attributes.
raw=("raw --dump node-get" "raw --dump service-get" "raw --dump rule-get" "raw limits-get")
shows=("node show" "node show 3" "service show" "rule show" "limits show" "save" "stats show"
	"stats show services")
printf '%s\n' "${shows[@]}" >"$C/shows"
printf '%s\n' "${shows[@]}" "${raw[@]}" "key show" "raw --dump key-get" >"$C/shows.j"
hc cfg.shows "$cfg" 0 -b "$C/shows"
hc cfg.shows.j "$cfg" 0 -j -b "$C/shows.j"
hc cfg.rule.j "$cfg" 0 -j rule show
hc cfg.save.p "$cfg" 0 -p save
hc cfg.key "$cfg" 0 key show
hc cfg.save "$cfg" 0 save

# save, restore into an empty namespace, save again (plain, and -j
# before the -j deletes); deletes there.
hc empty.restore "$empty" 0 restore <"$O/cfg.save"
hc empty.save "$empty" 0 save
printf '%s\n' "node del 4" "service del 198.51.100.2:443" "rule del prio 60" >"$C/del"
printf '%s\n' "save" "node delete 5" "service del [2001:db8:1::10]:8080" "rule del 50" >"$C/del.j"
hc empty.del.j "$empty" 0 -j -b "$C/del.j"
hc empty.del "$empty" 0 -b "$C/del"

# Kernel refusals: exit 1 with the kernel's extack, as JSON under -j. A
# batch and a restore stop at their first failing line (a refusal), after
# showing what is left.
check_fails "deleting a missing node" 1 "no node with this id" hctl -n "$empty" node del 4
check_fails "deleting a missing service" 1 "no such service" \
	hctl -n "$empty" service del 198.51.100.2:443
hc refuse.dup.j "$empty" 1 -j node add 2 addr 198.51.100.9 port 7000
shows=("node show" "service show" "rule show" "save")
printf '%s\n' "${shows[@]}" "rule del prio 99" "node show" >"$C/bad"
printf '%s\n' "${shows[@]}" "${raw[@]}" "rule del prio 99" "node show" >"$C/bad.j"
hc refuse.restore "$empty" 1 restore <"$C/bad"
hc refuse.batch.j "$empty" 1 -j -b "$C/bad.j"

# Usage errors: exit 2, the message on stderr, and under -j as JSON on
# stdout too; a missing namespace is a runtime error (1).
usage=(
	"bogus"
	"node frob"
	"node add 6 addr 198.51.100.300 port 7000"
	"node add 6 addr 198.51.100.6 port 7000 weight 70000"
	"node add 6 addr 198.51.100.6 port 70000"
	"node add 0 addr 198.51.100.6 port 7000"
)
i=0
for u in "${usage[@]}"; do
	read -r -a args <<<"$u"
	hc "usage$i.j" "$empty" 2 -j "${args[@]}"
	i=$((i + 1))
done
hc usage.plain "$empty" 2 node add 6 addr 198.51.100.6 port 7000 weight 70000
# A batch line is one command: the options (-j here) are the batch's.
printf '%s\n' "limits show" "-j limits show" >"$C/jline"
check_fails "a batch line with -j is refused" 2 "without the options -j, -p, -n and -b" \
	hctl -n "$empty" -b "$C/jline"
hc badns.j - 1 -n no-such-netns -j node show

# --- the cluster -----------------------------------------------------------
: >"$TH_TMP/hold"
th_deadline 150
until [ -e "$TH_TMP/ready" ] || ! th_before_deadline; do th_sleep 0.1; done
check "the client holds its two connections" test -e "$TH_TMP/ready"
check "node1: 3 handoffs" proc_wait "$n1_pid" handoff_ok 3
# Only the held connections are left in the tables (the others linger 3 s
# on the front-end, 6 s on the back-end), so every listing below sees the
# same ones.
check "node1: two entries left" proc_wait "$n1_pid" entries 2
check "node2: one connection left" proc_wait "$n2_pid" be_conns 1
wait_file "$O/mon" "handoff done" 3
wait_file "$O/mon.j" "handoff-done" 3
kill "${mon[@]}"
kill -INT "${lat[@]}"
rc=0
for p in "${lat[@]}"; do wait "$p" || rc=$?; done
check_eq "latency show (plain and -j) exits 0 on SIGINT" 0 "$rc"
wait "${mon[@]}" 2>/dev/null

# Rates over a second while the rest runs (no handoff from now on).
psnap rate.proc1 "$n1_pid"
bgrun rate stats show --rate
bg=($!)
bgrun rate.j -j stats show --rate
bg+=($!)

n1=(
	"conn show"
	"conn show frontend"
	"conn show backend"
	"conn show state forwarding"
	"conn show state holding"
	"conn show node 2"
	"conn show state holding node 2"
	"conn show client 198.51.100.100:41001"
	"conn show client 198.51.100.100"
	"conn show service 198.51.100.1:80"
	"conn show fe state forwarding node 2 client 198.51.100.100 service 198.51.100.1:80"
	"node show"
	"limits show"
	"stats show"
	"stats show services"
	"stats show nodes"
)
n2=("conn ls" "stats show" "stats show nodes")
printf '%s\n' "${n1[@]}" >"$C/n1"
printf '%s\n' "${n1[@]}" "raw --dump conn-get" "raw --dump node-get" "raw --dump service-get" \
	"raw limits-get" >"$C/n1.j"
printf '%s\n' "${n2[@]}" >"$C/n2"
printf '%s\n' "${n2[@]}" "raw --dump conn-get" "raw --dump node-get" >"$C/n2.j"
psnap n1.proc1 "$n1_pid"
hc n1.j "$node1" 0 -j -b "$C/n1.j"
hc n1 "$node1" 0 -b "$C/n1"
psnap n1.proc2 "$n1_pid"
hc n1.conn.j "$node1" 0 -j conn show
psnap n2.proc1 "$n2_pid"
hc n2.j "$node2" 0 -j -b "$C/n2.j"
hc n2 "$node2" 0 -b "$C/n2"
psnap n2.proc2 "$n2_pid"
rc=0
for p in "${bg[@]}"; do wait "$p" || rc=$?; done
check_eq "stats show --rate (plain and -j) exits 0" 0 "$rc"
psnap rate.proc2 "$n1_pid"

# -Z prints, then zeroes; stats zero (reset) zeroes and prints nothing.
printf '%s\n' "stats show -Z" "stats zero" "stats show nodes -Z" "stats show services" >"$C/z1.cmds"
psnap z1.proc1 "$n1_pid"
hc z1.j "$node1" 0 -j -b "$C/z1.cmds"
psnap z1.proc2 "$n1_pid"
printf '%s\n' "stats show -Z" "stats reset" "stats show services --zero" >"$C/z2.cmds"
psnap z2.proc1 "$n2_pid"
hc z2 "$node2" 0 -b "$C/z2.cmds"
psnap z2.proc2 "$n2_pid"

# completion and man (no JSON form).
hc completion - 0 completion bash
hc man - 0 man
check "completion bash defines the completion" bash -c \
	'source "$1" && complete -p handoffctl >/dev/null' _ "$O/completion"

: >"$TH_TMP/release"
wait "$holder"

# --- every output against the others and the kernel -----------------------
# (-S: no site-packages, a second less to start.)
python3 -S - "$O" "$TH_SRC/include/uapi/linux/tcp_handoff.h" <<'PY' || th_rc=$ksft_fail
import ipaddress, json, os, re, sys

O, HEADER = sys.argv[1], sys.argv[2]
failed = 0


def check(desc):
    """Runs the function at once: it passes unless it raises."""
    def run(f):
        global failed
        try:
            f()
            print(f"# ok: {desc}")
        except Exception as e:
            failed += 1
            tb = e.__traceback__
            while tb.tb_next:
                tb = tb.tb_next
            print(f"# FAIL: {desc} (line {tb.tb_lineno}): {e!r}"[:3000])
    return run


def rd(k):
    with open(os.path.join(O, k)) as f:
        return f.read()


def js(k):
    return json.loads(rd(k))


def jlines(k):
    return [json.loads(l) for l in rd(k).splitlines() if l.strip()]


# ---- the uapi header: attribute numbers and enum names, by set
ENUMS = {}
for body in re.findall(r"enum\s*\w*\s*\{(.*?)\};", open(HEADER).read(), re.S):
    n = -1
    for name, val in re.findall(r"^\s*(TCP_HANDOFF_\w+)\s*(?:=\s*(\d+))?", body, re.M):
        n = int(val) if val else n + 1
        if not name.endswith("_MAX"):
            ENUMS[name] = n


def names(prefix):
    """{number: spec name} of the header's TCP_HANDOFF_<prefix>*."""
    p = "TCP_HANDOFF_" + prefix
    return {v: k[len(p):].lower().replace("_", "-") for k, v in ENUMS.items() if k.startswith(p)}


SETS = {s: names(f"A_{s.upper()}_") for s in ["node", "service", "rule", "limits", "conn", "stats", "key"]}
VALUES = {("node", "state"): names("NODE_STATE_"), ("conn", "state"): names("CONN_STATE_"),
          ("rule", "policy"): names("RULE_POLICY_")}
STRINGS = {"method", "host", "path-prefix", "path-suffix", "path-exact"}


def decode(set_, reply):
    """One raw reply (handoffctl -j raw) decoded here, by the header's numbers
    and the spec's types: addresses and ports big-endian, flags empty,
    strings NUL-terminated, the rest host-endian integers."""
    out = {}
    for a in reply["attrs"]:
        name = SETS[set_][a["type"] & 0x3fff]
        b = bytes.fromhex(a["hex"])
        if name.endswith("addr4") or name.endswith("addr6"):
            v = str(ipaddress.ip_address(b))
        elif name.endswith("port"):
            v = int.from_bytes(b, "big")
        elif name in STRINGS:
            assert b.endswith(b"\0"), (name, b)
            v = b[:-1].decode()
        elif not b:
            v = True
        else:
            v = int.from_bytes(b, "little")
            v = VALUES.get((set_, name), {}).get(v, v)
        if name == "target":
            out.setdefault(name, []).append(v)
        else:
            out[name] = v
    return out


def k_nodes(doc):
    return [{"id": n["id"], "addr": n.get("addr4", n.get("addr6")), "port": n["port"],
             "weight": n["weight"], "local": n.get("local", False), "state": n["state"]}
            for n in (decode("node", r) for r in doc)]


def k_services(doc):
    return [{"addr": s.get("addr4", s.get("addr6")), "port": s["port"]}
            for s in (decode("service", r) for r in doc)]


def k_rules(doc):
    return [{"prio": r["prio"], "method": r.get("method"), "host": r.get("host"),
             "prefix": r.get("path-prefix"), "suffix": r.get("path-suffix"),
             "exact": r.get("path-exact"), "policy": r["policy"],
             "targets": r.get("target", []), "hits": r["hits"]}
            for r in (decode("rule", r) for r in doc)]


def k_conns(doc):
    out = []
    for c in (decode("conn", r) for r in doc):
        d = {"side": "backend" if c.get("backend") else "frontend", "state": c["state"],
             "client": f'{c["client-addr4"]}:{c["client-port"]}',
             "service": f'{c["service-addr4"]}:{c["service-port"]}'}
        if "local-addr4" in c:
            d["local"] = c["local-addr4"]
        for k in ["node", "id"]:
            if k in c:
                d[k] = c[k]
        d["age_ms"] = c["age-ms"]
        out.append(d)
    return out


# ---- plain-text parsers
SHORT = {"local": "local", "rr": "round-robin", "lc": "least-conn", "hash": "hash-url"}


def p_nodes(lines):
    out = []
    for line in lines:
        w = line.split()
        assert w[0] == "node", line
        kv = dict(zip(w[2::2], w[3::2]))
        out.append({"id": int(w[1]), "addr": kv["addr"], "port": int(kv["port"]),
                    "weight": int(kv["weight"]), "local": w[-1] == "local",
                    "state": kv["state"]})
    return out


def p_services(lines):
    out = []
    for line in lines:
        w = line.split()
        assert w[0] == "service" and len(w) == 2, line
        a, p = w[1].rsplit(":", 1)
        out.append({"addr": a.strip("[]"), "port": int(p)})
    return out


def p_rules(lines):
    out = []
    for line in lines:
        w = line.split()
        assert w[0] == "rule", line
        kv = dict(zip(w[2::2], w[3::2]))
        out.append({
            "prio": int(w[1]),
            "method": None if kv["method"] == "*" else kv["method"],
            "host": None if kv["host"] == "*" else kv["host"],
            "prefix": kv.get("prefix"), "suffix": kv.get("suffix"), "exact": kv.get("exact"),
            "policy": SHORT[kv["policy"]],
            "targets": [int(t) for t in kv["to"].split(",")] if "to" in kv else [],
            "hits": int(kv["hits"]),
        })
    return out


def p_pairs(lines, conv=int):
    return {k: conv(v) for k, v in (l.split() for l in lines)}


def p_table(lines):
    head = lines[0].split()
    return [dict(zip(head, l.split())) for l in lines[1:]]


def p_conns(lines):
    out = []
    for r in p_table(lines):
        c = {"side": r["side"], "state": r["state"], "client": r["client"],
             "service": r["service"]}
        if r["node"] != "-":
            c["node"] = int(r["node"])
        if r["id"] != "-":
            c["id"] = int(r["id"], 16)
        assert re.fullmatch(r"\d+\.\ds", r["age"]), r
        out.append(c)
    return out


def split(k, sizes):
    """A plain batch's output cut into each command's lines."""
    lines, out = rd(k).splitlines(), []
    for n in sizes:
        out.append(lines[:n])
        lines = lines[n:]
    assert not lines, ("left over", lines)
    return out


def proc(k):
    return {l.split()[0].replace("_", "-"): int(l.split()[1]) for l in rd(k).splitlines()}


GAUGES = {"nodes", "services", "pending", "entries", "fe-forwarding", "fe-tombstones",
          "fe-in-flight", "be-conns", "peers-up", "utcp-listeners"}
STATS = list(SETS["stats"].values())


def sandwich(before, got, after):
    """Every value of 'got' lies between the two reads of /proc around it."""
    assert list(got) == list(before), (list(got), list(before))
    for n, v in got.items():
        lo, hi = sorted((before[n], after[n]))
        assert lo <= v <= hi, f"{n}: /proc {before[n]} then {after[n]}, handoffctl {v}"


def nostate(nodes):
    return [{k: v for k, v in n.items() if k != "state"} for n in nodes]


def noage(conns):
    return [{k: v for k, v in c.items() if k != "age_ms"} for c in conns]


# ---- the bare namespaces
E_NODES = [
    {"id": 1, "addr": "198.51.100.129", "port": 7000, "weight": 1, "local": True},
    {"id": 2, "addr": "198.51.100.130", "port": 7000, "weight": 5, "local": False},
    {"id": 3, "addr": "2001:db8:2::3", "port": 7001, "weight": 0, "local": False},
    {"id": 4, "addr": "198.51.100.132", "port": 7000, "weight": 1, "local": False},
    {"id": 5, "addr": "2001:db8:2::5", "port": 7000, "weight": 65535, "local": False},
]
E_SVCS = [{"addr": "198.51.100.1", "port": 80}, {"addr": "2001:db8:1::10", "port": 8080},
          {"addr": "198.51.100.2", "port": 443}]


def rule(prio, policy, targets, method=None, host=None, prefix=None, suffix=None, exact=None):
    return {"prio": prio, "method": method, "host": host, "prefix": prefix, "suffix": suffix,
            "exact": exact, "policy": policy, "targets": targets, "hits": 0}


E_RULES = [
    rule(10, "round-robin", [2, 3], method="GET", prefix="/a/"),
    rule(20, "hash-url", [3], host="*.example.com", suffix=".jpg"),
    rule(30, "least-conn", [2], exact="/x"),
    rule(40, "local", []),
    rule(50, "least-conn", [4, 3], method="POST", host="www.example.com", prefix="/up/"),
    rule(60, "round-robin", [5]),
]
E_LIMITS = {"head-timeout-ms": 1500, "handoff-timeout-ms": 900, "linger-ms": 5000,
            "max-conns": 6000, "idle-timeout-ms": 600000, "lard-low": 25, "lard-high": 65,
            "lard-shrink-ms": 20000}
E_SAVE = """limits set head-timeout-ms 1500 handoff-timeout-ms 900 linger-ms 5000 max-conns 6000 idle-timeout-ms 600000 lard-low 25 lard-high 65 lard-shrink-ms 20000
node add 1 addr 198.51.100.129 port 7000 weight 1 local
node add 2 addr 198.51.100.130 port 7000 weight 5
node add 3 addr 2001:db8:2::3 port 7001 weight 0
node add 4 addr 198.51.100.132 port 7000 weight 1
node add 5 addr 2001:db8:2::5 port 7000 weight 65535
service add 198.51.100.1:80
service add [2001:db8:1::10]:8080
service add 198.51.100.2:443
rule add prio 10 method GET prefix /a/ policy rr to 2,3
rule add prio 20 host *.example.com suffix .jpg policy hash to 3
rule add prio 30 exact /x policy lc to 2
rule add prio 40 policy local
rule add prio 50 method POST host www.example.com prefix /up/ policy lc to 4,3
rule add prio 60 policy rr to 5
"""
NODE_STATES = set(VALUES[("node", "state")].values())


@check("add, del, set, restore printed nothing, plain or -j, on stdout or stderr")
def _():
    for k in ["cfg.add", "cfg.add.j", "empty.del", "empty.restore", "n1.setlimits"]:
        assert rd(k) == "" and rd(k + ".err") == "", (k, rd(k), rd(k + ".err"))
    # The -j deletes came after a -j save: its line alone.
    assert len(jlines("empty.del.j")) == 1 and rd("empty.del.j.err") == "", rd("empty.del.j")


CFG = jlines("cfg.shows.j")


@check("-j node show: exactly the nodes added (addr, port, weight, local, a state)")
def _():
    assert nostate(CFG[0]) == E_NODES, CFG[0]
    assert all(n["state"] in NODE_STATES for n in CFG[0]), CFG[0]
    assert nostate(CFG[1]) == [E_NODES[2]], CFG[1]


@check("-j service show, rule show, limits show: what was added and set")
def _():
    assert CFG[2] == E_SVCS, CFG[2]
    assert CFG[3] == E_RULES and js("cfg.rule.j") == E_RULES, (CFG[3], rd("cfg.rule.j"))
    assert CFG[4] == E_LIMITS, CFG[4]


@check("the kernel's replies (raw, decoded here) hold what -j showed")
def _():
    assert nostate(k_nodes(CFG[8])) == E_NODES, k_nodes(CFG[8])
    assert all(n["state"] in NODE_STATES for n in k_nodes(CFG[8]))
    assert k_services(CFG[9]) == E_SVCS and k_rules(CFG[10]) == E_RULES, (CFG[9], CFG[10])
    assert decode("limits", CFG[11][0]) == E_LIMITS, CFG[11]


@check("key show: the key's id and that it is current, plain, -j and in the kernel's reply")
def _():
    assert CFG[12] == [{"id": 3, "current": True}], CFG[12]
    assert [decode("key", r) for r in CFG[13]] == [{"id": 3, "current": True}], CFG[13]
    assert rd("cfg.key") == "key 3 current\n", rd("cfg.key")


@check("plain shows (-b): the same nodes, services, rules, limits as -j")
def _():
    n, n3, s, r, lim, save, st, sv = split("cfg.shows", [5, 1, 3, 6, 8, 15, len(CFG[6]), 4])
    assert nostate(p_nodes(n)) == E_NODES and nostate(p_nodes(n3)) == [E_NODES[2]], (n, n3)
    assert all(x["state"] in NODE_STATES for x in p_nodes(n))
    assert p_services(s) == E_SVCS and p_rules(r) == E_RULES, (s, r)
    assert p_pairs(lim) == E_LIMITS, lim
    assert "\n".join(save) + "\n" == E_SAVE, save
    t = p_pairs(st)
    assert list(t) == list(CFG[6]) == STATS, (list(t), STATS)
    for k in STATS:
        assert t[k] == CFG[6][k] if k in GAUGES else t[k] <= CFG[6][k], (k, t[k], CFG[6][k])
    assert [{k: str(v) for k, v in r.items()} for r in CFG[7]] == p_table(sv), (CFG[7], sv)


@check("stats show services (cfg): every service's counters as the kernel's, IPv4 and IPv6")
def _():
    svcs = [decode("service", r) for r in CFG[9]]
    assert [r["service"] for r in CFG[7]] == \
        ["198.51.100.1:80", "[2001:db8:1::10]:8080", "198.51.100.2:443"], CFG[7]
    for r, k in zip(CFG[7], svcs):
        got = {x: v for x, v in r.items() if x != "service"}
        assert set(got) <= set(k) and got == {x: k[x] for x in got}, (r, k)


@check("stats show (cfg): every counter of the header, nodes 5, services 3")
def _():
    assert list(CFG[6]) == STATS and CFG[6]["nodes"] == 5 and CFG[6]["services"] == 3, CFG[6]


@check("save: one command per object, in restore order; -j save and -p save agree")
def _():
    assert rd("cfg.save") == E_SAVE, rd("cfg.save")
    for c in [CFG[5], js("cfg.save.p")]:
        assert list(c) == ["limits", "nodes", "services", "rules"], list(c)
        assert c["limits"] == E_LIMITS and nostate(c["nodes"]) == E_NODES, c
        assert c["services"] == E_SVCS and c["rules"] == E_RULES, c
    assert "\n  " in rd("cfg.save.p")


@check("restored into an empty namespace: saves identically, plain and -j")
def _():
    assert rd("empty.save") == rd("cfg.save"), rd("empty.save")
    a, b = dict(CFG[5]), jlines("empty.del.j")[0]
    assert nostate(a.pop("nodes")) == nostate(b.pop("nodes")) and a == b, (a, b)


LEFT_NODES, LEFT_SVCS, LEFT_RULES = E_NODES[:3], E_SVCS[:1], E_RULES[:4]
BAD = jlines("refuse.batch.j")


@check("after the deletes, -j shows what is left, and so does the kernel")
def _():
    assert len(BAD) == 9, BAD
    assert nostate(BAD[0]) == LEFT_NODES and BAD[1] == LEFT_SVCS and BAD[2] == LEFT_RULES, BAD
    assert nostate(BAD[3]["nodes"]) == LEFT_NODES and BAD[3]["limits"] == E_LIMITS, BAD[3]
    assert nostate(k_nodes(BAD[4])) == LEFT_NODES, BAD[4]
    assert k_services(BAD[5]) == LEFT_SVCS and k_rules(BAD[6]) == LEFT_RULES, BAD[5:7]
    assert decode("limits", BAD[7][0]) == E_LIMITS, BAD[7]


@check("restore (plain) shows the same, then stops at the refused line")
def _():
    n, s, r, save = split("refuse.restore", [3, 1, 4, 9])
    assert nostate(p_nodes(n)) == LEFT_NODES and p_services(s) == LEFT_SVCS, (n, s)
    assert p_rules(r) == LEFT_RULES, r
    err = rd("refuse.restore.err")
    assert "no rule with this prio" in err and "line 5 failed" in err, err


def json_error(doc, err, errno, text):
    assert list(doc) == ["error", "errno"], doc
    assert doc["errno"] == errno and text in doc["error"], doc
    assert text in err, err


@check("-j refusals: {error, errno} on stdout, with the kernel's extack")
def _():
    json_error(js("refuse.dup.j"), rd("refuse.dup.j.err"), 17,
               "File exists: a node with this id exists")
    json_error(BAD[8], rd("refuse.batch.j.err"), 2,
               "No such file or directory: no rule with this prio")
    assert "line 9 failed" in rd("refuse.batch.j.err")
    json_error(js("badns.j"), rd("badns.j.err"), 2,
               'cannot open network namespace "no-such-netns"')


@check("-j usage errors: {error, errno 22} on stdout, the message on stderr too")
def _():
    texts = ["unrecognized subcommand 'bogus'", "unrecognized subcommand 'frob'",
             'invalid address "198.51.100.300"',
             'invalid weight "70000": must be between 0 and 65535',
             'invalid port "70000": must be between 1 and 65535',
             'invalid node id "0": must be between 1 and 4294967295']
    for i, t in enumerate(texts):
        json_error(js(f"usage{i}.j"), rd(f"usage{i}.j.err"), 22, t)
    assert rd("usage.plain") == "" and 'invalid weight "70000"' in rd("usage.plain.err")


# ---- the cluster
CLIENT = "198.51.100.100"
SVC = "198.51.100.1:80"
N1 = jlines("n1.j")
N2 = jlines("n2.j")
CONNS = N1[0]
# Counters that no packet moves; packets of the half-read connection may
# still come and go between two reads.
EXACT = {"conns", "handoff-ok", "handoff-failed", "local", "be-accepted"}
# A node's load as of its last report (twice a second): it may go either way
# between two reads.
REPORTED = {"load-conns", "load-in-flight"}


def counters_agree(got, later):
    """The counters 'got' are those of 'later' (read after them), in the same
    order; only those that packets move may have grown since, and the
    reported loads may have changed."""
    assert list(got) == [k for k in later if k in got] and set(later) >= set(got), (got, later)
    for k, v in got.items():
        if k not in REPORTED:
            assert v == later[k] if k in EXACT else v <= later[k], (k, got, later)


def rows_agree(rows, table, rename={}):
    """-j rows and the plain table's (read after them) say the same."""
    assert len(rows) == len(table), (rows, table)
    for r, t in zip(rows, table):
        t = {rename.get(k, k): v for k, v in t.items()}
        assert list(r) == list(t), (r, t)
        counters_agree({k: v for k, v in r.items() if isinstance(v, int) and k != "id"},
                       {k: int(v) for k, v in t.items() if k in r and isinstance(r[k], int)})
        assert {k: str(v) for k, v in r.items() if not isinstance(v, int) or k == "id"} == \
            {k: v for k, v in t.items() if not isinstance(r[k], int) or k == "id"}, (r, t)


@check("-j conn show (node1): forwarding to node2, holding, with the client's ports")
def _():
    c = noage(CONNS)
    by = {x["client"]: x for x in c}
    assert len(c) == 2, c
    f, h = by[f"{CLIENT}:41001"], by[f"{CLIENT}:41002"]
    assert f["side"] == "frontend" and f["state"] == "forwarding" and f["node"] == 2, f
    assert f["service"] == SVC and "id" in f and "local" not in f, f
    assert h["state"] == "holding" and "node" not in h and "id" not in h, h


@check("-j conn show (node2): established from node1, same id, node2's own address")
def _():
    f = {x["client"]: x for x in CONNS}[f"{CLIENT}:41001"]
    assert noage(N2[0]) == [{"side": "backend", "state": "established",
                             "client": f"{CLIENT}:41001", "service": SVC,
                             "local": "198.51.100.2", "node": 1, "id": f["id"]}], N2[0]


@check("the kernel's conn-get replies: the same connections, ages no younger")
def _():
    for mine, kernel in [(CONNS, N1[16]), (N2[0], N2[3])]:
        k = k_conns(kernel)
        assert noage(k) == noage(mine), (k, mine)
        assert all(a["age_ms"] <= b["age_ms"] for a, b in zip(mine, k)), (mine, k)


FILTERS = [
    lambda c: c["side"] == "frontend",
    lambda c: c["side"] == "backend",
    lambda c: c["state"] == "forwarding",
    lambda c: c["state"] == "holding",
    lambda c: c.get("node") == 2,
    lambda c: c["state"] == "holding" and c.get("node") == 2,
    lambda c: c["client"] == f"{CLIENT}:41001",
    lambda c: c["client"].startswith(CLIENT + ":"),
    lambda c: c["service"] == SVC,
    lambda c: c["side"] == "frontend" and c["state"] == "forwarding" and c.get("node") == 2,
]


def noplain(conns):
    """What the plain listing shows of -j's (no local address, no age)."""
    return [{k: v for k, v in c.items() if k not in ("age_ms", "local")} for c in conns]


@check("conn show and its filters: -j lists what each selects; plain the same")
def _():
    sizes = [1 + len(d) for d in N1[:11]]
    sizes += [len(N1[11]), len(N1[12]), len(N1[13]), 1 + len(N1[14]), 1 + len(N1[15])]
    global N1PLAIN
    N1PLAIN = split("n1", sizes)
    assert noplain(CONNS) == p_conns(N1PLAIN[0]), N1PLAIN[0]
    assert noage(js("n1.conn.j")) == noage(CONNS), rd("n1.conn.j")
    counts = []
    for i, f in enumerate(FILTERS):
        want = [c for c in noage(CONNS) if f(c)]
        assert noage(N1[1 + i]) == want, (i, N1[1 + i], want)
        assert p_conns(N1PLAIN[1 + i]) == noplain(want), (i, N1PLAIN[1 + i])
        counts.append(len(want))
    assert counts == [2, 0, 1, 1, 1, 0, 1, 2, 2, 1], counts
    n2 = split("n2", [1 + len(N2[0]), len(N2[1]), 1 + len(N2[2])])
    assert p_conns(n2[0]) == noplain(N2[0]), n2[0]


@check("node show and limits show (node1): -j, plain and the kernel agree")
def _():
    n = N1[11]
    assert [(x["id"], x["local"]) for x in n] == [(1, True), (2, False), (3, False)], n
    assert n[1]["state"] == n[2]["state"] == "up", n
    assert p_nodes(N1PLAIN[11]) == n and k_nodes(N1[17]) == n, (N1PLAIN[11], N1[17])
    assert N1[12]["head-timeout-ms"] == 60000 and p_pairs(N1PLAIN[12]) == N1[12], N1[12]
    assert decode("limits", N1[19][0]) == N1[12], N1[19]


@check("stats show (node1): -j and plain agree with /proc/net/tcp_handoff")
def _():
    p1, p2 = proc("n1.proc1"), proc("n1.proc2")
    j, t = N1[13], p_pairs(N1PLAIN[13])
    assert list(p1) == STATS, list(p1)
    sandwich(p1, j, p2)
    sandwich(p1, t, p2)
    for k, v in [("nodes", 3), ("services", 1), ("peers-up", 2), ("handoff-ok", 3),
                 ("pending", 1), ("entries", 2), ("fe-forwarding", 1)]:
        assert j[k] == t[k] == v, (k, j[k], t[k])


@check("stats show (node2): -j and plain agree with /proc/net/tcp_handoff")
def _():
    p1, p2 = proc("n2.proc1"), proc("n2.proc2")
    j, t = N2[1], p_pairs(split("n2", [1 + len(N2[0]), len(N2[1]), 1 + len(N2[2])])[1])
    sandwich(p1, j, p2)
    sandwich(p1, t, p2)
    assert j["be-accepted"] == t["be-accepted"] == 2 and j["be-conns"] == 1, j


@check("stats show services (node1): -j, plain and the kernel agree; 3 handoffs")
def _():
    j, t = N1[14], p_table(N1PLAIN[14])
    assert len(j) == 1 and j[0]["service"] == SVC and j[0]["handoff-ok"] == 3, j
    rows_agree(j, t)
    k = decode("service", N1[18][0])
    assert f'{k["addr4"]}:{k["port"]}' == SVC, k
    counters_agree({x: v for x, v in j[0].items() if x != "service"}, k)


@check("stats show nodes: -j, plain and the kernel agree; node2 2 handoffs, node3 1")
def _():
    n2 = split("n2", [1 + len(N2[0]), len(N2[1]), 1 + len(N2[2])])[2]
    for j, t, kernel in [(N1[15], N1PLAIN[15], N1[17]), (N2[2], n2, N2[4])]:
        rows_agree(j, p_table(t), {"node": "id"})
        for r, k in zip(j, (decode("node", x) for x in kernel)):
            assert (r["id"], r["state"]) == (k["id"], k["state"]), (r, k)
            counters_agree({x: v for x, v in r.items() if x not in ("id", "state")}, k)
    n1 = {r["id"]: r for r in N1[15]}
    assert n1[2]["handoff-ok"] == 2 and n1[3]["handoff-ok"] == 1 and n1[2]["fwd-packets"] > 0
    n2 = {r["id"]: r for r in N2[2]}
    assert n2[1]["be-accepted"] == 2 and n2[1]["be-tx-packets"] > 0, n2


@check("monitor: three handoffs done; plain and -j the same events, as the kernel counted")
def _():
    plain = rd("mon").splitlines()
    ev = jlines("mon.j")
    assert len(plain) == len(ev) == 3, (plain, ev)
    for line, e in zip(plain, ev):
        m = re.fullmatch(r"handoff done node (\d+) client (\S+) latency (\d+)us", line)
        assert m and e["event"] == "handoff-done", (line, e)
        assert (int(m[1]), m[2], int(m[3])) == (e["node"], e["client"], e["latency-us"]), (line, e)
        assert e["reason"] is None and e["client"].startswith(CLIENT + ":"), e
    assert [e["node"] for e in ev] == [2, 3, 2] and ev[2]["client"] == f"{CLIENT}:41001", ev


@check("latency show (SIGINT): per node as many samples as the kernel's handoffs")
def _():
    reports = jlines("lat.j")
    assert len(reports) == 1 and reports[0]["lost"] == 0, reports
    n1 = {x["id"]: x["handoff-ok"] for x in N1[15]}
    r = reports[0]["nodes"]
    assert [(n["node"], n["count"]) for n in r] == [(2, n1[2]), (3, n1[3])], r
    for n in r:
        assert sum(b["count"] for b in n["buckets"]) == n["count"], n
        assert n["min_us"] <= n["avg_us"] <= n["max_us"] and n["p50_us"] <= n["p99_us"], n
    heads = re.findall(r"^node (\d+): (\d+) handoffs, min \d+ avg \d+ p50 \d+ p99 \d+ max \d+ "
                       r"\(us\)$", rd("lat"), re.M)
    assert [(int(a), int(b)) for a, b in heads] == [(n["node"], n["count"]) for n in r], rd("lat")


@check("-j latency show interval 1 count 1: one report, of no handoffs")
def _():
    reports = jlines("lat1.j")
    assert len(reports) == 1 and reports[0]["nodes"] == [] and reports[0]["lost"] == 0, reports
    assert 1 <= reports[0]["seconds"] < 10, reports


@check("stats show --rate: -j and plain name every counter in order; gauges as in /proc")
def _():
    p1, p2 = proc("rate.proc1"), proc("rate.proc2")
    j = js("rate.j")
    t = p_pairs(rd("rate").splitlines(), float)
    assert list(j) == list(t) == STATS, (list(j), list(t))
    assert all(re.fullmatch(r"\S+ \d+\.\d", l) for l in rd("rate").splitlines()), rd("rate")
    for k in GAUGES:
        if p1[k] == p2[k]:
            assert j[k] == t[k] == p1[k], (k, j[k], t[k], p1[k])
    assert j["handoff-ok"] == t["handoff-ok"] == 0 and all(v >= 0 for v in j.values()), j


STILL = ["handoff-requests", "handoff-ok", "heads-http", "be-requests", "be-accepted"]


@check("stats show -Z (-j on node1, plain on node2): printed, then zeroed; gauges kept")
def _():
    z2 = split("z2", [len(STATS), 1])
    z1 = jlines("z1.j")
    for k, got in [("z1", z1[0]), ("z2", p_pairs(z2[0]))]:
        p1, p2 = proc(k + ".proc1"), proc(k + ".proc2")
        assert list(got) == STATS, list(got)
        for n, v in got.items():
            if n in GAUGES:
                assert min(p1[n], p2[n]) <= v <= max(p1[n], p2[n]), (k, n, p1[n], v, p2[n])
            else:
                assert v >= p1[n], (k, n, p1[n], v)
        for n in STILL:
            assert got[n] == p1[n] and p2[n] == 0, (k, n, p1[n], got[n], p2[n])
        for n in ["nodes", "peers-up", "be-conns"]:
            assert p2[n] == p1[n], (k, n, p1[n], p2[n])
    assert z1[0]["handoff-ok"] == 3 and p_pairs(z2[0])["be-accepted"] == 2
    assert len(z2[1]) == 1 and z2[1][0].split()[0] == "service", z2[1]  # no service here


@check("stats zero printed nothing; then stats show nodes -Z and services: zeroed")
def _():
    z = jlines("z1.j")[1:]
    assert len(z) == 2, z
    # The half-read connection's packets may come meanwhile: no more.
    for now, before in zip(z[0] + z[1], N1[15] + N1[14]):
        for k, v in now.items():
            if k not in ("id", "state", "service"):
                assert v == 0 if k in EXACT else v <= before[k], (k, now, before)


@check("man: a section 8 page naming every object")
def _():
    m = rd("man")
    assert re.search(r"^\.TH handoffctl 8", m, re.M), m[:200]
    for o in ["node", "service", "rule", "limits", "stats", "conn", "save", "restore",
              "monitor", "latency", "completion"]:
        assert o in m, o


sys.exit(1 if failed else 0)
PY
exit $th_rc
