#include "os/linux/carp_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace carp::os::lnx {
namespace {

// 224.0.0.18 and ff02::12, the CARP (and VRRP) groups (carp-wire.md §1.3, §1.4).
constexpr std::array<std::uint8_t, 4> kGroupV4 = {224, 0, 0, 18};
constexpr std::array<std::uint8_t, 16> kGroupV6 = {0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                                   0,    0,    0, 0, 0, 0, 0, 0x12};

constexpr std::size_t kIpv4MinHeader = 20;

void setIntOption(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) throwErrno(what);
}

std::uint16_t readBe16(std::span<const std::uint8_t> bytes, std::size_t offset) {
  return static_cast<std::uint16_t>((bytes[offset] << 8) | bytes[offset + 1]);
}

}  // namespace

CarpReceiver::CarpReceiver(int ifindex, proto::Family family, bool join_multicast)
    : ifindex_(ifindex), family_(family) {
  const bool v4 = family == proto::Family::kIPv4;
  const std::string where = " on ifindex " + std::to_string(ifindex);
  fd_.reset(
      ::socket(v4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kCarpProtocol));
  if (!fd_) throwErrno(v4 ? "socket(AF_INET, SOCK_RAW, 112)" : "socket(AF_INET6, SOCK_RAW, 112)");
  // By index rather than SO_BINDTODEVICE's name: an interface renamed between lookup and bind
  // cannot redirect the socket to another interface.
  setIntOption(fd_.get(), SOL_SOCKET, SO_BINDTOIFINDEX, ifindex,
               ("setsockopt(SO_BINDTOIFINDEX)" + where).c_str());
  if (v4) {
    setIntOption(fd_.get(), IPPROTO_IP, IP_MULTICAST_LOOP, 0, "setsockopt(IP_MULTICAST_LOOP)");
    if (join_multicast) {
      ip_mreqn request{};
      std::memcpy(&request.imr_multiaddr, kGroupV4.data(), kGroupV4.size());
      request.imr_address.s_addr = htonl(INADDR_ANY);
      request.imr_ifindex = ifindex;
      if (::setsockopt(fd_.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &request, sizeof request) != 0) {
        throwErrno("join 224.0.0.18" + where);
      }
    }
  } else {
    setIntOption(fd_.get(), IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0,
                 "setsockopt(IPV6_MULTICAST_LOOP)");
    // IPv6 raw sockets do not see the IP header: hop limit and destination come as
    // ancillary data (RFC 3542).
    setIntOption(fd_.get(), IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "setsockopt(IPV6_RECVHOPLIMIT)");
    setIntOption(fd_.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "setsockopt(IPV6_RECVPKTINFO)");
    if (join_multicast) {
      ipv6_mreq request{};
      std::memcpy(&request.ipv6mr_multiaddr, kGroupV6.data(), kGroupV6.size());
      request.ipv6mr_interface = static_cast<unsigned>(ifindex);
      if (::setsockopt(fd_.get(), IPPROTO_IPV6, IPV6_JOIN_GROUP, &request, sizeof request) != 0) {
        throwErrno("join ff02::12" + where);
      }
    }
  }
}

void CarpReceiver::prepare(std::size_t count) noexcept {
  const bool v6 = family_ == proto::Family::kIPv6;
  for (std::size_t i = 0; i < count; ++i) {
    Slot& slot = slots_[i];
    iovecs_[i] = {slot.data.data(), slot.data.size()};
    msghdr& message = messages_[i].msg_hdr;
    message = msghdr{};
    message.msg_iov = &iovecs_[i];
    message.msg_iovlen = 1;
    // IPv4 raw sockets deliver the IP header, which says all; IPv6 ones need the source
    // address and the ancillary hop limit and destination (RFC 3542).
    if (v6) {
      message.msg_name = &slot.from;
      message.msg_namelen = sizeof slot.from;
      message.msg_control = slot.control.data();
      message.msg_controllen = slot.control.size();
    }
    messages_[i].msg_len = 0;
  }
}

