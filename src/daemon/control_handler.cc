#include "daemon/control_handler.h"

#include <algorithm>
#include <chrono>
#include <span>
#include <variant>

#include "config/address_text.h"
#include "proto/address_set_match.h"
#include "proto/overloaded.h"

namespace carp::daemon {
namespace {

control::Response fromResult(const tl::expected<void, std::string>& result,
                             std::string message = {}) {
  return result ? control::Response::success(std::move(message))
                : control::Response::failure(result.error());
}

std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

double secondsSince(proto::TimePoint then, proto::TimePoint now) {
  return std::chrono::duration<double>(now - then).count();
}

std::string formatIp(const proto::IpAddress& address) { return config::formatAddress(address); }

std::vector<std::string> formatIps(const std::vector<proto::IpAddress>& addresses) {
  std::vector<std::string> out;
  for (const auto& a : addresses) out.push_back(formatIp(a));
  return out;
}

control::DoctorBadAuth badAuthReport(const VhidRuntime& v, const BadAuthHeard& heard,
                                     proto::TimePoint now) {
  control::DoctorBadAuth report;
  report.source = formatIp(heard.source);
  report.count = heard.count;
  report.age_seconds = secondsSince(heard.last, now);
  report.counter = hex(heard.counter);
  report.digest = hex(heard.digest);
  std::vector<proto::IpAddress> configured;
  for (const auto& a : v.config.addresses) configured.push_back(a.address);
  // A few HMACs per candidate, computed only when someone asks.
  if (auto match = proto::findMatchingAddressSet(v.config.key, v.config.vhid, configured,
                                                 heard.counter, heard.digest, formatIp)) {
    report.matching_set = match->description;
    report.matching_addresses = formatIps(match->addresses);
  }
  return report;
}

}  // namespace

control::DoctorReport buildDoctorReport(const Engine& engine, proto::TimePoint now) {
  control::DoctorReport report;
  for (const auto& v : engine.vhids()) {
    control::DoctorVhid d;
    d.interface = v->config.interface;
    d.vhid = v->config.vhid.value();
    d.state = proto::toString(v->machine.state());
    d.vmac = v->config.vmac;
    d.addresses = config::formatAddresses(v->config.addresses);
    d.multicast = v->machine.settings().has_ipv4 && !v->config.peer;
    d.multicast6 = v->machine.settings().has_ipv6 && !v->config.peer6;
    d.unicast = v->config.peer.has_value() || v->config.peer6.has_value();
    if (v->diagnostics.bad_auth) d.bad_auth = badAuthReport(*v, *v->diagnostics.bad_auth, now);
    for (const auto& p : v->diagnostics.peers) {
      d.peers.push_back(
          {formatIp(p.source), p.advbase, p.advskew, p.demote, secondsSince(p.last, now), p.count});
    }
    report.vhids.push_back(std::move(d));
  }
  std::vector<std::string> seen;
  for (const auto& v : engine.vhids()) {
    const std::string& name = v->config.interface;
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    const InterfaceRuntime* iface = engine.interfaceRuntime(name);
    if (iface == nullptr) continue;
    for (const auto& [vrid, heard] : iface->diagnostics.vrrp) {
      report.vrrp.push_back({name, vrid, heard.advert.version, heard.advert.priority,
                             heard.advert.interval, formatIp(heard.source),
                             formatIps(heard.advert.addresses), secondsSince(heard.last, now),
                             heard.count});
    }
  }
  return report;
}

control::StatusReport buildStatus(const Engine& engine) {
  control::StatusReport report;
  for (const auto& v : engine.vhids()) {
    control::VhidStatus s;
    s.interface = v->config.interface;
    s.vhid = v->config.vhid.value();
    s.state = proto::toString(v->machine.state());
    s.advbase = v->config.advbase.seconds();
    s.advskew = v->machine.wireAdvskew();
    s.demote = v->machine.wireDemote();
    s.addresses = config::formatAddresses(v->config.addresses);
    s.master = v->master ? config::formatAddress(*v->master) : std::string();
    s.since = control::formatTimestamp(v->since);
    s.counters = v->counters.toMap();
    report.vhids.push_back(std::move(s));
  }
  report.demotion = engine.groups().counters();
  report.maintenance = engine.maintenance();
  report.stats = engine.stats().toMap();
  return report;
}

ControlHandler::ControlHandler(Engine& engine, const os::Clock& clock,
                               const MaintenanceStore& store, ReloadFunction reload)
    : engine_(engine), clock_(clock), store_(store), reload_(std::move(reload)) {}

std::string ControlHandler::handleLine(std::string_view line) {
  auto request = control::parseRequest(line);
  if (!request) return control::encodeResponse(control::Response::failure(request.error()));
  return control::encodeResponse(handle(*request));
}

control::Response ControlHandler::handle(const control::Request& request) {
  const proto::TimePoint now = clock_.now();
  return std::visit(
      proto::Overloaded{
          [&](const control::StatusRequest&) {
            return control::Response::ofStatus(buildStatus(engine_));
          },
          [&](const control::DemoteRequest& r) {
            return fromResult(engine_.demote(r.group, r.delta, now));
          },
          [&](const control::StateRequest& r) {
            return fromResult(engine_.forceState(r.interface, r.vhid.value(), r.state, now));
          },
          [&](const control::MaintenanceRequest& r) {
            // Persist first: a maintenance mode that would not survive a restart is refused.
            if (auto saved = store_.save(r.on); !saved) {
              return control::Response::failure(saved.error());
            }
            return fromResult(engine_.setMaintenance(r.on, now));
          },
          [&](const control::ReloadRequest&) { return fromResult(reload_(), "reloaded"); },
          [&](const control::DoctorRequest&) {
            return control::Response::ofDoctor(buildDoctorReport(engine_, now));
          },
      },
      request);
}

}  // namespace carp::daemon
