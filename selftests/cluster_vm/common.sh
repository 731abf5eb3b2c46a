# SPDX-License-Identifier: GPL-2.0
# Shared by the guests of the multi-VM cluster (scripts/cluster-vm.sh):
# one guest per machine, joined by two virtual switches the host script
# made in a network namespace of its own. The addresses are those of the
# namespace cluster of lib.sh, each now on a machine of its own:
#
#   client (eth0) ──┐            ┌── node1 (front-end of 198.51.100.1:80)
#                   ├── th-data ─┼── node2
#                   │            └── node3
#   node1..3 (eth1) ─── th-ctl: the control channel, separate from data
#
# Data: 198.51.100.0/25 (node N is .N, the client .100); control:
# 198.51.100.128/25 (node N is .128+N). Every node listens on port 9000 of
# its data address once it is ready: the client connects there, reads
# "ready", and, when it is done, writes "done COUNT" (how many connections
# that node should have handed off or taken over), after which the node
# checks its own counters and powers off.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

CLUSTER_PORT=9000

# cluster_object: the 1 MiB object every node serves as /big, /a/big and
# /b/big, the same bytes on every machine (a seeded generator), so that the
# client can check a body byte for byte whichever node served it.
cluster_object() {
	python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(7).randbytes(1 << 20))'
}
