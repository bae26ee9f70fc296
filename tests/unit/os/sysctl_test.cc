#include "os/linux/sysctl.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/netns_helpers.h"

namespace carp::os::lnx {
namespace {

// Plain files stand in for /proc/sys: the guard's bookkeeping needs no root.
class SysctlFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/sysctl_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string file(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  std::string dir_;
};

TEST_F(SysctlFileTest, ReadStripsTheNewline) {
  EXPECT_EQ(readSysctl(file("a", "1\n")).value(), "1");
  EXPECT_EQ(readSysctl(file("b", "4096\t87380\n")).value(), "4096\t87380");
}

TEST_F(SysctlFileTest, MissingFileIsAnErrorWithThePath) {
  auto missing = readSysctl(dir_ + "/nope");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find(dir_ + "/nope"), std::string::npos);
  EXPECT_NE(missing.error().find("No such file"), std::string::npos);
  EXPECT_FALSE(writeSysctl(dir_ + "/nope", "1"));
}

TEST_F(SysctlFileTest, GuardRestoresTheFirstOriginalValue) {
  const std::string a = file("a", "0\n");
  const std::string b = file("b", "2\n");
  {
    SysctlGuard guard;
    EXPECT_TRUE(guard.empty());
    ASSERT_TRUE(guard.set(a, "1"));
    ASSERT_TRUE(guard.set(a, "3"));  // the original stays "0"
    ASSERT_TRUE(guard.set(b, "1"));
    EXPECT_EQ(readSysctl(a).value(), "3");
    EXPECT_EQ(readSysctl(b).value(), "1");
    guard.restoreAll();
    EXPECT_EQ(readSysctl(a).value(), "0");
    EXPECT_EQ(readSysctl(b).value(), "2");
    EXPECT_TRUE(guard.empty());
    ASSERT_TRUE(guard.set(a, "5"));
  }
  EXPECT_EQ(readSysctl(a).value(), "0") << "the destructor restores";
}

TEST_F(SysctlFileTest, FailedSetRemembersNothing) {
  SysctlGuard guard;
  EXPECT_FALSE(guard.set(dir_ + "/nope", "1"));
  EXPECT_TRUE(guard.empty());
}

TEST_F(SysctlFileTest, MovedGuardRestoresOnce) {
  const std::string a = file("a", "0\n");
  SysctlGuard moved;
  {
    SysctlGuard guard;
    ASSERT_TRUE(guard.set(a, "1"));
    moved = std::move(guard);
  }
  EXPECT_EQ(readSysctl(a).value(), "1") << "the moved-from guard restores nothing";
  moved.restoreAll();
  EXPECT_EQ(readSysctl(a).value(), "0");
}

// /proc/sys/net shows the network namespace of the process that opens the file.
TEST(SysctlNetns, ReadsAndRestoresTheNamespacesOwnValues) {
  if (!carp::testing::enterPrivateNetns(carp::testing::UnshareFailure::kSkip)) return;
  ASSERT_TRUE(carp::testing::shell("ip link add p0 type veth peer name q0"));
  const std::string path = "/proc/sys/net/ipv4/conf/p0/arp_ignore";  // exists only here
  ASSERT_TRUE(writeSysctl(path, "0"));
  {
    SysctlGuard guard;
    ASSERT_TRUE(guard.set(path, "1"));
    EXPECT_EQ(readSysctl(path).value_or("<missing>"), "1");
  }
  EXPECT_EQ(readSysctl(path).value_or("<missing>"), "0");
}

}  // namespace
}  // namespace carp::os::lnx
