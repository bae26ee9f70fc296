#include "proto/load_balance.h"

#include <gtest/gtest.h>

#include <array>

namespace carp::proto {
namespace {

Vhid vhid(int v) { return *Vhid::make(v); }

// Vectors worked out by hand from carp-wire.md §5.1 (fold = src ^ dst, index = ntohl(fold) %
// lscount):
//   198.51.100.7 ^ 192.0.2.100 = c6.33.64.07 ^ c0.00.02.64 = 06.33.66.63 = 104031843
//   104031843 % 2 = 1, % 3 = 0 (digit sum 30), % 32 = 0x63 & 31 = 3
//   192.0.2.203 ^ 192.0.2.100 = 00.00.00.af = 175: % 2 = 1, % 3 = 1
TEST(LoadBalance, NodeIndexIsNtohlOfXorModuloCount) {
  const auto client = IpAddress::v4({198, 51, 100, 7});
  const auto shared = IpAddress::v4({192, 0, 2, 100});
  EXPECT_EQ(nodeIndex(client, shared, 2), 1U);
  EXPECT_EQ(nodeIndex(client, shared, 3), 0U);
  EXPECT_EQ(nodeIndex(client, shared, 32), 3U);
  EXPECT_EQ(nodeIndex(IpAddress::v4({192, 0, 2, 203}), shared, 2), 1U);
  EXPECT_EQ(nodeIndex(IpAddress::v4({192, 0, 2, 203}), shared, 3), 1U);
  // Symmetric: the reply of a flow hashes like the request (OpenBSD "symmetric firewalls").
  EXPECT_EQ(nodeIndex(shared, client, 3), nodeIndex(client, shared, 3));
}

TEST(LoadBalance, AcceptsOnlyWhenTheFlowsNodeIsMaster) {
  const auto client = IpAddress::v4({198, 51, 100, 7});
  const auto shared = IpAddress::v4({192, 0, 2, 100});
  EXPECT_TRUE(accepts(0b10, 2, client, shared));
  EXPECT_FALSE(accepts(0b01, 2, client, shared));
  EXPECT_TRUE(accepts(0b11, 2, client, shared));
  EXPECT_FALSE(accepts(0, 2, client, shared));
  EXPECT_TRUE(accepts(0b001, 3, client, shared));
  EXPECT_TRUE(accepts(1U << 3, 32, client, shared));
  EXPECT_FALSE(accepts(~(1U << 3), 32, client, shared));
  EXPECT_FALSE(accepts(0xffffffff, 0, client, shared));
}

TEST(LoadBalance, NodesAreOrderedByVhidAndTheLowestLeads) {
  const std::array nodes{vhid(7), vhid(3), vhid(200)};
  EXPECT_EQ(nodePosition(nodes, vhid(3)), 0);
  EXPECT_EQ(nodePosition(nodes, vhid(7)), 1);
  EXPECT_EQ(nodePosition(nodes, vhid(200)), 2);
  EXPECT_EQ(nodePosition(nodes, vhid(8)), -1);
  EXPECT_EQ(leaderOf(nodes), vhid(3));
}

TEST(LoadBalance, MacRulesPerMode) {
  const MacAddress parent{0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  const auto ip = balancingMacs(Balancing::kIp, vhid(5), parent);
  EXPECT_EQ(ip.lladdr, (MacAddress{0x01, 0x00, 0x5e, 0x00, 0x01, 0x05}));
  EXPECT_EQ(ip.frame_source, parent);
  const auto stealth = balancingMacs(Balancing::kIpStealth, vhid(5), parent);
  EXPECT_EQ(stealth.lladdr, (MacAddress{0x00, 0x00, 0x5e, 0x00, 0x01, 0x05}));
  EXPECT_EQ(stealth.frame_source, parent);
  const auto unicast = balancingMacs(Balancing::kIpUnicast, vhid(5), parent);
  EXPECT_EQ(unicast.lladdr, (MacAddress{0x00, 0x00, 0x5e, 0x00, 0x01, 0x05}));
  EXPECT_EQ(unicast.frame_source, unicast.lladdr);
  EXPECT_EQ(toString(Balancing::kIpStealth), "ip-stealth");
}

}  // namespace
}  // namespace carp::proto
