#pragma once
// The per-VHID CARP state machine: a pure function of (state, event, now) that returns the
// actions the daemon must carry out. It never reads a clock, touches a socket or logs.
// Rules follow OpenBSD ip_carp.c rev 1.370 (carp_proto_input_c, carp_master_down,
// carp_setrun, carp_carpdev_state), with FreeBSD peers in mind (carp-wire.md §4).

#include <array>
#include <cstddef>
#include <cstdint>
#include <variant>

#include "proto/timing.h"
#include "proto/types.h"

namespace carp::proto {

enum class TimerId : std::uint8_t { kAdvertise, kMasterDownV4, kMasterDownV6 };
inline constexpr std::size_t kTimerCount = 3;

// Why a transition happened; logged and counted by the daemon.
enum class Reason : std::uint8_t {
  kStarted,      // INIT -> BACKUP at start or link up
  kMasterDown,   // no advertisement within the master-down interval
  kPreempt,      // preempt on, and we advertise faster than the MASTER
  kPeerDemoted,  // the MASTER advertises a higher demote count than ours
  kPeerTooSlow,  // the MASTER's interval exceeds our master-down interval (catches bow-outs)
  kPeerBetter,   // as MASTER we heard an equal-or-better advertisement: yield
  kLinkDown,     // parent interface lost its link
  kForced,       // carpctl state
  kMaintenance,  // carpctl maintenance on
  kStopped,      // graceful stop
  kResumed,      // restarted soon after dying as MASTER, before any backup could take over
};
const char* toString(Reason reason) noexcept;

// Why the machine asks for its demotion groups to be adjusted.
enum class DemotionCause : std::uint8_t { kLinkDown, kSendErrors };

// Settings fixed for the lifetime of a machine (a reload that changes them builds a new one).
struct VhidSettings {
  Vhid vhid;
  AdvBase advbase;
  AdvSkew advskew;
  bool preempt = false;   // net.inet.carp.preempt
  bool has_ipv4 = false;  // advertise and time out on IPv4
  bool has_ipv6 = false;  // advertise and time out on IPv6
  // FreeBSD peers ignore the demote byte: also add the demotion to the advertised advskew,
  // clamped to 240 (FreeBSD ip_carp.c DEMOTE_ADVSKEW).
  bool demotion_in_advskew = false;
  MasterDownFormula master_down = MasterDownFormula::kOpenBsd;
};

namespace event {
struct Start {
  bool link_up = true;
  // This host was MASTER when its previous daemon died, so recently that no backup's
  // master-down interval can have run out (the daemon checks): take MASTER back at once
  // instead of waiting as BACKUP for a master that will never advertise again.
  bool resume_master = false;
};
struct Stop {};
// A valid advertisement for this VHID (already checked for TTL, checksum, HMAC, loop).
struct Advert {
  Family family = Family::kIPv4;
  std::uint8_t advbase = 0;
  std::uint8_t advskew = 0;
  std::uint8_t demote = 0;
};
struct TimerFired {
  TimerId timer = TimerId::kAdvertise;
};
struct LinkDown {};
struct LinkUp {};
// The sum of the VHID's demotion group counters changed.
struct DemotionChanged {
  Demote demote = Demote::none();
};
struct ForceState {
  State state = State::kBackup;  // kMaster or kBackup
};
struct Maintenance {
  bool on = false;
};
// Outcome of the last SendAdvert the daemon carried out.
struct SendResult {
  bool ok = true;
};
}  // namespace event

using Event = std::variant<event::Start, event::Stop, event::Advert, event::TimerFired,
                           event::LinkDown, event::LinkUp, event::DemotionChanged,
                           event::ForceState, event::Maintenance, event::SendResult>;

namespace action {
// Send one advertisement on every family the VHID has addresses in, with these wire values.
struct SendAdvert {
  std::uint8_t advbase = 0;
  std::uint8_t advskew = 0;
  std::uint8_t demote = 0;
  bool bow_out = false;  // advbase = advskew = 255 (OpenBSD carp_ioctl, sc_bow_out)
  auto operator<=>(const SendAdvert&) const = default;
};
// Arm (or re-arm) a timer to fire at an absolute monotonic time.
struct ArmTimer {
  TimerId timer = TimerId::kAdvertise;
  TimePoint at{};
  auto operator<=>(const ArmTimer&) const = default;
};
struct CancelTimer {
  TimerId timer = TimerId::kAdvertise;
  auto operator<=>(const CancelTimer&) const = default;
};
// Put the virtual addresses on the interface / take them off.
struct AddAddresses {
  auto operator<=>(const AddAddresses&) const = default;
};
struct RemoveAddresses {
  auto operator<=>(const RemoveAddresses&) const = default;
};
// One gratuitous ARP per IPv4 address and one unsolicited NA per IPv6 address.
struct Announce {
  auto operator<=>(const Announce&) const = default;
};
struct Transition {
  State from = State::kInit;
  State to = State::kInit;
  Reason reason = Reason::kStarted;
  auto operator<=>(const Transition&) const = default;
};
// Add delta to every demotion group of this VHID (OpenBSD carp_group_demote_adj).
struct AdjustDemotion {
  int delta = 0;
  DemotionCause cause = DemotionCause::kLinkDown;
  auto operator<=>(const AdjustDemotion&) const = default;
};
}  // namespace action

using Action = std::variant<action::SendAdvert, action::ArmTimer, action::CancelTimer,
                            action::AddAddresses, action::RemoveAddresses, action::Announce,
                            action::Transition, action::AdjustDemotion>;

// A fixed-capacity list, so that handling an event never allocates. No event produces more
// than eight actions; the capacity leaves room.
class ActionList {
 public:
  static constexpr std::size_t kCapacity = 12;
  // Past the capacity an action is dropped and overflowed() says so (the daemon logs it as an
  // internal error; the state machine tests and fuzzer assert it never happens).
  void push(const Action& a) noexcept {
    if (size_ < kCapacity) {
      items_[size_++] = a;
    } else {
      overflowed_ = true;
    }
  }
  bool overflowed() const noexcept { return overflowed_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const Action& operator[](std::size_t i) const noexcept { return items_[i]; }
  const Action* begin() const noexcept { return items_.data(); }
  const Action* end() const noexcept { return items_.data() + size_; }

 private:
  std::array<Action, kCapacity> items_{};
  std::size_t size_ = 0;
  bool overflowed_ = false;
};

class VhidMachine {
 public:
  explicit VhidMachine(const VhidSettings& settings) noexcept;

