// Root only: each test builds two fresh network namespaces joined by a veth pair,
// "local" (va: 192.0.2.1/24, 2001:db8::1/64, fe80::1) where the senders live and "peer"
// (vb: 192.0.2.2/24, 2001:db8::2/64, fe80::2) where a CarpReceiver listens. Two namespaces,
// because within one the kernel would deliver unicast to its own addresses over loopback and
// drop multicast whose source is one of its own addresses.

#include "os/linux/packet_sender.h"

#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <vector>

#include "os/linux/carp_socket.h"
#include "os/linux/fd.h"
#include "support/netns_helpers.h"

namespace carp::os::lnx {
namespace {

using carp::testing::carpPayload;
using carp::testing::disableRpFilterAndDad;
using carp::testing::shell;
using carp::testing::waitUntilRunning;
using Bytes = std::vector<std::uint8_t>;

bool pollIn(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 3000) == 1;
}

const auto kLocalV4 = proto::IpAddress::v4({192, 0, 2, 1});
const auto kPeerV4 = proto::IpAddress::v4({192, 0, 2, 2});
const auto kGroupV4 = proto::IpAddress::v4({224, 0, 0, 18});
const auto kLocalV6 =
    proto::IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
const auto kPeerV6 =
    proto::IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
const auto kForeignV6 =
    proto::IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99});
const auto kLocalLinkLocal =
    proto::IpAddress::v6({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
const auto kGroupV6 =
    proto::IpAddress::v6({0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12});

struct Received {
  proto::IpAddress source;
  proto::IpAddress destination;
  std::uint8_t ttl = 0;
  Bytes payload;
};

class PacketSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!carp::testing::enterPrivateNetns(carp::testing::UnshareFailure::kSkipOnlyIfEperm)) return;
    ASSERT_NO_FATAL_FAILURE(peer_.create());
    ASSERT_NO_FATAL_FAILURE(peer_.run([] {
      disableRpFilterAndDad();
      // Takes ifindexes 2 and 3 here so that vb and va get different numbers. A veth whose
      // ifindex equals its peer's looks like a plain device to linkwatch (iflink == ifindex),
      // which then delays its carrier-up event by up to a second.
      ASSERT_TRUE(shell("ip link add spacer0 type veth peer name spacer1"));
    }));
    disableRpFilterAndDad();

    ASSERT_TRUE(shell("ip link add va type veth peer name vb netns " + peer_.path()));
    ASSERT_TRUE(shell("ip addr add 192.0.2.1/24 dev va"));
    ASSERT_TRUE(shell("ip -6 addr add 2001:db8::1/64 dev va nodad"));
    ASSERT_TRUE(shell("ip -6 addr add fe80::1/64 dev va nodad"));
    ASSERT_TRUE(shell("ip link set va up"));
    va_ = static_cast<int>(::if_nametoindex("va"));
    ASSERT_NE(va_, 0);

    // Sockets belong to the namespace they are created in; the process returns to "local".
    ASSERT_NO_FATAL_FAILURE(peer_.run([this] {
      ASSERT_TRUE(shell("ip addr add 192.0.2.2/24 dev vb"));
      ASSERT_TRUE(shell("ip -6 addr add 2001:db8::2/64 dev vb nodad"));
      ASSERT_TRUE(shell("ip -6 addr add fe80::2/64 dev vb nodad"));
      ASSERT_TRUE(shell("ip link set vb up"));
      vb_ = static_cast<int>(::if_nametoindex("vb"));
      ASSERT_NE(vb_, 0);
      ASSERT_TRUE(waitUntilRunning("vb"));
      receiver_v4_ = std::make_unique<CarpReceiver>(vb_, proto::Family::kIPv4);
      receiver_v6_ = std::make_unique<CarpReceiver>(vb_, proto::Family::kIPv6);
      // A plain raw socket, to see the whole IPv4 header the sender built.
      capture_.reset(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, 112));
      ASSERT_TRUE(capture_.valid());
      ASSERT_EQ(::setsockopt(capture_.get(), SOL_SOCKET, SO_BINDTOIFINDEX, &vb_, sizeof vb_), 0);
    }));
    ASSERT_TRUE(waitUntilRunning("va"));

    sender_ = std::make_unique<RawIpSender>();
    frame_sender_ = std::make_unique<PacketSocketSender>();
  }

  static std::vector<Received> receive(CarpReceiver& receiver) {
    std::vector<Received> packets;
    if (!pollIn(receiver.fd())) return packets;
    receiver.drain([&](const os::ReceivedPacket& packet) {
      packets.push_back({packet.source, packet.destination, packet.ttl,
                         Bytes(packet.payload.begin(), packet.payload.end())});
    });
    return packets;
  }

  Bytes captureIpv4Header() {
    if (!pollIn(capture_.get())) return {};
    Bytes packet(2048);
    const ssize_t length = ::recv(capture_.get(), packet.data(), packet.size(), 0);
    if (length < 20) return {};
    packet.resize(20);
    return packet;
  }

  int va_ = 0;
  int vb_ = 0;
  carp::testing::PeerNetns peer_;  // the process stays in "local"
  UniqueFd capture_;
  std::unique_ptr<CarpReceiver> receiver_v4_;
  std::unique_ptr<CarpReceiver> receiver_v6_;
  std::unique_ptr<RawIpSender> sender_;
  std::unique_ptr<PacketSocketSender> frame_sender_;
};

