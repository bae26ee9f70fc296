#pragma once
// What the daemon needs to know about a network interface.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/address.h"
#include "proto/types.h"

namespace carp::os {

struct InterfaceInfo {
  int ifindex = 0;
  std::string name;
  proto::MacAddress mac{};
  bool running = false;  // IFF_UP and carrier (IFF_RUNNING / operstate up)
  // Addresses configured on the interface, in kernel order; the first IPv4 address and the
  // first IPv6 link-local are the advertisement sources (OpenBSD carp_send_ad).
  std::vector<proto::IpAddress> ipv4;
  std::vector<proto::IpAddress> ipv6;
};

class InterfaceDirectory {
 public:
  virtual ~InterfaceDirectory() = default;
  virtual std::optional<InterfaceInfo> find(std::string_view name) = 0;
  virtual std::optional<InterfaceInfo> find(int ifindex) = 0;
};

}  // namespace carp::os
