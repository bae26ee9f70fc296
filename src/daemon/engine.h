#pragma once
// The carpd engine: every VHID of the host, keyed by (interface, vhid). It feeds events from
// the OS edge into the per-VHID state machines and carries out their actions through the
// interfaces of src/os. It owns no sockets and reads no clock: the shell (app/main.cc) passes
// received packets, link changes and the current time in.

#include <spdlog/logger.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "config/config.h"
#include "daemon/counters.h"
#include "daemon/demotion_groups.h"
#include "daemon/diagnostics.h"
#include "daemon/timer_queue.h"
#include "os/address_manager.h"
#include "os/interfaces.h"
#include "os/load_balancer.h"
#include "os/master_record.h"
#include "os/packet_io.h"
#include "os/vhid_claims.h"
#include "proto/hmac.h"
#include "proto/state_machine.h"
#include "proto/validate.h"

namespace carp::daemon {

using WallClock = std::function<std::chrono::system_clock::time_point()>;

// A state change, as hooks and metrics see it.
struct TransitionEvent {
  std::string interface;
  int vhid = 0;
  proto::State from = proto::State::kInit;
  proto::State to = proto::State::kInit;
  proto::Reason reason = proto::Reason::kStarted;
  std::chrono::system_clock::time_point at;
};

struct EngineDeps {
  os::FrameSender& frames;
  os::IpSender& ip;
  os::AddressManager& addresses;
  os::InterfaceDirectory& interfaces;
  WallClock wall_clock;
  std::shared_ptr<spdlog::logger> log;
  // Called after every transition (hooks); may be empty. Must not block.
  std::function<void(const TransitionEvent&)> on_transition = {};
  // Remembers MASTER advertisements across a crash, so that a restart takes them back; may be
  // null (no resume).
  os::MasterRecord* master_record = nullptr;
  // Carries out load balancing (VHIDs with `nodes`); may be null when none balances.
  os::LoadBalancer* balancer = nullptr;
  // Which (interface, vhid) other live carpd processes of this network namespace run; may be
  // null (no isolation, as in the unit tests).
  os::VhidClaims* claims = nullptr;
};

// How long the kernel filter of a balancing group keeps accepting after the last advertisement
// of one of its MASTER nodes: three advertisement intervals (at least a second), when the
// fastest backup would take over from a carpd that died.
proto::Duration balancingLease(proto::AdvBase advbase) noexcept;

// How soon after its last advertisement as MASTER a restarted carpd may take a VHID back
// without waiting: two advertisement intervals, one less than the shortest master-down
// interval a peer with the same advbase can have (3 x advbase, at advskew 0, on OpenBSD and
// FreeBSD alike), so that no backup can have taken over meanwhile. Zero in the sub-second
// mode (advbase 0), where there is no such margin.
proto::Duration resumeWindow(proto::AdvBase advbase) noexcept;

struct InterfaceRuntime;

// One configured VHID and everything that belongs to it at runtime.
struct VhidRuntime {
  std::uint64_t id = 0;  // owner id in the timer queue
  config::VhidConfig config;
  proto::VhidMachine machine;
  proto::HmacSigner signer;
  proto::VhidCredentials credentials;  // for validateAdvert; points at signer
  os::VhidBinding binding;
  InterfaceRuntime* iface = nullptr;
  Counters counters;
  // Source of the MASTER's advertisements as last heard; ours as MASTER. Formatted only for
  // status: the receive path does not build strings.
  std::optional<proto::IpAddress> master;
  std::chrono::system_clock::time_point since;
  bool addresses_on = false;
  proto::TimePoint last_heard{};  // the last valid advertisement of another MASTER
  // How long the VHID was without a MASTER before our last takeover: from the last
  // advertisement heard to our transition (the detection time; at least the master-down
  // interval unless the master bowed out).
  std::optional<proto::Duration> last_takeover;
  std::map<proto::Reason, std::uint64_t> transitions;  // transitions by reason
  VhidDiagnostics diagnostics;                         // for carpctl doctor
  // Load balancing, on the group's leader (lowest vhid) only: the last error of the filter,
  // logged once until it changes.
  std::string balancer_error;
};

// A parent interface with the VHIDs configured on it.
struct InterfaceRuntime final : proto::VhidDirectory {
  std::string name;
  os::InterfaceInfo info;
  std::array<VhidRuntime*, 256> by_vhid{};  // O(1) dispatch of a received advertisement
  InterfaceDiagnostics diagnostics;         // VRRP routers heard, for carpctl doctor

  const proto::VhidCredentials* find(std::uint8_t vhid) const noexcept override {
    const VhidRuntime* v = by_vhid[vhid];
    return v ? &v->credentials : nullptr;
  }
};

// Where the shell must listen: one raw socket per (interface, family).
struct Listener {
  int ifindex = 0;
  std::string name;
  proto::Family family = proto::Family::kIPv4;
  bool multicast = true;  // join 224.0.0.18 / ff02::12 (false when every VHID has a peer)
  auto operator<=>(const Listener&) const = default;
};

class Engine {
 public:
  // Resolves the interfaces, claims and builds the VHIDs. Throws std::runtime_error with a
  // one-line reason (an interface that does not exist, an HMAC context that cannot be built, a
  // VHID that another live carpd runs).
  Engine(EngineDeps deps, config::Config config, bool maintenance);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Removes stale addresses of an earlier carpd, attaches every VHID and starts it.
  void start(proto::TimePoint now);
  // Graceful stop: bow-out for each MASTER VHID, addresses removed, interfaces detached.
  void stop(proto::TimePoint now) noexcept;

