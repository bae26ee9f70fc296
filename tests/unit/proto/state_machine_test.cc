// Each rule of carp-wire.md §4.3 and §4.5-4.8 as a named scenario on one machine.

#include "proto/state_machine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "proto/timing.h"
#include "support/sim_lan.h"

namespace carp::proto {
namespace {

using carp::testing::vhidSettings;
using std::chrono::microseconds;
using std::chrono::seconds;

constexpr TimePoint kT0 = TimePoint(seconds(1000));

std::vector<Action> toVector(const ActionList& list) { return {list.begin(), list.end()}; }

template <class T>
int countOf(const ActionList& list) {
  return static_cast<int>(std::count_if(
      list.begin(), list.end(), [](const Action& a) { return std::holds_alternative<T>(a); }));
}

template <class T>
const T* firstOf(const ActionList& list) {
  for (const Action& a : list) {
    if (const T* t = std::get_if<T>(&a)) return t;
  }
  return nullptr;
}

const action::Transition* transitionIn(const ActionList& list) {
  return firstOf<action::Transition>(list);
}

// A machine started and then driven to BACKUP or MASTER.
VhidMachine backupMachine(VhidSettings s) {
  VhidMachine m(s);
  m.handle(event::Start{}, kT0);
  return m;
}

VhidMachine masterMachine(VhidSettings s) {
  VhidMachine m = backupMachine(s);
  m.handle(event::TimerFired{TimerId::kMasterDownV4}, kT0 + seconds(3));
  return m;
}

event::Advert advert(int advbase, int advskew, int demote = 0, Family f = Family::kIPv4) {
  return event::Advert{f, static_cast<std::uint8_t>(advbase), static_cast<std::uint8_t>(advskew),
                       static_cast<std::uint8_t>(demote)};
}

TEST(StateMachine, StartGoesBackupAndArmsMasterDownPerFamily) {
  VhidMachine m(vhidSettings(1, 1, 100, false, /*ipv6=*/true));
  ActionList a = m.handle(event::Start{}, kT0);
  EXPECT_EQ(m.state(), State::kBackup);
  ASSERT_NE(transitionIn(a), nullptr);
  EXPECT_EQ(transitionIn(a)->reason, Reason::kStarted);
  const Duration md = masterDownInterval(1, 100);
  auto v = toVector(a);
  EXPECT_NE(
      std::find(v.begin(), v.end(), Action{action::ArmTimer{TimerId::kMasterDownV4, kT0 + md}}),
      v.end());
  EXPECT_NE(
      std::find(v.begin(), v.end(), Action{action::ArmTimer{TimerId::kMasterDownV6, kT0 + md}}),
      v.end());
  EXPECT_EQ(countOf<action::SendAdvert>(a), 0);  // a BACKUP never sends
}

TEST(StateMachine, FreeBsdFormulaArmsTheShorterMasterDown) {
  VhidSettings s = vhidSettings(1, 1, 100);
  s.master_down = MasterDownFormula::kFreeBsd;
  VhidMachine m(s);
  const ActionList a = m.handle(event::Start{}, kT0);
  auto v = toVector(a);
  EXPECT_NE(
      std::find(v.begin(), v.end(),
                Action{action::ArmTimer{TimerId::kMasterDownV4, kT0 + microseconds(3'390'625)}}),
      v.end());
  // The re-arm on each advertisement heard uses the same formula.
  const ActionList b = m.handle(advert(1, 0), kT0 + seconds(1));
  v = toVector(b);
  EXPECT_NE(std::find(v.begin(), v.end(),
                      Action{action::ArmTimer{TimerId::kMasterDownV4,
                                              kT0 + seconds(1) + microseconds(3'390'625)}}),
            v.end());
}

TEST(StateMachine, StartWithoutLinkStaysInitAndDemotesOnce) {
  VhidMachine m(vhidSettings(1, 1, 0));
  ActionList a = m.handle(event::Start{false}, kT0);
  EXPECT_EQ(m.state(), State::kInit);
  ASSERT_NE(firstOf<action::AdjustDemotion>(a), nullptr);
  EXPECT_EQ(firstOf<action::AdjustDemotion>(a)->delta, 1);
  a = m.handle(event::LinkUp{}, kT0 + seconds(1));
  EXPECT_EQ(m.state(), State::kBackup);
  EXPECT_EQ(firstOf<action::AdjustDemotion>(a)->delta, -1);
}

TEST(StateMachine, StartWithResumeTakesMasterBackAtOnce) {
  VhidMachine m(vhidSettings(1, 1, 100));
  ActionList a = m.handle(event::Start{true, true}, kT0);
  EXPECT_EQ(m.state(), State::kMaster);
  ASSERT_NE(transitionIn(a), nullptr);
  EXPECT_EQ(transitionIn(a)->from, State::kInit);
  EXPECT_EQ(transitionIn(a)->reason, Reason::kResumed);
  EXPECT_EQ(countOf<action::AddAddresses>(a), 1);
  EXPECT_EQ(countOf<action::Announce>(a), 1);
  ASSERT_NE(firstOf<action::SendAdvert>(a), nullptr);
  EXPECT_FALSE(firstOf<action::SendAdvert>(a)->bow_out);
}

TEST(StateMachine, ResumeIsIgnoredWithoutLinkInMaintenanceOrWhenDemoted) {
  VhidMachine no_link(vhidSettings(1, 1, 0));
  no_link.handle(event::Start{false, true}, kT0);
  EXPECT_EQ(no_link.state(), State::kInit);

  VhidMachine maintenance(vhidSettings(1, 1, 0));
  maintenance.handle(event::Maintenance{true}, kT0);
  maintenance.handle(event::Start{true, true}, kT0);
  EXPECT_EQ(maintenance.state(), State::kBackup);

  VhidMachine demoted(vhidSettings(1, 1, 0));
  demoted.handle(event::DemotionChanged{Demote::fromSum(1)}, kT0);
  demoted.handle(event::Start{true, true}, kT0);
  EXPECT_EQ(demoted.state(), State::kBackup);
}

TEST(StateMachine, MasterDownTimerMakesMasterWithAdvertAddressesAndAnnouncement) {
  VhidMachine m = backupMachine(vhidSettings(1, 1, 0));
  const TimePoint t = kT0 + seconds(3);
  ActionList a = m.handle(event::TimerFired{TimerId::kMasterDownV4}, t);
  EXPECT_EQ(m.state(), State::kMaster);
  EXPECT_EQ(transitionIn(a)->reason, Reason::kMasterDown);
  EXPECT_EQ(countOf<action::AddAddresses>(a), 1);
  EXPECT_EQ(countOf<action::Announce>(a), 1);
  ASSERT_NE(firstOf<action::SendAdvert>(a), nullptr);
  EXPECT_EQ(*firstOf<action::SendAdvert>(a), (action::SendAdvert{1, 0, 0, false}));
  // Addresses go on before the advertisement and the announcement refer to them.
  auto v = toVector(a);
  auto add = std::find(v.begin(), v.end(), Action{action::AddAddresses{}});
  auto ann = std::find(v.begin(), v.end(), Action{action::Announce{}});
  EXPECT_LT(add, ann);
  EXPECT_NE(
      std::find(v.begin(), v.end(),
                Action{action::ArmTimer{TimerId::kAdvertise, t + advertisementInterval(1, 0)}}),
      v.end());
}

TEST(StateMachine, AnnouncementRepeatsWithTheSecondFollowingAdvertisement) {
  VhidMachine m = masterMachine(vhidSettings(1, 1, 0));
  TimePoint t = kT0 + seconds(4);
  EXPECT_EQ(countOf<action::Announce>(m.handle(event::TimerFired{TimerId::kAdvertise}, t)), 0);
  t += seconds(1);
  EXPECT_EQ(countOf<action::Announce>(m.handle(event::TimerFired{TimerId::kAdvertise}, t)), 1);
  for (int i = 0; i < 5; ++i) {
    t += seconds(1);
    EXPECT_EQ(countOf<action::Announce>(m.handle(event::TimerFired{TimerId::kAdvertise}, t)), 0);
  }
}

TEST(StateMachine, MasterYieldsToFasterAdvert) {
  VhidMachine m = masterMachine(vhidSettings(1, 1, 100));
  ActionList a = m.handle(advert(1, 50), kT0 + seconds(4));
  EXPECT_EQ(m.state(), State::kBackup);
  EXPECT_EQ(transitionIn(a)->reason, Reason::kPeerBetter);
  EXPECT_EQ(countOf<action::RemoveAddresses>(a), 1);
  EXPECT_EQ(countOf<action::SendAdvert>(a), 0);  // yielding to a better master is silent
}

TEST(StateMachine, MasterYieldsOnTieBecauseNeitherKernelHasATieBreaker) {
  VhidMachine m = masterMachine(vhidSettings(1, 1, 100));
  m.handle(advert(1, 100), kT0 + seconds(4));
  EXPECT_EQ(m.state(), State::kBackup);
}

TEST(StateMachine, MasterKeepsRoleAgainstSlowerAdvertAndReannounces) {
  VhidMachine m = masterMachine(vhidSettings(1, 1, 0));
  ActionList a = m.handle(advert(1, 100), kT0 + seconds(10));
  EXPECT_EQ(m.state(), State::kMaster);
  EXPECT_EQ(countOf<action::Announce>(a), 1);
  // ...but not again within the master-down interval.
  a = m.handle(advert(1, 100), kT0 + seconds(11));
  EXPECT_EQ(countOf<action::Announce>(a), 0);
}

TEST(StateMachine, MasterYieldsToLessDemotedPeerEvenIfSlower) {
  VhidMachine m = masterMachine(vhidSettings(1, 1, 0));
  m.handle(event::DemotionChanged{Demote::fromSum(2)}, kT0 + seconds(4));
  m.handle(advert(5, 200, 1), kT0 + seconds(5));
  EXPECT_EQ(m.state(), State::kBackup);
}

TEST(StateMachine, MasterKeepsRoleAgainstFasterButMoreDemotedPeer) {
  VhidMachine m = masterMachine(vhidSettings(1, 1, 100));
  m.handle(advert(1, 0, 1), kT0 + seconds(4));
  EXPECT_EQ(m.state(), State::kMaster);
}

TEST(StateMachine, BackupRule1PreemptsSlowerMasterOnlyWithPreempt) {
  VhidMachine without = backupMachine(vhidSettings(1, 1, 0, /*preempt=*/false));
  without.handle(advert(1, 100), kT0 + seconds(1));
  EXPECT_EQ(without.state(), State::kBackup);

  VhidMachine with = backupMachine(vhidSettings(1, 1, 0, /*preempt=*/true));
  ActionList a = with.handle(advert(1, 100), kT0 + seconds(1));
  EXPECT_EQ(with.state(), State::kMaster);
  EXPECT_EQ(transitionIn(a)->reason, Reason::kPreempt);
}

TEST(StateMachine, BackupRule1DoesNotPreemptALessDemotedMaster) {
  VhidMachine m = backupMachine(vhidSettings(1, 1, 0, /*preempt=*/true));
  m.handle(event::DemotionChanged{Demote::fromSum(1)}, kT0);
  m.handle(advert(1, 100, 0), kT0 + seconds(1));
  EXPECT_EQ(m.state(), State::kBackup);
}

TEST(StateMachine, BackupRule1NeedsStrictlyFasterInterval) {
  VhidMachine m = backupMachine(vhidSettings(1, 1, 100, /*preempt=*/true));
  m.handle(advert(1, 100), kT0 + seconds(1));
  EXPECT_EQ(m.state(), State::kBackup);
}

TEST(StateMachine, BackupRule2TakesOverFromMoreDemotedMasterWithoutPreempt) {
  VhidMachine m = backupMachine(vhidSettings(1, 1, 200, /*preempt=*/false));
  ActionList a = m.handle(advert(1, 0, 1), kT0 + seconds(1));
  EXPECT_EQ(m.state(), State::kMaster);
  EXPECT_EQ(transitionIn(a)->reason, Reason::kPeerDemoted);
}

TEST(StateMachine, BackupRule3TakesOverAtOnceOnBowOut) {
  VhidMachine m = backupMachine(vhidSettings(1, 1, 100));
  ActionList a = m.handle(advert(255, 255), kT0 + seconds(1));
  EXPECT_EQ(m.state(), State::kMaster);
  EXPECT_EQ(transitionIn(a)->reason, Reason::kPeerTooSlow);
}

TEST(StateMachine, BackupRule3BoundaryUsesUntripledOwnSkew) {
  // ch_tv = 3 s + 10/256 s; ours: 3*1 s + 20/256 s (skew not tripled) is not smaller: no
  // takeover. With ch skew 21 it is.
  VhidMachine m = backupMachine(vhidSettings(1, 1, 20));
  m.handle(advert(3, 20), kT0 + seconds(1));
  EXPECT_EQ(m.state(), State::kBackup);
  m.handle(advert(3, 21), kT0 + seconds(2));
  EXPECT_EQ(m.state(), State::kMaster);
}

TEST(StateMachine, BackupRule3DoesNotApplyInSubSecondMode) {
  VhidMachine m = backupMachine(vhidSettings(1, 0, 100));
  m.handle(advert(255, 255), kT0 + seconds(1));
  EXPECT_EQ(m.state(), State::kBackup);  // advbase 0: OpenBSD skips rule 3
}

TEST(StateMachine, BackupRule3CatchesBowOutUpToAdvbase85) {
  // A bow-out is 255 s + 255/256 s. 3 * 85 s = 255 s is less; 3 * 86 s = 258 s is not.
  VhidMachine at85 = backupMachine(vhidSettings(1, 85, 0));
  at85.handle(advert(255, 255), kT0 + seconds(1));
  EXPECT_EQ(at85.state(), State::kMaster);
  VhidMachine at86 = backupMachine(vhidSettings(1, 86, 0));
  at86.handle(advert(255, 255), kT0 + seconds(1));
  EXPECT_EQ(at86.state(), State::kBackup);
}

TEST(StateMachine, BackupRule4RearmsOnlyTheAdvertsFamilyTimer) {
  VhidMachine m = backupMachine(vhidSettings(1, 1, 0, false, /*ipv6=*/true));
  const TimePoint t = kT0 + seconds(2);
  ActionList a = m.handle(advert(1, 0, 0, Family::kIPv6), t);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(std::get<action::ArmTimer>(a[0]),
            (action::ArmTimer{TimerId::kMasterDownV6, t + masterDownInterval(1, 0)}));
}

TEST(StateMachine, InitIgnoresAdverts) {
  VhidMachine m(vhidSettings(1, 1, 0));
  EXPECT_TRUE(m.handle(advert(1, 0), kT0).empty());
  EXPECT_EQ(m.state(), State::kInit);
}

TEST(StateMachine, StopAsMasterBowsOutThenRemovesAddresses) {
  VhidMachine m = masterMachine(vhidSettings(1, 1, 0));
  ActionList a = m.handle(event::Stop{}, kT0 + seconds(5));
  EXPECT_EQ(m.state(), State::kInit);
  ASSERT_NE(firstOf<action::SendAdvert>(a), nullptr);
  EXPECT_EQ(*firstOf<action::SendAdvert>(a), (action::SendAdvert{255, 255, 0, true}));
  EXPECT_EQ(countOf<action::RemoveAddresses>(a), 1);
  EXPECT_EQ(transitionIn(a)->reason, Reason::kStopped);
}

TEST(StateMachine, StopAsBackupSendsNothing) {
  VhidMachine m = backupMachine(vhidSettings(1, 1, 0));
  ActionList a = m.handle(event::Stop{}, kT0 + seconds(1));
  EXPECT_EQ(countOf<action::SendAdvert>(a), 0);
  EXPECT_EQ(countOf<action::RemoveAddresses>(a), 0);
}

TEST(StateMachine, LinkDownGoesInitSilentlyAndDemotesOnce) {
  VhidMachine m = masterMachine(vhidSettings(1, 1, 0));
  ActionList a = m.handle(event::LinkDown{}, kT0 + seconds(5));
  EXPECT_EQ(m.state(), State::kInit);
  EXPECT_EQ(transitionIn(a)->reason, Reason::kLinkDown);
  EXPECT_EQ(countOf<action::SendAdvert>(a), 0);
  EXPECT_EQ(countOf<action::RemoveAddresses>(a), 1);
  EXPECT_EQ(*firstOf<action::AdjustDemotion>(a),
            (action::AdjustDemotion{1, DemotionCause::kLinkDown}));
  // A second link-down report does not demote twice.
  EXPECT_EQ(countOf<action::AdjustDemotion>(m.handle(event::LinkDown{}, kT0 + seconds(6))), 0);
  a = m.handle(event::LinkUp{}, kT0 + seconds(7));
  EXPECT_EQ(m.state(), State::kBackup);
  EXPECT_EQ(*firstOf<action::AdjustDemotion>(a),
            (action::AdjustDemotion{-1, DemotionCause::kLinkDown}));
}

TEST(StateMachine, DemotionChangeMakesMasterAdvertiseAtOnce) {
  VhidMachine m = masterMachine(vhidSettings(1, 1, 0));
  ActionList a =
      m.handle(event::DemotionChanged{Demote::fromSum(1)}, kT0 + seconds(3) + microseconds(10));
  ASSERT_NE(firstOf<action::SendAdvert>(a), nullptr);
  EXPECT_EQ(firstOf<action::SendAdvert>(a)->demote, 1);
  // An unchanged value sends nothing.
  EXPECT_TRUE(m.handle(event::DemotionChanged{Demote::fromSum(1)}, kT0 + seconds(4)).empty());
}

TEST(StateMachine, DemoteByteIsClampedTo255) {
  EXPECT_EQ(Demote::fromSum(1000).value(), 255);
  EXPECT_EQ(Demote::fromSum(-5).value(), 0);
}

TEST(StateMachine, FreeBsdFoldingAddsDemotionToAdvskewCappedAt240) {
  VhidSettings s = vhidSettings(1, 1, 100);
  s.demotion_in_advskew = true;
  VhidMachine m = masterMachine(s);
  ActionList a = m.handle(event::DemotionChanged{Demote::fromSum(50)}, kT0 + seconds(4));
  EXPECT_EQ(*firstOf<action::SendAdvert>(a), (action::SendAdvert{1, 150, 50, false}));
  a = m.handle(event::DemotionChanged{Demote::fromSum(200)}, kT0 + seconds(5));
  EXPECT_EQ(firstOf<action::SendAdvert>(a)->advskew, 240);
  // Without folding the advskew stays as configured (OpenBSD).
  VhidMachine plain = masterMachine(vhidSettings(1, 1, 100));
  a = plain.handle(event::DemotionChanged{Demote::fromSum(50)}, kT0 + seconds(4));
  EXPECT_EQ(firstOf<action::SendAdvert>(a)->advskew, 100);
}

TEST(StateMachine, ForcedBackupBowsOutAndForcedMasterTakesOver) {
  VhidMachine m = masterMachine(vhidSettings(1, 1, 0));
  ActionList a = m.handle(event::ForceState{State::kBackup}, kT0 + seconds(4));
  EXPECT_EQ(m.state(), State::kBackup);
  EXPECT_TRUE(firstOf<action::SendAdvert>(a)->bow_out);
  EXPECT_EQ(transitionIn(a)->reason, Reason::kForced);
  a = m.handle(event::ForceState{State::kMaster}, kT0 + seconds(5));
  EXPECT_EQ(m.state(), State::kMaster);
  EXPECT_EQ(transitionIn(a)->reason, Reason::kForced);
}

TEST(StateMachine, ForcingInInitDoesNothing) {
  VhidMachine m(vhidSettings(1, 1, 0));
  EXPECT_TRUE(m.handle(event::ForceState{State::kMaster}, kT0).empty());
  EXPECT_EQ(m.state(), State::kInit);
}

TEST(StateMachine, MaintenanceBowsOutAndAdvertisesMaximumDemotion) {
  VhidMachine m = masterMachine(vhidSettings(1, 1, 0));
  ActionList a = m.handle(event::Maintenance{true}, kT0 + seconds(4));
  EXPECT_EQ(m.state(), State::kBackup);
  EXPECT_EQ(transitionIn(a)->reason, Reason::kMaintenance);
  EXPECT_EQ(*firstOf<action::SendAdvert>(a), (action::SendAdvert{255, 255, 255, true}));
  EXPECT_EQ(m.wireDemote(), 255);
  // A healthy master (demote 0) keeps us BACKUP even with preempt-worthy timing.
  m.handle(advert(1, 100, 0), kT0 + seconds(5));
  EXPECT_EQ(m.state(), State::kBackup);
  m.handle(event::Maintenance{false}, kT0 + seconds(6));
  EXPECT_EQ(m.wireDemote(), 0);
}

TEST(StateMachine, RepeatedSendErrorsDemoteAndRecover) {
  VhidMachine m = masterMachine(vhidSettings(1, 1, 0));
  EXPECT_TRUE(m.handle(event::SendResult{false}, kT0).empty());
  EXPECT_TRUE(m.handle(event::SendResult{false}, kT0).empty());
  ActionList a = m.handle(event::SendResult{false}, kT0);
  EXPECT_EQ(*firstOf<action::AdjustDemotion>(a),
            (action::AdjustDemotion{1, DemotionCause::kSendErrors}));
  EXPECT_TRUE(m.handle(event::SendResult{false}, kT0).empty());  // only once
  EXPECT_TRUE(m.handle(event::SendResult{true}, kT0).empty());
  EXPECT_TRUE(m.handle(event::SendResult{true}, kT0).empty());
  a = m.handle(event::SendResult{true}, kT0);
  EXPECT_EQ(*firstOf<action::AdjustDemotion>(a),
            (action::AdjustDemotion{-1, DemotionCause::kSendErrors}));
}

TEST(StateMachine, StopGivesBackLinkDemotion) {
  VhidMachine m = backupMachine(vhidSettings(1, 1, 0));
  m.handle(event::LinkDown{}, kT0);
  ActionList a = m.handle(event::Stop{}, kT0 + seconds(1));
  EXPECT_EQ(*firstOf<action::AdjustDemotion>(a),
            (action::AdjustDemotion{-1, DemotionCause::kLinkDown}));
}

TEST(StateMachine, NoEventProducesMoreActionsThanTheListHolds) {
  // The busiest event: stop as MASTER while demoted by link and send errors.
  VhidMachine m = masterMachine(vhidSettings(1, 1, 0, false, true));
  for (int i = 0; i < 3; ++i) m.handle(event::SendResult{false}, kT0);
  ActionList a = m.handle(event::Stop{}, kT0);
  EXPECT_LT(a.size(), ActionList::kCapacity);
}

}  // namespace
}  // namespace carp::proto
