#include "os/linux/netlink_address_manager.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <vector>

namespace carp::os::lnx {
namespace {

constexpr std::size_t kMaxNameLength = IFNAMSIZ - 1;

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

}  // namespace

NetlinkAddressManager::NetlinkAddressManager() = default;

NetlinkAddressManager::~NetlinkAddressManager() {
  for (auto& [key, attachment] : attachments_) detachAttachment(attachment);
  attachments_.clear();
}

std::string NetlinkAddressManager::macvlanName(int parent_ifindex, proto::Vhid vhid) {
  return "cv" + std::to_string(parent_ifindex) + "-" + std::to_string(vhid.value());
}

std::optional<int> NetlinkAddressManager::addressIfindex(
    const VhidBinding& binding) const noexcept {
  const auto it = attachments_.find({binding.parent_ifindex, binding.vhid.value()});
  if (it == attachments_.end()) return std::nullopt;
  return it->second.ifindex;
}

tl::expected<void, std::string> NetlinkAddressManager::attach(const VhidBinding& binding) {
  const Key key{binding.parent_ifindex, binding.vhid.value()};
  if (attachments_.contains(key)) return {};
  Attachment attachment{binding, binding.parent_ifindex, {}, {}, std::nullopt};
  if (binding.vmac) {
    attachment.name = macvlanName(binding.parent_ifindex, binding.vhid);
    auto created = createMacvlan(binding, attachment.name);
    if (!created) return tl::unexpected(created.error());
    attachment.ifindex = *created;
    attachment.table = carpdRouteTable(attachment.ifindex);
  }
  attachments_.emplace(key, std::move(attachment));
  return {};
}

tl::expected<int, std::string> NetlinkAddressManager::createMacvlan(const VhidBinding& binding,
                                                                    const std::string& name) {
  const auto fail = [&binding, &name](const std::string& what) {
    return tl::unexpected("macvlan " + name + " for " + describe(binding) + ": " + what);
  };
  if (name.size() > kMaxNameLength) return fail("name too long");
  if (binding.parent_ifindex <= 0) return fail("no parent interface");

  // A macvlan of this name is a leftover of a carpd that did not stop cleanly: replace it.
  auto existing = getLink(socket_, name);
  if (!existing) return fail("lookup: " + existing.error().message);
  if (*existing) {
    if (!isCarpdMacvlan(**existing)) {
      return fail("an interface of that name exists and was not created by carpd");
    }
    if (auto deleted = deleteLink(socket_, (*existing)->ifindex); !deleted) {
      return fail("delete leftover: " + deleted.error().message);
    }
  }

  const bool ipv6 = haveIpv6();
  const std::string alias = std::string(kCarpdAliasPrefix) + describe(binding);
  const auto mac = proto::virtualMac(binding.vhid);
  {
    // Created down. (The kernel ignores IFLA_IFALIAS and refuses IFLA_AF_SPEC with
    // EAFNOSUPPORT in the creating RTM_NEWLINK: both are set in a second message.)
    NetlinkRequest request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    request.putExtraHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
    nlmsghdr* nlh = request.header();
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    mnl_attr_put_u32(nlh, IFLA_LINK, static_cast<std::uint32_t>(binding.parent_ifindex));
    mnl_attr_put(nlh, IFLA_ADDRESS, mac.size(), mac.data());
    nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "macvlan");
    nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    // Bridge mode: the host's other macvlans on the parent (other VHIDs) reach each other.
    mnl_attr_put_u32(nlh, IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    if (auto created = socket_.request(request); !created) {
      return fail("create: " + created.error().message);
    }
  }

  auto link = getLink(socket_, name);
  if (!link || !*link) return fail("created but not found");
  const int ifindex = (*link)->ifindex;
  const auto undo = [this, ifindex, &fail](const std::string& what) {
    (void)deleteLink(socket_, ifindex);
    return fail(what);
  };

  {
    // Before it first goes up (add()): the alias, which marks it as carpd's, and no IPv6
    // address generation, so that the macvlan never gets a link-local address and never runs
    // DAD or sends RS from the virtual MAC.
    NetlinkRequest request(RTM_NEWLINK, 0);
    auto* ifi = request.putExtraHeader<ifinfomsg>();
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = ifindex;
    nlmsghdr* nlh = request.header();
    mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias.c_str());
    if (ipv6) {
      nlattr* af = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
      nlattr* inet6 = mnl_attr_nest_start(nlh, AF_INET6);
      mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
      mnl_attr_nest_end(nlh, inet6);
      mnl_attr_nest_end(nlh, af);
    }
    if (auto set = socket_.request(request); !set) {
      return undo("set alias and IPv6 address generation: " + set.error().message);
    }
  }

