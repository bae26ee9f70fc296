// Root only: each test runs in a fresh network namespace with a veth pair va <-> vb. Frames
// built here are sent on va with PacketSocketSender and must arrive at a CarpReceiver on vb.

#include "os/linux/carp_socket.h"

#include <gtest/gtest.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "os/linux/fd.h"
#include "os/linux/packet_sender.h"
#include "support/netns_helpers.h"

namespace carp::os::lnx {
namespace {

using carp::testing::carpPayload;
using carp::testing::shell;
using carp::testing::waitUntilRunning;
using Bytes = std::vector<std::uint8_t>;

std::uint16_t ipv4HeaderChecksum(const Bytes& header) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < header.size(); i += 2) sum += (header[i] << 8) | header[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// Ethernet, from 00:00:5e:00:01:01.
Bytes ethernetHeader(std::array<std::uint8_t, 6> destination_mac, std::uint16_t ethertype) {
  return {destination_mac[0],
          destination_mac[1],
          destination_mac[2],
          destination_mac[3],
          destination_mac[4],
          destination_mac[5],
          0x00,
          0x00,
          0x5e,
          0x00,
          0x01,
          0x01,
          static_cast<std::uint8_t>(ethertype >> 8),
          static_cast<std::uint8_t>(ethertype)};
}

// Ethernet + IPv4 (with `options` after the 20-byte header) + payload.
Bytes ipv4Frame(std::array<std::uint8_t, 6> destination_mac, std::array<std::uint8_t, 4> source,
                std::array<std::uint8_t, 4> destination, std::uint8_t ttl, const Bytes& payload,
                const Bytes& options = {}) {
  Bytes frame = ethernetHeader(destination_mac, 0x0800);
  const std::size_t header_length = 20 + options.size();
  const std::size_t total = header_length + payload.size();
  Bytes header = {static_cast<std::uint8_t>(0x40 | (header_length / 4)),
                  0x10,
                  static_cast<std::uint8_t>(total >> 8),
                  static_cast<std::uint8_t>(total),
                  0x12,
                  0x34,
                  0x40,
                  0x00,
                  ttl,
                  112,
                  0,
                  0,
                  source[0],
                  source[1],
                  source[2],
                  source[3],
                  destination[0],
                  destination[1],
                  destination[2],
                  destination[3]};
  header.insert(header.end(), options.begin(), options.end());
  const std::uint16_t checksum = ipv4HeaderChecksum(header);
  header[10] = static_cast<std::uint8_t>(checksum >> 8);
  header[11] = static_cast<std::uint8_t>(checksum);
  frame.insert(frame.end(), header.begin(), header.end());
  frame.insert(frame.end(), payload.begin(), payload.end());
  return frame;
}

constexpr std::array<std::uint8_t, 6> kMulticastMacV4 = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x12};
constexpr std::array<std::uint8_t, 6> kMulticastMacV6 = {0x33, 0x33, 0x00, 0x00, 0x00, 0x12};
constexpr std::array<std::uint8_t, 4> kGroupV4 = {224, 0, 0, 18};
constexpr std::array<std::uint8_t, 16> kGroupV6 = {0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                                   0,    0,    0, 0, 0, 0, 0, 0x12};
constexpr std::array<std::uint8_t, 16> kLinkLocal1 = {0xfe, 0x80, 0, 0, 0, 0, 0, 0,
                                                      0,    0,    0, 0, 0, 0, 0, 1};

Bytes ipv6Frame(std::array<std::uint8_t, 6> destination_mac, std::array<std::uint8_t, 16> source,
                std::array<std::uint8_t, 16> destination, std::uint8_t hop_limit,
                const Bytes& payload) {
  Bytes frame = ethernetHeader(destination_mac, 0x86dd);
  Bytes header = {0x60,
                  0,
                  0,
                  0,
                  static_cast<std::uint8_t>(payload.size() >> 8),
                  static_cast<std::uint8_t>(payload.size()),
                  112,
                  hop_limit};
  header.insert(header.end(), source.begin(), source.end());
  header.insert(header.end(), destination.begin(), destination.end());
  frame.insert(frame.end(), header.begin(), header.end());
  frame.insert(frame.end(), payload.begin(), payload.end());
  return frame;
}

struct Received {
  int ifindex = 0;
  proto::IpAddress source;
  proto::IpAddress destination;
  std::uint8_t ttl = 0;
  Bytes payload;
};

class CarpSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!carp::testing::enterPrivateNetns(carp::testing::UnshareFailure::kSkipOnlyIfEperm)) return;
    // After unshare: a socket belongs to the namespace it was created in.
    sender_ = std::make_unique<PacketSocketSender>();
    carp::testing::disableRpFilterAndDad();  // private to this namespace
    ASSERT_TRUE(shell("ip link add va type veth peer name vb"));
    ASSERT_TRUE(shell("ip addr add 192.0.2.2/24 dev vb"));
    ASSERT_TRUE(shell("ip link set va up"));
    ASSERT_TRUE(shell("ip link set vb up"));
    va_ = static_cast<int>(::if_nametoindex("va"));
    vb_ = static_cast<int>(::if_nametoindex("vb"));
    ASSERT_NE(va_, 0);
    ASSERT_NE(vb_, 0);
    ASSERT_TRUE(waitUntilRunning("va"));
    ASSERT_TRUE(waitUntilRunning("vb"));
    // By ioctl: /sys/class/net shows the namespace sysfs was mounted in, not this one.
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq request{};
    std::strncpy(request.ifr_name, "vb", IFNAMSIZ - 1);
    ASSERT_EQ(::ioctl(fd.get(), SIOCGIFHWADDR, &request), 0);
    std::memcpy(vb_mac_.data(), request.ifr_hwaddr.sa_data, vb_mac_.size());
  }

  // Waits up to two seconds for the receiver to become readable, then drains it.
  std::vector<Received> receive(CarpReceiver& receiver,
                                CarpReceiver::DrainResult* result = nullptr) {
    std::vector<Received> packets;
    pollfd p{receiver.fd(), POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) return packets;
    const auto drained = receiver.drain([&](const os::ReceivedPacket& packet) {
      packets.push_back({packet.ifindex, packet.source, packet.destination, packet.ttl,
                         Bytes(packet.payload.begin(), packet.payload.end())});
    });
    if (result != nullptr) *result = drained;
    return packets;
  }

  void send(const Bytes& frame) {
    auto sent = sender_->sendFrame(va_, frame);
    ASSERT_TRUE(sent.has_value()) << "errno " << sent.error();
  }

  int va_ = 0;
  int vb_ = 0;
  std::array<std::uint8_t, 6> vb_mac_{};
  std::unique_ptr<PacketSocketSender> sender_;
};

