#include "proto/validate.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <vector>

#include "test_vectors.h"

namespace carp::proto {
namespace {

using tv::arrayFromHex;
using tv::fromHex;
using tv::v4;

class MapDirectory : public VhidDirectory {
 public:
  const VhidCredentials* find(std::uint8_t vhid) const noexcept override {
    const auto it = entries_.find(vhid);
    return it == entries_.end() ? nullptr : &it->second;
  }
  std::map<std::uint8_t, VhidCredentials> entries_;
};

constexpr std::string_view kTv1 =
    "210100070001a4d90102030405060708adea55cad5e9881574e82c1c92cb99ca28c1d1f8";

class ValidateTest : public ::testing::Test {
 protected:
  ValidateTest() {
    const std::vector<IpAddress> addrs = {v4(192, 168, 1, 1)};
    signer_ = std::make_unique<HmacSigner>(
        HmacSigner::make(SecretKey::fromPassphrase("secret"), Vhid::make(1).value(), addrs)
            .value());
    wrong_key_ = std::make_unique<HmacSigner>(
        HmacSigner::make(SecretKey::fromPassphrase("wrong"), Vhid::make(1).value(), addrs).value());
    directory_.entries_[1] =
        VhidCredentials{signer_.get(), arrayFromHex<8>("a1a2a3a4a5a6a7a8"), false};
  }

  tl::expected<ValidAdvert, DropReason> validate(std::span<const std::uint8_t> bytes,
                                                 std::uint8_t ttl = 255) const {
    return validateAdvert(bytes, ttl, directory_);
  }

  void expectDrop(std::span<const std::uint8_t> bytes, std::uint8_t ttl, DropReason reason) {
    const auto r = validate(bytes, ttl);
    ASSERT_FALSE(r.has_value()) << tv::toHex(bytes) << " ttl " << int{ttl};
    EXPECT_EQ(r.error(), reason) << toString(r.error()) << " instead of " << toString(reason)
                                 << " for " << tv::toHex(bytes) << " ttl " << int{ttl};
  }

