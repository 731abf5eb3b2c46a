// SPDX-License-Identifier: GPL-2.0
/*
 * Handoff latency, sampled from the tcp_handoff module's tracepoints.
 *
 * handoff_start stamps the handoff's id with the time the front-end sent
 * its request; handoff_done takes the stamp back and sends the difference,
 * with the back-end's node id, to user space through a ring buffer;
 * handoff_failed drops the stamp. `handoffctl latency` turns the samples
 * into histograms.
 *
 * The programs attach as raw tracepoints: they read the events' arguments
 * (TP_PROTO of rust/glue/tcp_handoff_trace.h, in order), so they need
 * neither BTF nor tracefs, and are no slower than the event itself.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* Set before loading: the network namespace (inode number) to watch. */
const volatile __u32 netns = 0;

struct sample {
	__u32 node;
	__u32 pad;
	__u64 ns;
};

/* Handoffs in flight: id -> start time. LRU, so lost ends cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} started SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} samples SEC(".maps");

/* Dropped samples (ring buffer full), for user space to report. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Arguments common to the three events: netns, id, node. */
#define ARG_NETNS(ctx) ((__u32)(ctx)->args[0])
#define ARG_ID(ctx) ((__u64)(ctx)->args[1])
#define ARG_NODE(ctx) ((__u32)(ctx)->args[2])

SEC("raw_tp/handoff_start")
int handoff_start(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = ARG_ID(ctx), now = bpf_ktime_get_ns();

	if (ARG_NETNS(ctx) != netns)
		return 0;
	bpf_map_update_elem(&started, &id, &now, BPF_ANY);
	return 0;
}

SEC("raw_tp/handoff_done")
int handoff_done(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = ARG_ID(ctx), now = bpf_ktime_get_ns();
	struct sample *s;
	__u64 *t0;
	__u32 zero = 0;

	if (ARG_NETNS(ctx) != netns)
		return 0;
	t0 = bpf_map_lookup_elem(&started, &id);
	if (!t0)
		return 0;
	s = bpf_ringbuf_reserve(&samples, sizeof(*s), 0);
	if (s) {
		s->node = ARG_NODE(ctx);
		s->pad = 0;
		s->ns = now - *t0;
		bpf_ringbuf_submit(s, 0);
	} else {
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);

		if (n)
			__sync_fetch_and_add(n, 1);
	}
	bpf_map_delete_elem(&started, &id);
	return 0;
}

SEC("raw_tp/handoff_failed")
int handoff_failed(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = ARG_ID(ctx);

	if (ARG_NETNS(ctx) != netns)
		return 0;
	bpf_map_delete_elem(&started, &id);
	return 0;
}
