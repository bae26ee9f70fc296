// Fuzz target for decodeArpFrame (carpctl doctor reads probe answers with it) and the
// round trip with buildGratuitousArp (src/proto/frames.h). Properties: a decoded frame is at
// least 42 bytes, ARP for IPv4 over Ethernet, and every field is the bytes at its offset;
// a gratuitous ARP built from the input's first bytes decodes to the fields it was built
// from (request, broadcast, sender = target = the address, target MAC zero).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "proto/frames.h"

namespace {

using carp::proto::IpAddress;
using carp::proto::MacAddress;

// An invariant broken: crash loudly, in the fuzzer and in the replay test alike.
#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

constexpr std::size_t kFrameSize = 42;  // Ethernet 14 + ARP 28

template <std::size_t N>
std::array<std::uint8_t, N> at(std::span<const std::uint8_t> bytes, std::size_t offset) {
  std::array<std::uint8_t, N> out{};
  std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(offset), N, out.begin());
  return out;
}

void checkDecode(std::span<const std::uint8_t> frame) {
  const auto m = carp::proto::decodeArpFrame(frame);
  if (!m) return;
  FUZZ_CHECK(frame.size() >= kFrameSize);
  FUZZ_CHECK(frame[12] == 0x08 && frame[13] == 0x06);  // EtherType ARP
  FUZZ_CHECK(frame[14] == 0 && frame[15] == 1);        // hardware: Ethernet
  FUZZ_CHECK(frame[16] == 0x08 && frame[17] == 0x00);  // protocol: IPv4
  FUZZ_CHECK(frame[18] == 6 && frame[19] == 4);
  FUZZ_CHECK(m->operation == (frame[20] << 8 | frame[21]));
  FUZZ_CHECK(m->destination == at<6>(frame, 0));
  FUZZ_CHECK(m->sender_mac == at<6>(frame, 22));
  FUZZ_CHECK(m->sender_ip == IpAddress::v4(at<4>(frame, 28)));
  FUZZ_CHECK(m->target_mac == at<6>(frame, 32));
  FUZZ_CHECK(m->target_ip == IpAddress::v4(at<4>(frame, 38)));
}

// Input bytes 0..5 the source MAC, 6..9 the address, 10..15 the optional sender MAC (used
// when byte 16 is odd).
void checkRoundTrip(std::span<const std::uint8_t> input) {
  if (input.size() < 17) return;
  const MacAddress src = at<6>(input, 0);
  const IpAddress address = IpAddress::v4(at<4>(input, 6));
  std::optional<MacAddress> sender;
  if (input[16] & 1) sender = at<6>(input, 10);
  const auto frame = carp::proto::buildGratuitousArp(src, address, sender);
  FUZZ_CHECK(frame.size() == kFrameSize);
  FUZZ_CHECK(at<6>(frame, 6) == src);  // Ethernet source is always src_mac
  const auto m = carp::proto::decodeArpFrame(frame);
  FUZZ_CHECK(m.has_value());
  FUZZ_CHECK(m->operation == 1);
  FUZZ_CHECK(m->destination == (MacAddress{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  FUZZ_CHECK(m->sender_mac == sender.value_or(src));
  FUZZ_CHECK(m->sender_ip == address);
  FUZZ_CHECK(m->target_mac == MacAddress{});
  FUZZ_CHECK(m->target_ip == address);
  // An IPv6 address is refused, not built.
  IpAddress v6 = address;
  v6.family = carp::proto::Family::kIPv6;
  FUZZ_CHECK(carp::proto::buildGratuitousArp(src, v6, sender).empty());
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the libFuzzer entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  checkDecode(input);
  checkRoundTrip(input);
  return 0;
}
