// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/tcp_handoff.yaml */
/* YNL-GEN kernel source */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "netlink-gen.h"

#include <uapi/linux/tcp_handoff.h>

/* Integer value ranges */
static const struct netlink_range_validation tcp_handoff_a_node_weight_range = {
	.max	= 65535ULL,
};

static const struct netlink_range_validation tcp_handoff_a_limits_head_timeout_ms_range = {
	.min	= 10ULL,
	.max	= 600000ULL,
};

static const struct netlink_range_validation tcp_handoff_a_limits_handoff_timeout_ms_range = {
	.min	= 10ULL,
	.max	= 600000ULL,
};

static const struct netlink_range_validation tcp_handoff_a_limits_linger_ms_range = {
	.min	= 10ULL,
	.max	= 600000ULL,
};

static const struct netlink_range_validation tcp_handoff_a_limits_max_conns_range = {
	.min	= 1ULL,
	.max	= 1048576ULL,
};

static const struct netlink_range_validation tcp_handoff_a_limits_idle_timeout_ms_range = {
	.min	= 1000ULL,
	.max	= 86400000ULL,
};

static const struct netlink_range_validation tcp_handoff_a_limits_lard_low_range = {
	.min	= 1ULL,
	.max	= 1048576ULL,
};

static const struct netlink_range_validation tcp_handoff_a_limits_lard_high_range = {
	.min	= 2ULL,
	.max	= 1048576ULL,
};

static const struct netlink_range_validation tcp_handoff_a_limits_lard_shrink_ms_range = {
	.min	= 100ULL,
	.max	= 3600000ULL,
};

