#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

#include "config/address_text.h"

namespace carp::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

static_assert(!std::is_copy_constructible_v<VhidConfig>, "a VhidConfig holds a key: move-only");
static_assert(std::is_nothrow_move_constructible_v<Config>);

LoadResult parse(std::string_view text) { return parseText(text, "test.toml"); }

std::vector<std::string> texts(const LoadResult& result) {
  std::vector<std::string> out;
  for (const auto& d : result.diagnostics) out.push_back(d.toString());
  return out;
}

std::string joined(const LoadResult& result) {
  std::string out;
  for (const auto& d : result.diagnostics) out += d.toString() + "\n";
  return out;
}

// A valid [[vhid]] body after its header, to which a test adds or replaces keys.
constexpr std::string_view kHeader = "[[vhid]]\n";

std::string vhid(std::string_view body) { return std::string(kHeader) + std::string(body); }

constexpr std::string_view kProductExample = R"([global]
preempt = false                      # like sysctl net.inet.carp.preempt
control_socket = "/run/carpd/carpd.sock"
state_dir = "/var/lib/carpd"         # where persistent state (maintenance mode) is kept
log_level = "info"

[[vhid]]
interface = "eth0"                   # the parent interface
vhid = 1                             # 1..255
advbase = 1                          # seconds, 0..255 (0 = OpenBSD sub-second mode)
advskew = 0                          # 0..254
pass = "secret"                      # or pass_file = "/etc/carpd/vhid1.pass"
addresses = ["192.0.2.1/24", "2001:db8::1/64"]
# peer = "198.51.100.130"            # unicast advertisements to this IPv4 peer instead of 224.0.0.18
# peer6 = "2001:db8:2::2"            # unicast advertisements to this IPv6 peer instead of ff02::12
# groups = ["carp", "internal"]      # demotion groups this VHID belongs to; "carp" always
# vmac = true                        # send as 00:00:5e:00:01:VHID (default); false = the NIC's own MAC,
                                     # for hypervisors that drop forged source MACs
)";

TEST(ConfigTest, ProductExampleIsValid) {
  const LoadResult result = parse(kProductExample);
  ASSERT_TRUE(result.ok()) << joined(result);
  EXPECT_THAT(result.diagnostics, IsEmpty());
  const Config& config = *result.config;
  EXPECT_FALSE(config.global.preempt);
  EXPECT_EQ(config.global.control_socket, "/run/carpd/carpd.sock");
  EXPECT_EQ(config.global.state_dir, "/var/lib/carpd");
  EXPECT_EQ(config.global.log_level, "info");
  ASSERT_EQ(config.vhids.size(), 1u);
  const VhidConfig& v = config.vhids[0];
  EXPECT_EQ(v.interface, "eth0");
  EXPECT_EQ(v.vhid.value(), 1);
  EXPECT_EQ(v.advbase.seconds(), 1);
  EXPECT_EQ(v.advskew.steps(), 0);
  EXPECT_TRUE(v.key.sameAs(proto::SecretKey::fromPassphrase("secret")));
  EXPECT_THAT(formatAddresses(v.addresses), ElementsAre("192.0.2.1/24", "2001:db8::1/64"));
  EXPECT_FALSE(v.peer);
  EXPECT_FALSE(v.peer6);
  EXPECT_THAT(v.groups, ElementsAre("carp"));
  EXPECT_TRUE(v.vmac);
  EXPECT_EQ(v.line, 7);
}

TEST(ConfigTest, VhidConfigEqualityComparesEveryFieldButLine) {
  LoadResult a = parse(kProductExample);
  LoadResult b = parse(kProductExample);
  ASSERT_TRUE(a.ok() && b.ok());
  VhidConfig& x = a.config->vhids[0];
  VhidConfig& y = b.config->vhids[0];
  EXPECT_TRUE(x == y);
  y.line = 99;
  EXPECT_TRUE(x == y);
  y.advskew = *proto::AdvSkew::make(1);
  EXPECT_FALSE(x == y);
  y.advskew = x.advskew;
  y.key = proto::SecretKey::fromPassphrase("other");
  EXPECT_FALSE(x == y);
  y.key = proto::SecretKey::fromPassphrase("secret");
  EXPECT_TRUE(x == y);
  y.manage_addresses = false;
  EXPECT_FALSE(x == y);
}

