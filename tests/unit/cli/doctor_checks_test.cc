#include "cli/doctor_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace carp::cli {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// `nft -j list ruleset` output for one inet table with an input chain of `policy` and `rules`
// (each a list of expressions), as nft 1.0.6 prints it.
json ruleset(const std::string& policy, const std::vector<json>& rules,
             const std::string& hook = "input") {
  json items = json::array();
  items.push_back({{"metainfo", {{"version", "1.0.6"}, {"json_schema_version", 1}}}});
  items.push_back({{"table", {{"family", "inet"}, {"name", "filter"}, {"handle", 1}}}});
  items.push_back({{"chain",
                    {{"family", "inet"},
                     {"table", "filter"},
                     {"name", "input"},
                     {"handle", 1},
                     {"type", "filter"},
                     {"hook", hook},
                     {"prio", 0},
                     {"policy", policy}}}});
  int handle = 2;
  for (const auto& expr : rules) {
    items.push_back({{"rule",
                      {{"family", "inet"},
                       {"table", "filter"},
                       {"chain", "input"},
                       {"handle", handle++},
                       {"expr", expr}}}});
  }
  return {{"nftables", items}};
}

json match(json left, json right, const std::string& op = "==") {
  return {{"match", {{"op", op}, {"left", left}, {"right", right}}}};
}
const json kIpProtocol = {{"payload", {{"protocol", "ip"}, {"field", "protocol"}}}};
const json kL4proto = {{"meta", {{"key", "l4proto"}}}};
const json kIifname = {{"meta", {{"key", "iifname"}}}};
const json kCtState = {{"ct", {{"key", "state"}}}};
const json kTcpDport = {{"payload", {{"protocol", "tcp"}, {"field", "dport"}}}};
const json kDrop = {{"drop", nullptr}};
const json kAccept = {{"accept", nullptr}};
const json kReject = {{"reject", nullptr}};

TEST(NftAnalysis, RuleDroppingProtocol112IsNamedWithItsHandle) {
  const auto found = analyzeNftRuleset(
      ruleset("accept", {{match(kTcpDport, 22), kAccept}, {match(kIpProtocol, "vrrp"), kDrop}}),
      "eth0");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].severity, Severity::kFail);
  EXPECT_EQ(found[0].subject, "nft inet filter input");
  EXPECT_THAT(found[0].text, HasSubstr("rule handle 3 drops IP protocol 112"));
  EXPECT_THAT(found[0].fix, HasSubstr("nft delete rule inet filter input handle 3"));
  EXPECT_THAT(found[0].fix, HasSubstr("nft insert rule inet filter input meta l4proto 112 accept"));
}

TEST(NftAnalysis, EveryNameAndFormOfTheProtocol) {
  for (const json& right :
       {json(112), json("vrrp"), json("carp"), json{{"set", json::array({"tcp", "vrrp"})}}}) {
    EXPECT_EQ(
        analyzeNftRuleset(ruleset("accept", {{match(kL4proto, right), kReject}}), "eth0").size(),
        1u)
        << right;
  }
  EXPECT_TRUE(
      analyzeNftRuleset(ruleset("accept", {{match(kL4proto, "tcp"), kDrop}}), "eth0").empty());
  EXPECT_TRUE(
      analyzeNftRuleset(ruleset("accept", {{match(kL4proto, "vrrp", "!="), kReject}}), "eth0")
          .empty())
      << "drops everything but CARP";
}

TEST(NftAnalysis, AnAcceptBeforeTheDropLetsItThrough) {
  EXPECT_TRUE(analyzeNftRuleset(ruleset("drop", {{match(kIpProtocol, 112), kAccept},
                                                 {match(kIpProtocol, 112), kDrop}}),
                                "eth0")
                  .empty());
  EXPECT_TRUE(
      analyzeNftRuleset(ruleset("drop", {{match(kIifname, "eth0"), kAccept}}), "eth0").empty())
      << "everything from eth0 is accepted";
}

