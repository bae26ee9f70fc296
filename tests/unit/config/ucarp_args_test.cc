#include "config/ucarp_args.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/address_text.h"

namespace carp::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using Args = std::vector<std::string>;

// The ucarp(8) example, as a ucarp user has it in an init script.
const Args kManPageExample = {"-i",
                              "eth0",
                              "-s",
                              "10.1.1.10",
                              "-v",
                              "10",
                              "-p",
                              "secret",
                              "-a",
                              "10.1.1.252",
                              "--upscript=/etc/vip-up.sh",
                              "--downscript=/etc/vip-down.sh",
                              "-P"};

tl::expected<UcarpCommandLine, std::string> parse(const Args& args) {
  return parseUcarpArgs(args, "/home/admin");
}

std::string errorOf(const Args& args) {
  auto r = parse(args);
  return r ? std::string("(accepted)") : r.error();
}

Args minimal(Args extra = {}) {
  Args a = {"-i", "eth0", "-s", "192.0.2.11", "-v", "1", "-p", "pw", "-a", "192.0.2.1"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

TEST(UcarpArgs, ManPageExampleGivesTheSameConfigAsTheToml) {
  auto r = parse(kManPageExample);
  ASSERT_TRUE(r) << r.error();
  const Config& c = r->config;
  EXPECT_TRUE(c.global.preempt);
  EXPECT_TRUE(c.global.hook_capabilities);
  EXPECT_EQ(c.global.control_socket, "/run/carpd/ucarp-eth0-10.sock");
  EXPECT_EQ(c.global.state_dir, "/var/lib/carpd/ucarp-eth0-10");
  EXPECT_EQ(c.global.log_level, "info");
  ASSERT_EQ(c.vhids.size(), 1u);
  const VhidConfig& v = c.vhids[0];
  EXPECT_EQ(v.interface, "eth0");
  EXPECT_EQ(v.vhid.value(), 10);
  EXPECT_EQ(v.advbase.seconds(), 1);
  EXPECT_EQ(v.advskew.steps(), 0);
  EXPECT_THAT(formatAddresses(v.addresses), ElementsAre("10.1.1.252/32"));
  EXPECT_THAT(v.groups, ElementsAre("carp"));
  EXPECT_FALSE(v.vmac);
  EXPECT_FALSE(v.manage_addresses);
  EXPECT_TRUE(v.key.sameAs(proto::SecretKey::fromPassphrase("secret")));

  // The same group written as carpd.toml signs identically.
  auto toml = parseText(
      "[[vhid]]\ninterface = \"eth0\"\nvhid = 10\npass = \"secret\"\n"
      "addresses = [\"10.1.1.252/32\"]\n",
      "same.toml");
  ASSERT_TRUE(toml.ok());
  EXPECT_TRUE(toml.config->vhids[0].key.sameAs(v.key));
  EXPECT_EQ(toml.config->vhids[0].addresses, v.addresses);

  ASSERT_TRUE(c.global.ucarp);
  EXPECT_EQ(c.global.ucarp->upscript, "/etc/vip-up.sh");
  EXPECT_EQ(c.global.ucarp->downscript, "/etc/vip-down.sh");
  EXPECT_EQ(c.global.ucarp->address, "10.1.1.252");
  EXPECT_FALSE(c.global.ucarp->xparam);
  EXPECT_FALSE(c.global.ucarp->neutral);
  EXPECT_FALSE(c.global.ucarp->shutdown);
  EXPECT_FALSE(r->daemonize);
  EXPECT_EQ(r->facility, "daemon");
  EXPECT_THAT(r->warnings, IsEmpty());
}

TEST(UcarpArgs, LongFormsWithSpaceEqualsAndUniquePrefixes) {
  auto r = parse({"--interface",
                  "eth1",
                  "--srcip=192.0.2.12",
                  "--vhid",
                  "7",
                  "--pass=pw",
                  "--addr",
                  "192.0.2.7",
                  "--advb=2",
                  "--advskew",
                  "100",
                  "--neutral",
                  "--shutdown",
                  "--xparam=extra",
                  "--upscript",
                  "up.sh",
                  "--downscript",
                  "../bin/down.sh",
                  "--facility=local3",
                  "--debug",
                  "--deadratio=3",
                  "--mcast=224.0.0.18",
                  "--daemonize"});
  ASSERT_TRUE(r) << r.error();
  const auto& v = r->config.vhids[0];
  EXPECT_EQ(v.interface, "eth1");
  EXPECT_EQ(v.vhid.value(), 7);
  EXPECT_EQ(v.advbase.seconds(), 2);
  EXPECT_EQ(v.advskew.steps(), 100);
  EXPECT_FALSE(r->config.global.preempt);
  EXPECT_EQ(r->config.global.log_level, "debug");
  const auto& u = *r->config.global.ucarp;
  EXPECT_TRUE(u.neutral);
  EXPECT_TRUE(u.shutdown);
  EXPECT_EQ(u.xparam, "extra");
  // Relative scripts resolve against the working directory, where ucarp would exec them.
  EXPECT_EQ(u.upscript, "/home/admin/up.sh");
  EXPECT_EQ(u.downscript, "/home/bin/down.sh");
  EXPECT_EQ(r->facility, "local3");
  EXPECT_TRUE(r->daemonize);
}

TEST(UcarpArgs, ShortFormsAttachedAndBundled) {
  auto r = parse(
      {"-ieth0", "-s192.0.2.11", "-v255", "-ppw", "-a192.0.2.1", "-Pzn", "-k5", "-b0", "-xX"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->config.vhids[0].vhid.value(), 255);
  EXPECT_EQ(r->config.vhids[0].advbase.seconds(), 0);
  EXPECT_EQ(r->config.vhids[0].advskew.steps(), 5);
  EXPECT_TRUE(r->config.global.preempt);
  EXPECT_TRUE(r->config.global.ucarp->shutdown);
  EXPECT_TRUE(r->config.global.ucarp->neutral);
  EXPECT_EQ(r->config.global.ucarp->xparam, "X");
}

TEST(UcarpArgs, LastOccurrenceWinsAsInUcarp) {
  auto r = parse(minimal({"-v", "3", "-a", "192.0.2.3", "-p", "second"}));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->config.vhids[0].vhid.value(), 3);
  EXPECT_THAT(formatAddresses(r->config.vhids[0].addresses), ElementsAre("192.0.2.3/32"));
  EXPECT_EQ(r->config.global.ucarp->address, "192.0.2.3");
  EXPECT_TRUE(r->config.vhids[0].key.sameAs(proto::SecretKey::fromPassphrase("second")));
}

TEST(UcarpArgs, MissingScriptsAreWarningsLikeUcarps) {
  auto r = parse(minimal());
  ASSERT_TRUE(r) << r.error();
  EXPECT_THAT(r->warnings, ElementsAre(HasSubstr("going up"), HasSubstr("going down")));
  EXPECT_TRUE(r->config.global.ucarp->upscript.empty());
}

TEST(UcarpArgs, HelpNeedsNothingElse) {
  auto r = parse({"--help"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->help);
  EXPECT_THAT(ucarpUsage(), HasSubstr("--upscript"));
}

TEST(UcarpArgs, RequiredFlags) {
  EXPECT_THAT(errorOf({}), HasSubstr("-i/--interface is required"));
  EXPECT_THAT(errorOf({"-i", "eth0"}), HasSubstr("-v/--vhid is required"));
  EXPECT_THAT(errorOf({"-i", "eth0", "-v", "1", "-p", "pw", "-a", "192.0.2.1"}),
              HasSubstr("-s/--srcip"));
  EXPECT_THAT(errorOf({"-i", "eth0", "-v", "1", "-p", "pw", "-s", "192.0.2.11"}),
              HasSubstr("-a/--addr"));
  EXPECT_THAT(errorOf({"-i", "eth0", "-v", "1", "-s", "192.0.2.11", "-a", "192.0.2.1"}),
              HasSubstr("a password is required"));
}

TEST(UcarpArgs, BadValues) {
  EXPECT_THAT(errorOf(minimal({"-v", "0"})), HasSubstr("between 1 and 255"));
  EXPECT_THAT(errorOf(minimal({"-v", "256"})), HasSubstr("between 1 and 255"));
  EXPECT_THAT(errorOf(minimal({"-v", "1x"})), HasSubstr("between 1 and 255"));
  EXPECT_THAT(errorOf(minimal({"-b", "256"})), HasSubstr("-b/--advbase"));
  EXPECT_THAT(errorOf(minimal({"-b", "-1"})), HasSubstr("-b/--advbase"));
  EXPECT_THAT(errorOf(minimal({"-k", "255"})), HasSubstr("bow-out"));
  EXPECT_THAT(errorOf(minimal({"-b", "0"})), HasSubstr("non-zero -k"));
  EXPECT_THAT(errorOf(minimal({"-s", "2001:db8::1"})), HasSubstr("not an IPv4 address"));
  EXPECT_THAT(errorOf(minimal({"-a", "2001:db8::1"})), HasSubstr("ucarp has no IPv6"));
  EXPECT_THAT(errorOf(minimal({"-a", "192.0.2.300"})), HasSubstr("-a/--addr"));
  EXPECT_THAT(errorOf(minimal({"-i", "a/b"})), HasSubstr("not a valid interface name"));
  EXPECT_THAT(errorOf(minimal({"-p", "12345678901234567890"})), HasSubstr("longer than 19"));
  EXPECT_THAT(errorOf(minimal({"-f", "local9"})), HasSubstr("unknown syslog facility"));
}

TEST(UcarpArgs, NineteenBytePasswordIsTheLongest) {
  auto r = parse(minimal({"-p", "1234567890123456789"}));
  ASSERT_TRUE(r) << r.error();
}

TEST(UcarpArgs, FlagsCarpdCannotHonourAreRefused) {
  EXPECT_THAT(errorOf(minimal({"-r", "2"})), HasSubstr("-r/--deadratio 2 is not supported"));
  EXPECT_THAT(errorOf(minimal({"--deadratio=1"})), HasSubstr("not supported"));
  EXPECT_THAT(errorOf(minimal({"-M"})), HasSubstr("-M/--nomcast"));
  EXPECT_THAT(errorOf(minimal({"--nomcast"})), HasSubstr("broadcast"));
  EXPECT_THAT(errorOf(minimal({"-S"})), HasSubstr("-S/--ignoreifstate is not supported"));
  EXPECT_THAT(errorOf(minimal({"--mcast", "239.192.0.1"})), HasSubstr("224.0.0.18"));
  EXPECT_TRUE(parse(minimal({"-r", "3", "-m", "224.0.0.18"})));
}

TEST(UcarpArgs, SyntaxErrors) {
  EXPECT_THAT(errorOf(minimal({"-q"})), HasSubstr("unknown option '-q'"));
  EXPECT_THAT(errorOf(minimal({"--frobnicate"})), HasSubstr("unknown option '--frobnicate'"));
  // --d could be --downscript, --deadratio, --debug or --daemonize.
  EXPECT_THAT(errorOf(minimal({"--d=x"})), HasSubstr("ambiguous option '--d'"));
  EXPECT_THAT(errorOf(minimal({"--preempt=yes"})), HasSubstr("takes no value"));
  EXPECT_THAT(errorOf(minimal({"-u"})), HasSubstr("-u/--upscript needs a value"));
  EXPECT_THAT(errorOf(minimal({"--xparam"})), HasSubstr("needs a value"));
  EXPECT_THAT(errorOf(minimal({"stray"})), HasSubstr("unexpected argument 'stray'"));
  EXPECT_THAT(errorOf(minimal({"--", "stray"})), HasSubstr("unexpected argument 'stray'"));
  EXPECT_TRUE(parse(minimal({"--"})));
}

class UcarpPassFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ucarp_args_test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
    return (dir_ / name).string();
  }
  std::filesystem::path dir_;
};

TEST_F(UcarpPassFile, FirstLineWithoutItsNewline) {
  write("pass", "fromfile\nsecond line\n");
  // Relative to the working directory, as ucarp's fopen.
  auto r = parseUcarpArgs(
      {"-i", "eth0", "-s", "192.0.2.11", "-v", "1", "-o", "pass", "-a", "192.0.2.1"}, dir_);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->config.vhids[0].key.sameAs(proto::SecretKey::fromPassphrase("fromfile")));
}