TEST(ConfigTest, EveryOptionalKeySet) {
  const LoadResult result = parse(R"([global]
preempt = true
control_socket = "/tmp/c.sock"
state_dir = "/tmp/state"
log_level = "trace"

[[vhid]]
interface = "enp1s0.100"
vhid = 255
advbase = 0
advskew = 254
pass = "s"
addresses = ["198.51.100.7/32", "fe80::1/64", "2001:db8::7/128"]
peer = "198.51.100.130"
peer6 = "2001:db8:2::2"
groups = ["internal", "carp", "uplink"]
vmac = false
demotion_in_advskew = true
hmac_link_local = true
)");
  ASSERT_TRUE(result.ok()) << joined(result);
  const Config& config = *result.config;
  EXPECT_TRUE(config.global.preempt);
  EXPECT_EQ(config.global.control_socket, "/tmp/c.sock");
  EXPECT_EQ(config.global.state_dir, "/tmp/state");
  EXPECT_EQ(config.global.log_level, "trace");
  const VhidConfig& v = config.vhids.at(0);
  EXPECT_EQ(v.interface, "enp1s0.100");
  EXPECT_EQ(v.vhid.value(), 255);
  EXPECT_EQ(v.advbase.seconds(), 0);
  EXPECT_EQ(v.advskew.steps(), 254);
  EXPECT_THAT(formatAddresses(v.addresses),
              ElementsAre("198.51.100.7/32", "fe80::1/64", "2001:db8::7/128"));
  ASSERT_TRUE(v.peer);
  EXPECT_EQ(formatAddress(*v.peer), "198.51.100.130");
  ASSERT_TRUE(v.peer6);
  EXPECT_EQ(formatAddress(*v.peer6), "2001:db8:2::2");
  EXPECT_THAT(v.groups, ElementsAre("carp", "internal", "uplink"));
  EXPECT_FALSE(v.vmac);
  EXPECT_TRUE(v.demotion_in_advskew);
  EXPECT_TRUE(v.hmac_link_local);
}

TEST(ConfigTest, DefaultsAndEmptyKeyWarning) {
  const LoadResult result =
      parse(vhid("interface = \"eth0\"\nvhid = 3\naddresses = [\"10.0.0.1/8\"]\n"));
  ASSERT_TRUE(result.ok()) << joined(result);
  EXPECT_THAT(texts(result),
              ElementsAre("test.toml:1:1: warning: no 'pass' or 'pass_file': authentication uses "
                          "the empty key, which anyone can forge"));
  const Config& config = *result.config;
  EXPECT_FALSE(config.global.preempt);
  EXPECT_EQ(config.global.control_socket, "/run/carpd/carpd.sock");
  EXPECT_EQ(config.global.state_dir, "/var/lib/carpd");
  EXPECT_EQ(config.global.log_level, "info");
  const VhidConfig& v = config.vhids.at(0);
  EXPECT_EQ(v.advbase.seconds(), 1);
  EXPECT_EQ(v.advskew.steps(), 0);
  EXPECT_TRUE(v.key.sameAs(proto::SecretKey::empty()));
  EXPECT_THAT(v.groups, ElementsAre("carp"));
  EXPECT_TRUE(v.vmac);
  EXPECT_FALSE(v.demotion_in_advskew);
  EXPECT_FALSE(v.hmac_link_local);
}

TEST(ConfigTest, NoVhidIsOnlyAWarning) {
  const LoadResult result = parse("[global]\npreempt = true\n");
  EXPECT_TRUE(result.ok());
  EXPECT_THAT(texts(result),
              ElementsAre("test.toml:1:1: warning: no [[vhid]] table: carpd has nothing to do"));
}

TEST(ConfigTest, HookCapabilities) {
  EXPECT_FALSE(parse("[global]\n").config->global.hook_capabilities);
  EXPECT_TRUE(parse("[global]\nhook_capabilities = true\n").config->global.hook_capabilities);
  EXPECT_FALSE(parse("[global]\nhook_capabilities = false\n").config->global.hook_capabilities);
  const LoadResult bad = parse("[global]\nhook_capabilities = \"yes\"\n");
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(joined(bad), HasSubstr("test.toml:2:21"));
  EXPECT_THAT(joined(bad), HasSubstr("hook_capabilities"));
  // A TOML file never turns ucarp's scripts on, nor leaves the addresses to hooks.
  const LoadResult one = parse(
      "[[vhid]]\ninterface = \"eth0\"\nvhid = 1\npass = \"x\"\naddresses = [\"192.0.2.1/24\"]\n");
  ASSERT_TRUE(one.ok()) << joined(one);
  EXPECT_FALSE(one.config->global.ucarp);
  EXPECT_TRUE(one.config->vhids[0].manage_addresses);
}

// One [[vhid]] with `line` as its 4th line; returns the diagnostics as text.
std::vector<std::string> withLine(std::string_view line) {
  return texts(parse(vhid("interface = \"eth0\"\nvhid = 1\naddresses = [\"10.0.0.1/8\"]\n" +
                          std::string(line) + "\npass = \"x\"\n")));
}

TEST(ConfigTest, RangeEdges) {
  const auto range_ok = [](std::string_view key, int value) {
    std::string body = "interface = \"eth0\"\naddresses = [\"10.0.0.1/8\"]\npass = \"x\"\n";
    if (key != "vhid") body += "vhid = 1\n";
    body += std::string(key) + " = " + std::to_string(value) + "\n";
    const LoadResult result = parse(vhid(body));
    return result.ok() && result.diagnostics.empty();
  };
  EXPECT_TRUE(range_ok("vhid", 1));
  EXPECT_TRUE(range_ok("vhid", 255));
  EXPECT_FALSE(range_ok("vhid", 0));
  EXPECT_FALSE(range_ok("vhid", 256));
  EXPECT_TRUE(range_ok("advbase", 0));
  EXPECT_TRUE(range_ok("advbase", 255));
  EXPECT_FALSE(range_ok("advbase", -1));
  EXPECT_FALSE(range_ok("advbase", 256));
  EXPECT_TRUE(range_ok("advskew", 0));
  EXPECT_TRUE(range_ok("advskew", 254));
  EXPECT_FALSE(range_ok("advskew", -1));
  EXPECT_FALSE(range_ok("advskew", 255));
}

