// The balancing keys of [[vhid]]: `nodes` and `balancing` (carp-wire.md §5.1).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace carp::config {
namespace {

using ::testing::HasSubstr;

LoadResult parse(std::string_view text) { return parseText(text, "lb.toml"); }

std::string joined(const LoadResult& result) {
  std::string out;
  for (const auto& d : result.diagnostics) out += d.toString() + "\n";
  return out;
}

constexpr std::string_view kTwoNodes = R"(
[[vhid]]
interface = "eth0"
nodes = [{vhid = 3, advskew = 100}, {vhid = 1}]
balancing = "ip-stealth"
advbase = 2
pass = "secret"
addresses = ["192.0.2.100/24"]
)";

TEST(BalancingConfig, NodesExpandIntoOneVhidEach) {
  const auto result = parse(kTwoNodes);
  ASSERT_TRUE(result.ok()) << joined(result);
  const auto& vhids = result.config->vhids;
  ASSERT_EQ(vhids.size(), 2U);
  EXPECT_EQ(vhids[0].vhid.value(), 3);
  EXPECT_EQ(vhids[0].advskew.steps(), 100);
  EXPECT_EQ(vhids[1].vhid.value(), 1);
  EXPECT_EQ(vhids[1].advskew.steps(), 0);
  for (const auto& v : vhids) {
    EXPECT_EQ(v.balancing, proto::Balancing::kIpStealth);
    ASSERT_EQ(v.nodes.size(), 2U);
    EXPECT_EQ(v.nodes[0].value(), 3);  // file order
    EXPECT_EQ(v.nodes[1].value(), 1);
    EXPECT_EQ(v.advbase.seconds(), 2);
    EXPECT_FALSE(v.vmac);
    EXPECT_EQ(v.addresses.size(), 1U);
    EXPECT_EQ(v.line, 2);
  }
  EXPECT_TRUE(vhids[0].key.sameAs(vhids[1].key));
}

TEST(BalancingConfig, SeveralNodesDefaultToIpAndOneNodeToNone) {
  auto result = parse(R"(
[[vhid]]
interface = "eth0"
nodes = [{vhid = 1}, {vhid = 2}]
addresses = ["192.0.2.100/24"]
)");
  ASSERT_TRUE(result.ok()) << joined(result);
  EXPECT_EQ(result.config->vhids[0].balancing, proto::Balancing::kIp);

  result = parse(R"(
[[vhid]]
interface = "eth0"
nodes = [{vhid = 4, advskew = 7}]
addresses = ["192.0.2.100/24", "2001:db8::1/64"]
)");
  ASSERT_TRUE(result.ok()) << joined(result);
  ASSERT_EQ(result.config->vhids.size(), 1U);
  EXPECT_EQ(result.config->vhids[0].balancing, proto::Balancing::kNone);
  EXPECT_TRUE(result.config->vhids[0].nodes.empty());
  EXPECT_EQ(result.config->vhids[0].advskew.steps(), 7);
}

void expectError(std::string_view text, const std::string& where, const std::string& what) {
  const auto result = parse(text);
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.config.has_value()) << "nothing half-applied";
  EXPECT_THAT(joined(result), HasSubstr(where));
  EXPECT_THAT(joined(result), HasSubstr(what));
}

TEST(BalancingConfig, BadEntriesAreRefusedWithTheirPosition) {
  expectError(R"([[vhid]]
interface = "eth0"
nodes = [{vhid = 1}, {vhid = 1}]
addresses = ["192.0.2.100/24"]
)",
              "lb.toml:3:30:", "vhid 1 is listed twice in 'nodes'");
  expectError(R"([[vhid]]
interface = "eth0"
nodes = [{vhid = 1}, {vhid = 2}]
addresses = ["192.0.2.100/24", "2001:db8::1/64"]
)",
              "lb.toml:4:32:", "IPv6 addresses cannot be balanced");
  expectError(R"([[vhid]]
interface = "eth0"
nodes = [{vhid = 1}, {vhid = 2}]
balancing = "arp"
addresses = ["192.0.2.100/24"]
)",
              "lb.toml:4:13:", "'balancing' must be one of none, ip, ip-stealth, ip-unicast");
  expectError(R"([[vhid]]
interface = "eth0"
vhid = 1
balancing = "ip"
addresses = ["192.0.2.100/24"]
)",
              "lb.toml:4:13:", "'balancing' needs 'nodes'");
  expectError(R"([[vhid]]
interface = "eth0"
vhid = 1
nodes = [{vhid = 2}, {vhid = 3, advskew = 255}]
advskew = 4
addresses = ["192.0.2.100/24"]
)",
              "lb.toml:3:8: 'vhid' and 'nodes' are both set", "'advskew' must be 0..254");
  expectError(R"([[vhid]]
interface = "eth0"
nodes = [{vhid = 2, skew = 1}, {vhid = 3}]
addresses = ["192.0.2.100/24"]
)",
              "lb.toml:3:21:", "unknown key 'skew' in a node");
  expectError(R"([[vhid]]
interface = "eth0"
nodes = [{vhid = 1}, {vhid = 2}]
balancing = "none"
addresses = ["192.0.2.100/24"]
)",
              "lb.toml:4:13:", "several 'nodes' always balance");
  expectError(R"([[vhid]]
interface = "eth0"
nodes = [{vhid = 1}, {vhid = 2}]
vmac = true
addresses = ["192.0.2.100/24"]
)",
              "lb.toml:4:8:", "'vmac' does not apply to a balancing entry");
}

TEST(BalancingConfig, AtMostThirtyTwoNodes) {
  std::string nodes;
  for (int i = 1; i <= 33; ++i)
    nodes += (i > 1 ? ", " : "") + std::string("{vhid = ") + std::to_string(i) + "}";
  expectError(
      "[[vhid]]\ninterface = \"eth0\"\nnodes = [" + nodes + "]\naddresses = [\"192.0.2.100/24\"]\n",
      "lb.toml:3:9:", "at most 32");
}

TEST(BalancingConfig, NodeVhidsClashWithOtherEntriesOnTheInterface) {
  expectError(R"([[vhid]]
interface = "eth0"
vhid = 2
addresses = ["192.0.2.1/24"]

[[vhid]]
interface = "eth0"
nodes = [{vhid = 1}, {vhid = 2}]
addresses = ["192.0.2.100/24"]
)",
              "lb.toml:6:1:", "vhid 2 on interface 'eth0' is already defined at line 1");
  // Another interface is fine.
  const auto result = parse(R"([[vhid]]
interface = "eth1"
vhid = 2
addresses = ["192.0.2.1/24"]

[[vhid]]
interface = "eth0"
nodes = [{vhid = 1}, {vhid = 2}]
addresses = ["192.0.2.100/24"]
)");
  EXPECT_TRUE(result.ok()) << joined(result);
}

}  // namespace
}  // namespace carp::config
