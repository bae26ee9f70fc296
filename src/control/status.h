#pragma once
// The status model that `carpctl status` prints, with its JSON form (field names fixed by
// design/product.md: fields may be added, never renamed) and its text form.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tl/expected.hpp>
#include <vector>

namespace carp::control {

// The BSD struct carpstats counters without the carps_ prefix, plus `loop` (our own
// advertisement echoed back).
inline constexpr std::array kCounterNames = {
    "ipackets", "ipackets6", "badif",   "badttl",   "hdrops",    "badsum",  "badver",
    "badlen",   "badauth",   "badvhid", "opackets", "opackets6", "preempt", "loop"};

struct VhidStatus {
  std::string interface;
  int vhid = 0;
  std::string state;  // INIT, BACKUP or MASTER
  int advbase = 0;
  int advskew = 0;
  int demote = 0;                      // the demotion this VHID advertises
  std::vector<std::string> addresses;  // "192.0.2.1/24"
  std::string master;                  // source of the MASTER's advertisements, as last heard
  std::string since;                   // when `state` last changed, "2026-11-22T10:00:00Z"
  std::map<std::string, std::uint64_t> counters;
  bool operator==(const VhidStatus&) const = default;
};

struct StatusReport {
  std::vector<VhidStatus> vhids;
  std::map<std::string, long long> demotion;  // group -> counter
  bool maintenance = false;
  std::map<std::string, std::uint64_t> stats;  // daemon-wide counters
  bool operator==(const StatusReport&) const = default;
};

// {"vhids":[{"interface":..,"vhid":..,"state":..,"advbase":..,"advskew":..,"demote":..,
//  "addresses":[..],"master":..,"since":..,"counters":{..}}],"demotion":{..},
//  "maintenance":..,"stats":{..}}
nlohmann::json toJson(const StatusReport& report);

// The inverse of toJson. Every field above is required with its type; fields it does not know
// are ignored, so that an older carpctl reads a newer carpd. Never throws.
tl::expected<StatusReport, std::string> statusFromJson(const nlohmann::json& json) noexcept;

// One line per VHID, each ending in '\n', like ifconfig on a BSD host:
// "eth0 vhid 1 MASTER advbase 1 advskew 0 demote 0 addresses 192.0.2.1/24,2001:db8::1/64"
std::string formatStatusText(const StatusReport& report);

// "2026-11-22T10:00:00Z": ISO-8601 UTC, whole seconds, the form of VhidStatus::since.
std::string formatTimestamp(std::chrono::system_clock::time_point time);

}  // namespace carp::control
