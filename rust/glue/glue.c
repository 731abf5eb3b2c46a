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
#include <net/netns/generic.h>
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

static struct pernet_operations th_net_ops = {
	.init	= th_net_init,
	.exit	= th_net_exit,
	.id	= &th_net_id,
	.size	= sizeof(void *),
};

void *th_net_state(const struct net *net)
{
	return *(void **)net_generic(net, th_net_id);
}

void th_net_set_state(struct net *net, void *state)
{
	*(void **)net_generic(net, th_net_id) = state;
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
