// Runs against the real kernel in a private network namespace (root only; skipped otherwise).
#include "os/linux/netlink_monitor.h"

#include <gtest/gtest.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <tuple>
#include <vector>

#include "os/linux/netlink_address_manager.h"
#include "support/netns_helpers.h"

namespace carp::os::lnx {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using carp::testing::parseIp;
using carp::testing::shell;

using AddressEvent = std::tuple<bool /*added*/, int, proto::InterfaceAddress, bool /*tagged*/>;

class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!carp::testing::enterPrivateNetns(carp::testing::UnshareFailure::kSkip)) return;
    ASSERT_TRUE(shell("ip link add p0 type veth peer name q0 && ip link set q0 up"));
    parent_ = static_cast<int>(if_nametoindex("p0"));
    monitor_.emplace();
    monitor_->on_link = [this](int ifindex, bool running) {
      links_.emplace_back(ifindex, running);
    };
    monitor_->on_address_added = [this](int ifindex, const proto::InterfaceAddress& a, bool t) {
      addresses_.emplace_back(true, ifindex, a, t);
    };
    monitor_->on_address_removed = [this](int ifindex, const proto::InterfaceAddress& a, bool t) {
      addresses_.emplace_back(false, ifindex, a, t);
    };
    monitor_->on_overrun = [this] { ++overruns_; };
  }

  // Runs the monitor as the event loop would until `done` holds or 5 s pass.
  bool pumpUntil(const std::function<bool()>& done) {
    const auto deadline = Clock::now() + 5s;
    while (!done()) {
      if (Clock::now() > deadline) return false;
      pollfd fd{.fd = monitor_->fd(), .events = POLLIN, .revents = 0};
      if (poll(&fd, 1, 100) > 0) monitor_->onReadable();
    }
    return true;
  }

  bool sawLink(int ifindex, bool running) const {
    return std::find(links_.begin(), links_.end(), std::pair{ifindex, running}) != links_.end();
  }
  bool sawAddress(const AddressEvent& event) const {
    return std::find(addresses_.begin(), addresses_.end(), event) != addresses_.end();
  }

  int parent_ = 0;
  std::optional<NetlinkMonitor> monitor_;
  std::vector<std::pair<int, bool>> links_;
  std::vector<AddressEvent> addresses_;
  int overruns_ = 0;
};

TEST_F(MonitorTest, ReportsLinkUpAndDown) {
  ASSERT_TRUE(shell("ip link set p0 up"));
  EXPECT_TRUE(pumpUntil([&] { return sawLink(parent_, true); }));
  links_.clear();
  ASSERT_TRUE(shell("ip link set p0 down"));
  EXPECT_TRUE(pumpUntil([&] { return sawLink(parent_, false); }));
  links_.clear();
  ASSERT_TRUE(shell("ip link set p0 up"));
  EXPECT_TRUE(pumpUntil([&] { return sawLink(parent_, true); }));
  // Carrier loss (the peer goes down) also ends "running".
  links_.clear();
  ASSERT_TRUE(shell("ip link set q0 down"));
  EXPECT_TRUE(pumpUntil([&] { return sawLink(parent_, false); }));
  EXPECT_EQ(overruns_, 0);
}

TEST_F(MonitorTest, ReportsDeletedLinksAsNotRunning) {
  ASSERT_TRUE(shell("ip link set p0 up && ip link add link p0 name mv0 type macvlan"));
  const int macvlan = static_cast<int>(if_nametoindex("mv0"));
  ASSERT_TRUE(shell("ip link del mv0"));
  EXPECT_TRUE(pumpUntil([&] { return sawLink(macvlan, false); }));
}

TEST_F(MonitorTest, ReportsAddressesAddedAndRemovedWithTheirTag) {
  ASSERT_TRUE(
      shell("ip link set p0 up && ip addr add 192.0.2.1/24 dev p0 && "
            "ip addr add 2001:db8::1/64 dev p0 nodad"));
  const proto::InterfaceAddress v4{parseIp("192.0.2.1"), 24};
  const proto::InterfaceAddress v6{parseIp("2001:db8::1"), 64};
  EXPECT_TRUE(pumpUntil([&] {
    return sawAddress({true, parent_, v4, false}) && sawAddress({true, parent_, v6, false});
  }));
  ASSERT_TRUE(shell("ip addr del 192.0.2.1/24 dev p0 && ip addr del 2001:db8::1/64 dev p0"));
  EXPECT_TRUE(pumpUntil([&] {
    return sawAddress({false, parent_, v4, false}) && sawAddress({false, parent_, v6, false});
  }));

  NetlinkAddressManager manager;
  const VhidBinding binding{parent_, "p0", *proto::Vhid::make(1), false};
  const std::vector tagged{proto::InterfaceAddress{parseIp("192.0.2.100"), 24},
                           proto::InterfaceAddress{parseIp("2001:db8::100"), 64}};
  ASSERT_TRUE(manager.add(binding, tagged));
  EXPECT_TRUE(pumpUntil([&] {
    return sawAddress({true, parent_, tagged[0], true}) &&
           sawAddress({true, parent_, tagged[1], true});
  }));
  ASSERT_TRUE(manager.remove(binding, tagged));
  EXPECT_TRUE(pumpUntil([&] {
    return sawAddress({false, parent_, tagged[0], true}) &&
           sawAddress({false, parent_, tagged[1], true});
  }));
}

TEST_F(MonitorTest, ReportsAnOverrun) {
  // The smallest receive buffer the kernel allows, then far more notifications than fit.
  const int tiny = 1;
  ASSERT_EQ(setsockopt(monitor_->fd(), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof(tiny)), 0);
  ASSERT_TRUE(
      shell("ip link set p0 up && for i in $(seq 1 100); do "
            "ip addr add 192.0.2.$i/24 dev p0; done"));
  EXPECT_TRUE(pumpUntil([&] { return overruns_ > 0; }));
  // Afterwards the socket keeps working.
  links_.clear();
  ASSERT_TRUE(shell("ip link set p0 down"));
  EXPECT_TRUE(pumpUntil([&] { return sawLink(parent_, false); }));
}

TEST_F(MonitorTest, OnReadableWithNothingPendingReturns) {
  monitor_->onReadable();
  EXPECT_TRUE(links_.empty());
}

}  // namespace
}  // namespace carp::os::lnx
