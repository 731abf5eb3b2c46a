#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot a test kernel under QEMU with the sysroot as the guest's read-only 9p
# root, run COMMAND inside it (cwd: the results folder), and report.
#
#   scripts/vm.sh [--flavour debug|prod] [--mem SIZE] [--timeout SECONDS]
#                 [--results DIR] [--nic TAP]... -- COMMAND [ARGS...]
#
# TCG by default. KVM=1 asks for KVM, used only when a short probe boot
# shows that it works (on some hosts /dev/kvm exists but guests hang).
# TH_SMP sets the number of vCPUs (default 2).
# The guest has no network device: tests build their own in namespaces.
# --nic gives it a virtio NIC on the tap device TAP (eth0, eth1, ... in the
# order given), which the caller made in a network namespace of its own
# (scripts/cluster-vm.sh); the MAC address is derived from TAP's name.
# Exits with COMMAND's exit code; 1 when the kernel log shows a splat
# (KASAN, UBSAN, lockdep, WARN, BUG, Oops) or the guest died.
. "$(dirname "$0")/common.sh"

flavour=debug mem=2G limit=3000 results="" nics=()
while [ $# -gt 0 ]; do
	case $1 in
	--flavour) flavour=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--timeout) limit=$2; shift 2 ;;
	--results) results=$2; shift 2 ;;
	--nic)
		mac=52:54:00:$(printf '%s' "$2" | sha256sum | sed 's/^\(..\)\(..\)\(..\).*/\1:\2:\3/')
		nics+=(-netdev "tap,id=nic${#nics[@]},ifname=$2,script=no,downscript=no"
			-device "virtio-net-pci,netdev=nic${#nics[@]},mac=$mac")
		shift 2 ;;
	--) shift; break ;;
	*) die "unknown option $1" ;;
	esac
done
[ $# -gt 0 ] || die "no command given"

tree=$(bash "$TOP/scripts/kernel.sh" "$flavour")
ktree=/cache/$(basename "$tree")
for opt in $(grep -E '^CONFIG_' "$TOP/selftests/config"); do
	grep -qx "$opt" "$tree/.config" || die "the $flavour kernel lacks $opt (selftests/config)"
done
results=${results:-$TOP/results/vm-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$results"
results=$(cd "$results" && pwd)
case $results in "$TOP"/*) ;; *) die "--results must be inside the repository" ;; esac
rm -f "$results/exit-code" "$results/dmesg.txt"
res_in_root=$SRC_IN_ROOT/${results#"$TOP"/}
# The kernel command line splits on spaces and drops quotes: pass the
# command to the guest as a script in the results share instead.
printf '%q ' "$@" >"$results/command.sh"
echo >>"$results/command.sh"

# loglevel=5: the console (the run's log) carries warnings and worse; the
# whole kernel log (log_buf_len: an hour of it) is saved to dmesg.txt at the
# end. Under TCG every console line costs the guest time, and the bridges'
# port messages of each test's topology would bury the results in the log.
# no_timer_check: under TCG on a busy host the kernel's early check that
# the IO-APIC timer ticks can time out and panic the boot ("IO-APIC + timer
# doesn't work!"); virtual machines conventionally skip it.
qemu_cmd() { # accel timeout
	local accel=$1 t=$2
	in_sysroot timeout --foreground -k 10 "$t" qemu-system-x86_64 -accel "$accel" -cpu max \
		-m "$mem" -smp "${TH_SMP:-2}" -display none -no-reboot -nodefaults -serial stdio -net none "${nics[@]}" \
		-kernel "$ktree/arch/x86/boot/bzImage" \
		-virtfs local,path=/,mount_tag=rootfs,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$res_in_root,mount_tag=results,security_model=none,multidevs=remap" \
		-append "console=ttyS0 loglevel=${TH_CONSOLE_LOGLEVEL:-5} log_buf_len=8M root=rootfs rootfstype=9p rootflags=trans=virtio,version=9p2000.L,cache=loose,msize=262144 ro no_timer_check panic=-1 oops=panic init=/bin/bash -- $SRC_IN_ROOT/selftests/guest-init.sh $ktree bash /mnt/results/command.sh"
}

accel=tcg
if [ "${KVM:-0}" = 1 ]; then
	if [ -w /dev/kvm ] && qemu_cmd kvm 60 </dev/null >"$results/kvm-probe.log" 2>&1 &&
		[ "$(cat "$results/exit-code" 2>/dev/null)" = 0 ]; then
		accel=kvm
	else
		log "KVM=1 but a probe boot under KVM did not finish (see $results/kvm-probe.log): using TCG"
	fi
	rm -f "$results/exit-code" "$results/dmesg.txt"
fi
echo "$accel" >"$results/accel"
log "accelerator: $accel; kernel: $flavour ($(cat "$tree/release.txt")); results: $results"

start=$(date +%s)
for boot in 1 2 3; do
	qemu_cmd "$accel" "$limit" </dev/null 2>&1 | tee "$results/console.log"
	# 75: the kernel splatted while booting, before the command ran
	# (guest-init.sh): keep that log and boot again, twice at most.
	[ "$(cat "$results/exit-code" 2>/dev/null)" = 75 ] && [ "$boot" -lt 3 ] || break
	mv "$results/console.log" "$results/console.boot$boot.log"
	log "the guest's kernel splatted while booting, before the command ran" \
		"(kept in $results/console.boot$boot.log): booting again"
	rm -f "$results/exit-code" "$results/dmesg.txt"
done
log "guest ran $(( $(date +%s) - start )) s"

rc=$(cat "$results/exit-code" 2>/dev/null || echo "")
if [ -z "$rc" ]; then
	log "the guest did not finish (crash, panic or timeout): see $results/console.log"
	rc=1
fi
# The kernel's checkers print these; any of them fails the run.
splat='BUG:|WARNING:|KASAN:|UBSAN:|Oops|kernel BUG|general protection|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context|Kernel panic|Call Trace:'
if grep -Eq "$splat" "$results/console.log" "$results/dmesg.txt" 2>/dev/null; then
	log "kernel splat in the guest's log:"
	grep -Eh -B2 -A20 "$splat" "$results/dmesg.txt" "$results/console.log" 2>/dev/null | head -80 >&2
	echo splat >"$results/splat"
	[ "$rc" = 0 ] && rc=1
fi
exit "$rc"
