#include "proto/frames.h"

#include <gtest/gtest.h>

#include <vector>

#include "proto/checksum.h"
#include "test_vectors.h"

namespace carp::proto {
namespace {

using tv::arrayFromHex;
using tv::toHex;
using tv::v4;
using tv::v6;

constexpr MacAddress kMac1 = {0x00, 0x00, 0x5e, 0x00, 0x01, 0x01};
constexpr MacAddress kMac3 = {0x00, 0x00, 0x5e, 0x00, 0x01, 0x03};

std::array<std::uint8_t, kCarpHeaderSize> header(std::string_view hex) {
  return arrayFromHex<kCarpHeaderSize>(hex);
}

const auto kTv1Header =
    header("210100070001a4d90102030405060708adea55cad5e9881574e82c1c92cb99ca28c1d1f8");
const auto kTv3aHeader =
    header("210300070001e8761122334455667788ccfcd6f8fa7bd576291cabbd0b38a3c01c1cd151");

TEST(Frames, Tv1OpenBsdStyleFrame) {
  const auto f =
      buildAdvertFrameV4(kMac1, v4(192, 168, 1, 2), carpGroupV4(), 0x1234, kTosOpenBsd, kTv1Header);
  EXPECT_EQ(toHex(f), tv::kTv1FrameObsd);
  EXPECT_EQ(f.size(), 70u);
}

TEST(Frames, Tv1FreeBsdStyleFrame) {
  const auto f =
      buildAdvertFrameV4(kMac1, v4(192, 168, 1, 2), carpGroupV4(), 0x1234, kTosFreeBsd, kTv1Header);
  EXPECT_EQ(toHex(f), tv::kTv1FrameFbsd);
}

TEST(Frames, Ipv4HeaderChecksumVerifiesForAnyIdAndTos) {
  for (int id : {0, 1, 0x1234, 0xffff}) {
    for (int tos : {0, 0x10, 0xe0, 0xff}) {
      const auto f =
          buildAdvertFrameV4(kMac1, v4(10, 1, 2, 3), carpGroupV4(), static_cast<std::uint16_t>(id),
                             static_cast<std::uint8_t>(tos), kTv1Header);
      ASSERT_EQ(f.size(), 70u);
      EXPECT_EQ(internetChecksum(std::span(f).subspan(14, 20)), 0);
      EXPECT_EQ(f[15], tos);
      EXPECT_EQ(f[18], id >> 8);
      EXPECT_EQ(f[19], id & 0xff);
    }
  }
}

TEST(Frames, Ipv4UnicastPeerUsesTheGivenMac) {
  const MacAddress peer = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  const auto f =
      buildAdvertFrameV4(kMac1, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 7, kTosOpenBsd, kTv1Header, peer);
  EXPECT_EQ(toHex(std::span(f).first(6)), "021122334455");
  EXPECT_EQ(toHex(std::span(f).subspan(30, 4)), "0a000002");
  EXPECT_EQ(f[22], 255);  // TTL 255 in unicast mode too
}

TEST(Frames, Ipv6AdvertTv3aOpenBsdStyle) {
  // Independently computed: Ethernet 33:33:00:00:00:12, TC 0, plen 36, nh 112, hlim 255.
  const auto f = buildAdvertFrameV6(kMac3, v6("fe800000000000000000000000000002"), carpGroupV6(), 0,
                                    kTv3aHeader);
  EXPECT_EQ(toHex(f),
            "33330000001200005e00010386dd60000000002470fffe800000000000000000000000000002ff0200"
            "00000000000000000000000012210300070001e8761122334455667788ccfcd6f8fa7bd576291cabbd"
            "0b38a3c01c1cd151");
  EXPECT_EQ(f.size(), 90u);
}

TEST(Frames, Ipv6AdvertFreeBsdTrafficClass) {
  const auto f = buildAdvertFrameV6(kMac3, v6("fe800000000000000000000000000002"), carpGroupV6(),
                                    0xe0, kTv3aHeader);
  EXPECT_EQ(toHex(std::span(f).subspan(14, 4)), "6e000000");
}

TEST(Frames, FamilyMismatchGivesEmptyFrame) {
  const IpAddress a6 = v6("20010db8000000000000000000000001");
  EXPECT_TRUE(buildAdvertFrameV4(kMac1, a6, carpGroupV4(), 0, 0, kTv1Header).empty());
  EXPECT_TRUE(buildAdvertFrameV4(kMac1, v4(1, 2, 3, 4), carpGroupV6(), 0, 0, kTv1Header).empty());
  EXPECT_TRUE(buildAdvertFrameV6(kMac1, v4(1, 2, 3, 4), carpGroupV6(), 0, kTv1Header).empty());
  EXPECT_TRUE(buildGratuitousArp(kMac1, a6).empty());
  EXPECT_TRUE(buildUnsolicitedNa(kMac1, v4(1, 2, 3, 4), false).empty());
}

TEST(Frames, MulticastMacMapping) {
  EXPECT_EQ(toHex(multicastMacFor(carpGroupV4())), "01005e000012");
  // Only the low 23 bits: 239.129.2.3 -> 01:00:5e:01:02:03.
  EXPECT_EQ(toHex(multicastMacFor(v4(239, 129, 2, 3))), "01005e010203");
  EXPECT_EQ(toHex(multicastMacFor(carpGroupV6())), "333300000012");
  EXPECT_EQ(toHex(multicastMacFor(v6("ff020000000000000000000000000001"))), "333300000001");
  EXPECT_EQ(toHex(multicastMacFor(v6("ff0200000000000000000001ff123456"))), "3333ff123456");
  EXPECT_EQ(toHex(multicastMacFor(v4(192, 168, 1, 1))), "ffffffffffff");
  EXPECT_EQ(toHex(multicastMacFor(v6("20010db8000000000000000000000001"))), "ffffffffffff");
}

TEST(Frames, GratuitousArpCanAnnounceAMacItIsNotSentFrom) {
  // Load balancing, ip mode: the shared multicast MAC as sha, the NIC's MAC as source.
  const MacAddress shared{0x01, 0x00, 0x5e, 0x00, 0x01, 0x01};
  const auto f = buildGratuitousArp(kMac1, v4(192, 0, 2, 50), shared);
  ASSERT_EQ(f.size(), 42u);
  EXPECT_EQ(toHex(std::span(f).subspan(6, 6)), "00005e000101");   // Ethernet source
  EXPECT_EQ(toHex(std::span(f).subspan(22, 6)), "01005e000101");  // sha
  EXPECT_EQ(toHex(std::span(f).subspan(28, 4)), "c0000232");      // spa
}

TEST(Frames, GratuitousArpLayout) {
  const auto f = buildGratuitousArp(kMac1, v4(192, 168, 1, 1));
  ASSERT_EQ(f.size(), 42u);
  EXPECT_EQ(toHex(std::span(f).first(6)), "ffffffffffff");       // broadcast
  EXPECT_EQ(toHex(std::span(f).subspan(6, 6)), "00005e000101");  // Ethernet source
  EXPECT_EQ(toHex(std::span(f).subspan(12, 2)), "0806");
  EXPECT_EQ(toHex(std::span(f).subspan(14, 2)), "0001");  // htype Ethernet
  EXPECT_EQ(toHex(std::span(f).subspan(16, 2)), "0800");  // ptype IPv4
  EXPECT_EQ(f[18], 6);
  EXPECT_EQ(f[19], 4);
  EXPECT_EQ(toHex(std::span(f).subspan(20, 2)), "0001");          // request
  EXPECT_EQ(toHex(std::span(f).subspan(22, 6)), "00005e000101");  // sha
  EXPECT_EQ(toHex(std::span(f).subspan(28, 4)), "c0a80101");      // spa
  EXPECT_EQ(toHex(std::span(f).subspan(32, 6)), "000000000000");  // tha
  EXPECT_EQ(toHex(std::span(f).subspan(38, 4)), "c0a80101");      // tpa
  EXPECT_EQ(toHex(f),
            "ffffffffffff00005e0001010806000108000604000100005e000101c0a80101000000000000c0a80101");
}

TEST(Frames, UnsolicitedNaLayout) {
  const IpAddress target = v6("20010db8000000000000000000000001");
  const auto f = buildUnsolicitedNa(kMac3, target, false);
  ASSERT_EQ(f.size(), 86u);
  EXPECT_EQ(toHex(std::span(f).first(6)), "333300000001");
  EXPECT_EQ(toHex(std::span(f).subspan(6, 6)), "00005e000103");
  EXPECT_EQ(toHex(std::span(f).subspan(12, 2)), "86dd");
  EXPECT_EQ(toHex(std::span(f).subspan(14, 4)), "60000000");
  EXPECT_EQ(toHex(std::span(f).subspan(18, 2)), "0020");  // payload length 32
  EXPECT_EQ(f[20], 58);                                   // ICMPv6
  EXPECT_EQ(f[21], 255);                                  // hop limit
  EXPECT_EQ(toHex(std::span(f).subspan(22, 16)), "20010db8000000000000000000000001");
  EXPECT_EQ(toHex(std::span(f).subspan(38, 16)), "ff020000000000000000000000000001");
  EXPECT_EQ(f[54], 136);  // neighbour advertisement
  EXPECT_EQ(f[55], 0);
  EXPECT_EQ(f[58], 0x20);  // Override only
  EXPECT_EQ(toHex(std::span(f).subspan(59, 3)), "000000");
  EXPECT_EQ(toHex(std::span(f).subspan(62, 16)), "20010db8000000000000000000000001");
  EXPECT_EQ(f[78], 2);  // target link-layer address option
  EXPECT_EQ(f[79], 1);
  EXPECT_EQ(toHex(std::span(f).subspan(80, 6)), "00005e000103");
  // Independently computed, checksum included.
  EXPECT_EQ(toHex(f),
            "33330000000100005e00010386dd6000000000203aff20010db8000000000000000000000001ff0200"
            "0000000000000000000000000188009c282000000020010db8000000000000000000000001"
            "020100005e000103");
}

TEST(Frames, UnsolicitedNaRouterFlag) {
  const auto f = buildUnsolicitedNa(kMac3, v6("20010db8000000000000000000000001"), true);
  ASSERT_EQ(f.size(), 86u);
  EXPECT_EQ(f[58], 0xa0);  // Router + Override, never Solicited
  EXPECT_EQ(toHex(std::span(f).subspan(56, 2)), "1c28");
}

TEST(Frames, UnsolicitedNaChecksumVerifies) {
  for (const auto* hex : {"20010db8000000000000000000000001", "fe800000000000000000000000000001",
                          "2001db8ffffffffffffffffffffffffe"}) {
    const IpAddress target = v6(hex);
    for (bool router : {false, true}) {
      const auto f = buildUnsolicitedNa(kMac1, target, router);
      ASSERT_EQ(f.size(), 86u);
      const IpAddress all_nodes = v6("ff020000000000000000000000000001");
      // Summing with the stored checksum in place gives 0.
      EXPECT_EQ(ipv6PseudoHeaderChecksum(target, all_nodes, 58, std::span(f).subspan(54)), 0)
          << hex;
    }
  }
}

TEST(Frames, ArpProbeAndItsAnswerDecode) {
  const auto probe = buildArpRequest(kMac1, v4(0, 0, 0, 0), v4(192, 0, 2, 12));
  EXPECT_EQ(toHex(probe),
            "ffffffffffff"
            "00005e000101"
            "0806"
            "0001"
            "0800"
            "06"
            "04"
            "0001"
            "00005e000101"
            "00000000"
            "000000000000"
            "c000020c");
  const auto decoded = decodeArpFrame(probe);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->operation, 1);
  EXPECT_EQ(decoded->sender_mac, kMac1);
  EXPECT_EQ(decoded->target_ip, v4(192, 0, 2, 12));
  // The owner of 192.0.2.12 answers to the probing MAC (Linux arp_process, sender 0.0.0.0).
  auto reply = tv::fromHex(
      "00005e000101"
      "020000000012"
      "0806"
      "0001"
      "0800"
      "06"
      "04"
      "0002"
      "020000000012"
      "c000020c"
      "00005e000101"
      "00000000"
      "0000");
  const auto answer = decodeArpFrame(reply);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->operation, 2);
  EXPECT_EQ(answer->destination, kMac1);
  EXPECT_EQ(answer->target_mac, kMac1);
  EXPECT_EQ(answer->sender_ip, v4(192, 0, 2, 12));
  reply[12] = 0x08;
  reply[13] = 0x00;
  EXPECT_FALSE(decodeArpFrame(reply)) << "IPv4, not ARP";
  EXPECT_FALSE(decodeArpFrame(std::span(probe).first(41)));
  EXPECT_TRUE(
      buildArpRequest(kMac1, v4(0, 0, 0, 0), v6("20010db8000000000000000000000001")).empty());
}

}  // namespace
}  // namespace carp::proto
