// Fuzz target for decodeVrrp, which runs on every packet the receive path drops as not CARP
// (src/proto/vrrp.h). Both families are tried on every input. Properties: the decoded address
// count is the count byte, the message length is exactly what that count consumes, each
// address is the bytes at its offset (no read past the input, no byte skipped), the version
// and type came from the first byte, and VRRPv2 only over IPv4 with a good checksum.

#include <cstddef>
#include <cstdint>
#include <span>

#include "proto/checksum.h"
#include "proto/vrrp.h"

namespace {

using carp::proto::Family;

// An invariant broken: crash loudly, in the fuzzer and in the replay test alike.
#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

void checkOne(std::span<const std::uint8_t> payload, Family family) {
  const auto advert = carp::proto::decodeVrrp(payload, family);
  if (!advert) return;
  FUZZ_CHECK(payload.size() >= 8);
  FUZZ_CHECK((payload[0] & 0x0f) == 1);  // type: advertisement
  FUZZ_CHECK(advert->version == payload[0] >> 4);
  FUZZ_CHECK(advert->vrid == payload[1] && advert->vrid != 0);
  FUZZ_CHECK(advert->priority == payload[2]);
  const std::size_t count = payload[3];
  FUZZ_CHECK(advert->addresses.size() == count);
  std::size_t size = 4;
  std::size_t trailer = 0;
  if (advert->version == 2) {
    FUZZ_CHECK(family == Family::kIPv4);
    FUZZ_CHECK(payload[4] <= 2);  // auth type
    FUZZ_CHECK(advert->interval == payload[5]);
    FUZZ_CHECK(carp::proto::internetChecksum(payload) == 0);
    trailer = 8;  // authentication data
  } else {
    FUZZ_CHECK(advert->version == 3);
    FUZZ_CHECK(advert->interval == ((payload[4] & 0x0f) << 8 | payload[5]));
    FUZZ_CHECK(advert->interval <= 0x0fff);
    if (family == Family::kIPv6) size = 16;
  }
  FUZZ_CHECK(payload.size() == 8 + size * count + trailer);
  for (std::size_t i = 0; i < count; ++i) {
    const auto& address = advert->addresses[i];
    FUZZ_CHECK(address.family == family);
    for (std::size_t b = 0; b < 16; ++b) {
      FUZZ_CHECK(address.bytes[b] == (b < size ? payload[8 + size * i + b] : 0));
    }
  }
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the libFuzzer entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  checkOne(input, Family::kIPv4);
  checkOne(input, Family::kIPv6);
  return 0;
}