TEST(ConfigTest, ValueErrorsPointAtTheValue) {
  EXPECT_THAT(withLine("advbase = 256"),
              ElementsAre("test.toml:5:11: 'advbase' must be 0..255, not 256"));
  EXPECT_THAT(withLine("advskew = 255"),
              ElementsAre("test.toml:5:11: 'advskew' must be 0..254, not 255"));
  EXPECT_THAT(withLine("advskew = -1"),
              ElementsAre("test.toml:5:11: 'advskew' must be 0..254, not -1"));
  EXPECT_THAT(withLine("advbase = \"1\""),
              ElementsAre("test.toml:5:11: 'advbase' must be an integer, not a string"));
  EXPECT_THAT(withLine("advbase = 1.5"),
              ElementsAre("test.toml:5:11: 'advbase' must be an integer, not a float"));
  EXPECT_THAT(withLine("vmac = 1"),
              ElementsAre("test.toml:5:8: 'vmac' must be true or false, not an integer"));
  EXPECT_THAT(withLine("peer = \"2001:db8::1\""),
              ElementsAre("test.toml:5:8: 'peer' must be an IPv4 address, not '2001:db8::1'"));
  EXPECT_THAT(withLine("peer = \"224.0.0.18\""),
              ElementsAre("test.toml:5:8: 'peer' 224.0.0.18 is a multicast address"));
  EXPECT_THAT(withLine("peer6 = \"192.0.2.1\""),
              ElementsAre("test.toml:5:9: 'peer6' must be an IPv6 address, not '192.0.2.1'"));
  EXPECT_THAT(withLine("peer6 = \"ff02::12\""),
              ElementsAre("test.toml:5:9: 'peer6' ff02::12 is a multicast address"));
  EXPECT_THAT(withLine("peer6 = \"::1\""),
              ElementsAre("test.toml:5:9: 'peer6' ::1 is a loopback address"));
  EXPECT_THAT(withLine("groups = \"internal\""),
              ElementsAre("test.toml:5:10: 'groups' must be an array of names, not a string"));
  EXPECT_THAT(withLine("groups = [\"internal\", 3]"),
              ElementsAre("test.toml:5:23: a group must be a string, not an integer"));
  EXPECT_THAT(withLine("groups = [\"a b\"]"),
              ElementsAre("test.toml:5:11: bad group name 'a b': 1..15 printable characters, no "
                          "spaces"));
  EXPECT_THAT(withLine("groups = [\"x\", \"x\"]"),
              ElementsAre("test.toml:5:16: group 'x' is listed twice"));
  EXPECT_THAT(withLine("master_down = \"netbsd\""),
              ElementsAre("test.toml:5:15: 'master_down' must be \"openbsd\" or \"freebsd\", not "
                          "'netbsd'"));
  EXPECT_THAT(withLine("advbase = 0\nmaster_down = \"freebsd\""),
              ElementsAre("test.toml:6:15: 'master_down = \"freebsd\"' needs advbase 1 or more: "
                          "FreeBSD has no sub-second mode"));
}

TEST(ConfigTest, MasterDownFormulaDefaultsToOpenBsd) {
  const auto formula = [](std::string_view line) {
    const LoadResult result =
        parse(vhid("interface = \"eth0\"\nvhid = 1\naddresses = [\"10.0.0.1/8\"]\npass = \"x\"\n" +
                   std::string(line)));
    EXPECT_TRUE(result.ok()) << joined(result);
    return result.config->vhids.at(0).master_down;
  };
  EXPECT_EQ(formula(""), proto::MasterDownFormula::kOpenBsd);
  EXPECT_EQ(formula("master_down = \"openbsd\""), proto::MasterDownFormula::kOpenBsd);
  EXPECT_EQ(formula("master_down = \"freebsd\""), proto::MasterDownFormula::kFreeBsd);
}

TEST(ConfigTest, VhidAndInterfaceErrors) {
  EXPECT_THAT(texts(parse(vhid("interface = \"eth0\"\nvhid = 0\naddresses = [\"10.0.0.1/8\"]\n"
                               "pass = \"x\"\n"))),
              ElementsAre("test.toml:3:8: 'vhid' must be 1..255, not 0"));
  EXPECT_THAT(texts(parse(vhid("interface = \"eth0\"\nvhid = 256\naddresses = [\"10.0.0.1/8\"]\n"
                               "pass = \"x\"\n"))),
              ElementsAre("test.toml:3:8: 'vhid' must be 1..255, not 256"));
  EXPECT_THAT(texts(parse(vhid("interface = \"eth0/1\"\nvhid = 1\naddresses = [\"10.0.0.1/8\"]\n"
                               "pass = \"x\"\n"))),
              ElementsAre("test.toml:2:13: 'eth0/1' is not a valid interface name (1..15 "
                          "characters, no '/', ':' or whitespace)"));
  EXPECT_THAT(texts(parse(vhid("interface = \"abcdefghijklmnop\"\nvhid = 1\n"
                               "addresses = [\"10.0.0.1/8\"]\npass = \"x\"\n"))),
              ElementsAre(HasSubstr("test.toml:2:13: 'abcdefghijklmnop' is not a valid")));
  EXPECT_TRUE(parse(vhid("interface = \"abcdefghijklmno\"\nvhid = 1\n"
                         "addresses = [\"10.0.0.1/8\"]\npass = \"x\"\n"))
                  .ok());
  EXPECT_THAT(texts(parse(vhid("interface = \"\"\nvhid = 1\naddresses = [\"10.0.0.1/8\"]\n"
                               "pass = \"x\"\n"))),
              ElementsAre(HasSubstr("test.toml:2:13: '' is not a valid interface name")));
  EXPECT_THAT(texts(parse(vhid("interface = 7\nvhid = 1\naddresses = [\"10.0.0.1/8\"]\n"
                               "pass = \"x\"\n"))),
              ElementsAre("test.toml:2:13: 'interface' must be a string, not an integer"));
}

