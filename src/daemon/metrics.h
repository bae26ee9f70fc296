#pragma once
// The engine's state and counters as Prometheus metrics (text exposition format 0.0.4), for the
// optional HTTP listener of [global] metrics.

#include <string>
#include <string_view>

#include "daemon/engine.h"
#include "proto/state_machine.h"

namespace carp::daemon {

// Text exposition format 0.0.4 (served as "text/plain; version=0.0.4; charset=utf-8"): every
// metric family with # HELP and # TYPE lines, VHIDs in configuration order, label values
// escaped. Counters of every reason and family are present from the start (at 0), so that
// rate() and increase() see the first event. Holds no secret: only names, numbers and states.
// `version` goes into carpd_build_info (the daemon library does not know the build's version).
std::string renderMetrics(const Engine& engine, std::string_view version);

// The stable label value for a transition reason: "started", "master_down", "preempt",
// "peer_demoted", "peer_too_slow", "peer_better", "link_down", "forced", "maintenance",
// "stopped". Dashboards and alerts depend on these; never rename one.
const char* metricsLabel(proto::Reason reason) noexcept;

}  // namespace carp::daemon
