// Prometheus metrics of a real engine driven through fakes: exact lines, and a check that the
// whole output is valid text exposition format 0.0.4.

#include "daemon/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <charconv>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/address_text.h"
#include "proto/header.h"
#include "proto/hmac.h"
#include "proto/timing.h"
#include "support/engine_fixture.h"
#include "support/fakes.h"

namespace carp::daemon {
namespace {

using proto::State;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::Contains;
using ::testing::Not;

constexpr const char* kTwoVhids = R"(
[global]
preempt = false

[[vhid]]
interface = "eth0"
vhid = 1
advskew = 0
pass = "secret-one"
addresses = ["192.0.2.1/24", "2001:db8::1/64"]

[[vhid]]
interface = "eth0"
vhid = 2
advskew = 100
pass = "secret-two"
addresses = ["192.0.2.2/24"]
groups = ["internal"]
)";

constexpr const char* kVersion = "1.2.3";

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A strict reader of text exposition format 0.0.4 (prometheus/common expfmt): returns the
// first problem, or an empty string. Beyond the syntax it checks what a scraper relies on:
// every sample belongs to the family of the # TYPE line before it, a family appears once, no
// series repeats, and counters end in _total.
std::string validateExposition(const std::string& text) {
  if (text.empty() || text.back() != '\n') return "output must end with a newline";
  static const std::regex kHelp(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) [^\n]*)");
  static const std::regex kType(
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex kSample(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)( -?[0-9]+)?)");
  static const std::regex kLabel(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)")re");
  std::set<std::string> typed;
  std::set<std::string> series;
  std::string current;  // the family of the last # TYPE line
  std::string current_type;
  int number = 0;
  for (const std::string& line : linesOf(text)) {
    ++number;
    const std::string where = "line " + std::to_string(number) + " '" + line + "': ";
    std::smatch m;
    if (line.starts_with("# HELP ")) {
      if (!std::regex_match(line, m, kHelp)) return where + "bad HELP";
      if (typed.count(m[1])) return where + "HELP after the family's samples";
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      if (!std::regex_match(line, m, kType)) return where + "bad TYPE";
      if (!typed.insert(m[1]).second) return where + "family declared twice";
      current = m[1];
      current_type = m[2];
      if (current_type == "counter" && !current.ends_with("_total")) {
        return where + "counter name without _total";
      }
      continue;
    }
    if (line.empty() || line[0] == '#') return where + "unexpected comment or empty line";
    if (!std::regex_match(line, m, kSample)) return where + "not NAME{LABELS} VALUE";
    if (m[1] != current) return where + "sample outside its family's block";
    // Labels: NAME="VALUE" separated by commas, names unique and not reserved.
    std::string labels = m[3];
    std::set<std::string> names;
    while (!labels.empty()) {
      std::smatch l;
      if (!std::regex_search(labels, l, kLabel, std::regex_constants::match_continuous)) {
        return where + "bad label at '" + labels + "'";
      }
      if (l.str(1).starts_with("__")) return where + "reserved label name";
      if (!names.insert(l[1]).second) return where + "label repeated";
      labels = l.suffix();
      if (labels.empty()) break;
      if (labels[0] != ',') return where + "labels must be separated by ','";
      labels.erase(0, 1);
    }
    const std::string value = m[4];
    if (value != "+Inf" && value != "-Inf" && value != "NaN") {
      double parsed = 0;
      const auto r = std::from_chars(value.data(), value.data() + value.size(), parsed);
      if (r.ec != std::errc() || r.ptr != value.data() + value.size()) {
        return where + "value is not a number";
      }
      if (current_type == "counter" && parsed < 0) return where + "negative counter";
    }
    if (!series.insert(std::string(m[1]) + "{" + std::string(m[3]) + "}").second) {
      return where + "series repeated";
    }
  }
  return {};
}

class MetricsTest : public carp::testing::EngineFixture {
 protected:
  // A valid advertisement from 192.0.2.12 signed with `pass`.
  void receive(Engine& e, int vhid, const char* pass, const char* address, int advskew,
               std::uint8_t ttl = 255, proto::CarpCounter counter = {9, 9, 9, 9, 9, 9, 9, 9}) {
    EngineFixture::receive(
        e,
        signedAdvert(vhid, pass, {*config::parseInterfaceAddress(address)}, 1, advskew, 0, counter),
        ttl);
  }
};

