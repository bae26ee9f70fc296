// The engine with fake OS edges: real configuration text in, real frames out.

#include "daemon/engine.h"

#include <gtest/gtest.h>

#include <sstream>

#include "config/address_text.h"
#include "daemon/control_handler.h"
#include "proto/checksum.h"
#include "proto/header.h"
#include "proto/timing.h"
#include "support/engine_fixture.h"
#include "support/fakes.h"

namespace carp::daemon {
namespace {

using proto::State;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kTwoVhids = R"(
[global]
preempt = false

[[vhid]]
interface = "eth0"
vhid = 1
advskew = 0
pass = "secret"
addresses = ["192.0.2.1/24", "2001:db8::1/64"]

[[vhid]]
interface = "eth0"
vhid = 2
advskew = 100
pass = "other"
addresses = ["192.0.2.2/24"]
groups = ["internal"]
)";

proto::IpAddress ip(const char* text) { return carp::testing::parseTestIp(text); }

// An IPv4 CARP frame as sent: Ethernet, IPv4 header, 36 bytes.
struct DecodedFrame {
  proto::MacAddress src_mac;
  proto::MacAddress dst_mac;
  std::uint16_t ethertype;
  std::uint8_t ttl = 0;
  std::uint8_t protocol = 0;
  proto::CarpHeader carp;
};

std::optional<DecodedFrame> decodeV4Advert(const std::vector<std::uint8_t>& f) {
  if (f.size() != 14 + 20 + 36 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 112) return {};
  DecodedFrame d;
  std::copy(f.begin(), f.begin() + 6, d.dst_mac.begin());
  std::copy(f.begin() + 6, f.begin() + 12, d.src_mac.begin());
  d.ethertype = 0x0800;
  d.ttl = f[22];
  d.protocol = f[23];
  auto h = proto::decodeHeader(std::span(f).subspan(34));
  if (!h) return {};
  d.carp = *h;
  return d;
}

class EngineTest : public carp::testing::EngineFixture {
 protected:
  State stateOf(const Engine& e, int vhid) {
    for (const auto& v : e.vhids()) {
      if (v->config.vhid.value() == vhid) return v->machine.state();
    }
    return State::kInit;
  }

  std::vector<DecodedFrame> advertsFor(int vhid) {
    std::vector<DecodedFrame> out;
    for (const auto& f : frames_.frames) {
      if (auto d = decodeV4Advert(f.bytes); d && d->carp.vhid == vhid) out.push_back(*d);
    }
    return out;
  }

  std::vector<std::uint8_t> peerAdvert(int vhid, const char* pass,
                                       std::vector<proto::InterfaceAddress> addresses, int advbase,
                                       int advskew, int demote,
                                       proto::CarpCounter counter = {9, 9, 9, 9, 9, 9, 9, 9}) {
    return signedAdvert(vhid, pass, addresses, advbase, advskew, demote, counter);
  }

  std::vector<proto::InterfaceAddress> vhid1Addresses() {
    return {*config::parseInterfaceAddress("192.0.2.1/24"),
            *config::parseInterfaceAddress("2001:db8::1/64")};
  }
};

TEST_F(EngineTest, StartsBackupThenBecomesMasterAndAdvertisesWithTheVirtualMac) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  EXPECT_EQ(addresses_.stale_cleanups, 1);
  EXPECT_EQ(stateOf(*e, 1), State::kBackup);
  EXPECT_TRUE(frames_.frames.empty());
  runUntil(*e, clock_.now() + seconds(3) + milliseconds(1));
  EXPECT_EQ(stateOf(*e, 1), State::kMaster);
  EXPECT_TRUE(addresses_.holds("eth0", 1));

  auto adverts = advertsFor(1);
  ASSERT_FALSE(adverts.empty());
  const DecodedFrame& a = adverts.front();
  EXPECT_EQ(a.src_mac, (proto::MacAddress{0, 0, 0x5e, 0, 1, 1}));
  EXPECT_EQ(a.dst_mac, (proto::MacAddress{0x01, 0, 0x5e, 0, 0, 0x12}));
  EXPECT_EQ(a.ttl, 255);
  EXPECT_EQ(a.carp.advbase, 1);
  EXPECT_EQ(a.carp.advskew, 0);
  // The digest covers both addresses of the VHID, as a BSD peer with the same set computes it.
  auto signer = proto::HmacSigner::make(proto::SecretKey::fromPassphrase("secret"),
                                        *proto::Vhid::make(1), vhid1Addresses());
  EXPECT_TRUE(signer->verify(a.carp.counter, a.carp.digest));
  // The source address is the parent's own first IPv4 address.
  const auto& raw = frames_.frames.front().bytes;
  EXPECT_EQ(std::vector<std::uint8_t>(raw.begin() + 26, raw.begin() + 30),
            (std::vector<std::uint8_t>{192, 0, 2, 11}));
}

