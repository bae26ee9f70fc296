#include "os/linux/packet_sender.h"

#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "os/linux/carp_socket.h"

namespace carp::os::lnx {
namespace {

// OpenBSD ip_carp.c sends advertisements with packet priority 6 (CARP_IFQ_PRIO); on Linux
// SO_PRIORITY 6 (TC_PRIO_INTERACTIVE) puts them in pfifo_fast's first band, ahead of bulk
// traffic that could otherwise delay them past the backups' timeouts.
constexpr int kSocketPriority = 6;
constexpr std::uint8_t kTtl = 255;
constexpr std::size_t kIpv4HeaderLength = 20;
constexpr std::size_t kIpv4MaxTotalLength = 65535;
constexpr std::size_t kIpv6MaxPayloadLength = 65535;

void setIntOption(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) throwErrno(what);
}

// The senders' raw sockets are bound to protocol 112 and would otherwise get a copy of every
// CARP packet the host receives, queued until the buffer fills, never read. A one-instruction
// classic BPF program ("return 0") drops them before they are queued.
void dropAllReceived(int fd) {
  sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
  sock_fprog program{1, &drop};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0) {
    throwErrno("setsockopt(SO_ATTACH_FILTER)");
  }
}

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool isMulticast(const proto::IpAddress& a) {
  return a.family == proto::Family::kIPv4 ? (a.bytes[0] & 0xf0) == 0xe0 : a.bytes[0] == 0xff;
}

// sendmsg with one packet-info control message (IP_PKTINFO / IPV6_PKTINFO), which picks the
// source address and, for link-scoped destinations, the interface.
template <class Address, class Info>
tl::expected<void, Errno> sendWithPacketInfo(int fd, Address& to, iovec* io, std::size_t io_count,
                                             int level, int type, const Info& info) noexcept {
  alignas(cmsghdr) std::array<unsigned char, CMSG_SPACE(sizeof(Info))> control{};
  msghdr message{};
  message.msg_name = &to;
  message.msg_namelen = sizeof to;
  message.msg_iov = io;
  message.msg_iovlen = io_count;
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&message);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(sizeof info);
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
  ssize_t sent;
  do {
    sent = ::sendmsg(fd, &message, 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return tl::unexpected(errno);
  return {};
}

}  // namespace

// --- PacketSocketSender ---------------------------------------------------------------------

PacketSocketSender::PacketSocketSender()
    : fd_(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {
  if (!fd_) throwErrno("socket(AF_PACKET, SOCK_RAW, 0)");
  setIntOption(fd_.get(), SOL_SOCKET, SO_PRIORITY, kSocketPriority, "setsockopt(SO_PRIORITY)");
}

tl::expected<void, Errno> PacketSocketSender::sendFrame(
    int ifindex, std::span<const std::uint8_t> frame) noexcept {
  if (frame.size() < ETH_HLEN) return tl::unexpected(EINVAL);
  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_ifindex = ifindex;
  // The EtherType from the frame, so that the kernel (qdisc classification, taps) sees the
  // right protocol; the destination MAC is taken from the frame itself with SOCK_RAW.
  std::memcpy(&address.sll_protocol, frame.data() + 12, sizeof address.sll_protocol);
  address.sll_halen = ETH_ALEN;
  std::memcpy(address.sll_addr, frame.data(), ETH_ALEN);
  ssize_t sent;
  do {
    sent = ::sendto(fd_.get(), frame.data(), frame.size(), 0,
                    reinterpret_cast<const sockaddr*>(&address), sizeof address);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return tl::unexpected(errno);
  if (static_cast<std::size_t>(sent) != frame.size()) return tl::unexpected(EMSGSIZE);
  return {};
}

// --- RawIpSender ----------------------------------------------------------------------------

RawIpSender::RawIpSender(std::uint8_t tos) : tos_(tos) {
  v4_.reset(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kCarpProtocol));
  if (!v4_) throwErrno("socket(AF_INET, SOCK_RAW, 112)");
  // The header is built here for a random ID and a source that need not be the route's
  // preferred source (carp-wire.md §1.3); the kernel still fills in checksum and length.
  setIntOption(v4_.get(), IPPROTO_IP, IP_HDRINCL, 1, "setsockopt(IP_HDRINCL)");
  setIntOption(v4_.get(), IPPROTO_IP, IP_MULTICAST_LOOP, 0, "setsockopt(IP_MULTICAST_LOOP)");
  setIntOption(v4_.get(), SOL_SOCKET, SO_PRIORITY, kSocketPriority, "setsockopt(SO_PRIORITY)");
  dropAllReceived(v4_.get());

  v6_.reset(::socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kCarpProtocol));
  if (v6_) {
    setIntOption(v6_.get(), IPPROTO_IPV6, IPV6_UNICAST_HOPS, kTtl, "setsockopt(IPV6_UNICAST_HOPS)");
    setIntOption(v6_.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, kTtl,
                 "setsockopt(IPV6_MULTICAST_HOPS)");
    setIntOption(v6_.get(), IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0,
                 "setsockopt(IPV6_MULTICAST_LOOP)");
    setIntOption(v6_.get(), IPPROTO_IPV6, IPV6_TCLASS, tos_, "setsockopt(IPV6_TCLASS)");
    setIntOption(v6_.get(), SOL_SOCKET, SO_PRIORITY, kSocketPriority, "setsockopt(SO_PRIORITY)");
    dropAllReceived(v6_.get());
  } else if (errno != EAFNOSUPPORT) {
    throwErrno("socket(AF_INET6, SOCK_RAW, 112)");
  }

  // Seed for the IPv4 IDs. They need to be unpredictable only in the sense OpenBSD's
  // ip_randomid is (no counter to fingerprint hosts by), not cryptographically; early at
  // boot the entropy pool may not be ready, and then the clock is good enough.
  if (::getrandom(&id_state_, sizeof id_state_, GRND_NONBLOCK) !=
      static_cast<ssize_t>(sizeof id_state_)) {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    id_state_ = static_cast<std::uint64_t>(ts.tv_sec) * 1000000007ull +
                static_cast<std::uint64_t>(ts.tv_nsec);
  }
}

