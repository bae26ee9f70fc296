#include "daemon/tracker.h"

#include <algorithm>
#include <chrono>
#include <set>

namespace carp::daemon {

bool Tracker::sameCheck(const config::TrackConfig& a, const config::TrackConfig& b) {
  return a.kind == b.kind && a.exec == b.exec && a.user == b.user && a.process == b.process &&
         a.file == b.file && a.interface == b.interface && a.ping == b.ping &&
         a.tcp_address == b.tcp_address && a.tcp_port == b.tcp_port &&
         a.loss_percent == b.loss_percent && a.latency == b.latency;
}

TrackerWork Tracker::reload(const std::vector<config::TrackConfig>& tracks, proto::TimePoint now) {
  TrackerWork work;
  std::set<std::string> wanted;
  for (const auto& c : tracks) wanted.insert(c.name);
  for (auto it = tracks_.begin(); it != tracks_.end();) {
    if (wanted.count(it->first) == 0) {
      if (it->second.in_flight != 0) work.cancel.push_back({it->first, it->second.in_flight});
      it = tracks_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& c : tracks) {
    auto it = tracks_.find(c.name);
    if (it != tracks_.end() && sameCheck(it->second.config, c)) {
      it->second.config = c;  // thresholds, demote, groups, interval: state kept
      continue;
    }
    if (it != tracks_.end() && it->second.in_flight != 0) {
      work.cancel.push_back({c.name, it->second.in_flight});
    }
    Track t;
    t.config = c;
    t.since = now;
    t.next_due = now;
    tracks_.insert_or_assign(c.name, std::move(t));
  }
  return work;
}

TrackerWork Tracker::poll(proto::TimePoint now) {
  TrackerWork work;
  for (auto& [name, t] : tracks_) {
    if (t.in_flight != 0 && now >= t.started + t.config.timeout) {
      work.cancel.push_back({name, t.in_flight});
      t.in_flight = 0;
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.config.timeout);
      apply(t, {false, "timeout after " + std::to_string(ms.count()) + " ms"}, now,
            work.transitions);
    }
    if (t.in_flight == 0 && now >= t.next_due) {
      t.in_flight = next_id_++;
      t.started = now;
      // From the start of this check, so a slow check does not stretch the period; a check
      // that finishes after its next due time is followed at once by the next one.
      t.next_due = now + t.config.interval;
      work.start.push_back({name, t.in_flight});
    }
  }
  return work;
}

std::vector<TrackTransition> Tracker::report(const std::string& name, std::uint64_t id,
                                             const CheckResult& result, proto::TimePoint now) {
  std::vector<TrackTransition> out;
  auto it = tracks_.find(name);
  if (it == tracks_.end() || id == 0 || it->second.in_flight != id) return out;
  it->second.in_flight = 0;
  apply(it->second, result, now, out);
  return out;
}

void Tracker::apply(Track& t, const CheckResult& result, proto::TimePoint now,
                    std::vector<TrackTransition>& out) {
  if (t.has_last && t.last.ok == result.ok) {
    ++t.consecutive;
  } else {
    t.consecutive = 1;
  }
  t.has_last = true;
  t.last = result;
  t.last_at = now;
  TrackState to = t.state;
  if (t.state == TrackState::kDown && result.ok && t.consecutive >= t.config.rise) {
    to = TrackState::kUp;
  } else if (t.state == TrackState::kUp && !result.ok && t.consecutive >= t.config.fall) {
    to = TrackState::kDown;
  }
  if (to == t.state) return;
  out.push_back({t.config.name, t.state, to, result.detail, now});
  t.state = to;
  t.since = now;
  ++t.transitions;
}

proto::TimePoint Tracker::nextDeadline() const {
  auto best = proto::TimePoint::max();
  for (const auto& [name, t] : tracks_) {
    best = std::min(best, t.in_flight != 0 ? t.started + t.config.timeout : t.next_due);
  }
  return best;
}

std::map<std::string, long long> Tracker::demotion() const {
  std::map<std::string, long long> out;
  for (const auto& [name, t] : tracks_) {
    for (const auto& g : t.config.groups) {
      auto& sum = out[g];
      if (t.state == TrackState::kDown) sum += t.config.demote;
    }
  }
  return out;
}

std::vector<TrackView> Tracker::view() const {
  std::vector<TrackView> out;
  out.reserve(tracks_.size());
  for (const auto& [name, t] : tracks_) {
    out.push_back({name, t.config.kind, t.state, t.since, t.has_last, t.last, t.last_at,
                   t.config.demote, t.config.groups, t.transitions, t.consecutive});
  }
  return out;
}

const config::TrackConfig* Tracker::config(const std::string& name) const {
  auto it = tracks_.find(name);
  return it == tracks_.end() ? nullptr : &it->second.config;
}

}  // namespace carp::daemon
