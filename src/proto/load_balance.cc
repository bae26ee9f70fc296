#include "proto/load_balance.h"

#include <algorithm>

namespace carp::proto {

std::string_view toString(Balancing mode) noexcept {
  switch (mode) {
    case Balancing::kNone:
      return "none";
    case Balancing::kIp:
      return "ip";
    case Balancing::kIpStealth:
      return "ip-stealth";
    case Balancing::kIpUnicast:
      return "ip-unicast";
  }
  return "?";
}

std::uint32_t nodeIndex(const IpAddress& src, const IpAddress& dst,
                        std::uint32_t node_count) noexcept {
  if (node_count == 0) return 0;
  // XOR of the stored bytes, then read big-endian: ntohl(src ^ dst).
  std::uint32_t fold = 0;
  for (int i = 0; i < 4; ++i) {
    fold = (fold << 8) | static_cast<std::uint8_t>(src.bytes[i] ^ dst.bytes[i]);
  }
  return fold % node_count;
}

bool accepts(std::uint32_t lsmask, std::uint32_t node_count, const IpAddress& src,
             const IpAddress& dst) noexcept {
  if (node_count == 0 || node_count > kMaxBalancingNodes) return false;
  return ((lsmask >> nodeIndex(src, dst, node_count)) & 1U) != 0;
}

int nodePosition(std::span<const Vhid> vhids, Vhid vhid) noexcept {
  if (std::find(vhids.begin(), vhids.end(), vhid) == vhids.end()) return -1;
  return static_cast<int>(
      std::count_if(vhids.begin(), vhids.end(), [&](Vhid v) { return v.value() < vhid.value(); }));
}

Vhid leaderOf(std::span<const Vhid> vhids) noexcept {
  return *std::min_element(vhids.begin(), vhids.end(),
                           [](Vhid a, Vhid b) { return a.value() < b.value(); });
}

BalancingMacs balancingMacs(Balancing mode, Vhid leader, MacAddress parent_mac) noexcept {
  BalancingMacs macs;
  macs.lladdr = virtualMac(leader);
  // OpenBSD carp_set_vhe_enaddr: the group bit in ip mode.
  if (mode == Balancing::kIp) macs.lladdr[0] = 0x01;
  macs.frame_source = mode == Balancing::kIpUnicast ? macs.lladdr : parent_mac;
  return macs;
}

}  // namespace carp::proto
