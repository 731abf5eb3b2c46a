#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The benchmark of make bench, run inside the guest (scripts/bench.sh boots
# the production-like kernel for it; selftests/bench_smoke.sh runs a short
# version in make check).
#
#   bench.sh [--smoke] MODULE.ko OUTDIR
#
# The topology of lib.sh: client, node1 (the front-end), node2 and node3
# (back-ends), every node serving the same static objects of 1 KiB, 64 KiB
# and 1 MiB at /a/SIZE and /b/SIZE with nginx. Four configurations, each
# on an address of its own, so they run interleaved in one boot:
#
#   direct       198.51.100.2   the client talks to node2 itself
#   tcp_handoff  198.51.100.1   node1's module: /a/ -> node2, /b/ -> node3
#   haproxy      198.51.100.11  HAProxy (http mode) on node1, same rules
#   ipvs-dr      198.51.100.10  IPVS direct routing on node1, rr over 2, 3
#
# Every round runs each size, connection per request and keep-alive, with
# the configurations in a rotating order, one wrk run each: requests/s,
# latency p50/p99, the bytes and packets that crossed node1's interfaces
# and the guest's CPU time. Handoff latency comes from the module's
# tracepoints; the control channel's round-trip time from ping and ss.
# Then the scale run: 1 KiB requests with BENCH_SCALE_CONNS idle handed-off
# connections held open, against runs with none, and the module's slab
# caches' growth per connection.
#
# Before any timing, every configuration must serve every object byte for
# byte from the node its rules name: a configuration that does not fails
# the bench (exit 1). Timings are reported, never judged here.
#
# Output in OUTDIR: runs.csv (one line per wrk run), latency.csv (handoff
# latency samples), channel.csv, scale.csv, env.txt, and log lines on
# stdout ("# ..."). scripts/bench.sh turns them into tables and plots.
source "$(dirname "$0")/../lib.sh"

smoke=0
if [ "${1:-}" = --smoke ]; then
	smoke=1
	shift
fi
ko=${1:?module}
out=${2:?output folder}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ $smoke = 1 ]; then
	rounds=${BENCH_ROUNDS:-1} secs=${BENCH_SECONDS:-2} sizes=${BENCH_SIZES:-1k}
	scale_conns=${BENCH_SCALE_CONNS:-100}
else
	rounds=${BENCH_ROUNDS:-3} secs=${BENCH_SECONDS:-5} sizes=${BENCH_SIZES:-1k 64k 1m}
	scale_conns=${BENCH_SCALE_CONNS:-50000}
fi
conc=${BENCH_CONNS:-8}
configs=(direct tcp_handoff haproxy ipvs-dr)
declare -A base=([direct]=198.51.100.2 [tcp_handoff]=198.51.100.1 [haproxy]=198.51.100.11
	[ipvs-dr]=198.51.100.10)
here=$(cd "$(dirname "$0")" && pwd)
fail=0
bad() { log "FAIL: $*"; fail=1; }

for t in wrk nginx haproxy ipvsadm curl python3; do
	require_tool "$t"
done
module_loaded || insmod "$ko" || { log "FAIL: insmod $ko"; exit $ksft_fail; }
modprobe ip_vs && modprobe ip_vs_rr || { log "FAIL: modprobe ip_vs ip_vs_rr"; exit $ksft_fail; }
# The held connections and wrk need descriptors; nginx raises its own.
# Every server is sized for the held connections and no more: a debug
# kernel pays for each descriptor slot and connection structure.
ulimit -n $((scale_conns + 8192))
nginx_conns=$((scale_conns / 2 + 4096))

{
	echo "kernel $(uname -r)"
	echo "cpus $(nproc)"
	echo "memory_kib $(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)"
	echo "cpu_model $(awk -F': ' '$1 ~ /model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "rounds $rounds"
	echo "seconds $secs"
	echo "wrk_connections $conc"
	echo "sizes $sizes"
	echo "versions $(wrk -v 2>&1 | head -n1 | awk '{ print $1, $2 }'); $(nginx -v 2>&1);" \
		"$(haproxy -v | head -n1 | awk '{ print $1, $3 }')"
} >"$out/env.txt"