TEST_F(UcarpPassFile, LaterPassOverridesPassfile) {
  const std::string path = write("pass", "fromfile");
  auto r = parse(minimal({"-o", path, "-p", "later"}));
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->config.vhids[0].key.sameAs(proto::SecretKey::fromPassphrase("later")));
}

TEST_F(UcarpPassFile, MissingOrEmpty) {
  EXPECT_THAT(errorOf(minimal({"-o", (dir_ / "absent").string()})), HasSubstr("cannot read"));
  const std::string empty = write("empty", "");
  EXPECT_THAT(errorOf(minimal({"-o", empty})), HasSubstr("unexpected end of file"));
  const std::string blank = write("blank", "\n");
  EXPECT_THAT(
      errorOf({"-i", "eth0", "-s", "192.0.2.11", "-v", "1", "-o", blank, "-a", "192.0.2.1"}),
      HasSubstr("a password is required"));
}

TEST(UcarpPaths, OnePerInterfaceAndVhid) {
  EXPECT_EQ(ucarpControlSocket("eth0", 1), "/run/carpd/ucarp-eth0-1.sock");
  EXPECT_NE(ucarpControlSocket("eth0", 1), ucarpControlSocket("eth0", 2));
  EXPECT_NE(ucarpStateDir("eth0", 1), ucarpStateDir("eth1", 1));
}

}  // namespace
}  // namespace carp::config
