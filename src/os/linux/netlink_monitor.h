#pragma once
// Link and address changes as the kernel announces them (rtnetlink multicast groups
// RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR), for the event loop.

#include <cstddef>
#include <functional>
#include <vector>

#include "os/linux/netlink_socket.h"
#include "proto/address.h"

namespace carp::os::lnx {

class NetlinkMonitor {
 public:
  // Opens a non-blocking netlink socket subscribed to the three groups. Throws
  // std::system_error.
  NetlinkMonitor();

  // For epoll (EPOLLIN); the socket is non-blocking.
  int fd() const noexcept { return socket_.fd(); }
  // Reads what is pending (a bounded number of datagrams, so that a flood of changes cannot
  // starve the rest of the loop: level-triggered epoll calls again) and invokes the callbacks.
  // Never throws; the callbacks must not throw either.
  void onReadable() noexcept;

  // A link's state as the kernel reported it (RTM_NEWLINK: up and running; RTM_DELLINK:
  // false). Reported on every change of the link, not only of its running state: the
  // receiver filters duplicates.
  std::function<void(int ifindex, bool running)> on_link;
  // carpd_tagged: the address carries kCarpdAddressProto (it is one of carpd's).
  std::function<void(int ifindex, const proto::InterfaceAddress& address, bool carpd_tagged)>
      on_address_added;
  std::function<void(int ifindex, const proto::InterfaceAddress& address, bool carpd_tagged)>
      on_address_removed;
  // The socket overran (ENOBUFS) or a datagram was truncated: notifications were lost, and
  // the receiver should re-read the state it cares about (InterfaceDirectory::find).
  std::function<void()> on_overrun;

 private:
  void dispatch(std::size_t length) noexcept;

  NetlinkSocket socket_;
  std::vector<std::byte> buffer_;
};

}  // namespace carp::os::lnx
