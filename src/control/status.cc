#include "control/status.h"

#include <ctime>
#include <limits>

namespace carp::control {

namespace {

using nlohmann::json;
template <typename T>
using Expected = tl::expected<T, std::string>;

tl::unexpected<std::string> fail(std::string message) {
  return tl::make_unexpected(std::move(message));
}

Expected<const json*> field(const json& object, const char* key, const char* where) {
  const auto it = object.find(key);
  if (it == object.end()) return fail(std::string("missing '") + key + "' in " + where);
  return &*it;
}

Expected<long long> integer(const json& object, const char* key, const char* where, long long low,
                            long long high) {
  const auto f = field(object, key, where);
  if (!f) return fail(f.error());
  const json& v = **f;
  const bool fits =
      v.is_number_integer() &&
      !(v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(high)) &&
      v.get<long long>() >= low && v.get<long long>() <= high;
  if (!fits) return fail(std::string("'") + key + "' in " + where + " is not an integer in range");
  return v.get<long long>();
}

Expected<std::string> string(const json& object, const char* key, const char* where) {
  const auto f = field(object, key, where);
  if (!f) return fail(f.error());
  if (!(*f)->is_string())
    return fail(std::string("'") + key + "' in " + where + " is not a string");
  return (*f)->get<std::string>();
}

Expected<std::map<std::string, std::uint64_t>> counters(const json& object, const char* key,
                                                        const char* where) {
  const auto f = field(object, key, where);
  if (!f) return fail(f.error());
  if (!(*f)->is_object())
    return fail(std::string("'") + key + "' in " + where + " is not an object");
  std::map<std::string, std::uint64_t> out;
  for (const auto& [name, value] : (*f)->items()) {
    if (!value.is_number_unsigned()) {
      return fail(std::string("counter '") + name + "' is not a non-negative integer");
    }
    out.emplace(name, value.get<std::uint64_t>());
  }
  return out;
}

Expected<int> intField(const json& object, const char* key, const char* where) {
  return integer(object, key, where, std::numeric_limits<int>::min(),
                 std::numeric_limits<int>::max())
      .map([](long long x) { return static_cast<int>(x); });
}

// Moves the value of `from` into `to`, or keeps its error in `error` (the first one wins).
template <typename T>
void take(Expected<T>&& from, T& to, std::string& error) {
  if (!error.empty()) return;
  if (from) {
    to = std::move(*from);
  } else {
    error = from.error();
  }
}

Expected<VhidStatus> vhidFromJson(const json& j) {
  constexpr const char* kWhere = "a vhid";
  if (!j.is_object()) return fail("a vhid entry is not an object");
  VhidStatus v;
  std::string error;
  take(string(j, "interface", kWhere), v.interface, error);
  take(intField(j, "vhid", kWhere), v.vhid, error);
  take(string(j, "state", kWhere), v.state, error);
  take(intField(j, "advbase", kWhere), v.advbase, error);
  take(intField(j, "advskew", kWhere), v.advskew, error);
  take(intField(j, "demote", kWhere), v.demote, error);
  take(string(j, "master", kWhere), v.master, error);
  take(string(j, "since", kWhere), v.since, error);
  take(counters(j, "counters", kWhere), v.counters, error);
  if (!error.empty()) return fail(error);
  const auto addresses = field(j, "addresses", kWhere);
  if (!addresses) return fail(addresses.error());
  if (!(*addresses)->is_array()) return fail("'addresses' in a vhid is not an array");
  for (const json& a : **addresses) {
    if (!a.is_string()) return fail("an address in a vhid is not a string");
    v.addresses.push_back(a.get<std::string>());
  }
  return v;
}

}  // namespace

json toJson(const StatusReport& report) {
  json vhids = json::array();
  for (const VhidStatus& v : report.vhids) {
    vhids.push_back({{"interface", v.interface},
                     {"vhid", v.vhid},
                     {"state", v.state},
                     {"advbase", v.advbase},
                     {"advskew", v.advskew},
                     {"demote", v.demote},
                     {"addresses", v.addresses},
                     {"master", v.master},
                     {"since", v.since},
                     {"counters", v.counters}});
  }
  return {{"vhids", std::move(vhids)},
          {"demotion", report.demotion},
          {"maintenance", report.maintenance},
          {"stats", report.stats}};
}

tl::expected<StatusReport, std::string> statusFromJson(const nlohmann::json& json) noexcept {
  try {
    if (!json.is_object()) return fail("status is not an object");
    StatusReport report;
    const auto vhids = field(json, "vhids", "status");
    if (!vhids) return fail(vhids.error());
    if (!(*vhids)->is_array()) return fail("'vhids' is not an array");
    for (const auto& entry : **vhids) {
      auto v = vhidFromJson(entry);
      if (!v) return fail(v.error());
      report.vhids.push_back(std::move(*v));
    }
    const auto demotion = field(json, "demotion", "status");
    if (!demotion) return fail(demotion.error());
    if (!(*demotion)->is_object()) return fail("'demotion' is not an object");
    for (const auto& [group, value] : (*demotion)->items()) {
      if (!value.is_number_integer() ||
          (value.is_number_unsigned() &&
           value.get<std::uint64_t>() >
               static_cast<std::uint64_t>(std::numeric_limits<long long>::max()))) {
        return fail("demotion of group '" + group + "' is not an integer");
      }
      report.demotion.emplace(group, value.get<long long>());
    }
    const auto maintenance = field(json, "maintenance", "status");
    if (!maintenance) return fail(maintenance.error());
    if (!(*maintenance)->is_boolean()) return fail("'maintenance' is not true or false");
    report.maintenance = (*maintenance)->get<bool>();
    auto stats = counters(json, "stats", "status");
    if (!stats) return fail(stats.error());
    report.stats = std::move(*stats);
    return report;
  } catch (...) {
    return fail("cannot read status");
  }
}

std::string formatStatusText(const StatusReport& report) {
  std::string out;
  for (const VhidStatus& v : report.vhids) {
    out += v.interface + " vhid " + std::to_string(v.vhid) + " " + v.state + " advbase " +
           std::to_string(v.advbase) + " advskew " + std::to_string(v.advskew) + " demote " +
           std::to_string(v.demote) + " addresses ";
    for (std::size_t i = 0; i < v.addresses.size(); ++i) {
      if (i > 0) out += ',';
      out += v.addresses[i];
    }
    out += '\n';
  }
  return out;
}

std::string formatTimestamp(std::chrono::system_clock::time_point time) {
  const std::time_t seconds =
      std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(time));
  std::tm utc{};
  if (gmtime_r(&seconds, &utc) == nullptr) return "";
  char buffer[32];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(buffer, n);
}

}  // namespace carp::control
