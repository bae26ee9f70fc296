// A carpd that died as MASTER and is restarted quickly takes its VHIDs back at once.

#include <gtest/gtest.h>

#include <map>

#include "daemon/engine.h"
#include "support/engine_fixture.h"

namespace carp::daemon {
namespace {

using proto::State;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kOneVhid = R"(
[[vhid]]
interface = "eth0"
vhid = 1
advskew = 100
pass = "secret"
addresses = ["192.0.2.1/24"]
)";

constexpr const char* kSubSecond = R"(
[[vhid]]
interface = "eth0"
vhid = 1
advbase = 0
advskew = 10
pass = "secret"
addresses = ["192.0.2.1/24"]
)";

// Plays the file an earlier carpd left: what it says at start, and what this engine writes.
class RecordingMasterRecord final : public os::MasterRecord {
 public:
  std::optional<proto::TimePoint> lastMasterAdvert(std::string_view interface,
                                                   proto::Vhid vhid) const override {
    const auto it = last.find({std::string(interface), vhid.value()});
    if (it == last.end()) return std::nullopt;
    return it->second;
  }
  void masterAdvertised(std::string_view interface, proto::Vhid vhid,
                        proto::TimePoint at) noexcept override {
    last[{std::string(interface), vhid.value()}] = at;
    ++advertised;
  }
  void masterLeft(std::string_view interface, proto::Vhid vhid) noexcept override {
    last.erase({std::string(interface), vhid.value()});
    ++left;
  }
  std::map<std::pair<std::string, int>, proto::TimePoint> last;
  int advertised = 0;
  int left = 0;
};

class EngineResumeTest : public carp::testing::EngineFixture {
 protected:
  std::unique_ptr<Engine> makeWithRecord(const char* text) {
    EngineDeps d = deps();
    d.master_record = &record_;
    return std::make_unique<Engine>(d, parse(text), false);
  }
  State state(const Engine& e) { return e.vhids().front()->machine.state(); }

  RecordingMasterRecord record_;
};

TEST_F(EngineResumeTest, ResumeWindowIsTwoIntervalsAndNoneInSubSecondMode) {
  EXPECT_EQ(resumeWindow(*proto::AdvBase::make(1)), seconds(2));
  EXPECT_EQ(resumeWindow(*proto::AdvBase::make(5)), seconds(10));
  EXPECT_EQ(resumeWindow(*proto::AdvBase::make(0)), seconds(0));
}

TEST_F(EngineResumeTest, RestartSoonAfterDyingAsMasterTakesMasterBackAtOnce) {
  const proto::TimePoint now = clock_.now();
  record_.last[{"eth0", 1}] = now - milliseconds(700);
  auto e = makeWithRecord(kOneVhid);
  e->start(now);
  EXPECT_EQ(state(*e), State::kMaster);
  EXPECT_TRUE(addresses_.holds("eth0", 1));
  EXPECT_EQ(addresses_.stale_cleanups, 1);  // the stale kernel state is rebuilt, not adopted
  EXPECT_FALSE(frames_.frames.empty());     // an advertisement at once, before any backup's
                                            // master-down interval can run out
  EXPECT_GE(record_.advertised, 1);
  EXPECT_EQ(record_.last.at({"eth0", 1}), now);
}

TEST_F(EngineResumeTest, RestartAfterTheWindowWaitsAsBackup) {
  const proto::TimePoint now = clock_.now();
  record_.last[{"eth0", 1}] = now - seconds(2);
  auto e = makeWithRecord(kOneVhid);
  e->start(now);
  EXPECT_EQ(state(*e), State::kBackup);
  EXPECT_FALSE(addresses_.holds("eth0", 1));
}

TEST_F(EngineResumeTest, NoRecordOrAFutureTimeWaitsAsBackup) {
  auto e = makeWithRecord(kOneVhid);
  e->start(clock_.now());
  EXPECT_EQ(state(*e), State::kBackup);

  record_.last[{"eth0", 1}] = clock_.now() + seconds(1);
  auto f = makeWithRecord(kOneVhid);
  f->start(clock_.now());
  EXPECT_EQ(state(*f), State::kBackup);
}

TEST_F(EngineResumeTest, SubSecondModeNeverResumes) {
  record_.last[{"eth0", 1}] = clock_.now() - milliseconds(1);
  auto e = makeWithRecord(kSubSecond);
  e->start(clock_.now());
  EXPECT_EQ(state(*e), State::kBackup);
}

TEST_F(EngineResumeTest, MasterAdvertsAreRecordedAndLeavingClearsTheRecord) {
  auto e = makeWithRecord(kOneVhid);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(10));  // master down, then adverts every ~1.4 s
  ASSERT_EQ(state(*e), State::kMaster);
  EXPECT_GE(record_.advertised, 5);
  ASSERT_TRUE(record_.last.count({"eth0", 1}));
  EXPECT_GT(record_.last.at({"eth0", 1}), clock_.now() - seconds(2));
  // Graceful stop: the bow-out is not recorded and the record is cleared, so that a later
  // start waits as BACKUP.
  const int before = record_.advertised;
  e->stop(clock_.now());
  EXPECT_EQ(record_.advertised, before);
  EXPECT_EQ(record_.left, 1);
  EXPECT_FALSE(record_.last.count({"eth0", 1}));
}

}  // namespace
}  // namespace carp::daemon
