// Runs against the real kernel, each test in a private network namespace (root only; skipped
// otherwise). Parent: a veth pair p0/q0, since the kernel may lack the dummy driver.
#include "os/linux/netlink_address_manager.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/if_ether.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "os/linux/netlink_messages.h"
#include "os/linux/netlink_socket.h"
#include "os/linux/sysctl.h"

namespace carp::os::lnx {
namespace {

using namespace std::chrono_literals;

proto::IpAddress ip(const char* text) {
  std::array<std::uint8_t, 16> bytes{};
  if (inet_pton(AF_INET, text, bytes.data()) == 1) {
    return proto::IpAddress::v4({bytes[0], bytes[1], bytes[2], bytes[3]});
  }
  EXPECT_EQ(inet_pton(AF_INET6, text, bytes.data()), 1) << text;
  return proto::IpAddress::v6(bytes);
}

proto::InterfaceAddress prefix(const char* text, std::uint8_t length) { return {ip(text), length}; }

::testing::AssertionResult ok(const tl::expected<void, std::string>& result) {
  if (result) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << result.error();
}

bool sh(const std::string& command) {
  const int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << command;
  return status == 0;
}

std::string sysctl(const std::string& path) { return readSysctl(path).value_or("<missing>"); }

class AddressManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
    if (unshare(CLONE_NEWNET) != 0) GTEST_SKIP() << "unshare(CLONE_NEWNET): " << strerror(errno);
    ASSERT_TRUE(
        sh("ip link set lo up && ip link add p0 type veth peer name q0 && "
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
  EXPECT_TRUE(link->flags & IFF_UP);

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
    ASSERT_TRUE(ok(manager.add(binding(2, false), std::vector{prefix("192.0.2.10", 24)})));
  }
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
  ASSERT_TRUE(added) << added.error();
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
    const AddressMessage* found = findAddress(addressesOn(parent_), address);
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
  ASSERT_TRUE(sh("ip addr add 203.0.113.5/24 dev p0"));
  NetlinkAddressManager manager;
  const std::vector addresses{prefix("203.0.113.5", 24)};
  ASSERT_TRUE(ok(manager.add(binding(4, false), addresses)));  // already there: fine, not retagged
  const AddressMessage* found = findAddress(addressesOn(parent_), addresses[0]);
  ASSERT_NE(found, nullptr);
  EXPECT_FALSE(found->carpdTagged());
  ASSERT_TRUE(ok(manager.remove(binding(4, false), addresses)));
  EXPECT_TRUE(findAddress(addressesOn(parent_), addresses[0]));
  manager.removeStale();
  manager.detach(binding(4, false));
  EXPECT_TRUE(findAddress(addressesOn(parent_), addresses[0]));
}

TEST_F(AddressManagerTest, RemoveStaleDeletesOnlyCarpdLeftovers) {
  // Left behind by a carpd that was killed: a macvlan with its alias and tagged addresses.
  ASSERT_TRUE(
      sh("ip link add link p0 name cv99-9 type macvlan mode bridge && "
         "ip link set cv99-9 alias 'carpd vhid 9 on p0' && ip link set cv99-9 up"));
  addTagged(parent_, prefix("192.0.2.200", 24));
  addTagged(parent_, prefix("2001:db8::200", 64));
  // One killed before it set the alias: recognisable by name and virtual MAC together.
  const std::string unaliased = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(8));
  ASSERT_TRUE(sh("ip link add link p0 name " + unaliased +
                 " address 00:00:5e:00:01:08 type macvlan mode bridge"));
  // Everything else stays: an administrator's macvlans (one named like carpd's, but with
  // another MAC), addresses and the link-local.
  const std::string lookalike = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(9));
  ASSERT_TRUE(
      sh("ip link add link p0 name mv0 type macvlan mode bridge && "
         "ip link set mv0 alias 'carp-ish but not carpd' && "
         "ip link add link p0 name " +
         lookalike +
         " address 02:00:5e:00:01:09 type macvlan && "
         "ip addr add 192.0.2.1/24 dev p0 && ip addr add 2001:db8::1/64 dev p0 nodad"));
  const std::size_t before = addressesOn(parent_).size();

