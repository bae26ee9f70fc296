/* The map shared by carp_lb.bpf.c and BpfLoadBalancer: one entry per (interface, shared
 * IPv4 address) of a balancing group. Plain C, included by both sides. */
#pragma once

#include <linux/types.h>

struct carp_lb_key {  // NOLINT(readability-identifier-naming): C, shared with BPF
  __u32 ifindex;
  __u32 address; /* network order, as in the IPv4 header */
};

struct carp_lb_value {  // NOLINT(readability-identifier-naming)
  __u32 lsmask;         /* bit i: this host is MASTER of the i-th node (ascending vhid) */
  __u32 node_count;     /* 1..32 */
  __u64 valid_until_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns); nothing is accepted after */
  __u8 leader;          /* answer ARP requests for the address */
  __u8 lladdr[6];       /* the ARP sender hardware address of the replies */
  __u8 frame_source[6]; /* their Ethernet source */
  __u8 pad[3];
};

#define CARP_LB_MAX_ENTRIES 1024
