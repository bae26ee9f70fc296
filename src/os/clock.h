#pragma once
#include "proto/types.h"

namespace carp::os {

// The only source of "now" for the daemon. Linux: CLOCK_MONOTONIC; tests: a fake.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual proto::TimePoint now() const noexcept = 0;
};

}  // namespace carp::os