TEST_F(CarpSocketTest, ReceivesIpv4MulticastWithTtlAddressesAndPayload) {
  CarpReceiver receiver(vb_, proto::Family::kIPv4);
  EXPECT_EQ(receiver.ifindex(), vb_);
  EXPECT_EQ(receiver.family(), proto::Family::kIPv4);
  send(ipv4Frame(kMulticastMacV4, {192, 0, 2, 1}, kGroupV4, 255, carpPayload(1)));
  CarpReceiver::DrainResult result;
  const auto packets = receive(receiver, &result);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(result.delivered, 1u);
  EXPECT_EQ(result.malformed, 0u);
  EXPECT_EQ(result.error, 0);
  EXPECT_EQ(packets[0].ifindex, vb_);
  EXPECT_EQ(packets[0].source, proto::IpAddress::v4({192, 0, 2, 1}));
  EXPECT_EQ(packets[0].destination, proto::IpAddress::v4(kGroupV4));
  EXPECT_EQ(packets[0].ttl, 255);
  EXPECT_EQ(packets[0].payload, carpPayload(1));
}

TEST_F(CarpSocketTest, ReportsTheTtlAsReceived) {
  CarpReceiver receiver(vb_, proto::Family::kIPv4);
  send(ipv4Frame(kMulticastMacV4, {192, 0, 2, 1}, kGroupV4, 254, carpPayload(2)));
  const auto packets = receive(receiver);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].ttl, 254);
  EXPECT_EQ(packets[0].payload, carpPayload(2));
}

