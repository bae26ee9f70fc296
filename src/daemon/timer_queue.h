#pragma once
// One ordered set of deadlines for every timer of every VHID, so the event loop needs a single
// timerfd armed at the earliest one. Arming replaces a timer's previous deadline.

#include <cstdint>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "proto/state_machine.h"
#include "proto/types.h"

namespace carp::daemon {

class TimerQueue {
 public:
  // Identifies one timer: an opaque owner id (one per VHID) and which of its timers.
  struct Key {
    std::uint64_t owner = 0;
    proto::TimerId timer = proto::TimerId::kAdvertise;
    auto operator<=>(const Key&) const = default;
  };

  void arm(Key key, proto::TimePoint at);
  void cancel(Key key);
  void cancelOwner(std::uint64_t owner);
  std::optional<proto::TimePoint> next() const;
  // Removes and returns the earliest timer due at or before `now`. Pop one at a time: what a
  // fired timer cancels or re-arms must count for the timers that are due with it.
  std::optional<Key> popDue(proto::TimePoint now);
  std::size_t size() const { return by_time_.size(); }

 private:
  static std::uint64_t flat(Key k) { return (k.owner << 2) | static_cast<std::uint64_t>(k.timer); }
  std::set<std::pair<proto::TimePoint, Key>> by_time_;
  std::unordered_map<std::uint64_t, proto::TimePoint> deadline_of_;
};

}  // namespace carp::daemon
