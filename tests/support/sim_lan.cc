#include "support/sim_lan.h"

#include <stdexcept>
#include <variant>

namespace carp::testing {

using namespace carp::proto;

VhidSettings vhidSettings(int vhid, int advbase, int advskew, bool preempt, bool ipv6) {
  VhidSettings s{*Vhid::make(vhid), *AdvBase::make(advbase), *AdvSkew::make(advskew)};
  s.preempt = preempt;
  s.has_ipv4 = true;
  s.has_ipv6 = ipv6;
  return s;
}

SimLan::SimLan(std::uint64_t seed) : rng_(seed) {}

int SimLan::addHost(const std::vector<VhidSettings>& vhids) {
  Host h;
  h.settings = vhids;
  resetMachines(h);
  hosts_.push_back(std::move(h));
  return static_cast<int>(hosts_.size()) - 1;
}

void SimLan::resetMachines(Host& h) {
  h.vhids.clear();
  for (const auto& s : h.settings) {
    VhidSlot slot;
    slot.machine = std::make_unique<VhidMachine>(s);
    h.vhids.emplace(s.vhid.value(), std::move(slot));
  }
  h.demotion = 0;
}

void SimLan::start(int host, bool link_up) {
  hosts_[host].running = true;
  for (auto& [vhid, slot] : hosts_[host].vhids) dispatch(host, vhid, event::Start{link_up});
}

void SimLan::startAll() {
  for (int i = 0; i < static_cast<int>(hosts_.size()); ++i) start(i);
}

void SimLan::crash(int host) {
  Host& h = hosts_[host];
  h.running = false;
  for (auto& [vhid, slot] : h.vhids) {
    for (auto& g : slot.timer_generation) g = ++generation_;  // its timers die with it
    slot.addresses = false;
  }
}

void SimLan::stop(int host) {
  for (auto& [vhid, slot] : hosts_[host].vhids) dispatch(host, vhid, event::Stop{});
  crash(host);
}

void SimLan::restart(int host) {
  crash(host);
  resetMachines(hosts_[host]);
  start(host);
}

void SimLan::linkDown(int host, int only) {
  for (auto& [vhid, slot] : hosts_[host].vhids) {
    if (only == 0 || only == vhid) dispatch(host, vhid, event::LinkDown{});
  }
}

void SimLan::linkUp(int host, int only) {
  for (auto& [vhid, slot] : hosts_[host].vhids) {
    if (only == 0 || only == vhid) dispatch(host, vhid, event::LinkUp{});
  }
}

void SimLan::demote(int host, int delta) {
  Host& h = hosts_[host];
  h.demotion = std::max(0, h.demotion + delta);
  for (auto& [vhid, slot] : h.vhids) {
    dispatch(host, vhid, event::DemotionChanged{Demote::fromSum(h.demotion)});
  }
}

void SimLan::force(int host, std::uint8_t vhid, State state) {
  dispatch(host, vhid, event::ForceState{state});
}

void SimLan::maintenance(int host, bool on) {
  for (auto& [vhid, slot] : hosts_[host].vhids) dispatch(host, vhid, event::Maintenance{on});
}

void SimLan::failSends(int host, int count) { hosts_[host].failing_sends = count; }

void SimLan::partition(const std::set<int>& side_a) {
  for (int i = 0; i < static_cast<int>(hosts_.size()); ++i) {
    hosts_[i].side = side_a.count(i) ? 1 : 0;
  }
}

void SimLan::heal() {
  for (auto& h : hosts_) h.side = 0;
}

void SimLan::dispatch(int host, std::uint8_t vhid, const Event& event) {
  Host& h = hosts_[host];
  if (!h.running) return;
  auto it = h.vhids.find(vhid);
  if (it == h.vhids.end()) return;
  apply(host, vhid, it->second.machine->handle(event, now_));
}

void SimLan::apply(int host, std::uint8_t vhid, const ActionList& actions) {
  for (const Action& a : actions) {
    Host& h = hosts_[host];
    VhidSlot& slot = h.vhids.at(vhid);
    if (const auto* send = std::get_if<action::SendAdvert>(&a)) {
      bool ok = true;
      if (h.failing_sends > 0) {
        --h.failing_sends;
        ok = false;
      } else {
        adverts_.push_back({now_, host, vhid, *send});
        broadcast(host, vhid, *send);
      }
      apply(host, vhid, slot.machine->handle(event::SendResult{ok}, now_));
    } else if (const auto* arm = std::get_if<action::ArmTimer>(&a)) {
      const auto index = static_cast<std::size_t>(arm->timer);
      slot.timer_generation[index] = ++generation_;
      schedule({arm->at, 0, host, vhid, true, arm->timer, generation_, {}});
    } else if (const auto* cancel = std::get_if<action::CancelTimer>(&a)) {
      slot.timer_generation[static_cast<std::size_t>(cancel->timer)] = ++generation_;
    } else if (std::holds_alternative<action::AddAddresses>(a)) {
      slot.addresses = true;
    } else if (std::holds_alternative<action::RemoveAddresses>(a)) {
      slot.addresses = false;
    } else if (std::holds_alternative<action::Announce>(a)) {
      ++slot.announcements;
    } else if (const auto* t = std::get_if<action::Transition>(&a)) {
      transitions_.push_back({now_, host, vhid, t->from, t->to, t->reason});
    } else if (const auto* adj = std::get_if<action::AdjustDemotion>(&a)) {
      demote(host, adj->delta);
    }
  }
}

void SimLan::broadcast(int from, std::uint8_t vhid, const action::SendAdvert& advert) {
  const VhidSettings& s = hosts_[from].vhids.at(vhid).machine->settings();
  for (int to = 0; to < static_cast<int>(hosts_.size()); ++to) {
    if (to == from || !hosts_[to].running || hosts_[to].side != hosts_[from].side) continue;
    if (!hosts_[to].vhids.count(vhid)) continue;
    for (Family family : {Family::kIPv4, Family::kIPv6}) {
      if ((family == Family::kIPv4 && !s.has_ipv4) || (family == Family::kIPv6 && !s.has_ipv6)) {
        continue;
      }
      if (loss_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < loss_) continue;
      schedule({now_ + delay_, 0, to, vhid, false, TimerId::kAdvertise, 0,
                event::Advert{family, advert.advbase, advert.advskew, advert.demote}});
    }
  }
}

void SimLan::schedule(Pending p) {
  p.sequence = sequence_++;
  queue_.push(p);
}

void SimLan::runFor(Duration d) {
  const TimePoint end = now_ + d;
  while (!queue_.empty() && queue_.top().at <= end) {
    Pending p = queue_.top();
    queue_.pop();
    now_ = p.at;
    Host& h = hosts_[p.host];
    if (!h.running) continue;
    if (p.is_timer) {
      const auto index = static_cast<std::size_t>(p.timer);
      if (h.vhids.at(p.vhid).timer_generation[index] != p.generation) continue;  // cancelled
      dispatch(p.host, p.vhid, event::TimerFired{p.timer});
    } else {
      dispatch(p.host, p.vhid, p.advert);
    }
  }
  now_ = end;
}

State SimLan::state(int host, std::uint8_t vhid) const {
  const Host& h = hosts_[host];
  if (!h.running) return State::kInit;
  return h.vhids.at(vhid).machine->state();
}

int SimLan::masterCount(std::uint8_t vhid) const {
  int n = 0;
  for (int i = 0; i < static_cast<int>(hosts_.size()); ++i) {
    if (hosts_[i].vhids.count(vhid) && state(i, vhid) == State::kMaster) ++n;
  }
  return n;
}

int SimLan::masterOf(std::uint8_t vhid) const {
  int found = -1;
  for (int i = 0; i < static_cast<int>(hosts_.size()); ++i) {
    if (hosts_[i].vhids.count(vhid) && state(i, vhid) == State::kMaster) {
      if (found != -1) return -1;
      found = i;
    }
  }
  return found;
}

bool SimLan::holdsAddresses(int host, std::uint8_t vhid) const {
  return hosts_[host].running && hosts_[host].vhids.at(vhid).addresses;
}

int SimLan::announcements(int host, std::uint8_t vhid) const {
  return hosts_[host].vhids.at(vhid).announcements;
}

}  // namespace carp::testing
