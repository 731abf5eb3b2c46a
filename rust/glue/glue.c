// SPDX-License-Identifier: GPL-2.0
/*
 * C glue of tcp_handoff; see glue.h for what belongs here. The callbacks in
 * the tables below are thin trampolines into Rust: C owns the tables so their
 * function-pointer types (and kCFI hashes) come from the kernel headers. The
 * generic netlink handlers are the exception: the generated netlink-gen.h
 * declares them and the Rust functions of the same names (rust/netlink/)
 * define them, as Rust-for-Linux's phy drivers do for their callbacks.
 */
#include <generated/utsrelease.h>
#include <crypto/sha2.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/kmemleak.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/sysfs.h>
#include <linux/netdevice.h>
#include <linux/spinlock.h>
#include <linux/tcp.h>
#include <linux/timer.h>
#include <linux/workqueue.h>
#include <net/inet_hashtables.h>
#include <net/inet6_hashtables.h>
#include <net/inet_timewait_sock.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/route.h>
#include <net/ip6_route.h>
#include <net/tcp.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netns/generic.h>
#include <net/request_sock.h>
#include <net/sock.h>

#include "glue.h"
#include "netlink-gen.h"

#define TH_VERSION "0.1.0"
MODULE_VERSION(TH_VERSION);

static unsigned int th_net_id __read_mostly;

/* Netfilter hooks. */

static unsigned int th_hook_in(void *priv, struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	return th_rs_hook_in(skb, state);
}

static unsigned int th_hook_out(void *priv, struct sk_buff *skb,
				const struct nf_hook_state *state)
{
	return th_rs_hook_out(skb, state);
}

/*
 * Inbound after defragmentation and before conntrack, so forwarded packets
 * never reach conntrack's state machine; outbound after source NAT, so a
 * rewritten reply is what leaves. See Documentation/design.rst.
 */
#if IS_ENABLED(CONFIG_IPV6)
static unsigned int th_hook_in6(void *priv, struct sk_buff *skb,
				const struct nf_hook_state *state)
{
	return th_rs_hook_in6(skb, state);
}

static unsigned int th_hook_out6(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state)
{
	return th_rs_hook_out6(skb, state);
}
#endif

/*
 * IPv6 services: the same places in the IPv6 chains (after nf_defrag_ipv6,
 * when conntrack loaded it; without it a fragment stays a fragment, and
 * the module leaves fragments to the stack).
 */
static const struct nf_hook_ops th_hook_ops[] = {
	{
		.hook		= th_hook_in,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP_PRI_CONNTRACK_DEFRAG + 1,
	},
	{
		.hook		= th_hook_out,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_POST_ROUTING,
		.priority	= NF_IP_PRI_NAT_SRC + 1,
	},
#if IS_ENABLED(CONFIG_IPV6)
	{
		.hook		= th_hook_in6,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP6_PRI_CONNTRACK_DEFRAG + 1,
	},
	{
		.hook		= th_hook_out6,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_POST_ROUTING,
		.priority	= NF_IP6_PRI_NAT_SRC + 1,
	},
#endif
};

int th_net_register_hooks(struct net *net)
{
	return nf_register_net_hooks(net, th_hook_ops, ARRAY_SIZE(th_hook_ops));
}

void th_net_unregister_hooks(struct net *net)
{
	nf_unregister_net_hooks(net, th_hook_ops, ARRAY_SIZE(th_hook_ops));
}

/* Per-namespace state. */

static int __net_init th_net_init(struct net *net)
{
	return th_rs_net_init(net);
}

static void __net_exit th_net_exit(struct net *net)
{
	th_rs_net_exit(net);
}

static void __net_exit th_net_pre_exit(struct net *net);

/* What the module keeps in struct net's generic array. */
struct th_net_glue {
	void *state;		/* the Rust NetState */
	struct net *net;
	struct timer_list tick;	/* housekeeping: expiry of held connections */
	/*
	 * The namespace's control-plane worker (rust/channel/): sockets,
	 * dispatch decisions, handoff replies. One work item, so it never
	 * runs concurrently with itself.
	 */
	struct work_struct work;
	bool dying;		/* set in pre_exit: no more kicks */
};

static struct pernet_operations th_net_ops = {
	.init		= th_net_init,
	.pre_exit	= th_net_pre_exit,
	.exit		= th_net_exit,
	.id		= &th_net_id,
	.size		= sizeof(struct th_net_glue),
};

static struct th_net_glue *th_glue(const struct net *net)
{
	return net_generic(net, th_net_id);
}

void *th_net_state(const struct net *net)
{
	return th_glue(net)->state;
}

void th_net_set_state(struct net *net, void *state)
{
	th_glue(net)->state = state;
}

/* The housekeeping timer: every TH_TICK_MS while the namespace lives. */
#define TH_TICK_MS 100

static void th_tick(struct timer_list *t)
{
	struct th_net_glue *g = timer_container_of(g, t, tick);

	th_rs_tick(g->net);
	mod_timer(&g->tick, jiffies + msecs_to_jiffies(TH_TICK_MS));
}

static void th_work(struct work_struct *w)
{
	struct th_net_glue *g = container_of(w, struct th_net_glue, work);

	th_rs_work(g->net);
}

/* Schedules the namespace's worker; callable from any context. */
void th_net_kick(struct net *net)
{
	struct th_net_glue *g = th_glue(net);

	if (!READ_ONCE(g->dying))
		queue_work(system_dfl_wq, &g->work);
}

/*
 * Before the namespace's devices and sockets go: stop the worker for good
 * and let Rust close the control channel's sockets (kernel sockets hold
 * no reference on their namespace, so they must be gone before it is).
 */
static void __net_exit th_net_pre_exit(struct net *net)
{
	struct th_net_glue *g = th_glue(net);

	WRITE_ONCE(g->dying, true);
	cancel_work_sync(&g->work);
	th_rs_net_pre_exit(net);
	cancel_work_sync(&g->work);
}

void th_net_tick_start(struct net *net)
{
	struct th_net_glue *g = th_glue(net);

	g->net = net;
	INIT_WORK(&g->work, th_work);
	timer_setup(&g->tick, th_tick, 0);
	mod_timer(&g->tick, jiffies + msecs_to_jiffies(TH_TICK_MS));
}

void th_net_tick_stop(struct net *net)
{
	timer_shutdown_sync(&th_glue(net)->tick);
}

u64 th_jiffies_ms(void)
{
	return jiffies64_to_msecs(get_jiffies_64());
}

void th_hmac_sha256(const u8 *key, size_t key_len, const u8 *const *parts,
		    const size_t *lens, unsigned int n, u8 *out)
{
	struct hmac_sha256_ctx ctx;
	unsigned int i;

	hmac_sha256_init_usingrawkey(&ctx, key, key_len);
	for (i = 0; i < n; i++)
		hmac_sha256_update(&ctx, parts[i], lens[i]);
	hmac_sha256_final(&ctx, out);
}

