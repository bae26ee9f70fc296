#include "proto/header.h"

#include "proto/byte_reader.h"
#include "proto/checksum.h"

namespace carp::proto {
namespace {

// FreeBSD carp_input first pulls up the 8 bytes every CARP and VRRPv3 header shares, then
// dispatches on the version nibble, then requires the full CARP header.
constexpr std::size_t kCommonHeaderSize = 8;

}  // namespace

const char* toString(DropReason reason) noexcept {
  switch (reason) {
    case DropReason::kBadLength:
      return "badlen";
    case DropReason::kBadVersion:
      return "badver";
    case DropReason::kBadChecksum:
      return "badsum";
    case DropReason::kUnknownVhid:
      return "badvhid";
    case DropReason::kBadTtl:
      return "badttl";
    case DropReason::kBadAuth:
      return "badauth";
    case DropReason::kOwnCounter:
      return "loop";
  }
  return "?";
}

std::array<std::uint8_t, kCarpHeaderSize> encodeHeader(const CarpHeader& h) noexcept {
  std::array<std::uint8_t, kCarpHeaderSize> out{};
  out[0] = static_cast<std::uint8_t>((h.version & 0x0f) << 4 | (h.type & 0x0f));
  out[1] = h.vhid;
  out[2] = h.advskew;
  out[3] = h.authlen;
  out[4] = h.demote;
  out[5] = h.advbase;
  // out[6..7] stay zero while summing.
  for (std::size_t i = 0; i < h.counter.size(); ++i) out[8 + i] = h.counter[i];
  for (std::size_t i = 0; i < h.digest.size(); ++i) out[16 + i] = h.digest[i];
  const std::uint16_t sum = internetChecksum(out);
  out[6] = static_cast<std::uint8_t>(sum >> 8);
  out[7] = static_cast<std::uint8_t>(sum & 0xff);
  return out;
}

tl::expected<CarpHeader, DropReason> decodeHeader(std::span<const std::uint8_t> payload) noexcept {
  if (payload.size() < kCommonHeaderSize) return tl::unexpected(DropReason::kBadLength);
  if ((payload[0] >> 4) != kCarpVersion) return tl::unexpected(DropReason::kBadVersion);
  if (payload.size() < kCarpHeaderSize) return tl::unexpected(DropReason::kBadLength);

  ByteReader reader(payload.first(kCarpHeaderSize));
  CarpHeader h;
  // The length was checked above, so every read below succeeds; the reader still guarantees
  // that no byte beyond the span is touched.
  const std::uint8_t version_type = reader.u8().value_or(0);
  h.version = static_cast<std::uint8_t>(version_type >> 4);
  h.type = static_cast<std::uint8_t>(version_type & 0x0f);
  h.vhid = reader.u8().value_or(0);
  h.advskew = reader.u8().value_or(0);
  h.authlen = reader.u8().value_or(0);
  h.demote = reader.u8().value_or(0);
  h.advbase = reader.u8().value_or(0);
  h.checksum = reader.u16().value_or(0);
  h.counter = reader.bytes<8>().value_or(CarpCounter{});
  h.digest = reader.bytes<20>().value_or(CarpDigest{});
  return h;
}

}  // namespace carp::proto
