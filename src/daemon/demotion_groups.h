#pragma once
// OpenBSD interface-group demotion counters (ip_carp.c carp_group_demote_adj,
// carp_group_demote_count). Every VHID is in group "carp" and in its configured groups; its
// wire demote value is the sum of its groups' counters, clamped to 255. A counter never goes
// below zero.

#include <map>
#include <string>
#include <vector>

#include "proto/types.h"

namespace carp::daemon {

class DemotionGroups {
 public:
  static constexpr const char* kDefaultGroup = "carp";

  void ensure(const std::string& group) { counters_.try_emplace(group, 0); }
  bool contains(const std::string& group) const { return counters_.count(group) != 0; }
  // Adds delta (may be negative) to the group; returns the new value.
  long long adjust(const std::string& group, long long delta);
  proto::Demote demoteFor(const std::vector<std::string>& groups) const;
  const std::map<std::string, long long>& counters() const { return counters_; }

 private:
  std::map<std::string, long long> counters_{{kDefaultGroup, 0}};
};

}  // namespace carp::daemon
