// The address manager's start-up sweep: removes what an earlier carpd left behind, and never
// what a live carpd in the same namespace owns (StaleFilter, issue 12 "instance isolation").
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <charconv>
#include <map>
#include <set>
#include <string_view>
#include <vector>

#include "os/linux/netlink_address_manager.h"
#include "os/linux/netlink_address_ops.h"

namespace carp::os::lnx {

using namespace ops;  // NOLINT

namespace {

// The (parent, VHID) of one of carpd's macvlans: from its alias "carpd vhid N on PARENT", else
// (a carpd killed before it set the alias) from its virtual MAC and its parent's name.
std::optional<std::pair<std::string, proto::Vhid>> macvlanOwner(
    const LinkMessage& link, const std::map<int, std::string>& names) {
  std::string_view alias = link.alias;
  constexpr std::string_view kVhid = "vhid ";
  constexpr std::string_view kOn = " on ";
  if (alias.starts_with(kCarpdAliasPrefix)) {
    alias.remove_prefix(std::string_view(kCarpdAliasPrefix).size());
    if (alias.starts_with(kVhid)) {
      alias.remove_prefix(kVhid.size());
      unsigned value = 0;
      const auto [end, error] = std::from_chars(alias.data(), alias.data() + alias.size(), value);
      const std::string_view tail(end, static_cast<std::size_t>(alias.data() + alias.size() - end));
      const auto vhid =
          value <= 255 ? proto::Vhid::make(static_cast<std::uint8_t>(value)) : std::nullopt;
      if (error == std::errc{} && vhid && tail.starts_with(kOn)) {
        return std::pair{std::string(tail.substr(kOn.size())), *vhid};
      }
    }
  }
  if (!link.mac) return std::nullopt;
  const auto vhid = proto::Vhid::make((*link.mac)[5]);
  const auto parent = names.find(link.parent_ifindex);
  if (!vhid || parent == names.end()) return std::nullopt;
  return std::pair{parent->second, *vhid};
}

bool gone(const NetlinkError& error) {
  return error.code == ENOENT || error.code == ESRCH || error.code == ENODEV ||
         error.code == EADDRNOTAVAIL;
}

std::string describeRule(const RuleMessage& rule) {
  return "rule" + (rule.source ? " from " + formatAddress(*rule.source) : std::string()) +
         " lookup " + std::to_string(rule.table);
}

std::string describeRoute(const RouteMessage& route) {
  return "route " + formatAddress(route.destination) + " table " + std::to_string(route.table);
}

}  // namespace

StaleReport NetlinkAddressManager::removeStale(const StaleFilter& filter) noexcept {
  StaleReport report;
  const auto fail = [&report](const std::string& what, const NetlinkError& error) {
    report.failed.push_back(os::Error{error.code, what + ": " + error.message});
  };
  std::set<int> own_links;
  std::set<std::pair<int, proto::InterfaceAddress>> own_addresses;
  std::set<std::uint32_t> own_tables;
  std::set<std::pair<std::uint32_t, proto::IpAddress>> own_rules;
  for (const auto& [key, attachment] : attachments_) {
    if (attachment.binding.vmac) own_links.insert(attachment.ifindex);
    if (attachment.table) own_tables.insert(*attachment.table);
    for (const auto& address : attachment.added) {
      own_addresses.emplace(attachment.ifindex, address);
      if (attachment.table) own_rules.emplace(*attachment.table, address.address);
    }
  }

  // The links first, without deleting: which macvlans a live carpd owns decides which tables
  // (and so rules and routes) stay.
  std::vector<LinkMessage> all_links;
  NetlinkRequest links(RTM_GETLINK, 0);
  links.putExtraHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_u32(links.header(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  if (auto dumped = socket_.dump(
          links,
          [&](const nlmsghdr& nlh) {
            if (auto link = parseLink(nlh)) all_links.push_back(std::move(*link));
            return true;
          },
          [&all_links] { all_links.clear(); });
      !dumped) {
    fail("list links", dumped.error());
    return report;  // without the links, nothing can be told apart: remove nothing
  }
  std::map<int, std::string> names;
  for (const auto& link : all_links) names.emplace(link.ifindex, link.name);
  std::vector<LinkMessage> stale_links;
  std::set<int> kept_links;  // another carpd's
  for (const auto& link : all_links) {
    if (!isCarpdMacvlan(link) || own_links.contains(link.ifindex)) continue;
    const auto owner = macvlanOwner(link, names);
    if (owner && filter.vhid_in_use && filter.vhid_in_use(owner->first, owner->second)) {
      kept_links.insert(link.ifindex);
      if (auto table = carpdRouteTable(link.ifindex)) own_tables.insert(*table);
      report.kept.push_back("macvlan " + link.name + " (vhid " +
                            std::to_string(owner->second.value()) + " on " + owner->first +
                            ", in use by another carpd)");
    } else {
      stale_links.push_back(link);
    }
  }

  // Rules before the links, so that none points at a table while its routes go. Only those
  // with both marks, carpd's protocol and a table of carpd's range (the protocol alone is
  // Open/R's).
  std::vector<RuleMessage> stale_rules;
  NetlinkRequest rules(RTM_GETRULE, 0);
  rules.putExtraHeader<fib_rule_hdr>()->family = AF_UNSPEC;
  if (auto dumped = socket_.dump(
          rules,
          [&](const nlmsghdr& nlh) {
            auto rule = parseRule(nlh);
            if (!rule || !rule->carpdTagged()) return true;
            if (rule->source && own_rules.contains({rule->table, rule->source->address})) {
              return true;
            }
            if (own_tables.contains(rule->table) && !attachmentsHaveTable(rule->table)) {
              report.kept.push_back(describeRule(*rule) + " (in use by another carpd)");
              return true;
            }
            stale_rules.push_back(*rule);
            return true;
          },
          [&stale_rules] { stale_rules.clear(); });
      !dumped) {
    fail("list rules", dumped.error());
  }
  for (const auto& rule : stale_rules) {
    NetlinkRequest request(RTM_DELRULE, 0);
    fillRuleRequest(request, rule);
    if (auto result = socket_.request(request); !result && !gone(result.error())) {
      fail("delete " + describeRule(rule), result.error());
    } else {
      report.removed.push_back(describeRule(rule));
    }
  }

  for (const auto& link : stale_links) {
    if (auto deleted = deleteLink(socket_, link.ifindex); !deleted) {
      fail("delete macvlan " + link.name, deleted.error());
    } else {
      report.removed.push_back("macvlan " + link.name);
    }
  }

  // After the links: the routes through them went with them.
  std::vector<RouteMessage> stale_routes;
  NetlinkRequest routes(RTM_GETROUTE, 0);
  routes.putExtraHeader<rtmsg>()->rtm_family = AF_UNSPEC;
  if (auto dumped = socket_.dump(
          routes,
          [&](const nlmsghdr& nlh) {
            auto route = parseRoute(nlh);
            if (route && route->carpdTagged() && !own_tables.contains(route->table)) {
              stale_routes.push_back(*route);
            }
            return true;
          },
          [&stale_routes] { stale_routes.clear(); });
      !dumped) {
    fail("list routes", dumped.error());
  }
  for (const auto& route : stale_routes) {
    NetlinkRequest request(RTM_DELROUTE, 0);
    fillRouteRequest(request, route);
    if (auto result = socket_.request(request); !result && !gone(result.error())) {
      fail("delete " + describeRoute(route), result.error());
    } else {
      report.removed.push_back(describeRoute(route));
    }
  }

  // After the links: their addresses went with them. A tagged address elsewhere (a VHID
  // without vmac, on its parent) is another carpd's when the filter says its address is.
  std::vector<AddressMessage> stale_addresses;
  NetlinkRequest addresses(RTM_GETADDR, 0);
  addresses.putExtraHeader<ifaddrmsg>()->ifa_family = AF_UNSPEC;
  if (auto dumped = socket_.dump(
          addresses,
          [&](const nlmsghdr& nlh) {
            auto message = parseAddress(nlh);
            if (!message || !message->carpdTagged() || own_links.contains(message->ifindex) ||
                own_addresses.contains({message->ifindex, message->address})) {
              return true;
            }
            if (kept_links.contains(message->ifindex) ||
                (filter.address_in_use && filter.address_in_use(message->address.address))) {
              report.kept.push_back("address " + formatAddress(message->address) +
                                    " (in use by another carpd)");
              return true;
            }
            stale_addresses.push_back(*message);
            return true;
          },
          [&stale_addresses] { stale_addresses.clear(); });
      !dumped) {
    fail("list addresses", dumped.error());
  }
  if (auto deleted = deleteAddresses(socket_, stale_addresses); !deleted) {
    report.failed.push_back(os::Error::withMessage("delete addresses: " + deleted.error()));
  }
  for (const auto& address : stale_addresses) {
    const auto name = names.find(address.ifindex);
    report.removed.push_back(
        "address " + formatAddress(address.address) + " on " +
        (name != names.end() ? name->second : "ifindex " + std::to_string(address.ifindex)));
  }
  return report;
}

bool NetlinkAddressManager::attachmentsHaveTable(std::uint32_t table) const noexcept {
  for (const auto& [key, attachment] : attachments_) {
    if (attachment.table == table) return true;
  }
  return false;
}

}  // namespace carp::os::lnx
