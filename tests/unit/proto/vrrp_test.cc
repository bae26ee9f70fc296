#include "proto/vrrp.h"

#include <gtest/gtest.h>

#include <vector>

#include "proto/checksum.h"
#include "test_vectors.h"

namespace carp::proto {
namespace {

using tv::fromHex;
using tv::v4;
using tv::v6;

// Fills in the checksum over the whole message, as VRRPv2 senders do (RFC 3768 §5.3.8).
std::vector<std::uint8_t> withChecksum(std::vector<std::uint8_t> bytes) {
  bytes[6] = bytes[7] = 0;
  const std::uint16_t sum = internetChecksum(bytes);
  bytes[6] = static_cast<std::uint8_t>(sum >> 8);
  bytes[7] = static_cast<std::uint8_t>(sum & 0xff);
  return bytes;
}

// What keepalived sends for virtual_router_id 1, priority 150, advert_int 1, one address
// 192.0.2.50 and no authentication: 8 + 4 + 8 bytes.
std::vector<std::uint8_t> keepalivedV2() {
  return withChecksum(fromHex("21 01 96 01 00 01 0000 c0000232 0000000000000000"));
}

TEST(Vrrp, DecodesAKeepalivedV2Advertisement) {
  const auto advert = decodeVrrp(keepalivedV2(), Family::kIPv4);
  ASSERT_TRUE(advert);
  EXPECT_EQ(advert->version, 2);
  EXPECT_EQ(advert->vrid, 1);
  EXPECT_EQ(advert->priority, 150);
  EXPECT_EQ(advert->interval, 1);
  EXPECT_EQ(advert->addresses, std::vector<IpAddress>{v4(192, 0, 2, 50)});
}

TEST(Vrrp, V2NeedsItsChecksumLengthAndAuthType) {
  auto bad_sum = keepalivedV2();
  bad_sum[9] ^= 1;
  EXPECT_FALSE(decodeVrrp(bad_sum, Family::kIPv4));
  auto short_packet = keepalivedV2();
  short_packet.pop_back();
  EXPECT_FALSE(decodeVrrp(withChecksum(short_packet), Family::kIPv4));
  auto auth_type = keepalivedV2();
  auth_type[4] = 3;
  EXPECT_FALSE(decodeVrrp(withChecksum(auth_type), Family::kIPv4));
  EXPECT_FALSE(decodeVrrp(keepalivedV2(), Family::kIPv6)) << "VRRPv2 is IPv4 only";
}

TEST(Vrrp, DecodesV3OverBothFamilies) {
  // FreeBSD carp(4) carpver 3 (carp-wire.md §7): 0x31, VRID, priority, count, interval 100 cs.
  const auto over4 = decodeVrrp(fromHex("31 07 64 02 0064 0000 c0000201 c0000202"), Family::kIPv4);
  ASSERT_TRUE(over4);
  EXPECT_EQ(over4->version, 3);
  EXPECT_EQ(over4->vrid, 7);
  EXPECT_EQ(over4->priority, 100);
  EXPECT_EQ(over4->interval, 100);
  EXPECT_EQ(over4->addresses, (std::vector<IpAddress>{v4(192, 0, 2, 1), v4(192, 0, 2, 2)}));
  const auto over6 =
      decodeVrrp(fromHex("31 07 64 01 f064 0000 20010db8000000000000000000000001"), Family::kIPv6);
  ASSERT_TRUE(over6);
  EXPECT_EQ(over6->interval, 100) << "the 4 reserved bits are not part of the interval";
  EXPECT_EQ(over6->addresses, std::vector<IpAddress>{v6("20010db8000000000000000000000001")});
  EXPECT_FALSE(decodeVrrp(fromHex("31 07 64 02 0064 0000 c0000201"), Family::kIPv4));
}

TEST(Vrrp, NoCarpAdvertisementDecodesAsVrrp) {
  // CARP carries authlen 7 where VRRPv2 has its auth type: never 0..2.
  for (const auto& vector : tv::allVectors()) {
    EXPECT_FALSE(decodeVrrp(fromHex(vector.header36), Family::kIPv4)) << vector.name;
  }
}

TEST(Vrrp, RejectsGarbage) {
  EXPECT_FALSE(decodeVrrp({}, Family::kIPv4));
  EXPECT_FALSE(decodeVrrp(fromHex("21 01 96"), Family::kIPv4));
  EXPECT_FALSE(decodeVrrp(fromHex("32 01 96 00 0064 0000"), Family::kIPv4)) << "type 2";
  EXPECT_FALSE(decodeVrrp(fromHex("31 00 96 00 0064 0000"), Family::kIPv4)) << "VRID 0";
  EXPECT_FALSE(decodeVrrp(fromHex("41 01 96 00 0064 0000"), Family::kIPv4)) << "version 4";
}

}  // namespace
}  // namespace carp::proto
