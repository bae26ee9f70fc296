#pragma once
// InterfaceDirectory over rtnetlink: each find() asks the kernel afresh (RTM_GETLINK and an
// RTM_GETADDR dump), so the answer is never stale and there is no cache to keep in step.

#include <optional>
#include <string_view>

#include "os/interfaces.h"
#include "os/linux/netlink_socket.h"

namespace carp::os::lnx {

class NetlinkInterfaceDirectory final : public os::InterfaceDirectory {
 public:
  // Opens its own netlink socket. Throws std::system_error.
  NetlinkInterfaceDirectory();

  // nullopt when there is no such interface or the kernel could not be asked. The address
  // lists leave out carpd's own (IFA_PROTO kCarpdAddressProto) addresses: they are the
  // advertisement sources, which must be the host's own addresses, never a virtual one.
  std::optional<InterfaceInfo> find(std::string_view name) override;
  std::optional<InterfaceInfo> find(int ifindex) override;

 private:
  std::optional<InterfaceInfo> findLink(NetlinkRequest& request);
  bool fillAddresses(InterfaceInfo& info);

  NetlinkSocket socket_;
};

}  // namespace carp::os::lnx