TEST(ConfigTest, MissingKeysPointAtTheTableHeader) {
  const LoadResult result = parse("[global]\npreempt = true\n\n  [[vhid]]\nadvskew = 3\n");
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(texts(result), ElementsAre("test.toml:4:3: [[vhid]] is missing 'interface'",
                                         "test.toml:4:3: [[vhid]] is missing 'vhid'",
                                         "test.toml:4:3: warning: no 'pass' or 'pass_file': "
                                         "authentication uses the empty key, which anyone can "
                                         "forge",
                                         "test.toml:4:3: [[vhid]] is missing 'addresses'"));
}

TEST(ConfigTest, UnknownKeysPointAtTheKey) {
  EXPECT_THAT(withLine("advsew = 3"),
              ElementsAre("test.toml:5:1: unknown key 'advsew' in [[vhid]]; did you mean "
                          "'advskew'?"));
  EXPECT_THAT(withLine("  colour = 3"), ElementsAre("test.toml:5:3: unknown key 'colour' in "
                                                    "[[vhid]]"));
  EXPECT_THAT(texts(parse("[global]\npremept = true\n")),
              ElementsAre("test.toml:1:1: warning: no [[vhid]] table: carpd has nothing to do",
                          "test.toml:2:1: unknown key 'premept' in [global]; did you mean "
                          "'preempt'?"));
  EXPECT_THAT(texts(parse("[globl]\n[[vhid]]\ninterface = \"eth0\"\nvhid = 1\n"
                          "addresses = [\"10.0.0.1/8\"]\npass = \"x\"\n")),
              ElementsAre("test.toml:1:2: unknown key 'globl'; did you mean 'global'?"));
  // A sub-table of a [[vhid]] is a key of it.
  EXPECT_THAT(texts(parse(vhid("interface = \"eth0\"\nvhid = 1\naddresses = [\"10.0.0.1/8\"]\n"
                               "pass = \"x\"\n[vhid.extra]\nx = 1\n"))),
              ElementsAre("test.toml:6:7: unknown key 'extra' in [[vhid]]"));
}

TEST(ConfigTest, WrongTableShapes) {
  EXPECT_THAT(texts(parse("global = 3\n[[vhid]]\ninterface = \"eth0\"\nvhid = 1\n"
                          "addresses = [\"10.0.0.1/8\"]\npass = \"x\"\n")),
              ElementsAre("test.toml:1:10: 'global' must be a table ([global]), not an integer"));
  EXPECT_THAT(texts(parse("[vhid]\ninterface = \"eth0\"\n")),
              ElementsAre("test.toml:1:1: 'vhid' must be an array of tables ([[vhid]])"));
}

TEST(ConfigTest, GlobalValues) {
  EXPECT_THAT(texts(parse("[global]\nlog_level = \"verbose\"\n")),
              ElementsAre(HasSubstr("warning: no [[vhid]]"),
                          "test.toml:2:13: 'log_level' must be one of trace, debug, info, warn, "
                          "error, not 'verbose'"));
  for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
    const auto result = parse(std::string("[global]\nlog_level = \"") + level + "\"\n");
    EXPECT_TRUE(result.ok()) << level;
    EXPECT_EQ(result.config->global.log_level, level);
  }
  EXPECT_THAT(texts(parse("[global]\ncontrol_socket = \"carpd.sock\"\n")),
              ElementsAre(HasSubstr("warning"),
                          "test.toml:2:18: 'control_socket' must be an absolute path"));
  EXPECT_THAT(texts(parse("[global]\ncontrol_socket = \"/" + std::string(107, 'a') + "\"\n")),
              ElementsAre(HasSubstr("warning"),
                          "test.toml:2:18: 'control_socket' is longer than 107 bytes"));
  EXPECT_THAT(
      texts(parse("[global]\nstate_dir = \"var\"\npreempt = \"yes\"\n")),
      ElementsAre(HasSubstr("warning"), "test.toml:2:13: 'state_dir' must be an absolute path",
                  "test.toml:3:11: 'preempt' must be true or false, not a string"));
}