void th_random_bytes(void *buf, size_t len)
{
	get_random_bytes(buf, len);
}

u32 th_net_inum(const struct net *net)
{
	return net->ns.inum;
}

struct kmem_cache *th_cache_create(const char *name, unsigned int size,
				   unsigned int align)
{
	return kmem_cache_create(name, size, align, SLAB_NO_MERGE, NULL);
}

void *th_cache_alloc(struct kmem_cache *cache)
{
	/* A flood meets max-conns first; a failure here is counted, not logged. */
	return kmem_cache_alloc(cache, GFP_ATOMIC | __GFP_NOWARN);
}

void th_cache_free(struct kmem_cache *cache, void *obj)
{
	kmem_cache_free(cache, obj);
}

void th_cache_destroy(struct kmem_cache *cache)
{
	kmem_cache_destroy(cache);
}

/* BH-safe spinlocks: hooks run in softirq and in process context. */
void th_spin_lock_bh(void *lock)
{
	spin_lock_bh(lock);
}

void th_spin_unlock_bh(void *lock)
{
	spin_unlock_bh(lock);
}

int th_spin_trylock_bh(void *lock)
{
	return spin_trylock_bh(lock);
}

void th_lockdep_assert_held(void *lock)
{
	lockdep_assert_held((spinlock_t *)lock);
}

/*
 * The established, request or TIME_WAIT socket of a 4-tuple (client
 * @saddr:@sport to local @daddr:@dport, addresses of @family in network
 * order: 4 bytes for AF_INET, 16 for AF_INET6), with a reference, or NULL.
 */
static struct sock *th_lookup_tuple(struct net *net, int family,
				    const u8 *saddr, __be16 sport,
				    const u8 *daddr, __be16 dport, int dif)
{
	struct sock *sk = NULL;

	rcu_read_lock();
	if (family == AF_INET) {
		__be32 s, d;

		memcpy(&s, saddr, sizeof(s));
		memcpy(&d, daddr, sizeof(d));
		sk = __inet_lookup_established(net, s, sport, d, ntohs(dport),
					       dif, 0);
	}
#if IS_ENABLED(CONFIG_IPV6)
	else if (family == AF_INET6) {
		struct in6_addr s, d;

		memcpy(&s, saddr, sizeof(s));
		memcpy(&d, daddr, sizeof(d));
		sk = __inet6_lookup_established(net, &s, sport, &d,
						ntohs(dport), dif, 0);
	}
#endif
	rcu_read_unlock();
	return sk;
}

/*
 * What the listener's request socket for a 4-tuple says about the
 * handshake (what this node granted). Returns TH_SK_REQUEST and fills
 * @out, TH_SK_FULL or TH_SK_TIME_WAIT when such a socket owns the tuple,
 * or TH_SK_NONE.
 */
int th_lookup_reqsk(struct net *net, int family, const u8 *saddr,
		    __be16 sport, const u8 *daddr, __be16 dport, int dif,
		    struct th_reqsk_info *out)
{
	const struct tcp_request_sock *treq;
	const struct inet_request_sock *ireq;
	struct sock *sk;
	int ret;

	sk = th_lookup_tuple(net, family, saddr, sport, daddr, dport, dif);
	if (!sk)
		return TH_SK_NONE;
	if (sk->sk_state != TCP_NEW_SYN_RECV) {
		ret = sk->sk_state == TCP_TIME_WAIT ? TH_SK_TIME_WAIT : TH_SK_FULL;
		sock_gen_put(sk);
		return ret;
	}
	treq = tcp_rsk(inet_reqsk(sk));
	ireq = &treq->req;
	out->rcv_isn = treq->rcv_isn;
	out->snt_isn = treq->snt_isn;
	out->ts_recent = ireq->req.ts_recent;
	out->snt_tsval_last = treq->snt_tsval_last;
	out->rcv_wnd = ireq->req.rsk_rcv_wnd;
	out->mss = ireq->req.mss;
	out->snd_wscale = ireq->snd_wscale;
	out->rcv_wscale = ireq->rcv_wscale;
	out->tstamp_ok = ireq->tstamp_ok;
	out->sack_ok = ireq->sack_ok;
	out->wscale_ok = ireq->wscale_ok;
	out->ecn_ok = ireq->ecn_ok;
	out->usec_ts = treq->req_usec_ts;
	/* Listeners are freed after an RCU grace period (SOCK_RCU_FREE), and
	 * the caller is a netfilter hook, inside an RCU read-side section. */
	out->listener = inet_reqsk(sk)->rsk_listener;
	ret = TH_SK_REQUEST;
	sock_gen_put(sk);
	return ret;
}

/*
 * The back-end lets a closed connection's tuple go. A TIME_WAIT socket
 * still holding it is removed: with the module's entry gone it would answer
 * late segments under the node's own address. Returns TH_SK_FULL or
 * TH_SK_REQUEST while a live socket owns the tuple (the caller waits), else
 * TH_SK_NONE.
 */
int th_tuple_release(struct net *net, int family, const u8 *saddr,
		     __be16 sport, const u8 *daddr, __be16 dport)
{
	struct sock *sk;
	int ret;

	sk = th_lookup_tuple(net, family, saddr, sport, daddr, dport, 0);
	if (!sk)
		return TH_SK_NONE;
	if (sk->sk_state == TCP_TIME_WAIT) {
		/* Drops the lookup's reference too. */
		inet_twsk_deschedule_put(inet_twsk(sk));
		return TH_SK_NONE;
	}
	ret = sk->sk_state == TCP_NEW_SYN_RECV ? TH_SK_REQUEST : TH_SK_FULL;
	sock_gen_put(sk);
	return ret;
}

/*
 * Aborts the full socket of a tuple as `ss -K` does (tcp_abort): a reset
 * to the peer, then the socket closes. Process context (tcp_abort locks
 * the socket). Returns 0, or -ENOENT when the tuple has no full socket.
 */
int th_tuple_abort(struct net *net, int family, const u8 *saddr,
		   __be16 sport, const u8 *daddr, __be16 dport)
{
	struct sock *sk;
	int err = -ENOENT;

	sk = th_lookup_tuple(net, family, saddr, sport, daddr, dport, 0);
	if (!sk)
		return -ENOENT;
	if (sk_fullsock(sk))
		err = tcp_abort(sk, ETIMEDOUT);
	sock_gen_put(sk);
	return err;
}

/*
 * Where the established socket of a tuple stands, read under its lock, for
 * moving its connection to another node between two requests (back-end,
 * worker: process context). With @abort, the socket is then aborted as
 * th_tuple_abort() does, and @out->write_seq_after says whether anything
 * was written between the read and the abort. Returns 0, or -ENOENT when
 * no full socket owns the tuple.
 */