/* TCP_HANDOFF_CMD_NODE_ADD - do */
static const struct nla_policy tcp_handoff_node_add_nl_policy[TCP_HANDOFF_A_NODE_LOCAL + 1] = {
	[TCP_HANDOFF_A_NODE_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[TCP_HANDOFF_A_NODE_ADDR4] = { .type = NLA_BE32, },
	[TCP_HANDOFF_A_NODE_ADDR6] = NLA_POLICY_EXACT_LEN(16),
	[TCP_HANDOFF_A_NODE_PORT] = NLA_POLICY_MIN(NLA_BE16, 1),
	[TCP_HANDOFF_A_NODE_WEIGHT] = NLA_POLICY_FULL_RANGE(NLA_U32, &tcp_handoff_a_node_weight_range),
	[TCP_HANDOFF_A_NODE_LOCAL] = { .type = NLA_FLAG, },
};

/* TCP_HANDOFF_CMD_NODE_DEL - do */
static const struct nla_policy tcp_handoff_node_del_nl_policy[TCP_HANDOFF_A_NODE_ID + 1] = {
	[TCP_HANDOFF_A_NODE_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* TCP_HANDOFF_CMD_NODE_GET - do */
static const struct nla_policy tcp_handoff_node_get_nl_policy[TCP_HANDOFF_A_NODE_ID + 1] = {
	[TCP_HANDOFF_A_NODE_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* TCP_HANDOFF_CMD_SERVICE_ADD - do */
static const struct nla_policy tcp_handoff_service_add_nl_policy[TCP_HANDOFF_A_SERVICE_PORT + 1] = {
	[TCP_HANDOFF_A_SERVICE_ADDR4] = { .type = NLA_BE32, },
	[TCP_HANDOFF_A_SERVICE_ADDR6] = NLA_POLICY_EXACT_LEN(16),
	[TCP_HANDOFF_A_SERVICE_PORT] = NLA_POLICY_MIN(NLA_BE16, 1),
};

/* TCP_HANDOFF_CMD_SERVICE_DEL - do */
static const struct nla_policy tcp_handoff_service_del_nl_policy[TCP_HANDOFF_A_SERVICE_PORT + 1] = {
	[TCP_HANDOFF_A_SERVICE_ADDR4] = { .type = NLA_BE32, },
	[TCP_HANDOFF_A_SERVICE_ADDR6] = NLA_POLICY_EXACT_LEN(16),
	[TCP_HANDOFF_A_SERVICE_PORT] = NLA_POLICY_MIN(NLA_BE16, 1),
};

/* TCP_HANDOFF_CMD_RULE_ADD - do */
static const struct nla_policy tcp_handoff_rule_add_nl_policy[TCP_HANDOFF_A_RULE_POLICY + 1] = {
	[TCP_HANDOFF_A_RULE_PRIO] = { .type = NLA_U32, },
	[TCP_HANDOFF_A_RULE_METHOD] = { .type = NLA_NUL_STRING, .len = 32, },
	[TCP_HANDOFF_A_RULE_HOST] = { .type = NLA_NUL_STRING, .len = 255, },
	[TCP_HANDOFF_A_RULE_PATH_PREFIX] = { .type = NLA_NUL_STRING, .len = 255, },
	[TCP_HANDOFF_A_RULE_PATH_SUFFIX] = { .type = NLA_NUL_STRING, .len = 255, },
	[TCP_HANDOFF_A_RULE_PATH_EXACT] = { .type = NLA_NUL_STRING, .len = 255, },
	[TCP_HANDOFF_A_RULE_TARGET] = { .type = NLA_U32, },
	[TCP_HANDOFF_A_RULE_POLICY] = NLA_POLICY_MAX(NLA_U32, 4),
};

/* TCP_HANDOFF_CMD_RULE_DEL - do */
static const struct nla_policy tcp_handoff_rule_del_nl_policy[TCP_HANDOFF_A_RULE_PRIO + 1] = {
	[TCP_HANDOFF_A_RULE_PRIO] = { .type = NLA_U32, },
};

/* TCP_HANDOFF_CMD_RULE_GET - do */
static const struct nla_policy tcp_handoff_rule_get_nl_policy[TCP_HANDOFF_A_RULE_PRIO + 1] = {
	[TCP_HANDOFF_A_RULE_PRIO] = { .type = NLA_U32, },
};

/* TCP_HANDOFF_CMD_LIMITS_SET - do */
static const struct nla_policy tcp_handoff_limits_set_nl_policy[TCP_HANDOFF_A_LIMITS_LARD_SHRINK_MS + 1] = {
	[TCP_HANDOFF_A_LIMITS_HEAD_TIMEOUT_MS] = NLA_POLICY_FULL_RANGE(NLA_U32, &tcp_handoff_a_limits_head_timeout_ms_range),
	[TCP_HANDOFF_A_LIMITS_HANDOFF_TIMEOUT_MS] = NLA_POLICY_FULL_RANGE(NLA_U32, &tcp_handoff_a_limits_handoff_timeout_ms_range),
	[TCP_HANDOFF_A_LIMITS_LINGER_MS] = NLA_POLICY_FULL_RANGE(NLA_U32, &tcp_handoff_a_limits_linger_ms_range),
	[TCP_HANDOFF_A_LIMITS_MAX_CONNS] = NLA_POLICY_FULL_RANGE(NLA_U32, &tcp_handoff_a_limits_max_conns_range),
	[TCP_HANDOFF_A_LIMITS_IDLE_TIMEOUT_MS] = NLA_POLICY_FULL_RANGE(NLA_U32, &tcp_handoff_a_limits_idle_timeout_ms_range),
	[TCP_HANDOFF_A_LIMITS_LARD_LOW] = NLA_POLICY_FULL_RANGE(NLA_U32, &tcp_handoff_a_limits_lard_low_range),
	[TCP_HANDOFF_A_LIMITS_LARD_HIGH] = NLA_POLICY_FULL_RANGE(NLA_U32, &tcp_handoff_a_limits_lard_high_range),
	[TCP_HANDOFF_A_LIMITS_LARD_SHRINK_MS] = NLA_POLICY_FULL_RANGE(NLA_U32, &tcp_handoff_a_limits_lard_shrink_ms_range),
};

/* TCP_HANDOFF_CMD_KEY_ADD - do */
static const struct nla_policy tcp_handoff_key_add_nl_policy[TCP_HANDOFF_A_KEY_CURRENT + 1] = {
	[TCP_HANDOFF_A_KEY_ID] = NLA_POLICY_RANGE(NLA_U32, 1, 255),
	[TCP_HANDOFF_A_KEY_SECRET] = NLA_POLICY_MAX_LEN(64),
	[TCP_HANDOFF_A_KEY_CURRENT] = { .type = NLA_FLAG, },
};

/* TCP_HANDOFF_CMD_KEY_DEL - do */
static const struct nla_policy tcp_handoff_key_del_nl_policy[TCP_HANDOFF_A_KEY_ID + 1] = {
	[TCP_HANDOFF_A_KEY_ID] = NLA_POLICY_RANGE(NLA_U32, 1, 255),
};

/* TCP_HANDOFF_CMD_KEY_SET - do */
static const struct nla_policy tcp_handoff_key_set_nl_policy[TCP_HANDOFF_A_KEY_CURRENT + 1] = {
	[TCP_HANDOFF_A_KEY_ID] = NLA_POLICY_RANGE(NLA_U32, 1, 255),
	[TCP_HANDOFF_A_KEY_CURRENT] = { .type = NLA_FLAG, },
};

/* Ops table for tcp_handoff */
const struct genl_split_ops tcp_handoff_nl_ops[20] = {
	{
		.cmd		= TCP_HANDOFF_CMD_NODE_ADD,
		.doit		= tcp_handoff_nl_node_add_doit,
		.policy		= tcp_handoff_node_add_nl_policy,
		.maxattr	= TCP_HANDOFF_A_NODE_LOCAL,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= TCP_HANDOFF_CMD_NODE_DEL,
		.doit		= tcp_handoff_nl_node_del_doit,
		.policy		= tcp_handoff_node_del_nl_policy,
		.maxattr	= TCP_HANDOFF_A_NODE_ID,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= TCP_HANDOFF_CMD_NODE_GET,
		.doit		= tcp_handoff_nl_node_get_doit,
		.policy		= tcp_handoff_node_get_nl_policy,
		.maxattr	= TCP_HANDOFF_A_NODE_ID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= TCP_HANDOFF_CMD_NODE_GET,
		.dumpit	= tcp_handoff_nl_node_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= TCP_HANDOFF_CMD_SERVICE_ADD,
		.doit		= tcp_handoff_nl_service_add_doit,
		.policy		= tcp_handoff_service_add_nl_policy,
		.maxattr	= TCP_HANDOFF_A_SERVICE_PORT,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= TCP_HANDOFF_CMD_SERVICE_DEL,
		.doit		= tcp_handoff_nl_service_del_doit,
		.policy		= tcp_handoff_service_del_nl_policy,
		.maxattr	= TCP_HANDOFF_A_SERVICE_PORT,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd	= TCP_HANDOFF_CMD_SERVICE_GET,
		.dumpit	= tcp_handoff_nl_service_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd	= TCP_HANDOFF_CMD_STATS_GET,
		.doit	= tcp_handoff_nl_stats_get_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= TCP_HANDOFF_CMD_RULE_ADD,
		.doit		= tcp_handoff_nl_rule_add_doit,
		.policy		= tcp_handoff_rule_add_nl_policy,
		.maxattr	= TCP_HANDOFF_A_RULE_POLICY,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= TCP_HANDOFF_CMD_RULE_DEL,
		.doit		= tcp_handoff_nl_rule_del_doit,
		.policy		= tcp_handoff_rule_del_nl_policy,
		.maxattr	= TCP_HANDOFF_A_RULE_PRIO,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= TCP_HANDOFF_CMD_RULE_GET,
		.doit		= tcp_handoff_nl_rule_get_doit,
		.policy		= tcp_handoff_rule_get_nl_policy,
		.maxattr	= TCP_HANDOFF_A_RULE_PRIO,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= TCP_HANDOFF_CMD_RULE_GET,
		.dumpit	= tcp_handoff_nl_rule_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= TCP_HANDOFF_CMD_LIMITS_SET,
		.doit		= tcp_handoff_nl_limits_set_doit,
		.policy		= tcp_handoff_limits_set_nl_policy,
		.maxattr	= TCP_HANDOFF_A_LIMITS_LARD_SHRINK_MS,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd	= TCP_HANDOFF_CMD_LIMITS_GET,
		.doit	= tcp_handoff_nl_limits_get_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= TCP_HANDOFF_CMD_CONN_GET,
		.dumpit	= tcp_handoff_nl_conn_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd	= TCP_HANDOFF_CMD_STATS_RESET,
		.doit	= tcp_handoff_nl_stats_reset_doit,
		.flags	= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= TCP_HANDOFF_CMD_KEY_ADD,
		.doit		= tcp_handoff_nl_key_add_doit,
		.policy		= tcp_handoff_key_add_nl_policy,
		.maxattr	= TCP_HANDOFF_A_KEY_CURRENT,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= TCP_HANDOFF_CMD_KEY_DEL,
		.doit		= tcp_handoff_nl_key_del_doit,
		.policy		= tcp_handoff_key_del_nl_policy,
		.maxattr	= TCP_HANDOFF_A_KEY_ID,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= TCP_HANDOFF_CMD_KEY_SET,
		.doit		= tcp_handoff_nl_key_set_doit,
		.policy		= tcp_handoff_key_set_nl_policy,
		.maxattr	= TCP_HANDOFF_A_KEY_CURRENT,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd	= TCP_HANDOFF_CMD_KEY_GET,
		.dumpit	= tcp_handoff_nl_key_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
};

static const struct genl_multicast_group tcp_handoff_nl_mcgrps[] = {
	[TCP_HANDOFF_NLGRP_EVENTS] = { "events", },
};
