#pragma once
// Receiving CARP (IP protocol 112) on one interface.

#include <netinet/in.h>
#include <sys/socket.h>

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
  // Packets read per recvmmsg: a flood of forged adverts costs one syscall per batch instead
  // of one per packet (bench/flood).
  static constexpr std::size_t kBatchSize = 16;
  // Per packet: larger than any advertisement (IPv4 header up to 60 bytes + 36-byte CARP
  // header); a longer packet is passed on truncated to this size, and the validator judges
  // it. Small on purpose: with `realtime = true` mlockall pins every receiver's buffers.
  static constexpr std::size_t kBufferSize = 256;

  // Opens the socket on the interface with index ifindex. join_multicast false: unicast-only
  // VHIDs (peer mode), which need no group membership. Throws std::system_error on failure
  // (EPERM without CAP_NET_RAW, ENODEV for an unknown ifindex, ...).
  CarpReceiver(int ifindex, proto::Family family, bool join_multicast = true);

  int fd() const noexcept { return fd_.get(); }
  int ifindex() const noexcept { return ifindex_; }
  proto::Family family() const noexcept { return family_; }

  // Reads queued packets (kBatchSize per syscall) until the socket is empty or
  // kMaxPacketsPerDrain were read, and calls on_packet for each. The packet's payload points into a
  // buffer that is reused for the next packet: copy what must outlive the call. Does not throw
  // unless on_packet does.
  DrainResult drain(const std::function<void(const os::ReceivedPacket&)>& on_packet);

 private:
  // Room for a hop limit and a packet info message (IPv6), with slack for others.
  static constexpr std::size_t kControlSize =
      CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(in6_pktinfo)) + 64;

  // One received packet's storage. Members of the receiver, never static: each receiver
  // (and each drain nested in another's callback) has buffers of its own. Left
  // uninitialised on purpose (the kernel writes them before they are read): a slot's pages
  // become resident only once a packet lands there, so 1,000 mostly idle receivers do not
  // cost 1,000 full batches of memory.
  struct Slot {
    std::array<std::uint8_t, kBufferSize> data;
    sockaddr_in6 from;
    alignas(cmsghdr) std::array<unsigned char, kControlSize> control;
  };

  // Points messages_[0..count) at their slots (again each time: the receiver may have moved).
  void prepare(std::size_t count) noexcept;
  // Parse slot i of the last recvmmsg and call on_packet, or count it as malformed.
  void deliverIpv4(std::size_t i, DrainResult& result,
                   const std::function<void(const os::ReceivedPacket&)>& on_packet);
  void deliverIpv6(std::size_t i, DrainResult& result,
                   const std::function<void(const os::ReceivedPacket&)>& on_packet);

  UniqueFd fd_;
  int ifindex_;
  proto::Family family_;
  std::array<Slot, kBatchSize> slots_;
  std::array<iovec, kBatchSize> iovecs_{};
  std::array<mmsghdr, kBatchSize> messages_{};
};

}  // namespace carp::os::lnx