int th_tuple_tcp_state(struct net *net, int family, const u8 *saddr,
		       __be16 sport, const u8 *daddr, __be16 dport,
		       bool abort, struct th_tcp_state *out)
{
	struct tcp_sock *tp;
	struct sock *sk;

	sk = th_lookup_tuple(net, family, saddr, sport, daddr, dport, 0);
	if (!sk)
		return -ENOENT;
	if (!sk_fullsock(sk)) {
		sock_gen_put(sk);
		return -ENOENT;
	}
	tp = tcp_sk(sk);
	lock_sock(sk);
	out->established = sk->sk_state == TCP_ESTABLISHED;
	out->rcv_nxt = tp->rcv_nxt;
	out->copied_seq = tp->copied_seq;
	out->snd_una = tp->snd_una;
	out->snd_nxt = tp->snd_nxt;
	out->write_seq = tp->write_seq;
	/* The clock the next segment would be stamped with. */
	out->tsval = tcp_clock_ts(tp->tcp_usec_ts) + tp->tsoffset;
	out->ts_recent = tp->rx_opt.ts_recent;
	out->snd_wnd = tp->snd_wnd;
	out->ooo = !RB_EMPTY_ROOT(&tp->out_of_order_queue);
	out->usec_ts = tp->tcp_usec_ts;
	release_sock(sk);
	if (abort)
		tcp_abort(sk, ECONNRESET);
	/* The fields stay readable under the lookup's reference. */
	out->write_seq_after = READ_ONCE(tp->write_seq);
	sock_gen_put(sk);
	return 0;
}

int th_skb_iif(const struct sk_buff *skb)
{
	return skb->dev ? skb->dev->ifindex : 0;
}

int th_skb_copy_bits(const struct sk_buff *skb, int offset, void *to, int len)
{
	return skb_copy_bits(skb, offset, to, len);
}

/*
 * Whether the TCP checksum of an inbound segment of @family (its TCP
 * header at @thoff) is wrong, verified as conntrack verifies it: a good sum is
 * remembered in skb->ip_summed, so TCP does not add it up again, and a
 * bad one still makes TCP drop the segment and count it. Free for a
 * segment whose device or local sender vouched for it.
 */
bool th_skb_tcp_csum_bad(struct sk_buff *skb, int family, int thoff)
{
#if IS_ENABLED(CONFIG_IPV6)
	if (family == AF_INET6)
		return nf_ip6_checksum(skb, NF_INET_PRE_ROUTING, thoff,
				       IPPROTO_TCP) != 0;
#endif
	return nf_ip_checksum(skb, NF_INET_PRE_ROUTING, thoff, IPPROTO_TCP) != 0;
}

/*
 * Gives a packet this module held back to the stack again, as if the
 * device had just received it: it passes every hook (conntrack included)
 * a second time. The device is looked up again by index: it may have
 * gone while the packet was held.
 */
int th_skb_reinject(struct net *net, struct sk_buff *skb, int ifindex)
{
	struct net_device *dev;

	rcu_read_lock();
	dev = dev_get_by_index_rcu(net, ifindex);
	if (!dev) {
		rcu_read_unlock();
		kfree_skb_reason(skb, SKB_DROP_REASON_DEV_READY);
		return -ENODEV;
	}
	skb->dev = dev;
	rcu_read_unlock();
	netif_rx(skb);
	return 0;
}

void th_kfree_skb_reason(struct sk_buff *skb, enum skb_drop_reason reason)
{
	kfree_skb_reason(skb, reason);
}

/*
 * A hook's drop with a reason; the sender gets -EPERM, as with NF_DROP
 * (whose own reason says only NETFILTER_DROP).
 */
unsigned int th_nf_drop_reason(struct sk_buff *skb, enum skb_drop_reason reason)
{
	return NF_DROP_REASON(skb, reason, EPERM);
}

/*
 * Makes the first @len bytes from the network header linear and writable
 * (a clone's header is copied first: outgoing TCP segments are clones of
 * the retransmission queue) and returns a pointer to them, or NULL.
 * Before a rewrite, a CHECKSUM_COMPLETE sum of the old bytes becomes
 * useless: it is dropped, and *@partial says whether the TCP checksum
 * field holds only the pseudo-header sum (CHECKSUM_PARTIAL).
 */
u8 *th_skb_writable(struct sk_buff *skb, unsigned int len, bool *partial)
{
	unsigned int off = skb_network_offset(skb);

	if (skb_ensure_writable(skb, off + len))
		return NULL;
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->ip_summed = CHECKSUM_NONE;
	*partial = skb->ip_summed == CHECKSUM_PARTIAL;
	return skb_network_header(skb);
}

/*
 * Sends a client packet the front-end took at PRE_ROUTING on to the
 * back-end @daddr (of @family, 4 or 16 bytes, network order) with the
 * node's own route lookup and ip_local_out() or ip6_local_out(), as IPVS's
 * direct-routing transmitter does: no forwarding path, no FORWARD chain,
 * and untracked, so conntrack on the front-end neither sees nor
 * invalidates a flow whose handshake it saw only half of. Consumes @skb.
 */
int th_fe_xmit(struct net *net, struct sk_buff *skb, int family,
	       const u8 *daddr)
{
	if (family == AF_INET) {
		struct flowi4 fl4 = {};
		struct rtable *rt;

		memcpy(&fl4.daddr, daddr, sizeof(fl4.daddr));
		rt = ip_route_output_key(net, &fl4);
		if (IS_ERR(rt)) {
			kfree_skb_reason(skb, SKB_DROP_REASON_IP_OUTNOROUTES);
			return PTR_ERR(rt);
		}
		skb_dst_drop(skb);
		skb_dst_set(skb, &rt->dst);
		memset(IPCB(skb), 0, sizeof(*IPCB(skb)));
	}
#if IS_ENABLED(CONFIG_IPV6)
	else if (family == AF_INET6) {
		struct flowi6 fl6 = { .flowi6_proto = IPPROTO_TCP };
		struct dst_entry *dst;

		memcpy(&fl6.daddr, daddr, sizeof(fl6.daddr));
		dst = ip6_route_output(net, NULL, &fl6);
		if (dst->error) {
			int err = dst->error;

			dst_release(dst);
			kfree_skb_reason(skb, SKB_DROP_REASON_IP_OUTNOROUTES);
			return err;
		}
		skb_dst_drop(skb);
		skb_dst_set(skb, dst);
		memset(IP6CB(skb), 0, sizeof(*IP6CB(skb)));
	}
#endif
	else {
		kfree_skb_reason(skb, SKB_DROP_REASON_NOT_SPECIFIED);
		return -EAFNOSUPPORT;
	}
	skb_clear_tstamp(skb);
	nf_reset_ct(skb);
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	nf_ct_set(skb, NULL, IP_CT_UNTRACKED);
#endif
	skb->skb_iif = 0;
	if (family == AF_INET6)
		return ip6_local_out(net, NULL, skb);
	return ip_local_out(net, NULL, skb);
}

/*
 * A new buffer holding the packet @pkt of @family, headers set (an IPv6
 * packet the module builds has no extension headers).
 */