TEST_F(EngineTest, BecomingMasterAnnouncesEveryAddress) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(3) + milliseconds(1));
  int arps = 0, nas = 0;
  for (const auto& f : frames_.frames) {
    if (f.bytes[12] == 0x08 && f.bytes[13] == 0x06) ++arps;
    if (f.bytes[12] == 0x86 && f.bytes[13] == 0xdd && f.bytes.size() > 54 && f.bytes[54] == 136) {
      ++nas;
    }
  }
  EXPECT_EQ(arps, 1);  // 192.0.2.1 (VHID 2 is still BACKUP: its skew is larger)
  EXPECT_EQ(nas, 1);   // 2001:db8::1
}

TEST_F(EngineTest, YieldsToABetterPeerAndRecordsItAsMaster) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  ASSERT_EQ(stateOf(*e, 2), State::kMaster);
  receive(*e, peerAdvert(2, "other", {*config::parseInterfaceAddress("192.0.2.2/24")}, 1, 50, 0));
  EXPECT_EQ(stateOf(*e, 2), State::kBackup);
  EXPECT_FALSE(addresses_.holds("eth0", 2));
  auto status = buildStatus(*e);
  EXPECT_EQ(status.vhids[1].master, "192.0.2.12");
  EXPECT_EQ(status.vhids[1].counters["ipackets"], 1u);
  EXPECT_NE(log_text_.str().find("eth0 vhid 2: MASTER -> BACKUP"), std::string::npos);
}

TEST_F(EngineTest, HostilePacketsAreCountedPerReasonAndChangeNothing) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  ASSERT_EQ(stateOf(*e, 1), State::kMaster);
  const auto good = peerAdvert(1, "secret", vhid1Addresses(), 1, 0, 0);
  receive(*e, peerAdvert(1, "wrong", vhid1Addresses(), 1, 0, 0));  // better, wrong key
  receive(*e, good, 254);                                          // TTL
  auto bad_sum = good;
  bad_sum[20] ^= 1;
  receive(*e, bad_sum);
  receive(*e, std::vector<std::uint8_t>(good.begin(), good.begin() + 20));  // short
  auto v3 = good;
  v3[0] = 0x31;
  receive(*e, v3);
  receive(*e, peerAdvert(99, "secret", vhid1Addresses(), 1, 0, 0));  // unknown VHID
  const auto own = e->vhids()[0]->credentials.own_counter;
  receive(*e, peerAdvert(1, "secret", vhid1Addresses(), 1, 0, 0, own));  // our own counter
  EXPECT_EQ(stateOf(*e, 1), State::kMaster);
  const auto stats = e->stats().toMap();
  EXPECT_EQ(stats.at("badauth"), 1u);
  EXPECT_EQ(stats.at("badttl"), 1u);
  EXPECT_EQ(stats.at("badsum"), 1u);
  EXPECT_EQ(stats.at("badlen"), 1u);
  EXPECT_EQ(stats.at("badver"), 1u);
  EXPECT_EQ(stats.at("badvhid"), 1u);
  EXPECT_EQ(stats.at("loop"), 1u);
  EXPECT_EQ(stats.at("ipackets"), 7u);
  const auto vhid1 = e->vhids()[0]->counters.toMap();
  EXPECT_EQ(vhid1.at("badauth"), 1u);
  EXPECT_EQ(vhid1.at("badttl"), 1u);
  EXPECT_EQ(vhid1.at("loop"), 1u);
  EXPECT_EQ(vhid1.at("ipackets"), 0u);  // nothing valid reached it
}

