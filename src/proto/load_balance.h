#pragma once
// OpenBSD CARP load balancing (carp-wire.md §5.1): one set of addresses served by several
// VHIDs ("carpnodes"), each an independent CARP instance; a host accepts a packet for the
// shared addresses only when the node its flow hashes to is MASTER here. Pure functions: the
// per-packet filter itself runs in the kernel (os/linux/bpf/carp_lb.bpf.c) and must compute
// exactly nodeIndex() below.

#include <cstdint>
#include <span>
#include <string_view>

#include "proto/address.h"
#include "proto/types.h"

namespace carp::proto {

// OpenBSD CARP_MAXNODES: lsmask is a 32-bit word.
inline constexpr std::size_t kMaxBalancingNodes = 32;

// OpenBSD CARP_BAL_MODES "none", "ip", "ip-stealth", "ip-unicast".
enum class Balancing : std::uint8_t { kNone, kIp, kIpStealth, kIpUnicast };

std::string_view toString(Balancing mode) noexcept;

// OpenBSD carp_lsdrop, IPv4: fold = src XOR dst as stored (network order), index =
// ntohl(fold) mod `node_count`. `src` and `dst` are IPv4; `node_count` is 1..32.
std::uint32_t nodeIndex(const IpAddress& src, const IpAddress& dst,
                        std::uint32_t node_count) noexcept;

// Whether a host whose MASTER nodes are `lsmask` (bit i = the i-th node in ascending vhid
// order, OpenBSD carp_update_lsmask) accepts a packet from `src` to `dst`.
bool accepts(std::uint32_t lsmask, std::uint32_t node_count, const IpAddress& src,
             const IpAddress& dst) noexcept;

// The node order of OpenBSD (carp_vhids_ioctl sorts the vhes by vhid): the position of `vhid`
// in `vhids` sorted ascending, or -1 when absent.
int nodePosition(std::span<const Vhid> vhids, Vhid vhid) noexcept;

// The lowest vhid: the leader, whose MAC is the carp interface's and whose MASTER answers ARP
// (OpenBSD carp_iamatch).
Vhid leaderOf(std::span<const Vhid> vhids) noexcept;

// The MACs of one balancing group (carp-wire.md §5.1 table, §8, ambiguity A2).
struct BalancingMacs {
  // The carp interface lladdr: what ARP replies and gratuitous ARP carry as sender hardware
  // address, so what clients send to. 01:00:5e:00:01:<leader> in ip mode (a multicast MAC, so
  // switches flood), 00:00:5e:00:01:<leader> otherwise.
  MacAddress lladdr{};
  // The Ethernet source of the ARP replies and gratuitous ARP that announce `lladdr`: the
  // parent's own MAC in ip (a multicast MAC is no valid source) and ip-stealth (the virtual
  // MAC is never a source, so switches never learn it and keep flooding); `lladdr` in
  // ip-unicast (meant for hubs and mirrored ports).
  MacAddress frame_source{};
};

BalancingMacs balancingMacs(Balancing mode, Vhid leader, MacAddress parent_mac) noexcept;

}  // namespace carp::proto
