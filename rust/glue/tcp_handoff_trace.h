/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of tcp_handoff (trace system "tcp_handoff").
 *
 * Rust calls them through rust_do_trace_<name>() behind the tracepoint's
 * static key (rust/trace.rs), as Rust Binder does. Every event carries the
 * network namespace's inode number (as in /proc/PID/ns/net) because one
 * kernel often runs several nodes, each in its own namespace, and a handoff
 * id is unique only within its namespace.
 *
 * `handoffctl latency` attaches a BPF program to handoff_start,
 * handoff_done and handoff_failed as raw tracepoints: it reads their first
 * three arguments (netns, id, node), so their order and types are an
 * interface (tools/handoffctl/src/bpf/latency.bpf.c).
 *
 * Addresses come as the family (AF_INET or AF_INET6) and a pointer to its
 * 4 or 16 bytes, ports in network order; an event stores them as a
 * sockaddr, printed with %pISpc: 198.51.100.100:40000, or
 * [2001:db8:1::100]:40000.
 */
#undef TRACE_SYSTEM
#undef TRACE_INCLUDE_FILE
#undef TRACE_INCLUDE_PATH
#define TRACE_SYSTEM tcp_handoff
#define TRACE_INCLUDE_FILE tcp_handoff_trace
#define TRACE_INCLUDE_PATH .

#if !defined(_TCP_HANDOFF_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TCP_HANDOFF_TRACE_H

#include <linux/tracepoint.h>

#ifndef _TCP_HANDOFF_TRACE_ADDR
#define _TCP_HANDOFF_TRACE_ADDR
#include <linux/in.h>
#include <linux/in6.h>

/* Stores @family's address @addr and port @port as a sockaddr in @sa. */
static inline void th_trace_sockaddr(u8 *sa, u16 family, const u8 *addr,
				     __be16 port)
{
	memset(sa, 0, sizeof(struct sockaddr_in6));
	if (family == AF_INET6) {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;

		v6->sin6_family = AF_INET6;
		v6->sin6_port = port;
		memcpy(&v6->sin6_addr, addr, sizeof(v6->sin6_addr));
	} else {
		struct sockaddr_in *v4 = (struct sockaddr_in *)sa;

		v4->sin_family = AF_INET;
		v4->sin_port = port;
		memcpy(&v4->sin_addr, addr, sizeof(v4->sin_addr));
	}
}
#endif

/*
 * The front-end has the complete request head (head_len bytes) of the
 * connection from client saddr:sport to service daddr:dport, and queues it
 * for dispatch: where a handoff's latency starts. It has no handoff id yet;
 * the connection's next handoff_start names the same client.
 */
TRACE_EVENT(handoff_queued,
	TP_PROTO(u32 netns, u16 family, const u8 *saddr, __be16 sport,
		 const u8 *daddr, __be16 dport, u32 head_len),
	TP_ARGS(netns, family, saddr, sport, daddr, dport, head_len),
	TP_STRUCT__entry(
		__field(u32, netns)
		__field(u32, head_len)
		__array(u8, client, sizeof(struct sockaddr_in6))
		__array(u8, service, sizeof(struct sockaddr_in6))
	),
	TP_fast_assign(
		__entry->netns = netns;
		__entry->head_len = head_len;
		th_trace_sockaddr(__entry->client, family, saddr, sport);
		th_trace_sockaddr(__entry->service, family, daddr, dport);
	),
	TP_printk("netns=%u client=%pISpc service=%pISpc head=%u",
		  __entry->netns, __entry->client, __entry->service,
		  __entry->head_len)
);

/*
 * The front-end sends the HANDOFF_REQUEST of connection `id` (client
 * saddr:sport, service daddr:dport) to node `node`.
 */
TRACE_EVENT(handoff_start,
	TP_PROTO(u32 netns, u64 id, u32 node, u16 family, const u8 *saddr,
		 __be16 sport, const u8 *daddr, __be16 dport, u32 head_len),
	TP_ARGS(netns, id, node, family, saddr, sport, daddr, dport, head_len),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u32, netns)
		__field(u32, node)
		__field(u32, head_len)
		__array(u8, client, sizeof(struct sockaddr_in6))
		__array(u8, service, sizeof(struct sockaddr_in6))
	),
	TP_fast_assign(
		__entry->id = id;
		__entry->netns = netns;
		__entry->node = node;
		__entry->head_len = head_len;
		th_trace_sockaddr(__entry->client, family, saddr, sport);
		th_trace_sockaddr(__entry->service, family, daddr, dport);
	),
	TP_printk("netns=%u id=%llu node=%u client=%pISpc service=%pISpc head=%u",
		  __entry->netns, __entry->id, __entry->node,
		  __entry->client, __entry->service, __entry->head_len)
);

