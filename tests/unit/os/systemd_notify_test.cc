#include "os/linux/systemd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace carp::os::lnx {
namespace {

using std::chrono::microseconds;

// Plays systemd: a datagram socket that NOTIFY_SOCKET points to.
class SystemdNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/systemd_notify_test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    const std::string path = dir_ + "/notify";
    socket_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(socket_);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    ASSERT_LT(path.size(), sizeof address.sun_path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(::bind(socket_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address),
              0);
    ASSERT_EQ(::setenv("NOTIFY_SOCKET", path.c_str(), 1), 0);
  }
  void TearDown() override {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    std::filesystem::remove_all(dir_);
  }

  // The next datagram, or "<none>" when nothing arrives within a second.
  std::string receive() {
    pollfd p{socket_.get(), POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) return "<none>";
    char buffer[4096];
    const ssize_t n = ::recv(socket_.get(), buffer, sizeof buffer, 0);
    return n < 0 ? "<error>" : std::string(buffer, static_cast<std::size_t>(n));
  }

  std::string dir_;
  UniqueFd socket_;
};

TEST_F(SystemdNotifyTest, SendsEachState) {
  notifyReady();
  EXPECT_EQ(receive(), "READY=1");
  notifyStopping();
  EXPECT_EQ(receive(), "STOPPING=1");
  notifyWatchdog();
  EXPECT_EQ(receive(), "WATCHDOG=1");
}

TEST_F(SystemdNotifyTest, ReloadingCarriesTheMonotonicTime) {
  timespec before{};
  ::clock_gettime(CLOCK_MONOTONIC, &before);
  notifyReloading();
  const std::string message = receive();
  const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
  ASSERT_EQ(message.rfind(prefix, 0), 0u) << message;
  const auto usec = std::stoull(message.substr(prefix.size()));
  const auto before_usec = static_cast<unsigned long long>(before.tv_sec) * 1'000'000ULL +
                           static_cast<unsigned long long>(before.tv_nsec) / 1000;
  EXPECT_GE(usec, before_usec);
  EXPECT_LT(usec, before_usec + 10'000'000ULL);
}

TEST_F(SystemdNotifyTest, StatusCannotAddFields) {
  notifyStatus("2 VHIDs, 1 MASTER");
  EXPECT_EQ(receive(), "STATUS=2 VHIDs, 1 MASTER");
  notifyStatus("eth0\nREADY=1\r");
  EXPECT_EQ(receive(), "STATUS=eth0 READY=1 ");
}

TEST_F(SystemdNotifyTest, WatchdogIntervalIsHalfOfWatchdogSec) {
  EXPECT_EQ(watchdogInterval(), std::nullopt);
  ASSERT_EQ(::setenv("WATCHDOG_USEC", "10000000", 1), 0);
  EXPECT_EQ(watchdogInterval(), microseconds(5'000'000)) << "without WATCHDOG_PID: any process";
  ASSERT_EQ(::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1), 0);
  EXPECT_EQ(watchdogInterval(), microseconds(5'000'000));
  EXPECT_EQ(watchdogInterval(), microseconds(5'000'000)) << "the environment is kept";
  ASSERT_EQ(::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1), 0);
  EXPECT_EQ(watchdogInterval(), std::nullopt) << "meant for another process";
}

TEST_F(SystemdNotifyTest, WatchdogTimerPingsWhenItExpires) {
  WatchdogTimer timer(microseconds(1000));
  pollfd p{timer.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 1000), 1);
  timer.onReadable();
  EXPECT_EQ(receive(), "WATCHDOG=1");
  p.revents = 0;
  ASSERT_EQ(::poll(&p, 1, 1000), 1) << "periodic";
}

TEST(SystemdNotifyWithoutSystemd, DoesNothing) {
  ::unsetenv("NOTIFY_SOCKET");
  notifyReady();
  notifyReloading();
  notifyStatus("x");
  notifyStopping();
  notifyWatchdog();
  EXPECT_EQ(watchdogInterval(), std::nullopt);
}

}  // namespace
}  // namespace carp::os::lnx