static struct sk_buff *th_skb_from_packet(int family, const void *pkt,
					  unsigned int len)
{
	struct sk_buff *skb = alloc_skb(LL_MAX_HEADER + len, GFP_ATOMIC);

	if (!skb)
		return NULL;
	skb_reserve(skb, LL_MAX_HEADER);
	skb_put_data(skb, pkt, len);
	skb_reset_network_header(skb);
	if (family == AF_INET6) {
		skb_set_transport_header(skb, sizeof(struct ipv6hdr));
		skb->protocol = htons(ETH_P_IPV6);
	} else {
		skb_set_transport_header(skb, ip_hdrlen(skb));
		skb->protocol = htons(ETH_P_IP);
	}
	return skb;
}

/*
 * The route of a TCP packet of @family to @daddr (from @saddr unless it is
 * NULL), or an ERR_PTR.
 */
static struct dst_entry *th_route_tcp(struct net *net, int family,
				      const void *daddr, const void *saddr)
{
	if (family == AF_INET) {
		struct flowi4 fl4 = { .flowi4_proto = IPPROTO_TCP };
		struct rtable *rt;

		memcpy(&fl4.daddr, daddr, sizeof(fl4.daddr));
		if (saddr)
			memcpy(&fl4.saddr, saddr, sizeof(fl4.saddr));
		rt = ip_route_output_key(net, &fl4);
		return IS_ERR(rt) ? ERR_CAST(rt) : &rt->dst;
	}
#if IS_ENABLED(CONFIG_IPV6)
	if (family == AF_INET6) {
		struct flowi6 fl6 = { .flowi6_proto = IPPROTO_TCP };
		struct dst_entry *dst;
		int err;

		memcpy(&fl6.daddr, daddr, sizeof(fl6.daddr));
		if (saddr)
			memcpy(&fl6.saddr, saddr, sizeof(fl6.saddr));
		dst = ip6_route_output(net, NULL, &fl6);
		err = dst->error;
		if (err) {
			dst_release(dst);
			return ERR_PTR(err);
		}
		return dst;
	}
#endif
	return ERR_PTR(-EAFNOSUPPORT);
}

/*
 * Sends a complete packet of @family the module built (checksums filled
 * in; IPv6 without extension headers) from this node, untracked: the
 * front-end's acknowledgements of a request head it is reading on behalf
 * of a request socket.
 */
int th_send_raw(struct net *net, int family, const void *pkt,
		unsigned int len)
{
	const struct ipv6hdr *ip6h = pkt;
	const struct iphdr *iph = pkt;
	struct dst_entry *dst;
	struct sk_buff *skb;

	if (family == AF_INET6)
		dst = th_route_tcp(net, family, &ip6h->daddr, &ip6h->saddr);
	else
		dst = th_route_tcp(net, family, &iph->daddr, &iph->saddr);
	if (IS_ERR(dst))
		return PTR_ERR(dst);
	skb = th_skb_from_packet(family, pkt, len);
	if (!skb) {
		dst_release(dst);
		return -ENOMEM;
	}
	skb->ip_summed = CHECKSUM_NONE;
	skb_dst_set(skb, dst);
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	nf_ct_set(skb, NULL, IP_CT_UNTRACKED);
#endif
	if (family == AF_INET6)
		return ip6_local_out(net, NULL, skb);
	return ip_local_out(net, NULL, skb);
}

/*
 * Sends a client segment the front-end built (checksums filled in) on to
 * the back-end @daddr as th_fe_xmit() sends the client's own: the part of a
 * held segment that belongs to the request the back-end still serves.
 */
int th_fe_send_built(struct net *net, int family, const void *pkt,
		     unsigned int len, const u8 *daddr)
{
	struct sk_buff *skb;

	skb = th_skb_from_packet(family, pkt, len);
	if (!skb)
		return -ENOMEM;
	skb->ip_summed = CHECKSUM_NONE;
	return th_fe_xmit(net, skb, family, daddr);
}

/*
 * Hands a packet the module built (a replayed SYN, ACK or request, or a
 * reset for a request socket) to the namespace's stack as if the device
 * facing @via had received it, so that routing, rp_filter and conntrack
 * treat it like the client's own. Processed synchronously: when this
 * returns, TCP has handled it. TH_INJECT_MARK lets the module's own hook
 * recognise it (and clear the mark before anyone else sees it).
 */
int th_inject(struct net *net, int family, const void *pkt, unsigned int len,
	      const u8 *via)
{
	struct dst_entry *dst;
	struct sk_buff *skb;

	dst = th_route_tcp(net, family, via, NULL);
	if (IS_ERR(dst))
		return PTR_ERR(dst);
	skb = th_skb_from_packet(family, pkt, len);
	if (!skb) {
		dst_release(dst);
		return -ENOMEM;
	}
	skb_reset_mac_header(skb);
	skb->dev = dst->dev;
	skb->pkt_type = PACKET_HOST;
	skb->ip_summed = CHECKSUM_UNNECESSARY;
	skb->mark = TH_INJECT_MARK;
	local_bh_disable();
	netif_receive_skb(skb);
	local_bh_enable();
	dst_release(dst);
	return 0;
}

/* Clears and reports the mark of a packet th_inject() made. */
bool th_skb_take_inject_mark(struct sk_buff *skb)
{
	if (likely(skb->mark != TH_INJECT_MARK))
		return false;
	skb->mark = 0;
	return true;
}

/*
 * The node's source address towards @daddr, of @family (4 or 16 bytes,
 * network order), into @saddr. Returns 0 or a negative error.
 */
int th_route_saddr(struct net *net, int family, const u8 *daddr, u8 *saddr)
{
	if (family == AF_INET) {
		struct flowi4 fl4 = {};
		struct rtable *rt;

		memcpy(&fl4.daddr, daddr, sizeof(fl4.daddr));
		rt = ip_route_output_key(net, &fl4);
		if (IS_ERR(rt))
			return PTR_ERR(rt);
		memcpy(saddr, &fl4.saddr, sizeof(fl4.saddr));
		ip_rt_put(rt);
		return 0;
	}
#if IS_ENABLED(CONFIG_IPV6)
	if (family == AF_INET6) {
		struct flowi6 fl6 = { .flowi6_proto = IPPROTO_TCP };
		struct dst_entry *dst;
		int err;

		memcpy(&fl6.daddr, daddr, sizeof(fl6.daddr));
		/* Fills in the source as a socket's connect() would pick it
		 * (the route's preferred source, else RFC 6724). */
		err = ip6_dst_lookup(net, NULL, &dst, &fl6);
		if (err)
			return err;
		memcpy(saddr, &fl6.saddr, sizeof(fl6.saddr));
		dst_release(dst);
		return 0;
	}
#endif
	return -EAFNOSUPPORT;
}

/*
 * Whether a TCP socket listens on @daddr:@dport (network order; @daddr of
 * @family, 4 or 16 bytes).
 */
