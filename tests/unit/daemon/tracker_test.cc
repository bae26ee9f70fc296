// The tracker on the fake clock: hysteresis, boot behaviour, demotion per group, timeouts,
// stale results and reload in place.

#include "daemon/tracker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace carp::daemon {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

config::TrackConfig track(const std::string& name, std::vector<std::string> groups = {"carp"},
                          int demote = 1) {
  config::TrackConfig c;
  c.name = name;
  c.kind = config::TrackKind::kFile;
  c.file = "/run/" + name;
  c.interval = seconds(2);
  c.timeout = seconds(1);
  c.fall = 3;
  c.rise = 2;
  c.demote = demote;
  c.groups = std::move(groups);
  return c;
}

class TrackerTest : public ::testing::Test {
 protected:
  proto::TimePoint now_{seconds(1000)};
  Tracker tracker_;

  // Runs one check round of `name` with the given result; returns its transitions.
  std::vector<TrackTransition> round(const std::string& name, bool ok,
                                     const std::string& detail = "") {
    auto work = tracker_.poll(now_);
    std::uint64_t id = 0;
    for (const auto& s : work.start) {
      if (s.name == name) id = s.id;
    }
    EXPECT_NE(id, 0u) << name << " not due at round";
    auto out = tracker_.report(name, id, {ok, detail}, now_ + milliseconds(10));
    now_ += seconds(2);
    return out;
  }
  TrackState state(const std::string& name) const {
    for (const auto& v : tracker_.view()) {
      if (v.name == name) return v.state;
    }
    ADD_FAILURE() << "no track " << name;
    return TrackState::kDown;
  }
};

TEST_F(TrackerTest, StartsDownUntilRisePasses) {
  tracker_.reload({track("a")}, now_);
  EXPECT_EQ(state("a"), TrackState::kDown);
  EXPECT_EQ(tracker_.demotion().at("carp"), 1);
  EXPECT_TRUE(round("a", true).empty());
  EXPECT_EQ(state("a"), TrackState::kDown);
  auto t = round("a", true, "fine");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].name, "a");
  EXPECT_EQ(t[0].from, TrackState::kDown);
  EXPECT_EQ(t[0].to, TrackState::kUp);
  EXPECT_EQ(t[0].detail, "fine");
  EXPECT_EQ(tracker_.demotion().at("carp"), 0);
}

TEST_F(TrackerTest, FailureInterruptsRise) {
  tracker_.reload({track("a")}, now_);
  round("a", true);
  round("a", false);
  EXPECT_TRUE(round("a", true).empty());
  EXPECT_EQ(state("a"), TrackState::kDown);
  EXPECT_EQ(round("a", true).size(), 1u);
}

TEST_F(TrackerTest, FallNeedsConsecutiveFailures) {
  tracker_.reload({track("a")}, now_);
  round("a", true);
  round("a", true);
  ASSERT_EQ(state("a"), TrackState::kUp);
  round("a", false);
  round("a", false);
  round("a", true);  // resets the failure count
  round("a", false);
  EXPECT_TRUE(round("a", false).empty());
  EXPECT_EQ(state("a"), TrackState::kUp);
  auto t = round("a", false, "exit 3: no");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].to, TrackState::kDown);
  EXPECT_EQ(t[0].detail, "exit 3: no");
  auto v = tracker_.view().at(0);
  EXPECT_EQ(v.transitions, 2u);
  EXPECT_EQ(v.consecutive, 3);
  EXPECT_FALSE(v.last.ok);
  EXPECT_EQ(v.since, t[0].at);
}

TEST_F(TrackerTest, DemotionSumsDownTracksPerGroup) {
  tracker_.reload(
      {track("a", {"carp"}, 10), track("b", {"lan", "wan"}, 20), track("c", {"wan"}, 5)}, now_);
  auto d = tracker_.demotion();
  EXPECT_EQ(d.at("carp"), 10);
  EXPECT_EQ(d.at("lan"), 20);
  EXPECT_EQ(d.at("wan"), 25);
  // Bring b up: lan goes to 0, wan keeps c's 5.
  for (int i = 0; i < 2; ++i) {
    auto work = tracker_.poll(now_);
    for (const auto& s : work.start) {
      tracker_.report(s.name, s.id, {s.name == "b", ""}, now_);
    }
    now_ += seconds(2);
  }
  d = tracker_.demotion();
  EXPECT_EQ(d.at("carp"), 10);
  EXPECT_EQ(d.at("lan"), 0);
  EXPECT_EQ(d.at("wan"), 5);
}

