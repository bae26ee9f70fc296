#pragma once
// A simulated LAN of CARP hosts, each running one VhidMachine per VHID, driven by a fake clock
// (discrete-event simulation). Advertisements are delivered to every other running host with
// the same VHID, subject to configurable loss, delay and partitions. No sockets, no sleeping:
// minutes of protocol time run in milliseconds, and every deadline is exact to the microsecond.

#include <cstdint>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <vector>

#include "proto/state_machine.h"

namespace carp::testing {

struct TransitionRecord {
  proto::TimePoint at;
  int host;
  std::uint8_t vhid;
  proto::State from;
  proto::State to;
  proto::Reason reason;
};

struct AdvertRecord {
  proto::TimePoint at;
  int host;
  std::uint8_t vhid;
  proto::action::SendAdvert advert;
};

class SimLan {
 public:
  explicit SimLan(std::uint64_t seed = 1);

  // Adds a host running one machine per settings entry (VHIDs must differ). Returns its index.
  int addHost(const std::vector<proto::VhidSettings>& vhids);

  void start(int host, bool link_up = true);
  void startAll();
  // kill -9: the host disappears without a word.
  void crash(int host);
  // Graceful stop: bow-out for every MASTER VHID, then silence.
  void stop(int host);
  // A crashed or stopped host comes back with fresh machines (as a restarted daemon).
  void restart(int host);

  // The parent link of one VHID (or, with vhid 0, of all the host's VHIDs) goes down / up.
  void linkDown(int host, int vhid = 0);
  void linkUp(int host, int vhid = 0);
  // Adds delta to the host's "carp" demotion group (never below 0, as in OpenBSD).
  void demote(int host, int delta);
  void force(int host, std::uint8_t vhid, proto::State state);
  void maintenance(int host, bool on);
  // Makes the next `count` sends of the host fail (send errors).
  void failSends(int host, int count);

  void setLoss(double probability) { loss_ = probability; }
  void setDelay(proto::Duration delay) { delay_ = delay; }
  // Hosts in different sides cannot hear each other until heal().
  void partition(const std::set<int>& side_a);
  void heal();

  void runFor(proto::Duration d);
  proto::TimePoint now() const { return now_; }

  proto::State state(int host, std::uint8_t vhid) const;
  int masterCount(std::uint8_t vhid) const;
  // The single MASTER of the VHID, or -1 if there is none or more than one.
  int masterOf(std::uint8_t vhid) const;
  bool holdsAddresses(int host, std::uint8_t vhid) const;
  int announcements(int host, std::uint8_t vhid) const;
  int demotion(int host) const { return hosts_[host].demotion; }
  std::size_t hostCount() const { return hosts_.size(); }

  const std::vector<TransitionRecord>& transitions() const { return transitions_; }
  const std::vector<AdvertRecord>& adverts() const { return adverts_; }

 private:
  struct VhidSlot {
    std::unique_ptr<proto::VhidMachine> machine;
    std::uint64_t timer_generation[proto::kTimerCount] = {};
    bool addresses = false;
    int announcements = 0;
  };
  struct Host {
    std::vector<proto::VhidSettings> settings;
    std::map<std::uint8_t, VhidSlot> vhids;
    bool running = false;
    int demotion = 0;
    int failing_sends = 0;
    int side = 0;
  };
  struct Pending {
    proto::TimePoint at;
    std::uint64_t sequence;
    int host;
    std::uint8_t vhid;
    bool is_timer;
    proto::TimerId timer;
    std::uint64_t generation;
    proto::event::Advert advert;
    bool operator>(const Pending& o) const {
      return at != o.at ? at > o.at : sequence > o.sequence;
    }
  };

  void dispatch(int host, std::uint8_t vhid, const proto::Event& event);
  void apply(int host, std::uint8_t vhid, const proto::ActionList& actions);
  void broadcast(int from, std::uint8_t vhid, const proto::action::SendAdvert& advert);
  void resetMachines(Host& h);
  void schedule(Pending p);

  std::vector<Host> hosts_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> queue_;
  std::uint64_t sequence_ = 0;
  // Timer generations are unique across restarts, so a dead machine's timer never fires.
  std::uint64_t generation_ = 0;
  proto::TimePoint now_{};
  double loss_ = 0.0;
  proto::Duration delay_{0};
  std::mt19937_64 rng_;
  std::vector<TransitionRecord> transitions_;
  std::vector<AdvertRecord> adverts_;
};

// Settings for tests: VHID `vhid`, advbase/advskew, IPv4 only unless told otherwise.
proto::VhidSettings vhidSettings(int vhid, int advbase, int advskew, bool preempt = false,
                                 bool ipv6 = false);

}  // namespace carp::testing