TEST(NftAnalysis, DropPolicyWithoutAnAcceptFails) {
  // ct state established never holds for multicast advertisements; the accept on another
  // interface does not apply.
  const auto found =
      analyzeNftRuleset(ruleset("drop", {{match(kCtState, "established", "in"), kAccept},
                                         {match(kIifname, "eth1"), kAccept},
                                         {match(kTcpDport, 22), kAccept}}),
                        "eth0");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].text, HasSubstr("policy drop"));
  EXPECT_THAT(found[0].fix, HasSubstr("meta l4proto 112 accept"));
  EXPECT_EQ(analyzeNftRuleset(ruleset("drop", {{match(kIifname, "eth*"), kAccept}}), "eth0").size(),
            0u);
}

TEST(NftAnalysis, UnconditionalDropCountsAndOtherHooksDoNot) {
  EXPECT_EQ(analyzeNftRuleset(ruleset("accept", {{kDrop}}), "eth0").size(), 1u);
  EXPECT_TRUE(analyzeNftRuleset(ruleset("accept", {{match(kTcpDport, 22), kDrop}}), "eth0").empty())
      << "a drop with conditions that are not about protocol 112 is not judged";
  EXPECT_TRUE(analyzeNftRuleset(ruleset("drop", {}, "output"), "eth0").empty());
  EXPECT_TRUE(analyzeNftRuleset(json::object(), "eth0").empty());
}

TEST(IptablesAnalysis, DropRuleAndDropPolicy) {
  const std::string save =
      "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
      "-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -p vrrp -j DROP\nCOMMIT\n";
  const auto found = analyzeIptablesSave(save, "eth0", "iptables-legacy");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].text, HasSubstr("-A INPUT -p vrrp -j DROP"));
  EXPECT_THAT(found[0].fix, HasSubstr("iptables-legacy -t filter -D INPUT -p vrrp -j DROP"));

  const std::string policy = "*filter\n:INPUT DROP [0:0]\n-A INPUT -i eth1 -j ACCEPT\nCOMMIT\n";
  const auto dropped = analyzeIptablesSave(policy, "eth0", "iptables-legacy");
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_THAT(dropped[0].text, HasSubstr("policy DROP"));
  EXPECT_TRUE(analyzeIptablesSave(policy, "eth1", "iptables-legacy").empty());
  EXPECT_TRUE(analyzeIptablesSave("*filter\n:INPUT DROP [0:0]\n-A INPUT -p 112 -j ACCEPT\nCOMMIT\n",
                                  "eth0", "iptables-legacy")
                  .empty());
  EXPECT_TRUE(analyzeIptablesSave("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT ! -p 112 -j DROP\n"
                                  "COMMIT\n",
                                  "eth0", "iptables-legacy")
                  .empty());
}

TEST(Sysctls, StrictRpFilterWarns) {
  EXPECT_EQ(checkRpFilter("eth0", 0, 1).severity, Severity::kWarn);
  EXPECT_EQ(checkRpFilter("eth0", 1, 0).severity, Severity::kWarn) << "the larger applies";
  EXPECT_THAT(checkRpFilter("eth0", 1, 0).fix, HasSubstr("net.ipv4.conf.eth0.rp_filter=2"));
  EXPECT_EQ(checkRpFilter("eth0", 2, 1).severity, Severity::kOk);
  EXPECT_EQ(checkRpFilter("eth0", 0, 0).severity, Severity::kOk);
}

TEST(Sysctls, ArpIgnoreAndAnnounceBelowWhatCarpdSets) {
  EXPECT_EQ(checkArpSysctls("eth0", 0, 1, 0, 2).severity, Severity::kOk);
  EXPECT_EQ(checkArpSysctls("eth0", 1, 0, 2, 0).severity, Severity::kOk);
  const auto reset = checkArpSysctls("eth0", 0, 0, 0, 2);
  EXPECT_EQ(reset.severity, Severity::kWarn);
  EXPECT_THAT(reset.fix, HasSubstr("net.ipv4.conf.eth0.arp_ignore=1"));
  EXPECT_EQ(checkArpSysctls("eth0", 0, 1, 0, 1).severity, Severity::kWarn);
}

