#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the Debian forky sysroot that holds the Rust-for-Linux toolchain,
# the kernel sources, QEMU and everything the guest runs.
#
# The host (Debian 12) is too old for Rust-for-Linux, and rustup cannot get
# rust-src here, so the whole toolchain comes from Debian forky. The mirror
# is read from the host's own apt configuration at run time.
#
# Idempotent: prints the sysroot path; rebuilds only when this script or the
# package list changes.
. "$(dirname "$0")/common.sh"

root=$(sysroot_dir)
if [ -f "$root/.complete" ]; then
	echo "$root"
	exit 0
fi

host_mirror() {
	local m=""
	if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
		m=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' |
			grep -v security | head -n1)
	fi
	if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
		m=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
	fi
	[ -n "$m" ] || die "cannot find a Debian mirror in the host's apt configuration"
	echo "$m"
}

need_host_pkgs() {
	local missing=()
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v unshare >/dev/null || missing+=(util-linux)
	[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing host packages: ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

need_host_pkgs
mirror=$(host_mirror)
mkdir -p "$CACHE"
exec 9>"$CACHE/sysroot.lock"
flock 9
if [ -f "$root/.complete" ]; then
	echo "$root"
	exit 0
fi
# Old sysroots of other keys are stale: remove them to keep the disk free.
for old in "$CACHE"/sysroot-*; do
	case "$old" in "$root" | "$root.tmp" | *.log | *.lock) continue ;; esac
	[ -e "$old" ] && { log "removing stale $old"; rm -rf --one-file-system "$old"; }
done
tmp="$root.tmp"
rm -rf --one-file-system "$tmp"
mkdir -p "$tmp"

# debootstrap has no script for forky in Debian 12: forky uses sid's.
script=/usr/share/debootstrap/scripts/sid
log "debootstrap forky from the host's mirror into $tmp"
debootstrap --variant=minbase --include=ca-certificates forky "$tmp" "$mirror" "$script" >"$CACHE/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }

# The mirror's forky Release file can be past its Valid-Until date.
echo 'Acquire::Check-Valid-Until "false";' >"$tmp/etc/apt/apt.conf.d/99no-valid-until"
echo 'APT::Install-Recommends "false";' >"$tmp/etc/apt/apt.conf.d/99no-recommends"
printf 'deb %s forky main\n' "$mirror" >"$tmp/etc/apt/sources.list"
cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
# Services must not start inside the chroot while packages install.
printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
chmod +x "$tmp/usr/sbin/policy-rc.d"

pkgs=$(grep -v '^#' "$TOP/scripts/sysroot-packages.txt" | xargs)
log "installing $(echo "$pkgs" | wc -w) packages into the sysroot"
unshare --mount --propagation private -- bash -c '
	set -e
	r=$1; shift
	mount -t proc proc "$r/proc"
	mount --rbind /dev "$r/dev"
	mount --rbind /sys "$r/sys"
	chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		apt-get update -qq
	chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq "$@"
	chroot "$r" apt-get clean
' sysroot "$tmp" $pkgs >"$CACHE/sysroot-apt.log" 2>&1 ||
	{ tail -n 30 "$CACHE/sysroot-apt.log" >&2; die "package install failed (log: $CACHE/sysroot-apt.log)"; }

# The guest mounts its own tmpfs on these; they must exist in the root.
mkdir -p "$tmp/src/tcp_handoff" "$tmp/cache" "$tmp/mnt/work"
chroot "$tmp" dpkg-query -W -f='${Package} ${Version}\n' rustc bindgen clang linux-source-7.2 qemu-system-x86 nginx >"$tmp/.versions"
touch "$tmp/.complete"
mv "$tmp" "$root"
log "sysroot ready: $root"
cat "$root/.versions" >&2
echo "$root"