# --- The cluster -----------------------------------------------------------

setup_cluster || { log "FAIL: cluster setup"; exit $ksft_fail; }
www=$TH_TMP/www
mkdir -p "$www/a" "$www/b"
for s in 1k 64k 1m; do
	case $s in 1k) n=1024 ;; 64k) n=65536 ;; 1m) n=1048576 ;; esac
	head -c $n /dev/urandom >"$www/a/$s"
	cp "$www/a/$s" "$www/b/$s"
done
# A web server as a cluster runs it: one worker per node, no access log,
# sendfile, long keep-alive (the scale run holds connections idle). On
# node1 it listens on the handoff service's address only (it serves what
# is not handed off), leaving the node's other addresses to HAProxy; a
# back-end listens on every address: its own, the service's (connections
# taken over) and IPVS's.
bench_nginx() { # N
	local dir=$TH_TMP/nginx-node$1 listen=80
	[ "$1" = 1 ] && listen=198.51.100.1:80
	mkdir -p "$dir/tmp"
	cat >"$dir/nginx.conf" <<-CONF
		user root;
		worker_processes 1;
		worker_rlimit_nofile $((nginx_conns * 2));
		pid $dir/nginx.pid;
		error_log $dir/error.log;
		events { worker_connections $nginx_conns; }
		http {
			access_log off;
			sendfile on;
			tcp_nopush on;
			keepalive_timeout 3600s;
			keepalive_requests 1000000;
			client_body_temp_path $dir/tmp;
			proxy_temp_path $dir/tmp;
			fastcgi_temp_path $dir/tmp;
			uwsgi_temp_path $dir/tmp;
			scgi_temp_path $dir/tmp;
			server {
				listen $listen default_server backlog=4096;
				root $www;
				add_header X-Node node$1 always;
			}
		}
	CONF
	ip netns exec "$(eval echo "\$node$1")" nginx -c "$dir/nginx.conf"
}
for i in 1 2 3; do
	eval "ns=\$node$i"
	cluster_nodes "$i" >"$TH_TMP/node$i.conf"
	# Room for the scale run's held connections.
	echo "limits set max-conns $((scale_conns + 20000))" >>"$TH_TMP/node$i.conf"
	# The smoke run drains its tables quickly; the bench keeps the default
	# linger, as a cluster would.
	[ $smoke = 0 ] || echo "limits set linger 3000" >>"$TH_TMP/node$i.conf"
	"$HANDOFFCTL" -n "$ns" -b "$TH_TMP/node$i.conf" || { log "FAIL: node$i config"; exit $ksft_fail; }
	bench_nginx "$i" || { log "FAIL: nginx on node$i"; exit $ksft_fail; }
	# Connection per request: the client and the servers recycle ports
	# as a benchmarked cluster would.
	ns_sysctl "$ns" net.ipv4.tcp_tw_reuse=1 net.core.somaxconn=4096 \
		net.ipv4.tcp_max_syn_backlog=8192 || exit $ksft_fail
done
ns_sysctl "$client" net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse="${BENCH_TW_REUSE:-1}" ||
	exit $ksft_fail
"$HANDOFFCTL" -n "$node1" -b - <<-EOF || { log "FAIL: service config"; exit $ksft_fail; }
	service add 198.51.100.1:80
	rule add prio 10 prefix /a/ policy rr to 2
	rule add prio 20 prefix /b/ policy rr to 3
EOF

# HAProxy: the content-aware proxy, the same rules.
cat >"$TH_TMP/haproxy.cfg" <<-CFG
	global
		maxconn 4096
		pidfile $TH_TMP/haproxy.pid
	defaults
		mode http
		timeout connect 5s
		timeout client 3600s
		timeout server 3600s
	frontend fe
		bind 198.51.100.11:80
		use_backend node3 if { path_beg /b/ }
		default_backend node2
	backend node2
		server node2 198.51.100.2:80
	backend node3
		server node3 198.51.100.3:80
