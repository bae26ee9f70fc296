#pragma once
// Receiving CARP (IP protocol 112) on one interface.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "os/linux/fd.h"
#include "os/packet_io.h"
#include "proto/types.h"

namespace carp::os::lnx {

// IP protocol number of CARP (IANA; shared with VRRP).
inline constexpr int kCarpProtocol = 112;

// A raw IPPROTO 112 socket bound to one interface and one address family, joined to the CARP
// multicast group (224.0.0.18 or ff02::12) on that interface unless told otherwise.
// Non-blocking; register fd() with the EventLoop and call drain() when it is readable.
class CarpReceiver {
 public:
  // What one drain() call saw.
  struct DrainResult {
    std::size_t delivered = 0;  // packets handed to the callback
    // Packets dropped here because their IPv4 header was malformed (bad version or IHL,
    // shorter than its header) or, for IPv6, the kernel gave no hop limit or destination.
    std::size_t malformed = 0;
    Errno error = 0;  // a receive error other than EAGAIN/EINTR (e.g. ENOMEM), 0 if none
  };

  // At most this many packets per drain(), so that a flood cannot starve the timers: the
  // socket is level-triggered in the loop, so the rest is read in the next round.
  static constexpr std::size_t kMaxPacketsPerDrain = 64;
  // Larger than any advertisement (IPv4 header up to 60 bytes + 36-byte CARP header); a
  // longer packet is passed on truncated to this size, and the validator judges it.
  static constexpr std::size_t kBufferSize = 2048;

  // Opens the socket on the interface with index ifindex. join_multicast false: unicast-only
  // VHIDs (peer mode), which need no group membership. Throws std::system_error on failure
  // (EPERM without CAP_NET_RAW, ENODEV for an unknown ifindex, ...).
  CarpReceiver(int ifindex, proto::Family family, bool join_multicast = true);

  int fd() const noexcept { return fd_.get(); }
  int ifindex() const noexcept { return ifindex_; }
  proto::Family family() const noexcept { return family_; }

  // Reads queued packets until the socket is empty or kMaxPacketsPerDrain were read, and calls
  // on_packet for each. The packet's payload points into a buffer that is reused for the
  // next packet: copy what must outlive the call. Does not throw unless on_packet does.
  DrainResult drain(const std::function<void(const os::ReceivedPacket&)>& on_packet);

 private:
  // Returns false when the queue is empty or on an error (stored in result.error).
  bool receiveIpv4(DrainResult& result, const std::function<void(const os::ReceivedPacket&)>& fn);
  bool receiveIpv6(DrainResult& result, const std::function<void(const os::ReceivedPacket&)>& fn);

  UniqueFd fd_;
  int ifindex_;
  proto::Family family_;
  std::array<std::uint8_t, kBufferSize> buffer_{};
};

}  // namespace carp::os::lnx