bool th_has_listener(struct net *net, int family, const u8 *daddr,
		     __be16 dport)
{
	struct sock *sk = NULL;

	rcu_read_lock();
	if (family == AF_INET) {
		__be32 d;

		memcpy(&d, daddr, sizeof(d));
		sk = __inet_lookup_listener(net, NULL, 0, 0, 0, d,
					    ntohs(dport), 0, 0);
	}
#if IS_ENABLED(CONFIG_IPV6)
	else if (family == AF_INET6) {
		struct in6_addr d;

		memcpy(&d, daddr, sizeof(d));
		sk = inet6_lookup_listener(net, NULL, 0, &in6addr_any, 0, &d,
					   ntohs(dport), 0, 0);
	}
#endif
	rcu_read_unlock();
	return sk != NULL;
}

/*
 * UTCP: the shim on a service's listening sockets (rust/utcp/), IPv4
 * and IPv6 (th_utcp_ops6, below, works the same way).
 *
 * A shimmed listener's icsk_af_ops points at th_utcp_ops: a copy of
 * ipv4_specific whose syn_recv_sock first asks Rust whether the connection
 * may have a child socket. A vetoed connection gets none: TCP keeps its
 * request socket and drops the segment, as when the accept queue is full.
 * Every child that is created gets ipv4_specific back before anyone else
 * can see it (it is still locked by sk_clone_lock), so no accepted socket
 * ever points into this module.
 *
 * The table is allocated once per module load and deliberately never freed:
 * process-context readers (setsockopt on the listener) load the pointer
 * without any lock and may still hold it when the module goes. At unload,
 * after every listener is restored and an RCU grace period has passed (so
 * no receive path is inside th_utcp_syn_recv_sock), the table's one hook
 * is pointed back at the kernel's own function: a late reader then reads a
 * faithful copy of ipv4_specific. See Documentation/utcp.rst.
 */
static struct inet_connection_sock_af_ops *th_utcp_ops;
/* The kernel's ipv4_specific, which it does not export (see th_utcp_init). */
static const struct inet_connection_sock_af_ops *th_ipv4_ops;
/*
 * The same for IPv6 listeners: a copy of ipv6_specific (not exported
 * either). Its syn_recv_sock also serves the IPv4 connections a dual-stack
 * listener receives (tcp_v6_syn_recv_sock hands those to the IPv4 code),
 * so a dual-stack listener is shimmed too.
 */
static struct inet_connection_sock_af_ops *th_utcp_ops6;
static const struct inet_connection_sock_af_ops *th_ipv6_ops;

static struct sock *
th_utcp_syn_recv_sock(const struct sock *sk, struct sk_buff *skb,
		      struct request_sock *req, struct dst_entry *dst,
		      struct request_sock *req_unhash, bool *own_req,
		      void (*opt_child_init)(struct sock *newsk,
					     const struct sock *sk))
{
	const struct iphdr *iph = ip_hdr(skb);
	const struct tcphdr *th = tcp_hdr(skb);
	struct net *net = sock_net(sk);
	struct sock *child;

	if (th_net_state(net) &&
	    th_rs_utcp_veto(net, AF_INET, (const u8 *)&iph->saddr, th->source,
			    (const u8 *)&iph->daddr, th->dest)) {
		/* As tcp_v4_syn_recv_sock() does when it creates no child. */
		dst_release(dst);
		return NULL;
	}
	child = th_ipv4_ops->syn_recv_sock(sk, skb, req, dst, req_unhash,
					   own_req, opt_child_init);
	if (child)
		WRITE_ONCE(inet_csk(child)->icsk_af_ops, th_ipv4_ops);
	return child;
}

#if IS_ENABLED(CONFIG_IPV6)
static struct sock *
th_utcp_syn_recv_sock6(const struct sock *sk, struct sk_buff *skb,
		       struct request_sock *req, struct dst_entry *dst,
		       struct request_sock *req_unhash, bool *own_req,
		       void (*opt_child_init)(struct sock *newsk,
					      const struct sock *sk))
{
	const struct tcphdr *th = tcp_hdr(skb);
	struct net *net = sock_net(sk);
	struct sock *child;
	bool veto = false;

	if (th_net_state(net)) {
		if (skb->protocol == htons(ETH_P_IP)) {
			const struct iphdr *iph = ip_hdr(skb);

			veto = th_rs_utcp_veto(net, AF_INET,
					       (const u8 *)&iph->saddr,
					       th->source,
					       (const u8 *)&iph->daddr,
					       th->dest);
		} else {
			const struct ipv6hdr *ip6h = ipv6_hdr(skb);

			veto = th_rs_utcp_veto(net, AF_INET6,
					       ip6h->saddr.s6_addr, th->source,
					       ip6h->daddr.s6_addr, th->dest);
		}
	}
	if (veto) {
		/* As tcp_v6_syn_recv_sock() does when it creates no child. */
		dst_release(dst);
		return NULL;
	}
	child = th_ipv6_ops->syn_recv_sock(sk, skb, req, dst, req_unhash,
					   own_req, opt_child_init);
	/* An IPv6 child inherited the shim from the listener; an IPv4 one of a
	 * dual-stack listener has ipv6_mapped already and keeps it. */
	if (child)
		cmpxchg(&inet_csk(child)->icsk_af_ops,
			(const struct inet_connection_sock_af_ops *)th_utcp_ops6,
			th_ipv6_ops);
	return child;
}
#endif

/* The af_ops every new TCP socket of @family starts with, or NULL. */
static const struct inet_connection_sock_af_ops *th_af_ops_of(int family)
{
	const struct inet_connection_sock_af_ops *ops;
	struct socket *sock;

	if (sock_create_kern(&init_net, family, SOCK_STREAM, IPPROTO_TCP,
			     &sock))
		return NULL;
	ops = inet_csk(sock->sk)->icsk_af_ops;
	sock_release(sock);
	return ops;
}

static int th_utcp_init(void)
{
	/* Every TCP socket starts with ipv4_specific (ipv6_specific): a
	 * throwaway one tells its address. */
	th_ipv4_ops = th_af_ops_of(PF_INET);
	if (!th_ipv4_ops)
		return -ENOMEM;
	th_utcp_ops = kmemdup(th_ipv4_ops, sizeof(*th_ipv4_ops), GFP_KERNEL);
	if (!th_utcp_ops)
		return -ENOMEM;
	th_utcp_ops->syn_recv_sock = th_utcp_syn_recv_sock;
	/* Outlives the module on purpose (see above): not a leak. */
	kmemleak_ignore(th_utcp_ops);
#if IS_ENABLED(CONFIG_IPV6)
	th_ipv6_ops = th_af_ops_of(PF_INET6);
	if (th_ipv6_ops) {
		th_utcp_ops6 = kmemdup(th_ipv6_ops, sizeof(*th_ipv6_ops),
				       GFP_KERNEL);
		if (!th_utcp_ops6) {
			th_utcp_ops->syn_recv_sock = th_ipv4_ops->syn_recv_sock;
			return -ENOMEM;
		}
		th_utcp_ops6->syn_recv_sock = th_utcp_syn_recv_sock6;
		kmemleak_ignore(th_utcp_ops6);
	}
#endif
	return 0;
}

