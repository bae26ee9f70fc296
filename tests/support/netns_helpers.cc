#include "support/netns_helpers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

namespace carp::testing {
namespace {

void writeProcSys(const std::string& path, const std::string& value) {
  std::ofstream("/proc/sys/" + path) << value;
}

}  // namespace

bool enterPrivateNetns(UnshareFailure on_failure) {
  if (::geteuid() != 0) {
    [] { GTEST_SKIP() << "needs root for a network namespace"; }();
    return false;
  }
  if (::unshare(CLONE_NEWNET) != 0) {
    const int error = errno;
    if (on_failure == UnshareFailure::kSkipOnlyIfEperm && error != EPERM) {
      [error] { FAIL() << "unshare(CLONE_NEWNET): " << std::strerror(error); }();
      return false;
    }
    [error] { GTEST_SKIP() << "unshare(CLONE_NEWNET): " << std::strerror(error); }();
    return false;
  }
  return true;
}

bool shell(const std::string& command) {
  const int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << command;
  return status == 0;
}

bool waitUntilRunning(const char* name) {
  os::lnx::UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  for (int i = 0; i < 500; ++i) {
    ifreq request{};
    std::strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    if (::ioctl(fd.get(), SIOCGIFFLAGS, &request) == 0 && (request.ifr_flags & IFF_RUNNING)) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

void disableRpFilterAndDad() {
  writeProcSys("net/ipv4/conf/all/rp_filter", "0");
  writeProcSys("net/ipv4/conf/default/rp_filter", "0");
  writeProcSys("net/ipv6/conf/all/accept_dad", "0");
  writeProcSys("net/ipv6/conf/default/accept_dad", "0");
}

proto::IpAddress parseIp(const char* text) {
  std::array<std::uint8_t, 16> bytes{};
  if (::inet_pton(AF_INET, text, bytes.data()) == 1) {
    return proto::IpAddress::v4({bytes[0], bytes[1], bytes[2], bytes[3]});
  }
  EXPECT_EQ(::inet_pton(AF_INET6, text, bytes.data()), 1) << text;
  return proto::IpAddress::v6(bytes);
}

std::vector<std::uint8_t> carpPayload(std::uint8_t seed) {
  std::vector<std::uint8_t> payload(36);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<std::uint8_t>(seed + i);
  }
  return payload;
}

void PeerNetns::create() {
  home_.reset(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(home_.valid());
  ASSERT_EQ(::unshare(CLONE_NEWNET), 0);
  peer_.reset(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(peer_.valid());
  ASSERT_EQ(::setns(home_.get(), CLONE_NEWNET), 0);
}

std::string PeerNetns::path() const {
  return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(peer_.get());
}

void PeerNetns::enter() const { ASSERT_EQ(::setns(peer_.get(), CLONE_NEWNET), 0); }

void PeerNetns::leave() const { ASSERT_EQ(::setns(home_.get(), CLONE_NEWNET), 0); }

}  // namespace carp::testing
