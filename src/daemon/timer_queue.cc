#include "daemon/timer_queue.h"

namespace carp::daemon {

void TimerQueue::arm(Key key, proto::TimePoint at) {
  cancel(key);
  by_time_.emplace(at, key);
  deadline_of_[flat(key)] = at;
}

void TimerQueue::cancel(Key key) {
  auto it = deadline_of_.find(flat(key));
  if (it == deadline_of_.end()) return;
  by_time_.erase({it->second, key});
  deadline_of_.erase(it);
}

void TimerQueue::cancelOwner(std::uint64_t owner) {
  for (std::size_t t = 0; t < proto::kTimerCount; ++t) {
    cancel({owner, static_cast<proto::TimerId>(t)});
  }
}

std::optional<proto::TimePoint> TimerQueue::next() const {
  if (by_time_.empty()) return std::nullopt;
  return by_time_.begin()->first;
}

std::optional<TimerQueue::Key> TimerQueue::popDue(proto::TimePoint now) {
  if (by_time_.empty() || by_time_.begin()->first > now) return std::nullopt;
  const Key key = by_time_.begin()->second;
  by_time_.erase(by_time_.begin());
  deadline_of_.erase(flat(key));
  return key;
}

}  // namespace carp::daemon