CFG
# IPVS direct routing: the service address on node1, and on the back-ends'
# loopback, where they neither answer nor announce it in ARP.
in_ns "$node1" <<-EOF || exit $ksft_fail
	addr add 198.51.100.10/32 dev eth0
	addr add 198.51.100.11/32 dev eth0
EOF
for i in 2 3; do
	eval "ns=\$node$i"
	ip -n "$ns" addr add 198.51.100.10/32 dev lo || exit $ksft_fail
	ns_sysctl "$ns" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 || exit $ksft_fail
done
ip netns exec "$node1" haproxy -D -f "$TH_TMP/haproxy.cfg" || { log "FAIL: haproxy"; exit $ksft_fail; }
ip netns exec "$node1" ipvsadm -A -t 198.51.100.10:80 -s rr &&
	ip netns exec "$node1" ipvsadm -a -t 198.51.100.10:80 -r 198.51.100.2:80 -g &&
	ip netns exec "$node1" ipvsadm -a -t 198.51.100.10:80 -r 198.51.100.3:80 -g ||
	{ log "FAIL: ipvsadm"; exit $ksft_fail; }
wait_peers_up "$node1" 2 || exit $ksft_fail
log "[$SECONDS s] cluster up"

# --- Correctness first -----------------------------------------------------

