#pragma once
// Sending and receiving CARP traffic. The daemon builds every byte (proto/frames.h); these
// interfaces only move them.

#include <cstdint>
#include <span>
#include <tl/expected.hpp>

#include "proto/address.h"

namespace carp::os {

using Errno = int;

// Complete Ethernet frames (advertisements with the virtual MAC, gratuitous ARP, unsolicited
// NA), sent as they are on one interface. Linux: an AF_PACKET socket.
class FrameSender {
 public:
  virtual ~FrameSender() = default;
  virtual tl::expected<void, Errno> sendFrame(int ifindex,
                                              std::span<const std::uint8_t> frame) noexcept = 0;
};

// A CARP payload in an IP packet that the kernel routes (unicast peers, which need ARP/ND and
// routing). TTL / hop limit 255, protocol 112, IPv4 DF. Linux: raw IPPROTO 112 sockets.
class IpSender {
 public:
  virtual ~IpSender() = default;
  virtual tl::expected<void, Errno> sendIp(int ifindex, const proto::IpAddress& source,
                                           const proto::IpAddress& destination,
                                           std::span<const std::uint8_t> payload) noexcept = 0;
};

// A CARP packet as received: the IP payload and what the IP header said about it.
struct ReceivedPacket {
  int ifindex = 0;
  proto::IpAddress source;
  proto::IpAddress destination;
  std::uint8_t ttl = 0;  // TTL or hop limit
  std::span<const std::uint8_t> payload;
};

}  // namespace carp::os
