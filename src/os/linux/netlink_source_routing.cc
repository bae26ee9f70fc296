// The address manager's source routing: per virtual address on a macvlan, the connected route
// of its subnet in the macvlan's table and the rule "from <address> lookup <table>" (see
// netlink_address_manager.h for why).
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "os/linux/netlink_address_manager.h"
#include "os/linux/netlink_address_ops.h"

namespace carp::os::lnx {

using namespace ops;  // NOLINT

tl::expected<void, os::Error> NetlinkAddressManager::installSourceRouting(
    const Attachment& attachment, std::span<const proto::InterfaceAddress> addresses) {
  std::string errors;
  for (const auto& address : addresses) {
    if (!attachment.added.contains(address) || !hasSubnet(address)) continue;
    if (!attachment.table) {
      return tl::unexpected(os::Error::withMessage("no routing table for interface index " +
                                                   std::to_string(attachment.ifindex) +
                                                   " (beyond carpd's range)"));
    }
    // The route first: a rule without its route would only fall through to main.
    // NLM_F_CREATE without NLM_F_EXCL: IPv4 then keeps one route per preferred source (two
    // virtual addresses of one subnet each get theirs); an identical route gives EEXIST.
    NetlinkRequest route(RTM_NEWROUTE, NLM_F_CREATE);
    fillRouteRequest(route, sourceRoute(attachment.ifindex, *attachment.table, address));
    if (auto result = socket_.request(route); !result && result.error().code != EEXIST) {
      appendError(errors, formatAddress(address) + ": route: " + result.error().message);
      continue;
    }
    // NLM_F_EXCL, as without it the kernel adds a duplicate rule each time.
    NetlinkRequest rule(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL);
    fillRuleRequest(rule, sourceRule(*attachment.table, address.address));
    if (auto result = socket_.request(rule); !result && result.error().code != EEXIST) {
      appendError(errors, formatAddress(address) + ": rule: " + result.error().message);
    }
  }
  if (errors.empty()) return {};
  return tl::unexpected(os::Error::withMessage(std::move(errors)));
}

tl::expected<void, os::Error> NetlinkAddressManager::removeSourceRouting(
    const Attachment& attachment, std::span<const proto::InterfaceAddress> addresses) {
  if (!attachment.table) return {};
  const auto gone = [](const tl::expected<void, NetlinkError>& result) {
    return result || result.error().code == ENOENT || result.error().code == ESRCH ||
           result.error().code == ENODEV;
  };
  std::string errors;
  std::set<proto::InterfaceAddress> deleted_subnets;  // all in one table
  for (const auto& address : addresses) {
    if (!hasSubnet(address)) continue;
    // The kernel matches FRA_PROTOCOL and rtm_protocol: a hand-made rule or route that is
    // otherwise the same is not ours and stays.
    NetlinkRequest rule(RTM_DELRULE, 0);
    fillRuleRequest(rule, sourceRule(*attachment.table, address.address));
    if (auto result = socket_.request(rule); !gone(result)) {
      appendError(errors, formatAddress(address) + ": delete rule: " + result.error().message);
    }
    const RouteMessage message = sourceRoute(attachment.ifindex, *attachment.table, address);
    NetlinkRequest route(RTM_DELROUTE, 0);
    fillRouteRequest(route, message);
    if (auto result = socket_.request(route); !gone(result)) {
      appendError(errors, formatAddress(address) + ": delete route: " + result.error().message);
    }
    deleted_subnets.insert(message.destination);
  }
  // IPv6 keeps one route per subnet and link and deletes it whatever the preferred source:
  // a remaining virtual address of the same subnet gets it back.
  for (const auto& address : attachment.added) {
    if (!hasSubnet(address) ||
        std::find(addresses.begin(), addresses.end(), address) != addresses.end()) {
      continue;
    }
    const RouteMessage message = sourceRoute(attachment.ifindex, *attachment.table, address);
    if (!deleted_subnets.contains(message.destination)) continue;
    NetlinkRequest route(RTM_NEWROUTE, NLM_F_CREATE);
    fillRouteRequest(route, message);
    if (auto result = socket_.request(route); !result && result.error().code != EEXIST) {
      appendError(errors, formatAddress(address) + ": route: " + result.error().message);
    }
  }
  if (errors.empty()) return {};
  return tl::unexpected(os::Error::withMessage(std::move(errors)));
}

}  // namespace carp::os::lnx