# Every configuration serves every object byte for byte, from the node its
# rules name: direct node2; tcp_handoff and haproxy /a/ node2, /b/ node3;
# ipvs-dr either back-end.
want_node() { # config path
	case $1 in
	direct) echo node2 ;;
	ipvs-dr) echo "node[23]" ;;
	*) case $2 in /a/*) echo node2 ;; *) echo node3 ;; esac ;;
	esac
}
# The smoke run checks the objects it loads.
check_sizes="1k 64k 1m"
[ $smoke = 0 ] || check_sizes=$sizes
for c in "${configs[@]}"; do
	for s in $check_sizes; do
		for p in /a/$s /b/$s; do
			got=$(ip netns exec "$client" curl -s --max-time 60 -H 'Connection: close' \
				-D "$TH_TMP/hdr" "http://${base[$c]}$p" | sha256sum | cut -d' ' -f1)
			node=$(tr -d '\r' <"$TH_TMP/hdr" | awk 'tolower($1) == "x-node:" { print $2 }')
			if [ "$got" != "$(sha256sum <"$www$p" | cut -d' ' -f1)" ]; then
				bad "$c $p: the body differs from the object"
			elif ! [[ $node =~ ^$(want_node "$c" "$p")$ ]]; then
				bad "$c $p: served by '$node', wanted $(want_node "$c" "$p")"
			fi
		done
	done
	[ $fail = 1 ] || log "ok: $c serves every object byte for byte from the right node"
done
[ $fail = 0 ] || exit $ksft_fail
log "[$SECONDS s] every configuration served every object"
hok=$(stat_of "$node1" handoff-ok)
want=$(($(wc -w <<<"$check_sizes") * 2))
[ "$hok" = "$want" ] || bad "node1 handed off $hok of the $want tcp_handoff requests"

# --- Measurement helpers ---------------------------------------------------

# node1's interface counters, summed over eth0 (data) and eth1 (control):
# "rx_bytes rx_packets tx_bytes tx_packets".
fe_counters() {
	ip netns exec "$node1" awk -F'[: ]+' '$2 ~ /^eth[01]$/ { rb += $3; rp += $4; tb += $11; tp += $12 }
		END { print rb, rp, tb, tp }' /proc/net/dev
}
# The guest's busy and total CPU time in jiffies (USER_HZ).
cpu_jiffies() {
	awk '$1 == "cpu" { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6 }' /proc/stat
}
# wrk's Lua: requests alternate /a/SIZE and /b/SIZE; the summary comes as
# one line of key=value pairs.
cat >"$TH_TMP/bench.lua" <<-'LUA'
	local size = os.getenv("BENCH_SIZE")
	local paths = { "/a/" .. size, "/b/" .. size }
	local n = 0
	request = function()
		n = n + 1
		return wrk.format("GET", paths[n % 2 + 1])
	end
	done = function(summary, latency, requests)
		local e = summary.errors
		io.write(string.format("BENCH requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p99_us=%d\n",
			summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
			e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
	end
LUA
echo "round,config,size,mode,seconds,requests,rps,p50_us,p99_us,errors,fe_bytes,fe_packets,cpu_s,cpu_total_s,held,syn_retrans" \
	>"$out/runs.csv"
# diag: where connections wait, for a run that stalled.
diag() {
	log "client: $(ip netns exec "$client" ss -Htn state syn-sent | wc -l) connections in SYN-SENT," \
		"$(ip netns exec "$client" ss -Htn | wc -l) in all"
	local n k
	for n in 1 2 3; do
		eval "ns=\$node$n"
		log "node$n listeners: $(ip netns exec "$ns" ss -Hltn 'sport = :80' | awk '{ printf "%s %s/%s; ", $4, $2, $3 }')"
		log "node$n: $(ip netns exec "$ns" ss -Htn state time-wait | wc -l) in TIME-WAIT," \
			"$(ip netns exec "$ns" ss -Htn state syn-recv | wc -l) in SYN-RECV"
		for k in ListenDrops ListenOverflows TCPReqQFullDrop PAWSEstab TWRecycled TCPTimeWaitOverflow; do
			printf '%s=%s ' "$k" "$(tcpext "$ns" "$k")"
		done | sed "s/^/# node$n: /"
		echo
	done
	log "node1 module: $("$HANDOFFCTL" -n "$node1" stats show | awk '$2 != 0 { printf "%s=%s ", $1, $2 }')"
}
# run_wrk ROUND CONFIG SIZE MODE HELD: one wrk run, one line of runs.csv.
run_wrk() {
	local round=$1 c=$2 size=$3 mode=$4 held=$5 hdr=() fe0 fe1 cpu0 cpu1 line
	[ "$mode" = close ] && hdr=(-H 'Connection: close')
	# BENCH_PCAP=1: the headers of every packet on the client's, node1's
	# and node2's bridge ports, kept for a run with SYN retransmissions.
	local pcap=()
	if [ "${BENCH_PCAP:-0}" = 1 ]; then
		local port
		for port in d-client d-1 d-2; do
			ip netns exec "$sw" tcpdump -q -n -s 96 -i "$port" -w "$TH_TMP/$port.pcap" \
				tcp 2>/dev/null &
			pcap+=($!)
		done
		# Time for tcpdump to open its captures.
		th_sleep 1
	fi
	read -r -a fe0 < <(fe_counters)
	read -r -a cpu0 < <(cpu_jiffies)
	local syn0 syn1
	syn0=$(tcpext "$client" TCPSynRetrans)
	line=$(BENCH_SIZE=$size ip netns exec "$client" wrk -t1 -c"$conc" -d"${secs}s" --timeout 30s \
		"${hdr[@]}" -s "$TH_TMP/bench.lua" "http://${base[$c]}/" | grep '^BENCH ')
	read -r -a cpu1 < <(cpu_jiffies)
	read -r -a fe1 < <(fe_counters)
	syn1=$(tcpext "$client" TCPSynRetrans)
	local requests duration_us p50_us p99_us connect read write status timeout bytes
	eval "${line#BENCH }"
	: "${requests:=0}" "${duration_us:=0}" "${connect:=0}" "${read:=0}" "${write:=0}" "${status:=0}" "${timeout:=0}"
	local errors=$((connect + read + write + status + timeout))
	# A server closing a connection-per-request connection is not an error.
	[ "$mode" = close ] && errors=$((connect + write + status + timeout))
	local febytes=$((fe1[0] - fe0[0] + fe1[2] - fe0[2])) fepk=$((fe1[1] - fe0[1] + fe1[3] - fe0[3]))
	local cpu=$((cpu1[0] - cpu0[0])) cpu_total=$((cpu1[1] - cpu0[1]))
	printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$round" "$c" "$size" "$mode" \
		"$(awk -v d="$duration_us" 'BEGIN { printf "%.3f", d / 1e6 }')" "$requests" \
		"$(awk -v n="$requests" -v d="$duration_us" 'BEGIN { printf "%.1f", d ? n * 1e6 / d : 0 }')" \
		"$p50_us" "$p99_us" "$errors" "$febytes" "$fepk" \
		"$(awk -v j="$cpu" 'BEGIN { printf "%.2f", j / 100 }')" \
		"$(awk -v j="$cpu_total" 'BEGIN { printf "%.2f", j / 100 }')" "$held" "$((syn1 - syn0))" \
		>>"$out/runs.csv"
	log "$round $c $size $mode: $requests requests in ${duration_us} us, p50 ${p50_us} us, p99 ${p99_us} us, $errors errors, node1 $febytes B $fepk packets, cpu $cpu of $cpu_total jiffies, $((syn1 - syn0)) SYN retransmissions"
	# A run whose client had to retransmit SYNs, or served nothing, says
	# where connections waited: the client's half-open ones, the servers'
	# listen queues and the TCP counters that explain a dropped SYN.
	if [ "${requests:-0}" -eq 0 ] || [ $((syn1 - syn0)) -gt 0 ]; then
		diag
	fi
	if [ ${#pcap[@]} -gt 0 ]; then
		kill "${pcap[@]}" 2>/dev/null
		wait "${pcap[@]}" 2>/dev/null
		if [ $((syn1 - syn0)) -gt 0 ]; then
			for port in d-client d-1 d-2; do
				cp "$TH_TMP/$port.pcap" "$out/stall-$round-$c-$size-$mode-$port.pcap"
			done
		fi
	fi
	[ "${requests:-0}" -gt 0 ] || bad "$c $size $mode: no request served"
	[ "$errors" = 0 ] || bad "$c $size $mode: $errors errors"
}

# Handoff latency from the module's tracepoints: the request head complete
# at the front-end (handoff_queued, which names the client) until the
# back-end's HANDOFF_ACK (handoff_done, which names the handoff id, as
# handoff_start does with the client), in the trace clock's microseconds;
# and the part of it spent waiting for the worker to send the request
# (handoff_queued to handoff_start).
tr=/sys/kernel/tracing
events="handoff_queued handoff_start handoff_done"
trace_on() {
	[ -d $tr/events/tcp_handoff ] || return 0
	echo 0 >$tr/tracing_on
	echo 16384 >$tr/buffer_size_kb
	: >$tr/trace
	for e in $events; do echo 1 >"$tr/events/tcp_handoff/$e/enable"; done
	echo 1 >$tr/tracing_on
}
trace_off() { # ROUND SIZE: appends the samples to latency.csv
	[ -d $tr/events/tcp_handoff ] || return 0
	echo 0 >$tr/tracing_on
	for e in $events; do echo 0 >"$tr/events/tcp_handoff/$e/enable"; done
	awk -v r="$1" -v s="$2" '
		function field(name) {
			if (!match($0, name "=[^ ]+")) return ""
			return substr($0, RSTART + length(name) + 1, RLENGTH - length(name) - 1)
		}
		/ handoff_(queued|start|done): / {
			for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) t = substr($i, 1, length($i) - 1)
			if ($0 ~ / handoff_queued: /) queued[field("client")] = t
			else if ($0 ~ / handoff_start: /) {
				c = field("client")
				if (c in queued) { q[field("id")] = queued[c]; st[field("id")] = t; delete queued[c] }
			} else if ((id = field("id")) in q) {
				printf "%s,%s,%.1f,%.1f\n", r, s, (t - q[id]) * 1e6, (st[id] - q[id]) * 1e6
				delete q[id]
			}
		}' $tr/trace >>"$out/latency.csv"
	: >$tr/trace
}
echo "round,size,latency_us,queue_wait_us" >"$out/latency.csv"

# --- The rounds ------------------------------------------------------------

k=0
for ((round = 1; round <= rounds; round++)); do
	for mode in close keepalive; do
		for size in $sizes; do
			# A rotating order: no configuration always runs first.
			for ((j = 0; j < ${#configs[@]}; j++)); do
				c=${configs[(j + k) % ${#configs[@]}]}
				[ "$c" = tcp_handoff ] && [ "$mode" = close ] && trace_on
				run_wrk "$round" "$c" "$size" "$mode" 0
				[ "$c" = tcp_handoff ] && [ "$mode" = close ] && trace_off "$round" "$size"
			done
			k=$((k + 1))
		done
	done
done

# BENCH_PERF=1: where the CPU goes, for each configuration's 1 KiB
# connection-per-request load (perf from the sysroot; cpu-clock, since a
# guest under TCG has no hardware counters), as perf-CONFIG.txt.
if [ "${BENCH_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
	# Symbols from kallsyms; and no throttling of the sampling rate, which
	# under TCG would otherwise fall to a few samples a second.
	echo 0 >/proc/sys/kernel/kptr_restrict
	echo -1 >/proc/sys/kernel/perf_event_paranoid
	echo 0 >/proc/sys/kernel/perf_cpu_time_max_percent
	for c in "${configs[@]}"; do
		perf record -q -e cpu-clock -F 997 -a -g -o "$TH_TMP/perf.data" -- sleep "$secs" &
		perf=$!
		run_wrk perf "$c" 1k close 0
		wait $perf
		perf report -q -i "$TH_TMP/perf.data" --stdio --no-children --sort dso,sym \
			--percent-limit 0.5 -g none 2>/dev/null | head -n 120 >"$out/perf-$c.txt"
		log "perf of $c: $out/perf-$c.txt"
	done
fi

# The control channel's round-trip time: ICMP echo over the control link
# (the physical floor) and the kernel's smoothed RTT of node1's channel
# sockets (ss).
ping_rtt=$(ip netns exec "$node1" ping -q -c 20 -i 0.05 198.51.100.130 |
	awk -F'[/ =]+' '/^rtt/ { print $7 * 1000 }')
ss_rtt=$(ip netns exec "$node1" ss -tin state established '( dport = :7000 or sport = :7000 )' |
	grep -oE '[[:space:]]rtt:[0-9.]+' | cut -d: -f2 | sort -n | head -n1)
echo "what,us" >"$out/channel.csv"
echo "ping_avg,${ping_rtt:-}" >>"$out/channel.csv"
echo "ss_srtt,$(awk -v r="${ss_rtt:-0}" 'BEGIN { print r * 1000 }')" >>"$out/channel.csv"
log "control channel: ping ${ping_rtt:-?} us, srtt ${ss_rtt:-?} ms"

# --- Scale: idle handed-off connections held open --------------------------

# slab_objs CACHE: "objects object_size slabs pages_per_slab" after a shrink.
slab_objs() {
	echo 1 >"/sys/kernel/slab/$1/shrink" 2>/dev/null
	awk -v c="$1" '$1 == c { print $2, $4, $15, $6 }' /proc/slabinfo
}
# The held connections come from several client addresses: one has about
# 64k ports to one service address.
srcs=()
for i in 1 2 3 4; do
	ip -n "$client" addr add "198.51.100.$((100 + i))/25" dev eth0 || exit $ksft_fail
	srcs+=("198.51.100.$((100 + i))")
done
echo "phase,held,handed_off,rps" >"$out/scale.csv"
scale_point() { # PHASE HELD HANDED_OFF
	run_wrk "scale-$1" tcp_handoff 1k close "$2"
	echo "$1,$2,$3,$(tail -n1 "$out/runs.csv" | cut -d, -f7)" >>"$out/scale.csv"
}
# wait_drained: every node's tables empty (closed connections linger).
wait_drained() {
	local n g
	for n in 1 2 3; do
		eval "ns=\$node$n"
		for g in entries be-conns; do
			wait_stat "$ns" $g 0 1200 ||
				bad "node$n: $g is $(stat_of "$ns" $g), wanted 0"
		done
	done
}
# slab_point PHASE: the module's caches, in slab.csv.
# The following state of kept-alive connections (tcp_handoff_follow) is
# the front-end's too, and counted apart: only a connection that may move
# between back-ends carries it (Documentation/keepalive.rst).
echo "phase,fe_objs,fe_obj_size,fe_slab_kib,be_objs,be_obj_size,be_slab_kib,follow_objs,follow_obj_size,follow_slab_kib" >"$out/slab.csv"
slab_point() {
	local fe be fo
	read -r -a fe < <(slab_objs tcp_handoff_fe_conn)
	read -r -a be < <(slab_objs tcp_handoff_be_conn)
	read -r -a fo < <(slab_objs tcp_handoff_follow)
	echo "$1,${fe[0]},${fe[1]},$((fe[2] * fe[3] * 4)),${be[0]},${be[1]},$((be[2] * be[3] * 4)),${fo[0]},${fo[1]},$((fo[2] * fo[3] * 4))" >>"$out/slab.csv"
	log "slab $1: fe_conn ${fe[0]} x ${fe[1]} B, be_conn ${be[0]} x ${be[1]} B, follow ${fo[0]} x ${fo[1]} B"
}
scale_point before 0 0
# Memory is measured from empty tables, so the closed connections of the
# runs before (lingering as tombstones) do not count.
wait_drained
slab_point empty
mkfifo "$TH_TMP/hold.in"
ip netns exec "$client" python3 "$here/hold_conns.py" --target 198.51.100.1:80 \
	--sources "$(
		IFS=,
		echo "${srcs[*]}"
	)" --count "$scale_conns" --paths /a/1k,/b/1k <"$TH_TMP/hold.in" >"$TH_TMP/hold.out" 2>&1 &
hold=$!
exec {hold_fd}>"$TH_TMP/hold.in"
until grep -q '^held ' "$TH_TMP/hold.out"; do
	kill -0 $hold 2>/dev/null || break
	th_sleep 1
done
sed 's/^/# hold: /' "$TH_TMP/hold.out"
log "[$SECONDS s] connections held"
held=$(awk '$1 == "held" { print $2 }' "$TH_TMP/hold.out")
# Handed off: answered by a back-end; node1 serves a connection itself
# when a handoff cannot be made (documented fallbacks).
handed=$(awk '$1 == "served-by" && $2 != "node1" { n += $3 } END { print n + 0 }' "$TH_TMP/hold.out")
[ "${held:-0}" = "$scale_conns" ] || bad "scale: held ${held:-0} of $scale_conns connections"
fwd=$(stat_of "$node1" handoff-ok)
log "node1: $(stat_of "$node1" fe-forwarding) connections forwarding, $fwd handoffs so far"
slab_point held
scale_point held "${held:-0}" "$handed"
scale_point held2 "${held:-0}" "$handed"
# Still every one open after the runs: the hold client checks.
echo check >&$hold_fd
exec {hold_fd}>&-
wait $hold
grep '^open' "$TH_TMP/hold.out" | sed 's/^/# hold: /'
grep -q "^open $scale_conns\$" "$TH_TMP/hold.out" ||
	bad "scale: not every held connection was still open at the end"
# The tables drain once the client has closed them.
wait_drained
scale_point after 0 0
log "[$SECONDS s] tables drained"

[ $fail = 0 ] || exit $ksft_fail
log "bench done"
exit $ksft_pass
