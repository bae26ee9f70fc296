// Fuzz target for the receive path: decodeHeader and validateAdvert on untrusted bytes.
// Built as a libFuzzer binary with CARPD_FUZZ=ON (clang), and always as a replay test over
// corpus/decode (replay_main.cc). Input layout: byte 0 is the TTL, the rest the IP payload;
// the whole input is also tried as a payload with TTL 255.

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "proto/checksum.h"
#include "proto/header.h"
#include "proto/hmac.h"
#include "proto/validate.h"

namespace {

using carp::proto::CarpCounter;
using carp::proto::HmacSigner;
using carp::proto::IpAddress;
using carp::proto::SecretKey;
using carp::proto::Vhid;
using carp::proto::VhidCredentials;

// An invariant broken: crash loudly, in the fuzzer and in the replay test alike.
#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

HmacSigner makeSigner(const char* passphrase, int vhid, std::vector<IpAddress> addresses) {
  return HmacSigner::make(SecretKey::fromPassphrase(passphrase), Vhid::make(vhid).value(),
                          addresses)
      .value();
}

// The VHIDs of carp-wire.md §2.8: 1 (TV1, accepted), 3 (TV3, unicast: any TTL) and 7 (TV2,
// with TV2's counter as our own, so TV2 is dropped as a loop).
class FixedDirectory : public carp::proto::VhidDirectory {
 public:
  FixedDirectory()
      : tv1_(makeSigner("secret", 1, {IpAddress::v4({192, 168, 1, 1})})),
        tv3_(
            makeSigner("carp6", 3,
                       {IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
                        IpAddress::v6({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})})),
        tv2_(makeSigner("mekmitasdigoat", 7,
                        {IpAddress::v4({10, 0, 0, 20}), IpAddress::v4({10, 0, 0, 3})})) {
    entries_[1] =
        VhidCredentials{&tv1_, CarpCounter{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8}, false};
    entries_[3] = VhidCredentials{&tv3_, CarpCounter{}, true};
    entries_[7] = VhidCredentials{&tv2_, CarpCounter{0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef}, false};
  }
  const VhidCredentials* find(std::uint8_t vhid) const noexcept override {
    const auto it = entries_.find(vhid);
    return it == entries_.end() ? nullptr : &it->second;
  }

 private:
  HmacSigner tv1_;
  HmacSigner tv3_;
  HmacSigner tv2_;
  std::map<std::uint8_t, VhidCredentials> entries_;
};

void checkOne(std::span<const std::uint8_t> payload, std::uint8_t ttl,
              const FixedDirectory& directory) {
  const auto decoded = carp::proto::decodeHeader(payload);
  if (decoded) {
    FUZZ_CHECK(payload.size() >= carp::proto::kCarpHeaderSize);
    FUZZ_CHECK(decoded->version == carp::proto::kCarpVersion);
    // Re-encoding reproduces the bytes whenever the received checksum was right, except that
    // a field of ffff and one of 0000 both verify when the other words sum to ffff (ones'
    // complement has two zeros); encodeHeader writes 0000 then, as in_cksum does.
    const auto head = payload.first(carp::proto::kCarpHeaderSize);
    const auto again = carp::proto::encodeHeader(*decoded);
    if (carp::proto::internetChecksum(head) == 0) {
      for (std::size_t i = 0; i < again.size(); ++i) {
        FUZZ_CHECK(i == 6 || i == 7 || again[i] == head[i]);
      }
      const unsigned sent = decoded->checksum;
      const unsigned made = static_cast<unsigned>(again[6] << 8 | again[7]);
      FUZZ_CHECK(sent == made || (sent == 0xffff && made == 0));
    }
  }
  const auto valid = carp::proto::validateAdvert(payload, ttl, directory);
  if (valid) {
    FUZZ_CHECK(decoded.has_value() && valid->header == *decoded);
    FUZZ_CHECK(carp::proto::internetChecksum(payload.first(carp::proto::kCarpHeaderSize)) == 0);
    const VhidCredentials* credentials = directory.find(valid->header.vhid);
    FUZZ_CHECK(credentials != nullptr);
    FUZZ_CHECK(ttl == 255 || credentials->unicast);
    FUZZ_CHECK(valid->header.counter != credentials->own_counter);
  } else if (decoded) {
    FUZZ_CHECK(valid.error() != carp::proto::DropReason::kBadLength);
    FUZZ_CHECK(valid.error() != carp::proto::DropReason::kBadVersion);
  } else {
    FUZZ_CHECK(valid.error() == decoded.error());
  }
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the libFuzzer entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const FixedDirectory directory;
  const std::span<const std::uint8_t> input(data, size);
  checkOne(input, 255, directory);
  if (!input.empty()) checkOne(input.subspan(1), input[0], directory);
  return 0;
}