  // Only the interface that holds an address answers ARP for it (arp_ignore=1), and with that
  // interface's own source address (arp_announce=2); replies and GARP thus carry the vMAC.
  // rp_filter would drop ARP requests from hosts whose subnet routes via the parent.
  std::vector<std::pair<std::string, const char*>> settings{
      {ipv4Conf(name, "arp_ignore"), "1"},
      {ipv4Conf(name, "arp_announce"), "2"},
      {ipv4Conf(name, "rp_filter"), "0"},
      // Removing one virtual address must not take the others of its subnet with it.
      {ipv4Conf(name, "promote_secondaries"), "1"},
  };
  if (ipv6) {
    settings.emplace_back(ipv6Conf(name, "accept_dad"), "0");
    settings.emplace_back(ipv6Conf(name, "dad_transmits"), "0");
  }
  if (auto written = writeAll(settings); !written) return undo(written.error());
  if (auto configured = configureParent(binding); !configured) return undo(configured.error());
  // It stays down until add(): see remove().
  return ifindex;
}

tl::expected<void, std::string> NetlinkAddressManager::configureParent(const VhidBinding& binding) {
  Parent& parent = parents_[binding.parent_ifindex];
  if (parent.users == 0) {
    // Linux answers ARP for any local address on any interface (arp_ignore=0): the parent
    // would answer for the virtual addresses with the NIC's MAC, racing the macvlan's reply.
    const std::string& name = binding.parent_name;
    auto result = raiseTo(parent.sysctls, ipv4Conf(name, "arp_ignore"), 1).and_then([&] {
      return raiseTo(parent.sysctls, ipv4Conf(name, "arp_announce"), 2);
    });
    if (!result) {
      parent.sysctls.restoreAll();
      parents_.erase(binding.parent_ifindex);
      return tl::unexpected("parent " + name + ": " + result.error());
    }
  }
  ++parent.users;
  return {};
}

void NetlinkAddressManager::releaseParent(int parent_ifindex) noexcept {
  const auto it = parents_.find(parent_ifindex);
  if (it == parents_.end()) return;
  if (--it->second.users <= 0) {
    it->second.sysctls.restoreAll();
    parents_.erase(it);
  }
}

void NetlinkAddressManager::detach(const VhidBinding& binding) noexcept {
  const auto it = attachments_.find({binding.parent_ifindex, binding.vhid.value()});
  if (it == attachments_.end()) return;
  detachAttachment(it->second);
  attachments_.erase(it);
}

void NetlinkAddressManager::detachAttachment(Attachment& attachment) noexcept {
  if (attachment.binding.vmac) {
    // The routes go with the macvlan, the rules would stay: they name a table, not a link.
    const std::vector<proto::InterfaceAddress> added(attachment.added.begin(),
                                                     attachment.added.end());
    attachment.added.clear();
    (void)removeSourceRouting(attachment, added);
    // Only if the interface at that index is still our macvlan: an index can be reused.
    auto link = getLink(socket_, attachment.name);
    if (link && *link && (*link)->ifindex == attachment.ifindex && isCarpdMacvlan(**link)) {
      (void)deleteLink(socket_, attachment.ifindex);  // takes its addresses with it
    }
    releaseParent(attachment.binding.parent_ifindex);
  } else if (!attachment.added.empty()) {
    const std::vector<proto::InterfaceAddress> added(attachment.added.begin(),
                                                     attachment.added.end());
    (void)removeFrom(attachment.ifindex, added);
  }
  attachment.added.clear();
}

