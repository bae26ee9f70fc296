#pragma once
// The per-packet half of CARP load balancing (carp-wire.md §5.1): the engine decides which
// nodes this host is MASTER of; the LoadBalancer makes the host accept exactly the flows
// that hash to those nodes, and answer ARP for the shared addresses when it leads.

#include <cstdint>
#include <span>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "proto/address.h"
#include "proto/load_balance.h"
#include "proto/types.h"

namespace carp::os {

// Everything the filter of one balancing group needs, as of now.
struct BalancingState {
  int ifindex = 0;
  std::string interface;
  std::vector<proto::IpAddress> addresses;  // IPv4, shared by every node
  proto::Balancing mode = proto::Balancing::kIp;
  std::uint32_t node_count = 0;  // 2..32
  // Bit i set: this host is MASTER of the i-th node in ascending vhid order.
  std::uint32_t lsmask = 0;
  // This host is MASTER of the lowest-vhid node: it alone answers ARP for the addresses
  // (OpenBSD carp_iamatch).
  bool leader = false;
  proto::BalancingMacs macs;
  // The filter accepts nothing for these addresses after this moment (monotonic clock): a
  // carpd that dies (kill -9) stops taking its share of the flows when its peers take over,
  // though its filter stays until the next carpd removes it.
  proto::TimePoint valid_until{};
};

class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;
  // Removes what an earlier carpd (killed, never stopped) left on the host's interfaces.
  virtual void removeStale() noexcept = 0;
  // Installs or refreshes the filter for these addresses on that interface.
  virtual tl::expected<void, std::string> update(const BalancingState& state) = 0;
  // Stops filtering these addresses; the interface's filter goes with its last address.
  virtual void remove(int ifindex, std::span<const proto::IpAddress> addresses) noexcept = 0;
};

}  // namespace carp::os