TEST_F(MetricsTest, StatesSettingsAndCountersOfEveryVhid) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(3) + milliseconds(1));
  ASSERT_EQ(e->vhids()[0]->machine.state(), State::kMaster);
  const auto lines = linesOf(renderMetrics(*e, kVersion));

  EXPECT_THAT(lines, Contains("# TYPE carpd_vhid_state gauge"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_state{interface="eth0",vhid="1",state="INIT"} 0)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_state{interface="eth0",vhid="1",state="BACKUP"} 0)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_state{interface="eth0",vhid="1",state="MASTER"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_state{interface="eth0",vhid="2",state="BACKUP"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_state{interface="eth0",vhid="2",state="MASTER"} 0)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_advbase{interface="eth0",vhid="1"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_advskew{interface="eth0",vhid="1"} 0)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_advskew{interface="eth0",vhid="2"} 100)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_demote{interface="eth0",vhid="2"} 0)"));

  EXPECT_THAT(lines, Contains("# TYPE carpd_vhid_transitions_total counter"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_transitions_total{interface="eth0",vhid="1",)"
                              R"(reason="started"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_transitions_total{interface="eth0",vhid="1",)"
                              R"(reason="master_down"} 1)"));
  // Every reason is there from the start, so that increase() sees the first one.
  for (const char* reason : {"preempt", "peer_demoted", "peer_too_slow", "peer_better", "link_down",
                             "forced", "maintenance", "stopped"}) {
    EXPECT_THAT(lines, Contains(std::string(R"(carpd_vhid_transitions_total{interface="eth0",)") +
                                R"(vhid="2",reason=")" + reason + R"("} 0)"));
  }

  const Counters& c1 = e->vhids()[0]->counters;
  ASSERT_GT(c1.get(Counter::kOpackets), 0u);
  ASSERT_GT(c1.get(Counter::kOpackets6), 0u);
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_advertisements_sent_total{interface="eth0",vhid="1",)"
                              R"(family="ipv4"} )" +
                              std::to_string(c1.get(Counter::kOpackets))));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_advertisements_sent_total{interface="eth0",vhid="1",)"
                              R"(family="ipv6"} )" +
                              std::to_string(c1.get(Counter::kOpackets6))));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_advertisements_received_total{interface="eth0",)"
                              R"(vhid="2",family="ipv4"} 0)"));

  EXPECT_THAT(lines, Contains(R"(carpd_demotion{group="carp"} 0)"));
  EXPECT_THAT(lines, Contains(R"(carpd_demotion{group="internal"} 0)"));
  EXPECT_THAT(lines, Contains("carpd_maintenance 0"));
  EXPECT_THAT(lines, Contains(R"(carpd_build_info{version="1.2.3"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_drops_total{reason="hdrops"} 0)"));
  // No takeover after hearing another MASTER yet: no sample, only the family's header.
  EXPECT_THAT(lines, Contains("# TYPE carpd_vhid_last_takeover_seconds gauge"));
  for (const auto& line : lines) EXPECT_FALSE(line.starts_with("carpd_vhid_last_takeover_seconds"));
}

TEST_F(MetricsTest, OutputIsValidExpositionFormat) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  receive(*e, 2, "secret-two", "192.0.2.2/24", 50);
  runUntil(*e, clock_.now() + seconds(10));
  ASSERT_TRUE(e->demote("internal", 3, clock_.now()));
  const std::string text = renderMetrics(*e, kVersion);
  EXPECT_EQ(validateExposition(text), "") << text;
  // The validator itself rejects what a scraper would.
  EXPECT_NE(validateExposition("# TYPE a counter\na 1\n"), "");          // counter without _total
  EXPECT_NE(validateExposition("# TYPE a gauge\nb 1\n"), "");            // sample of another family
  EXPECT_NE(validateExposition("# TYPE a gauge\na{x=\"\"\"} 1\n"), "");  // unescaped quote
  EXPECT_NE(validateExposition("# TYPE a gauge\na{x=\"1\"} one\n"), "");
  EXPECT_NE(validateExposition("# TYPE a gauge\na 1\na 2\n"), "");  // repeated series
  EXPECT_NE(validateExposition("# TYPE 1a gauge\n1a 1\n"), "");
  EXPECT_EQ(validateExposition("# HELP a x\n# TYPE a gauge\na{x=\"q\\\"\\\\\\n\"} 1.5\n"), "");
}

