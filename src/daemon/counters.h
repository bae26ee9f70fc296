#pragma once
// Packet counters with the names of the BSD `struct carpstats` (netstat -s -p carp), without the
// carps_ prefix, plus `loop` (our own advertisement echoed back).

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "proto/drop_reason.h"

namespace carp::daemon {

enum class Counter : std::uint8_t {
  kIpackets,
  kIpackets6,
  kBadif,
  kBadttl,
  kHdrops,
  kBadsum,
  kBadver,
  kBadlen,
  kBadauth,
  kBadvhid,
  kOpackets,
  kOpackets6,
  kPreempt,
  kLoop,
};
inline constexpr std::size_t kCounterCount = 14;

const char* counterName(Counter counter) noexcept;
Counter counterFor(proto::DropReason reason) noexcept;

class Counters {
 public:
  void add(Counter c, std::uint64_t n = 1) noexcept { values_[static_cast<std::size_t>(c)] += n; }
  std::uint64_t get(Counter c) const noexcept { return values_[static_cast<std::size_t>(c)]; }
  std::map<std::string, std::uint64_t> toMap() const;

 private:
  std::array<std::uint64_t, kCounterCount> values_{};
};

}  // namespace carp::daemon
