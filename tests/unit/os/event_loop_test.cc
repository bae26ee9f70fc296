#include "os/linux/event_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>

#include "os/linux/fd.h"
#include "os/linux/monotonic_clock.h"

namespace carp::os::lnx {
namespace {

using std::chrono::milliseconds;

struct Pipe {
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throwErrno("pipe2");
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
  }
  void put() const { ASSERT_EQ(::write(write_end.get(), "x", 1), 1); }
  UniqueFd read_end;
  UniqueFd write_end;
};

// Stops the loop after `after` of real time, so that a broken test fails instead of hanging.
class Watchdog {
 public:
  Watchdog(EventLoop& loop, milliseconds after)
      : loop_(loop), fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(after.count() / 1000);
    spec.it_value.tv_nsec = static_cast<long>((after.count() % 1000) * 1000000);
    ::timerfd_settime(fd_.get(), 0, &spec, nullptr);
    EXPECT_TRUE(loop_
                    .addReader(fd_.get(),
                               [this] {
                                 fired_ = true;
                                 loop_.stop();
                               })
                    .has_value());
  }
  ~Watchdog() { loop_.removeReader(fd_.get()); }
  bool fired() const { return fired_; }

 private:
  EventLoop& loop_;
  UniqueFd fd_;
  bool fired_ = false;
};

TEST(EventLoopTest, CallsReaderWhenReadable) {
  EventLoop loop;
  Watchdog watchdog(loop, milliseconds(5000));
  Pipe pipe;
  int calls = 0;
  ASSERT_TRUE(loop.addReader(pipe.read_end.get(),
                             [&] {
                               char c;
                               EXPECT_EQ(::read(pipe.read_end.get(), &c, 1), 1);
                               ++calls;
                               loop.stop();
                             })
                  .has_value());
  pipe.put();
  ASSERT_TRUE(loop.run().has_value());
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(watchdog.fired());
}

TEST(EventLoopTest, LevelTriggeredReaderIsCalledUntilDrained) {
  EventLoop loop;
  Watchdog watchdog(loop, milliseconds(5000));
  Pipe pipe;
  pipe.put();
  pipe.put();
  pipe.put();
  int calls = 0;
  ASSERT_TRUE(loop.addReader(pipe.read_end.get(),
                             [&] {
                               char c;
                               ASSERT_EQ(::read(pipe.read_end.get(), &c, 1),
                                         1);  // one byte per call
                               if (++calls == 3) loop.stop();
                             })
                  .has_value());
  ASSERT_TRUE(loop.run().has_value());
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(watchdog.fired());
}

TEST(EventLoopTest, RemovedReaderIsNotCalledEvenIfAlreadyReadyInTheSameRound) {
  EventLoop loop;
  Watchdog watchdog(loop, milliseconds(5000));
  Pipe a;
  Pipe b;
  int calls_a = 0;
  int calls_b = 0;
  // Both are ready in the same epoll_wait round; whichever runs first removes the other.
  ASSERT_TRUE(loop.addReader(a.read_end.get(),
                             [&] {
                               ++calls_a;
                               loop.removeReader(b.read_end.get());
                               loop.removeReader(a.read_end.get());
                               loop.stop();
                             })
                  .has_value());
  ASSERT_TRUE(loop.addReader(b.read_end.get(),
                             [&] {
                               ++calls_b;
                               loop.removeReader(a.read_end.get());
                               loop.removeReader(b.read_end.get());
                               loop.stop();
                             })
                  .has_value());
  a.put();
  b.put();
  ASSERT_TRUE(loop.run().has_value());
  EXPECT_EQ(calls_a + calls_b, 1);
  EXPECT_FALSE(watchdog.fired());
}

TEST(EventLoopTest, ReaderMayRemoveItselfAndKeepUsingItsCaptures) {
  EventLoop loop;
  Watchdog watchdog(loop, milliseconds(5000));
  Pipe pipe;
  auto state = std::make_shared<int>(41);
  ASSERT_TRUE(loop.addReader(pipe.read_end.get(),
                             [&loop, &pipe, state] {
                               loop.removeReader(pipe.read_end.get());
                               ++*state;  // the callback object must still be alive here
                               loop.stop();
                             })
                  .has_value());
  pipe.put();
  ASSERT_TRUE(loop.run().has_value());
  EXPECT_EQ(*state, 42);
}

TEST(EventLoopTest, AddReaderReportsErrno) {
  EventLoop loop;
  auto result = loop.addReader(-1, [] {});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error(), EBADF);
}

TEST(EventLoopTest, DeadlineFiresNotEarly) {
  EventLoop loop;
  Watchdog watchdog(loop, milliseconds(5000));
  MonotonicClock clock;
  const proto::TimePoint deadline = clock.now() + milliseconds(50);
  std::optional<proto::TimePoint> fired_at;
  loop.onDeadline([&] {
    fired_at = clock.now();
    loop.stop();
  });
  loop.setDeadline(deadline);
  ASSERT_TRUE(loop.run().has_value());
  ASSERT_TRUE(fired_at.has_value());
  EXPECT_GE(*fired_at, deadline);
  EXPECT_LT(*fired_at, deadline + milliseconds(1000));  // generous: shared CI machines
  EXPECT_FALSE(watchdog.fired());
}