TEST_F(EngineTest, TransitionsAreReportedCountedAndTakeoverTimed) {
  std::vector<TransitionEvent> seen;
  EngineDeps deps{frames_,
                  ip_,
                  addresses_,
                  directory_,
                  [] { return std::chrono::system_clock::time_point(seconds(1'790'000'000)); },
                  log_,
                  [&](const TransitionEvent& e) { seen.push_back(e); }};
  auto e = std::make_unique<Engine>(deps, parse(kTwoVhids), false);
  e->start(clock_.now());
  // A better master for VHID 2 is heard, then falls silent.
  receive(*e, peerAdvert(2, "other", {*config::parseInterfaceAddress("192.0.2.2/24")}, 1, 50, 0));
  runUntil(*e, clock_.now() + seconds(10));
  const VhidRuntime& v2 = *e->vhids()[1];
  ASSERT_EQ(v2.machine.state(), State::kMaster);
  // Detected exactly one master-down interval (1 s + 100/256 s, tripled) after the last advert.
  ASSERT_TRUE(v2.last_takeover.has_value());
  EXPECT_EQ(*v2.last_takeover, proto::masterDownInterval(1, 100));
  EXPECT_EQ(v2.transitions.at(proto::Reason::kMasterDown), 1u);
  EXPECT_EQ(v2.transitions.at(proto::Reason::kStarted), 1u);
  ASSERT_GE(seen.size(), 4u);  // INIT->BACKUP twice, BACKUP->MASTER twice
  EXPECT_EQ(seen.back().interface, "eth0");
  EXPECT_EQ(seen.back().to, State::kMaster);
}

TEST_F(EngineTest, StopBowsOutRemovesAddressesAndDetaches) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  frames_.frames.clear();
  e->stop(clock_.now());
  auto adverts = advertsFor(1);
  ASSERT_EQ(adverts.size(), 1u);
  EXPECT_EQ(adverts[0].carp.advbase, 255);
  EXPECT_EQ(adverts[0].carp.advskew, 255);
  EXPECT_FALSE(addresses_.holds("eth0", 1));
  EXPECT_EQ(addresses_.detached.size(), 2u);
  EXPECT_FALSE(e->nextDeadline().has_value());
}

TEST_F(EngineTest, DemoteMovesTheDemoteByteAtOnceAndUnknownGroupsAreRefused) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  frames_.frames.clear();
  ASSERT_TRUE(e->demote("carp", 2, clock_.now()));
  auto adverts = advertsFor(1);
  ASSERT_FALSE(adverts.empty());
  EXPECT_EQ(adverts.back().carp.demote, 2);
  EXPECT_FALSE(e->demote("nosuch", 1, clock_.now()));
  // Only VHID 2 is in "internal".
  ASSERT_TRUE(e->demote("internal", 1, clock_.now()));
  auto status = buildStatus(*e);
  EXPECT_EQ(status.vhids[0].demote, 2);
  EXPECT_EQ(status.vhids[1].demote, 3);
  ASSERT_TRUE(e->demote("carp", -100, clock_.now()));
  EXPECT_EQ(buildStatus(*e).demotion.at("carp"), 0);  // never below zero
}

TEST_F(EngineTest, LinkDownGoesInitAndDemotesTheHost) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  e->onLink(2, false, clock_.now());
  EXPECT_EQ(stateOf(*e, 1), State::kInit);
  // Each VHID is one OpenBSD carp interface; each suppressed one raises group "carp" by 1.
  EXPECT_EQ(e->groups().counters().at("carp"), 2);
  e->onLink(2, true, clock_.now());
  EXPECT_EQ(stateOf(*e, 1), State::kBackup);
  EXPECT_EQ(e->groups().counters().at("carp"), 0);
}

TEST_F(EngineTest, ForcedStateAndMaintenance) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  ASSERT_TRUE(e->forceState("eth0", 1, State::kBackup, clock_.now()));
  EXPECT_EQ(stateOf(*e, 1), State::kBackup);
  EXPECT_FALSE(e->forceState("eth0", 9, State::kBackup, clock_.now()));
  ASSERT_TRUE(e->forceState("eth0", 1, State::kMaster, clock_.now()));
  EXPECT_EQ(stateOf(*e, 1), State::kMaster);
  ASSERT_TRUE(e->setMaintenance(true, clock_.now()));
  EXPECT_EQ(stateOf(*e, 1), State::kBackup);
  EXPECT_EQ(buildStatus(*e).vhids[0].demote, 255);
  EXPECT_TRUE(buildStatus(*e).maintenance);
}

