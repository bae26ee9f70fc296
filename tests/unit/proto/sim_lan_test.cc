// Elections on a simulated LAN of VhidMachines, on the fake clock (tests/support/sim_lan.h).

#include "support/sim_lan.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "proto/timing.h"

namespace carp::testing {
namespace {

using proto::Duration;
using proto::State;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The time of the first transition of (host, vhid) to `to` at or after `after`.
std::optional<proto::TimePoint> transitionTime(const SimLan& lan, int host, int vhid, State to,
                                               proto::TimePoint after = {}) {
  for (const auto& t : lan.transitions()) {
    if (t.host == host && t.vhid == vhid && t.to == to && t.at >= after) return t.at;
  }
  return std::nullopt;
}

// The last advertisement `host` sent for `vhid` before `before`.
proto::TimePoint lastAdvert(const SimLan& lan, int host, int vhid, proto::TimePoint before) {
  proto::TimePoint last{};
  for (const auto& a : lan.adverts()) {
    if (a.host == host && a.vhid == vhid && a.at < before) last = a.at;
  }
  return last;
}

TEST(SimLan, TwoHostsElectTheLowerSkew) {
  SimLan lan;
  int h1 = lan.addHost({vhidSettings(1, 1, 0)});
  int h2 = lan.addHost({vhidSettings(1, 1, 100)});
  lan.startAll();
  lan.runFor(seconds(10));
  EXPECT_EQ(lan.masterOf(1), h1);
  EXPECT_EQ(lan.state(h2, 1), State::kBackup);
  EXPECT_TRUE(lan.holdsAddresses(h1, 1));
  EXPECT_FALSE(lan.holdsAddresses(h2, 1));
  // The first MASTER took over exactly at its master-down deadline after start.
  EXPECT_EQ(*transitionTime(lan, h1, 1, State::kMaster),
            proto::TimePoint{} + proto::masterDownInterval(1, 0));
  // Exactly one transition to MASTER in the whole run: no flapping.
  EXPECT_EQ(std::count_if(lan.transitions().begin(), lan.transitions().end(),
                          [](const TransitionRecord& t) { return t.to == State::kMaster; }),
            1);
}

class Elections : public ::testing::TestWithParam<int> {};

TEST_P(Elections, ConvergeToExactlyOneMasterTheBest) {
  const int hosts = GetParam();
  SimLan lan(static_cast<std::uint64_t>(hosts));
  // Skews in a scrambled order so the best is not simply the first host added.
  int best = -1;
  for (int i = 0; i < hosts; ++i) {
    const int skew = (i * 37 + 11) % 200;
    const int h = lan.addHost({vhidSettings(7, 1, skew)});
    if (best == -1 || skew < (best * 37 + 11) % 200) best = h;
  }
  lan.setDelay(milliseconds(1));
  lan.startAll();
  lan.runFor(seconds(20));
  EXPECT_EQ(lan.masterCount(7), 1);
  EXPECT_EQ(lan.masterOf(7), best);
}

INSTANTIATE_TEST_SUITE_P(TwoToSixteenHosts, Elections, ::testing::Range(2, 17));

TEST(SimLan, TakeoverHappensAtTheMasterDownDeadlineToTheMicrosecond) {
  SimLan lan;
  lan.setDelay(std::chrono::microseconds(250));
  int h1 = lan.addHost({vhidSettings(1, 1, 0)});
  int h2 = lan.addHost({vhidSettings(1, 1, 100)});
  lan.startAll();
  lan.runFor(seconds(10) + milliseconds(123));
  ASSERT_EQ(lan.masterOf(1), h1);
  const proto::TimePoint crash_at = lan.now();
  lan.crash(h1);
  lan.runFor(seconds(10));
  // The backup re-armed its timer when the last advertisement arrived (sent + delay) and
  // takes over exactly one master-down interval of its own later.
  const proto::TimePoint heard = lastAdvert(lan, h1, 1, crash_at) + std::chrono::microseconds(250);
  EXPECT_EQ(*transitionTime(lan, h2, 1, State::kMaster, crash_at),
            heard + proto::masterDownInterval(1, 100));
  EXPECT_EQ(lan.masterOf(1), h2);
}

TEST(SimLan, SubSecondModeFailsOverInMilliseconds) {
  SimLan lan;
  int h1 = lan.addHost({vhidSettings(1, 0, 10)});
  int h2 = lan.addHost({vhidSettings(1, 0, 40)});
  lan.startAll();
  lan.runFor(seconds(2));
  ASSERT_EQ(lan.masterOf(1), h1);
  const proto::TimePoint crash_at = lan.now();
  lan.crash(h1);
  lan.runFor(seconds(1));
  const Duration takeover = *transitionTime(lan, h2, 1, State::kMaster, crash_at) - crash_at;
  EXPECT_LE(takeover, proto::masterDownInterval(0, 40));  // 3 * 40/256 s = 468 ms
  EXPECT_EQ(lan.masterOf(1), h2);
}

TEST(SimLan, PreemptOnTheBetterHostTakesBackMastership) {
  SimLan lan;
  int h1 = lan.addHost({vhidSettings(1, 1, 0, /*preempt=*/true)});
  int h2 = lan.addHost({vhidSettings(1, 1, 100, /*preempt=*/true)});
  lan.startAll();
  lan.runFor(seconds(10));
  lan.crash(h1);
  lan.runFor(seconds(10));
  ASSERT_EQ(lan.masterOf(1), h2);
  lan.restart(h1);
  lan.runFor(seconds(10));
  EXPECT_EQ(lan.masterOf(1), h1);
}

TEST(SimLan, PreemptOffTheReturningHostStaysBackup) {
  SimLan lan;
  int h1 = lan.addHost({vhidSettings(1, 1, 0)});
  int h2 = lan.addHost({vhidSettings(1, 1, 100)});
  lan.startAll();
  lan.runFor(seconds(10));
  lan.crash(h1);
  lan.runFor(seconds(10));
  lan.restart(h1);
  lan.runFor(seconds(30));
  EXPECT_EQ(lan.masterOf(1), h2);
  EXPECT_EQ(lan.state(h1, 1), State::kBackup);
}

TEST(SimLan, DemotionMovesMastershipAtOnce) {
  SimLan lan;
  int h1 = lan.addHost({vhidSettings(1, 1, 0)});
  int h2 = lan.addHost({vhidSettings(1, 1, 100)});
  lan.startAll();
  lan.runFor(seconds(10) + milliseconds(500));
  const proto::TimePoint at = lan.now();
  lan.demote(h1, 1);
  lan.runFor(milliseconds(1));
  // h1 advertised its demotion immediately, h2 took over (rule 2), h1 yielded: all at once.
  EXPECT_EQ(*transitionTime(lan, h2, 1, State::kMaster, at), at);
  EXPECT_EQ(*transitionTime(lan, h1, 1, State::kBackup, at), at);
  lan.runFor(seconds(10));
  EXPECT_EQ(lan.masterOf(1), h2);
  // Undoing the demotion without preempt leaves h2 MASTER.
  lan.demote(h1, -1);
  lan.runFor(seconds(10));
  EXPECT_EQ(lan.masterOf(1), h2);
}

TEST(SimLan, NegativeDemotionNeverYieldsTwoMasters) {
  // FreeBSD PR 259528: a negative demotion made both hosts MASTER. Counters never go below
  // zero here (OpenBSD), so it cannot.
  SimLan lan;
  int h1 = lan.addHost({vhidSettings(1, 1, 0)});
  int h2 = lan.addHost({vhidSettings(1, 1, 100)});
  lan.startAll();
  lan.runFor(seconds(10));
  lan.demote(h1, -5);
  lan.demote(h2, -5);
  EXPECT_EQ(lan.demotion(h1), 0);
  EXPECT_EQ(lan.demotion(h2), 0);
  for (int i = 0; i < 3000; ++i) {
    lan.runFor(milliseconds(10));
    ASSERT_LE(lan.masterCount(1), 1) << "at step " << i;
  }
  EXPECT_EQ(lan.masterOf(1), h1);
}

TEST(SimLan, PartitionGivesTwoMastersAndHealingReturnsToOneWithinOneInterval) {
  SimLan lan;
  int h1 = lan.addHost({vhidSettings(1, 1, 0)});
  int h2 = lan.addHost({vhidSettings(1, 1, 100)});
  lan.startAll();
  lan.runFor(seconds(10));
  lan.partition({h1});
  lan.runFor(seconds(10));
  EXPECT_EQ(lan.masterCount(1), 2);
  const int announcements_before = lan.announcements(h1, 1);
  lan.heal();
  const proto::TimePoint healed = lan.now();
  lan.runFor(proto::advertisementInterval(1, 100));
  EXPECT_EQ(lan.masterOf(1), h1);
  EXPECT_LE(*transitionTime(lan, h2, 1, State::kBackup, healed) - healed,
            proto::advertisementInterval(1, 100));
  // If the loser advertised after the heal (so the winner heard a second master), the winner
  // announced its addresses again; otherwise the loser yielded before saying anything.
  const bool loser_spoke = lastAdvert(lan, h2, 1, lan.now()) >= healed;
  EXPECT_EQ(lan.announcements(h1, 1) > announcements_before, loser_spoke);
}

TEST(SimLan, BowOutHandsOverAtOnce) {
  SimLan lan;
  int h1 = lan.addHost({vhidSettings(1, 1, 0)});
  int h2 = lan.addHost({vhidSettings(1, 1, 100)});
  lan.startAll();
  lan.runFor(seconds(10) + milliseconds(300));
  const proto::TimePoint at = lan.now();
  lan.stop(h1);
  lan.runFor(milliseconds(1));
  EXPECT_EQ(*transitionTime(lan, h2, 1, State::kMaster, at), at);
  EXPECT_FALSE(lan.holdsAddresses(h1, 1));
  EXPECT_TRUE(lan.holdsAddresses(h2, 1));
}

TEST(SimLan, MaintenanceHandsOverAndStaysBackupWhileAnotherHostServes) {
  SimLan lan;
  int h1 = lan.addHost({vhidSettings(1, 1, 0, /*preempt=*/true)});
  int h2 = lan.addHost({vhidSettings(1, 1, 100, /*preempt=*/true)});
  lan.startAll();
  lan.runFor(seconds(10));
  lan.maintenance(h1, true);
  lan.runFor(seconds(30));
  EXPECT_EQ(lan.masterOf(1), h2);
  lan.maintenance(h1, false);
  lan.runFor(seconds(5));
  EXPECT_EQ(lan.masterOf(1), h1);  // preempt brings it back once it is not demoted
}

TEST(SimLan, LinkDownOnTheMasterDemotesItsOtherVhidsToo) {
  // OpenBSD: a parent link failure raises group "carp", which every VHID of the host is in,
  // so the host's other MASTER VHIDs hand over as well (box-level failover).
  SimLan lan;
  int h1 = lan.addHost({vhidSettings(1, 1, 0), vhidSettings(2, 1, 0)});
  int h2 = lan.addHost({vhidSettings(1, 1, 100), vhidSettings(2, 1, 100)});
  lan.startAll();
  lan.runFor(seconds(10));
  ASSERT_EQ(lan.masterOf(1), h1);
  ASSERT_EQ(lan.masterOf(2), h1);
  // Only VHID 1's parent loses its link; VHID 2 is on another interface.
  lan.linkDown(h1, 1);
  lan.runFor(seconds(10));
  EXPECT_EQ(lan.masterOf(1), h2);
  EXPECT_EQ(lan.masterOf(2), h2);
  EXPECT_EQ(lan.state(h1, 1), State::kInit);
  lan.linkUp(h1, 1);
  lan.runFor(seconds(10));
  EXPECT_EQ(lan.state(h1, 1), State::kBackup);
  EXPECT_EQ(lan.demotion(h1), 0);
}

TEST(SimLan, SendErrorsDemoteTheHostSoTheBackupTakesOver) {
  SimLan lan;
  int h1 = lan.addHost({vhidSettings(1, 1, 0)});
  int h2 = lan.addHost({vhidSettings(1, 1, 100)});
  lan.startAll();
  lan.runFor(seconds(10));
  lan.failSends(h1, 3);
  lan.runFor(seconds(10));
  EXPECT_EQ(lan.masterOf(1), h2);
}

TEST(SimLan, LossAndDelayStillConvergeOnceTheNetworkIsClean) {
  SimLan lan(42);
  for (int i = 0; i < 5; ++i) lan.addHost({vhidSettings(3, 1, 20 * i)});
  lan.setLoss(0.3);
  lan.setDelay(milliseconds(20));
  lan.startAll();
  lan.runFor(seconds(120));
  lan.setLoss(0.0);
  lan.runFor(seconds(10));
  EXPECT_EQ(lan.masterOf(3), 0);
}

TEST(SimLan, ManyVhidsOnManyHostsEachElectExactlyOneMaster) {
  // 16 hosts x 255 VHIDs; host h is best for the VHIDs v with v % 16 == h.
  SimLan lan(7);
  constexpr int kHosts = 16;
  for (int h = 0; h < kHosts; ++h) {
    std::vector<proto::VhidSettings> vhids;
    for (int v = 1; v <= 255; ++v)
      vhids.push_back(vhidSettings(v, 1, v % kHosts == h ? 0 : 100 + h));
    lan.addHost(vhids);
  }
  lan.setDelay(milliseconds(1));
  lan.startAll();
  lan.runFor(seconds(10));
  for (int v = 1; v <= 255; ++v) {
    ASSERT_EQ(lan.masterOf(static_cast<std::uint8_t>(v)), v % kHosts) << "vhid " << v;
  }
}

TEST(SimLan, OneVhidPerHostCountEdgeCases) {
  SimLan lan;
  int h1 = lan.addHost({vhidSettings(255, 255, 254)});
  lan.startAll();
  lan.runFor(seconds(3 * 256));
  EXPECT_EQ(lan.masterOf(255), h1);
}

}  // namespace
}  // namespace carp::testing
