#include "control/request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace carp::control {
namespace {

using ::testing::HasSubstr;

StateRequest stateRequest(const char* interface, int vhid, proto::State state) {
  return StateRequest{interface, *proto::Vhid::make(vhid), state};
}

TEST(RequestTest, EncodesTheDocumentedLines) {
  EXPECT_EQ(encodeRequest(StatusRequest{}), R"({"command":"status"})");
  EXPECT_EQ(encodeRequest(ReloadRequest{}), R"({"command":"reload"})");
  EXPECT_EQ(encodeRequest(DoctorRequest{}), R"({"command":"doctor"})");
  EXPECT_EQ(encodeRequest(MaintenanceRequest{true}), R"({"command":"maintenance","on":true})");
  EXPECT_EQ(encodeRequest(DemoteRequest{"carp", -1}),
            R"({"command":"demote","delta":-1,"group":"carp"})");
  EXPECT_EQ(encodeRequest(stateRequest("eth0", 1, proto::State::kMaster)),
            R"({"command":"state","interface":"eth0","state":"master","vhid":1})");
}

TEST(RequestTest, RoundTrips) {
  const std::vector<Request> requests = {
      StatusRequest{},
      ReloadRequest{},
      DoctorRequest{},
      MaintenanceRequest{true},
      MaintenanceRequest{false},
      DemoteRequest{"carp", -128},
      DemoteRequest{"internal", 128},
      DemoteRequest{"x", 0},
      stateRequest("eth0", 1, proto::State::kMaster),
      stateRequest("enp1s0.100", 255, proto::State::kBackup),
  };
  for (const Request& request : requests) {
    const std::string line = encodeRequest(request);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const auto parsed = parseRequest(line);
    ASSERT_TRUE(parsed) << line << ": " << parsed.error();
    EXPECT_EQ(*parsed, request) << line;
    // With the newline of the wire, too.
    EXPECT_EQ(parseRequest(line + "\n").value(), request);
  }
}

TEST(RequestTest, AcceptsDocumentedForms) {
  EXPECT_EQ(parseRequest(R"({"command":"demote","group":"carp","delta":-1})").value(),
            Request(DemoteRequest{"carp", -1}));
  // The group defaults to "carp".
  EXPECT_EQ(parseRequest(R"({"command":"demote","delta":3})").value(),
            Request(DemoteRequest{"carp", 3}));
  EXPECT_EQ(parseRequest(R"( { "state" : "backup", "vhid" : 7, "interface" : "eth1",
                              "command" : "state" } )")
                .value(),
            Request(stateRequest("eth1", 7, proto::State::kBackup)));
  EXPECT_EQ(
      parseRequest(R"({"command":"state","interface":"eth0","vhid":1,"state":"MASTER"})").value(),
      Request(stateRequest("eth0", 1, proto::State::kMaster)));
}