TEST_F(EngineTest, ReloadKeepsUnchangedVhidsUntouched) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  const auto counter_before = e->vhids()[0]->credentials.own_counter;
  const std::size_t frames_before = frames_.frames.size();
  // VHID 2 changes its skew, VHID 1 is the same.
  std::string changed = kTwoVhids;
  changed.replace(changed.find("advskew = 100"), 13, "advskew = 120");
  ASSERT_TRUE(e->reload(parse(changed.c_str()), clock_.now()));
  EXPECT_EQ(stateOf(*e, 1), State::kMaster);
  EXPECT_EQ(e->vhids()[0]->credentials.own_counter, counter_before);
  EXPECT_EQ(stateOf(*e, 2), State::kBackup);  // restarted
  EXPECT_EQ(e->vhids()[1]->config.advskew.steps(), 120);
  // VHID 1 sent nothing extra because of the reload (VHID 2 bowed out once).
  std::size_t vhid1_frames = 0;
  for (std::size_t i = frames_before; i < frames_.frames.size(); ++i) {
    if (auto d = decodeV4Advert(frames_.frames[i].bytes); d && d->carp.vhid == 1) ++vhid1_frames;
  }
  EXPECT_EQ(vhid1_frames, 0u);
}

TEST_F(EngineTest, ReloadWithAMissingInterfaceChangesNothing) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  std::string bad = kTwoVhids;
  bad.replace(bad.find("\"eth0\""), 6, "\"eth9\"");
  auto result = e->reload(parse(bad.c_str()), clock_.now());
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().find("eth9"), std::string::npos);
  EXPECT_EQ(e->vhids().size(), 2u);
  EXPECT_EQ(stateOf(*e, 1), State::kMaster);
}

TEST_F(EngineTest, VirtualAddressDeletedBySomeoneElseIsPutBack) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  const int adds = addresses_.adds;
  e->onAddressRemoved(7, *config::parseInterfaceAddress("192.0.2.1/24"));
  EXPECT_EQ(addresses_.adds, adds + 1);
  e->onAddressRemoved(7, *config::parseInterfaceAddress("192.0.2.99/24"));  // not ours
  EXPECT_EQ(addresses_.adds, adds + 1);
}

TEST_F(EngineTest, UnicastPeerGoesThroughTheIpSender) {
  auto e = make(R"(
[[vhid]]
interface = "eth0"
vhid = 5
pass = "p"
addresses = ["203.0.113.5/24"]
peer = "198.51.100.2"
)");
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(4));
  ASSERT_FALSE(ip_.packets.empty());
  EXPECT_EQ(ip_.packets[0].destination, ip("198.51.100.2"));
  EXPECT_EQ(ip_.packets[0].payload.size(), 36u);
  EXPECT_TRUE(advertsFor(5).empty());
}

TEST_F(EngineTest, RoutedPeer6IsSentFromAGlobalAddress) {
  auto e = make(R"(
[[vhid]]
interface = "eth0"
vhid = 6
pass = "p"
addresses = ["2001:db8:4::1/128"]
peer6 = "2001:db8:2::2"
)");
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(4));
  ASSERT_FALSE(ip_.packets.empty());
  EXPECT_EQ(ip_.packets[0].source, ip("2001:db8::11"));  // not fe80::11
  EXPECT_EQ(ip_.packets[0].destination, ip("2001:db8:2::2"));
}

TEST_F(EngineTest, LinkLocalPeer6AndMulticastUseTheLinkLocalSource) {
  auto e = make(R"(
[[vhid]]
interface = "eth0"
vhid = 6
pass = "p"
addresses = ["2001:db8:4::1/128"]
peer6 = "fe80::12"
)");
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(4));
  ASSERT_FALSE(ip_.packets.empty());
  EXPECT_EQ(ip_.packets[0].source, ip("fe80::11"));
}

TEST_F(EngineTest, MissingInterfaceIsAClearStartupError) {
  try {
    make(R"(
[[vhid]]
interface = "eth7"
vhid = 1
addresses = ["192.0.2.1/24"]
)");
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "interface eth7 does not exist");
  }
}

