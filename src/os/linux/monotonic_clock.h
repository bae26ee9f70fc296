#pragma once
// The daemon's clock on Linux.

#include "os/clock.h"
#include "proto/types.h"

namespace carp::os::lnx {

// CLOCK_MONOTONIC in microseconds since its (unspecified) epoch, the same time base that
// EventLoop::setDeadline expects, so deadlines computed from now() can be armed directly.
// It does not jump with wall-clock changes and does not advance while suspended.
class MonotonicClock final : public os::Clock {
 public:
  proto::TimePoint now() const noexcept override;
};

}  // namespace carp::os::lnx