tl::expected<void, std::string> NetlinkAddressManager::add(
    const VhidBinding& binding, std::span<const proto::InterfaceAddress> addresses) {
  const Key key{binding.parent_ifindex, binding.vhid.value()};
  auto it = attachments_.find(key);
  if (it == attachments_.end()) {
    if (binding.vmac) return tl::unexpected(describe(binding) + ": not attached");
    it =
        attachments_.emplace(key, Attachment{binding, binding.parent_ifindex, {}, {}, std::nullopt})
            .first;
  }
  Attachment& attachment = it->second;
  // Up before the addresses and routes: the kernel refuses a route via a down link (and
  // flushes those there were when the link went down). Up again when it already is does
  // nothing, and brings back a macvlan someone set down.
  if (attachment.binding.vmac) {
    if (auto up = setLinkUp(socket_, attachment.ifindex, true); !up) {
      return tl::unexpected(describe(binding) + ": set " + attachment.name +
                            " up: " + up.error().message);
    }
  }
  std::string errors;
  for (const auto& address : addresses) {
    NetlinkRequest request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    fillAddressRequest(request, attachment.ifindex, address);
    auto result = socket_.request(request);
    if (result || result.error().code == EEXIST) {
      attachment.added.insert(address);
    } else {
      appendError(errors, formatAddress(address) + ": " + result.error().message);
    }
  }
  std::string routing;
  if (attachment.binding.vmac) routing = installSourceRouting(attachment, addresses);
  if (errors.empty() && routing.empty()) return {};
  // The addresses that were added stay (they answer ARP/ND with the virtual MAC and receive
  // traffic); without their source routing only what the host sends from them to on-link
  // hosts leaves with the parent's MAC. Say so, so that the log tells the two cases apart.
  std::string message = describe(binding) + ": ";
  if (!errors.empty()) message += "add address: " + errors;
  if (!routing.empty()) {
    if (!errors.empty()) message += "; ";
    message += (errors.empty() ? "addresses added, but " : "") +
               std::string("no source routing via ") + attachment.name +
               " (frames sent from the virtual addresses to their subnets carry the MAC of " +
               binding.parent_name + "): " + routing;
  }
  return tl::unexpected(message);
}

