#pragma once
// IP addresses as the protocol sees them: network-order bytes. Parsing and formatting text
// belong to the edges (config, daemon), which have the C library; the core only compares,
// sorts and hashes bytes.

#include <array>
#include <compare>
#include <cstdint>
#include <vector>

#include "proto/types.h"

namespace carp::proto {

struct IpAddress {
  Family family = Family::kIPv4;
  // IPv4 uses bytes[0..3]; the rest stays zero so that comparison and hashing are uniform.
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress v4(std::array<std::uint8_t, 4> b) {
    IpAddress a;
    a.family = Family::kIPv4;
    for (int i = 0; i < 4; ++i) a.bytes[i] = b[i];
    return a;
  }
  static IpAddress v6(std::array<std::uint8_t, 16> b) {
    IpAddress a;
    a.family = Family::kIPv6;
    a.bytes = b;
    return a;
  }
  // fe80::/10, whose scope bytes the BSD kernels zero before hashing (carp-wire.md §2.4).
  bool isIpv6LinkLocal() const {
    return family == Family::kIPv6 && bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80;
  }
  // Orders all IPv4 before all IPv6, then by bytes: for IPv4 that equals host-order unsigned
  // comparison, for IPv6 memcmp, which is the order the BSD HMAC hashes them in (§2.3).
  auto operator<=>(const IpAddress&) const = default;
};

// A virtual address with its prefix length, as configured (the prefix never enters the HMAC).
struct InterfaceAddress {
  IpAddress address;
  std::uint8_t prefix_length = 0;
  auto operator<=>(const InterfaceAddress&) const = default;
};

}  // namespace carp::proto
