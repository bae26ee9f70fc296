#pragma once
// A daemon::Engine on fake OS edges: configuration text in, frames and addresses recorded, time
// driven by a fake clock. Shared by the engine and metrics tests (header-only: those tests link
// carp_daemon, which carp_test_support does not).

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <sstream>
#include <vector>

#include "config/address_text.h"
#include "config/config.h"
#include "daemon/engine.h"
#include "proto/header.h"
#include "proto/hmac.h"
#include "support/fakes.h"

namespace carp::testing {

inline proto::IpAddress parseTestIp(const char* text) { return *config::parseIpAddress(text); }

class EngineFixture : public ::testing::Test {
 protected:
  // eth0 (ifindex 2), MAC 02:00:00:00:00:11, 192.0.2.11, fe80::11 and 2001:db8::11.
  EngineFixture() {
    log_ = std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_));
    os::InterfaceInfo eth0;
    eth0.ifindex = 2;
    eth0.name = "eth0";
    eth0.mac = {0x02, 0, 0, 0, 0, 0x11};
    eth0.running = true;
    eth0.ipv4 = {parseTestIp("192.0.2.11")};
    eth0.ipv6 = {parseTestIp("fe80::11"), parseTestIp("2001:db8::11")};
    directory_.interfaces.push_back(eth0);
  }

  static config::Config parse(const char* text) {
    auto result = config::parseText(text, "test.toml");
    EXPECT_TRUE(result.ok()) << (result.diagnostics.empty() ? ""
                                                            : result.diagnostics[0].toString());
    return std::move(*result.config);
  }

  daemon::EngineDeps deps() {
    return daemon::EngineDeps{
        frames_,
        ip_,
        addresses_,
        directory_,
        [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1'790'000'000)); },
        log_};
  }

  std::unique_ptr<daemon::Engine> make(const char* text, bool maintenance = false) {
    return std::make_unique<daemon::Engine>(deps(), parse(text), maintenance);
  }

  // Runs the engine's timers up to `until`, as the event loop would.
  void runUntil(daemon::Engine& e, proto::TimePoint until) {
    while (auto next = e.nextDeadline()) {
      if (*next > until) break;
      clock_.set(*next);
      e.onDeadline(*next);
    }
    clock_.set(until);
  }

  // An advertisement from a peer, signed with `pass` over `addresses`.
  static std::vector<std::uint8_t> signedAdvert(
      int vhid, const char* pass, const std::vector<proto::InterfaceAddress>& addresses,
      int advbase, int advskew, int demote, proto::CarpCounter counter = {9, 9, 9, 9, 9, 9, 9, 9}) {
    auto signer = proto::HmacSigner::make(proto::SecretKey::fromPassphrase(pass),
                                          *proto::Vhid::make(vhid), addresses);
    proto::CarpHeader h;
    h.vhid = static_cast<std::uint8_t>(vhid);
    h.advbase = static_cast<std::uint8_t>(advbase);
    h.advskew = static_cast<std::uint8_t>(advskew);
    h.demote = static_cast<std::uint8_t>(demote);
    h.counter = counter;
    h.digest = signer->sign(counter);
    const auto bytes = proto::encodeHeader(h);
    return {bytes.begin(), bytes.end()};
  }

  // Delivers an IPv4 CARP payload received on eth0.
  void receive(daemon::Engine& e, const std::vector<std::uint8_t>& payload, std::uint8_t ttl = 255,
               const char* source = "192.0.2.12") {
    os::ReceivedPacket p{2, parseTestIp(source), parseTestIp("224.0.0.18"), ttl, payload};
    e.onPacket(p, proto::Family::kIPv4, clock_.now());
  }

  std::ostringstream log_text_;
  std::shared_ptr<spdlog::logger> log_;
  FakeClock clock_;
  FakeFrameSender frames_;
  FakeIpSender ip_;
  FakeAddressManager addresses_;
  FakeInterfaceDirectory directory_;
};

}  // namespace carp::testing
