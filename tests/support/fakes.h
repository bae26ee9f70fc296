#pragma once
// Fakes of the OS edge (src/os), recording what the engine asked for.

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "os/address_manager.h"
#include "os/clock.h"
#include "os/interfaces.h"
#include "os/load_balancer.h"
#include "os/packet_io.h"

namespace carp::testing {

class FakeClock final : public os::Clock {
 public:
  proto::TimePoint now() const noexcept override { return now_; }
  void advance(proto::Duration d) { now_ += d; }
  void set(proto::TimePoint t) { now_ = t; }

 private:
  proto::TimePoint now_{std::chrono::seconds(1000)};
};

struct SentFrame {
  int ifindex;
  std::vector<std::uint8_t> bytes;
};

class FakeFrameSender final : public os::FrameSender {
 public:
  tl::expected<void, os::Errno> sendFrame(int ifindex,
                                          std::span<const std::uint8_t> frame) noexcept override {
    if (fail_with) return tl::unexpected(fail_with);
    frames.push_back({ifindex, {frame.begin(), frame.end()}});
    return {};
  }
  std::vector<SentFrame> frames;
  os::Errno fail_with = 0;
};

struct SentIp {
  int ifindex;
  proto::IpAddress source;
  proto::IpAddress destination;
  std::vector<std::uint8_t> payload;
};

class FakeIpSender final : public os::IpSender {
 public:
  tl::expected<void, os::Errno> sendIp(int ifindex, const proto::IpAddress& source,
                                       const proto::IpAddress& destination,
                                       std::span<const std::uint8_t> payload) noexcept override {
    packets.push_back({ifindex, source, destination, {payload.begin(), payload.end()}});
    return {};
  }
  std::vector<SentIp> packets;
};

class FakeAddressManager final : public os::AddressManager {
 public:
  tl::expected<void, os::Error> attach(const os::VhidBinding& b) override {
    attached.push_back(b.vhid.value());
    return {};
  }
  void detach(const os::VhidBinding& b) noexcept override { detached.push_back(b.vhid.value()); }
  tl::expected<void, os::Error> add(const os::VhidBinding& b,
                                    std::span<const proto::InterfaceAddress> a) override {
    auto& held = addresses[{b.parent_name, b.vhid.value()}];
    for (const auto& x : a) {
      if (std::find(held.begin(), held.end(), x) == held.end()) held.push_back(x);
    }
    ++adds;
    return {};
  }
  // Removes exactly the given addresses (and records them, in order, in `removed`).
  tl::expected<void, os::Error> remove(const os::VhidBinding& b,
                                       std::span<const proto::InterfaceAddress> a) override {
    const std::pair<std::string, int> key{b.parent_name, b.vhid.value()};
    auto it = addresses.find(key);
    for (const auto& x : a) {
      removed.emplace_back(key, x);
      if (it == addresses.end()) continue;
      std::erase(it->second, x);
    }
    if (it != addresses.end() && it->second.empty()) addresses.erase(it);
    return {};
  }
  os::StaleReport removeStale(const os::StaleFilter& filter) noexcept override {
    ++stale_cleanups;
    last_filter = filter;
    return stale_report;
  }

  bool holds(const std::string& parent, int vhid) const {
    return addresses.count({parent, vhid}) != 0;
  }
  std::map<std::pair<std::string, int>, std::vector<proto::InterfaceAddress>> addresses;
  std::vector<std::pair<std::pair<std::string, int>, proto::InterfaceAddress>> removed;
  std::vector<int> attached;
  std::vector<int> detached;
  int adds = 0;
  int stale_cleanups = 0;
  os::StaleFilter last_filter;   // what the last removeStale was given
  os::StaleReport stale_report;  // what removeStale returns
};

class FakeLoadBalancer final : public os::LoadBalancer {
 public:
  void removeStale() noexcept override { ++stale_cleanups; }
  tl::expected<void, std::string> update(const os::BalancingState& state) override {
    updates.push_back(state);
    if (!fail_with.empty()) return tl::unexpected(fail_with);
    return {};
  }
  void remove(int ifindex, std::span<const proto::IpAddress> addresses) noexcept override {
    removed.emplace_back(ifindex,
                         std::vector<proto::IpAddress>(addresses.begin(), addresses.end()));
  }
  std::vector<os::BalancingState> updates;
  std::string fail_with;  // update() fails with this when set
  std::vector<std::pair<int, std::vector<proto::IpAddress>>> removed;
  int stale_cleanups = 0;
};

class FakeInterfaceDirectory final : public os::InterfaceDirectory {
 public:
  std::optional<os::InterfaceInfo> find(std::string_view name) override {
    for (const auto& i : interfaces) {
      if (i.name == name) return i;
    }
    return std::nullopt;
  }
  std::optional<os::InterfaceInfo> find(int ifindex) override {
    for (const auto& i : interfaces) {
      if (i.ifindex == ifindex) return i;
    }
    return std::nullopt;
  }
  std::vector<os::InterfaceInfo> interfaces;
};

}  // namespace carp::testing
