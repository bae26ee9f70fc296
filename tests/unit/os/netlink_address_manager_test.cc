// Runs against the real kernel, each test in a private network namespace (root only; skipped
// otherwise). Parent: a veth pair p0/q0, since the kernel may lack the dummy driver.
#include "os/linux/netlink_address_manager.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/if_ether.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "os/linux/netlink_messages.h"
#include "os/linux/netlink_socket.h"
#include "os/linux/sysctl.h"
#include "support/netns_helpers.h"

namespace carp::os::lnx {
namespace {

using carp::testing::parseIp;
using carp::testing::shell;
using namespace std::chrono_literals;

proto::InterfaceAddress prefix(const char* text, std::uint8_t length) {
  return {parseIp(text), length};
}

::testing::AssertionResult ok(const tl::expected<void, carp::os::Error>& result) {
  if (result) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << result.error().message;
}

bool contains(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

std::string sysctl(const std::string& path) { return readSysctl(path).value_or("<missing>"); }

class AddressManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!carp::testing::enterPrivateNetns(carp::testing::UnshareFailure::kSkip)) return;
    ASSERT_TRUE(
        shell("ip link set lo up && ip link add p0 type veth peer name q0 && "
              "ip link set p0 up && ip link set q0 up"));
    parent_ = static_cast<int>(if_nametoindex("p0"));
    ASSERT_GT(parent_, 0);
    // A new namespace inherits the host's IPv4 "all"/"default" settings
    // (net.core.devconf_inherit_init_net=0); the tests start from the kernel defaults.
    for (const char* interface : {"all", "p0"}) {
      for (const char* name : {"arp_ignore", "arp_announce", "promote_secondaries"}) {
        ASSERT_TRUE(
            writeSysctl(std::string("/proc/sys/net/ipv4/conf/") + interface + "/" + name, "0"));
      }
    }
  }

  VhidBinding binding(int vhid, bool vmac = true) const {
    return VhidBinding{parent_, "p0", *proto::Vhid::make(vhid), vmac};
  }

  static std::vector<AddressMessage> addressesOn(int ifindex) {
    NetlinkSocket socket;
    NetlinkRequest request(RTM_GETADDR, 0);
    request.putExtraHeader<ifaddrmsg>()->ifa_family = AF_UNSPEC;
    std::vector<AddressMessage> found;
    auto result = socket.dump(request, [&](const nlmsghdr& nlh) {
      auto message = parseAddress(nlh);
      if (message && message->ifindex == ifindex) found.push_back(*message);
      return true;
    });
    EXPECT_TRUE(result) << result.error().message;
    return found;
  }

  static const AddressMessage* findAddress(const std::vector<AddressMessage>& list,
                                           const proto::InterfaceAddress& address) {
    for (const auto& message : list) {
      if (message.address == address) return &message;
    }
    return nullptr;
  }

  static std::optional<LinkMessage> linkNamed(const std::string& name) {
    NetlinkSocket socket;
    NetlinkRequest request(RTM_GETLINK, 0);
    request.putExtraHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(request.header(), IFLA_IFNAME, name.c_str());
    std::optional<LinkMessage> link;
    (void)socket.request(request, [&](const nlmsghdr& nlh) {
      link = parseLink(nlh);
      return false;
    });
    return link;
  }

  // Every rule with carpd's protocol (in any table), and every route in `table`.
  static std::vector<RuleMessage> taggedRules() {
    NetlinkSocket socket;
    NetlinkRequest request(RTM_GETRULE, 0);
    request.putExtraHeader<fib_rule_hdr>()->family = AF_UNSPEC;
    std::vector<RuleMessage> found;
    auto result = socket.dump(request, [&](const nlmsghdr& nlh) {
      auto rule = parseRule(nlh);
      if (rule && rule->protocol == kCarpdRouteProto) found.push_back(*rule);
      return true;
    });
    EXPECT_TRUE(result) << result.error().message;
    return found;
  }

  static std::vector<RouteMessage> routesIn(std::uint32_t table) {
    NetlinkSocket socket;
    NetlinkRequest request(RTM_GETROUTE, 0);
    request.putExtraHeader<rtmsg>()->rtm_family = AF_UNSPEC;
    std::vector<RouteMessage> found;
    auto result = socket.dump(request, [&](const nlmsghdr& nlh) {
      auto route = parseRoute(nlh);
      if (route && route->table == table) found.push_back(*route);
      return true;
    });
    EXPECT_TRUE(result) << result.error().message;
    return found;
  }

  static const RuleMessage* findRule(const std::vector<RuleMessage>& rules, std::uint32_t table,
                                     const char* source) {
    for (const auto& rule : rules) {
      if (rule.table == table && rule.source && rule.source->address == parseIp(source)) {
        return &rule;
      }
    }
    return nullptr;
  }

  static const RouteMessage* findRoute(const std::vector<RouteMessage>& routes,
                                       const proto::InterfaceAddress& destination,
                                       const char* preferred_source) {
    for (const auto& route : routes) {
      if (route.destination == destination && route.preferred_source == parseIp(preferred_source)) {
        return &route;
      }
    }
    return nullptr;
  }

  // Adds an address with carpd's tag as an earlier carpd would have (iproute2 6.1 cannot).
  static void addTagged(int ifindex, const proto::InterfaceAddress& address) {
    NetlinkSocket socket;
    NetlinkRequest request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    fillAddressRequest(request, ifindex, address);
    auto result = socket.request(request);
    ASSERT_TRUE(result) << result.error().message;
  }

  int parent_ = 0;
};

TEST_F(AddressManagerTest, MacvlanNameFitsInIfnamsiz) {
  EXPECT_EQ(NetlinkAddressManager::macvlanName(3, *proto::Vhid::make(1)), "cv3-1");
  EXPECT_EQ(NetlinkAddressManager::macvlanName(999999999, *proto::Vhid::make(255)).size(), 15u);
}