TEST(RequestTest, RefusesBadRequests) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty message"},
      {"   \n", "empty message"},
      {"garbage", "invalid JSON at byte 1"},
      {"{", "invalid JSON"},
      {R"({"command":"status"} x)", "invalid JSON"},
      {"[]", "not a JSON object"},
      {"42", "not a JSON object"},
      {"\"status\"", "not a JSON object"},
      {"null", "not a JSON object"},
      {"{}", "missing field 'command'"},
      {R"({"command":1})", "field 'command' must be a string"},
      {R"({"command":"reboot"})", "unknown command 'reboot'"},
      {R"({"command":"status","verbose":true})", "unknown field 'verbose' in a 'status' request"},
      {R"({"command":"demote"})", "missing field 'delta'"},
      {R"({"command":"demote","delta":"1"})", "field 'delta' must be an integer -128..128"},
      {R"({"command":"demote","delta":1.5})", "must be an integer"},
      {R"({"command":"demote","delta":true})", "must be an integer"},
      {R"({"command":"demote","delta":129})", "field 'delta' must be -128..128"},
      {R"({"command":"demote","delta":-129})", "must be -128..128"},
      {R"({"command":"demote","delta":18446744073709551615})", "must be -128..128"},
      {R"({"command":"demote","delta":-9223372036854775808})", "must be -128..128"},
      {R"({"command":"demote","delta":99999999999999999999999999})", "must be an integer"},
      {R"({"command":"demote","delta":1e400})", "invalid JSON"},
      {R"({"command":"demote","delta":1,"group":""})", "invalid group name"},
      {R"({"command":"demote","delta":1,"group":"has space"})", "invalid group name"},
      {R"({"command":"demote","delta":1,"group":"abcdefghijklmnop"})", "invalid group name"},
      {R"({"command":"demote","delta":1,"group":null})", "field 'group' must be a string"},
      {R"({"command":"state","interface":"eth0","vhid":0,"state":"master"})",
       "field 'vhid' must be 1..255"},
      {R"({"command":"state","interface":"eth0","vhid":256,"state":"master"})", "1..255"},
      {R"({"command":"state","interface":"eth0","vhid":"1","state":"master"})", "integer"},
      {R"({"command":"state","interface":"eth0","vhid":1,"state":"init"})",
       "state must be master or backup"},
      {R"({"command":"state","interface":"eth0","vhid":1})", "missing field 'state'"},
      {R"({"command":"state","interface":"../x","vhid":1,"state":"master"})",
       "invalid interface name"},
      {R"({"command":"state","interface":"","vhid":1,"state":"master"})", "invalid interface name"},
      {R"({"command":"state","interface":["eth0"],"vhid":1,"state":"master"})", "must be a string"},
      {R"({"command":"maintenance"})", "missing field 'on'"},
      {R"({"command":"maintenance","on":1})", "field 'on' must be true or false"},
      {R"({"command":"maintenance","on":"on"})", "must be true or false"},
      {"{\"command\":\"st\xff\"}", "invalid JSON"},
      {std::string("{\"command\":\"status\"}\0", 21), "invalid JSON"},
  };
  for (const auto& [line, reason] : cases) {
    const auto parsed = parseRequest(line);
    ASSERT_FALSE(parsed) << line;
    EXPECT_THAT(parsed.error(), HasSubstr(reason)) << line;
    EXPECT_EQ(parsed.error().find('\n'), std::string::npos) << line;
  }
}

TEST(RequestTest, HostileInputIsAnErrorNotACrash) {
  EXPECT_THAT(parseRequest(std::string(100000, '[')).error(), HasSubstr("too long"));
  EXPECT_THAT(parseRequest(std::string(1000, '[') + std::string(1000, ']')).error(),
              HasSubstr("nested deeper than 16"));
  EXPECT_THAT(parseRequest(R"({"command":"status","x":)" + std::string(5000, '{')).error(),
              HasSubstr("nested deeper"));
  // Brackets inside strings do not count as nesting.
  EXPECT_THAT(parseRequest(R"({"command":"reboot[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})").error(),
              HasSubstr("unknown command"));
  // Exactly at the size limit is still parsed; one byte more is not.
  std::string padded = R"({"command":"status"})";
  padded += std::string(kMaxRequestBytes - padded.size(), ' ');
  EXPECT_TRUE(parseRequest(padded));
  EXPECT_THAT(parseRequest(padded + " ").error(), HasSubstr("too long"));
  // Huge strings and numbers inside the limit.
  EXPECT_FALSE(parseRequest(R"({"command":")" + std::string(60000, 'a') + "\"}"));
  EXPECT_FALSE(parseRequest(R"({"command":"demote","delta":)" + std::string(60000, '9') + "}"));
  // A field the peer named is quoted shortly and on one line.
  const auto error = parseRequest(R"({"command":"status","a\nb":1})").error();
  EXPECT_EQ(error.find('\n'), std::string::npos);
  // Every prefix of a valid request is refused, none crashes.
  const std::string valid = R"({"command":"state","interface":"eth0","vhid":1,"state":"master"})";
  for (std::size_t n = 0; n < valid.size(); ++n) EXPECT_FALSE(parseRequest(valid.substr(0, n)));
}

TEST(RequestTest, ParseRequestIsNoexcept) {
  static_assert(noexcept(parseRequest(std::string_view())));
}

