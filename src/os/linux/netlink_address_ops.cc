#include "os/linux/netlink_address_ops.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <set>

#include "os/linux/netlink_address_manager.h"

namespace carp::os::lnx::ops {

std::string describe(const VhidBinding& binding) {
  return "vhid " + std::to_string(binding.vhid.value()) + " on " + binding.parent_name;
}

std::string formatAddress(const proto::InterfaceAddress& address) {
  char text[INET6_ADDRSTRLEN] = {};
  const bool v4 = address.address.family == proto::Family::kIPv4;
  inet_ntop(v4 ? AF_INET : AF_INET6, address.address.bytes.data(), text, sizeof(text));
  return std::string(text) + "/" + std::to_string(address.prefix_length);
}

void appendError(std::string& errors, const std::string& error) {
  if (!errors.empty()) errors += "; ";
  errors += error;
}

// A /32 or /128 address has no subnet, so nothing is on-link through it: no route, no rule.
bool hasSubnet(const proto::InterfaceAddress& address) {
  return address.prefix_length < (address.address.family == proto::Family::kIPv4 ? 32 : 128);
}

std::string ipv4Conf(const std::string& interface, const char* name) {
  return "/proc/sys/net/ipv4/conf/" + interface + "/" + name;
}

std::string ipv6Conf(const std::string& interface, const char* name) {
  return "/proc/sys/net/ipv6/conf/" + interface + "/" + name;
}

// Whether the kernel has IPv6 (not built without it or booted with ipv6.disable=1).
bool haveIpv6() { return ::access("/proc/sys/net/ipv6", F_OK) == 0; }

// The link called `name`, nullopt when there is none.
tl::expected<std::optional<LinkMessage>, NetlinkError> getLink(NetlinkSocket& socket,
                                                               const std::string& name) {
  NetlinkRequest request(RTM_GETLINK, 0);
  request.putExtraHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(request.header(), IFLA_IFNAME, name.c_str());
  mnl_attr_put_u32(request.header(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::optional<LinkMessage> link;
  auto result = socket.request(request, [&link](const nlmsghdr& nlh) {
    link = parseLink(nlh);
    return !link;
  });
  if (!result) {
    if (result.error().code == ENODEV) return std::optional<LinkMessage>{};
    return tl::unexpected(result.error());
  }
  return link;
}

tl::expected<void, NetlinkError> deleteLink(NetlinkSocket& socket, int ifindex) {
  NetlinkRequest request(RTM_DELLINK, 0);
  auto* ifi = request.putExtraHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  auto result = socket.request(request);
  if (!result && result.error().code == ENODEV) return {};
  return result;
}

// Sets the link administratively up or down. A link that is gone counts as down.
tl::expected<void, NetlinkError> setLinkUp(NetlinkSocket& socket, int ifindex, bool up) {
  NetlinkRequest request(RTM_NEWLINK, 0);
  auto* ifi = request.putExtraHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = up ? IFF_UP : 0;
  ifi->ifi_change = IFF_UP;
  auto result = socket.request(request);
  if (!result && !up && result.error().code == ENODEV) return {};
  return result;
}

// carpd's macvlans carry its alias. The kernel ignores IFLA_IFALIAS when it creates a link,
// so a carpd killed between creating the macvlan and setting the alias leaves one without:
// that one is recognised by what only carpd creates together, its name derived from the
// parent and the VHID and the VHID's virtual MAC.
bool isCarpdMacvlan(const LinkMessage& link) {
  if (link.kind != "macvlan") return false;
  if (link.alias.starts_with(kCarpdAliasPrefix)) return true;
  if (!link.alias.empty() || !link.mac || link.parent_ifindex <= 0) return false;
  const auto vhid = proto::Vhid::make((*link.mac)[5]);
  return vhid && *link.mac == proto::virtualMac(*vhid) &&
         link.name == NetlinkAddressManager::macvlanName(link.parent_ifindex, *vhid);
}

// Raises an integer sysctl to at least `minimum` (stricter values of arp_ignore/arp_announce
// that an administrator chose are kept), remembering the old value in `guard`.
tl::expected<void, std::string> raiseTo(SysctlGuard& guard, const std::string& path, int minimum) {
  auto current = readSysctl(path);
  if (!current) return tl::unexpected(current.error());
  int value = 0;
  const auto [end, error] =
      std::from_chars(current->data(), current->data() + current->size(), value);
  if (error == std::errc{} && value >= minimum) return {};
  return guard.set(path, std::to_string(minimum));
}

tl::expected<void, std::string> writeAll(
    const std::vector<std::pair<std::string, const char*>>& settings) {
  for (const auto& [path, value] : settings) {
    if (auto written = writeSysctl(path, value); !written) return written;
  }
  return {};
}

// Deletes the given (dumped) addresses. Deleting the primary IPv4 address of a subnet
// deletes its secondaries too unless promote_secondaries is set (the kernel default is 0,
// systemd sets 1): so that a carpd address never takes an administrator's with it,
// promote_secondaries is raised on the interface for the duration.
tl::expected<void, std::string> deleteAddresses(NetlinkSocket& socket,
                                                const std::vector<AddressMessage>& addresses) {
  std::string errors;
  std::set<int> interfaces;
  for (const auto& address : addresses) interfaces.insert(address.ifindex);
  for (const int ifindex : interfaces) {
    SysctlGuard promote;
    char name[IF_NAMESIZE] = {};
    const bool has_v4 = std::any_of(addresses.begin(), addresses.end(), [&](const auto& a) {
      return a.ifindex == ifindex && a.address.address.family == proto::Family::kIPv4;
    });
    if (has_v4 && if_indextoname(static_cast<unsigned>(ifindex), name) != nullptr) {
      (void)raiseTo(promote, ipv4Conf(name, "promote_secondaries"), 1);
    }
    for (const auto& address : addresses) {
      if (address.ifindex != ifindex) continue;
      NetlinkRequest request(RTM_DELADDR, 0);
      fillAddressRequest(request, ifindex, address.address, address.peer);
      auto result = socket.request(request);
      if (!result && result.error().code != EADDRNOTAVAIL && result.error().code != ENOENT &&
          result.error().code != ENODEV) {
        if (!errors.empty()) errors += "; ";
        errors += result.error().message;
      }
    }
  }
  if (!errors.empty()) return tl::unexpected(errors);
  return {};
}

}  // namespace carp::os::lnx::ops