CarpReceiver::DrainResult CarpReceiver::drain(
    const std::function<void(const os::ReceivedPacket&)>& on_packet) {
  DrainResult result;
  const bool v4 = family_ == proto::Family::kIPv4;
  std::size_t handled = 0;
  while (handled < kMaxPacketsPerDrain) {
    const std::size_t want = std::min(kBatchSize, kMaxPacketsPerDrain - handled);
    prepare(want);
    const int count =
        ::recvmmsg(fd_.get(), messages_.data(), static_cast<unsigned>(want), 0, nullptr);
    if (count < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) result.error = errno;
      break;
    }
    const auto received = static_cast<std::size_t>(count);
    for (std::size_t i = 0; i < received; ++i) {
      if (v4) {
        deliverIpv4(i, result, on_packet);
      } else {
        deliverIpv6(i, result, on_packet);
      }
    }
    handled += received;
    if (received < want) break;  // the queue is empty
  }
  return result;
}

void CarpReceiver::deliverIpv4(std::size_t i, DrainResult& result,
                               const std::function<void(const os::ReceivedPacket&)>& on_packet) {
  // Linux raw IPv4 sockets deliver the IP header as received, with total length in network
  // order (unlike the BSDs, which convert it). Read it field by field.
  const std::size_t length = std::min<std::size_t>(messages_[i].msg_len, kBufferSize);
  const std::span<const std::uint8_t> packet(slots_[i].data.data(), length);
  if (packet.size() < kIpv4MinHeader || (packet[0] >> 4) != 4) {
    ++result.malformed;
    return;
  }
  const std::size_t header_length = std::size_t{packet[0] & 0x0fu} * 4;
  const std::size_t total_length = readBe16(packet, 2);
  if (header_length < kIpv4MinHeader || header_length > packet.size() ||
      total_length < header_length) {
    ++result.malformed;
    return;
  }
  // A total length beyond what was read means the packet was truncated to the buffer; pass
  // the bytes there are. Anything after total length is link-layer padding.
  const std::size_t end = total_length < packet.size() ? total_length : packet.size();
  os::ReceivedPacket received;
  received.ifindex = ifindex_;
  received.source = proto::IpAddress::v4({packet[12], packet[13], packet[14], packet[15]});
  received.destination = proto::IpAddress::v4({packet[16], packet[17], packet[18], packet[19]});
  received.ttl = packet[8];
  received.payload = packet.subspan(header_length, end - header_length);
  ++result.delivered;
  on_packet(received);
}

void CarpReceiver::deliverIpv6(std::size_t i, DrainResult& result,
                               const std::function<void(const os::ReceivedPacket&)>& on_packet) {
  msghdr& message = messages_[i].msg_hdr;
  const sockaddr_in6& from = slots_[i].from;
  bool have_hop_limit = false;
  bool have_destination = false;
  os::ReceivedPacket received;
  received.ifindex = ifindex_;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != IPPROTO_IPV6) continue;
    if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int hop_limit = 0;
      std::memcpy(&hop_limit, CMSG_DATA(c), sizeof hop_limit);
      if (hop_limit >= 0 && hop_limit <= 255) {
        received.ttl = static_cast<std::uint8_t>(hop_limit);
        have_hop_limit = true;
      }
    } else if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
      in6_pktinfo info{};
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      std::array<std::uint8_t, 16> bytes{};
      std::memcpy(bytes.data(), &info.ipi6_addr, bytes.size());
      received.destination = proto::IpAddress::v6(bytes);
      have_destination = true;
    }
  }
  if (!have_hop_limit || !have_destination || from.sin6_family != AF_INET6) {
    ++result.malformed;
    return;
  }
  std::array<std::uint8_t, 16> source{};
  std::memcpy(source.data(), &from.sin6_addr, source.size());
  received.source = proto::IpAddress::v6(source);
  const std::size_t length = std::min<std::size_t>(messages_[i].msg_len, kBufferSize);
  received.payload = std::span<const std::uint8_t>(slots_[i].data.data(), length);
  ++result.delivered;
  on_packet(received);
}

}  // namespace carp::os::lnx