TEST_F(AddressManagerTest, AttachCreatesMacvlanWithVirtualMacAndNoLinkLocal) {
  NetlinkAddressManager manager;
  ASSERT_TRUE(ok(manager.attach(binding(7))));
  const std::string name = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(7));
  auto link = linkNamed(name);
  ASSERT_TRUE(link);
  EXPECT_EQ(manager.addressIfindex(binding(7)), link->ifindex);
  EXPECT_EQ(link->kind, "macvlan");
  EXPECT_EQ(link->parent_ifindex, parent_);
  EXPECT_EQ(link->alias, "carpd vhid 7 on p0");
  ASSERT_TRUE(link->mac);
  EXPECT_EQ(*link->mac, (proto::MacAddress{0x00, 0x00, 0x5e, 0x00, 0x01, 0x07}));
  EXPECT_FALSE(link->flags & IFF_UP) << "down until add(): a BACKUP's macvlan sends nothing";

  // The parent (a veth with carrier) got its link-local by now; the macvlan must never.
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(addressesOn(link->ifindex).empty());

  const std::string v4 = "/proc/sys/net/ipv4/conf/" + name + "/";
  const std::string v6 = "/proc/sys/net/ipv6/conf/" + name + "/";
  EXPECT_EQ(sysctl(v4 + "arp_ignore"), "1");
  EXPECT_EQ(sysctl(v4 + "arp_announce"), "2");
  EXPECT_EQ(sysctl(v4 + "rp_filter"), "0");
  EXPECT_EQ(sysctl(v4 + "promote_secondaries"), "1");
  EXPECT_EQ(sysctl(v6 + "accept_dad"), "0");
  EXPECT_EQ(sysctl(v6 + "dad_transmits"), "0");
  EXPECT_EQ(sysctl(v6 + "addr_gen_mode"), "1");  // IN6_ADDR_GEN_MODE_NONE
  EXPECT_EQ(sysctl("/proc/sys/net/ipv4/conf/p0/arp_ignore"), "1");
  EXPECT_EQ(sysctl("/proc/sys/net/ipv4/conf/p0/arp_announce"), "2");

  manager.detach(binding(7));
  EXPECT_FALSE(linkNamed(name));
  EXPECT_EQ(sysctl("/proc/sys/net/ipv4/conf/p0/arp_ignore"), "0");
  EXPECT_EQ(sysctl("/proc/sys/net/ipv4/conf/p0/arp_announce"), "0");
}

TEST_F(AddressManagerTest, ParentSysctlsRestoredOnLastDetachAndStricterValuesKept) {
  ASSERT_TRUE(writeSysctl("/proc/sys/net/ipv4/conf/p0/arp_ignore", "2"));
  NetlinkAddressManager manager;
  ASSERT_TRUE(ok(manager.attach(binding(1))));
  ASSERT_TRUE(ok(manager.attach(binding(2))));
  ASSERT_TRUE(ok(manager.attach(binding(2))));  // attaching twice is harmless
  EXPECT_EQ(sysctl("/proc/sys/net/ipv4/conf/p0/arp_ignore"), "2");
  EXPECT_EQ(sysctl("/proc/sys/net/ipv4/conf/p0/arp_announce"), "2");
  manager.detach(binding(1));
  EXPECT_EQ(sysctl("/proc/sys/net/ipv4/conf/p0/arp_announce"), "2");
  manager.detach(binding(2));
  EXPECT_EQ(sysctl("/proc/sys/net/ipv4/conf/p0/arp_ignore"), "2");
  EXPECT_EQ(sysctl("/proc/sys/net/ipv4/conf/p0/arp_announce"), "0");
}

TEST_F(AddressManagerTest, DestructionDetachesEverything) {
  {
    NetlinkAddressManager manager;
    ASSERT_TRUE(ok(manager.attach(binding(1))));
    ASSERT_TRUE(ok(manager.add(binding(1), std::vector{prefix("198.51.100.1", 24)})));
    ASSERT_EQ(taggedRules().size(), 1u);
    ASSERT_TRUE(ok(manager.add(binding(2, false), std::vector{prefix("192.0.2.10", 24)})));
  }
  EXPECT_TRUE(taggedRules().empty());
  EXPECT_FALSE(linkNamed(NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(1))));
  EXPECT_FALSE(findAddress(addressesOn(parent_), prefix("192.0.2.10", 24)));
  EXPECT_EQ(sysctl("/proc/sys/net/ipv4/conf/p0/arp_ignore"), "0");
}

TEST_F(AddressManagerTest, AddTagsAddressesOnTheMacvlanAndRemoveDeletesThem) {
  NetlinkAddressManager manager;
  ASSERT_TRUE(ok(manager.attach(binding(1))));
  const int macvlan = *manager.addressIfindex(binding(1));
  const std::vector addresses{prefix("192.0.2.100", 24), prefix("192.0.2.101", 24),
                              prefix("2001:db8::100", 64)};
  auto added = manager.add(binding(1), addresses);
  ASSERT_TRUE(added) << added.error().message;
  ASSERT_TRUE(ok(manager.add(binding(1), addresses))) << "adding again must succeed";

  const auto list = addressesOn(macvlan);
  EXPECT_EQ(list.size(), 3u);
  for (const auto& address : addresses) {
    const AddressMessage* found = findAddress(list, address);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->protocol, kCarpdAddressProto) << "IFA_PROTO is kept for both families";
    EXPECT_FALSE(found->flags & IFA_F_TENTATIVE) << "no DAD: usable at once";
  }
  EXPECT_TRUE(addressesOn(parent_).size() >= 1u);  // its link-local only
  EXPECT_FALSE(findAddress(addressesOn(parent_), addresses[0]));

  // Removing the first (primary) IPv4 address keeps the secondary of the same subnet.
  ASSERT_TRUE(ok(manager.remove(binding(1), std::span(addresses).first(1))));
  EXPECT_FALSE(findAddress(addressesOn(macvlan), addresses[0]));
  EXPECT_TRUE(findAddress(addressesOn(macvlan), addresses[1]));
  ASSERT_TRUE(ok(manager.remove(binding(1), addresses)));
  EXPECT_TRUE(addressesOn(macvlan).empty());
  ASSERT_TRUE(ok(manager.remove(binding(1), addresses))) << "removing again must succeed";
}

TEST_F(AddressManagerTest, AddWithoutAttachFailsWithVmac) {
  NetlinkAddressManager manager;
  EXPECT_FALSE(manager.add(binding(1), std::vector{prefix("192.0.2.100", 24)}));
}

TEST_F(AddressManagerTest, WithoutVmacAddressesGoOnTheParentAndSysctlsStay) {
  NetlinkAddressManager manager;
  ASSERT_TRUE(ok(manager.attach(binding(3, false))));
  EXPECT_EQ(manager.addressIfindex(binding(3, false)), parent_);
  const std::vector addresses{prefix("198.51.100.7", 24), prefix("2001:db8:1::7", 64)};
  ASSERT_TRUE(ok(manager.add(binding(3, false), addresses)));
  for (const auto& address : addresses) {
    const auto on_parent = addressesOn(parent_);  // `found` points into it
    const AddressMessage* found = findAddress(on_parent, address);
    ASSERT_NE(found, nullptr);
    EXPECT_TRUE(found->carpdTagged());
  }
  EXPECT_EQ(sysctl("/proc/sys/net/ipv4/conf/p0/arp_ignore"), "0");
  EXPECT_FALSE(linkNamed(NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(3))));
  manager.detach(binding(3, false));  // takes the addresses added through it
  for (const auto& address : addresses) {
    EXPECT_FALSE(findAddress(addressesOn(parent_), address));
  }
}