TEST_F(MetricsTest, DropsDaemonWideAndPerVhid) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  receive(*e, 2, "wrong", "192.0.2.2/24", 0);            // badauth
  receive(*e, 2, "secret-two", "192.0.2.2/24", 0, 254);  // badttl
  receive(*e, 99, "secret-two", "192.0.2.2/24", 0);      // badvhid
  const auto own = e->vhids()[1]->credentials.own_counter;
  receive(*e, 2, "secret-two", "192.0.2.2/24", 0, 255, own);  // loop
  const auto lines = linesOf(renderMetrics(*e, kVersion));
  EXPECT_THAT(lines, Contains(R"(carpd_drops_total{reason="badauth"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_drops_total{reason="badttl"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_drops_total{reason="badvhid"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_drops_total{reason="loop"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_drops_total{reason="badsum"} 0)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_drops_total{interface="eth0",vhid="2",)"
                              R"(reason="badauth"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_drops_total{interface="eth0",vhid="2",)"
                              R"(reason="badttl"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_drops_total{interface="eth0",vhid="2",)"
                              R"(reason="loop"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_drops_total{interface="eth0",vhid="1",)"
                              R"(reason="badauth"} 0)"));
}

TEST_F(MetricsTest, TakeoverForcedStateDemotionAndMaintenance) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  // A better MASTER for VHID 2 is heard once, then falls silent: we take over after exactly
  // one master-down interval, 3 × (1 + 100/256) s.
  receive(*e, 2, "secret-two", "192.0.2.2/24", 50);
  runUntil(*e, clock_.now() + seconds(10));
  ASSERT_EQ(e->vhids()[1]->machine.state(), State::kMaster);
  ASSERT_TRUE(e->forceState("eth0", 1, State::kBackup, clock_.now()));
  ASSERT_TRUE(e->demote("internal", 2, clock_.now()));
  ASSERT_TRUE(e->setMaintenance(true, clock_.now()));
  const auto lines = linesOf(renderMetrics(*e, kVersion));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_last_takeover_seconds{interface="eth0",vhid="2"} )"
                              R"(4.171875)"));
  for (const auto& line : lines) {
    EXPECT_FALSE(line.starts_with(R"(carpd_vhid_last_takeover_seconds{interface="eth0",vhid="1")"));
  }
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_transitions_total{interface="eth0",vhid="1",)"
                              R"(reason="forced"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_transitions_total{interface="eth0",vhid="2",)"
                              R"(reason="master_down"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_transitions_total{interface="eth0",vhid="2",)"
                              R"(reason="maintenance"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_vhid_state{interface="eth0",vhid="2",state="BACKUP"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_demotion{group="internal"} 2)"));
  EXPECT_THAT(lines, Contains("carpd_maintenance 1"));
}

TEST_F(MetricsTest, LabelValuesAreEscapedAndNoPassphraseLeaks) {
  // The kernel allows quotes and backslashes in interface names; so does the config.
  os::InterfaceInfo odd = directory_.interfaces[0];
  odd.ifindex = 3;
  odd.name = R"(e"t\h)";
  directory_.interfaces.push_back(odd);
  auto e = make(R"(
[[vhid]]
interface = "e\"t\\h"
vhid = 7
pass = "hunter2-passphrase"
addresses = ["192.0.2.7/24"]
)");
  e->start(clock_.now());
  const std::string text = renderMetrics(*e, "0.1\"x");
  const auto lines = linesOf(text);
  EXPECT_THAT(lines,
              Contains(R"(carpd_vhid_state{interface="e\"t\\h",vhid="7",state="BACKUP"} 1)"));
  EXPECT_THAT(lines, Contains(R"(carpd_build_info{version="0.1\"x"} 1)"));
  EXPECT_EQ(validateExposition(text), "") << text;
  EXPECT_EQ(text.find("hunter2"), std::string::npos);
  EXPECT_THAT(lines, Not(Contains(::testing::HasSubstr("pass"))));
}

TEST(MetricsLabelTest, EveryReasonHasAStableLabel) {
  EXPECT_STREQ(metricsLabel(proto::Reason::kStarted), "started");
  EXPECT_STREQ(metricsLabel(proto::Reason::kMasterDown), "master_down");
  EXPECT_STREQ(metricsLabel(proto::Reason::kPreempt), "preempt");
  EXPECT_STREQ(metricsLabel(proto::Reason::kPeerDemoted), "peer_demoted");
  EXPECT_STREQ(metricsLabel(proto::Reason::kPeerTooSlow), "peer_too_slow");
  EXPECT_STREQ(metricsLabel(proto::Reason::kPeerBetter), "peer_better");
  EXPECT_STREQ(metricsLabel(proto::Reason::kLinkDown), "link_down");
  EXPECT_STREQ(metricsLabel(proto::Reason::kForced), "forced");
  EXPECT_STREQ(metricsLabel(proto::Reason::kMaintenance), "maintenance");
  EXPECT_STREQ(metricsLabel(proto::Reason::kStopped), "stopped");
}

}  // namespace
}  // namespace carp::daemon
