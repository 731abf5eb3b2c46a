# SPDX-License-Identifier: GPL-2.0
# Shared settings for the build and test scripts. Source it; do not run it.
#
# Everything heavy (the Debian sysroot, the kernel builds) lives in a cache
# outside the clone, keyed by a hash of what went into it, so a second run
# (and CI on the same machine) reuses it and a changed input rebuilds.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${TCP_HANDOFF_CACHE:-/var/cache/tcp_handoff}
# Where the repository is bind-mounted inside the sysroot (and the guest).
SRC_IN_ROOT=/src/tcp_handoff

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Short content hash of files (and extra strings) to key a cache entry.
hash_inputs() {
	{ for f in "$@"; do
		if [ -f "$f" ]; then cat "$f"; else printf '%s\n' "$f"; fi
	  done; } | sha256sum | cut -c1-16
}

# Bump a *_FORMAT when a script changes what it builds (not just how it
# logs): that, and the inputs listed, are what a cache entry is keyed by.
SYSROOT_FORMAT=1
KERNEL_FORMAT=1
sysroot_key() { hash_inputs "sysroot-format-$SYSROOT_FORMAT" "$TOP/scripts/sysroot-packages.txt"; }
sysroot_dir() { echo "$CACHE/sysroot-$(sysroot_key)"; }

# Run a command inside the sysroot with /proc, /sys, /dev and the repository
# mounted, and undo the mounts on exit even when the command fails.
in_sysroot() {
	local root; root=$(sysroot_dir)
	[ -f "$root/.complete" ] || die "sysroot missing: run scripts/sysroot.sh"
	unshare --mount --propagation private -- bash -c '
		set -e
		root=$1; top=$2; src=$3; cache=$4; shift 4
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		mount --rbind /sys "$root/sys"
		mkdir -p "$root$src" "$root/cache" "$root/tmp"
		mount --bind "$top" "$root$src"
		mount --bind "$cache" "$root/cache"
		mount -t tmpfs tmpfs "$root/tmp"
		exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
	' in_sysroot "$root" "$TOP" "$SRC_IN_ROOT" "$CACHE" "$@"
}