// carpctl's command words.
TEST(RequestFromArgumentsTest, Commands) {
  using V = std::vector<std::string>;
  EXPECT_EQ(requestFromArguments("status", {}).value(), Request(StatusRequest{}));
  EXPECT_EQ(requestFromArguments("reload", {}).value(), Request(ReloadRequest{}));
  EXPECT_EQ(requestFromArguments("doctor", {}).value(), Request(DoctorRequest{}));
  EXPECT_FALSE(requestFromArguments("doctor", {"eth0"}));
  EXPECT_FALSE(parseRequest(R"({"command":"doctor","vhid":1})"));
  EXPECT_EQ(requestFromArguments("demote", V{"-3"}).value(), Request(DemoteRequest{"carp", -3}));
  EXPECT_EQ(requestFromArguments("demote", V{"+2"}).value(), Request(DemoteRequest{"carp", 2}));
  EXPECT_EQ(requestFromArguments("demote", V{"internal", "5"}).value(),
            Request(DemoteRequest{"internal", 5}));
  EXPECT_EQ(requestFromArguments("demote", V{"internal", "-3"}).value(),
            Request(DemoteRequest{"internal", -3}));
  EXPECT_EQ(requestFromArguments("state", V{"eth0", "1", "master"}).value(),
            Request(stateRequest("eth0", 1, proto::State::kMaster)));
  EXPECT_EQ(requestFromArguments("state", V{"eth0", "255", "backup"}).value(),
            Request(stateRequest("eth0", 255, proto::State::kBackup)));
  EXPECT_EQ(requestFromArguments("maintenance", V{"on"}).value(),
            Request(MaintenanceRequest{true}));
  EXPECT_EQ(requestFromArguments("maintenance", V{"off"}).value(),
            Request(MaintenanceRequest{false}));
}

TEST(RequestFromArgumentsTest, BadWords) {
  using V = std::vector<std::string>;
  const std::vector<std::tuple<std::string, V, std::string>> cases = {
      {"status", V{"x"}, "usage: status"},
      {"reload", V{"now"}, "usage: reload"},
      {"demote", V{}, "usage: demote [GROUP] N"},
      {"demote", V{"a", "b", "1"}, "usage: demote [GROUP] N"},
      {"demote", V{"x"}, "demotion must be an integer -128..128, not 'x'"},
      {"demote", V{"internal", "-129"}, "demotion must be an integer -128..128, not '-129'"},
      {"demote", V{"3x"}, "not '3x'"},
      {"demote", V{" 3"}, "not ' 3'"},
      {"demote", V{"--3"}, "not '--3'"},
      {"demote", V{"99999999999999999999"}, "demotion must be an integer"},
      {"demote", V{"bad group", "1"}, "invalid group name 'bad group'"},
      {"state", V{"eth0", "1"}, "usage: state INTERFACE VHID master|backup"},
      {"state", V{"eth0", "0", "master"}, "vhid must be 1..255, not '0'"},
      {"state", V{"eth0", "256", "master"}, "vhid must be 1..255, not '256'"},
      {"state", V{"eth0", "one", "master"}, "vhid must be 1..255, not 'one'"},
      {"state", V{"eth0", "1", "init"}, "state must be master or backup, not 'init'"},
      {"state", V{"a/b", "1", "master"}, "invalid interface name 'a/b'"},
      {"maintenance", V{}, "usage: maintenance on|off"},
      {"maintenance", V{"yes"}, "maintenance must be on or off, not 'yes'"},
      {"frobnicate", V{}, "unknown command 'frobnicate'"},
  };
  for (const auto& [command, words, reason] : cases) {
    const auto request = requestFromArguments(command, words);
    ASSERT_FALSE(request) << command;
    EXPECT_THAT(request.error(), HasSubstr(reason)) << command;
  }
}

TEST(RequestTest, Names) {
  EXPECT_TRUE(isValidGroupName("carp"));
  EXPECT_TRUE(isValidGroupName(std::string(15, 'g')));
  EXPECT_FALSE(isValidGroupName(std::string(16, 'g')));
  EXPECT_FALSE(isValidGroupName(""));
  EXPECT_FALSE(isValidGroupName("a b"));
  EXPECT_FALSE(isValidGroupName("a\tb"));
  EXPECT_TRUE(isValidInterfaceName("eth0"));
  EXPECT_FALSE(isValidInterfaceName("eth0:1"));
  EXPECT_FALSE(isValidInterfaceName(".."));
}

}  // namespace
}  // namespace carp::control