TEST_F(PacketSenderTest, Ipv4MulticastCarriesTheCarpHeaderFields) {
  auto sent = sender_->sendIp(va_, kLocalV4, kGroupV4, carpPayload(1));
  ASSERT_TRUE(sent.has_value()) << "errno " << sent.error();
  const auto packets = receive(*receiver_v4_);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].source, kLocalV4);
  EXPECT_EQ(packets[0].destination, kGroupV4);
  EXPECT_EQ(packets[0].ttl, 255);
  EXPECT_EQ(packets[0].payload, carpPayload(1));

  const Bytes header = captureIpv4Header();
  ASSERT_EQ(header.size(), 20u);
  EXPECT_EQ(header[0], 0x45);
  EXPECT_EQ(header[1], RawIpSender::kDefaultTos);
  EXPECT_EQ((header[2] << 8) | header[3], 56);  // carp-wire.md §1.3
  EXPECT_EQ(header[6], 0x40);                   // DF, offset 0
  EXPECT_EQ(header[7], 0x00);
  EXPECT_EQ(header[8], 255);
  EXPECT_EQ(header[9], 112);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < 20; i += 2) sum += (header[i] << 8) | header[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  EXPECT_EQ(sum, 0xffffu) << "header checksum";
}

TEST_F(PacketSenderTest, Ipv4IdsAreNotAConstant) {
  std::vector<int> ids;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(sender_->sendIp(va_, kLocalV4, kGroupV4, carpPayload(2)).has_value());
    const Bytes header = captureIpv4Header();
    ASSERT_EQ(header.size(), 20u);
    ids.push_back((header[4] << 8) | header[5]);
  }
  bool all_equal = true;
  for (int id : ids) all_equal = all_equal && id == ids[0];
  EXPECT_FALSE(all_equal);
}

TEST_F(PacketSenderTest, TosIsConfigurable) {
  RawIpSender freebsd_like(0xe0);
  ASSERT_TRUE(freebsd_like.sendIp(va_, kLocalV4, kGroupV4, carpPayload(3)).has_value());
  const Bytes header = captureIpv4Header();
  ASSERT_EQ(header.size(), 20u);
  EXPECT_EQ(header[1], 0xe0);
}

TEST_F(PacketSenderTest, Ipv4UnicastIsRoutedToThePeer) {
  auto sent = sender_->sendIp(va_, kLocalV4, kPeerV4, carpPayload(4));
  ASSERT_TRUE(sent.has_value()) << "errno " << sent.error();
  const auto packets = receive(*receiver_v4_);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].source, kLocalV4);
  EXPECT_EQ(packets[0].destination, kPeerV4);
  EXPECT_EQ(packets[0].ttl, 255);
  EXPECT_EQ(packets[0].payload, carpPayload(4));
}

