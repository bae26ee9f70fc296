#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "os/linux/file_vhid_claims.h"

namespace carp::os::lnx {
namespace {

const proto::Vhid kVhid1 = *proto::Vhid::make(1);
const proto::Vhid kVhid2 = *proto::Vhid::make(2);
const proto::IpAddress kAddr1 = proto::IpAddress::v4({192, 0, 2, 1});
const proto::IpAddress kAddr2 = proto::IpAddress::v4({192, 0, 2, 2});
const proto::IpAddress kAddr6 =
    proto::IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
constexpr ino_t kNetns = 4026531840;

class VhidClaimsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/vhid_claims_test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    for (pid_t child : children_) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  FileVhidClaims make(std::string socket, ino_t netns = kNetns) {
    auto claims = FileVhidClaims::open(dir_, std::move(socket), netns);
    EXPECT_TRUE(claims.has_value()) << claims.error().message;
    return std::move(*claims);
  }
  std::string content(std::string_view name, ino_t netns = kNetns) {
    std::ifstream in(dir_ / std::to_string(netns) / std::string(name));
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }
  // A child process that claims (eth0, 1) with kAddr1 and waits to be killed.
  pid_t claimInChild(const std::string& socket) {
    int ready[2];
    EXPECT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    if (child == 0) {
      ::close(ready[0]);
      auto claims = FileVhidClaims::open(dir_, socket, kNetns);
      const proto::IpAddress addresses[] = {kAddr1, kAddr6};
      const bool ok = claims && claims->claim("eth0", kVhid1, addresses).has_value();
      const char byte = ok ? '1' : '0';
      (void)!::write(ready[1], &byte, 1);
      for (;;) ::pause();
    }
    children_.push_back(child);
    ::close(ready[1]);
    char byte = 0;
    EXPECT_EQ(::read(ready[0], &byte, 1), 1);
    ::close(ready[0]);
    EXPECT_EQ(byte, '1');
    return child;
  }
  void killChild(pid_t child) {
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    ASSERT_EQ(::waitpid(child, nullptr, 0), child);
    std::erase(children_, child);
  }

  std::filesystem::path dir_;
  std::vector<pid_t> children_;
};

TEST_F(VhidClaimsTest, ClaimWritesOwnerAndAddresses) {
  auto claims = make("/run/carpd/carpd.sock");
  const proto::IpAddress addresses[] = {kAddr1, kAddr6};
  ASSERT_TRUE(claims.claim("eth0", kVhid1, addresses).has_value());
  EXPECT_EQ(content("eth0:1"), "pid " + std::to_string(::getpid()) +
                                   "\nsocket /run/carpd/carpd.sock\nnetns 4026531840\n"
                                   "address 192.0.2.1\naddress 2001:db8::1\nend\n");
}

TEST_F(VhidClaimsTest, SecondInstanceInSameProcessIsRefusedWithTheProductMessage) {
  auto first = make("/run/carpd/carpd.sock");
  auto second = make("/run/carpd/other.sock");
  ASSERT_TRUE(first.claim("eth0", kVhid1, {}).has_value());
  auto refused = second.claim("eth0", kVhid1, {});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message, "vhid 1 on eth0 is run by carpd pid " +
                                         std::to_string(::getpid()) + " (/run/carpd/carpd.sock)");
  EXPECT_TRUE(second.claim("eth0", kVhid2, {}).has_value());  // another VHID is free
  EXPECT_TRUE(second.claim("eth1", kVhid1, {}).has_value());  // so is another interface
}

TEST_F(VhidClaimsTest, ClaimingAgainWhatWeHoldUpdatesTheAddresses) {
  auto claims = make("/s");
  const proto::IpAddress one[] = {kAddr1};
  const proto::IpAddress two[] = {kAddr2};
  ASSERT_TRUE(claims.claim("eth0", kVhid1, one).has_value());
  ASSERT_TRUE(claims.claim("eth0", kVhid1, two).has_value());
  EXPECT_NE(content("eth0:1").find("address 192.0.2.2\n"), std::string::npos);
  EXPECT_EQ(content("eth0:1").find("192.0.2.1"), std::string::npos);
}

