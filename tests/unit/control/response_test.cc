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

TEST(ResponseTest, RoundTrips) {
  const std::vector<Response> responses = {
      Response::success(), Response::success("ok then"), Response::failure("bad config"),
      Response::ofStatus(oneVhid()), Response::ofStatus(StatusReport{})};
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
