// SPDX-License-Identifier: GPL-2.0
/*
 * Instantiates the tracepoints of tcp_handoff_trace.h, and the
 * rust_do_trace_<name>() entry points Rust calls them through.
 */
#define CREATE_TRACE_POINTS
#define CREATE_RUST_TRACE_POINTS
#include "tcp_handoff_trace.h"