TEST(EventLoopTest, PastDeadlineFiresPromptly) {
  EventLoop loop;
  Watchdog watchdog(loop, milliseconds(5000));
  MonotonicClock clock;
  const proto::TimePoint start = clock.now();
  int fired = 0;
  loop.onDeadline([&] {
    ++fired;
    loop.stop();
  });
  loop.setDeadline(start - milliseconds(1000));
  ASSERT_TRUE(loop.run().has_value());
  EXPECT_EQ(fired, 1);
  EXPECT_LT(clock.now() - start, milliseconds(1000));

  // The epoch itself (a zero timer value would otherwise mean "disarm").
  loop.setDeadline(proto::TimePoint{});
  ASSERT_TRUE(loop.run().has_value());
  EXPECT_EQ(fired, 2);
  EXPECT_FALSE(watchdog.fired());
}

TEST(EventLoopTest, NewDeadlineReplacesTheOld) {
  EventLoop loop;
  Watchdog watchdog(loop, milliseconds(5000));
  MonotonicClock clock;
  const proto::TimePoint start = clock.now();
  int fired = 0;
  loop.onDeadline([&] {
    ++fired;
    loop.stop();
  });
  loop.setDeadline(start + milliseconds(60000));
  loop.setDeadline(start + milliseconds(20));
  ASSERT_TRUE(loop.run().has_value());
  EXPECT_EQ(fired, 1);
  EXPECT_GE(clock.now(), start + milliseconds(20));
  EXPECT_FALSE(watchdog.fired());
}

TEST(EventLoopTest, DisarmedDeadlineDoesNotFire) {
  EventLoop loop;
  Watchdog watchdog(loop, milliseconds(200));
  MonotonicClock clock;
  int fired = 0;
  loop.onDeadline([&] { ++fired; });
  loop.setDeadline(clock.now() + milliseconds(20));
  loop.setDeadline(std::nullopt);
  ASSERT_TRUE(loop.run().has_value());
  EXPECT_TRUE(watchdog.fired());
  EXPECT_EQ(fired, 0);
}

TEST(EventLoopTest, ExpiredButUnreadDeadlineIsNotReportedAfterRearming) {
  EventLoop loop;
  Watchdog watchdog(loop, milliseconds(5000));
  MonotonicClock clock;
  Pipe pipe;
  int fired = 0;
  proto::TimePoint rearmed_to{};
  loop.onDeadline([&] {
    ++fired;
    EXPECT_GE(clock.now(), rearmed_to);
    loop.stop();
  });
  // The deadline expires before run(); a reader in the same round re-arms it for later,
  // so the expiry already collected must not be reported early.
  loop.setDeadline(clock.now() - milliseconds(1));
  ASSERT_TRUE(loop.addReader(pipe.read_end.get(),
                             [&] {
                               char c;
                               EXPECT_EQ(::read(pipe.read_end.get(), &c, 1), 1);
                               rearmed_to = clock.now() + milliseconds(30);
                               loop.setDeadline(rearmed_to);
                             })
                  .has_value());
  pipe.put();
  ASSERT_TRUE(loop.run().has_value());
  EXPECT_GE(fired, 1);
  EXPECT_FALSE(watchdog.fired());
}

TEST(EventLoopTest, DeliversSignalsThroughTheLoop) {
  EventLoop loop;
  Watchdog watchdog(loop, milliseconds(5000));
  int hups = 0;
  int terms = 0;
  ASSERT_TRUE(loop.onSignal(SIGHUP,
                            [&] {
                              ++hups;
                              ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
                            })
                  .has_value());
  ASSERT_TRUE(loop.onSignal(SIGTERM,
                            [&] {
                              ++terms;
                              loop.stop();
                            })
                  .has_value());
  // Blocked now, so raising it leaves it pending for the signalfd instead of killing us.
  ASSERT_EQ(::raise(SIGHUP), 0);
  ASSERT_TRUE(loop.run().has_value());
  EXPECT_EQ(hups, 1);
  EXPECT_EQ(terms, 1);
  EXPECT_FALSE(watchdog.fired());
}

TEST(EventLoopTest, RejectsInvalidSignal) {
  EventLoop loop;
  auto result = loop.onSignal(1000, [] {});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error(), EINVAL);
}

TEST(EventLoopTest, StopBeforeRunReturnsAtOnceAndRunCanBeRepeated) {
  EventLoop loop;
  Watchdog watchdog(loop, milliseconds(5000));
  loop.stop();
  ASSERT_TRUE(loop.run().has_value());
  EXPECT_FALSE(watchdog.fired());

  int fired = 0;
  loop.onDeadline([&] {
    ++fired;
    loop.stop();
  });
  loop.setDeadline(proto::TimePoint{});
  ASSERT_TRUE(loop.run().has_value());
  EXPECT_EQ(fired, 1);
}

}  // namespace
}  // namespace carp::os::lnx
