# SPDX-License-Identifier: GPL-2.0
#
# tcp_handoff: the two commands a newcomer needs are 'make demo' and
# 'make check' (see README.md). Everything heavy is cached outside the clone
# (TCP_HANDOFF_CACHE, default /var/cache/tcp_handoff).
# The module's own build description is Kbuild (make -C $KDIR M=$PWD).

SHELL := /bin/bash
CARGO ?= cargo


.PHONY: fmt all sysroot kernel kernel-prod module tools host-test lint netlink-gen \
	netlink-check selftests check check-full demo clean fuzz fuzz-smoke bench

all: module tools

sysroot:
	bash scripts/sysroot.sh

kernel:
	bash scripts/kernel.sh debug

kernel-prod:
	bash scripts/kernel.sh prod

# The module, built with CLIPPY=1 against the debug kernel; warnings fail.
module:
	bash scripts/module.sh debug

# handoffctl is built in the sysroot, which has clang for its BPF program
# and libbpf (scripts/tools.sh). The man page and the bash completion come
# from the clap definition.
tools:
	bash scripts/tools.sh build
	bash scripts/tools.sh run man >tools/handoffctl/target/handoffctl.8
	bash scripts/tools.sh run completion bash >tools/handoffctl/target/handoffctl.bash

# Host-side tests of the pure-logic core and the tool. The core's tests
# include its fuzz targets' checks over their seed corpora.
host-test:
	$(CARGO) test --manifest-path rust/core/Cargo.toml
	bash scripts/tools.sh test

# Fuzzing of the core's HTTP parser, control-message codec and channel
# authentication (cargo-fuzz, scripts/fuzz.sh): FUZZ_SECONDS per target;
# 'make check' runs each for FUZZ_SMOKE_SECONDS, and fails if one crashes.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5

fuzz:
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke:
	bash scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS)

# Formatting, clippy on the host crates, SAFETY comments, generated files.
lint: netlink-check
	$(CARGO) fmt --check --manifest-path rust/core/Cargo.toml
	$(CARGO) fmt --check --manifest-path rust/core/fuzz/Cargo.toml
	bash scripts/tools.sh fmt -- --check
	$(CARGO) clippy --manifest-path rust/core/Cargo.toml --all-targets -- -D warnings
	bash scripts/tools.sh clippy
	bash scripts/lint-kernel-rust.sh

# Format everything as 'make lint' wants it.
fmt:
	$(CARGO) fmt --manifest-path rust/core/Cargo.toml
	$(CARGO) fmt --manifest-path rust/core/fuzz/Cargo.toml
	bash scripts/tools.sh fmt
	bash scripts/lint-kernel-rust.sh --fix

netlink-gen:
	bash scripts/netlink-gen.sh

netlink-check:
	bash scripts/netlink-gen.sh --check

selftests: module tools
	bash scripts/selftests.sh

# Everything, in the order that fails fastest; the multi-VM cluster last
# (its four guests share the host's CPUs).
check: lint host-test fuzz-smoke tools module
	bash scripts/selftests.sh
	bash scripts/cluster-vm.sh check

# make check plus the long variants (TH_FULL=1): the full TCP option
# product; soaks.
check-full: lint host-test fuzz-smoke tools module
	TH_FULL=1 bash scripts/selftests.sh
	bash scripts/cluster-vm.sh check

# make demo: one guest, the cluster in namespaces. make demo CLUSTER=vm:
# four guests, a client and three nodes, each a machine of its own.
demo: module tools
ifeq ($(CLUSTER),vm)
	bash scripts/cluster-vm.sh demo
else
	bash scripts/demo.sh
endif

# The benchmark on the production-like kernel: tcp_handoff side by side with
# direct access, HAProxy and IPVS direct routing (Documentation/performance.rst).
bench:
	bash scripts/bench.sh

clean:
	rm -rf results rust/core/target rust/core/fuzz/target tools/handoffctl/target
