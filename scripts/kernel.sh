#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build (or reuse) a test kernel from Debian's linux-source-7.2 with LLVM=1:
# 'make tinyconfig' plus scripts/kconfig/base.config and FLAVOUR.config.
#
#   scripts/kernel.sh debug|prod     prints the kernel tree's path (host view)
#
# The tree is cached in $CACHE/kernel-FLAVOUR-KEY, KEY hashing the sysroot,
# the fragments and this script. The tree must stay where it was built:
# out-of-tree Rust modules compile against its rust/*.rmeta and target.json.
. "$(dirname "$0")/common.sh"

flavour=${1:-debug}
[ -f "$TOP/scripts/kconfig/$flavour.config" ] || die "unknown kernel flavour '$flavour'"

kernel_key() {
	hash_inputs "$(sysroot_key)" "kernel-format-$KERNEL_FORMAT" \
		"$TOP/scripts/kconfig/base.config" "$TOP/scripts/kconfig/$flavour.config"
}

if [ "${2:-}" = "--inside" ]; then
	# Runs inside the sysroot: $3 is the tree's path there.
	tree=$3
	cd "$tree"
	if [ ! -f Makefile ]; then
		tar -xf /usr/src/linux-source-7.2.tar.xz --strip-components=1
	fi
	make LLVM=1 -s tinyconfig
	scripts/kconfig/merge_config.sh -m -O . .config \
		"$SRC_IN_ROOT/scripts/kconfig/base.config" \
		"$SRC_IN_ROOT/scripts/kconfig/$flavour.config" >/dev/null
	make LLVM=1 -s olddefconfig
	# Every option a fragment asks for must have landed: a silently dropped
	# dependency (SLUB_TINY keeping KASAN off, say) would void the suite.
	bad=0
	for frag in "$SRC_IN_ROOT/scripts/kconfig/base.config" "$SRC_IN_ROOT/scripts/kconfig/$flavour.config"; do
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=n) opt=${line%%=*}; want="# $opt is not set" ;;
			CONFIG_*) opt=${line%%=*}; want=$line ;;
			"# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}; want=$line ;;
			*) continue ;;
			esac
			got=$(grep -E "^$opt=|^# $opt is not set" .config || echo "# $opt is not set")
			if [ "$got" != "$want" ]; then
				echo "kconfig: wanted '$want', got '$got'" >&2
				bad=1
			fi
		done <"$frag"
	done
	[ $bad -eq 0 ] || { echo "kconfig: fragment options did not apply" >&2; exit 1; }
	start=$(date +%s)
	make LLVM=1 -j"$(nproc)" -s bzImage modules
	rm -rf modroot
	make LLVM=1 -s INSTALL_MOD_PATH="$tree/modroot" modules_install
	echo "built in $(( $(date +%s) - start )) s" >build-time.txt
	make -s kernelrelease >release.txt
	exit 0
fi

key=$(kernel_key)
name=kernel-$flavour-$key
tree="$CACHE/$name"
if [ -f "$tree/.complete" ]; then
	echo "$tree"
	exit 0
fi
bash "$TOP/scripts/sysroot.sh" >/dev/null
# One build at a time per flavour: a second caller waits and then reuses it.
exec 9>"$CACHE/kernel-$flavour.lock"
flock 9
if [ -f "$tree/.complete" ]; then
	echo "$tree"
	exit 0
fi
for old in "$CACHE"/kernel-"$flavour"-*; do
	case "$old" in "$tree" | "$tree.log" | *.lock) continue ;; esac
	[ -e "$old" ] && { log "removing stale $old"; rm -rf --one-file-system "$old"; }
done
mkdir -p "$tree"
log "building the $flavour kernel in $tree (cold: about 10 minutes on 2 cores)"
in_sysroot bash "$SRC_IN_ROOT/scripts/kernel.sh" "$flavour" --inside "/cache/$name" >"$tree.log" 2>&1 ||
	{ tail -n 40 "$tree.log" >&2; die "kernel build failed (log: $tree.log)"; }
cat "$tree/build-time.txt" >&2
touch "$tree/.complete"
echo "$tree"
