#include "proto/checksum.h"

#include <array>

namespace carp::proto {
namespace {

// Adds `data` as big-endian 16-bit words to `sum`. 64 bits cannot overflow for any buffer
// that fits in memory, so the carries are folded once at the end.
std::uint64_t addWords(std::uint64_t sum, std::span<const std::uint8_t> data) noexcept {
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) {
    sum += static_cast<std::uint64_t>(data[i]) << 8 | data[i + 1];
  }
  if (i < data.size()) sum += static_cast<std::uint64_t>(data[i]) << 8;
  return sum;
}

std::uint16_t fold(std::uint64_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

}  // namespace

std::uint16_t internetChecksum(std::span<const std::uint8_t> data) noexcept {
  return fold(addWords(0, data));
}

std::uint16_t ipv6PseudoHeaderChecksum(const IpAddress& source, const IpAddress& destination,
                                       std::uint8_t next_header,
                                       std::span<const std::uint8_t> payload) noexcept {
  const auto length = static_cast<std::uint32_t>(payload.size());
  const std::array<std::uint8_t, 8> tail = {static_cast<std::uint8_t>(length >> 24),
                                            static_cast<std::uint8_t>(length >> 16),
                                            static_cast<std::uint8_t>(length >> 8),
                                            static_cast<std::uint8_t>(length),
                                            0,
                                            0,
                                            0,
                                            next_header};
  std::uint64_t sum = addWords(0, source.bytes);
  sum = addWords(sum, destination.bytes);
  sum = addWords(sum, tail);
  return fold(addWords(sum, payload));
}

}  // namespace carp::proto