TEST_F(AddressManagerTest, NeverRemovesAnAddressItDidNotPutThere) {
  ASSERT_TRUE(shell("ip addr add 203.0.113.5/24 dev p0"));
  NetlinkAddressManager manager;
  const std::vector addresses{prefix("203.0.113.5", 24)};
  ASSERT_TRUE(ok(manager.add(binding(4, false), addresses)));  // already there: fine, not retagged
  const auto on_parent = addressesOn(parent_);                 // `found` points into it
  const AddressMessage* found = findAddress(on_parent, addresses[0]);
  ASSERT_NE(found, nullptr);
  EXPECT_FALSE(found->carpdTagged());
  ASSERT_TRUE(ok(manager.remove(binding(4, false), addresses)));
  EXPECT_TRUE(findAddress(addressesOn(parent_), addresses[0]));
  EXPECT_TRUE(manager.removeStale({}).failed.empty());
  manager.detach(binding(4, false));
  EXPECT_TRUE(findAddress(addressesOn(parent_), addresses[0]));
}

TEST_F(AddressManagerTest, RemoveStaleDeletesOnlyCarpdLeftovers) {
  // Left behind by a carpd that was killed: a macvlan with its alias and tagged addresses.
  ASSERT_TRUE(
      shell("ip link add link p0 name cv99-9 type macvlan mode bridge && "
            "ip link set cv99-9 alias 'carpd vhid 9 on p0' && ip link set cv99-9 up"));
  addTagged(parent_, prefix("192.0.2.200", 24));
  addTagged(parent_, prefix("2001:db8::200", 64));
  // One killed before it set the alias: recognisable by name and virtual MAC together.
  const std::string unaliased = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(8));
  ASSERT_TRUE(shell("ip link add link p0 name " + unaliased +
                    " address 00:00:5e:00:01:08 type macvlan mode bridge"));
  // Everything else stays: an administrator's macvlans (one named like carpd's, but with
  // another MAC), addresses and the link-local.
  const std::string lookalike = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(9));
  ASSERT_TRUE(
      shell("ip link add link p0 name mv0 type macvlan mode bridge && "
            "ip link set mv0 alias 'carp-ish but not carpd' && "
            "ip link add link p0 name " +
            lookalike +
            " address 02:00:5e:00:01:09 type macvlan && "
            "ip addr add 192.0.2.1/24 dev p0 && ip addr add 2001:db8::1/64 dev p0 nodad"));
  const std::size_t before = addressesOn(parent_).size();

  NetlinkAddressManager manager;
  const auto report = manager.removeStale({});
  EXPECT_TRUE(report.failed.empty());
  EXPECT_TRUE(report.kept.empty());
  // Exactly what it removed, one line each (the routes of the macvlans went with them).
  EXPECT_TRUE(contains(report.removed, "macvlan cv99-9"));
  EXPECT_TRUE(contains(report.removed, "macvlan " + unaliased));
  EXPECT_TRUE(contains(report.removed, "address 192.0.2.200/24 on p0"));
  EXPECT_TRUE(contains(report.removed, "address 2001:db8::200/64 on p0"));
  EXPECT_EQ(report.removed.size(), 4u);
  EXPECT_FALSE(linkNamed("cv99-9"));
  EXPECT_FALSE(linkNamed(unaliased));
  EXPECT_TRUE(linkNamed("mv0"));
  EXPECT_TRUE(linkNamed(lookalike));
  const auto after = addressesOn(parent_);
  EXPECT_EQ(after.size(), before - 2);
  EXPECT_FALSE(findAddress(after, prefix("192.0.2.200", 24)));
  EXPECT_FALSE(findAddress(after, prefix("2001:db8::200", 64)));
  // The tagged 192.0.2.200 was the subnet's primary: deleting it must not have taken the
  // secondary 192.0.2.1 with it (promote_secondaries, raised only for the deletion).
  EXPECT_TRUE(findAddress(after, prefix("192.0.2.1", 24)));
  EXPECT_EQ(sysctl("/proc/sys/net/ipv4/conf/p0/promote_secondaries"), "0");
  EXPECT_TRUE(findAddress(after, prefix("2001:db8::1", 64)));
}

TEST_F(AddressManagerTest, RemoveStaleKeepsCurrentAttachments) {
  NetlinkAddressManager manager;
  ASSERT_TRUE(ok(manager.attach(binding(1))));
  ASSERT_TRUE(ok(manager.add(binding(1), std::vector{prefix("192.0.2.100", 24)})));
  ASSERT_TRUE(ok(manager.add(binding(2, false), std::vector{prefix("192.0.2.102", 24)})));
  EXPECT_TRUE(manager.removeStale({}).failed.empty());
  const int macvlan = *manager.addressIfindex(binding(1));
  EXPECT_EQ(addressesOn(macvlan).size(), 1u);
  EXPECT_TRUE(findAddress(addressesOn(parent_), prefix("192.0.2.102", 24)));
  EXPECT_EQ(taggedRules().size(), 1u);
  EXPECT_EQ(routesIn(*carpdRouteTable(macvlan)).size(), 1u);
}

TEST(SourceRoutingMessagesTest, TablesRoutesAndRules) {
  EXPECT_EQ(carpdRouteTable(1), 0x63000001u);
  EXPECT_EQ(carpdRouteTable((1 << 24) - 1), 0x63ffffffu);
  EXPECT_FALSE(carpdRouteTable(0));
  EXPECT_FALSE(carpdRouteTable(1 << 24));
  EXPECT_FALSE(isCarpdRouteTable(RT_TABLE_MAIN));
  EXPECT_FALSE(isCarpdRouteTable(0x64000000));
  EXPECT_TRUE(isCarpdRouteTable(0x63000000));

  // The destination is the subnet, with the host bits cleared, also inside a byte.
  EXPECT_EQ(sourceRoute(3, 0x63000003, prefix("192.0.2.77", 20)).destination,
            prefix("192.0.0.0", 20));
  EXPECT_EQ(sourceRoute(3, 0x63000003, prefix("2001:db8:1:2345::1", 52)).destination,
            prefix("2001:db8:1:2000::", 52));

  // What fill*Request writes, parse* reads back (the dump path of removeStale).
  const RouteMessage route = sourceRoute(3, 0x63000003, prefix("2001:db8::7", 64));
  NetlinkRequest route_request(RTM_NEWROUTE, 0);
  fillRouteRequest(route_request, route);
  const auto parsed_route = parseRoute(*route_request.header());
  ASSERT_TRUE(parsed_route);
  EXPECT_EQ(parsed_route->destination, prefix("2001:db8::", 64));
  EXPECT_EQ(parsed_route->table, 0x63000003u);
  EXPECT_EQ(parsed_route->oif, 3);
  EXPECT_EQ(parsed_route->preferred_source, parseIp("2001:db8::7"));
  EXPECT_TRUE(parsed_route->carpdTagged());

  NetlinkRequest rule_request(RTM_NEWRULE, 0);
  fillRuleRequest(rule_request, sourceRule(0x63000003, parseIp("192.0.2.7")));
  const auto parsed_rule = parseRule(*rule_request.header());
  ASSERT_TRUE(parsed_rule);
  EXPECT_EQ(parsed_rule->source, prefix("192.0.2.7", 32));
  EXPECT_EQ(parsed_rule->table, 0x63000003u);
  EXPECT_EQ(parsed_rule->priority, kCarpdRulePriority);
  EXPECT_EQ(parsed_rule->action, FR_ACT_TO_TBL);
  EXPECT_TRUE(parsed_rule->carpdTagged());
  RuleMessage openr = *parsed_rule;  // RTPROT_OPENR is 99 too: the table tells them apart
  openr.table = 100;
  EXPECT_FALSE(openr.carpdTagged());
}