TEST(ConfigTest, AddressErrors) {
  const auto address = [](std::string_view list) {
    return texts(parse(vhid(
        "interface = \"eth0\"\nvhid = 1\npass = \"x\"\naddresses = " + std::string(list) + "\n")));
  };
  EXPECT_THAT(address("[\"10.0.0.1\"]"),
              ElementsAre("test.toml:5:14: bad address '10.0.0.1' has no prefix length (write "
                          "ADDR/PREFIX)"));
  EXPECT_THAT(address("[\"10.0.0.256/8\"]"),
              ElementsAre("test.toml:5:14: bad address '10.0.0.256/8' is not an IPv4 or IPv6 "
                          "address"));
  EXPECT_THAT(address("[\"10.0.0.1/33\"]"),
              ElementsAre("test.toml:5:14: bad address '10.0.0.1/33': prefix length must be "
                          "1..32 for IPv4"));
  EXPECT_THAT(address("[\"10.0.0.1/0\"]"), ElementsAre(HasSubstr("must be 1..32 for IPv4")));
  EXPECT_THAT(address("[\"2001:db8::1/129\"]"),
              ElementsAre("test.toml:5:14: bad address '2001:db8::1/129': prefix length must "
                          "be 1..128 for IPv6"));
  EXPECT_THAT(address("[\"2001:db8::1/0\"]"), ElementsAre(HasSubstr("1..128 for IPv6")));
  EXPECT_THAT(address("[\"224.0.0.1/24\"]"),
              ElementsAre("test.toml:5:14: bad address '224.0.0.1/24': 224.0.0.1 is a "
                          "multicast address"));
  EXPECT_THAT(address("[\"127.0.0.2/8\"]"), ElementsAre(HasSubstr("is a loopback address")));
  EXPECT_THAT(address("[\"0.0.0.0/8\"]"), ElementsAre(HasSubstr("is the unspecified address")));
  EXPECT_THAT(address("[\"::/64\"]"), ElementsAre(HasSubstr(":: is the unspecified address")));
  EXPECT_THAT(address("[\"::1/128\"]"), ElementsAre(HasSubstr("::1 is a loopback address")));
  EXPECT_THAT(address("[\"ff02::1/64\"]"), ElementsAre(HasSubstr("is a multicast address")));
  EXPECT_THAT(address("[\"10.0.0.1/8\", \"10.0.0.1/16\"]"),
              ElementsAre("test.toml:5:28: address 10.0.0.1 is listed twice in this [[vhid]]"));
  EXPECT_THAT(address("[\"2001:db8::1/64\", \"2001:DB8:0::1/64\"]"),
              ElementsAre(HasSubstr("address 2001:db8::1 is listed twice")));
  EXPECT_THAT(address("[]"), ElementsAre("test.toml:5:13: 'addresses' must be a non-empty array "
                                         "of \"ADDR/PREFIX\" strings, not an empty array"));
  EXPECT_THAT(address("\"10.0.0.1/8\""),
              ElementsAre("test.toml:5:13: 'addresses' must be a non-empty array of "
                          "\"ADDR/PREFIX\" strings, not a string"));
  EXPECT_THAT(address("[\"10.0.0.1/8\", 5]"),
              ElementsAre("test.toml:5:28: an address must be a string \"ADDR/PREFIX\", not an "
                          "integer"));
  // Host bits set: it is an interface address, not a network.
  EXPECT_THAT(address("[\"10.1.2.3/8\", \"2001:db8::abcd/48\"]"), IsEmpty());
}

TEST(ConfigTest, DuplicateVhidOnOneInterfacePointsAtTheSecond) {
  const LoadResult result = parse(R"([[vhid]]
interface = "eth0"
vhid = 1
pass = "x"
addresses = ["10.0.0.1/8"]

[[vhid]]
interface = "eth1"
vhid = 1
pass = "x"
addresses = ["10.1.0.1/16"]

[[vhid]]
interface = "eth0"
vhid = 1
pass = "x"
addresses = ["10.0.0.2/8"]
)");
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(texts(result),
              ElementsAre("test.toml:13:1: vhid 1 on interface 'eth0' is already defined at line "
                          "1"));
}

TEST(ConfigTest, SameVhidOnDifferentInterfacesIsFine) {
  const LoadResult result = parse(R"([[vhid]]
interface = "eth0"
vhid = 7
pass = "x"
addresses = ["10.0.0.1/8"]
[[vhid]]
interface = "eth1"
vhid = 7
pass = "x"
addresses = ["10.1.0.1/16"]
)");
  ASSERT_TRUE(result.ok()) << joined(result);
  ASSERT_EQ(result.config->vhids.size(), 2u);
  EXPECT_EQ(result.config->vhids[1].line, 6);
}

TEST(ConfigTest, AddressInTwoVhids) {
  const auto two = [](std::string_view second_interface) {
    return texts(
        parse("[[vhid]]\ninterface = \"eth0\"\nvhid = 1\npass = \"x\"\n"
              "addresses = [\"10.0.0.1/8\"]\n[[vhid]]\ninterface = \"" +
              std::string(second_interface) +
              "\"\nvhid = 2\npass = \"x\"\naddresses = [\"10.0.0.1/8\"]\n"));
  };
  EXPECT_THAT(two("eth0"),
              ElementsAre("test.toml:10:14: address 10.0.0.1 is also in vhid 1 on 'eth0' (line "
                          "1)"));
  EXPECT_THAT(two("eth1"), ElementsAre("test.toml:10:14: warning: address 10.0.0.1 is also in "
                                       "vhid 1 on 'eth0' (line 1)"));
}