TEST(ProcFiles, MulticastMembership) {
  const std::string igmp =
      "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n"
      "1\tlo        :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n"
      "2\teth0      :     2      V3\n\t\t\t\t120000E0     1 0:00000000\t\t0\n"
      "\t\t\t\t010000E0     1 0:00000000\t\t0\n"
      "3\teth1      :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n";
  EXPECT_TRUE(igmpJoined(igmp, "eth0"));
  EXPECT_FALSE(igmpJoined(igmp, "eth1"));
  EXPECT_FALSE(igmpJoined(igmp, "eth2"));
  const std::string igmp6 =
      "1    lo              ff020000000000000000000000000001     1 0000000C 0\n"
      "2    eth0            ff020000000000000000000000000012     1 00000004 0\n"
      "3    eth1            ff020000000000000000000000000001     1 0000000C 0\n";
  EXPECT_TRUE(igmp6Joined(igmp6, "eth0"));
  EXPECT_FALSE(igmp6Joined(igmp6, "eth1"));
}

TEST(ProcFiles, CompleteArpNeighboursOfOneInterface) {
  const std::string arp =
      "IP address       HW type     Flags       HW address            Mask     Device\n"
      "192.0.2.12       0x1         0x2         02:00:00:00:00:12     *        eth0\n"
      "192.0.2.13       0x1         0x0         00:00:00:00:00:00     *        eth0\n"
      "198.51.100.1     0x1         0x2         02:00:00:00:00:99     *        eth1\n";
  EXPECT_EQ(arpNeighbours(arp, "eth0"), std::vector<std::string>{"192.0.2.12"});
  EXPECT_EQ(arpNeighbours(arp, "eth1"), std::vector<std::string>{"198.51.100.1"});
}

control::DoctorVhid vhid1(const std::string& state) {
  control::DoctorVhid v;
  v.interface = "eth0";
  v.vhid = 1;
  v.state = state;
  v.addresses = {"192.0.2.1/24"};
  v.multicast = true;
  return v;
}

TEST(Heard, VrrpRouterWithOurNumber) {
  control::DoctorReport report;
  report.vhids.push_back(vhid1("MASTER"));
  report.vrrp.push_back({"eth0", 2, 3, 100, 100, "192.0.2.14", {}, 0.5, 3});
  EXPECT_TRUE(analyzeHeard(report).empty()) << "another number is no conflict";
  report.vrrp.push_back({"eth0", 1, 2, 150, 1, "192.0.2.13", {"192.0.2.50"}, 0.5, 3});
  const auto found = analyzeHeard(report);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].check, "vrrp");
  EXPECT_EQ(found[0].severity, Severity::kFail);
  EXPECT_THAT(found[0].text, HasSubstr("VRRPv2 router (192.0.2.13, priority 150"));
  EXPECT_THAT(found[0].text, HasSubstr("00:00:5e:00:01:01"));
}

TEST(Heard, BadHmacWithAndWithoutAMatchingSet) {
  control::DoctorReport report;
  report.vhids.push_back(vhid1("MASTER"));
  report.vhids[0].bad_auth = control::DoctorBadAuth{
      "192.0.2.12", 4, 0.5, "", "", "only 192.0.2.1 (as ucarp signs)", {"192.0.2.1"}};
  auto found = analyzeHeard(report);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].severity, Severity::kFail);
  EXPECT_THAT(found[0].text, HasSubstr("the peer signs only 192.0.2.1 (as ucarp signs)"));
  report.vhids[0].bad_auth->matching_set.clear();
  report.vhids[0].bad_auth->age_seconds = 600;
  found = analyzeHeard(report);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].severity, Severity::kWarn) << "ten minutes ago";
  EXPECT_THAT(found[0].fix, HasSubstr("passphrase differs"));
}

TEST(Heard, SecondMaster) {
  control::DoctorReport report;
  report.vhids.push_back(vhid1("BACKUP"));
  // One carpd advertises over both families: not two masters.
  report.vhids[0].peers = {{"192.0.2.11", 1, 0, 0, 0.5, 9}, {"fe80::11", 1, 0, 0, 0.5, 9}};
  EXPECT_TRUE(analyzeHeard(report).empty());
  report.vhids[0].peers.push_back({"192.0.2.13", 1, 50, 0, 0.2, 2});
  ASSERT_EQ(analyzeHeard(report).size(), 1u);
  report.vhids[0].peers.back().age_seconds = 30;
  EXPECT_TRUE(analyzeHeard(report).empty()) << "heard long ago";
  report.vhids[0].state = "MASTER";
  ASSERT_EQ(analyzeHeard(report).size(), 1u);
  EXPECT_THAT(analyzeHeard(report)[0].text, HasSubstr("this host is MASTER and also hears"));
}

}  // namespace
}  // namespace carp::cli