TEST_F(CarpSocketTest, SkipsIpv4OptionsToFindThePayload) {
  CarpReceiver receiver(vb_, proto::Family::kIPv4);
  // Four NOP options: IHL 6.
  send(ipv4Frame(kMulticastMacV4, {192, 0, 2, 1}, kGroupV4, 255, carpPayload(3),
                 {0x01, 0x01, 0x01, 0x01}));
  const auto packets = receive(receiver);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].payload, carpPayload(3));
}

TEST_F(CarpSocketTest, ReceivesIpv6MulticastWithHopLimitAndDestination) {
  CarpReceiver receiver(vb_, proto::Family::kIPv6);
  send(ipv6Frame(kMulticastMacV6, kLinkLocal1, kGroupV6, 255, carpPayload(4)));
  send(ipv6Frame(kMulticastMacV6, kLinkLocal1, kGroupV6, 1, carpPayload(5)));
  std::vector<Received> packets;
  for (int i = 0; i < 10 && packets.size() < 2; ++i) {
    auto more = receive(receiver);
    packets.insert(packets.end(), more.begin(), more.end());
  }
  ASSERT_EQ(packets.size(), 2u);
  EXPECT_EQ(packets[0].ifindex, vb_);
  EXPECT_EQ(packets[0].source, proto::IpAddress::v6(kLinkLocal1));
  EXPECT_EQ(packets[0].destination, proto::IpAddress::v6(kGroupV6));
  EXPECT_EQ(packets[0].ttl, 255);
  EXPECT_EQ(packets[0].payload, carpPayload(4));
  EXPECT_EQ(packets[1].ttl, 1);
  EXPECT_EQ(packets[1].payload, carpPayload(5));
}

TEST_F(CarpSocketTest, WithoutJoinReceivesUnicastButNotTheGroup) {
  CarpReceiver receiver(vb_, proto::Family::kIPv4, /*join_multicast=*/false);
  // Nobody in this namespace joined 224.0.0.18 on vb, so the kernel drops this one.
  send(ipv4Frame(kMulticastMacV4, {192, 0, 2, 1}, kGroupV4, 255, carpPayload(6)));
  send(ipv4Frame(vb_mac_, {192, 0, 2, 1}, {192, 0, 2, 2}, 255, carpPayload(7)));
  const auto packets = receive(receiver);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].destination, proto::IpAddress::v4({192, 0, 2, 2}));
  EXPECT_EQ(packets[0].payload, carpPayload(7));
}

TEST_F(CarpSocketTest, OnlySeesItsOwnInterface) {
  ASSERT_TRUE(shell("ip link add vc type veth peer name vd"));
  ASSERT_TRUE(shell("ip link set vc up"));
  ASSERT_TRUE(shell("ip link set vd up"));
  ASSERT_TRUE(waitUntilRunning("vc"));
  ASSERT_TRUE(waitUntilRunning("vd"));
  const int vc = static_cast<int>(::if_nametoindex("vc"));
  CarpReceiver receiver(vb_, proto::Family::kIPv4);
  CarpReceiver other(static_cast<int>(::if_nametoindex("vd")), proto::Family::kIPv4);
  ASSERT_TRUE(
      sender_
          ->sendFrame(vc, ipv4Frame(kMulticastMacV4, {192, 0, 2, 9}, kGroupV4, 255, carpPayload(8)))
          .has_value());
  send(ipv4Frame(kMulticastMacV4, {192, 0, 2, 1}, kGroupV4, 255, carpPayload(9)));
  const auto packets = receive(receiver);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].payload, carpPayload(9));
  const auto others = receive(other);
  ASSERT_EQ(others.size(), 1u);
  EXPECT_EQ(others[0].payload, carpPayload(8));
}

TEST_F(CarpSocketTest, DrainIsBounded) {
  CarpReceiver receiver(vb_, proto::Family::kIPv4);
  constexpr std::size_t kSent = CarpReceiver::kMaxPacketsPerDrain + 36;
  for (std::size_t i = 0; i < kSent; ++i) {
    send(ipv4Frame(kMulticastMacV4, {192, 0, 2, 1}, kGroupV4, 255,
                   carpPayload(static_cast<std::uint8_t>(i))));
  }
  // veth hands frames to the receive backlog; give the softirq time to deliver them all.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto first = receive(receiver);
  EXPECT_EQ(first.size(), CarpReceiver::kMaxPacketsPerDrain);
  std::size_t total = first.size();
  for (int i = 0; i < 10 && total < kSent; ++i) total += receive(receiver).size();
  EXPECT_EQ(total, kSent);
}

