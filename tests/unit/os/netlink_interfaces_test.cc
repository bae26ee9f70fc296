// Runs against the real kernel in a private network namespace (root only; skipped otherwise).
#include "os/linux/netlink_interfaces.h"

#include <gtest/gtest.h>
#include <net/if.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "os/linux/netlink_address_manager.h"
#include "support/netns_helpers.h"

namespace carp::os::lnx {
namespace {

using namespace std::chrono_literals;
using carp::testing::parseIp;
using carp::testing::shell;

class InterfaceDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!carp::testing::enterPrivateNetns(carp::testing::UnshareFailure::kSkip)) return;
    ASSERT_TRUE(
        shell("ip link add p0 address 02:00:00:00:00:01 type veth peer name q0 "
              "&& ip link set p0 up && ip link set q0 up"));
    parent_ = static_cast<int>(if_nametoindex("p0"));
    ASSERT_GT(parent_, 0);
  }

  // The kernel adds the link-local once the link has carrier, asynchronously.
  std::optional<InterfaceInfo> waitForLinkLocal(InterfaceDirectory& directory) {
    for (int i = 0; i < 50; ++i) {
      auto info = directory.find("p0");
      if (info && std::any_of(info->ipv6.begin(), info->ipv6.end(),
                              [](const auto& a) { return a.isIpv6LinkLocal(); })) {
        return info;
      }
      std::this_thread::sleep_for(100ms);
    }
    return std::nullopt;
  }

  int parent_ = 0;
};

TEST_F(InterfaceDirectoryTest, FindsLinkWithMacStateAndAddressesInKernelOrder) {
  ASSERT_TRUE(
      shell("ip addr add 192.0.2.1/24 dev p0 && ip addr add 198.51.100.1/24 dev p0 && "
            "ip addr add 192.0.2.2/24 dev p0 && ip addr add 2001:db8::1/64 dev p0 nodad"));
  NetlinkInterfaceDirectory directory;
  auto info = waitForLinkLocal(directory);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->ifindex, parent_);
  EXPECT_EQ(info->name, "p0");
  EXPECT_EQ(info->mac, (proto::MacAddress{0x02, 0, 0, 0, 0, 0x01}));
  EXPECT_TRUE(info->running);
  // The kernel's order: primaries in the order they were added, then secondaries.
  EXPECT_EQ(info->ipv4,
            (std::vector{parseIp("192.0.2.1"), parseIp("198.51.100.1"), parseIp("192.0.2.2")}));
  EXPECT_EQ(info->ipv6.size(), 2u);
  EXPECT_NE(std::find(info->ipv6.begin(), info->ipv6.end(), parseIp("2001:db8::1")),
            info->ipv6.end());

  auto by_index = directory.find(parent_);
  ASSERT_TRUE(by_index);
  EXPECT_EQ(by_index->name, "p0");
  EXPECT_EQ(by_index->ipv4, info->ipv4);
  EXPECT_EQ(by_index->ipv6, info->ipv6);
}

TEST_F(InterfaceDirectoryTest, OnlyTheInterfacesOwnAddressesAmongMany) {
  // The dump is filtered by interface (in the kernel under NETLINK_GET_STRICT_CHK, here
  // otherwise): addresses of other interfaces never leak into the answer.
  ASSERT_TRUE(
      shell("ip addr add 192.0.2.1/24 dev p0 && ip addr add 198.51.100.7/24 dev q0 && "
            "ip link add p1 type veth peer name q1 && ip link set p1 up && "
            "ip link set q1 up && ip addr add 203.0.113.1/24 dev p1 && "
            "ip addr add 2001:db8:1::1/64 dev q1 nodad"));
  NetlinkInterfaceDirectory directory;
  auto p0 = directory.find("p0");
  ASSERT_TRUE(p0);
  EXPECT_EQ(p0->ipv4, std::vector{parseIp("192.0.2.1")});
  auto q0 = directory.find("q0");
  ASSERT_TRUE(q0);
  EXPECT_EQ(q0->ipv4, std::vector{parseIp("198.51.100.7")});
  auto p1 = directory.find("p1");
  ASSERT_TRUE(p1);
  EXPECT_EQ(p1->ipv4, std::vector{parseIp("203.0.113.1")});
  EXPECT_EQ(std::find(p1->ipv6.begin(), p1->ipv6.end(), parseIp("2001:db8:1::1")), p1->ipv6.end());
}

TEST_F(InterfaceDirectoryTest, LeavesOutCarpdsOwnAddresses) {
  ASSERT_TRUE(shell("ip addr add 192.0.2.1/24 dev p0"));
  NetlinkAddressManager manager;
  const VhidBinding binding{parent_, "p0", *proto::Vhid::make(1), false};
  ASSERT_TRUE(
      manager.add(binding, std::vector{proto::InterfaceAddress{parseIp("192.0.2.100"), 24},
                                       proto::InterfaceAddress{parseIp("2001:db8::100"), 64}}));
  NetlinkInterfaceDirectory directory;
  auto info = waitForLinkLocal(directory);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->ipv4, std::vector{parseIp("192.0.2.1")});
  ASSERT_EQ(info->ipv6.size(), 1u);
  EXPECT_TRUE(info->ipv6[0].isIpv6LinkLocal());
}

TEST_F(InterfaceDirectoryTest, RunningNeedsUpAndCarrier) {
  NetlinkInterfaceDirectory directory;
  ASSERT_TRUE(shell("ip link set q0 down"));  // p0 is up but has no carrier
  auto info = directory.find("p0");
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->running);
  ASSERT_TRUE(shell("ip link set q0 up && ip link set p0 down"));
  info = directory.find("p0");
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->running);
  ASSERT_TRUE(shell("ip link set p0 up"));
  EXPECT_TRUE(directory.find("p0")->running);
}

TEST_F(InterfaceDirectoryTest, UnknownInterfacesAreNotFound) {
  NetlinkInterfaceDirectory directory;
  EXPECT_FALSE(directory.find("nope0"));
  EXPECT_FALSE(directory.find(""));
  EXPECT_FALSE(directory.find("a-name-longer-than-ifnamsiz"));
  EXPECT_FALSE(directory.find(9999));
  EXPECT_FALSE(directory.find(0));
  EXPECT_TRUE(directory.find("lo"));
}

}  // namespace
}  // namespace carp::os::lnx
