// SPDX-License-Identifier: GPL-2.0
/* carpd load balancing on tc ingress (carp-wire.md §5.1): accept an IPv4 packet for a shared
 * address only when bit (ntohl(src ^ dst) % node_count) of this host's MASTER-node mask is set,
 * exactly OpenBSD's carp_lsdrop; hand accepted frames sent to the shared (multicast or foreign)
 * MAC to the stack as PACKET_HOST; answer ARP for the address only on the leader. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>

// After linux/bpf.h, whose types they use.
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "carp_lb_map.h"

/* Pinned nowhere: the map lives as long as the filter that uses it. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, CARP_LB_MAX_ENTRIES);
  __type(key, struct carp_lb_key);
  __type(value, struct carp_lb_value);
} carp_lb_groups SEC(".maps");

struct arp_ipv4 {
  __be16 htype;
  __be16 ptype;
  __u8 hlen;
  __u8 plen;
  __be16 op;
  __u8 sha[ETH_ALEN];
  __u8 spa[4];
  __u8 tha[ETH_ALEN];
  __u8 tpa[4];
} __attribute__((packed));

struct icmp_head {
  __u8 type;
  __u8 code;
  __be16 checksum;
  __be32 rest;
};

static __always_inline const struct carp_lb_value* find(__u32 ifindex, __u32 address) {
  struct carp_lb_key key = {.ifindex = ifindex, .address = address};
  return bpf_map_lookup_elem(&carp_lb_groups, &key);
}

static __always_inline int live(const struct carp_lb_value* v) {
  return bpf_ktime_get_ns() <= v->valid_until_ns;
}

/* OpenBSD carp_lsdrop: fold = src ^ dst as stored, index = ntohl(fold) % lscount. */
static __always_inline int accepted(const struct carp_lb_value* v, __be32 src, __be32 dst) {
  __u32 count = v->node_count;
  if (count == 0 || count > 32) return 0;
  __u32 index = bpf_ntohl(src ^ dst) % count;
  return (v->lsmask >> index) & 1;
}

static __always_inline int is_icmp_error(__u8 type) {
  /* unreachable, source quench, redirect, time exceeded, parameter problem */
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static __always_inline int on_ipv4(struct __sk_buff* skb, void* data, void* end) {
  struct iphdr* ip = data + sizeof(struct ethhdr);
  if ((void*)(ip + 1) > end) return TC_ACT_OK;
  const struct carp_lb_value* v = find(skb->ifindex, ip->daddr);
  if (!v) return TC_ACT_OK;
  if (!live(v)) return TC_ACT_SHOT;
  __be32 src = ip->saddr;
  if (ip->protocol == IPPROTO_ICMP && ip->ihl == 5) {
    /* OpenBSD icmp_input: an ICMP error belongs to the flow of the packet it quotes, hashed
     * as (quoted destination, our address). */
    struct icmp_head* icmp = (void*)(ip + 1);
    if ((void*)(icmp + 1) > end) return TC_ACT_OK;
    if (is_icmp_error(icmp->type)) {
      struct iphdr* quoted = (void*)(icmp + 1);
      if ((void*)(quoted + 1) > end) return TC_ACT_SHOT;
      src = quoted->daddr;
    }
  }
  if (!accepted(v, src, ip->daddr)) return TC_ACT_SHOT;
  if (skb->pkt_type != PACKET_HOST) bpf_skb_change_type(skb, PACKET_HOST);
  return TC_ACT_OK;
}

static __always_inline int on_arp(struct __sk_buff* skb, void* data, void* end) {
  struct ethhdr* eth = data;
  struct arp_ipv4* arp = (void*)(eth + 1);
  if ((void*)(arp + 1) > end) return TC_ACT_OK;
  if (arp->htype != bpf_htons(1) || arp->ptype != bpf_htons(ETH_P_IP) || arp->hlen != ETH_ALEN ||
      arp->plen != 4 || arp->op != bpf_htons(1))
    return TC_ACT_OK;
  __u32 target;
  __builtin_memcpy(&target, arp->tpa, 4);
  const struct carp_lb_value* v = find(skb->ifindex, target);
  if (!v) return TC_ACT_OK;
  __u32 sender;
  __builtin_memcpy(&sender, arp->spa, 4);
  /* A gratuitous ARP of a peer announcing the address is no question. */
  if (sender == target) return TC_ACT_SHOT;
  /* Only the leader answers, with the shared MAC; the kernel, which would answer with the
   * NIC's own MAC, never sees the request. */
  if (!v->leader || !live(v)) return TC_ACT_SHOT;
  __u8 asker_mac[ETH_ALEN];
  __builtin_memcpy(asker_mac, arp->sha, ETH_ALEN);
  arp->op = bpf_htons(2);
  __builtin_memcpy(arp->tha, asker_mac, ETH_ALEN);
  __builtin_memcpy(arp->tpa, &sender, 4);
  __builtin_memcpy(arp->sha, v->lladdr, ETH_ALEN);
  __builtin_memcpy(arp->spa, &target, 4);
  __builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, v->frame_source, ETH_ALEN);
  return bpf_redirect(skb->ifindex, 0);
}

SEC("tc")
int carp_lb_ingress(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > end) return TC_ACT_OK;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) return on_ipv4(skb, data, end);
  if (eth->h_proto == bpf_htons(ETH_P_ARP)) return on_arp(skb, data, end);
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