// Each virtual address gets "from <address> lookup <the macvlan's table>" and, in that table,
// the route of its subnet via the macvlan; remove() takes exactly those away again.
TEST_F(AddressManagerTest, SourceRoutingFollowsTheAddresses) {
  NetlinkAddressManager manager;
  ASSERT_TRUE(ok(manager.attach(binding(1))));
  const int macvlan = *manager.addressIfindex(binding(1));
  const std::string name = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(1));
  const std::uint32_t table = *carpdRouteTable(macvlan);
  const std::string t = std::to_string(table);
  const std::vector addresses{prefix("192.0.2.100", 24), prefix("192.0.2.101", 24),
                              prefix("2001:db8::100", 64), prefix("2001:db8::101", 64),
                              prefix("198.51.100.1", 32)};  // no subnet: no route, no rule
  ASSERT_TRUE(ok(manager.add(binding(1), addresses)));
  ASSERT_TRUE(ok(manager.add(binding(1), addresses))) << "adding again must succeed";

  auto rules = taggedRules();
  EXPECT_EQ(rules.size(), 4u) << "one each, no duplicates";
  for (const char* source : {"192.0.2.100", "192.0.2.101", "2001:db8::100", "2001:db8::101"}) {
    const RuleMessage* rule = findRule(rules, table, source);
    ASSERT_NE(rule, nullptr) << source;
    EXPECT_EQ(rule->priority, kCarpdRulePriority);
    EXPECT_EQ(rule->action, FR_ACT_TO_TBL);
    EXPECT_EQ(rule->source->prefix_length, rule->family == proto::Family::kIPv4 ? 32 : 128);
    EXPECT_FALSE(rule->destination);
  }
  auto routes = routesIn(table);
  // IPv4 keeps one route per preferred source; IPv6 one per subnet and link.
  EXPECT_EQ(routes.size(), 3u);
  for (const char* source : {"192.0.2.100", "192.0.2.101"}) {
    const RouteMessage* route = findRoute(routes, prefix("192.0.2.0", 24), source);
    ASSERT_NE(route, nullptr) << source;
    EXPECT_EQ(route->oif, macvlan);
    EXPECT_EQ(route->protocol, kCarpdRouteProto);
    EXPECT_EQ(route->scope, RT_SCOPE_LINK);
  }
  ASSERT_NE(findRoute(routes, prefix("2001:db8::", 64), "2001:db8::100"), nullptr);
  // And what an administrator sees.
  EXPECT_TRUE(shell("ip rule show pref 1000 | grep -q 'from 192.0.2.100 lookup " + t + "'"));
  EXPECT_TRUE(shell("ip -6 rule show pref 1000 | grep -q 'from 2001:db8::101 lookup " + t + "'"));
  EXPECT_TRUE(shell("ip route show table " + t + " | grep -q '^192.0.2.0/24 dev " + name +
                    " proto .* scope link src 192.0.2.100'"));
  EXPECT_TRUE(shell("ip -6 route show table " + t + " | grep -q '^2001:db8::/64 dev " + name +
                    " proto .* src 2001:db8::100'"));

  // A hand-made rule that differs only in the protocol is not carpd's.
  ASSERT_TRUE(shell("ip rule add from 192.0.2.100 lookup " + t + " pref 1000"));

  // Removing one address of a subnet keeps the other's rule and route: IPv6 deletes its route
  // whatever the preferred source, so the other gets it back.
  ASSERT_TRUE(ok(manager.remove(binding(1), std::vector{addresses[0], addresses[2]})));
  rules = taggedRules();
  EXPECT_EQ(rules.size(), 2u);
  EXPECT_TRUE(findRule(rules, table, "192.0.2.101"));
  EXPECT_TRUE(findRule(rules, table, "2001:db8::101"));
  routes = routesIn(table);
  EXPECT_EQ(routes.size(), 2u);
  EXPECT_TRUE(findRoute(routes, prefix("192.0.2.0", 24), "192.0.2.101"));
  EXPECT_TRUE(findRoute(routes, prefix("2001:db8::", 64), "2001:db8::101"));

  ASSERT_TRUE(ok(manager.remove(binding(1), addresses)));
  EXPECT_TRUE(taggedRules().empty());
  EXPECT_TRUE(routesIn(table).empty());
  EXPECT_TRUE(shell("ip rule show pref 1000 | grep -q 'from 192.0.2.100 lookup " + t + "'"))
      << "the hand-made rule stays";
  ASSERT_TRUE(ok(manager.remove(binding(1), addresses))) << "removing again must succeed";

  // detach takes the rules (the routes go with the macvlan).
  ASSERT_TRUE(ok(manager.add(binding(1), addresses)));
  EXPECT_EQ(taggedRules().size(), 4u);
  manager.detach(binding(1));
  EXPECT_TRUE(taggedRules().empty());
  EXPECT_TRUE(routesIn(table).empty());
}