std::string NetlinkAddressManager::installSourceRouting(
    const Attachment& attachment, std::span<const proto::InterfaceAddress> addresses) {
  std::string errors;
  for (const auto& address : addresses) {
    if (!attachment.added.contains(address) || !hasSubnet(address)) continue;
    if (!attachment.table) {
      return "no routing table for interface index " + std::to_string(attachment.ifindex) +
             " (beyond carpd's range)";
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
  return errors;
}

std::string NetlinkAddressManager::removeSourceRouting(
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
  return errors;
}

tl::expected<void, std::string> NetlinkAddressManager::remove(
    const VhidBinding& binding, std::span<const proto::InterfaceAddress> addresses) {
  const auto it = attachments_.find({binding.parent_ifindex, binding.vhid.value()});
  const int ifindex = it != attachments_.end() ? it->second.ifindex
                      : binding.vmac           ? 0
                                               : binding.parent_ifindex;
  if (ifindex == 0) return {};  // never attached: nothing of ours can be there
  std::string down;
  std::string routing;
  if (it != attachments_.end()) {
    Attachment& attachment = it->second;
    for (const auto& address : addresses) attachment.added.erase(address);
    if (attachment.binding.vmac && attachment.added.empty()) {
      // Down first, when the VHID holds none of its addresses any more (a BACKUP): an up
      // macvlan would still send from the virtual MAC, e.g. the MLD reports that leave the
      // solicited-node groups of the IPv6 addresses, repeated for about a second. Each one
      // moves the virtual MAC to this host's port in the switches, which then send the
      // clients' traffic here instead of to the new MASTER until its next advertisement.
      // Linux sends nothing from a down interface (MLD skips it), and the down flushes the
      // macvlan's IPv6 addresses and routes: what is deleted below may already be gone.
      if (auto result = setLinkUp(socket_, attachment.ifindex, false); !result) {
        down = "set " + attachment.name + " down: " + result.error().message;
      }
    }
    // Before the addresses, so that nothing is routed from an address that is going away.
    if (attachment.binding.vmac) routing = removeSourceRouting(attachment, addresses);
  }
  auto removed = removeFrom(ifindex, addresses);
  if (down.empty() && removed && routing.empty()) return {};
  std::string errors = down;
  if (!removed) appendError(errors, "remove address: " + removed.error());
  if (!routing.empty()) appendError(errors, "source routing: " + routing);
  return tl::unexpected(describe(binding) + ": " + errors);
}

tl::expected<void, std::string> NetlinkAddressManager::removeFrom(
    int ifindex, std::span<const proto::InterfaceAddress> addresses) {
  // Ask the kernel which of them carry our tag: RTM_DELADDR itself ignores IFA_PROTO and
  // would delete a hand-configured address of the same value.
  std::vector<AddressMessage> ours;
  NetlinkRequest query(RTM_GETADDR, 0);
  query.putExtraHeader<ifaddrmsg>()->ifa_family = AF_UNSPEC;
  auto dumped = socket_.dump(
      query,
      [&](const nlmsghdr& nlh) {
        auto message = parseAddress(nlh);
        if (message && message->ifindex == ifindex && message->carpdTagged()) {
          ours.push_back(*message);
        }
        return true;
      },
      [&ours] { ours.clear(); });
  if (!dumped) return tl::unexpected(dumped.error().message);

  std::vector<AddressMessage> doomed;
  for (const auto& found : ours) {
    if (std::find(addresses.begin(), addresses.end(), found.address) != addresses.end()) {
      doomed.push_back(found);
    }
  }
  return deleteAddresses(socket_, doomed);
}

void NetlinkAddressManager::removeStale() noexcept {
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

  // Rules first, so that none points at a table while its routes go. Only those with both
  // marks, carpd's protocol and a table of carpd's range (the protocol alone is Open/R's).
  std::vector<RuleMessage> stale_rules;
  NetlinkRequest rules(RTM_GETRULE, 0);
  rules.putExtraHeader<fib_rule_hdr>()->family = AF_UNSPEC;
  (void)socket_.dump(
      rules,
      [&](const nlmsghdr& nlh) {
        auto rule = parseRule(nlh);
        if (rule && rule->carpdTagged() &&
            !(rule->source && own_rules.contains({rule->table, rule->source->address}))) {
          stale_rules.push_back(*rule);
        }
        return true;
      },
      [&stale_rules] { stale_rules.clear(); });
  for (const auto& rule : stale_rules) {
    NetlinkRequest request(RTM_DELRULE, 0);
    fillRuleRequest(request, rule);
    (void)socket_.request(request);
  }

  std::vector<int> stale_links;
  NetlinkRequest links(RTM_GETLINK, 0);
  links.putExtraHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_u32(links.header(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  (void)socket_.dump(
      links,
      [&](const nlmsghdr& nlh) {
        auto link = parseLink(nlh);
        if (link && isCarpdMacvlan(*link) && !own_links.contains(link->ifindex)) {
          stale_links.push_back(link->ifindex);
        }
        return true;
      },
      [&stale_links] { stale_links.clear(); });
  for (const int ifindex : stale_links) (void)deleteLink(socket_, ifindex);

  // After the links: the routes through them went with them.
  std::vector<RouteMessage> stale_routes;
  NetlinkRequest routes(RTM_GETROUTE, 0);
  routes.putExtraHeader<rtmsg>()->rtm_family = AF_UNSPEC;
  (void)socket_.dump(
      routes,
      [&](const nlmsghdr& nlh) {
        auto route = parseRoute(nlh);
        if (route && route->carpdTagged() && !own_tables.contains(route->table)) {
          stale_routes.push_back(*route);
        }
        return true;
      },
      [&stale_routes] { stale_routes.clear(); });
  for (const auto& route : stale_routes) {
    NetlinkRequest request(RTM_DELROUTE, 0);
    fillRouteRequest(request, route);
    (void)socket_.request(request);
  }

  // After the links: their addresses went with them.
  std::vector<AddressMessage> stale_addresses;
  NetlinkRequest addresses(RTM_GETADDR, 0);
  addresses.putExtraHeader<ifaddrmsg>()->ifa_family = AF_UNSPEC;
  (void)socket_.dump(
      addresses,
      [&](const nlmsghdr& nlh) {
        auto message = parseAddress(nlh);
        if (message && message->carpdTagged() && !own_links.contains(message->ifindex) &&
            !own_addresses.contains({message->ifindex, message->address})) {
          stale_addresses.push_back(*message);
        }
        return true;
      },
      [&stale_addresses] { stale_addresses.clear(); });
  (void)deleteAddresses(socket_, stale_addresses);
}

}  // namespace carp::os::lnx
