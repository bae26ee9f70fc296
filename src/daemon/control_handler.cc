#include "daemon/control_handler.h"

#include <variant>

#include "config/address_text.h"
#include "proto/overloaded.h"

namespace carp::daemon {
namespace {

control::Response fromResult(const tl::expected<void, std::string>& result,
                             std::string message = {}) {
  return result ? control::Response::success(std::move(message))
                : control::Response::failure(result.error());
}

}  // namespace

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
      },
      request);
}

}  // namespace carp::daemon