TEST_F(EngineTest, DoctorReportsVrrpRoutersBadHmacsAndPeers) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  // keepalived, virtual_router_id 2, priority 150, one address: VRRPv2 is 20 bytes (badlen).
  std::vector<std::uint8_t> vrrp = {0x21, 0x02, 0x96, 0x01, 0x00, 0x01, 0x00, 0x00, 192, 0,
                                    2,    50,   0,    0,    0,    0,    0,    0,    0,   0};
  const std::uint16_t sum = proto::internetChecksum(vrrp);
  vrrp[6] = static_cast<std::uint8_t>(sum >> 8);
  vrrp[7] = static_cast<std::uint8_t>(sum & 0xff);
  receive(*e, vrrp, 255, "192.0.2.13");
  // ucarp signs only 192.0.2.1 for VHID 1, whose configured set also has 2001:db8::1.
  receive(*e, peerAdvert(1, "secret", {*config::parseInterfaceAddress("192.0.2.1/24")}, 1, 0, 0),
          255, "192.0.2.14");
  clock_.advance(milliseconds(500));
  receive(*e, peerAdvert(2, "other", {*config::parseInterfaceAddress("192.0.2.2/24")}, 1, 200, 0));
  EXPECT_EQ(e->stats().toMap().at("badlen"), 1u) << "still counted as before";

  const auto report = buildDoctorReport(*e, clock_.now());
  ASSERT_EQ(report.vrrp.size(), 1u);
  EXPECT_EQ(report.vrrp[0].vrid, 2);
  EXPECT_EQ(report.vrrp[0].priority, 150);
  EXPECT_EQ(report.vrrp[0].source, "192.0.2.13");
  EXPECT_EQ(report.vrrp[0].addresses, std::vector<std::string>{"192.0.2.50"});
  EXPECT_DOUBLE_EQ(report.vrrp[0].age_seconds, 0.5);
  ASSERT_EQ(report.vhids.size(), 2u);
  ASSERT_TRUE(report.vhids[0].bad_auth);
  EXPECT_EQ(report.vhids[0].bad_auth->source, "192.0.2.14");
  EXPECT_EQ(report.vhids[0].bad_auth->counter, "0909090909090909");
  EXPECT_EQ(report.vhids[0].bad_auth->matching_set, "only 192.0.2.1 (as ucarp signs)");
  EXPECT_TRUE(report.vhids[0].multicast && report.vhids[0].multicast6);
  EXPECT_FALSE(report.vhids[1].bad_auth);
  ASSERT_EQ(report.vhids[1].peers.size(), 1u);
  EXPECT_EQ(report.vhids[1].peers[0].source, "192.0.2.12");
  EXPECT_EQ(report.vhids[1].peers[0].advskew, 200);
}

TEST_F(EngineTest, ControlHandlerAnswersJsonLines) {
  auto e = make(kTwoVhids);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  char dir[] = "/tmp/carpd-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  MaintenanceStore store(dir);
  int reloads = 0;
  ControlHandler handler(*e, clock_, store, [&]() -> tl::expected<void, std::string> {
    ++reloads;
    return {};
  });
  auto status = control::parseResponse(handler.handleLine(R"({"command":"status"})"));
  ASSERT_TRUE(status && status->ok && status->status);
  EXPECT_EQ(status->status->vhids[0].state, "MASTER");
  auto doctor = control::parseResponse(handler.handleLine(R"({"command":"doctor"})"));
  ASSERT_TRUE(doctor && doctor->ok && doctor->doctor);
  EXPECT_EQ(doctor->doctor->vhids.size(), 2u);
  auto bad = control::parseResponse(handler.handleLine("{nonsense"));
  ASSERT_TRUE(bad);
  EXPECT_FALSE(bad->ok);
  auto on = control::parseResponse(handler.handleLine(R"({"command":"maintenance","on":true})"));
  ASSERT_TRUE(on && on->ok);
  EXPECT_TRUE(store.load());
  auto reload = control::parseResponse(handler.handleLine(R"({"command":"reload"})"));
  ASSERT_TRUE(reload && reload->ok);
  EXPECT_EQ(reloads, 1);
  std::filesystem::remove_all(dir);
}

constexpr const char* kFreeBsdGroup = R"(
[[vhid]]
interface = "eth0"
vhid = 1
advskew = 10
pass = "secret"
addresses = ["192.0.2.1/24", "fe80::1/64"]
demotion_in_advskew = true
hmac_link_local = true
)";