TEST_F(PacketSenderTest, Ipv4ZeroSourceIsFilledInByTheKernel) {
  ASSERT_TRUE(sender_->sendIp(va_, proto::IpAddress::v4({0, 0, 0, 0}), kGroupV4, carpPayload(5))
                  .has_value());
  const auto packets = receive(*receiver_v4_);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].source, kLocalV4);
}

TEST_F(PacketSenderTest, Ipv6MulticastFromTheLinkLocalAddress) {
  auto sent = sender_->sendIp(va_, kLocalLinkLocal, kGroupV6, carpPayload(6));
  ASSERT_TRUE(sent.has_value()) << "errno " << sent.error();
  const auto packets = receive(*receiver_v6_);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].source, kLocalLinkLocal);
  EXPECT_EQ(packets[0].destination, kGroupV6);
  EXPECT_EQ(packets[0].ttl, 255);
  EXPECT_EQ(packets[0].payload, carpPayload(6));
}

TEST_F(PacketSenderTest, Ipv6UnicastIsRoutedToThePeer) {
  auto sent = sender_->sendIp(va_, kLocalV6, kPeerV6, carpPayload(7));
  ASSERT_TRUE(sent.has_value()) << "errno " << sent.error();
  const auto packets = receive(*receiver_v6_);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].source, kLocalV6);
  EXPECT_EQ(packets[0].destination, kPeerV6);
  EXPECT_EQ(packets[0].ttl, 255);
  EXPECT_EQ(packets[0].payload, carpPayload(7));
}

TEST_F(PacketSenderTest, Ipv6SourceMustBeLocal) {
  auto sent = sender_->sendIp(va_, kForeignV6, kGroupV6, carpPayload(8));
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error(), EINVAL);
}

TEST_F(PacketSenderTest, MixedFamiliesAreRejected) {
  auto sent = sender_->sendIp(va_, kLocalV4, kGroupV6, carpPayload(9));
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error(), EAFNOSUPPORT);
}

TEST_F(PacketSenderTest, FrameSenderReportsErrors) {
  const Bytes frame(60, 0xff);
  auto too_short = frame_sender_->sendFrame(va_, Bytes(13, 0));
  ASSERT_FALSE(too_short.has_value());
  EXPECT_EQ(too_short.error(), EINVAL);

  auto unknown = frame_sender_->sendFrame(9999, frame);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error(), ENXIO);

  ASSERT_TRUE(shell("ip link set va down"));
  auto down = frame_sender_->sendFrame(va_, frame);
  ASSERT_FALSE(down.has_value());
  EXPECT_EQ(down.error(), ENETDOWN);
}

TEST_F(PacketSenderTest, FrameSenderSendsTheFrameUnchanged) {
  // A raw AF_PACKET capture on the peer sees the frame byte for byte.
  UniqueFd tap;
  ASSERT_NO_FATAL_FAILURE(tap.reset(
      peer_.run([] { return ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(0x88b5)); })));
  ASSERT_TRUE(tap.valid());
  // Local experimental EtherType 0x88b5 (IEEE 802), so nothing else in the namespace reacts.
  Bytes frame = {0x02, 0, 0, 0, 0, 2, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x07, 0x88, 0xb5};
  const Bytes body = carpPayload(10);
  frame.insert(frame.end(), body.begin(), body.end());
  frame.resize(60, 0);
  ASSERT_TRUE(frame_sender_->sendFrame(va_, frame).has_value());
  ASSERT_TRUE(pollIn(tap.get()));
  Bytes received(2048);
  const ssize_t length = ::recv(tap.get(), received.data(), received.size(), 0);
  ASSERT_GT(length, 0);
  received.resize(static_cast<std::size_t>(length));
  EXPECT_EQ(received, frame);
}

}  // namespace
}  // namespace carp::os::lnx
