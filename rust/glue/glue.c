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
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/sysfs.h>
#include <linux/netdevice.h>
#include <linux/spinlock.h>
#include <linux/tcp.h>
#include <linux/timer.h>
#include <net/inet_hashtables.h>
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

/* What the module keeps in struct net's generic array. */
struct th_net_glue {
	void *state;		/* the Rust NetState */
	struct net *net;
	struct timer_list tick;	/* housekeeping: expiry of held connections */
};

static struct pernet_operations th_net_ops = {
	.init	= th_net_init,
	.exit	= th_net_exit,
	.id	= &th_net_id,
	.size	= sizeof(struct th_net_glue),
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

void th_net_tick_start(struct net *net)
{
	struct th_net_glue *g = th_glue(net);

	g->net = net;
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
 * What the listener's request socket for a 4-tuple says about the
 * handshake (what this node granted). Returns TH_SK_REQUEST and fills
 * @out, TH_SK_FULL when a full or TIME_WAIT socket owns the tuple, or
 * TH_SK_NONE.
 */
int th_lookup_reqsk(struct net *net, __be32 saddr, __be16 sport, __be32 daddr,
		    __be16 dport, int dif, struct th_reqsk_info *out)
{
	const struct tcp_request_sock *treq;
	const struct inet_request_sock *ireq;
	struct sock *sk;
	int ret;

	rcu_read_lock();
	sk = __inet_lookup_established(net, saddr, sport, daddr, ntohs(dport),
				       dif, 0);
	rcu_read_unlock();
	if (!sk)
		return TH_SK_NONE;
	if (sk->sk_state != TCP_NEW_SYN_RECV) {
		sock_gen_put(sk);
		return TH_SK_FULL;
	}
	treq = tcp_rsk(inet_reqsk(sk));
	ireq = &treq->req;
	out->rcv_isn = treq->rcv_isn;
	out->snt_isn = treq->snt_isn;
	out->ts_recent = ireq->req.ts_recent;
	out->snt_tsval_last = treq->snt_tsval_last;
	out->mss = ireq->req.mss;
	out->snd_wscale = ireq->snd_wscale;
	out->rcv_wscale = ireq->rcv_wscale;
	out->tstamp_ok = ireq->tstamp_ok;
	out->sack_ok = ireq->sack_ok;
	out->wscale_ok = ireq->wscale_ok;
	out->ecn_ok = ireq->ecn_ok;
	out->usec_ts = treq->req_usec_ts;
	ret = TH_SK_REQUEST;
	sock_gen_put(sk);
	return ret;
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
		kfree_skb(skb);
		return -ENODEV;
	}
	skb->dev = dev;
	rcu_read_unlock();
	netif_rx(skb);
	return 0;
}

void th_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
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

static struct genl_family th_genl_family __ro_after_init = {
	.name		= TCP_HANDOFF_FAMILY_NAME,
	.version	= TCP_HANDOFF_FAMILY_VERSION,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.split_ops	= tcp_handoff_nl_ops,
	.n_split_ops	= ARRAY_SIZE(tcp_handoff_nl_ops),
	.resv_start_op	= TCP_HANDOFF_CMD_MAX + 1,
};

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

	th_kobj = kobject_create_and_add("tcp_handoff", kernel_kobj);
	if (!th_kobj)
		return -ENOMEM;
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
	return err;
}

void th_glue_unregister(void)
{
	genl_unregister_family(&th_genl_family);
	unregister_pernet_subsys(&th_net_ops);
	kobject_put(th_kobj);
}