// The macvlan is up exactly while the VHID holds addresses; the down of remove() flushes the
// IPv6 addresses and all the routes, which remove() takes as deleted, and add() after a down
// puts everything back (the kernel refuses routes via a down link, so it sets it up first).
TEST_F(AddressManagerTest, MacvlanIsUpOnlyWhileHoldingAddresses) {
  NetlinkAddressManager manager;
  ASSERT_TRUE(ok(manager.attach(binding(1))));
  const int macvlan = *manager.addressIfindex(binding(1));
  const std::string name = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(1));
  const std::uint32_t table = *carpdRouteTable(macvlan);
  const auto up = [&name] { return (linkNamed(name)->flags & IFF_UP) != 0; };
  const std::vector addresses{prefix("192.0.2.100", 24), prefix("192.0.2.101", 24),
                              prefix("2001:db8::100", 64)};
  EXPECT_FALSE(up());

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_TRUE(ok(manager.add(binding(1), addresses)));
    EXPECT_TRUE(up());
    const auto list = addressesOn(macvlan);
    EXPECT_EQ(list.size(), 3u);
    for (const auto& address : addresses) {
      const AddressMessage* found = findAddress(list, address);
      ASSERT_NE(found, nullptr);
      EXPECT_FALSE(found->flags & IFA_F_TENTATIVE) << "usable at once after the up";
    }
    EXPECT_EQ(taggedRules().size(), 3u);
    EXPECT_EQ(routesIn(table).size(), 3u) << "two IPv4 (one per source), one IPv6";

    // Removing some keeps it up: the VHID still holds the others.
    ASSERT_TRUE(ok(manager.remove(binding(1), std::span(addresses).first(1))));
    EXPECT_TRUE(up());
    EXPECT_EQ(addressesOn(macvlan).size(), 2u);
    EXPECT_EQ(routesIn(table).size(), 2u);

    ASSERT_TRUE(ok(manager.remove(binding(1), addresses)));
    EXPECT_FALSE(up());
    EXPECT_TRUE(addressesOn(macvlan).empty());
    EXPECT_TRUE(taggedRules().empty());
    EXPECT_TRUE(routesIn(table).empty());
    ASSERT_TRUE(ok(manager.remove(binding(1), addresses))) << "removing again must succeed";
    EXPECT_FALSE(up());
  }

  // With keep_addr_on_down the IPv6 address survives the down: remove() deletes it itself.
  ASSERT_TRUE(writeSysctl("/proc/sys/net/ipv6/conf/" + name + "/keep_addr_on_down", "1"));
  ASSERT_TRUE(ok(manager.add(binding(1), addresses)));
  ASSERT_TRUE(ok(manager.remove(binding(1), addresses)));
  EXPECT_FALSE(up());
  EXPECT_TRUE(addressesOn(macvlan).empty());

  // add() also brings back a macvlan someone set down while it held the addresses (the down
  // took the IPv6 address and the routes with it).
  ASSERT_TRUE(writeSysctl("/proc/sys/net/ipv6/conf/" + name + "/keep_addr_on_down", "0"));
  ASSERT_TRUE(ok(manager.add(binding(1), addresses)));
  ASSERT_TRUE(shell("ip link set " + name + " down"));
  EXPECT_TRUE(routesIn(table).empty());
  ASSERT_TRUE(ok(manager.add(binding(1), addresses)));
  EXPECT_TRUE(up());
  EXPECT_EQ(addressesOn(macvlan).size(), 3u);
  EXPECT_EQ(routesIn(table).size(), 3u);
}

// A macvlan cannot go up with the MAC of its parent (or of another macvlan that is up): add()
// then fails and adds nothing, as an address on a down macvlan would serve no one.
TEST_F(AddressManagerTest, AddFailsWhenTheMacvlanCannotGoUp) {
  NetlinkAddressManager manager;
  ASSERT_TRUE(ok(manager.attach(binding(1))));
  const int macvlan = *manager.addressIfindex(binding(1));
  ASSERT_TRUE(shell("ip link set p0 address 00:00:5e:00:01:01"));
  auto added = manager.add(binding(1), std::vector{prefix("192.0.2.100", 24)});
  ASSERT_FALSE(added);
  const std::string name = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(1));
  EXPECT_NE(added.error().message.find("set " + name + " up: "), std::string::npos)
      << added.error().message;
  EXPECT_TRUE(addressesOn(macvlan).empty());
  EXPECT_TRUE(taggedRules().empty());
}

TEST_F(AddressManagerTest, WithoutVmacNoSourceRouting) {
  NetlinkAddressManager manager;
  ASSERT_TRUE(ok(manager.add(binding(2, false), std::vector{prefix("192.0.2.100", 24)})));
  EXPECT_TRUE(taggedRules().empty());
}

TEST_F(AddressManagerTest, RemoveStaleDeletesOnlyCarpdRulesAndRoutes) {
  // Left behind by a carpd that was killed: protocol 99 in a table of carpd's range.
  const std::string stale = std::to_string(*carpdRouteTable(77));
  ASSERT_TRUE(shell("ip addr add 192.0.2.1/24 dev p0 && ip addr add 2001:db8::1/64 dev p0 nodad"));
  ASSERT_TRUE(shell("ip rule add from 192.0.2.66 lookup " + stale + " pref 1000 protocol 99"));
  ASSERT_TRUE(shell("ip -6 rule add from 2001:db8::66 lookup " + stale + " pref 1000 protocol 99"));
  ASSERT_TRUE(shell("ip route add 198.51.100.0/24 dev p0 table " + stale + " proto 99"));
  ASSERT_TRUE(shell("ip -6 route add 2001:db8:66::/64 dev p0 table " + stale + " proto 99"));
  // Not carpd's: an administrator's rule, Open/R's (RTPROT_OPENR is 99 too) rule and routes,
  // and an untagged route in a table of carpd's range.
  const std::string keep = std::to_string(*carpdRouteTable(78));
  ASSERT_TRUE(
      shell("ip rule add from 192.0.2.77 lookup 100 && "
            "ip rule add from 192.0.2.78 lookup 100 protocol 99 && "
            "ip route add 203.0.113.0/24 dev p0 table 100 proto 99 && "
            "ip route add 203.0.113.0/24 dev p0 proto 99 && "
            "ip route add 198.51.100.0/24 dev p0 table " +
            keep));

  NetlinkAddressManager manager;
  EXPECT_TRUE(manager.removeStale({}).failed.empty());
  EXPECT_TRUE(routesIn(*carpdRouteTable(77)).empty());
  const auto rules = taggedRules();
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_TRUE(findRule(rules, 100, "192.0.2.78"));
  EXPECT_TRUE(shell("ip rule show | grep -q 'from 192.0.2.77 lookup 100'"));
  EXPECT_TRUE(shell("ip route show table 100 | grep -q '^203.0.113.0/24 dev p0'"));
  EXPECT_TRUE(shell("ip route show | grep -q '^203.0.113.0/24 dev p0'"));
  EXPECT_EQ(routesIn(*carpdRouteTable(78)).size(), 1u);
}

TEST_F(AddressManagerTest, AttachReplacesALeftoverMacvlanButNotSomeoneElses) {
  const std::string name = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(5));
  ASSERT_TRUE(shell("ip link add link p0 name " + name +
                    " type macvlan mode private && ip link set " + name +
                    " alias 'carpd vhid 5 on p0'"));
  const int leftover = linkNamed(name)->ifindex;
  NetlinkAddressManager manager;
  ASSERT_TRUE(ok(manager.attach(binding(5))));
  auto link = linkNamed(name);
  ASSERT_TRUE(link);
  EXPECT_NE(link->ifindex, leftover);
  EXPECT_EQ(link->mac, proto::virtualMac(*proto::Vhid::make(5)));

  const std::string other = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(6));
  ASSERT_TRUE(shell("ip link add link p0 name " + other + " type macvlan"));
  auto refused = manager.attach(binding(6));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not created by carpd"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(linkNamed(other));

  // A leftover without the alias (killed between creating and configuring it).
  const std::string unaliased = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(8));
  ASSERT_TRUE(
      shell("ip link add link p0 name " + unaliased + " address 00:00:5e:00:01:08 type macvlan"));
  ASSERT_TRUE(ok(manager.attach(binding(8))));
  EXPECT_EQ(linkNamed(unaliased)->alias, "carpd vhid 8 on p0");
}

// q0 is moved to a second namespace, the peer (192.0.2.2/24, 2001:db8::2/64), which sends
// and captures frames on AF_PACKET sockets.
class PeerTest : public AddressManagerTest {
 protected:
  void SetUp() override {
    AddressManagerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(peer_.create());
    ASSERT_TRUE(shell("ip link set q0 netns " + peer_.path()));
    ASSERT_TRUE(
        inPeer("ip link set lo up && ip link set q0 up && "
               "ip addr add 192.0.2.2/24 dev q0 && ip addr add 2001:db8::2/64 dev q0 nodad"));
  }