  // Feeds one event at monotonic time `now`; returns what to do, in order.
  ActionList handle(const Event& event, TimePoint now) noexcept;

  State state() const noexcept { return state_; }
  // preempt is host-wide (net.inet.carp.preempt) and may change at runtime, as the sysctl can.
  void setPreempt(bool preempt) noexcept { settings_.preempt = preempt; }
  const VhidSettings& settings() const noexcept { return settings_; }
  bool maintenance() const noexcept { return maintenance_; }
  // The demote byte and advskew this VHID puts on the wire now (demotion and maintenance
  // included).
  std::uint8_t wireDemote() const noexcept;
  std::uint8_t wireAdvskew() const noexcept;

 private:
  void onStart(const event::Start& e, TimePoint now, ActionList& out) noexcept;
  void onStop(ActionList& out) noexcept;
  void onAdvert(const event::Advert& e, TimePoint now, ActionList& out) noexcept;
  void onTimer(const event::TimerFired& e, TimePoint now, ActionList& out) noexcept;
  void onLinkDown(ActionList& out) noexcept;
  void onLinkUp(TimePoint now, ActionList& out) noexcept;
  void onDemotion(const event::DemotionChanged& e, TimePoint now, ActionList& out) noexcept;
  void onForce(const event::ForceState& e, TimePoint now, ActionList& out) noexcept;
  void onMaintenance(const event::Maintenance& e, TimePoint now, ActionList& out) noexcept;
  void onSendResult(const event::SendResult& e, ActionList& out) noexcept;

  void becomeMaster(Reason reason, TimePoint now, ActionList& out) noexcept;
  void becomeBackup(Reason reason, TimePoint now, ActionList& out) noexcept;
  void leaveMaster(Reason reason, TimePoint now, ActionList& out, bool bow_out = false) noexcept;
  void sendAdvert(TimePoint now, ActionList& out) noexcept;
  void armMasterDown(TimePoint now, ActionList& out) noexcept;
  void armMasterDown(Family family, TimePoint now, ActionList& out) noexcept;
  void cancelAllTimers(ActionList& out) noexcept;
  void setState(State to, Reason reason, ActionList& out) noexcept;
  Duration myInterval() const noexcept;

  VhidSettings settings_;
  State state_ = State::kInit;
  Demote demote_ = Demote::none();
  bool maintenance_ = false;
  bool link_suppressed_ = false;  // OpenBSD sc_suppress: INIT because the link is down
  int delayed_announce_ = -1;     // OpenBSD sc_delayed_arp
  int send_errors_ = 0;           // consecutive failed sends
  int send_successes_ = 0;        // consecutive good sends after the error demotion
  bool send_error_demoted_ = false;
  TimePoint last_reannounce_{};
};

}  // namespace carp::proto
