#include "proto/checksum.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "test_vectors.h"

namespace carp::proto {
namespace {

using tv::fromHex;

TEST(InternetChecksum, Rfc1071Example) {
  // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (with carries folded).
  const auto data = fromHex("0001f203f4f5f6f7");
  EXPECT_EQ(internetChecksum(data), static_cast<std::uint16_t>(~0xddf2));
}

TEST(InternetChecksum, EmptyIsAllOnes) { EXPECT_EQ(internetChecksum({}), 0xffff); }

TEST(InternetChecksum, OddLengthPadsWithZeroOnTheRight) {
  const std::array<std::uint8_t, 1> one = {0x01};
  EXPECT_EQ(internetChecksum(one), 0xfeff);
  const std::array<std::uint8_t, 3> three = {0x12, 0x34, 0x56};
  const std::array<std::uint8_t, 4> padded = {0x12, 0x34, 0x56, 0x00};
  EXPECT_EQ(internetChecksum(three), internetChecksum(padded));
}

TEST(InternetChecksum, CarriesAreFolded) {
  const std::vector<std::uint8_t> ones(1000, 0xff);
  EXPECT_EQ(internetChecksum(ones), 0x0000);
  const std::vector<std::uint8_t> data = fromHex("ffff0001");
  // ffff + 0001 = 1 0000 -> 0001 -> complement fffe.
  EXPECT_EQ(internetChecksum(data), 0xfffe);
}

TEST(InternetChecksum, CorrectHeaderSumsToZero) {
  for (const auto& v : tv::allVectors()) {
    EXPECT_EQ(internetChecksum(fromHex(v.header36)), 0) << v.name;
  }
}

TEST(InternetChecksum, Tv1IpHeaderSumsToZero) {
  const auto frame = fromHex(tv::kTv1FrameObsd);
  EXPECT_EQ(internetChecksum(std::span(frame).subspan(14, 20)), 0);
}

TEST(InternetChecksum, InsertedChecksumVerifiesForRandomData) {
  std::mt19937 rng(1071);
  for (int n = 2; n < 200; n += 2) {
    std::vector<std::uint8_t> data(static_cast<std::size_t>(n));
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    data[0] = 0;
    data[1] = 0;
    const std::uint16_t sum = internetChecksum(data);
    data[0] = static_cast<std::uint8_t>(sum >> 8);
    data[1] = static_cast<std::uint8_t>(sum);
    EXPECT_EQ(internetChecksum(data), 0) << n;
  }
}

TEST(Ipv6PseudoHeaderChecksum, EqualsPlainChecksumOverExplicitPseudoHeader) {
  const IpAddress src = tv::v6("20010db8000000000000000000000001");
  const IpAddress dst = tv::v6("ff020000000000000000000000000001");
  const auto payload =
      fromHex("8800000020000000 20010db8000000000000000000000001 0201aabbccddeeff");
  std::vector<std::uint8_t> all(src.bytes.begin(), src.bytes.end());
  all.insert(all.end(), dst.bytes.begin(), dst.bytes.end());
  all.insert(all.end(), {0, 0, 0, static_cast<std::uint8_t>(payload.size()), 0, 0, 0, 58});
  all.insert(all.end(), payload.begin(), payload.end());
  EXPECT_EQ(ipv6PseudoHeaderChecksum(src, dst, 58, payload), internetChecksum(all));
}

TEST(Ipv6PseudoHeaderChecksum, OddPayload) {
  const IpAddress src = tv::v6("fe800000000000000000000000000001");
  const IpAddress dst = tv::v6("fe800000000000000000000000000002");
  const auto payload = fromHex("0102030405");
  std::vector<std::uint8_t> all(src.bytes.begin(), src.bytes.end());
  all.insert(all.end(), dst.bytes.begin(), dst.bytes.end());
  all.insert(all.end(), {0, 0, 0, 5, 0, 0, 0, 17});
  all.insert(all.end(), payload.begin(), payload.end());
  EXPECT_EQ(ipv6PseudoHeaderChecksum(src, dst, 17, payload), internetChecksum(all));
}

}  // namespace
}  // namespace carp::proto