TEST_F(CarpSocketTest, BatchedDrainKeepsEveryPacketApartAndInOrder) {
  // More than one recvmmsg batch, and not a multiple of it: every slot must hold its own
  // packet, in arrival order, for IPv4 and IPv6 alike.
  constexpr std::size_t kSent = CarpReceiver::kBatchSize * 2 + 3;
  static_assert(kSent < CarpReceiver::kMaxPacketsPerDrain);
  CarpReceiver receiver4(vb_, proto::Family::kIPv4);
  CarpReceiver receiver6(vb_, proto::Family::kIPv6);
  for (std::size_t i = 0; i < kSent; ++i) {
    const auto n = static_cast<std::uint8_t>(i);
    send(ipv4Frame(kMulticastMacV4, {198, 51, 100, n}, kGroupV4, 255, carpPayload(n)));
    send(ipv6Frame(kMulticastMacV6, kLinkLocal1, kGroupV6, n, carpPayload(n)));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CarpReceiver::DrainResult result4;
  const auto packets4 = receive(receiver4, &result4);
  ASSERT_EQ(packets4.size(), kSent);
  EXPECT_EQ(result4.delivered, kSent);
  EXPECT_EQ(result4.error, 0);
  const auto packets6 = receive(receiver6);
  ASSERT_EQ(packets6.size(), kSent);
  for (std::size_t i = 0; i < kSent; ++i) {
    const auto n = static_cast<std::uint8_t>(i);
    EXPECT_EQ(packets4[i].source, proto::IpAddress::v4({198, 51, 100, n})) << i;
    EXPECT_EQ(packets4[i].payload, carpPayload(n)) << i;
    EXPECT_EQ(packets6[i].ttl, n) << i;
    EXPECT_EQ(packets6[i].payload, carpPayload(n)) << i;
  }
}

TEST_F(CarpSocketTest, EachReceiverOwnsItsBuffers) {
  // A drain inside another receiver's callback must not overwrite the packet being handled:
  // a buffer shared between receivers (a static one) did exactly that.
  ASSERT_TRUE(shell("ip link add vc type veth peer name vd"));
  ASSERT_TRUE(shell("ip link set vc up"));
  ASSERT_TRUE(shell("ip link set vd up"));
  ASSERT_TRUE(waitUntilRunning("vc"));
  ASSERT_TRUE(waitUntilRunning("vd"));
  const int vc = static_cast<int>(::if_nametoindex("vc"));
  CarpReceiver outer(vb_, proto::Family::kIPv4);
  CarpReceiver inner(static_cast<int>(::if_nametoindex("vd")), proto::Family::kIPv4);
  send(ipv4Frame(kMulticastMacV4, {192, 0, 2, 1}, kGroupV4, 255, carpPayload(21)));
  ASSERT_TRUE(sender_
                  ->sendFrame(vc, ipv4Frame(kMulticastMacV4, {192, 0, 2, 9}, kGroupV4, 255,
                                            carpPayload(22)))
                  .has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Bytes outer_after_inner;
  Bytes inner_payload;
  outer.drain([&](const os::ReceivedPacket& packet) {
    inner.drain([&](const os::ReceivedPacket& p) {
      inner_payload.assign(p.payload.begin(), p.payload.end());
    });
    outer_after_inner.assign(packet.payload.begin(), packet.payload.end());
  });
  EXPECT_EQ(inner_payload, carpPayload(22));
  EXPECT_EQ(outer_after_inner, carpPayload(21));
}

TEST_F(CarpSocketTest, UnknownInterfaceThrows) {
  EXPECT_THROW(CarpReceiver(9999, proto::Family::kIPv4), std::system_error);
  EXPECT_THROW(CarpReceiver(9999, proto::Family::kIPv6), std::system_error);
}

}  // namespace
}  // namespace carp::os::lnx