/* Called once every listener is restored and a grace period has passed. */
static void th_utcp_exit(void)
{
	WRITE_ONCE(th_utcp_ops->syn_recv_sock, th_ipv4_ops->syn_recv_sock);
	if (th_utcp_ops6)
		WRITE_ONCE(th_utcp_ops6->syn_recv_sock,
			   th_ipv6_ops->syn_recv_sock);
}

/* The shim of @ops (a kernel table), or NULL when it has none. */
static const struct inet_connection_sock_af_ops *
th_utcp_shim_of(const struct inet_connection_sock_af_ops *ops)
{
	if (ops == th_ipv4_ops)
		return th_utcp_ops;
	if (th_utcp_ops6 && ops == th_ipv6_ops)
		return th_utcp_ops6;
	return NULL;
}

/*
 * Shims @sk, a listener reached through a request socket under RCU.
 * Returns TH_UTCP_ATTACHED with a reference taken for the caller's record,
 * TH_UTCP_ALREADY when it is shimmed, TH_UTCP_UNSUPPORTED for a listener
 * whose operations are not plain IPv4 or IPv6 TCP's (MPTCP, another
 * module's shim) or that is closing.
 */
int th_utcp_attach(struct sock *sk)
{
	const struct inet_connection_sock_af_ops *ops, *shim;

	ops = READ_ONCE(inet_csk(sk)->icsk_af_ops);
	if (ops == th_utcp_ops || (th_utcp_ops6 && ops == th_utcp_ops6))
		return TH_UTCP_ALREADY;
	shim = th_utcp_shim_of(ops);
	if (!shim || sk_is_mptcp(sk) || !refcount_inc_not_zero(&sk->sk_refcnt))
		return TH_UTCP_UNSUPPORTED;
	if (READ_ONCE(sk->sk_state) != TCP_LISTEN) {
		sock_put(sk);
		return TH_UTCP_UNSUPPORTED;
	}
	if (cmpxchg(&inet_csk(sk)->icsk_af_ops, ops, shim) != ops) {
		/* Another CPU shimmed it first. */
		ops = READ_ONCE(inet_csk(sk)->icsk_af_ops);
		sock_put(sk);
		return ops == shim ? TH_UTCP_ALREADY : TH_UTCP_UNSUPPORTED;
	}
	return TH_UTCP_ATTACHED;
}

/* Restores @sk's operations exactly and drops the attach reference. */
void th_utcp_detach(struct sock *sk)
{
	if (cmpxchg(&inet_csk(sk)->icsk_af_ops,
		    (const struct inet_connection_sock_af_ops *)th_utcp_ops,
		    th_ipv4_ops) != th_utcp_ops && th_utcp_ops6)
		cmpxchg(&inet_csk(sk)->icsk_af_ops,
			(const struct inet_connection_sock_af_ops *)th_utcp_ops6,
			th_ipv6_ops);
	sock_put(sk);
}

/*
 * Whether @sk still listens; its family, bound address (4 or 16 bytes into
 * @addr, network order; a dual-stack listener on :: says AF_INET6) and
 * port (network order).
 */
bool th_utcp_listening(const struct sock *sk, int *family, u8 *addr,
		       __be16 *port)
{
	*family = sk->sk_family;
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		/* Set at bind and never changed while the socket listens. */
		memcpy(addr, &sk->sk_v6_rcv_saddr, sizeof(struct in6_addr));
	} else
#endif
	{
		__be32 a = READ_ONCE(inet_sk(sk)->inet_rcv_saddr);

		memcpy(addr, &a, sizeof(a));
	}
	*port = READ_ONCE(inet_sk(sk)->inet_sport);
	return READ_ONCE(sk->sk_state) == TCP_LISTEN;
}

/* A module reference per live handed-off connection: see design.rst. */
bool th_module_get(void)
{
	return try_module_get(THIS_MODULE);
}

void th_module_put(void)
{
	module_put(THIS_MODULE);
}

/*
 * Kernel sockets of the control channel. Their callbacks only kick the
 * namespace's worker, which does all reading and writing without ever
 * blocking (MSG_DONTWAIT). sk_user_data holds the namespace.
 */
static void th_sk_kick(struct sock *sk)
{
	struct net *net;

	read_lock_bh(&sk->sk_callback_lock);
	net = sk->sk_user_data;
	if (net)
		th_net_kick(net);
	read_unlock_bh(&sk->sk_callback_lock);
}

static void th_sk_data_ready(struct sock *sk)
{
	th_sk_kick(sk);
}

static void th_sk_state_change(struct sock *sk)
{
	th_sk_kick(sk);
}

static void th_sk_write_space(struct sock *sk)
{
	th_sk_kick(sk);
}

/*
 * The stack's own callbacks of TCP sockets, restored on release (they are
 * not exported, so they are taken from the first socket hooked).
 */
static void (*th_def_state_change)(struct sock *sk);
static void (*th_def_data_ready)(struct sock *sk);
static void (*th_def_write_space)(struct sock *sk);

static void th_sock_hook(struct socket *sock, struct net *net)
{
	struct sock *sk = sock->sk;

	write_lock_bh(&sk->sk_callback_lock);
	if (sk->sk_state_change != th_sk_state_change) {
		WRITE_ONCE(th_def_state_change, sk->sk_state_change);
		WRITE_ONCE(th_def_data_ready, sk->sk_data_ready);
		WRITE_ONCE(th_def_write_space, sk->sk_write_space);
	}
	sk->sk_user_data = net;
	sk->sk_data_ready = th_sk_data_ready;
	sk->sk_state_change = th_sk_state_change;
	sk->sk_write_space = th_sk_write_space;
	write_unlock_bh(&sk->sk_callback_lock);
	sk->sk_allocation = GFP_ATOMIC;
	tcp_sock_set_nodelay(sk);
}

/*
 * A channel socket of @family (AF_INET or AF_INET6). An IPv6 one is
 * IPv6-only: a node's channel address is of one family, and an IPv4 peer
 * arriving as a v4-mapped address would match no configured node.
 */
static int th_sock_new(struct net *net, int family, struct socket **out)
{
	int err = sock_create_kern(net, family, SOCK_STREAM, IPPROTO_TCP, out);

	if (err)
		return err;
	if (family == AF_INET6) {
		err = ip6_sock_set_v6only((*out)->sk);
		if (err) {
			sock_release(*out);
			*out = NULL;
			return err;
		}
	}
	th_sock_hook(*out, net);
	return 0;
}

/*
 * Fills @ss with @addr (4 bytes for AF_INET, 16 for AF_INET6, network
 * order) and @port; returns the address length, or -EAFNOSUPPORT.
 */
