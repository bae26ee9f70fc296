#pragma once
// Health tracking (design/product.md, "Health tracking"): per [[track]] the hysteresis state
// machine, the check schedule and the demotion it adds to its groups. Pure: the time is passed
// in with every call and the checks themselves are run by the caller (os probes, the exec
// runner), which reports each result back with the id it was started under.
//
// Boot: a track starts DOWN and needs `rise` consecutive passes to go UP, so a rebooted
// preferred MASTER does not take the addresses before its service is up (OpenBSD's rc demotes
// the `carp` group while booting for the same reason).
//
// Reload: a track whose check definition changed (kind, target, user, ping loss/latency limits)
// restarts as a new track (DOWN until rise; an in-flight check is cancelled). A track of which
// only interval, timeout, fall, rise, demote or groups changed keeps its state, its counters and
// its in-flight check; a changed interval takes effect from the next check.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/track_config.h"
#include "proto/types.h"

namespace carp::daemon {

enum class TrackState : std::uint8_t { kDown, kUp };
constexpr const char* toString(TrackState s) { return s == TrackState::kUp ? "UP" : "DOWN"; }

struct CheckResult {
  bool ok = false;
  std::string detail;  // "exit 3: first output line", "connect: Connection refused", ...
};

struct TrackTransition {
  std::string name;
  TrackState from = TrackState::kDown;
  TrackState to = TrackState::kDown;
  std::string detail;  // of the result that caused it
  proto::TimePoint at{};
};

// A check the caller must start now; report its result with the same id.
struct CheckStart {
  std::string name;
  std::uint64_t id = 0;
};

// What poll() asks of the caller.
struct TrackerWork {
  std::vector<CheckStart> start;   // checks to start now
  std::vector<CheckStart> cancel;  // in-flight checks to abandon (timed out or removed)
  std::vector<TrackTransition> transitions;
};

struct TrackView {
  std::string name;
  config::TrackKind kind = config::TrackKind::kExec;
  TrackState state = TrackState::kDown;
  proto::TimePoint since{};
  bool has_last = false;  // false until the first result
  CheckResult last;
  proto::TimePoint last_at{};
  int demote = 0;
  std::vector<std::string> groups;
  std::uint64_t transitions = 0;
  int consecutive = 0;  // results in a row equal to last.ok
};

class Tracker {
 public:
  // Adds, removes and changes tracks (see the header comment); cancelled checks are returned.
  // New tracks are due at once.
  TrackerWork reload(const std::vector<config::TrackConfig>& tracks, proto::TimePoint now);

  // Times out checks that ran past their timeout (a failure "timeout after N ms"), and returns
  // the checks that are due (not already in flight).
  TrackerWork poll(proto::TimePoint now);

  // The result of a check started under id; a stale id (timed out, cancelled, reloaded) is
  // ignored. Returns the transitions it caused (at most one).
  std::vector<TrackTransition> report(const std::string& name, std::uint64_t id,
                                      const CheckResult& result, proto::TimePoint now);

  // The earliest time poll() has work: a due check or a check's timeout. max() when no track.
  proto::TimePoint nextDeadline() const;

  // Sum of `demote` of DOWN tracks, per group (every group of every track present, 0 if none
  // DOWN). The engine applies the difference to DemotionGroups.
  std::map<std::string, long long> demotion() const;

  std::vector<TrackView> view() const;
  const config::TrackConfig* config(const std::string& name) const;

 private:
  struct Track {
    config::TrackConfig config;
    TrackState state = TrackState::kDown;
    proto::TimePoint since{};
    bool has_last = false;
    CheckResult last;
    proto::TimePoint last_at{};
    std::uint64_t transitions = 0;
    int consecutive = 0;
    proto::TimePoint next_due{};
    std::uint64_t in_flight = 0;  // id of the running check, 0 when none
    proto::TimePoint started{};
  };

  void apply(Track& t, const CheckResult& result, proto::TimePoint now,
             std::vector<TrackTransition>& out);
  static bool sameCheck(const config::TrackConfig& a, const config::TrackConfig& b);

  std::map<std::string, Track> tracks_;
  std::uint64_t next_id_ = 1;
};

}  // namespace carp::daemon