std::uint16_t RawIpSender::nextId() noexcept {
  // 0 would make the kernel pick the ID itself; skip it so that every ID is ours.
  for (;;) {
    const auto id = static_cast<std::uint16_t>(splitmix64(id_state_));
    if (id != 0) return id;
  }
}

tl::expected<void, Errno> RawIpSender::sendIp(int ifindex, const proto::IpAddress& source,
                                              const proto::IpAddress& destination,
                                              std::span<const std::uint8_t> payload) noexcept {
  if (source.family != destination.family) return tl::unexpected(EAFNOSUPPORT);
  return destination.family == proto::Family::kIPv4
             ? sendIpv4(ifindex, source, destination, payload)
             : sendIpv6(ifindex, source, destination, payload);
}

tl::expected<void, Errno> RawIpSender::sendIpv4(int ifindex, const proto::IpAddress& source,
                                                const proto::IpAddress& destination,
                                                std::span<const std::uint8_t> payload) noexcept {
  if (payload.size() > kIpv4MaxTotalLength - kIpv4HeaderLength) return tl::unexpected(EMSGSIZE);
  const auto total_length = static_cast<std::uint16_t>(kIpv4HeaderLength + payload.size());
  const std::uint16_t id = nextId();
  // RFC 791 header; the checksum stays 0 because the kernel always computes it for
  // IP_HDRINCL (raw_send_hdrinc), and it rewrites total length too.
  std::array<std::uint8_t, kIpv4HeaderLength> header = {
      0x45,
      tos_,
      static_cast<std::uint8_t>(total_length >> 8),
      static_cast<std::uint8_t>(total_length),
      static_cast<std::uint8_t>(id >> 8),
      static_cast<std::uint8_t>(id),
      0x40,  // DF, fragment offset 0
      0x00,
      kTtl,
      static_cast<std::uint8_t>(kCarpProtocol),
      0x00,
      0x00,
      source.bytes[0],
      source.bytes[1],
      source.bytes[2],
      source.bytes[3],
      destination.bytes[0],
      destination.bytes[1],
      destination.bytes[2],
      destination.bytes[3]};

  sockaddr_in to{};
  to.sin_family = AF_INET;
  std::memcpy(&to.sin_addr, destination.bytes.data(), 4);
  std::array<iovec, 2> io = {iovec{header.data(), header.size()},
                             iovec{const_cast<std::uint8_t*>(payload.data()), payload.size()}};

  // IP_PKTINFO: the outgoing interface for multicast, and the source as the route lookup's
  // source too, so that source-based policy routing (ip rule from ...) applies. 0.0.0.0 is
  // left out: the route lookup rejects it as a source, and the kernel then fills one in.
  in_pktinfo info{};
  info.ipi_ifindex = isMulticast(destination) ? ifindex : 0;
  std::memcpy(&info.ipi_spec_dst, source.bytes.data(), 4);
  return sendWithPacketInfo(v4_.get(), to, io.data(), io.size(), IPPROTO_IP, IP_PKTINFO, info);
}

tl::expected<void, Errno> RawIpSender::sendIpv6(int ifindex, const proto::IpAddress& source,
                                                const proto::IpAddress& destination,
                                                std::span<const std::uint8_t> payload) noexcept {
  if (!v6_) return tl::unexpected(EAFNOSUPPORT);
  if (payload.size() > kIpv6MaxPayloadLength) return tl::unexpected(EMSGSIZE);
  // Link-scoped destinations and sources are meaningless without an interface; anything else
  // is routed.
  const bool on_link =
      isMulticast(destination) || destination.isIpv6LinkLocal() || source.isIpv6LinkLocal();
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  std::memcpy(&to.sin6_addr, destination.bytes.data(), 16);
  if (on_link) to.sin6_scope_id = static_cast<std::uint32_t>(ifindex);
  iovec io{const_cast<std::uint8_t*>(payload.data()), payload.size()};

  in6_pktinfo info{};
  std::memcpy(&info.ipi6_addr, source.bytes.data(), 16);
  info.ipi6_ifindex = on_link ? static_cast<unsigned>(ifindex) : 0;
  return sendWithPacketInfo(v6_.get(), to, &io, 1, IPPROTO_IPV6, IPV6_PKTINFO, info);
}

}  // namespace carp::os::lnx
