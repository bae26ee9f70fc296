#pragma once
// Sending what the daemon built: whole Ethernet frames, or CARP payloads that the kernel
// routes.

#include <cstdint>
#include <span>
#include <tl/expected.hpp>

#include "os/linux/fd.h"
#include "os/packet_io.h"
#include "proto/address.h"

namespace carp::os::lnx {

// Sends complete Ethernet frames (header included) on any interface through one AF_PACKET
// socket. Protocol 0: the socket never receives, so nothing queues up on it.
// Non-blocking: a full transmit queue returns EAGAIN/ENOBUFS instead of stalling the loop.
class PacketSocketSender final : public os::FrameSender {
 public:
  // Throws std::system_error (EPERM without CAP_NET_RAW).
  PacketSocketSender();

  // Errors: EINVAL for a frame shorter than an Ethernet header, otherwise the errno of
  // sendto (ENXIO/ENODEV unknown interface, ENETDOWN interface down, EMSGSIZE beyond MTU).
  tl::expected<void, Errno> sendFrame(int ifindex,
                                      std::span<const std::uint8_t> frame) noexcept override;

 private:
  UniqueFd fd_;
};

// Sends a CARP payload as IP protocol 112 through the kernel's routing, ARP and ND: for
// unicast peers. TTL / hop limit 255. One raw socket per family.
//
// IPv4: IP_HDRINCL, with a 20-byte header built here: TOS as configured, a random ID, DF,
// TTL 255 and the given source as is (carp-wire.md §1.3, §11.1). IPv6: hop limits 255 and the
// source through IPV6_PKTINFO, which must be an address of this host and not tentative.
//
// ifindex is the outgoing interface for multicast and IPv6 link-local destinations; any other
// destination follows the routing table, as ip_output does for both BSDs' unicast peers.
class RawIpSender final : public os::IpSender {
 public:
  // OpenBSD's IPTOS_LOWDELAY; FreeBSD sends DSCP CS7 (0xe0). Receivers never check it.
  static constexpr std::uint8_t kDefaultTos = 0x10;

  // tos: IPv4 TOS byte and IPv6 traffic class. Throws std::system_error (EPERM without
  // CAP_NET_RAW). A kernel without IPv6 is not an error: IPv6 sends then fail with
  // EAFNOSUPPORT, so that an IPv4-only host can still run.
  explicit RawIpSender(std::uint8_t tos = kDefaultTos);

  // An IPv4 source 0.0.0.0 lets the kernel choose one. Errors: EAFNOSUPPORT when source and
  // destination families differ (or no IPv6), EMSGSIZE for a payload
  // that does not fit an IP packet, otherwise the errno of sendmsg (ENETUNREACH, EINVAL for
  // an IPv6 source that is not local, EAGAIN/ENOBUFS when the queue is full, ...).
  tl::expected<void, Errno> sendIp(int ifindex, const proto::IpAddress& source,
                                   const proto::IpAddress& destination,
                                   std::span<const std::uint8_t> payload) noexcept override;

 private:
  tl::expected<void, Errno> sendIpv4(int ifindex, const proto::IpAddress& source,
                                     const proto::IpAddress& destination,
                                     std::span<const std::uint8_t> payload) noexcept;
  tl::expected<void, Errno> sendIpv6(int ifindex, const proto::IpAddress& source,
                                     const proto::IpAddress& destination,
                                     std::span<const std::uint8_t> payload) noexcept;
  std::uint16_t nextId() noexcept;

  std::uint8_t tos_;
  UniqueFd v4_;
  UniqueFd v6_;
  std::uint64_t id_state_ = 0;
};

}  // namespace carp::os::lnx
