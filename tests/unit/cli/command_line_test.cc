#include "cli/command_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/run.h"
namespace carp::cli {
namespace {
using ::testing::HasSubstr;
tl::expected<Invocation, EarlyExit> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "carpctl");
  return parseCommandLine(static_cast<int>(args.size()), args.data());
}
TEST(CommandLineTest, Commands) {
  auto i = parse({"demote", "-3"});
  ASSERT_TRUE(i) << i.error().text;
  EXPECT_EQ(i->request, control::Request(control::DemoteRequest{"carp", -3}));
  EXPECT_EQ(i->socket, "/run/carpd/carpd.sock");
  i = parse({"demote", "internal", "-3"});
  ASSERT_TRUE(i) << i.error().text;
  EXPECT_EQ(i->request, control::Request(control::DemoteRequest{"internal", -3}));
  i = parse({"demote", "internal", "5"});
  EXPECT_EQ(i->request, control::Request(control::DemoteRequest{"internal", 5}));
  i = parse({"-s", "/tmp/x.sock", "state", "eth0", "1", "master"});
  ASSERT_TRUE(i);
  EXPECT_EQ(i->socket, "/tmp/x.sock");
  EXPECT_EQ(i->request, control::Request(control::StateRequest{"eth0", *proto::Vhid::make(1),
                                                               proto::State::kMaster}));
  i = parse({"status", "--json"});
  ASSERT_TRUE(i);
  EXPECT_TRUE(i->json);
  i = parse({"status", "-s", "/a"});
  ASSERT_TRUE(i);
  EXPECT_EQ(i->socket, "/a");
  EXPECT_FALSE(i->json);
  EXPECT_EQ(parse({"maintenance", "on"})->request,
            control::Request(control::MaintenanceRequest{true}));
  EXPECT_EQ(parse({"reload"})->request, control::Request(control::ReloadRequest{}));
  i = parse({"doctor"});
  ASSERT_TRUE(i) << i.error().text;
  EXPECT_EQ(i->request, control::Request(control::DoctorRequest{}));
  EXPECT_TRUE(i->arp_probe);
  EXPECT_FALSE(i->json);
  i = parse({"doctor", "--json", "--no-arp-probe"});
  ASSERT_TRUE(i) << i.error().text;
  EXPECT_TRUE(i->json);
  EXPECT_FALSE(i->arp_probe);
  EXPECT_THAT(parse({"doctor", "eth0"}).error().text, HasSubstr("'eth0'"));
  EXPECT_EQ(parse({"demote", "--", "-3"})->request,
            control::Request(control::DemoteRequest{"carp", -3}));
}
TEST(CommandLineTest, Errors) {
  EXPECT_EQ(parse({}).error().text,
            "a command is required: status, demote, state, maintenance, reload or doctor");
  EXPECT_THAT(parse({"bogus"}).error().text, HasSubstr("unknown command 'bogus'"));
  EXPECT_THAT(parse({"--nope", "status"}).error().text, HasSubstr("unknown option '--nope'"));
  EXPECT_EQ(parse({"status", "x"}).error().text, "status takes no arguments (got 'x')");
  EXPECT_EQ(parse({"reload", "x"}).error().text, "reload takes no arguments (got 'x')");
  EXPECT_THAT(parse({"demote"}).error().text, HasSubstr("usage: demote [GROUP] N"));
  EXPECT_THAT(parse({"demote", "a", "b", "c"}).error().text, HasSubstr("usage"));
  EXPECT_THAT(parse({"state", "eth0", "0", "master"}).error().text, HasSubstr("1..255"));
  EXPECT_THAT(parse({"maintenance", "perhaps"}).error().text, HasSubstr("on or off"));
  EXPECT_EQ(parse({"status"}).has_value(), true);
  EXPECT_EQ(parse({"--help"}).error().exit_code, 0);
  EXPECT_THAT(parse({"--help"}).error().text, HasSubstr("Usage"));
  EXPECT_EQ(parse({"demote", "--help"}).error().exit_code, 0);
  EXPECT_EQ(parse({"--version"}).error().text.substr(0, 8), "carpctl ");
  // Usage errors exit 2, apart from carpd's refusals and connection failures (exit 1).
  EXPECT_EQ(parse({"x"}).error().exit_code, 2);
  EXPECT_EQ(parse({}).error().exit_code, 2);
  EXPECT_EQ(parse({"status", "x"}).error().exit_code, 2);
  EXPECT_EQ(parse({"demote"}).error().exit_code, 2);
  EXPECT_EQ(parse({"-s"}).error().exit_code, 2);
}
TEST(RunTest, UsageErrorExitsTwo) {
  std::ostringstream out, err;
  const char* argv[] = {"carpctl", "status", "extra"};
  EXPECT_EQ(run(3, argv, out, err), 2);
  EXPECT_EQ(err.str(), "carpctl: status takes no arguments (got 'extra')\n");
  EXPECT_EQ(out.str(), "");
}
TEST(RunTest, ConnectFailure) {
  std::ostringstream out, err;
  const char* argv[] = {"carpctl", "-s", "/nonexistent/carpd.sock", "status"};
  EXPECT_EQ(run(4, argv, out, err), 1);
  EXPECT_EQ(err.str(),
            "carpctl: cannot connect to /nonexistent/carpd.sock: No such file or directory\n");
  EXPECT_EQ(out.str(), "");
}

TEST(CommandLineTest, SocketDefaultsToTheConfigurationsControlSocket) {
  char dir[] = "/tmp/carpctl-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string file = std::string(dir) + "/carpd.toml";
  std::ofstream(file) << "[global]\ncontrol_socket = \"/tmp/elsewhere.sock\"\n";
  auto i = parse({"-f", file.c_str(), "status"});
  ASSERT_TRUE(i) << i.error().text;
  EXPECT_EQ(i->socket, "/tmp/elsewhere.sock");
  // -s wins over the file.
  i = parse({"-f", file.c_str(), "-s", "/tmp/given.sock", "status"});
  ASSERT_TRUE(i);
  EXPECT_EQ(i->socket, "/tmp/given.sock");
  // A file without control_socket, a broken file and a missing file give the default.
  std::ofstream(file) << "[global]\npreempt = true\n";
  EXPECT_EQ(parse({"-f", file.c_str(), "status"})->socket, "/run/carpd/carpd.sock");
  std::ofstream(file) << "[global\n";
  EXPECT_EQ(parse({"-f", file.c_str(), "status"})->socket, "/run/carpd/carpd.sock");
  EXPECT_EQ(parse({"-f", "/nonexistent/carpd.toml", "status"})->socket, "/run/carpd/carpd.sock");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace carp::cli