static int th_sockaddr(struct sockaddr_storage *ss, int family, const u8 *addr,
		       __be16 port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		sin->sin_port = port;
		return sizeof(*sin);
	}
	if (IS_ENABLED(CONFIG_IPV6) && family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		sin6->sin6_port = port;
		return sizeof(*sin6);
	}
	return -EAFNOSUPPORT;
}

int th_sock_listen(struct net *net, int family, const u8 *addr, __be16 port,
		   struct socket **out)
{
	struct sockaddr_storage ss;
	int len, err;

	len = th_sockaddr(&ss, family, addr, port);
	if (len < 0)
		return len;
	err = th_sock_new(net, family, out);
	if (err)
		return err;
	sock_set_reuseaddr((*out)->sk);
	err = kernel_bind(*out, (struct sockaddr_unsized *)&ss, len);
	if (!err)
		err = kernel_listen(*out, 64);
	if (err) {
		th_sock_release(*out);
		*out = NULL;
	}
	return err;
}

/* A socket bound to @laddr (port chosen), to connect with th_sock_connect. */
int th_sock_bound(struct net *net, int family, const u8 *laddr,
		  struct socket **out)
{
	struct sockaddr_storage ss;
	int len, err;

	len = th_sockaddr(&ss, family, laddr, 0);
	if (len < 0)
		return len;
	err = th_sock_new(net, family, out);
	if (err)
		return err;
	err = kernel_bind(*out, (struct sockaddr_unsized *)&ss, len);
	if (err) {
		th_sock_release(*out);
		*out = NULL;
	}
	return err;
}

/* Starts a non-blocking connect to @addr:@port (the socket's family). */
int th_sock_connect(struct socket *sock, const u8 *addr, __be16 port)
{
	struct sockaddr_storage ss;
	int len, err;

	len = th_sockaddr(&ss, sock->sk->sk_family, addr, port);
	if (len < 0)
		return len;
	err = kernel_connect(sock, (struct sockaddr_unsized *)&ss, len,
			     O_NONBLOCK);
	return err == -EINPROGRESS ? 0 : err;
}

/*
 * Accepts one pending connection; -EAGAIN when there is none. @peer gets
 * the peer's address: 4 bytes from an IPv4 listener, 16 from an IPv6 one.
 */
int th_sock_accept(struct net *net, struct socket *listener,
		   struct socket **out, u8 *peer)
{
	struct sockaddr_storage ss = {};
	int err;

	err = kernel_accept(listener, out, O_NONBLOCK);
	if (err)
		return err;
	th_sock_hook(*out, net);
	if (kernel_getpeername(*out, (struct sockaddr *)&ss) < 0)
		goto gone;
	if (ss.ss_family == AF_INET)
		memcpy(peer, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else if (IS_ENABLED(CONFIG_IPV6) && ss.ss_family == AF_INET6)
		memcpy(peer, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	else
		goto gone;
	return 0;
gone:
	th_sock_release(*out);
	*out = NULL;
	return -ENOTCONN;
}

/* TCP state of the socket (TCP_ESTABLISHED, ...), or -errno on error. */
int th_sock_state(struct socket *sock)
{
	struct sock *sk = sock->sk;

	if (READ_ONCE(sk->sk_err))
		return -READ_ONCE(sk->sk_err);
	return READ_ONCE(sk->sk_state);
}

int th_sock_recv(struct socket *sock, void *buf, unsigned int len)
{
	struct kvec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };

	return kernel_recvmsg(sock, &msg, &iov, 1, len, MSG_DONTWAIT);
}

int th_sock_send(struct socket *sock, const void *buf, unsigned int len)
{
	struct kvec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL };

	return kernel_sendmsg(sock, &msg, &iov, 1, len);
}

/*
 * Closes a channel socket abortively (linger 0: a reset, no orphan left in
 * FIN_WAIT that could outlive the namespace) after detaching the
 * callbacks, so nothing kicks the worker for it any more.
 */
void th_sock_release(struct socket *sock)
{
	struct sock *sk = sock->sk;

	write_lock_bh(&sk->sk_callback_lock);
	sk->sk_user_data = NULL;
	sk->sk_data_ready = READ_ONCE(th_def_data_ready);
	sk->sk_state_change = READ_ONCE(th_def_state_change);
	sk->sk_write_space = READ_ONCE(th_def_write_space);
	write_unlock_bh(&sk->sk_callback_lock);
	sock_no_linger(sk);
	sock_release(sock);
}

/*
 * The key's peer address: any address (prefix 0) of the socket's family,
 * which TCP-AO requires the key's to be.
 */
static void th_ao_any(struct __kernel_sockaddr_storage *ss,
		      const struct socket *sock)
{
	ss->ss_family = sock->sk->sk_family;
}

int th_sock_ao_add(struct socket *sock, u8 id, const u8 *key, u8 len)
{
	struct tcp_ao_add ao = {};
	int err;

	if (len > TCP_AO_MAXKEYLEN)
		return -EINVAL;
	th_ao_any(&ao.addr, sock);
	strscpy(ao.alg_name, "hmac(sha256)");
	ao.sndid = id;
	ao.rcvid = id;
	ao.keylen = len;
	memcpy(ao.key, key, len);
	err = sock->ops->setsockopt(sock, SOL_TCP, TCP_AO_ADD_KEY,
				    KERNEL_SOCKPTR(&ao), sizeof(ao));
	memzero_explicit(&ao, sizeof(ao));
	return err;
}

int th_sock_ao_del(struct socket *sock, u8 id, u8 new_current)
{
	struct tcp_ao_del del = {};

	th_ao_any(&del.addr, sock);
	del.sndid = id;
	del.rcvid = id;
	/*
	 * The peer may still ask for the key going (its RNextKeyID), which
	 * makes it this side's current key again: TCP-AO refuses to delete
	 * a key in use unless the deletion names the next one.
	 */
	if (new_current) {
		del.set_current = 1;
		del.set_rnext = 1;
		del.current_key = new_current;
		del.rnext = new_current;
	}
	return sock->ops->setsockopt(sock, SOL_TCP, TCP_AO_DEL_KEY,
				     KERNEL_SOCKPTR(&del), sizeof(del));
}

int th_sock_ao_set_current(struct socket *sock, u8 id)
{
	struct tcp_ao_info_opt info = {};

	/* Every segment of the connection must be signed. */
	info.ao_required = 1;
	info.set_current = 1;
	info.set_rnext = 1;
	info.current_key = id;
	info.rnext = id;
	return sock->ops->setsockopt(sock, SOL_TCP, TCP_AO_INFO,
				     KERNEL_SOCKPTR(&info), sizeof(info));
}

static int th_proc_show(struct seq_file *m, void *v)
{
	return th_rs_proc_show(m, seq_file_single_net(m));
}

int th_net_proc_create(struct net *net)
{
	if (!proc_create_net_single("tcp_handoff", 0444, net->proc_net,
				    th_proc_show, NULL))
		return -ENOMEM;
	return 0;
}