  std::unique_ptr<HmacSigner> signer_;
  std::unique_ptr<HmacSigner> wrong_key_;
  MapDirectory directory_;
};

TEST_F(ValidateTest, AcceptsTv1) {
  const auto bytes = fromHex(kTv1);
  const auto r = validate(bytes);
  ASSERT_TRUE(r.has_value()) << toString(r.error());
  EXPECT_EQ(r->header.vhid, 1);
  EXPECT_EQ(r->header.advbase, 1);
  EXPECT_EQ(r->header.advskew, 0);
  EXPECT_EQ(r->header.counter, arrayFromHex<8>("0102030405060708"));
}

TEST_F(ValidateTest, AcceptsTv6WithEmptyKeyAndTv5WithLladdr) {
  const std::vector<IpAddress> addrs = {v4(192, 168, 1, 1)};
  auto empty = HmacSigner::make(SecretKey::empty(), Vhid::make(1).value(), addrs).value();
  directory_.entries_[1].signer = &empty;
  EXPECT_TRUE(validate(fromHex("2101000700010b9101020304050607086cf532a60b662cbc11cc33c7c2efe30"
                               "7953a6ace"))
                  .has_value());
  auto obsd = HmacSigner::make(SecretKey::fromPassphrase("secret"), Vhid::make(1).value(), addrs,
                               false, MacAddress{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30})
                  .value();
  directory_.entries_[1].signer = &obsd;
  EXPECT_TRUE(validate(fromHex("210100070001f7ae0102030405060708d0b45ff6f3eaae8fc505de7ea616fefc"
                               "21da999b"))
                  .has_value());
  expectDrop(fromHex(kTv1), 255, DropReason::kBadAuth);
}

TEST_F(ValidateTest, AcceptsBothIpv6Variants) {
  const std::vector<IpAddress> addrs = {tv::v6("20010db8000000000000000000000001"),
                                        tv::v6("fe800000000000000000000000000001")};
  auto obsd =
      HmacSigner::make(SecretKey::fromPassphrase("carp6"), Vhid::make(3).value(), addrs).value();
  directory_.entries_[3] = VhidCredentials{&obsd, CarpCounter{}, false};
  EXPECT_TRUE(validate(fromHex("210300070001e8761122334455667788ccfcd6f8fa7bd576291cabbd0b38a3c0"
                               "1c1cd151"))
                  .has_value());
  EXPECT_TRUE(validate(fromHex("2103000700019aff1122334455667788f46493b3724d998370b610f4b4e7b2"
                               "6e29ab8c0a"))
                  .has_value());
}

TEST_F(ValidateTest, EveryTruncationIsBadLength) {
  const auto full = fromHex(kTv1);
  for (std::size_t n = 0; n < kCarpHeaderSize; ++n) {
    expectDrop(std::span(full).first(n), 255, DropReason::kBadLength);
  }
}

TEST_F(ValidateTest, EveryOtherVersionIsBadVersion) {
  auto bytes = fromHex(kTv1);
  for (int version = 0; version < 16; ++version) {
    if (version == 2) continue;
    bytes[0] = static_cast<std::uint8_t>(version << 4 | 1);
    expectDrop(bytes, 255, DropReason::kBadVersion);
    // Short but at least 8 bytes: the version still comes first (FreeBSD carp_input).
    expectDrop(std::span(bytes).first(8), 255, DropReason::kBadVersion);
    expectDrop(std::span(bytes).first(7), 255, DropReason::kBadLength);
  }
}

TEST_F(ValidateTest, AnyCorruptedByteIsBadChecksum) {
  const auto good = fromHex(kTv1);
  for (std::size_t i = 0; i < kCarpHeaderSize; ++i) {
    for (int flip : {0x01, 0x80, 0x0f}) {
      auto bytes = good;
      bytes[i] = static_cast<std::uint8_t>(bytes[i] ^ flip);
      if (i == 0 && (flip & 0xf0)) continue;  // that changes the version: badver
      expectDrop(bytes, 255, DropReason::kBadChecksum);
    }
  }
}

TEST_F(ValidateTest, ChecksumCoversExactly36Bytes) {
  auto bytes = fromHex(kTv1);
  bytes.insert(bytes.end(), {0x12, 0x34, 0x56});
  EXPECT_TRUE(validate(bytes).has_value());
}

TEST_F(ValidateTest, UnknownVhid) {
  directory_.entries_.clear();
  expectDrop(fromHex(kTv1), 255, DropReason::kUnknownVhid);
  // The VHID is looked up before the TTL is checked.
  expectDrop(fromHex(kTv1), 1, DropReason::kUnknownVhid);
}

TEST_F(ValidateTest, TtlMustBe255ForMulticastVhids) {
  for (int ttl : {254, 128, 64, 1, 0}) {
    expectDrop(fromHex(kTv1), static_cast<std::uint8_t>(ttl), DropReason::kBadTtl);
  }
}

TEST_F(ValidateTest, UnicastVhidsSkipTheTtlCheck) {
  directory_.entries_[1].unicast = true;
  for (int ttl : {255, 254, 64, 1, 0}) {
    EXPECT_TRUE(validate(fromHex(kTv1), static_cast<std::uint8_t>(ttl)).has_value()) << ttl;
  }
}

TEST_F(ValidateTest, WrongKeyIsBadAuth) {
  directory_.entries_[1].signer = wrong_key_.get();
  expectDrop(fromHex(kTv1), 255, DropReason::kBadAuth);
  // TTL before HMAC.
  expectDrop(fromHex(kTv1), 254, DropReason::kBadTtl);
}

TEST_F(ValidateTest, NullSignerFailsClosed) {
  directory_.entries_[1].signer = nullptr;
  expectDrop(fromHex(kTv1), 255, DropReason::kBadAuth);
}

TEST_F(ValidateTest, TamperedDigestWithFixedChecksumIsBadAuth) {
  CarpHeader h = decodeHeader(fromHex(kTv1)).value();
  h.digest[5] ^= 0x40;
  const auto wire = encodeHeader(h);
  expectDrop(wire, 255, DropReason::kBadAuth);
}

TEST_F(ValidateTest, OwnCounterIsDropped) {
  directory_.entries_[1].own_counter = arrayFromHex<8>("0102030405060708");
  expectDrop(fromHex(kTv1), 255, DropReason::kOwnCounter);
  // HMAC before the counter: a forged packet with our counter is badauth.
  directory_.entries_[1].signer = wrong_key_.get();
  expectDrop(fromHex(kTv1), 255, DropReason::kBadAuth);
}

TEST_F(ValidateTest, TypeAndAuthlenAreNotChecked) {
  CarpHeader h = decodeHeader(fromHex(kTv1)).value();
  h.type = 0x0f;
  h.authlen = 0;
  const auto wire = encodeHeader(h);
  EXPECT_TRUE(validate(wire).has_value());
}

TEST_F(ValidateTest, FieldsOutsideTheHmacMayChange) {
  // advskew, advbase and demote are not in the digest (carp-wire.md §2.2): TV2b vs TV2.
  CarpHeader h = decodeHeader(fromHex(kTv1)).value();
  h.advskew = 255;
  h.advbase = 255;
  h.demote = 9;
  const auto r = validate(encodeHeader(h));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->header.advbase, 255);
  EXPECT_EQ(r->header.demote, 9);
}

TEST_F(ValidateTest, RandomBytesNeverCrash) {
  std::mt19937 rng(112);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::uint8_t> bytes(rng() % 80);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
    if (bytes.size() >= 2 && (i & 1)) {
      bytes[0] = 0x21;
      bytes[1] = 1;
    }
    const auto r = validate(bytes, static_cast<std::uint8_t>(rng()));
    if (r) ++accepted;
  }
  EXPECT_EQ(accepted, 0);
}

}  // namespace
}  // namespace carp::proto
