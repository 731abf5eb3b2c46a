/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue of tcp_handoff: what Rust cannot express by itself.
 *
 * Everything here is either a wrapper around a static inline function or a
 * macro of the kernel headers, or a static table built from kernel macros
 * (netfilter hook ops, pernet ops, the generic netlink family). The logic,
 * including every callback those tables point to, is in Rust.
 *
 * This header is also the input of the module's own bindgen run (see Kbuild):
 * it includes every kernel header whose types or functions Rust uses.
 */
#ifndef TCP_HANDOFF_GLUE_H
#define TCP_HANDOFF_GLUE_H

#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/skbuff.h>
#include <linux/seq_file.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <uapi/linux/tcp_handoff.h>

#include "tcp_handoff_trace.h"

/* Module-wide lifecycle, called from the Rust module's init and exit. */
int th_glue_register(void);
void th_glue_unregister(void);

/* Per-namespace state: one pointer slot in struct net's generic array. */
void *th_net_state(const struct net *net);
void th_net_set_state(struct net *net, void *state);
int th_net_register_hooks(struct net *net);
void th_net_tick_start(struct net *net);
void th_net_tick_stop(struct net *net);
u64 th_jiffies_ms(void);
/*
 * HMAC-SHA256 of the concatenation of @n parts (the kernel's crypto
 * library), and random bytes: the control channel's authentication.
 */
void th_hmac_sha256(const u8 *key, size_t key_len, const u8 *const *parts,
		    const size_t *lens, unsigned int n, u8 *out);
void th_random_bytes(void *buf, size_t len);
/* The namespace's inode number (as in /proc/PID/ns/net), for tracepoints. */
u32 th_net_inum(const struct net *net);

/*
 * The module's own slab caches (rust/btcp/slab.rs): created SLAB_NO_MERGE so
 * /proc/slabinfo shows them apart; objects are allocated GFP_ATOMIC, as the
 * tables are filled under BH-safe spinlocks.
 */
struct kmem_cache *th_cache_create(const char *name, unsigned int size,
				   unsigned int align);
void *th_cache_alloc(struct kmem_cache *cache);
void th_cache_free(struct kmem_cache *cache, void *obj);
void th_cache_destroy(struct kmem_cache *cache);

/* BH-safe spinlocks (the Rust lock backend in rust/sync.rs). */
void th_spin_lock_bh(void *lock);
void th_spin_unlock_bh(void *lock);
int th_spin_trylock_bh(void *lock);
void th_lockdep_assert_held(void *lock);

/* A listener's request socket, as the front-end reads it. */
enum {
	TH_SK_NONE = 0,
	TH_SK_REQUEST = 1,
	TH_SK_FULL = 2,
	TH_SK_TIME_WAIT = 3,
};

struct th_reqsk_info {
	u32 rcv_isn;
	u32 snt_isn;
	u32 ts_recent;
	u32 snt_tsval_last;
	u32 rcv_wnd;
	u16 mss;
	u8 snd_wscale;
	u8 rcv_wscale;
	u8 tstamp_ok;
	u8 sack_ok;
	u8 wscale_ok;
	u8 ecn_ok;
	u8 usec_ts;
	struct sock *listener;	/* valid under the caller's RCU section */
};

/*
 * Tuples: @family AF_INET (4-byte addresses) or AF_INET6 (16 bytes),
 * addresses and ports in network order.
 */
int th_lookup_reqsk(struct net *net, int family, const u8 *saddr,
		    __be16 sport, const u8 *daddr, __be16 dport, int dif,
		    struct th_reqsk_info *out);
int th_tuple_abort(struct net *net, int family, const u8 *saddr,
		   __be16 sport, const u8 *daddr, __be16 dport);
int th_tuple_release(struct net *net, int family, const u8 *saddr,
		     __be16 sport, const u8 *daddr, __be16 dport);
struct th_tcp_state {
	u32 rcv_nxt;
	u32 copied_seq;
	u32 snd_una;
	u32 snd_nxt;
	u32 write_seq;
	u32 write_seq_after;
	u32 tsval;
	u32 ts_recent;
	u32 snd_wnd;
	u8 established;
	u8 ooo;
	u8 usec_ts;
};

int th_tuple_tcp_state(struct net *net, int family, const u8 *saddr,
		       __be16 sport, const u8 *daddr, __be16 dport,
		       bool abort, struct th_tcp_state *out);
void th_net_unregister_hooks(struct net *net);
int th_net_proc_create(struct net *net);
void th_net_proc_remove(struct net *net);

/* Packets. */
const void *th_skb_header_pointer(const struct sk_buff *skb, int offset,
				  int len, void *buffer);
int th_skb_network_offset(const struct sk_buff *skb);
unsigned int th_skb_len(const struct sk_buff *skb);
int th_skb_iif(const struct sk_buff *skb);
int th_skb_copy_bits(const struct sk_buff *skb, int offset, void *to, int len);
bool th_skb_tcp_csum_bad(struct sk_buff *skb, int family, int thoff);
int th_skb_reinject(struct net *net, struct sk_buff *skb, int ifindex);
void th_kfree_skb_reason(struct sk_buff *skb, enum skb_drop_reason reason);
unsigned int th_nf_drop_reason(struct sk_buff *skb, enum skb_drop_reason reason);
struct net *th_hook_state_net(const struct nf_hook_state *state);

