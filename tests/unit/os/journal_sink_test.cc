#include "os/linux/journal_sink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace carp::os::lnx {
namespace {

using ::testing::ElementsAre;

TEST(ParseVhidPrefix, TakesInterfaceAndVhidFromTheEnginePrefix) {
  const auto fields = parseVhidPrefix("eth0.100 vhid 42: BACKUP -> MASTER (master down)");
  ASSERT_TRUE(fields.has_value());
  EXPECT_EQ(fields->interface, "eth0.100");
  EXPECT_EQ(fields->vhid, "42");
}

TEST(ParseVhidPrefix, RejectsLinesThatAreNotAboutOneVhid) {
  EXPECT_FALSE(parseVhidPrefix("demotion group carp: +1 by carpctl, now 1"));
  EXPECT_FALSE(parseVhidPrefix("maintenance mode on"));
  EXPECT_FALSE(parseVhidPrefix("eth0 vhid : x"));
  EXPECT_FALSE(parseVhidPrefix("eth0 vhid 1x: x"));
  EXPECT_FALSE(parseVhidPrefix("eth0 vhid 1234: x"));
  EXPECT_FALSE(parseVhidPrefix(" vhid 1: x"));
  EXPECT_FALSE(parseVhidPrefix("eth0 vhid 1"));
  EXPECT_FALSE(parseVhidPrefix(""));
}

TEST(JournalFields, CarriesVhidFieldsAndSyslogPriority) {
  EXPECT_THAT(journalFields(spdlog::level::info, "eth0 vhid 1: BACKUP -> MASTER (master down)"),
              ElementsAre("MESSAGE=eth0 vhid 1: BACKUP -> MASTER (master down)", "PRIORITY=6",
                          "SYSLOG_IDENTIFIER=carpd", "CARP_INTERFACE=eth0", "CARP_VHID=1"));
  EXPECT_THAT(journalFields(spdlog::level::warn, "maintenance mode on"),
              ElementsAre("MESSAGE=maintenance mode on", "PRIORITY=4", "SYSLOG_IDENTIFIER=carpd"));
  EXPECT_EQ(journalFields(spdlog::level::err, "x")[1], "PRIORITY=3");
  EXPECT_EQ(journalFields(spdlog::level::debug, "x")[1], "PRIORITY=7");
  EXPECT_EQ(journalFields(spdlog::level::critical, "x")[1], "PRIORITY=2");
}

class StderrIsJournal : public ::testing::Test {
 protected:
  void TearDown() override { ::unsetenv("JOURNAL_STREAM"); }
};

TEST_F(StderrIsJournal, MatchesOnlyTheDeviceAndInodeOfStderr) {
  struct stat st {};
  ASSERT_EQ(::fstat(STDERR_FILENO, &st), 0);
  const std::string ours = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(stderrIsJournal());
  ::setenv("JOURNAL_STREAM", ours.c_str(), 1);
  EXPECT_TRUE(stderrIsJournal());
  // A child whose stderr was redirected inherits the variable but not the stream.
  const std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
  ::setenv("JOURNAL_STREAM", other.c_str(), 1);
  EXPECT_FALSE(stderrIsJournal());
  ::setenv("JOURNAL_STREAM", "garbage", 1);
  EXPECT_FALSE(stderrIsJournal());
  ::setenv("JOURNAL_STREAM", (ours + "x").c_str(), 1);
  EXPECT_FALSE(stderrIsJournal());
}

}  // namespace
}  // namespace carp::os::lnx
