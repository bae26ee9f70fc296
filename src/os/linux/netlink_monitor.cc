#include "os/linux/netlink_monitor.h"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include <cerrno>

#include "os/linux/netlink_messages.h"

namespace carp::os::lnx {
namespace {

constexpr std::size_t kBufferSize = std::size_t{32} * 1024;
constexpr int kMaxDatagramsPerCall = 64;
// Bursts of changes (an interface with many addresses going down) must not overrun the
// socket; the kernel caps this at net.core.rmem_max.
constexpr int kReceiveBufferBytes = 1024 * 1024;

}  // namespace

NetlinkMonitor::NetlinkMonitor() : socket_(/*nonblocking=*/true), buffer_(kBufferSize) {
  socket_.setReceiveBuffer(kReceiveBufferBytes);
  socket_.joinGroup(RTNLGRP_LINK);
  socket_.joinGroup(RTNLGRP_IPV4_IFADDR);
  socket_.joinGroup(RTNLGRP_IPV6_IFADDR);
}

void NetlinkMonitor::onReadable() noexcept {
  bool overrun = false;
  for (int i = 0; i < kMaxDatagramsPerCall; ++i) {
    auto received = socket_.receive(buffer_);
    if (received) {
      dispatch(*received);
      continue;
    }
    const int error = received.error();
    if (error == EINTR) continue;
    // ENOBUFS: the kernel dropped notifications; ENOSPC: one did not fit our buffer. Either
    // way the receiver's view is stale. Keep reading what is still queued.
    if (error == ENOBUFS || error == ENOSPC) {
      overrun = true;
      continue;
    }
    break;  // EAGAIN: nothing more pending
  }
  if (overrun && on_overrun) on_overrun();
}

void NetlinkMonitor::dispatch(std::size_t length) noexcept {
  int remaining = static_cast<int>(length);
  for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer_.data()); mnl_nlmsg_ok(nlh, remaining);
       nlh = mnl_nlmsg_next(nlh, &remaining)) {
    switch (nlh->nlmsg_type) {
      case RTM_NEWLINK:
      case RTM_DELLINK: {
        const auto link = parseLink(*nlh);
        if (link && on_link) {
          on_link(link->ifindex, nlh->nlmsg_type == RTM_NEWLINK && link->running());
        }
        break;
      }
      case RTM_NEWADDR:
      case RTM_DELADDR: {
        const auto address = parseAddress(*nlh);
        if (!address) break;
        const auto& callback =
            nlh->nlmsg_type == RTM_NEWADDR ? on_address_added : on_address_removed;
        if (callback) callback(address->ifindex, address->address, address->carpdTagged());
        break;
      }
      default:
        break;
    }
  }
}

}  // namespace carp::os::lnx