/*
 * The front-end accepted node `node`'s HANDOFF_ACK for `id` and forwards
 * the client's packets to it from now on. `latency_us` is the front-end's
 * own jiffies-based figure (the events group reports the same); a BPF
 * program pairing handoff_start with handoff_done gets nanoseconds.
 */
TRACE_EVENT(handoff_done,
	TP_PROTO(u32 netns, u64 id, u32 node, u16 family, const u8 *saddr,
		 __be16 sport, u64 latency_us),
	TP_ARGS(netns, id, node, family, saddr, sport, latency_us),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u64, latency_us)
		__field(u32, netns)
		__field(u32, node)
		__array(u8, client, sizeof(struct sockaddr_in6))
	),
	TP_fast_assign(
		__entry->id = id;
		__entry->latency_us = latency_us;
		__entry->netns = netns;
		__entry->node = node;
		th_trace_sockaddr(__entry->client, family, saddr, sport);
	),
	TP_printk("netns=%u id=%llu node=%u client=%pISpc latency_us=%llu",
		  __entry->netns, __entry->id, __entry->node,
		  __entry->client, __entry->latency_us)
);

/*
 * The front-end gave handoff `id` to `node` up: it serves the connection
 * itself, or resets it (`reason` says which and why, as in the events
 * group's handoff-failed).
 */
TRACE_EVENT(handoff_failed,
	TP_PROTO(u32 netns, u64 id, u32 node, u16 family, const u8 *saddr,
		 __be16 sport, const char *reason, u32 reason_len),
	TP_ARGS(netns, id, node, family, saddr, sport, reason, reason_len),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u32, netns)
		__field(u32, node)
		__array(u8, client, sizeof(struct sockaddr_in6))
		__string_len(reason, reason, reason_len)
	),
	TP_fast_assign(
		__entry->id = id;
		__entry->netns = netns;
		__entry->node = node;
		th_trace_sockaddr(__entry->client, family, saddr, sport);
		__assign_str(reason);
	),
	TP_printk("netns=%u id=%llu node=%u client=%pISpc reason=%s",
		  __entry->netns, __entry->id, __entry->node,
		  __entry->client, __get_str(reason))
);

/*
 * A TERMINATE message about connection `id` was sent to (`received` 0) or
 * received from (`received` 1) node `node`. Reasons are the protocol's
 * (Documentation/protocol.rst): 0 closed, 1 abort, 2 unknown.
 */
TRACE_EVENT(handoff_terminate,
	TP_PROTO(u32 netns, u64 id, u32 node, u16 reason, bool received),
	TP_ARGS(netns, id, node, reason, received),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(u32, netns)
		__field(u32, node)
		__field(u16, reason)
		__field(bool, received)
	),
	TP_fast_assign(
		__entry->id = id;
		__entry->netns = netns;
		__entry->node = node;
		__entry->reason = reason;
		__entry->received = received;
	),
	TP_printk("netns=%u id=%llu node=%u %s reason=%s",
		  __entry->netns, __entry->id, __entry->node,
		  __entry->received ? "from" : "to",
		  __print_symbolic(__entry->reason,
				   { 0, "closed" }, { 1, "abort" },
				   { 2, "unknown" }))
);

/* The control channel to node `node` came up or went down (and why). */
TRACE_EVENT(channel_state,
	TP_PROTO(u32 netns, u32 node, bool up, const char *reason,
		 u32 reason_len),
	TP_ARGS(netns, node, up, reason, reason_len),
	TP_STRUCT__entry(
		__field(u32, netns)
		__field(u32, node)
		__field(bool, up)
		__string_len(reason, reason, reason_len)
	),
	TP_fast_assign(
		__entry->netns = netns;
		__entry->node = node;
		__entry->up = up;
		__assign_str(reason);
	),
	TP_printk("netns=%u node=%u %s reason=%s", __entry->netns,
		  __entry->node, __entry->up ? "up" : "down",
		  __get_str(reason))
);

#endif /* _TCP_HANDOFF_TRACE_H */

/* This part must be outside the include guard. */
#include <trace/define_trace.h>