  bool inPeer(const std::string& command) const {
    return shell("nsenter --net=" + peer_.path() + " sh -c '" + command + "'");
  }

  // Looked up in the peer, where q0 is.
  int q0Ifindex() const {
    return peer_.run([] { return static_cast<int>(if_nametoindex("q0")); });
  }

  // A packet socket of `type` (SOCK_DGRAM, SOCK_RAW) bound to q0 in the peer namespace, whose
  // receive times out after `timeout`.
  int peerPacketSocket(int type, std::uint16_t protocol, std::chrono::milliseconds timeout) {
    const int fd =
        peer_.run([&] { return socket(AF_PACKET, type | SOCK_CLOEXEC, htons(protocol)); });
    const int q0 = q0Ifindex();
    EXPECT_GE(fd, 0);
    EXPECT_GT(q0, 0);
    sockaddr_ll address{};
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(protocol);
    address.sll_ifindex = q0;
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    const timeval tv{.tv_sec = static_cast<time_t>(timeout.count() / 1000),
                     .tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }

  // Every frame with Ethernet source `mac` that reaches q0 on `fd` (an ETH_P_ALL socket of
  // peerPacketSocket) within `duration`, as "ethertype: first bytes" for the failure message.
  static std::vector<std::string> framesFrom(int fd, const proto::MacAddress& mac,
                                             std::chrono::milliseconds duration) {
    std::vector<std::string> found;
    const auto deadline = std::chrono::steady_clock::now() + duration;
    std::array<std::uint8_t, 2048> frame{};
    while (std::chrono::steady_clock::now() < deadline) {
      sockaddr_ll address{};
      socklen_t length = sizeof(address);
      const ssize_t size = recvfrom(fd, frame.data(), frame.size(), 0,
                                    reinterpret_cast<sockaddr*>(&address), &length);
      if (size < 14 || address.sll_pkttype == PACKET_OUTGOING) continue;
      if (std::memcmp(frame.data() + 6, mac.data(), mac.size()) != 0) continue;
      char text[64];
      std::snprintf(text, sizeof(text), "ethertype 0x%02x%02x, %zd bytes", frame[12], frame[13],
                    size);
      found.emplace_back(text);
    }
    return found;
  }

  // Reads whatever is queued on `fd` without waiting.
  static void drain(int fd) {
    std::array<std::uint8_t, 2048> frame{};
    while (recv(fd, frame.data(), frame.size(), MSG_DONTWAIT) > 0) {
    }
  }

  carp::testing::PeerNetns peer_;
};

// Nothing leaves with the virtual MAC while the VHID holds no addresses: not after attach, and
// not after remove(), where an up macvlan sent the MLD reports leaving the solicited-node
// group of the IPv6 address (at once and again within a second). Each such frame teaches the
// switches that the virtual MAC is behind this host, a BACKUP, and diverts the clients'
// traffic from the new MASTER until its next advertisement.
TEST_F(PeerTest, NoFrameFromTheVirtualMacWhileNotHoldingAddresses) {
  const proto::MacAddress vmac = proto::virtualMac(*proto::Vhid::make(1));
  const std::vector addresses{prefix("192.0.2.100", 24), prefix("2001:db8::100", 64),
                              prefix("2001:db8::101", 64)};
  const int fd = peerPacketSocket(SOCK_RAW, ETH_P_ALL, 100ms);
  NetlinkAddressManager manager;
  ASSERT_TRUE(ok(manager.attach(binding(1))));
  EXPECT_EQ(framesFrom(fd, vmac, 1s), std::vector<std::string>{}) << "after attach";

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_TRUE(ok(manager.add(binding(1), addresses)));
    // The joins of the solicited-node groups (and their repetition) are the MASTER's to send.
    EXPECT_FALSE(framesFrom(fd, vmac, 1500ms).empty()) << "the capture sees the macvlan";
    drain(fd);
    ASSERT_TRUE(ok(manager.remove(binding(1), addresses)));
    EXPECT_EQ(framesFrom(fd, vmac, 2s), std::vector<std::string>{}) << "after remove";
  }
  manager.detach(binding(1));
  close(fd);
}

// ARP for a virtual address is answered once, by the macvlan, with the virtual MAC.
class ArpTest : public PeerTest {
 protected:
  void SetUp() override {
    PeerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(shell("ip addr add 192.0.2.1/24 dev p0"));
  }

  // Sends "who-has target" from q0 and returns the sender MAC of every reply within 1 s.
  std::vector<proto::MacAddress> arpReplies(const char* target) {
    const int fd = peerPacketSocket(SOCK_DGRAM, ETH_P_ARP, 1s);
    const int q0 = q0Ifindex();
    sockaddr_ll address{};
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ARP);
    address.sll_ifindex = q0;

    ether_arp request{};
    request.arp_hrd = htons(ARPHRD_ETHER);
    request.arp_pro = htons(ETHERTYPE_IP);
    request.arp_hln = 6;
    request.arp_pln = 4;
    request.arp_op = htons(ARPOP_REQUEST);
    const std::array<std::uint8_t, 6> sender_mac{0x02, 0, 0, 0, 0, 0x02};
    std::memcpy(request.arp_sha, sender_mac.data(), 6);
    inet_pton(AF_INET, "192.0.2.2", request.arp_spa);
    inet_pton(AF_INET, target, request.arp_tpa);
    sockaddr_ll broadcast = address;
    broadcast.sll_halen = 6;
    std::memset(broadcast.sll_addr, 0xff, 6);
    EXPECT_EQ(sendto(fd, &request, sizeof(request), 0, reinterpret_cast<sockaddr*>(&broadcast),
                     sizeof(broadcast)),
              static_cast<ssize_t>(sizeof(request)));

    std::vector<proto::MacAddress> replies;
    ether_arp reply{};
    while (recv(fd, &reply, sizeof(reply), 0) == static_cast<ssize_t>(sizeof(reply))) {
      if (ntohs(reply.arp_op) != ARPOP_REPLY || std::memcmp(reply.arp_spa, request.arp_tpa, 4)) {
        continue;
      }
      proto::MacAddress mac{};
      std::memcpy(mac.data(), reply.arp_sha, 6);
      replies.push_back(mac);
    }
    close(fd);
    return replies;
  }
};

