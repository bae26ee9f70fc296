#include "proto/validate.h"

#include "proto/checksum.h"

namespace carp::proto {
namespace {

constexpr std::uint8_t kRequiredTtl = 255;

}  // namespace

// Why this order. The two kernels disagree (carp-wire.md §3.1, §3.2); the counters a peer
// sees differ only for packets that fail several checks at once:
// - Length, then version, then full length: FreeBSD ip_carp.c carp_input pulls up the 8 bytes
//   common to CARP and VRRPv3, dispatches on the version nibble, then requires 36 bytes.
//   OpenBSD checks the version only after the vhid lookup; testing it early means a VRRPv3
//   packet (version 3, 8+ bytes) counts as badver rather than badlen/badsum, which is the
//   more useful diagnosis on a segment shared with FreeBSD VRRP.
// - Checksum over exactly 36 bytes: OpenBSD carp_proto_input_if (FreeBSD IPv4 sums to ip_len,
//   but a conforming sender never appends bytes, so accepting trailing bytes is harmless).
// - VHID before TTL: FreeBSD carp_input_c skips the TTL check for VHIDs whose configured
//   destination is unicast, which can only be known once the VHID is found. OpenBSD checks
//   TTL first and always; for multicast VHIDs the outcome is the same packet dropped.
// - HMAC, then our own counter: OpenBSD carp_proto_input_c verifies the digest and only then
//   compares the counter with its replay cookie ("replay or network loop detected"), so a
//   forged packet with our counter counts as badauth.
tl::expected<ValidAdvert, DropReason> validateAdvert(std::span<const std::uint8_t> ip_payload,
                                                     std::uint8_t ttl,
                                                     const VhidDirectory& directory) noexcept {
  auto header = decodeHeader(ip_payload);  // steps 1-3
  if (!header) return tl::unexpected(header.error());

  if (internetChecksum(ip_payload.first(kCarpHeaderSize)) != 0) {
    return tl::unexpected(DropReason::kBadChecksum);
  }

  const VhidCredentials* credentials = directory.find(header->vhid);
  if (credentials == nullptr) return tl::unexpected(DropReason::kUnknownVhid);

  if (ttl != kRequiredTtl && !credentials->unicast) return tl::unexpected(DropReason::kBadTtl);

  if (credentials->signer == nullptr ||
      !credentials->signer->verify(header->counter, header->digest)) {
    return tl::unexpected(DropReason::kBadAuth);
  }

  // The counter is not secret; a plain comparison is fine.
  if (header->counter == credentials->own_counter) {
    return tl::unexpected(DropReason::kOwnCounter);
  }

  return ValidAdvert{*header};
}

}  // namespace carp::proto
