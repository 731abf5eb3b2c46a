/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/tcp_handoff.yaml */
/* YNL-GEN kernel header */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#ifndef _LINUX_TCP_HANDOFF_GEN_H
#define _LINUX_TCP_HANDOFF_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/tcp_handoff.h>

/* Ops table for tcp_handoff */
extern const struct genl_split_ops tcp_handoff_nl_ops[20];

int tcp_handoff_nl_node_add_doit(struct sk_buff *skb, struct genl_info *info);
int tcp_handoff_nl_node_del_doit(struct sk_buff *skb, struct genl_info *info);
int tcp_handoff_nl_node_get_doit(struct sk_buff *skb, struct genl_info *info);
int tcp_handoff_nl_node_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb);
int tcp_handoff_nl_service_add_doit(struct sk_buff *skb,
				    struct genl_info *info);
int tcp_handoff_nl_service_del_doit(struct sk_buff *skb,
				    struct genl_info *info);
int tcp_handoff_nl_service_get_dumpit(struct sk_buff *skb,
				      struct netlink_callback *cb);
int tcp_handoff_nl_stats_get_doit(struct sk_buff *skb, struct genl_info *info);
int tcp_handoff_nl_rule_add_doit(struct sk_buff *skb, struct genl_info *info);
int tcp_handoff_nl_rule_del_doit(struct sk_buff *skb, struct genl_info *info);
int tcp_handoff_nl_rule_get_doit(struct sk_buff *skb, struct genl_info *info);
int tcp_handoff_nl_rule_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb);
int tcp_handoff_nl_limits_set_doit(struct sk_buff *skb, struct genl_info *info);
int tcp_handoff_nl_limits_get_doit(struct sk_buff *skb, struct genl_info *info);
int tcp_handoff_nl_conn_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb);
int tcp_handoff_nl_stats_reset_doit(struct sk_buff *skb,
				    struct genl_info *info);
int tcp_handoff_nl_key_add_doit(struct sk_buff *skb, struct genl_info *info);
int tcp_handoff_nl_key_del_doit(struct sk_buff *skb, struct genl_info *info);
int tcp_handoff_nl_key_set_doit(struct sk_buff *skb, struct genl_info *info);
int tcp_handoff_nl_key_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb);

enum {
	TCP_HANDOFF_NLGRP_EVENTS,
};

#endif /* _LINUX_TCP_HANDOFF_GEN_H */
