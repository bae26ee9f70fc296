#pragma once
// Answers control requests (carpctl) from the engine's state: one JSON request line in, one
// JSON response line out.

#include <functional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "control/request.h"
#include "control/response.h"
#include "control/status.h"
#include "daemon/engine.h"
#include "daemon/maintenance_store.h"
#include "os/clock.h"

namespace carp::daemon {

control::StatusReport buildStatus(const Engine& engine);
// What the engine heard (daemon/diagnostics.h) as of `now`, with the address set that a peer's
// bad HMAC was computed over when one of our candidates reproduces it.
control::DoctorReport buildDoctorReport(const Engine& engine, proto::TimePoint now);

class ControlHandler {
 public:
  // `reload` re-reads the configuration file and applies it (the shell owns the file name).
  using ReloadFunction = std::function<tl::expected<void, std::string>()>;

  ControlHandler(Engine& engine, const os::Clock& clock, const MaintenanceStore& store,
                 ReloadFunction reload);

  std::string handleLine(std::string_view line);
  control::Response handle(const control::Request& request);

 private:
  Engine& engine_;
  const os::Clock& clock_;
  const MaintenanceStore& store_;
  ReloadFunction reload_;
};

}  // namespace carp::daemon
