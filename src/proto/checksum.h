#pragma once
// The 16-bit ones'-complement Internet checksum (RFC 1071), as the BSD in_cksum computes it.

#include <cstdint>
#include <span>

#include "proto/address.h"

namespace carp::proto {

// The checksum of `data`, as a host-order value to be stored big-endian. An odd trailing byte
// is padded with a zero byte on the right. Summing data that already holds a correct checksum
// yields 0, which is how receivers verify. CARP sums exactly its 36 header bytes with no
// pseudo-header (OpenBSD ip_carp.c carp_send_ad; FreeBSD carp_send_ad_locked).
std::uint16_t internetChecksum(std::span<const std::uint8_t> data) noexcept;

// The checksum of an IPv6 upper-layer packet (ICMPv6, ...) over the RFC 8200 §8.1
// pseudo-header (source, destination, 32-bit upper-layer length, 3 zero bytes, next header)
// followed by `payload`. Both addresses must be IPv6; their 16 bytes are used as they are.
std::uint16_t ipv6PseudoHeaderChecksum(const IpAddress& source, const IpAddress& destination,
                                       std::uint8_t next_header,
                                       std::span<const std::uint8_t> payload) noexcept;

}  // namespace carp::proto
