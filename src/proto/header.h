#pragma once
// The 36-byte CARP advertisement header (carp-wire.md §1.1; OpenBSD and FreeBSD ip_carp.h
// struct carp_header). Encoded and decoded field by field, never through a packed struct.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <tl/expected.hpp>

#include "proto/drop_reason.h"

namespace carp::proto {

inline constexpr std::size_t kCarpHeaderSize = 36;
inline constexpr std::uint8_t kCarpVersion = 2;        // CARP_VERSION_CARP
inline constexpr std::uint8_t kCarpAdvertisement = 1;  // CARP_ADVERTISEMENT
inline constexpr std::uint8_t kCarpAuthLength = 7;     // 32-bit words: counter 2 + md 5
inline constexpr std::uint8_t kCarpIpProtocol = 112;   // IPPROTO_CARP

using CarpCounter = std::array<std::uint8_t, 8>;
using CarpDigest = std::array<std::uint8_t, 20>;

struct CarpHeader {
  std::uint8_t version = kCarpVersion;     // 4 bits on the wire (high nibble of byte 0)
  std::uint8_t type = kCarpAdvertisement;  // 4 bits on the wire (low nibble of byte 0)
  std::uint8_t vhid = 0;
  std::uint8_t advskew = 0;  // 1/256 s; 255 in an OpenBSD bow-out
  std::uint8_t authlen = kCarpAuthLength;
  std::uint8_t demote = 0;     // OpenBSD demote count; FreeBSD sends 0 and ignores it
  std::uint8_t advbase = 0;    // seconds; 255 in an OpenBSD bow-out
  std::uint16_t checksum = 0;  // host order; filled by decodeHeader, ignored by encodeHeader
  CarpCounter counter{};       // opaque: OpenBSD cookie or FreeBSD big-endian counter
  CarpDigest digest{};         // HMAC-SHA1, see hmac.h

  bool operator==(const CarpHeader&) const = default;
};

// Serialises `h`. The checksum is computed last over exactly the 36 bytes, with no
// pseudo-header, and stored in bytes 6-7; h.checksum is ignored (OpenBSD ip_carp.c
// carp_send_ad, FreeBSD carp_send_ad_locked). version and type are masked to 4 bits.
std::array<std::uint8_t, kCarpHeaderSize> encodeHeader(const CarpHeader& h) noexcept;

// Structural decode of an IP payload: kBadLength if shorter than 8 bytes, kBadVersion if the
// version nibble is not 2, kBadLength if shorter than 36 bytes (FreeBSD carp_input's order,
// see validate.h). The checksum is read but not verified; bytes after the 36th are ignored.
tl::expected<CarpHeader, DropReason> decodeHeader(std::span<const std::uint8_t> payload) noexcept;

}  // namespace carp::proto
