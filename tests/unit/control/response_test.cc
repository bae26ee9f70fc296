#include "control/response.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace carp::control {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

StatusReport oneVhid() {
  StatusReport report;
  report.vhids.push_back(VhidStatus{"eth0",
                                    1,
                                    "BACKUP",
                                    1,
                                    50,
                                    0,
                                    {"192.0.2.1/24"},
                                    "192.0.2.11",
                                    "2026-11-22T10:00:00Z",
                                    {{"ipackets", 4}}});
  report.demotion["carp"] = 0;
  report.stats["ipackets"] = 4;
  return report;
}

TEST(ResponseTest, EncodesTheEnvelope) {
  EXPECT_EQ(encodeResponse(Response::success()), R"({"ok":true})");
  EXPECT_EQ(encodeResponse(Response::success("demotion of carp is now 3")),
            R"({"message":"demotion of carp is now 3","ok":true})");
  EXPECT_EQ(encodeResponse(Response::failure("no such vhid")),
            R"({"error":"no such vhid","ok":false})");
  // Status fields sit beside "ok".
  const json j = json::parse(encodeResponse(Response::ofStatus(oneVhid())));
  EXPECT_EQ(j["ok"], true);
  EXPECT_TRUE(j.contains("vhids"));
  EXPECT_TRUE(j.contains("demotion"));
  EXPECT_TRUE(j.contains("maintenance"));
  EXPECT_TRUE(j.contains("stats"));
}

DoctorReport doctorReport() {
  DoctorReport report;
  DoctorVhid v;
  v.interface = "eth0";
  v.vhid = 1;
  v.state = "BACKUP";
  v.addresses = {"192.0.2.1/24", "2001:db8::1/64"};
  v.multicast = v.multicast6 = true;
  v.bad_auth = DoctorBadAuth{"192.0.2.12",       3,    0.25,
                             "0102030405060708", "ab", "only 192.0.2.1 (as ucarp signs)",
                             {"192.0.2.1"}};
  v.peers.push_back({"192.0.2.11", 1, 0, 0, 0.5, 7});
  report.vhids.push_back(v);
  v.vhid = 2;
  v.bad_auth.reset();
  v.peers.clear();
  report.vhids.push_back(v);
  report.vrrp.push_back({"eth0", 1, 2, 150, 1, "192.0.2.13", {"192.0.2.50"}, 1.5, 9});
  return report;
}

TEST(ResponseTest, DoctorReportSitsUnderItsKey) {
  const json j = json::parse(encodeResponse(Response::ofDoctor(doctorReport())));
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["doctor"]["vhids"][0]["bad_auth"]["matching_addresses"][0], "192.0.2.1");
  EXPECT_FALSE(j["doctor"]["vhids"][1].contains("bad_auth"));
  EXPECT_EQ(j["doctor"]["vrrp"][0]["vrid"], 1);
  EXPECT_FALSE(parseResponse(R"({"ok":true,"doctor":{"vhids":[{"vhid":1}],"vrrp":[]}})"));
}

TEST(ResponseTest, RoundTrips) {
  const std::vector<Response> responses = {Response::success(),
                                           Response::success("ok then"),
                                           Response::failure("bad config"),
                                           Response::ofStatus(oneVhid()),
                                           Response::ofStatus(StatusReport{}),
                                           Response::ofDoctor(doctorReport()),
                                           Response::ofDoctor(DoctorReport{})};
  for (const Response& response : responses) {
    const std::string line = encodeResponse(response);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const auto parsed = parseResponse(line + "\n");
    ASSERT_TRUE(parsed) << line << ": " << parsed.error();
    EXPECT_EQ(*parsed, response) << line;
  }
}

TEST(ResponseTest, ErrorsStayOnOneLine) {
  const Response r = Response::failure("line one\nline two\r\x01");
  EXPECT_EQ(r.error, "line one line two  ");
  EXPECT_EQ(Response::failure("").error, "failed");
  EXPECT_EQ(parseResponse(R"({"ok":false,"error":"a\nb"})").value().error, "a b");
  // Invalid UTF-8 cannot make encoding throw.
  const std::string line = encodeResponse(Response::failure("bad \xff byte"));
  EXPECT_TRUE(parseResponse(line));
}

TEST(ResponseTest, RefusesBadResponses) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {"nonsense", "invalid JSON"},
      {"[]", "not a JSON object"},
      {"{}", "no boolean 'ok'"},
      {R"({"ok":"true"})", "no boolean 'ok'"},
      {R"({"ok":false})", "no 'error' string"},
      {R"({"ok":false,"error":3})", "no 'error' string"},
      {R"({"ok":true,"message":3})", "'message' is not a string"},
      {R"({"ok":true,"vhids":[]})", "missing 'demotion'"},
      {R"({"ok":true,"vhids":[{}],"demotion":{},"maintenance":false,"stats":{}})",
       "missing 'interface'"},
      {std::string(10000, '{'), "nested deeper"},
  };
  for (const auto& [line, reason] : cases) {
    const auto parsed = parseResponse(line);
    ASSERT_FALSE(parsed) << line;
    EXPECT_THAT(parsed.error(), HasSubstr(reason)) << line;
  }
  static_assert(noexcept(parseResponse(std::string_view())));
}

}  // namespace
}  // namespace carp::control