  void onPacket(const os::ReceivedPacket& packet, proto::Family family,
                proto::TimePoint now) noexcept;
  void onDeadline(proto::TimePoint now) noexcept;
  std::optional<proto::TimePoint> nextDeadline() const { return timers_.next(); }
  void onLink(int ifindex, bool running, proto::TimePoint now) noexcept;
  // An address disappeared from an interface; if it is one of a MASTER's virtual addresses,
  // it is put back.
  void onAddressRemoved(int ifindex, const proto::InterfaceAddress& address) noexcept;
  // The interface's own addresses changed: refresh the advertisement sources.
  void onInterfaceChanged(int ifindex) noexcept;

  tl::expected<void, std::string> demote(const std::string& group, long long delta,
                                         proto::TimePoint now);
  tl::expected<void, std::string> forceState(const std::string& interface, int vhid,
                                             proto::State state, proto::TimePoint now);
  tl::expected<void, std::string> setMaintenance(bool on, proto::TimePoint now);
  // Applies a new configuration VHID by VHID: unchanged VHIDs keep their state, timers and
  // counter; removed ones stop (with a bow-out when MASTER); new and changed ones start.
  tl::expected<void, std::string> reload(config::Config config, proto::TimePoint now);

  std::vector<Listener> listeners() const;
  const config::GlobalConfig& global() const { return global_; }
  const std::vector<std::unique_ptr<VhidRuntime>>& vhids() const { return vhids_; }
  // The interface runtime of a VHID's parent, by name; null if no VHID uses it.
  const InterfaceRuntime* interfaceRuntime(const std::string& name) const;
  const DemotionGroups& groups() const { return groups_; }
  const Counters& stats() const { return stats_; }
  bool maintenance() const { return maintenance_; }

 private:
  std::unique_ptr<VhidRuntime> makeVhid(config::VhidConfig config);
  InterfaceRuntime& interfaceFor(const std::string& name);
  void attachAndStart(VhidRuntime& v, proto::TimePoint now);
  // The VHID was MASTER in a carpd that died within resumeWindow() of now.
  bool mayResume(const VhidRuntime& v, proto::TimePoint now) const noexcept;
  void stopVhid(VhidRuntime& v, proto::TimePoint now) noexcept;
  void dispatch(VhidRuntime& v, const proto::Event& event, proto::TimePoint now) noexcept;
  void apply(VhidRuntime& v, const proto::ActionList& actions, proto::TimePoint now) noexcept;
  bool sendAdvert(VhidRuntime& v, const proto::action::SendAdvert& advert) noexcept;
  void announce(VhidRuntime& v) noexcept;
  void setAddresses(VhidRuntime& v, bool on) noexcept;
  // Load balancing: the nodes of v's group (same interface, same `nodes`), in vhids_ order.
  std::vector<VhidRuntime*> balancingGroup(const VhidRuntime& v) const;
  VhidRuntime& balancingLeader(const VhidRuntime& v) const;
  // Recomputes the group's MASTER mask: addresses on while any node is MASTER (on the leader's
  // binding), and the filter updated and its lease renewed.
  void syncBalancing(const VhidRuntime& v, proto::TimePoint now) noexcept;
  void removeBalancing(const VhidRuntime& v) noexcept;
  void adjustDemotion(VhidRuntime& v, int delta, proto::TimePoint now) noexcept;
  void refreshDemotion(proto::TimePoint now) noexcept;
  // Keeps what carpctl doctor reports about a dropped packet: a VRRP router, a bad HMAC.
  void recordDrop(InterfaceRuntime& iface, proto::DropReason reason,
                  const os::ReceivedPacket& packet, proto::Family family,
                  proto::TimePoint now) noexcept;
  void logDrop(const InterfaceRuntime& iface, proto::DropReason reason,
               const proto::IpAddress& source, proto::TimePoint now) noexcept;
  void dropUnusedInterfaces();
  void reindex();
  // Claims each (interface, vhid) of `configs` that is not claimed yet; on a refusal releases
  // what this call claimed and returns the refusal.
  tl::expected<void, std::string> claimAll(const std::vector<config::VhidConfig>& configs);
  VhidRuntime* findVhid(const std::string& interface, int vhid) const;
  std::optional<proto::IpAddress> advertSource(const VhidRuntime& v, proto::Family f) const;

  EngineDeps deps_;
  config::GlobalConfig global_;
  bool maintenance_ = false;
  bool started_ = false;
  bool stopping_ = false;  // VHIDs are being stopped: balancing is torn down as a whole
  std::uint64_t next_id_ = 1;
  std::vector<std::unique_ptr<VhidRuntime>> vhids_;
  std::unordered_map<std::uint64_t, VhidRuntime*> by_id_;  // timer owner -> VHID
  std::unordered_map<int, InterfaceRuntime*> by_ifindex_;  // received packet -> interface
  std::map<std::string, std::unique_ptr<InterfaceRuntime>> interfaces_;
  DemotionGroups groups_;
  TimerQueue timers_;
  Counters stats_;
  std::mt19937 ip_ids_;
  // Events waiting for the action list in progress to complete (dispatch()).
  struct PendingEvent {
    VhidRuntime* vhid;
    proto::Event event;
  };
  std::deque<PendingEvent> pending_;
  bool dispatching_ = false;
  // Rate limit for drop log lines: the last time each (interface, reason) was logged.
  std::map<std::pair<int, proto::DropReason>, proto::TimePoint> last_drop_log_;
};

}  // namespace carp::daemon