TEST_F(VhidClaimsTest, OtherProcessIsRefusedUntilKilledThenTakenOver) {
  const pid_t child = claimInChild("/run/carpd/ucarp-eth0-1.sock");
  auto claims = make("/run/carpd/carpd.sock");
  auto refused = claims.claim("eth0", kVhid1, {});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message, "vhid 1 on eth0 is run by carpd pid " + std::to_string(child) +
                                         " (/run/carpd/ucarp-eth0-1.sock)");

  killChild(child);  // SIGKILL: no clean-up ran, the file stays, the lock is gone
  ASSERT_TRUE(std::filesystem::exists(dir_ / std::to_string(kNetns) / "eth0:1"));
  const proto::IpAddress addresses[] = {kAddr2};
  ASSERT_TRUE(claims.claim("eth0", kVhid1, addresses).has_value());
  const std::string now = content("eth0:1");
  EXPECT_EQ(now.rfind("pid " + std::to_string(::getpid()) + "\n", 0), 0u) << now;
  EXPECT_EQ(now.find("2001:db8::1"), std::string::npos) << now;
  EXPECT_EQ(now.find("ucarp"), std::string::npos) << now;
}

TEST_F(VhidClaimsTest, ReleaseAndDestructionFreeTheClaim) {
  auto other = make("/other");
  {
    auto claims = make("/s");
    ASSERT_TRUE(claims.claim("eth0", kVhid1, {}).has_value());
    ASSERT_TRUE(claims.claim("eth0", kVhid2, {}).has_value());
    claims.release("eth0", kVhid1);
    EXPECT_FALSE(std::filesystem::exists(dir_ / std::to_string(kNetns) / "eth0:1"));
    EXPECT_TRUE(other.claim("eth0", kVhid1, {}).has_value());
    EXPECT_FALSE(other.claim("eth0", kVhid2, {}).has_value());
  }
  EXPECT_TRUE(other.claim("eth0", kVhid2, {}).has_value());
}

TEST_F(VhidClaimsTest, DifferentNetworkNamespacesDoNotConflict) {
  auto here = make("/a", kNetns);
  auto there = make("/b", kNetns + 1);
  ASSERT_TRUE(here.claim("eth0", kVhid1, {}).has_value());
  EXPECT_TRUE(there.claim("eth0", kVhid1, {}).has_value());
  auto others = there.othersInUse();
  ASSERT_TRUE(others.has_value());
  EXPECT_FALSE(others->vhid_in_use("eth0", kVhid1));  // here's is in another namespace
}

TEST_F(VhidClaimsTest, FilterReportsOtherLiveClaimsOnly) {
  const pid_t child = claimInChild("/child.sock");  // eth0 vhid 1: kAddr1, kAddr6
  auto claims = make("/s");
  const proto::IpAddress ours[] = {kAddr2};
  ASSERT_TRUE(claims.claim("eth0", kVhid2, ours).has_value());

  auto others = claims.othersInUse();
  ASSERT_TRUE(others.has_value()) << others.error().message;
  EXPECT_TRUE(others->vhid_in_use("eth0", kVhid1));
  EXPECT_TRUE(others->address_in_use(kAddr1));
  EXPECT_TRUE(others->address_in_use(kAddr6));
  EXPECT_FALSE(others->vhid_in_use("eth0", kVhid2));  // ours
  EXPECT_FALSE(others->address_in_use(kAddr2));       // ours
  EXPECT_FALSE(others->vhid_in_use("eth1", kVhid1));

  killChild(child);  // a killed carpd owns nothing: its objects may be swept
  auto after = claims.othersInUse();
  ASSERT_TRUE(after.has_value());
  EXPECT_FALSE(after->vhid_in_use("eth0", kVhid1));
  EXPECT_FALSE(after->address_in_use(kAddr1));
}

TEST_F(VhidClaimsTest, RefusesNamesThatAreNotInterfaceNames) {
  auto claims = make("/s");
  EXPECT_FALSE(claims.claim("../x", kVhid1, {}).has_value());
  EXPECT_FALSE(claims.claim(std::string(1 << 20, 'a'), kVhid1, {}).has_value());
  EXPECT_FALSE(claims.claim("", kVhid1, {}).has_value());
}

TEST_F(VhidClaimsTest, DirectoryThatCannotBeCreatedIsAnError) {
  std::ofstream(dir_ / "file") << "x";
  auto claims = FileVhidClaims::open(dir_ / "file" / "claims", "/s", kNetns);
  EXPECT_FALSE(claims.has_value());
  NoVhidClaims none;  // what the shell then runs with
  EXPECT_TRUE(none.claim("eth0", kVhid1, {}).has_value());
  EXPECT_FALSE(none.othersInUse()->vhid_in_use("eth0", kVhid1));
}

TEST(CurrentNetnsId, IsKnown) { EXPECT_NE(currentNetnsId(), 0u); }

}  // namespace
}  // namespace carp::os::lnx