TEST_F(ArpTest, OnlyTheMacvlanAnswersWithTheVirtualMac) {
  NetlinkAddressManager manager;
  ASSERT_TRUE(ok(manager.attach(binding(1))));
  ASSERT_TRUE(
      manager.add(binding(1), std::vector{prefix("192.0.2.100", 24), prefix("2001:db8::100", 64)}));
  const proto::MacAddress vmac = proto::virtualMac(*proto::Vhid::make(1));
  EXPECT_EQ(arpReplies("192.0.2.100"), std::vector{vmac});

  // Why the parent needs arp_ignore=1: with the kernel default it answers too, with its MAC.
  ASSERT_TRUE(writeSysctl("/proc/sys/net/ipv4/conf/p0/arp_ignore", "0"));
  EXPECT_EQ(arpReplies("192.0.2.100").size(), 2u);
  ASSERT_TRUE(writeSysctl("/proc/sys/net/ipv4/conf/p0/arp_ignore", "1"));

  // IPv6: neighbour discovery is per interface anyway; the peer learns the virtual MAC.
  ASSERT_TRUE(
      inPeer("ping -6 -c1 -W2 2001:db8::100 >/dev/null && "
             "ip -6 neigh show 2001:db8::100 | grep -q 00:00:5e:00:01:01"));
}

// The host (p0: 192.0.2.11/24, 2001:db8::11/64, default routes via .254 / ::fe) with VHID 5's
// virtual addresses 192.0.2.1/24 and 2001:db8::1/64 on its macvlan, and the peer on q0.
class SourceRoutingTest : public PeerTest {
 protected:
  void SetUp() override {
    PeerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(
        shell("ip addr add 192.0.2.11/24 dev p0 && ip addr add 2001:db8::11/64 dev p0 nodad && "
              "ip route add default via 192.0.2.254 && ip -6 route add default via 2001:db8::fe"));
    manager_.emplace();  // here: its netlink socket belongs to the namespace it is opened in
    ASSERT_TRUE(ok(manager_->attach(binding(5))));
    ASSERT_TRUE(ok(manager_->add(binding(5), addresses_)));
    macvlan_ = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(5));
    table_ = std::to_string(*carpdRouteTable(*manager_->addressIfindex(binding(5))));
    parent_mac_ = *linkNamed("p0")->mac;
  }

  // Runs `command` (here, or in the peer namespace) and returns the Ethernet source of every
  // ICMP echo request (reply = false) or reply from `source` that reached q0 meanwhile.
  std::vector<proto::MacAddress> echoSenders(const std::string& command, bool in_peer,
                                             const char* source, bool reply) {
    const int fd = peerPacketSocket(SOCK_RAW, ETH_P_ALL, 300ms);
    EXPECT_TRUE(in_peer ? inPeer(command) : shell(command));
    const proto::IpAddress from = parseIp(source);
    const bool v4 = from.family == proto::Family::kIPv4;
    const std::uint8_t type = v4 ? (reply ? 0 : 8) : (reply ? 129 : 128);
    std::vector<proto::MacAddress> senders;
    std::array<std::uint8_t, 2048> frame{};
    sockaddr_ll address{};
    socklen_t length = sizeof(address);
    ssize_t size = 0;
    while ((size = recvfrom(fd, frame.data(), frame.size(), 0,
                            reinterpret_cast<sockaddr*>(&address), &length)) > 0) {
      length = sizeof(address);
      if (address.sll_pkttype == PACKET_OUTGOING) continue;
      const auto n = static_cast<std::size_t>(size);
      const std::uint8_t* ip_header = frame.data() + 14;
      const unsigned ethertype = frame[12] << 8 | frame[13];
      bool match = false;
      if (v4 && ethertype == ETH_P_IP && n >= 14 + 20) {
        const std::size_t header_length = (ip_header[0] & 0x0f) * 4u;
        match = ip_header[9] == IPPROTO_ICMP && n > 14 + header_length &&
                std::memcmp(ip_header + 12, from.bytes.data(), 4) == 0 &&
                ip_header[header_length] == type;
      } else if (!v4 && ethertype == ETH_P_IPV6 && n > 14 + 40) {
        match = ip_header[6] == IPPROTO_ICMPV6 &&
                std::memcmp(ip_header + 8, from.bytes.data(), 16) == 0 && ip_header[40] == type;
      }
      if (!match) continue;
      proto::MacAddress mac{};
      std::memcpy(mac.data(), frame.data() + 6, 6);
      senders.push_back(mac);
    }
    close(fd);
    return senders;
  }

  std::optional<NetlinkAddressManager> manager_;
  const std::vector<proto::InterfaceAddress> addresses_{prefix("192.0.2.1", 24),
                                                        prefix("2001:db8::1", 64)};
  const proto::MacAddress vmac_ = proto::virtualMac(*proto::Vhid::make(5));
  proto::MacAddress parent_mac_{};
  std::string macvlan_;
  std::string table_;
};

TEST_F(SourceRoutingTest, RoutesOnLinkTrafficFromTheVirtualAddressesThroughTheMacvlan) {
  EXPECT_TRUE(shell("ip rule show | grep -q '^1000:.*from 192.0.2.1 lookup " + table_ + "'"));
  EXPECT_TRUE(shell("ip -6 rule show | grep -q '^1000:.*from 2001:db8::1 lookup " + table_ + "'"));
  EXPECT_TRUE(shell("ip route show table " + table_ + " | grep -q '^192.0.2.0/24 dev " + macvlan_ +
                    " .*src 192.0.2.1'"));
  EXPECT_TRUE(shell("ip -6 route show table " + table_ + " | grep -q '^2001:db8::/64 dev " +
                    macvlan_ + " .*src 2001:db8::1'"));
  // On-link from a virtual address: the macvlan. Off-link: no route in the table, so on to
  // main and its default route via the parent. The host's own address: the parent.
  const auto get = [](const std::string& what, const std::string& expected) {
    return shell("ip route get " + what + " | grep -q '" + expected + "'");
  };
  EXPECT_TRUE(get("192.0.2.2 from 192.0.2.1", " dev " + macvlan_ + " table " + table_));
  EXPECT_TRUE(get("198.51.100.9 from 192.0.2.1", "via 192.0.2.254 dev p0"));
  EXPECT_TRUE(get("192.0.2.2 from 192.0.2.11", "^192.0.2.2 from 192.0.2.11 dev p0"));
  EXPECT_TRUE(get("192.0.2.2", "dev p0 src 192.0.2.11"));
  EXPECT_TRUE(get("2001:db8::2 from 2001:db8::1", " dev " + macvlan_ + " table " + table_));
  EXPECT_TRUE(get("2001:db8:ffff::9 from 2001:db8::1", "via 2001:db8::fe dev p0"));
  EXPECT_TRUE(get("2001:db8::2 from 2001:db8::11", " dev p0 "));
}