  NetlinkAddressManager manager;
  manager.removeStale();
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
  manager.removeStale();
  EXPECT_EQ(addressesOn(*manager.addressIfindex(binding(1))).size(), 1u);
  EXPECT_TRUE(findAddress(addressesOn(parent_), prefix("192.0.2.102", 24)));
}

TEST_F(AddressManagerTest, AttachReplacesALeftoverMacvlanButNotSomeoneElses) {
  const std::string name = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(5));
  ASSERT_TRUE(sh("ip link add link p0 name " + name + " type macvlan mode private && ip link set " +
                 name + " alias 'carpd vhid 5 on p0'"));
  const int leftover = linkNamed(name)->ifindex;
  NetlinkAddressManager manager;
  ASSERT_TRUE(ok(manager.attach(binding(5))));
  auto link = linkNamed(name);
  ASSERT_TRUE(link);
  EXPECT_NE(link->ifindex, leftover);
  EXPECT_EQ(link->mac, proto::virtualMac(*proto::Vhid::make(5)));

  const std::string other = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(6));
  ASSERT_TRUE(sh("ip link add link p0 name " + other + " type macvlan"));
  auto refused = manager.attach(binding(6));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("not created by carpd"), std::string::npos) << refused.error();
  EXPECT_TRUE(linkNamed(other));

  // A leftover without the alias (killed between creating and configuring it).
  const std::string unaliased = NetlinkAddressManager::macvlanName(parent_, *proto::Vhid::make(8));
  ASSERT_TRUE(
      sh("ip link add link p0 name " + unaliased + " address 00:00:5e:00:01:08 type macvlan"));
  ASSERT_TRUE(ok(manager.attach(binding(8))));
  EXPECT_EQ(linkNamed(unaliased)->alias, "carpd vhid 8 on p0");
}

// ARP for a virtual address is answered once, by the macvlan, with the virtual MAC. q0 is
// moved to a second namespace, from which the test sends the request on an AF_PACKET socket.
class ArpTest : public AddressManagerTest {
 protected:
  void SetUp() override {
    AddressManagerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    home_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(home_, 0);
    ASSERT_EQ(unshare(CLONE_NEWNET), 0);
    peer_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(peer_, 0);
    ASSERT_EQ(setns(home_, CLONE_NEWNET), 0);
    peer_path_ = "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(peer_);
    ASSERT_TRUE(sh("ip link set q0 netns " + peer_path_ + " && ip addr add 192.0.2.1/24 dev p0"));
    ASSERT_TRUE(
        inPeer("ip link set lo up && ip link set q0 up && "
               "ip addr add 192.0.2.2/24 dev q0 && ip addr add 2001:db8::2/64 dev q0 nodad"));
  }
  void TearDown() override {
    if (peer_ >= 0) close(peer_);
    if (home_ >= 0) close(home_);
  }

  bool inPeer(const std::string& command) const {
    return sh("nsenter --net=" + peer_path_ + " sh -c '" + command + "'");
  }

  // Sends "who-has target" from q0 and returns the sender MAC of every reply within 1 s.
  std::vector<proto::MacAddress> arpReplies(const char* target) {
    EXPECT_EQ(setns(peer_, CLONE_NEWNET), 0);
    const int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
    const int q0 = static_cast<int>(if_nametoindex("q0"));
    EXPECT_EQ(setns(home_, CLONE_NEWNET), 0);
    EXPECT_GE(fd, 0);
    EXPECT_GT(q0, 0);
    sockaddr_ll address{};
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ARP);
    address.sll_ifindex = q0;
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    const timeval timeout{.tv_sec = 1, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));

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

  int home_ = -1;
  int peer_ = -1;
  std::string peer_path_;
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

}  // namespace
}  // namespace carp::os::lnx
