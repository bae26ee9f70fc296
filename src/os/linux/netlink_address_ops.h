#pragma once
// The netlink and sysctl steps the address manager's concerns share (macvlan lifecycle,
// per-VHID sysctls, source routing, the stale sweep): small, stateless, over one socket.

#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "os/address_manager.h"
#include "os/linux/netlink_messages.h"
#include "os/linux/netlink_socket.h"
#include "os/linux/sysctl.h"

namespace carp::os::lnx::ops {

// "vhid <vhid> on <parent>", also the tail of a macvlan's alias.
std::string describe(const VhidBinding& binding);
std::string formatAddress(const proto::InterfaceAddress& address);
void appendError(std::string& errors, const std::string& error);
// A /32 or /128 address has no subnet, so nothing is on-link through it: no route, no rule.
bool hasSubnet(const proto::InterfaceAddress& address);
std::string ipv4Conf(const std::string& interface, const char* name);
std::string ipv6Conf(const std::string& interface, const char* name);
// Whether the kernel has IPv6 (not built without it or booted with ipv6.disable=1).
bool haveIpv6();
// The link called `name`, nullopt when there is none.
tl::expected<std::optional<LinkMessage>, NetlinkError> getLink(NetlinkSocket& socket,
                                                               const std::string& name);
// A link that is already gone counts as deleted.
tl::expected<void, NetlinkError> deleteLink(NetlinkSocket& socket, int ifindex);
// Sets the link administratively up or down. A link that is gone counts as down.
tl::expected<void, NetlinkError> setLinkUp(NetlinkSocket& socket, int ifindex, bool up);
// Whether the link is one of carpd's macvlans (its alias, or its name and virtual MAC).
bool isCarpdMacvlan(const LinkMessage& link);
// Raises an integer sysctl to at least `minimum`, remembering the old value in `guard`.
tl::expected<void, std::string> raiseTo(SysctlGuard& guard, const std::string& path, int minimum);
tl::expected<void, std::string> writeAll(
    const std::vector<std::pair<std::string, const char*>>& settings);
// Deletes the given (dumped) addresses; ones already gone count as deleted.
tl::expected<void, std::string> deleteAddresses(NetlinkSocket& socket,
                                                const std::vector<AddressMessage>& addresses);

}  // namespace carp::os::lnx::ops