void th_net_proc_remove(struct net *net)
{
	remove_proc_entry("tcp_handoff", net->proc_net);
}

/* Packets. */

const void *th_skb_header_pointer(const struct sk_buff *skb, int offset,
				  int len, void *buffer)
{
	return skb_header_pointer(skb, offset, len, buffer);
}

int th_skb_network_offset(const struct sk_buff *skb)
{
	return skb_network_offset(skb);
}

unsigned int th_skb_len(const struct sk_buff *skb)
{
	return skb->len;
}

struct net *th_hook_state_net(const struct nf_hook_state *state)
{
	return state->net;
}

/* Generic netlink. */

/*
 * The generator keeps its group table static (it writes the family struct
 * only for the "genetlink" protocol); this one takes the same index and
 * name from the generated headers.
 */
static const struct genl_multicast_group th_genl_mcgrps[] = {
	[TCP_HANDOFF_NLGRP_EVENTS] = { .name = TCP_HANDOFF_MCGRP_EVENTS, },
};

static struct genl_family th_genl_family __ro_after_init = {
	.name		= TCP_HANDOFF_FAMILY_NAME,
	.version	= TCP_HANDOFF_FAMILY_VERSION,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.split_ops	= tcp_handoff_nl_ops,
	.n_split_ops	= ARRAY_SIZE(tcp_handoff_nl_ops),
	.mcgrps		= th_genl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(th_genl_mcgrps),
	.resv_start_op	= TCP_HANDOFF_CMD_MAX + 1,
};

/* Whether anyone in @net listens to the events group (cheap; no lock). */
bool th_genl_event_wanted(struct net *net)
{
	return genl_has_listeners(&th_genl_family, net, TCP_HANDOFF_NLGRP_EVENTS);
}

/* A new event message (any context); NULL without memory. */
struct sk_buff *th_genl_event_new(void **hdr)
{
	struct sk_buff *skb = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_ATOMIC);

	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &th_genl_family, 0,
			   TCP_HANDOFF_CMD_EVENT_NTF);
	if (!*hdr) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

/* Ends and sends an event to @net's listeners; consumes @skb. */
void th_genl_event_send(struct net *net, struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
	genlmsg_multicast_netns(&th_genl_family, net, skb, 0,
				TCP_HANDOFF_NLGRP_EVENTS, GFP_ATOMIC);
}

struct net *th_genl_info_net(const struct genl_info *info)
{
	return genl_info_net(info);
}

const struct nlattr *th_genl_info_attr(const struct genl_info *info, int type)
{
	return info->attrs[type];
}

void th_genl_set_missing(struct genl_info *info, int type)
{
	NL_SET_ERR_ATTR_MISS(info->extack, NULL, type);
	NL_SET_ERR_MSG(info->extack, "missing required attribute");
}

void th_genl_set_err(struct genl_info *info, const char *msg,
		     const struct nlattr *attr)
{
	/*
	 * NL_SET_ERR_MSG() wants a literal; Rust's messages are static C
	 * strings too (extack keeps the pointer), so set the fields as the
	 * macro does.
	 */
	if (!info->extack)
		return;
	info->extack->_msg = msg;
	if (attr)
		info->extack->bad_attr = attr;
}

struct sk_buff *th_genl_reply_new(const struct genl_info *info, void **hdr)
{
	struct sk_buff *skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);

	if (!skb)
		return NULL;
	*hdr = genlmsg_iput(skb, info);
	if (!*hdr) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

int th_genl_reply_send(struct sk_buff *skb, void *hdr, struct genl_info *info)
{
	genlmsg_end(skb, hdr);
	return genlmsg_reply(skb, info);
}

void th_genl_msg_free(struct sk_buff *skb)
{
	nlmsg_free(skb);
}

struct net *th_genl_dump_net(const struct netlink_callback *cb)
{
	return sock_net(cb->skb->sk);
}

long *th_genl_dump_cursor(struct netlink_callback *cb)
{
	return &cb->args[0];
}

void *th_genl_dump_put(struct sk_buff *skb, struct netlink_callback *cb)
{
	return genlmsg_iput(skb, genl_info_dump(cb));
}

void th_genl_msg_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

void th_genl_msg_cancel(struct sk_buff *skb, void *hdr)
{
	genlmsg_cancel(skb, hdr);
}

int th_nla_len(const struct nlattr *nla)
{
	return nla_len(nla);
}

const void *th_nla_data(const struct nlattr *nla)
{
	return nla_data(nla);
}

/*
 * Module-wide facts in sysfs, /sys/kernel/tcp_handoff/: what was built
 * against what, and the limits every namespace gets. Per-namespace state
 * is never here (sysfs is global): it is in netlink and /proc/net.
 */
static ssize_t version_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%s\n", TH_VERSION);
}

static ssize_t build_show(struct kobject *kobj, struct kobj_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "kernel %s; %s\n", UTS_RELEASE,
			  CONFIG_RUSTC_VERSION_TEXT);
}

static ssize_t max_nodes_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", th_rs_max_nodes());
}

static ssize_t max_services_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", th_rs_max_services());
}

static struct kobj_attribute th_attr_version = __ATTR_RO(version);
static struct kobj_attribute th_attr_build = __ATTR_RO(build);
static struct kobj_attribute th_attr_max_nodes = __ATTR_RO(max_nodes);
static struct kobj_attribute th_attr_max_services = __ATTR_RO(max_services);

static struct attribute *th_attrs[] = {
	&th_attr_version.attr,
	&th_attr_build.attr,
	&th_attr_max_nodes.attr,
	&th_attr_max_services.attr,
	NULL,
};

static const struct attribute_group th_attr_group = {
	.attrs = th_attrs,
};

static struct kobject *th_kobj;

/*
 * Module-wide registration, in dependency order: per-namespace state (and
 * with it the hooks) first, so the family never sees a namespace without
 * state; undone in reverse.
 */
int th_glue_register(void)
{
	int err;

	err = th_utcp_init();
	if (err)
		return err;
	th_kobj = kobject_create_and_add("tcp_handoff", kernel_kobj);
	if (!th_kobj) {
		th_utcp_exit();
		return -ENOMEM;
	}
	err = sysfs_create_group(th_kobj, &th_attr_group);
	if (err)
		goto put_kobj;
	err = register_pernet_subsys(&th_net_ops);
	if (err)
		goto put_kobj;
	err = genl_register_family(&th_genl_family);
	if (err)
		goto unregister_pernet;
	return 0;

unregister_pernet:
	unregister_pernet_subsys(&th_net_ops);
put_kobj:
	kobject_put(th_kobj);
	th_utcp_exit();
	return err;
}

void th_glue_unregister(void)
{
	genl_unregister_family(&th_genl_family);
	/* Restores every shimmed listener (pre_exit) and waits a grace period
	 * before each namespace's exit. */
	unregister_pernet_subsys(&th_net_ops);
	kobject_put(th_kobj);
	th_utcp_exit();
}
