// carpctl doctor's assembly over a fake host: which checks run for which VHIDs, the virtual-MAC
// probe's verdicts, the output and the exit status.

#include "cli/doctor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace carp::cli {
namespace {

using ::testing::HasSubstr;

class FakeHost : public DoctorHost {
 public:
  std::map<std::string, std::string> files;
  std::map<std::string, std::string> programs;  // argv[0] -> stdout
  // The targets that answer each source MAC; everything else stays silent.
  std::map<proto::MacAddress, std::vector<std::string>> answers;
  std::vector<proto::MacAddress> probed_from;

  std::optional<std::string> readFile(const std::string& path) override {
    const auto it = files.find(path);
    return it == files.end() ? std::nullopt : std::optional(it->second);
  }
  // The whole command line is looked up first, then the program name.
  std::optional<std::string> run(const std::vector<std::string>& argv) override {
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    auto it = programs.find(line);
    if (it == programs.end()) it = programs.find(argv.at(0));
    return it == programs.end() ? std::nullopt : std::optional(it->second);
  }
  tl::expected<std::vector<std::string>, std::string> arpProbe(
      const std::string&, const proto::MacAddress& mac,
      const std::vector<std::string>& targets) override {
    probed_from.push_back(mac);
    std::vector<std::string> out;
    for (const auto& t : answers[mac]) {
      if (std::find(targets.begin(), targets.end(), t) != targets.end()) out.push_back(t);
    }
    return out;
  }
};

constexpr proto::MacAddress kVmac1 = {0x00, 0x00, 0x5e, 0x00, 0x01, 0x01};
constexpr proto::MacAddress kNic = {0x02, 0x00, 0x00, 0x00, 0x00, 0x11};

class DoctorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* conf : {"all", "eth0"}) {
      const std::string dir = std::string("/proc/sys/net/ipv4/conf/") + conf + "/";
      host_.files[dir + "rp_filter"] = "0\n";
      host_.files[dir + "arp_ignore"] = conf == std::string("eth0") ? "1\n" : "0\n";
      host_.files[dir + "arp_announce"] = conf == std::string("eth0") ? "2\n" : "0\n";
    }
    host_.files["/proc/net/igmp"] =
        "2\teth0      :     2      V3\n\t\t\t\t120000E0     1 0:0\t\t0\n";
    host_.files["/proc/net/arp"] =
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "192.0.2.12       0x1         0x2         02:00:00:00:00:12     *        eth0\n";
    host_.files["/sys/class/net/eth0/address"] = "02:00:00:00:00:11\n";
    host_.programs["nft"] = R"({"nftables": [{"metainfo": {"version": "1.0.6"}}]})";
    control::DoctorVhid v;
    v.interface = "eth0";
    v.vhid = 1;
    v.state = "MASTER";
    v.addresses = {"192.0.2.1/24"};
    v.multicast = true;
    report_.vhids.push_back(v);
  }

  std::vector<Finding> findings(const std::string& check, bool arp_probe = true) {
    std::vector<Finding> out;
    for (auto& f : diagnose(report_, host_, {false, arp_probe})) {
      if (f.check == check) out.push_back(f);
    }
    return out;
  }

  FakeHost host_;
  control::DoctorReport report_;
};

TEST_F(DoctorTest, CleanHostPassesEveryCheck) {
  host_.answers[kVmac1] = {"192.0.2.12"};
  const auto all = diagnose(report_, host_, {});
  for (const auto& f : all) EXPECT_EQ(f.severity, Severity::kOk) << f.check << ": " << f.text;
  std::vector<std::string> checks;
  for (const auto& f : all) checks.push_back(f.check);
  EXPECT_THAT(checks,
              ::testing::UnorderedElementsAre("rp_filter", "arp", "firewall", "multicast", "vmac"));
  std::ostringstream out;
  EXPECT_EQ(printFindings(all, report_, false, out), 0);
  EXPECT_THAT(out.str(), HasSubstr("0 failed, 0 warning(s), 5 ok"));
}

