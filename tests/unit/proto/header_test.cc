#include "proto/header.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "proto/checksum.h"
#include "test_vectors.h"

namespace carp::proto {
namespace {

using tv::arrayFromHex;
using tv::fromHex;
using tv::toHex;

TEST(Header, EncodesEveryTestVectorByteForByte) {
  for (const auto& v : tv::allVectors()) {
    const CarpHeader h = tv::headerOf(v, arrayFromHex<20>(v.md));
    EXPECT_EQ(toHex(encodeHeader(h)), v.header36) << v.name;
  }
}

TEST(Header, EncodeIgnoresTheChecksumField) {
  const auto v = tv::allVectors().front();
  CarpHeader h = tv::headerOf(v, arrayFromHex<20>(v.md));
  h.checksum = 0xbeef;
  EXPECT_EQ(toHex(encodeHeader(h)), v.header36);
}

TEST(Header, DecodesTv1) {
  const auto bytes =
      fromHex("210100070001a4d90102030405060708adea55cad5e9881574e82c1c92cb99ca28c1d1f8");
  const auto h = decodeHeader(bytes);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->version, 2);
  EXPECT_EQ(h->type, 1);
  EXPECT_EQ(h->vhid, 1);
  EXPECT_EQ(h->advskew, 0);
  EXPECT_EQ(h->authlen, 7);
  EXPECT_EQ(h->demote, 0);
  EXPECT_EQ(h->advbase, 1);
  EXPECT_EQ(h->checksum, 0xa4d9);
  EXPECT_EQ(h->counter, (CarpCounter{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(toHex(h->digest), "adea55cad5e9881574e82c1c92cb99ca28c1d1f8");
}

TEST(Header, DecodesEveryTestVectorBackToItsFields) {
  for (const auto& v : tv::allVectors()) {
    const auto bytes = fromHex(v.header36);
    const auto h = decodeHeader(bytes);
    ASSERT_TRUE(h.has_value()) << v.name;
    CarpHeader expected = tv::headerOf(v, arrayFromHex<20>(v.md));
    expected.checksum = static_cast<std::uint16_t>(bytes[6] << 8 | bytes[7]);
    EXPECT_EQ(*h, expected) << v.name;
  }
}

TEST(Header, DecodeOfEncodeIsIdentityForRandomHeaders) {
  std::mt19937 rng(36);
  auto byte = [&] { return static_cast<std::uint8_t>(rng()); };
  for (int i = 0; i < 5000; ++i) {
    CarpHeader h;
    h.version = kCarpVersion;
    h.type = static_cast<std::uint8_t>(byte() & 0x0f);
    h.vhid = byte();
    h.advskew = byte();
    h.authlen = byte();
    h.demote = byte();
    h.advbase = byte();
    for (auto& b : h.counter) b = byte();
    for (auto& b : h.digest) b = byte();
    const auto wire = encodeHeader(h);
    EXPECT_EQ(internetChecksum(wire), 0);
    h.checksum = static_cast<std::uint16_t>(wire[6] << 8 | wire[7]);
    const auto back = decodeHeader(wire);
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(*back, h) << toHex(wire);
  }
}

TEST(Header, EncodeMasksVersionAndTypeToFourBits) {
  CarpHeader h;
  h.version = 0x12;
  h.type = 0x31;
  EXPECT_EQ(encodeHeader(h)[0], 0x21);
}

TEST(Header, EveryTruncationIsBadLength) {
  const auto full =
      fromHex("210100070001a4d90102030405060708adea55cad5e9881574e82c1c92cb99ca28c1d1f8");
  for (std::size_t n = 0; n < kCarpHeaderSize; ++n) {
    const auto h = decodeHeader(std::span(full).first(n));
    ASSERT_FALSE(h.has_value()) << n;
    EXPECT_EQ(h.error(), DropReason::kBadLength) << n;
  }
}

TEST(Header, EveryOtherVersionNibbleIsBadVersion) {
  auto bytes = fromHex("210100070001a4d90102030405060708adea55cad5e9881574e82c1c92cb99ca28c1d1f8");
  for (int version = 0; version < 16; ++version) {
    if (version == kCarpVersion) continue;
    bytes[0] = static_cast<std::uint8_t>(version << 4 | 1);
    const auto h = decodeHeader(bytes);
    ASSERT_FALSE(h.has_value()) << version;
    EXPECT_EQ(h.error(), DropReason::kBadVersion) << version;
  }
}

TEST(Header, VersionIsCheckedBeforeTheFullLengthLikeFreeBsd) {
  // A VRRPv3 header (version 3, 8 bytes) is badver, not badlen (FreeBSD carp_input).
  const auto vrrp = fromHex("3101640100640000");
  for (std::size_t n = 8; n <= vrrp.size(); ++n) {
    const auto h = decodeHeader(std::span(vrrp).first(n));
    ASSERT_FALSE(h.has_value());
    EXPECT_EQ(h.error(), DropReason::kBadVersion);
  }
  // Under 8 bytes the length comes first, whatever the version.
  const auto h = decodeHeader(std::span(vrrp).first(7));
  ASSERT_FALSE(h.has_value());
  EXPECT_EQ(h.error(), DropReason::kBadLength);
}

TEST(Header, TypeAndAuthlenAreNotChecked) {
  CarpHeader h;
  h.type = 0x0f;
  h.authlen = 0;
  const auto wire = encodeHeader(h);
  const auto back = decodeHeader(wire);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->type, 0x0f);
  EXPECT_EQ(back->authlen, 0);
}

TEST(Header, DecodeDoesNotVerifyTheChecksum) {
  auto bytes = fromHex("210100070001a4d90102030405060708adea55cad5e9881574e82c1c92cb99ca28c1d1f8");
  bytes[6] ^= 0xff;
  const auto h = decodeHeader(bytes);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->checksum, 0x5bd9);
}

TEST(Header, ChecksumFieldFfffIsTheOtherZero) {
  // When the other 17 words sum to ffff, encodeHeader (like in_cksum) writes 0000, but a
  // field of ffff verifies too; decode keeps what was sent.
  auto bytes = fromHex("20ff0000ff00ffffffffffffdfffffffffffffffffffffffffffffffffffffffffffffff");
  ASSERT_EQ(bytes.size(), kCarpHeaderSize);
  EXPECT_EQ(internetChecksum(bytes), 0);
  const auto h = decodeHeader(bytes);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->checksum, 0xffff);
  const auto again = encodeHeader(*h);
  EXPECT_EQ(again[6], 0);
  EXPECT_EQ(again[7], 0);
  EXPECT_EQ(internetChecksum(again), 0);
}

TEST(Header, TrailingBytesAreIgnored) {
  auto bytes = fromHex("210100070001a4d90102030405060708adea55cad5e9881574e82c1c92cb99ca28c1d1f8");
  const auto plain = decodeHeader(bytes);
  bytes.insert(bytes.end(), {0xde, 0xad, 0xbe, 0xef, 0x01});
  const auto longer = decodeHeader(bytes);
  ASSERT_TRUE(plain.has_value());
  ASSERT_TRUE(longer.has_value());
  EXPECT_EQ(*plain, *longer);
}

TEST(Header, RandomBytesNeverCrash) {
  std::mt19937 rng(4242);
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::uint8_t> bytes(rng() % 64);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
    if (!bytes.empty() && (i & 1)) bytes[0] = static_cast<std::uint8_t>(0x20 | (bytes[0] & 0x0f));
    const auto h = decodeHeader(bytes);
    if (h) {
      EXPECT_GE(bytes.size(), kCarpHeaderSize);
      EXPECT_EQ(h->version, 2);
    }
  }
}

TEST(DropReason, NamesAreTheBsdCarpstatsFields) {
  EXPECT_STREQ(toString(DropReason::kBadLength), "badlen");
  EXPECT_STREQ(toString(DropReason::kBadVersion), "badver");
  EXPECT_STREQ(toString(DropReason::kBadChecksum), "badsum");
  EXPECT_STREQ(toString(DropReason::kUnknownVhid), "badvhid");
  EXPECT_STREQ(toString(DropReason::kBadTtl), "badttl");
  EXPECT_STREQ(toString(DropReason::kBadAuth), "badauth");
  EXPECT_STREQ(toString(DropReason::kOwnCounter), "loop");
  EXPECT_STREQ(toString(static_cast<DropReason>(kDropReasonCount)), "?");
}

}  // namespace
}  // namespace carp::proto