TEST_F(TrackerTest, SchedulesEveryIntervalAndNeverTwiceInFlight) {
  tracker_.reload({track("a")}, now_);
  EXPECT_EQ(tracker_.nextDeadline(), now_);
  auto w = tracker_.poll(now_);
  ASSERT_EQ(w.start.size(), 1u);
  EXPECT_TRUE(tracker_.poll(now_ + milliseconds(500)).start.empty());  // in flight
  EXPECT_EQ(tracker_.nextDeadline(), now_ + seconds(1));               // its timeout
  tracker_.report("a", w.start[0].id, {true, ""}, now_ + milliseconds(600));
  EXPECT_EQ(tracker_.nextDeadline(), now_ + seconds(2));
  EXPECT_TRUE(tracker_.poll(now_ + milliseconds(1999)).start.empty());
  EXPECT_EQ(tracker_.poll(now_ + seconds(2)).start.size(), 1u);
}

TEST_F(TrackerTest, TimeoutIsAFailureAndLateResultIgnored) {
  auto c = track("a");
  c.fall = 1;
  c.rise = 1;
  tracker_.reload({c}, now_);
  auto w = tracker_.poll(now_);
  tracker_.report("a", w.start[0].id, {true, ""}, now_);
  ASSERT_EQ(state("a"), TrackState::kUp);
  now_ += seconds(2);
  w = tracker_.poll(now_);
  ASSERT_EQ(w.start.size(), 1u);
  const auto id = w.start[0].id;
  auto late = tracker_.poll(now_ + seconds(1));
  ASSERT_EQ(late.cancel.size(), 1u);
  EXPECT_EQ(late.cancel[0].id, id);
  ASSERT_EQ(late.transitions.size(), 1u);
  EXPECT_EQ(late.transitions[0].to, TrackState::kDown);
  EXPECT_EQ(late.transitions[0].detail, "timeout after 1000 ms");
  EXPECT_TRUE(tracker_.report("a", id, {true, ""}, now_ + seconds(1)).empty());
  EXPECT_EQ(state("a"), TrackState::kDown);
}

TEST_F(TrackerTest, ReloadKeepsUnchangedAndThresholdChangedTracks) {
  tracker_.reload({track("a"), track("b")}, now_);
  round("a", true);
  round("a", true);
  ASSERT_EQ(state("a"), TrackState::kUp);
  auto a = track("a", {"lan"}, 7);
  a.fall = 1;
  a.interval = seconds(5);
  auto work = tracker_.reload({a, track("b")}, now_);
  EXPECT_TRUE(work.cancel.empty());
  EXPECT_EQ(state("a"), TrackState::kUp);
  EXPECT_EQ(tracker_.view().at(0).transitions, 1u);
  EXPECT_EQ(tracker_.demotion().count("carp"), 1u);  // b still demotes carp
  EXPECT_EQ(tracker_.demotion().at("lan"), 0);
  auto t = round("a", false);  // new fall = 1 applies
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(tracker_.demotion().at("lan"), 7);
}

TEST_F(TrackerTest, ReloadRestartsChangedCheckAndDropsRemoved) {
  tracker_.reload({track("a"), track("b")}, now_);
  round("a", true);
  round("a", true);
  auto w = tracker_.poll(now_);  // a and b in flight
  ASSERT_EQ(w.start.size(), 2u);
  auto a = track("a");
  a.file = "/run/other";
  auto work = tracker_.reload({a}, now_);
  ASSERT_EQ(work.cancel.size(), 2u);  // a's old check and removed b's
  ASSERT_EQ(tracker_.view().size(), 1u);
  EXPECT_EQ(state("a"), TrackState::kDown);
  EXPECT_EQ(tracker_.view().at(0).transitions, 0u);
  EXPECT_FALSE(tracker_.view().at(0).has_last);
  for (const auto& s : w.start)
    EXPECT_TRUE(tracker_.report(s.name, s.id, {true, ""}, now_).empty());
  EXPECT_EQ(tracker_.poll(now_).start.size(), 1u);  // due at once
  EXPECT_EQ(tracker_.demotion().at("carp"), 1);
}

}  // namespace
}  // namespace carp::daemon
