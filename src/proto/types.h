#pragma once
// Typed values of the CARP protocol. Constructed only through validating factories, so that
// code inside the core never sees an out-of-range VHID, advbase or advskew.

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>

namespace carp::proto {

// Microsecond resolution: the BSD timers are computed in microseconds (OpenBSD ip_carp.c
// carp_setrun uses timeout_add_usec), and one advskew step is 1/256 s = 3906.25 us.
using Duration = std::chrono::microseconds;

// The monotonic time base of the core. Nothing in proto reads a clock: the daemon passes the
// current time in with every event, and tests pass a fake one.
struct MonotonicClock {
  using duration = Duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<MonotonicClock, Duration>;
  static constexpr bool is_steady = true;
};
using TimePoint = MonotonicClock::time_point;

// A virtual host identifier, 1..255 (0 is not a valid group on either BSD).
class Vhid {
 public:
  static std::optional<Vhid> make(int value) {
    if (value < 1 || value > 255) return std::nullopt;
    return Vhid(static_cast<std::uint8_t>(value));
  }
  constexpr std::uint8_t value() const { return value_; }
  constexpr auto operator<=>(const Vhid&) const = default;

 private:
  constexpr explicit Vhid(std::uint8_t v) : value_(v) {}
  std::uint8_t value_;
};

// Advertisement base interval in whole seconds, 0..255. 0 is OpenBSD's sub-second mode, in
// which the interval is advskew/256 s. 255 on the wire means a bow-out.
class AdvBase {
 public:
  static constexpr std::optional<AdvBase> make(int seconds) {
    if (seconds < 0 || seconds > 255) return std::nullopt;
    return AdvBase(static_cast<std::uint8_t>(seconds));
  }
  constexpr std::uint8_t seconds() const { return seconds_; }
  constexpr auto operator<=>(const AdvBase&) const = default;

 private:
  constexpr explicit AdvBase(std::uint8_t s) : seconds_(s) {}
  std::uint8_t seconds_;
};

// Advertisement skew in 1/256 s, 0..254 when configured (both BSDs reject 255 from ifconfig);
// 255 appears only on the wire, in a bow-out.
class AdvSkew {
 public:
  static constexpr int kMaxConfigured = 254;
  static constexpr std::optional<AdvSkew> make(int steps) {
    if (steps < 0 || steps > kMaxConfigured) return std::nullopt;
    return AdvSkew(static_cast<std::uint8_t>(steps));
  }
  constexpr std::uint8_t steps() const { return steps_; }
  constexpr auto operator<=>(const AdvSkew&) const = default;

 private:
  constexpr explicit AdvSkew(std::uint8_t s) : steps_(s) {}
  std::uint8_t steps_;
};

// The demotion count as it goes into byte 4 of an OpenBSD advertisement: the sum of the
// VHID's group counters, clamped to 0..255 (OpenBSD ip_carp.c carp_group_demote_count).
class Demote {
 public:
  static constexpr Demote fromSum(long long sum) {
    return Demote(static_cast<std::uint8_t>(sum < 0 ? 0 : (sum > 255 ? 255 : sum)));
  }
  static constexpr Demote none() { return Demote(0); }
  constexpr std::uint8_t value() const { return value_; }
  constexpr auto operator<=>(const Demote&) const = default;

 private:
  constexpr explicit Demote(std::uint8_t v) : value_(v) {}
  std::uint8_t value_;
};

enum class Family : std::uint8_t { kIPv4, kIPv6 };

enum class State : std::uint8_t { kInit, kBackup, kMaster };

const char* toString(State state) noexcept;

using MacAddress = std::array<std::uint8_t, 6>;

// 00:00:5e:00:01:<vhid>, the virtual MAC both BSDs use for a VHID (carp-wire.md §8).
constexpr MacAddress virtualMac(Vhid vhid) { return {0x00, 0x00, 0x5e, 0x00, 0x01, vhid.value()}; }

}  // namespace carp::proto
