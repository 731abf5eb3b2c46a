#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Static checks of the module's Rust that need no kernel build: rustfmt with
# the kernel's settings (the sysroot's rustfmt, the one the kernel uses),
# and the Rust-for-Linux rule that every `unsafe` block carries a
# `// SAFETY:` comment and every `unsafe fn` a `# Safety` section; and the
# module's own rule that every packet it drops has a drop reason
# (kfree_skb_reason, rust/btcp/drop.rs): no bare kfree_skb(), consume_skb()
# or NF_DROP verdict.
# (Clippy runs in scripts/module.sh through the kernel's CLIPPY=1.)
. "$(dirname "$0")/common.sh"

bash "$TOP/scripts/sysroot.sh" >/dev/null
if [ "${1:-}" = --fix ]; then
	in_sysroot bash -c "cd $SRC_IN_ROOT && rustfmt --edition 2021 rust/tcp_handoff_main.rs"
	exit
fi
in_sysroot bash -c "cd $SRC_IN_ROOT && rustfmt --check --edition 2021 rust/tcp_handoff_main.rs" ||
	die "rustfmt: run 'rustfmt --edition 2021 rust/tcp_handoff_main.rs' (or see the diff above)"

cd "$TOP"
bad=$(git ls-files -co --exclude-standard '*.rs' | grep -v '/target/' | xargs awk '
	/unsafe[[:space:]]*\{/ && !/^[[:space:]]*\/\// {
		if (prev !~ /SAFETY/ && prev2 !~ /SAFETY/ && prev3 !~ /SAFETY/ && $0 !~ /SAFETY/)
			printf "%s:%d: unsafe block without a SAFETY comment\n", FILENAME, FNR
	}
	# Trait impls inherit the trait method'"'"'s safety contract.
	/^(unsafe )?impl.* for / { in_trait_impl = 1 }
	/^}/ { in_trait_impl = 0 }
	/unsafe fn / && !/extern/ && !in_trait_impl {
		if (!safety_doc && FILENAME !~ /bindings/)
			printf "%s:%d: unsafe fn without a # Safety section\n", FILENAME, FNR
	}
	/^[[:space:]]*\/\/\/ # Safety/ { safety_doc = 1 }
	/^[[:space:]]*(pub(\([a-z]+\))? )?(unsafe )?fn / { safety_doc = 0 }
	{ prev3 = prev2; prev2 = prev; prev = $0 }')
[ -z "$bad" ] || { echo "$bad" >&2; die "Rust-for-Linux safety documentation rules"; }
bad=$( { grep -nE '\b(kfree_skb|consume_skb)\(' rust/glue/*.c || :
	grep -nE 'bindings::NF_DROP\b' $(git ls-files -co --exclude-standard 'rust/*.rs' | grep -v '^rust/core/') || :; } )
[ -z "$bad" ] || { echo "$bad" >&2; die "a packet dropped without a reason (use kfree_skb_reason, see rust/btcp/drop.rs)"; }
echo "lint: rustfmt, SAFETY and drop-reason rules clean"
