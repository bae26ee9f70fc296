#include "control/status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace carp::control {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

StatusReport sample() {
  StatusReport report;
  VhidStatus v;
  v.interface = "eth0";
  v.vhid = 1;
  v.state = "MASTER";
  v.advbase = 1;
  v.advskew = 0;
  v.demote = 0;
  v.addresses = {"192.0.2.1/24", "2001:db8::1/64"};
  v.master = "192.0.2.11";
  v.since = "2026-11-22T10:00:00Z";
  for (const char* name : kCounterNames) v.counters[name] = 0;
  v.counters["opackets"] = 1234;
  report.vhids.push_back(v);
  VhidStatus w = v;
  w.interface = "eth1";
  w.vhid = 200;
  w.state = "BACKUP";
  w.advbase = 3;
  w.advskew = 100;
  w.demote = 2;
  w.addresses = {"198.51.100.1/32"};
  w.master = "198.51.100.2";
  report.vhids.push_back(w);
  report.demotion = {{"carp", 0}, {"internal", 2}};
  report.maintenance = true;
  for (const char* name : kCounterNames) report.stats[name] = 0;
  report.stats["ipackets"] = 10;
  report.stats["badvhid"] = 3;
  report.stats["opackets"] = std::numeric_limits<std::uint64_t>::max();
  return report;
}

std::set<std::string> keysOf(const json& j) {
  std::set<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.insert(key);
  return keys;
}

TEST(StatusTest, CounterNamesAreTheBsdCarpstats) {
  EXPECT_EQ(kCounterNames.size(), 14u);
  const std::set<std::string> names(kCounterNames.begin(), kCounterNames.end());
  EXPECT_EQ(names, (std::set<std::string>{"ipackets", "ipackets6", "badif", "badttl", "hdrops",
                                          "badsum", "badver", "badlen", "badauth", "badvhid",
                                          "opackets", "opackets6", "preempt", "loop"}));
}

TEST(StatusTest, JsonFieldNamesAreTheProductContract) {
  const json j = toJson(sample());
  EXPECT_EQ(keysOf(j), (std::set<std::string>{"vhids", "demotion", "maintenance", "stats"}));
  ASSERT_TRUE(j["vhids"].is_array());
  const json& v = j["vhids"][0];
  EXPECT_EQ(keysOf(v),
            (std::set<std::string>{"interface", "vhid", "state", "advbase", "advskew", "demote",
                                   "addresses", "master", "since", "counters"}));
  EXPECT_EQ(v["interface"], "eth0");
  EXPECT_EQ(v["vhid"], 1);
  EXPECT_EQ(v["state"], "MASTER");
  EXPECT_EQ(v["advbase"], 1);
  EXPECT_EQ(v["advskew"], 0);
  EXPECT_EQ(v["demote"], 0);
  EXPECT_EQ(v["addresses"], json::array({"192.0.2.1/24", "2001:db8::1/64"}));
  EXPECT_EQ(v["master"], "192.0.2.11");
  EXPECT_EQ(v["since"], "2026-11-22T10:00:00Z");
  EXPECT_EQ(v["counters"]["opackets"], 1234);
  EXPECT_EQ(v["counters"]["badauth"], 0);
  EXPECT_EQ(j["demotion"], json({{"carp", 0}, {"internal", 2}}));
  EXPECT_EQ(j["maintenance"], true);
  EXPECT_EQ(j["stats"]["ipackets"], 10);
  EXPECT_EQ(j["stats"]["badvhid"], 3);
}

TEST(StatusTest, EmptyReportHasObjectsNotNulls) {
  EXPECT_EQ(toJson(StatusReport{}).dump(),
            R"({"demotion":{},"maintenance":false,"stats":{},"vhids":[]})");
  StatusReport one;
  one.vhids.push_back(VhidStatus{});
  const json j = toJson(one);
  EXPECT_TRUE(j["vhids"][0]["counters"].is_object());
  EXPECT_TRUE(j["vhids"][0]["addresses"].is_array());
}

TEST(StatusTest, JsonRoundTrip) {
  const StatusReport report = sample();
  const auto back = statusFromJson(toJson(report));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, report);
  EXPECT_EQ(statusFromJson(toJson(StatusReport{})).value(), StatusReport{});
}

