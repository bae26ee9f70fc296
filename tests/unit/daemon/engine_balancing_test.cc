// The engine's side of load balancing: the MASTER mask, leader flag, lease and addresses of a
// balancing group follow its nodes' states; the leader announces the shared MAC.
#include <gtest/gtest.h>

#include "support/engine_fixture.h"

namespace carp::testing {
namespace {

using proto::State;
using std::chrono::seconds;

constexpr const char* kBalanced = R"(
[[vhid]]
interface = "eth0"
nodes = [{vhid = 2, advskew = 100}, {vhid = 1, advskew = 50}]
balancing = "ip"
pass = "secret"
addresses = ["192.0.2.50/24"]
)";

class EngineBalancingTest : public EngineFixture {
 protected:
  std::unique_ptr<daemon::Engine> makeBalanced() {
    auto d = deps();
    d.balancer = &balancer_;
    return std::make_unique<daemon::Engine>(d, parse(kBalanced), false);
  }
  static State stateOf(const daemon::Engine& e, int vhid) {
    for (const auto& v : e.vhids()) {
      if (v->config.vhid.value() == vhid) return v->machine.state();
    }
    return State::kInit;
  }
  std::vector<proto::InterfaceAddress> shared() const {
    return {*config::parseInterfaceAddress("192.0.2.50/24")};
  }
  FakeLoadBalancer balancer_;
};

TEST_F(EngineBalancingTest, MaskLeaderAndAddressesFollowTheNodes) {
  auto e = makeBalanced();
  e->start(clock_.now());
  EXPECT_EQ(balancer_.stale_cleanups, 1);
  ASSERT_FALSE(balancer_.updates.empty());
  EXPECT_EQ(balancer_.updates.back().lsmask, 0U);
  EXPECT_FALSE(addresses_.holds("eth0", 1));

  runUntil(*e, clock_.now() + seconds(5));
  ASSERT_EQ(stateOf(*e, 1), State::kMaster);
  ASSERT_EQ(stateOf(*e, 2), State::kMaster);
  const os::BalancingState& both = balancer_.updates.back();
  EXPECT_EQ(both.ifindex, 2);
  EXPECT_EQ(both.interface, "eth0");
  EXPECT_EQ(both.node_count, 2U);
  EXPECT_EQ(both.lsmask, 0b11U);
  EXPECT_TRUE(both.leader);
  EXPECT_EQ(both.mode, proto::Balancing::kIp);
  EXPECT_EQ(both.macs.lladdr, (proto::MacAddress{0x01, 0x00, 0x5e, 0x00, 0x01, 0x01}));
  EXPECT_EQ(both.macs.frame_source, (proto::MacAddress{0x02, 0, 0, 0, 0, 0x11}));
  ASSERT_EQ(both.addresses.size(), 1U);
  EXPECT_EQ(both.addresses[0], parseTestIp("192.0.2.50"));
  EXPECT_GE(both.valid_until, clock_.now() + seconds(2));
  // The addresses live once, on the leader's (vhid 1) binding, on the parent itself.
  EXPECT_TRUE(addresses_.holds("eth0", 1));
  EXPECT_FALSE(addresses_.holds("eth0", 2));

  // Only the leader announces, the shared MAC as sender hardware address, from the NIC's MAC.
  int announcements = 0;
  for (const auto& f : frames_.frames) {
    if (f.bytes.size() < 42 || f.bytes[12] != 0x08 || f.bytes[13] != 0x06) continue;
    ++announcements;
    EXPECT_EQ(std::vector<std::uint8_t>(f.bytes.begin() + 6, f.bytes.begin() + 12),
              (std::vector<std::uint8_t>{0x02, 0, 0, 0, 0, 0x11}));
    EXPECT_EQ(std::vector<std::uint8_t>(f.bytes.begin() + 22, f.bytes.begin() + 28),
              (std::vector<std::uint8_t>{0x01, 0x00, 0x5e, 0x00, 0x01, 0x01}));
  }
  EXPECT_GE(announcements, 1);

  // A better peer takes the leader node (vhid 1, our advskew 50): bit 0 goes, so does the lead.
  receive(*e, signedAdvert(1, "secret", shared(), 1, 0, 0));
  ASSERT_EQ(stateOf(*e, 1), State::kBackup);
  EXPECT_EQ(balancer_.updates.back().lsmask, 0b10U);
  EXPECT_FALSE(balancer_.updates.back().leader);
  EXPECT_TRUE(addresses_.holds("eth0", 1)) << "vhid 2 is still MASTER here";

  // Removed by someone else while a node is MASTER here: put back, on the leader's binding.
  addresses_.addresses.clear();
  e->onAddressRemoved(2, shared()[0]);
  EXPECT_TRUE(addresses_.holds("eth0", 1));

  // Every advertisement of the remaining MASTER node renews the lease.
  const auto before = balancer_.updates.back().valid_until;
  runUntil(*e, clock_.now() + seconds(2));
  EXPECT_GT(balancer_.updates.back().valid_until, before);

  // The other node too: no share left, no addresses.
  receive(*e, signedAdvert(2, "secret", shared(), 1, 0, 0));
  ASSERT_EQ(stateOf(*e, 2), State::kBackup);
  EXPECT_EQ(balancer_.updates.back().lsmask, 0U);
  EXPECT_FALSE(addresses_.holds("eth0", 1));

  e->stop(clock_.now());
  ASSERT_EQ(balancer_.removed.size(), 1U);
  EXPECT_EQ(balancer_.removed[0].first, 2);
  EXPECT_EQ(balancer_.removed[0].second, std::vector<proto::IpAddress>{parseTestIp("192.0.2.50")});
}

TEST_F(EngineBalancingTest, WithoutItsFilterTheHostHoldsNoSharedAddress) {
  balancer_.fail_with = "load BPF program: Operation not permitted";
  auto e = makeBalanced();
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  ASSERT_EQ(stateOf(*e, 1), State::kMaster);
  EXPECT_EQ(balancer_.updates.back().lsmask, 0b11U);
  EXPECT_FALSE(addresses_.holds("eth0", 1)) << "it would take every flow";
  EXPECT_NE(log_text_.str().find("load balancing filter: load BPF program"), std::string::npos);

  balancer_.fail_with.clear();
  runUntil(*e, clock_.now() + seconds(2));  // the next advertisement retries
  EXPECT_TRUE(addresses_.holds("eth0", 1));
  EXPECT_NE(log_text_.str().find("load balancing filter working again"), std::string::npos);
}

TEST_F(EngineBalancingTest, NodesAppearAsVhidsOfTheirOwn) {
  auto e = makeBalanced();
  ASSERT_EQ(e->vhids().size(), 2U);
  EXPECT_EQ(e->vhids()[0]->config.vhid.value(), 2);
  EXPECT_EQ(e->vhids()[0]->config.advskew.steps(), 100);
  EXPECT_EQ(e->vhids()[1]->config.vhid.value(), 1);
  EXPECT_FALSE(e->vhids()[0]->binding.vmac);
}

TEST_F(EngineBalancingTest, TheLeaseIsThreeIntervalsAndAtLeastASecond) {
  EXPECT_EQ(daemon::balancingLease(*proto::AdvBase::make(1)), seconds(3));
  EXPECT_EQ(daemon::balancingLease(*proto::AdvBase::make(5)), seconds(15));
  EXPECT_EQ(daemon::balancingLease(*proto::AdvBase::make(0)), seconds(1));
}

}  // namespace
}  // namespace carp::testing
