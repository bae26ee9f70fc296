#include "daemon/demotion_groups.h"

#include <algorithm>

namespace carp::daemon {

long long DemotionGroups::adjust(const std::string& group, long long delta) {
  long long& value = counters_[group];
  value = std::max(0LL, value + delta);  // OpenBSD: "never below 0"
  return value;
}

proto::Demote DemotionGroups::demoteFor(const std::vector<std::string>& groups) const {
  long long sum = 0;
  for (const auto& g : groups) {
    auto it = counters_.find(g);
    if (it != counters_.end()) sum += it->second;
  }
  return proto::Demote::fromSum(sum);
}

}  // namespace carp::daemon