TEST(ConfigTest, PassAndPassFileTogether) {
  EXPECT_THAT(withLine("pass_file = \"/nonexistent\""),
              ElementsAre("test.toml:5:13: 'pass' and 'pass_file' are both set; use one of them"));
}

TEST(ConfigTest, LongPassphraseWarns) {
  const std::string nineteen = "abcdefghijklmnopqrs";
  auto result =
      parse(vhid("interface = \"eth0\"\nvhid = 1\naddresses = [\"10.0.0.1/8\"]\n"
                 "pass = \"" +
                 nineteen + "\"\n"));
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(result.diagnostics, IsEmpty());

  result = parse(vhid("interface = \"eth0\"\nvhid = 1\naddresses = [\"10.0.0.1/8\"]\npass = \"" +
                      nineteen + "tuvwxyz\"\n"));
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(texts(result),
              ElementsAre("test.toml:5:8: warning: passphrase is longer than 19 bytes; only the "
                          "first 19 are used (BSD ifconfig strlcpy)"));
  EXPECT_TRUE(result.config->vhids[0].key.sameAs(proto::SecretKey::fromPassphrase(nineteen)));
}

TEST(ConfigTest, PassMustBeAStringWithoutNul) {
  EXPECT_THAT(texts(parse(vhid("interface = \"eth0\"\nvhid = 1\naddresses = [\"10.0.0.1/8\"]\n"
                               "pass = 12345\n"))),
              ElementsAre("test.toml:5:8: 'pass' must be a string, not an integer"));
  EXPECT_THAT(texts(parse(vhid("interface = \"eth0\"\nvhid = 1\naddresses = [\"10.0.0.1/8\"]\n"
                               "pass = \"ab\\u0000cd\"\n"))),
              ElementsAre("test.toml:5:8: the passphrase contains a NUL byte"));
}

TEST(ConfigTest, SyntaxErrorsUseTheParserPosition) {
  EXPECT_THAT(texts(parse("[global]\npreempt = tru\n")),
              ElementsAre("test.toml:2:14: Error while parsing boolean: expected 'true', saw "
                          "'tru\\n'"));
  const auto result = parse("[[vhid]]\ninterface = \"eth0\nvhid = 1\n");
  EXPECT_FALSE(result.ok());
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].line, 2);
  EXPECT_FALSE(result.config);
  EXPECT_THAT(texts(parse("vhid = 1\nvhid = 2\n")), ElementsAre(HasSubstr("test.toml:2:")));
}

TEST(ConfigTest, MultipleErrorsAreReportedTogether) {
  const LoadResult result = parse(R"([global]
log_level = "loud"
[[vhid]]
interface = "eth0"
vhid = 300
advskew = 255
pass = "x"
addresses = ["10.0.0.1/8", "10.0.0.300/8"]
colour = "blue"
[[vhid]]
interface = "eth1"
vhid = 2
addresses = ["10.0.0.2"]
pass = "y"
)");
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.config);
  EXPECT_THAT(texts(result),
              ElementsAre(HasSubstr("test.toml:2:13: 'log_level'"),
                          "test.toml:5:8: 'vhid' must be 1..255, not 300",
                          "test.toml:6:11: 'advskew' must be 0..254, not 255",
                          HasSubstr("test.toml:8:28: bad address '10.0.0.300/8'"),
                          HasSubstr("test.toml:9:1: unknown key 'colour'"),
                          HasSubstr("test.toml:13:14: bad address '10.0.0.2' has no prefix")));
}

TEST(ConfigTest, DiagnosticToString) {
  EXPECT_EQ((Diagnostic{"a.toml", 3, 7, "bad", false}).toString(), "a.toml:3:7: bad");
  EXPECT_EQ((Diagnostic{"a.toml", 3, 7, "meh", true}).toString(), "a.toml:3:7: warning: meh");
}

TEST(ConfigTest, InterfaceNames) {
  EXPECT_TRUE(isValidInterfaceName("eth0"));
  EXPECT_TRUE(isValidInterfaceName("br-lan.100"));
  EXPECT_TRUE(isValidInterfaceName(std::string(15, 'x')));
  EXPECT_FALSE(isValidInterfaceName(std::string(16, 'x')));
  EXPECT_FALSE(isValidInterfaceName(""));
  EXPECT_FALSE(isValidInterfaceName("."));
  EXPECT_FALSE(isValidInterfaceName(".."));
  EXPECT_FALSE(isValidInterfaceName("eth 0"));
  EXPECT_FALSE(isValidInterfaceName("eth0:1"));
  EXPECT_FALSE(isValidInterfaceName("a/b"));
  EXPECT_FALSE(isValidInterfaceName(std::string_view("a\0b", 3)));
}

