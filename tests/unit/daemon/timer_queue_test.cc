#include "daemon/timer_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace carp::daemon {
namespace {

using proto::TimerId;
using Key = TimerQueue::Key;

proto::TimePoint at(int ms) { return proto::TimePoint(std::chrono::milliseconds(ms)); }

// Pops every due timer the way the engine does: one at a time, so that what a fired timer
// cancels or re-arms is seen by the rest of the batch.
std::vector<Key> drain(TimerQueue& q, proto::TimePoint now) {
  std::vector<Key> fired;
  while (auto key = q.popDue(now)) fired.push_back(*key);
  return fired;
}

TEST(TimerQueue, PopsDueTimersEarliestFirstAndLeavesTheRest) {
  TimerQueue q;
  q.arm({1, TimerId::kAdvertise}, at(30));
  q.arm({2, TimerId::kMasterDownV4}, at(10));
  q.arm({3, TimerId::kMasterDownV6}, at(50));
  EXPECT_EQ(q.next(), at(10));
  EXPECT_EQ(drain(q, at(30)),
            (std::vector<Key>{{2, TimerId::kMasterDownV4}, {1, TimerId::kAdvertise}}));
  EXPECT_EQ(q.size(), 1U);
  EXPECT_EQ(q.next(), at(50));
  EXPECT_FALSE(q.popDue(at(49)));
}

TEST(TimerQueue, ArmingReplacesTheDeadline) {
  TimerQueue q;
  q.arm({1, TimerId::kAdvertise}, at(10));
  q.arm({1, TimerId::kAdvertise}, at(40));
  EXPECT_EQ(q.size(), 1U);
  EXPECT_FALSE(q.popDue(at(20)));
  EXPECT_EQ(drain(q, at(40)), (std::vector<Key>{{1, TimerId::kAdvertise}}));
}

TEST(TimerQueue, CancelOwnerCancelsEveryTimerOfThatOwnerOnly) {
  TimerQueue q;
  q.arm({1, TimerId::kAdvertise}, at(10));
  q.arm({1, TimerId::kMasterDownV4}, at(10));
  q.arm({1, TimerId::kMasterDownV6}, at(10));
  q.arm({2, TimerId::kAdvertise}, at(10));
  q.cancelOwner(1);
  EXPECT_EQ(drain(q, at(10)), (std::vector<Key>{{2, TimerId::kAdvertise}}));
  EXPECT_FALSE(q.next());
}

// A batch of due timers used to be a snapshot: a timer that an earlier timer of the same batch
// cancelled (a VHID stopped by another's transition) or re-armed later still fired.
TEST(TimerQueue, ATimerCancelledByAnEarlierOneOfTheSameBatchDoesNotFire) {
  TimerQueue q;
  q.arm({1, TimerId::kAdvertise}, at(10));
  q.arm({2, TimerId::kAdvertise}, at(20));
  q.arm({3, TimerId::kAdvertise}, at(25));
  std::vector<Key> fired;
  while (auto key = q.popDue(at(30))) {
    fired.push_back(*key);
    if (key->owner == 1) {
      q.cancel({2, TimerId::kAdvertise});
      q.arm({3, TimerId::kAdvertise}, at(100));
    }
  }
  EXPECT_EQ(fired, (std::vector<Key>{{1, TimerId::kAdvertise}}));
  EXPECT_EQ(q.next(), at(100));
}

}  // namespace
}  // namespace carp::daemon