TEST_F(SourceRoutingTest, FramesFromTheVirtualAddressesCarryTheVirtualMac) {
  // Replies to the peer's pings. (IPv6 echo replies are routed out of the interface the request
  // came in on anyway; IPv4 ones, and anything else the host sends, by the routing tables.)
  const std::vector vmac{vmac_};
  EXPECT_EQ(echoSenders("ping -c1 -W2 192.0.2.1 >/dev/null", true, "192.0.2.1", true), vmac);
  EXPECT_EQ(echoSenders("ping -6 -c1 -W2 2001:db8::1 >/dev/null", true, "2001:db8::1", true), vmac);
  // Sent from a virtual address by the host itself.
  EXPECT_EQ(
      echoSenders("ping -c1 -W2 -I 192.0.2.1 192.0.2.2 >/dev/null", false, "192.0.2.1", false),
      vmac);
  EXPECT_EQ(echoSenders("ping -6 -c1 -W2 -I 2001:db8::1 2001:db8::2 >/dev/null", false,
                        "2001:db8::1", false),
            vmac);
  // The host's own address still sends with the NIC's MAC.
  const std::vector nic{parent_mac_};
  EXPECT_EQ(
      echoSenders("ping -c1 -W2 -I 192.0.2.11 192.0.2.2 >/dev/null", false, "192.0.2.11", false),
      nic);
  EXPECT_EQ(echoSenders("ping -c1 -W2 192.0.2.2 >/dev/null", false, "192.0.2.11", false), nic);
  EXPECT_EQ(echoSenders("ping -6 -c1 -W2 -I 2001:db8::11 2001:db8::2 >/dev/null", false,
                        "2001:db8::11", false),
            nic);

  // Why the rule: without it, the parent's connected route (first in main) sends the reply
  // with the NIC's MAC. add() puts a missing rule back.
  ASSERT_TRUE(shell("ip rule del from 192.0.2.1 lookup " + table_ + " pref 1000 protocol 99"));
  EXPECT_EQ(echoSenders("ping -c1 -W2 192.0.2.1 >/dev/null", true, "192.0.2.1", true), nic);
  ASSERT_TRUE(ok(manager_->add(binding(5), addresses_)));
  EXPECT_EQ(echoSenders("ping -c1 -W2 192.0.2.1 >/dev/null", true, "192.0.2.1", true), vmac);

  ASSERT_TRUE(ok(manager_->remove(binding(5), addresses_)));
  EXPECT_TRUE(taggedRules().empty());
  EXPECT_TRUE(shell("test -z \"$(ip route show table " + table_ +
                    ")\" && test -z \"$(ip -6 route show table " + table_ + ")\""));
}

// A strict rp_filter (net.ipv4.conf.all.rp_filter=1 overrides the macvlan's 0: the kernel
// uses the maximum) checks a packet for a virtual address that arrives on the macvlan by the
// route back to its sender: with the rule, that is the macvlan, and the check passes.
TEST_F(SourceRoutingTest, StrictRpFilterKeepsWorking) {
  ASSERT_TRUE(writeSysctl("/proc/sys/net/ipv4/conf/all/rp_filter", "1"));
  ASSERT_TRUE(writeSysctl("/proc/sys/net/ipv4/conf/p0/rp_filter", "1"));
  EXPECT_EQ(echoSenders("ping -c1 -W2 192.0.2.1 >/dev/null", true, "192.0.2.1", true),
            std::vector{vmac_});
  EXPECT_EQ(
      echoSenders("ping -c1 -W2 -I 192.0.2.11 192.0.2.2 >/dev/null", false, "192.0.2.11", false),
      std::vector{parent_mac_});
  EXPECT_EQ(
      echoSenders("ping -c1 -W2 -I 192.0.2.1 192.0.2.2 >/dev/null", false, "192.0.2.1", false),
      std::vector{vmac_});

  // Without the rule, the check sends the peer's ARP request for the virtual address to the
  // parent, which is not where it came in: the peer gets no answer at all.
  ASSERT_TRUE(shell("ip rule del from 192.0.2.1 lookup " + table_ + " pref 1000 protocol 99 && " +
                    "ip neigh flush dev " + macvlan_));
  ASSERT_TRUE(inPeer("ip neigh flush dev q0"));
  EXPECT_TRUE(
      echoSenders("ping -c1 -W1 192.0.2.1 >/dev/null || true", true, "192.0.2.1", true).empty());
}

TEST_F(AddressManagerTest, RemoveStaleKeepsWhatAnotherLiveCarpdOwns) {
  // Issue 12, instance isolation: a second carpd in the namespace runs vhid 1 on p0 (vmac) and
  // 198.51.100.7 (no vmac); the first is gone and left vhid 2 and 198.51.100.8 behind.
  NetlinkAddressManager other;
  ASSERT_TRUE(ok(other.attach(binding(1))));
  ASSERT_TRUE(ok(other.add(binding(1), std::vector{prefix("192.0.2.100", 24)})));
  ASSERT_TRUE(ok(other.add(binding(3, false), std::vector{prefix("198.51.100.7", 24)})));
  NetlinkAddressManager killed;
  ASSERT_TRUE(ok(killed.attach(binding(2))));
  ASSERT_TRUE(ok(killed.add(binding(2), std::vector{prefix("192.0.2.101", 24)})));
  ASSERT_TRUE(ok(killed.add(binding(4, false), std::vector{prefix("198.51.100.8", 24)})));
  const int live = *other.addressIfindex(binding(1));
  const std::string dead = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(2));
  ASSERT_EQ(taggedRules().size(), 2u);

  StaleFilter filter;
  std::vector<std::pair<std::string, int>> asked;
  filter.vhid_in_use = [&asked](std::string_view parent, proto::Vhid vhid) {
    asked.emplace_back(std::string(parent), vhid.value());
    return parent == "p0" && vhid.value() == 1;
  };
  filter.address_in_use = [](const proto::IpAddress& address) {
    return address == parseIp("198.51.100.7");
  };
  NetlinkAddressManager restarted;
  const auto report = restarted.removeStale(filter);
  EXPECT_TRUE(report.failed.empty()) << report.failed.front().message;
  EXPECT_TRUE(linkNamed(NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(1))));
  EXPECT_TRUE(findAddress(addressesOn(live), prefix("192.0.2.100", 24)));
  EXPECT_TRUE(findAddress(addressesOn(parent_), prefix("198.51.100.7", 24)));
  const auto rules = taggedRules();
  ASSERT_EQ(rules.size(), 1u) << "the live VHID's rule stays, the dead one's goes";
  EXPECT_TRUE(findRule(rules, *carpdRouteTable(live), "192.0.2.100"));
  EXPECT_EQ(routesIn(*carpdRouteTable(live)).size(), 1u);
  EXPECT_FALSE(linkNamed(dead));
  EXPECT_FALSE(findAddress(addressesOn(parent_), prefix("198.51.100.8", 24)));
  EXPECT_TRUE(contains(report.removed, "macvlan " + dead));
  EXPECT_TRUE(contains(report.removed, "address 198.51.100.8/24 on p0"));
  EXPECT_EQ(std::count(asked.begin(), asked.end(), std::pair<std::string, int>{"p0", 1}), 1);
  EXPECT_EQ(std::count(asked.begin(), asked.end(), std::pair<std::string, int>{"p0", 2}), 1);
  EXPECT_FALSE(report.kept.empty());
  // So that the managers' destructors do not fight over what the test already checked.
  killed.detach(binding(2));
  killed.detach(binding(4, false));
}

}  // namespace
}  // namespace carp::os::lnx