TEST_F(EngineTest, FreeBsdGroupsSeeTheDemotionInAdvskewAndTheLinkLocalInTheHmac) {
  auto e = make(kFreeBsdGroup);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(5));
  ASSERT_EQ(stateOf(*e, 1), State::kMaster);
  frames_.frames.clear();
  ASSERT_TRUE(e->demote("carp", 3, clock_.now()));
  auto adverts = advertsFor(1);
  ASSERT_FALSE(adverts.empty());
  // FreeBSD ignores the demote byte; its DEMOTE_ADVSKEW adds the demotion to advskew.
  EXPECT_EQ(adverts.back().carp.demote, 3);
  EXPECT_EQ(adverts.back().carp.advskew, 13);
  ASSERT_TRUE(e->demote("carp", 500, clock_.now()));
  EXPECT_EQ(advertsFor(1).back().carp.advskew, 240);  // clamped as FreeBSD does

  // The digest is FreeBSD's: fe80::1 hashed (OpenBSD's ORIG), not left out (NOV6LL).
  const std::vector<proto::InterfaceAddress> addresses = {
      *config::parseInterfaceAddress("192.0.2.1/24"), *config::parseInterfaceAddress("fe80::1/64")};
  const auto key = proto::SecretKey::fromPassphrase("secret");
  auto with_ll = proto::HmacSigner::make(key, *proto::Vhid::make(1), addresses, true);
  auto without_ll = proto::HmacSigner::make(key, *proto::Vhid::make(1), addresses, false);
  const auto& sent = adverts.back().carp;
  EXPECT_EQ(with_ll->sign(sent.counter), sent.digest);
  EXPECT_NE(without_ll->sign(sent.counter), sent.digest);
}

}  // namespace
}  // namespace carp::daemon

namespace carp::daemon {
namespace {

// The transition callback (hooks) used to run inside the action loop, before the addresses
// were added and before the first advertisement: a hook spawn delayed the takeover and a hook
// of the new MASTER could not find its addresses.
TEST_F(EngineTest, TransitionCallbackRunsAfterTheTakeoverIsCarriedOut) {
  struct Seen {
    State to;
    bool holds;
    std::size_t frames;
  };
  std::vector<Seen> seen;
  EngineDeps with_hook = deps();
  with_hook.on_transition = [&](const TransitionEvent& t) {
    if (t.vhid == 1) seen.push_back({t.to, addresses_.holds("eth0", 1), frames_.frames.size()});
  };
  auto e = std::make_unique<Engine>(with_hook, parse(kTwoVhids), false);
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(4));
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[0].to, State::kBackup);
  EXPECT_FALSE(seen[0].holds);
  EXPECT_EQ(seen[1].to, State::kMaster);
  EXPECT_TRUE(seen[1].holds) << "the hook of a new MASTER sees its addresses";
  // Both families' advertisements and the announcements (2 addresses) went out first.
  EXPECT_GE(seen[1].frames, 4U) << "the first advertisement precedes the hook";
}

// Three failed sends demote the host once (OpenBSD carp_send_ad); the demotion's re-dispatch
// to every VHID used to run inside the failing VHID's own action list.
TEST_F(EngineTest, RepeatedSendFailuresDemoteOnceAndKeepAdvertising) {
  auto e = make(R"(
[[vhid]]
interface = "eth0"
vhid = 1
pass = "secret"
addresses = ["192.0.2.1/24", "2001:db8::1/64"]
)");
  e->start(clock_.now());
  runUntil(*e, clock_.now() + seconds(4));
  ASSERT_EQ(stateOf(*e, 1), State::kMaster);
  frames_.fail_with = ENOBUFS;
  runUntil(*e, clock_.now() + seconds(3) + milliseconds(500));
  EXPECT_EQ(e->groups().counters().at("carp"), 1);
  frames_.fail_with = 0;
  frames_.frames.clear();
  runUntil(*e, clock_.now() + seconds(1) + milliseconds(100));
  // Still advertising once per interval on its own timer, now with the demotion.
  const auto adverts = advertsFor(1);
  ASSERT_EQ(adverts.size(), 1U);
  EXPECT_EQ(adverts[0].carp.demote, 1);
  EXPECT_EQ(e->nextDeadline().has_value(), true);
}

TEST(ActionListTest, OverflowIsReportedNotSilent) {
  proto::ActionList list;
  for (std::size_t i = 0; i < proto::ActionList::kCapacity; ++i)
    list.push(proto::action::Announce{});
  EXPECT_FALSE(list.overflowed());
  list.push(proto::action::Announce{});
  EXPECT_TRUE(list.overflowed());
  EXPECT_EQ(list.size(), proto::ActionList::kCapacity);
}

}  // namespace
}  // namespace carp::daemon
