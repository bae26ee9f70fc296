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

#include "os/linux/netlink_address_ops.h"

namespace carp::os::lnx {
namespace {
constexpr std::size_t kMaxNameLength = IFNAMSIZ - 1;
}  // namespace

using namespace ops;  // NOLINT: the manager's own helpers, split out by concern

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

tl::expected<void, os::Error> NetlinkAddressManager::attach(const VhidBinding& binding) {
  const Key key{binding.parent_ifindex, binding.vhid.value()};
  if (attachments_.contains(key)) return {};
  Attachment attachment{binding, binding.parent_ifindex, {}, {}, std::nullopt};
  if (binding.vmac) {
    attachment.name = macvlanName(binding.parent_ifindex, binding.vhid);
    auto created = createMacvlan(binding, attachment.name);
    if (!created) return tl::unexpected(os::Error::withMessage(created.error()));
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

tl::expected<void, os::Error> NetlinkAddressManager::add(
    const VhidBinding& binding, std::span<const proto::InterfaceAddress> addresses) {
  const Key key{binding.parent_ifindex, binding.vhid.value()};
  auto it = attachments_.find(key);
  if (it == attachments_.end()) {
    if (binding.vmac)
      return tl::unexpected(os::Error::withMessage(describe(binding) + ": not attached"));
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
      return tl::unexpected(
          os::Error{up.error().code,
                    describe(binding) + ": set " + attachment.name + " up: " + up.error().message});
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
  if (attachment.binding.vmac) {
    if (auto installed = installSourceRouting(attachment, addresses); !installed) {
      routing = installed.error().message;
    }
  }
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
  return tl::unexpected(os::Error::withMessage(std::move(message)));
}

tl::expected<void, os::Error> NetlinkAddressManager::remove(
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
    if (attachment.binding.vmac) {
      if (auto deleted = removeSourceRouting(attachment, addresses); !deleted) {
        routing = deleted.error().message;
      }
    }
  }
  auto removed = removeFrom(ifindex, addresses);
  if (down.empty() && removed && routing.empty()) return {};
  std::string errors = down;
  if (!removed) appendError(errors, "remove address: " + removed.error());
  if (!routing.empty()) appendError(errors, "source routing: " + routing);
  return tl::unexpected(os::Error::withMessage(describe(binding) + ": " + errors));
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

}  // namespace carp::os::lnx