TEST_F(DoctorTest, VirtualMacDroppedWhileTheNicsMacGetsThrough) {
  host_.answers[kNic] = {"192.0.2.12"};
  const auto found = findings("vmac");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].severity, Severity::kFail);
  EXPECT_THAT(found[0].text, HasSubstr("not from the virtual MAC 00:00:5e:00:01:01"));
  EXPECT_EQ(host_.probed_from, (std::vector<proto::MacAddress>{kVmac1, kNic}));
  std::ostringstream out;
  EXPECT_EQ(printFindings(diagnose(report_, host_, {}), report_, false, out), 1);
  EXPECT_THAT(out.str(), HasSubstr("FAIL vmac eth0 vhid 1:"));
  EXPECT_THAT(out.str(), HasSubstr("     fix: "));
}

TEST_F(DoctorTest, NobodyAnsweringAtAllIsOnlyAWarning) {
  const auto found = findings("vmac");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].severity, Severity::kWarn);
}

TEST_F(DoctorTest, ProbesOnlyAMasterWithTheVirtualMacAndAKnownNeighbour) {
  report_.vhids[0].state = "BACKUP";  // a BACKUP must not send from the virtual MAC
  EXPECT_TRUE(findings("vmac").empty());
  report_.vhids[0].state = "MASTER";
  EXPECT_TRUE(findings("vmac", /*arp_probe=*/false).empty());
  report_.vhids[0].vmac = false;
  EXPECT_TRUE(findings("vmac").empty());
  EXPECT_TRUE(findings("arp").empty()) << "arp_ignore matters only with the virtual MAC";
  report_.vhids[0].vmac = true;
  host_.files["/proc/net/arp"] = "IP address HW type Flags HW address Mask Device\n";
  const auto found = findings("vmac");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].severity, Severity::kWarn);
  EXPECT_THAT(found[0].fix, HasSubstr("ping a neighbour"));
  EXPECT_TRUE(host_.probed_from.empty());
}

TEST_F(DoctorTest, MulticastGroupNotJoined) {
  host_.files["/proc/net/igmp"] = "2\teth0      :     1      V3\n\t\t\t\t010000E0     1 0:0\t\t0\n";
  const auto found = findings("multicast");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].severity, Severity::kFail);
  EXPECT_THAT(found[0].text, HasSubstr("224.0.0.18 is not joined"));
  report_.vhids[0].multicast = false;  // a unicast peer: no group to join
  EXPECT_TRUE(findings("multicast").empty());
}

TEST_F(DoctorTest, FirewallFromNftAndLegacyIptables) {
  host_.programs["nft"] =
      R"({"nftables":[{"chain":{"family":"ip","table":"f","name":"in","hook":"input",)"
      R"("policy":"drop"}}]})";
  host_.programs["iptables-legacy-save"] =
      "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p 112 -j REJECT\nCOMMIT\n";
  const auto found = findings("firewall");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].subject, "nft ip f in");
  EXPECT_EQ(found[1].subject, "iptables-legacy -t filter INPUT");
  host_.programs.clear();
  EXPECT_TRUE(findings("firewall").empty()) << "neither tool installed";
  host_.programs["nft --version"] = "nftables v1.0.6 (Lester Gooch #5)\n";
  const auto unreadable = findings("firewall");
  ASSERT_EQ(unreadable.size(), 1u) << "nft installed, its ruleset unreadable";
  EXPECT_EQ(unreadable[0].severity, Severity::kWarn);
  EXPECT_THAT(unreadable[0].fix, HasSubstr("as root"));
}

TEST_F(DoctorTest, JsonHoldsFindingsAndWhatCarpdHeard) {
  host_.answers[kVmac1] = {"192.0.2.12"};
  std::ostringstream out;
  EXPECT_EQ(printFindings(diagnose(report_, host_, {}), report_, true, out), 0);
  const auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["findings"].size(), 5u);
  EXPECT_EQ(j["findings"][0]["severity"], "ok");
  EXPECT_EQ(j["heard"]["vhids"][0]["interface"], "eth0");
}

}  // namespace
}  // namespace carp::cli
