#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# PID 1 of the test guest (see scripts/vm.sh). The root is the build sysroot,
# shared read-only over 9p; this makes it writable with an overlay on tmpfs,
# mounts the kernel's filesystems and the results share, runs the command
# given on the kernel command line, records its exit code and powers off.
#
#   guest-init.sh KERNEL_TREE COMMAND [ARGS...]

set -u
ktree=$1
shift

# The sysroot has no init system: power off with reboot(2) directly.
power_off() {
	sync
	python3 -c 'import ctypes; ctypes.CDLL(None).reboot(0x4321fedc)'
}

if [ "${TH_STAGE:-1}" = 1 ]; then
	mount -t proc proc /proc
	mount -t tmpfs -o size=70% tmpfs /mnt/work
	mkdir -p /mnt/work/upper /mnt/work/work /mnt/work/root
	if mount -t overlay overlay -o lowerdir=/,upperdir=/mnt/work/upper,workdir=/mnt/work/work /mnt/work/root; then
		mount --move /proc /mnt/work/root/proc
		mkdir -p /mnt/work/root/mnt/results
		mount -t 9p -o trans=virtio,version=9p2000.L,cache=none results /mnt/work/root/mnt/results
		TH_STAGE=2 exec chroot /mnt/work/root /bin/bash "$0" "$ktree" "$@"
	fi
	echo "guest-init: cannot build the writable root" >&2
	power_off
fi

mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# What udev makes on a real system: process substitution (bash) needs /dev/fd.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mkdir -p /run/netns /var/log/nginx /var/lib/nginx
# modprobe finds the test kernel's own modules (conntrack, IPVS, ...).
mkdir -p /lib/modules
ln -sfn "$ktree/modroot/lib/modules/$(uname -r)" "/lib/modules/$(uname -r)"
export TH_KTREE="$ktree"
hostname th-guest
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
ip link set lo up

cd /mnt/results
# A kernel that splats while booting, before anything of the project ran,
# is a broken boot, not a test result (seen rarely under TCG: a KASAN
# report in an interrupt during identify_cpu). Say so and stop with
# EX_TEMPFAIL: scripts/vm.sh boots again. The pattern is vm.sh's.
if dmesg | grep -Eq 'BUG:|WARNING:|KASAN:|UBSAN:|Oops|kernel BUG|general protection|Call Trace:'; then
	echo "guest-init: the kernel splatted while booting, before the tests ran" >&2
	dmesg >/mnt/results/dmesg.txt
	echo 75 >/mnt/results/exit-code
	power_off
fi
"$@" 2>&1 | tee /mnt/results/output.txt
echo "${PIPESTATUS[0]}" >/mnt/results/exit-code
dmesg >/mnt/results/dmesg.txt
power_off