// The passphrase must not leak through any diagnostic, whatever is wrong around it.
TEST(ConfigTest, PassphraseNeverInADiagnostic) {
  const std::string secret = "Hunter2Secret";
  const std::string digits = "918273645546372819283746";
  const std::vector<std::string> bodies = {
      "pass = \"" + secret + "\"\npass = \"" + secret + "\"\n",
      "pass = " + secret + "\n",
      "pass = \"" + secret + "\n",
      "pass = '''" + secret + "\n",
      "pass = \"" + secret + "\\q\"\n",
      "pass = " + digits + "\n",
      "pass = 0x" + digits + "g\n",
      "pass = t" + secret + "\n",
      "pass = " + digits + "\n",
      "pass = [\"" + secret + "\"]\n",
      "pass = {x = \"" + secret + "\"}\n",
      "pass = \"" + secret + secret + "\"\n",
      "pass = \"" + secret + "\"\nvhid = 999\npass_file = \"" + "/x\"\n",
      "vhid = [{ interface = \"eth0\", pass = " + digits + " }]\n",
      "pass = \"\"\"\nab = c\n" + secret + "\\q\"\"\"\n",
      "pass = \"\"\"\nx = 1\n" + secret + "\n[global]\n",
  };
  for (const std::string& body : bodies) {
    const LoadResult result =
        parse("[[vhid]]\ninterface = \"eth0\"\naddresses = [\"10.0.0.1/8\"]\n" + body);
    ASSERT_FALSE(result.diagnostics.empty()) << body;
    for (const Diagnostic& d : result.diagnostics) {
      EXPECT_THAT(d.toString(), ::testing::Not(HasSubstr(secret))) << body;
      EXPECT_THAT(d.toString(), ::testing::Not(HasSubstr(digits.substr(0, 8)))) << body;
      EXPECT_THAT(d.toString(), ::testing::Not(HasSubstr("Hunter"))) << body;
    }
  }
}

// Parser messages quote text only where it cannot be the passphrase.
TEST(ConfigTest, ParserQuotesAreRedactedOnlyAroundPass) {
  EXPECT_THAT(texts(parse("[global]\nx = 918273645546372819283746\n")),
              ElementsAre("test.toml:2:29: Error while parsing decimal integer: "
                          "'918273645546372819283746' is not representable in 64 bits"));
  EXPECT_THAT(texts(parse("[[vhid]]\npass = 918273645546372819283746\n")),
              ElementsAre("test.toml:2:32: Error while parsing decimal integer: (not shown) is "
                          "not representable in 64 bits"));
  // A line inside a multi-line pass string that looks like a statement of its own.
  EXPECT_THAT(texts(parse("[[vhid]]\npass = \"\"\"\nab = c\nd\\q\"\"\"\n")),
              ElementsAre("test.toml:4:3: Error while parsing string: unknown escape sequence "
                          "(not shown)"));
  // Key names stay.
  EXPECT_THAT(texts(parse("[[vhid]]\npass = \"a\"\npass = \"b\"\n")),
              ElementsAre("test.toml:3:8: Error while parsing key-value pair: cannot redefine "
                          "existing string 'pass'"));
}

// pass_file tests work in a private temporary directory.
class PassFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "carpd-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& name, std::string_view content, mode_t mode) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }

  std::string config(std::string_view pass_file) const {
    return vhid("interface = \"eth0\"\nvhid = 1\naddresses = [\"10.0.0.1/8\"]\npass_file = \"" +
                std::string(pass_file) + "\"\n");
  }

  LoadResult load(std::string_view pass_file) {
    return parseText(config(pass_file), (dir_ / "carpd.toml").string());
  }

  std::filesystem::path dir_;
};

TEST_F(PassFileTest, ReadsThePassphraseWithoutTheTrailingNewline) {
  write("lf.pass", "s3cret\n", 0600);
  write("crlf.pass", "s3cret\r\n", 0400);
  write("bare.pass", "s3cret", 0600);
  write("two.pass", "s3cret\n\n", 0600);
  for (const char* name : {"lf.pass", "crlf.pass", "bare.pass"}) {
    const LoadResult result = load((dir_ / name).string());
    ASSERT_TRUE(result.ok()) << name << joined(result);
    EXPECT_THAT(result.diagnostics, IsEmpty());
    EXPECT_TRUE(result.config->vhids[0].key.sameAs(proto::SecretKey::fromPassphrase("s3cret")))
        << name;
  }
  // Only one newline is stripped: the second is part of the passphrase.
  const LoadResult two = load((dir_ / "two.pass").string());
  ASSERT_TRUE(two.ok());
  EXPECT_TRUE(two.config->vhids[0].key.sameAs(proto::SecretKey::fromPassphrase("s3cret\n")));
}

TEST_F(PassFileTest, RelativePathIsRelativeToTheConfigFile) {
  std::filesystem::create_directory(dir_ / "keys");
  write("keys/v1.pass", "relative\n", 0600);
  const LoadResult result = load("keys/v1.pass");
  ASSERT_TRUE(result.ok()) << joined(result);
  EXPECT_TRUE(result.config->vhids[0].key.sameAs(proto::SecretKey::fromPassphrase("relative")));
}

TEST_F(PassFileTest, RefusesFilesOthersCanReadOrWrite) {
  for (const mode_t mode : {0640, 0604, 0620, 0602, 0644, 0666}) {
    const auto path = write("open.pass", "s3cret\n", mode);
    const LoadResult result = load(path.string());
    EXPECT_FALSE(result.ok()) << std::oct << mode;
    char expected_mode[8];
    std::snprintf(expected_mode, sizeof expected_mode, "%04o", static_cast<unsigned>(mode));
    EXPECT_THAT(texts(result),
                ElementsAre(dir_.string() + "/carpd.toml:5:13: pass_file '" + path.string() +
                            "' is accessible by group or others (mode " + expected_mode +
                            "); it must be private to its owner (chmod 600)"));
  }
}

