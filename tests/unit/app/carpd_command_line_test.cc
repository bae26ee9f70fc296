#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "app/command_line.h"

namespace carp::app {
namespace {

using ::testing::HasSubstr;

TEST(CarpdCommandLineTest, Defaults) {
  auto line = parseCommandLine({});
  ASSERT_TRUE(line);
  EXPECT_EQ(line->file, "/etc/carpd/carpd.toml");
  EXPECT_FALSE(line->check_only);
  EXPECT_FALSE(line->ucarp);
}

TEST(CarpdCommandLineTest, OwnOptions) {
  auto line = parseCommandLine({"-f", "/tmp/x.toml", "-n", "-v"});
  ASSERT_TRUE(line);
  EXPECT_EQ(line->file, "/tmp/x.toml");
  EXPECT_TRUE(line->check_only);
  EXPECT_TRUE(line->verbose);
}

TEST(CarpdCommandLineTest, HelpListsEveryOption) {
  auto line = parseCommandLine({"--help"});
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().exit_code, 0);
  for (const char* option :
       {"-f", "-n", "-v", "--version", "--ucarp", "--control-socket", "--state-dir"}) {
    EXPECT_THAT(line.error().out, HasSubstr(option)) << option;
  }
}

TEST(CarpdCommandLineTest, UsageErrorsExitTwo) {
  // CLI11's own codes (109 for an extra argument, 114 for a missing value) were carpd's exit
  // codes before.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--bogus"}, {"-f"}, {"stray"}, {"--control-socket", "/x", "-n"}}) {
    auto line = parseCommandLine(args);
    ASSERT_FALSE(line) << args.front();
    EXPECT_EQ(line.error().exit_code, kUsageExit) << args.front();
    EXPECT_FALSE(line.error().err.empty()) << args.front();
  }
  EXPECT_THAT(parseCommandLine({"--control-socket", "/x", "-n"}).error().err,
              HasSubstr("--control-socket goes with --ucarp only"));
  EXPECT_THAT(parseCommandLine({"--state-dir", "/x"}).error().err,
              HasSubstr("--state-dir goes with --ucarp only"));
}

TEST(CarpdCommandLineTest, Ucarp) {
  auto line = parseCommandLine(
      {"--control-socket", "/run/x.sock", "--ucarp", "-i", "eth0", "-f", "local0"});
  ASSERT_TRUE(line);
  EXPECT_TRUE(line->ucarp);
  EXPECT_EQ(line->control_socket, "/run/x.sock");
  // -f after --ucarp is ucarp's (syslog facility), not carpd's.
  EXPECT_EQ(line->ucarp_args, (std::vector<std::string>{"-i", "eth0", "-f", "local0"}));
  EXPECT_EQ(line->file, "/etc/carpd/carpd.toml");

  auto relative = parseCommandLine({"--state-dir", "rel", "--ucarp"});
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error().exit_code, kUsageExit);
  EXPECT_THAT(relative.error().err, HasSubstr("--state-dir must be an absolute path"));

  auto mixed = parseCommandLine({"-n", "--ucarp", "-i", "eth0"});
  ASSERT_FALSE(mixed);
  EXPECT_THAT(mixed.error().err, HasSubstr("-n does not go with --ucarp"));
}

}  // namespace
}  // namespace carp::app