/* Generic netlink. */
struct net *th_genl_info_net(const struct genl_info *info);
const struct nlattr *th_genl_info_attr(const struct genl_info *info, int type);
void th_genl_set_missing(struct genl_info *info, int type);
void th_genl_set_err(struct genl_info *info, const char *msg,
		     const struct nlattr *attr);
struct sk_buff *th_genl_reply_new(const struct genl_info *info, void **hdr);
int th_genl_reply_send(struct sk_buff *skb, void *hdr, struct genl_info *info);
void th_genl_msg_free(struct sk_buff *skb);
bool th_genl_event_wanted(struct net *net);
struct sk_buff *th_genl_event_new(void **hdr);
void th_genl_event_send(struct net *net, struct sk_buff *skb, void *hdr);
struct net *th_genl_dump_net(const struct netlink_callback *cb);
long *th_genl_dump_cursor(struct netlink_callback *cb);
void *th_genl_dump_put(struct sk_buff *skb, struct netlink_callback *cb);
void th_genl_msg_end(struct sk_buff *skb, void *hdr);
void th_genl_msg_cancel(struct sk_buff *skb, void *hdr);
int th_nla_len(const struct nlattr *nla);
const void *th_nla_data(const struct nlattr *nla);

/* The namespace's control-plane worker. */
void th_net_kick(struct net *net);

/* Packet rewriting, forwarding and replay. */
#define TH_INJECT_MARK 0x7c4a11d0
u8 *th_skb_writable(struct sk_buff *skb, unsigned int len, bool *partial);
int th_fe_xmit(struct net *net, struct sk_buff *skb, int family,
	       const u8 *daddr);
int th_send_raw(struct net *net, int family, const void *pkt,
		unsigned int len);
int th_fe_send_built(struct net *net, int family, const void *pkt,
		     unsigned int len, const u8 *daddr);
int th_inject(struct net *net, int family, const void *pkt, unsigned int len,
	      const u8 *via);
bool th_skb_take_inject_mark(struct sk_buff *skb);
int th_route_saddr(struct net *net, int family, const u8 *daddr, u8 *saddr);
bool th_has_listener(struct net *net, int family, const u8 *daddr,
		     __be16 dport);
bool th_module_get(void);

/* UTCP: the listener shim (rust/utcp/). */
enum {
	TH_UTCP_ALREADY = 0,
	TH_UTCP_ATTACHED = 1,
	TH_UTCP_UNSUPPORTED = 2,
};
int th_utcp_attach(struct sock *sk);
void th_utcp_detach(struct sock *sk);
bool th_utcp_listening(const struct sock *sk, int *family, u8 *addr,
		       __be16 *port);
void th_module_put(void);

/*
 * Control-channel sockets, IPv4 (@family AF_INET, 4-byte addresses) or
 * IPv6 (AF_INET6, 16 bytes), addresses in network order.
 */
struct socket;
int th_sock_listen(struct net *net, int family, const u8 *addr, __be16 port,
		   struct socket **out);
int th_sock_bound(struct net *net, int family, const u8 *laddr,
		  struct socket **out);
int th_sock_connect(struct socket *sock, const u8 *addr, __be16 port);
int th_sock_accept(struct net *net, struct socket *listener,
		   struct socket **out, u8 *peer);
int th_sock_state(struct socket *sock);
int th_sock_recv(struct socket *sock, void *buf, unsigned int len);
int th_sock_send(struct socket *sock, const void *buf, unsigned int len);
void th_sock_release(struct socket *sock);
/*
 * TCP-AO (RFC 5925) keys of a channel socket, for any peer address:
 * HMAC-SHA256, SendID = RecvID = @id. Keys go on a connecting socket
 * before it connects, and on a listener (which has no current key); a
 * connection's current key is set apart, or, when a key is deleted, with
 * the deletion (@new_current, 0 for none: a listener).
 */
int th_sock_ao_add(struct socket *sock, u8 id, const u8 *key, u8 len);
int th_sock_ao_del(struct socket *sock, u8 id, u8 new_current);
int th_sock_ao_set_current(struct socket *sock, u8 id);

/* Implemented in Rust. */
void th_rs_work(struct net *net);
void th_rs_net_pre_exit(struct net *net);
int th_rs_net_init(struct net *net);
void th_rs_net_exit(struct net *net);
void th_rs_tick(struct net *net);
bool th_rs_utcp_veto(struct net *net, int family, const u8 *saddr,
		     __be16 sport, const u8 *daddr, __be16 dport);
int th_rs_proc_show(struct seq_file *m, struct net *net);
unsigned int th_rs_hook_in(struct sk_buff *skb, const struct nf_hook_state *state);
unsigned int th_rs_max_nodes(void);
unsigned int th_rs_max_services(void);
unsigned int th_rs_hook_out(struct sk_buff *skb, const struct nf_hook_state *state);
unsigned int th_rs_hook_in6(struct sk_buff *skb, const struct nf_hook_state *state);
unsigned int th_rs_hook_out6(struct sk_buff *skb, const struct nf_hook_state *state);

#endif /* TCP_HANDOFF_GLUE_H */