TEST(StatusTest, ReadsTheProductExampleAndIgnoresNewFields) {
  const json j = json::parse(R"({"vhids": [{"interface": "eth0", "vhid": 1, "state": "MASTER",
      "advbase": 1, "advskew": 0, "demote": 0, "addresses": ["192.0.2.1/24", "2001:db8::1/64"],
      "master": "192.0.2.11", "since": "2026-11-22T10:00:00Z",
      "counters": {"ipackets": 0, "opackets": 1234, "badauth": 0}, "future": [1]}],
      "demotion": {"carp": 0}, "maintenance": false,
      "stats": {"ipackets": 10, "ipackets6": 0, "badttl": 0, "badvhid": 3}, "uptime": 5})");
  const auto report = statusFromJson(j);
  ASSERT_TRUE(report) << report.error();
  ASSERT_EQ(report->vhids.size(), 1u);
  EXPECT_EQ(report->vhids[0].counters.at("opackets"), 1234u);
  EXPECT_EQ(report->stats.at("badvhid"), 3u);
}

TEST(StatusTest, RefusesWrongShapes) {
  const json good = toJson(sample());
  const auto broken = [&](auto&& edit) {
    json j = good;
    edit(j);
    return statusFromJson(j);
  };
  EXPECT_FALSE(statusFromJson(json::array()));
  EXPECT_FALSE(statusFromJson(json()));
  EXPECT_FALSE(broken([](json& j) { j.erase("vhids"); }));
  EXPECT_FALSE(broken([](json& j) { j.erase("demotion"); }));
  EXPECT_FALSE(broken([](json& j) { j.erase("maintenance"); }));
  EXPECT_FALSE(broken([](json& j) { j.erase("stats"); }));
  EXPECT_FALSE(broken([](json& j) { j["vhids"] = json::object(); }));
  EXPECT_FALSE(broken([](json& j) { j["vhids"][0] = 3; }));
  EXPECT_FALSE(broken([](json& j) { j["maintenance"] = 0; }));
  EXPECT_FALSE(broken([](json& j) { j["demotion"]["carp"] = "0"; }));
  EXPECT_FALSE(broken([](json& j) { j["demotion"]["carp"] = 18446744073709551615u; }));
  EXPECT_FALSE(broken([](json& j) { j["stats"]["ipackets"] = -1; }));
  EXPECT_FALSE(broken([](json& j) { j["stats"]["ipackets"] = 1.5; }));
  for (const char* field : {"interface", "vhid", "state", "advbase", "advskew", "demote",
                            "addresses", "master", "since", "counters"}) {
    const auto result = broken([&](json& j) { j["vhids"][1].erase(field); });
    ASSERT_FALSE(result) << field;
    EXPECT_THAT(result.error(), HasSubstr(field));
    EXPECT_FALSE(broken([&](json& j) { j["vhids"][0][field] = json::array({json::object()}); }))
        << field;
  }
  EXPECT_FALSE(broken([](json& j) { j["vhids"][0]["vhid"] = 4294967296LL; }));
  EXPECT_FALSE(broken([](json& j) { j["vhids"][0]["addresses"][0] = 1; }));
  // Negative demotion counters are representable (the daemon clamps, the format does not).
  EXPECT_TRUE(broken([](json& j) { j["demotion"]["carp"] = -1; }));
}

TEST(StatusTest, TextFormatIsOneLinePerVhid) {
  EXPECT_EQ(formatStatusText(sample()),
            "eth0 vhid 1 MASTER advbase 1 advskew 0 demote 0 addresses "
            "192.0.2.1/24,2001:db8::1/64\n"
            "eth1 vhid 200 BACKUP advbase 3 advskew 100 demote 2 addresses 198.51.100.1/32\n");
  EXPECT_EQ(formatStatusText(StatusReport{}), "");
}

TEST(StatusTest, Timestamp) {
  using namespace std::chrono;
  EXPECT_EQ(formatTimestamp(system_clock::time_point{}), "1970-01-01T00:00:00Z");
  const auto t =
      sys_days{year{2026} / 11 / 22} + hours{10} + minutes{0} + seconds{0} + milliseconds{999};
  EXPECT_EQ(formatTimestamp(time_point_cast<system_clock::duration>(t)), "2026-11-22T10:00:00Z");
}

}  // namespace
}  // namespace carp::control