TEST_F(PassFileTest, MissingDirectoryAndEmptyFiles) {
  const auto missing = texts(load("nope.pass"));
  EXPECT_THAT(missing, ElementsAre(dir_.string() + "/carpd.toml:5:13: cannot open pass_file '" +
                                   (dir_ / "nope.pass").string() + "': No such file or directory"));
  std::filesystem::create_directory(dir_ / "d");
  ::chmod((dir_ / "d").c_str(), 0700);
  EXPECT_THAT(texts(load("d")), ElementsAre(HasSubstr("is not a regular file")));
  write("empty.pass", "\n", 0600);
  const LoadResult empty = load("empty.pass");
  EXPECT_TRUE(empty.ok());
  EXPECT_THAT(texts(empty), ElementsAre(HasSubstr("warning: pass_file is empty")));
  write("big.pass", std::string(5000, 'x'), 0600);
  EXPECT_THAT(texts(load("big.pass")), ElementsAre(HasSubstr("is larger than 4096 bytes")));
}

TEST_F(PassFileTest, LongPassphraseInAFileWarnsWithoutShowingIt) {
  write("long.pass", "0123456789abcdefghijKLMNOP\n", 0600);
  const LoadResult result = load("long.pass");
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(texts(result), ElementsAre(HasSubstr("warning: passphrase is longer than 19 bytes")));
  EXPECT_TRUE(
      result.config->vhids[0].key.sameAs(proto::SecretKey::fromPassphrase("0123456789abcdefghi")));
  EXPECT_THAT(joined(result), ::testing::Not(HasSubstr("KLMNOP")));
}

TEST_F(PassFileTest, LoadFileReadsTheFileAndResolvesPassFile) {
  write("v.pass", "fromfile\n", 0600);
  const auto path = write("carpd.toml", config("v.pass"), 0644);
  const LoadResult result = loadFile(path);
  ASSERT_TRUE(result.ok()) << joined(result);
  EXPECT_TRUE(result.config->vhids[0].key.sameAs(proto::SecretKey::fromPassphrase("fromfile")));

  const LoadResult missing = loadFile(dir_ / "missing.toml");
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(texts(missing), ElementsAre((dir_ / "missing.toml").string() +
                                          ":1:1: cannot read: No such file or directory"));
  EXPECT_THAT(texts(loadFile(dir_)), ElementsAre(HasSubstr(":1:1: cannot read: not a regular "
                                                           "file")));
}

}  // namespace
}  // namespace carp::config

namespace carp::config {
namespace {

LoadResult parseGlobal(const std::string& global) {
  return parseText("[global]\n" + global +
                       "\n[[vhid]]\ninterface = \"eth0\"\nvhid = 1\npass = \"x\"\n"
                       "addresses = [\"192.0.2.1/24\"]\n",
                   "g.toml");
}

TEST(ConfigGlobalOperations, HooksMetricsAndRealtime) {
  auto r = parseGlobal(
      "hooks = [\"/usr/local/bin/a\", \"/usr/local/bin/b\"]\nhooks_dir = \"/etc/carpd/hooks.d\"\n"
      "hook_timeout = 30\nmetrics = \"127.0.0.1:9420\"\nrealtime = true");
  ASSERT_TRUE(r.ok()) << r.diagnostics[0].toString();
  const GlobalConfig& g = r.config->global;
  EXPECT_EQ(g.hooks, (std::vector<std::string>{"/usr/local/bin/a", "/usr/local/bin/b"}));
  EXPECT_EQ(g.hooks_dir, "/etc/carpd/hooks.d");
  EXPECT_EQ(g.hook_timeout, std::chrono::seconds(30));
  ASSERT_TRUE(g.metrics.has_value());
  EXPECT_EQ(g.metrics->second, 9420);
  EXPECT_TRUE(g.realtime);
  auto v6 = parseGlobal("metrics = \"[::1]:9100\"");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6.config->global.metrics->first.family, proto::Family::kIPv6);
}

TEST(ConfigGlobalOperations, DefaultsAreOff) {
  auto r = parseGlobal("");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.config->global.hooks.empty());
  EXPECT_FALSE(r.config->global.metrics.has_value());
  EXPECT_FALSE(r.config->global.realtime);
  EXPECT_EQ(r.config->global.hook_timeout, std::chrono::seconds(10));
}

TEST(ConfigGlobalOperations, BadValuesPointAtTheValue) {
  for (const char* bad : {"metrics = \"127.0.0.1\"", "metrics = \"::1:9100\"",
                          "metrics = \"127.0.0.1:0\"", "metrics = \"[127.0.0.1]:80\"",
                          "hook_timeout = 0", "hooks = [\"relative/path\"]", "hooks = \"/a\""}) {
    auto r = parseGlobal(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.diagnostics[0].line, 2) << bad;
  }
}

}  // namespace
}  // namespace carp::config
