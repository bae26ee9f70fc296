#include "os/linux/netlink_interfaces.h"

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <string>

#include "os/linux/netlink_messages.h"

namespace carp::os::lnx {

NetlinkInterfaceDirectory::NetlinkInterfaceDirectory() {
  // Every VHID's interface is looked up at start and reload; without the kernel filtering
  // the address dump by interface, N interfaces cost N dumps of all N interfaces' addresses
  // (1,000 VLAN-like interfaces took a minute to start).
  socket_.enableStrictChecks();
}

std::optional<InterfaceInfo> NetlinkInterfaceDirectory::find(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return std::nullopt;
  NetlinkRequest request(RTM_GETLINK, 0);
  request.putExtraHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  const std::string terminated(name);
  mnl_attr_put_strz(request.header(), IFLA_IFNAME, terminated.c_str());
  return findLink(request);
}

std::optional<InterfaceInfo> NetlinkInterfaceDirectory::find(int ifindex) {
  if (ifindex <= 0) return std::nullopt;
  NetlinkRequest request(RTM_GETLINK, 0);
  auto* ifi = request.putExtraHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  return findLink(request);
}

std::optional<InterfaceInfo> NetlinkInterfaceDirectory::findLink(NetlinkRequest& request) {
  // Statistics are most of an RTM_NEWLINK message and of no use here.
  mnl_attr_put_u32(request.header(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::optional<InterfaceInfo> info;
  auto result = socket_.request(request, [&info](const nlmsghdr& nlh) {
    auto link = parseLink(nlh);
    if (!link) return true;
    info.emplace();
    info->ifindex = link->ifindex;
    info->name = link->name;
    info->mac = link->mac.value_or(proto::MacAddress{});
    info->running = link->running();
    return false;
  });
  if (!result || !info) return std::nullopt;
  if (!fillAddresses(*info)) return std::nullopt;
  return info;
}

bool NetlinkInterfaceDirectory::fillAddresses(InterfaceInfo& info) {
  NetlinkRequest request(RTM_GETADDR, 0);
  auto* ifa = request.putExtraHeader<ifaddrmsg>();
  ifa->ifa_family = AF_UNSPEC;                           // both families
  ifa->ifa_index = static_cast<unsigned>(info.ifindex);  // a filter under strict checking
  auto result = socket_.dump(
      request,
      [&info](const nlmsghdr& nlh) {
        auto address = parseAddress(nlh);
        // Kernels before 4.20 (no NETLINK_GET_STRICT_CHK) dump every interface's addresses;
        // filtering here as well works on every kernel.
        if (!address || address->ifindex != info.ifindex || address->carpdTagged()) return true;
        // An address whose duplicate address detection failed can never be used as a source.
        if (address->flags & IFA_F_DADFAILED) return true;
        auto& list =
            address->address.address.family == proto::Family::kIPv4 ? info.ipv4 : info.ipv6;
        list.push_back(address->address.address);
        return true;
      },
      [&info] {
        info.ipv4.clear();
        info.ipv6.clear();
      });
  return static_cast<bool>(result);
}

}  // namespace carp::os::lnx
