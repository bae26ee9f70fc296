#pragma once
// VRRP advertisements (IP protocol 112, like CARP): only decoded, to tell the user that a VRRP
// router shares the segment and the number of a VHID. VRRPv2 (RFC 3768) and CARP both carry
// version 2 in the first nibble; a CARP header has authlen 7 where VRRPv2 has an auth type of
// 0..2, and VRRPv2 is 16 + 4n bytes long, so the two cannot be confused. VRRPv3 (RFC 9568,
// FreeBSD 15 carp(4) with carpver 3, keepalived's vrrp_version 3) has version 3.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "proto/address.h"

namespace carp::proto {

struct VrrpAdvert {
  std::uint8_t version = 0;  // 2 or 3
  std::uint8_t vrid = 0;     // the router number; the same MAC 00:00:5e:00:01:VRID as a VHID
  std::uint8_t priority = 0;
  // VRRPv2: seconds; VRRPv3: centiseconds (its 12-bit max adver int).
  std::uint16_t interval = 0;
  std::vector<IpAddress> addresses;  // the virtual addresses it lists
  bool operator==(const VrrpAdvert&) const = default;
};

// Decodes `ip_payload` received over `family` as a VRRP advertisement, or nullopt when it is
// not one: wrong version or type, a length that does not fit the address count, a VRRPv2 auth
// type above 2, or (VRRPv2) a checksum over the whole message that is not 0. The VRRPv3
// checksum needs the pseudo-header and is not verified: this is for diagnostics only.
std::optional<VrrpAdvert> decodeVrrp(std::span<const std::uint8_t> ip_payload,
                                     Family family) noexcept;

}  // namespace carp::proto
