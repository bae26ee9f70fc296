#include "os/linux/monotonic_clock.h"

#include <time.h>

#include <chrono>

namespace carp::os::lnx {

proto::TimePoint MonotonicClock::now() const noexcept {
  timespec ts{};
  // Cannot fail for CLOCK_MONOTONIC with a valid pointer.
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto since_epoch = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  // Truncation to whole microseconds: a deadline computed from this value is never earlier
  // than the instant it was derived from plus the intended interval minus < 1 us.
  return proto::TimePoint(std::chrono::duration_cast<proto::Duration>(since_epoch));
}

}  // namespace carp::os::lnx
