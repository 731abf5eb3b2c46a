#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fuzz the core's parsers: run each cargo-fuzz target of rust/core/fuzz
# (default: all of them) for SECONDS seconds.
#   scripts/fuzz.sh SECONDS [TARGET...]
#
# `make fuzz` runs this for FUZZ_SECONDS per target, `make check` for a few
# (FUZZ_SMOKE_SECONDS). cargo-fuzz passes nightly-only flags (-Z) to rustc;
# the stable toolchain takes them with RUSTC_BOOTSTRAP=1, so no second
# toolchain is needed. The targets are built without a sanitizer: the core
# forbids unsafe code, so AddressSanitizer could only find bugs in the
# standard library, and it costs a good part of the executions. What
# catches bugs here is a panic: the properties the checks assert, overflow
# checks and debug assertions (all on in cargo-fuzz's build).
#
# libFuzzer starts from the committed seeds (corpus/<target>) and from what
# earlier runs kept (target/corpus/<target>), and adds new inputs only to
# the latter. A crash stops that target and saves its input under
# target/artifacts/<target>/; the script runs the other targets, then
# fails. Documentation/testing.rst ("Fuzzing") says how a crash becomes a
# corpus file and a regression test.
. "$(dirname "$0")/common.sh"

[[ ${1:-} =~ ^[0-9]+$ ]] || die "usage: $0 SECONDS [TARGET...]"
seconds=$1
shift
FUZZ=$TOP/rust/core/fuzz
if [ $# -eq 0 ]; then
	set -- $(cd "$FUZZ/fuzz_targets" && ls -- *.rs | sed 's/\.rs$//')
fi

# cargo-fuzz itself, installed once into the cache, keyed by its version.
# Installed into a temporary folder first, so that an interrupted install
# leaves nothing that looks complete.
CARGO_FUZZ_VERSION=0.13.2
root=$CACHE/cargo-fuzz-$CARGO_FUZZ_VERSION
mkdir -p "$CACHE"
exec 9>"$CACHE/cargo-fuzz.lock"
flock 9
if [ ! -x "$root/bin/cargo-fuzz" ]; then
	log "installing cargo-fuzz $CARGO_FUZZ_VERSION into $root"
	rm -rf --one-file-system "$root.tmp"
	CARGO_INSTALL_ROOT=$root.tmp cargo install --locked --quiet --version "$CARGO_FUZZ_VERSION" cargo-fuzz
	mv "$root.tmp" "$root"
fi
flock -u 9
# libfuzzer-sys compiles libFuzzer, which is C++.
if ! command -v c++ >/dev/null; then
	log "installing g++ (libFuzzer is C++)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null
fi
export PATH=$root/bin:$PATH RUSTC_BOOTSTRAP=1 CARGO_TERM_COLOR=never

cd "$FUZZ"
# The committed lock file is the one used: fail rather than update it.
cargo fetch --locked --quiet
opts=(--sanitizer none)
mkdir -p target/logs
log "building fuzz targets"
cargo fuzz build "${opts[@]}" >target/logs/build.log 2>&1 ||
	{ cat target/logs/build.log >&2; die "cargo fuzz build failed"; }

failed=()
for t in "$@"; do
	[ -f "fuzz_targets/$t.rs" ] || die "no fuzz target $t"
	mkdir -p "target/corpus/$t" "target/artifacts/$t"
	out=target/logs/$t.log
	if cargo fuzz run "${opts[@]}" "$t" "target/corpus/$t" "corpus/$t" -- \
		-max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="target/artifacts/$t/" >"$out" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out")
		rate=$(sed -n 's/.*DONE.* exec\/s: \([0-9]*\).*/\1/p' "$out")
		cov=$(sed -n 's/.*DONE *cov: \([0-9]*\).*/\1/p' "$out")
		corp=$(find "target/corpus/$t" "corpus/$t" -type f | wc -l)
		echo "fuzz: $t: ${runs:-?} runs in ${seconds} s (${rate:-?}/s), coverage ${cov:-?}, corpus $corp"
	else
		failed+=("$t")
		# The panic's message, else (a timeout, out of memory) the end.
		msg=$(sed -n '/panicked at/,/^stack backtrace/p' "$out" | grep -v '^stack backtrace' | head -n 20)
		if [ -n "$msg" ]; then echo "$msg" >&2; else tail -n 30 "$out" >&2; fi
		grep -m1 '^SUMMARY' "$out" >&2 || :
		crash=$(ls -t "target/artifacts/$t" | head -n 1)
		echo "fuzz: $t FAILED: input rust/core/fuzz/target/artifacts/$t/$crash," \
			"log rust/core/fuzz/$out" >&2
		echo "  replay: cd rust/core/fuzz && PATH=$root/bin:\$PATH RUSTC_BOOTSTRAP=1" \
			"cargo fuzz run -s none $t target/artifacts/$t/$crash" >&2
	fi
done
[ ${#failed[@]} -eq 0 ] || die "fuzz targets failed: ${failed[*]}"
