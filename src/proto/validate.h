#pragma once
// Receive-side validation of a CARP advertisement: everything between "an IP packet with
// protocol 112 arrived" and "the state machine may look at it" (carp-wire.md §3).

#include <cstdint>
#include <span>
#include <tl/expected.hpp>

#include "proto/drop_reason.h"
#include "proto/header.h"
#include "proto/hmac.h"

namespace carp::proto {

// What validation needs to know about one local VHID.
struct VhidCredentials {
  const HmacSigner* signer = nullptr;  // must not be null; a null signer fails as kBadAuth
  CarpCounter own_counter{};           // the counter we send (OpenBSD replay cookie)
  bool unicast = false;                // configured with a unicast peer: TTL is not checked
};

// Looks up the local VHID an advertisement is addressed to. The daemon implements it over
// its VHIDs on the receiving interface (and, like OpenBSD for IPv4, may take the packet's
// destination's multicast-ness into account); tests use a map.
class VhidDirectory {
 public:
  virtual ~VhidDirectory() = default;
  // The credentials for `vhid`, or null if there is no such VHID. The pointer need only stay
  // valid for the duration of the validateAdvert call.
  virtual const VhidCredentials* find(std::uint8_t vhid) const noexcept = 0;
};

struct ValidAdvert {
  CarpHeader header;
};

// Validates `ip_payload` (the bytes after the IPv4 or IPv6 header) received with TTL or hop
// limit `ttl`. Checks, in this order, stopping at the first failure:
//   1. fewer than 8 bytes                       -> kBadLength
//   2. version nibble != 2                      -> kBadVersion
//   3. fewer than 36 bytes                      -> kBadLength
//   4. checksum over the first 36 bytes != 0    -> kBadChecksum (later bytes are ignored)
//   5. no such VHID in `directory`              -> kUnknownVhid
//   6. ttl != 255 and the VHID is not unicast   -> kBadTtl
//   7. HMAC matches neither variant             -> kBadAuth
//   8. counter equals our own counter           -> kOwnCounter
// The type nibble and authlen are never checked (neither kernel does).
tl::expected<ValidAdvert, DropReason> validateAdvert(std::span<const std::uint8_t> ip_payload,
                                                     std::uint8_t ttl,
                                                     const VhidDirectory& directory) noexcept;

}  // namespace carp::proto
