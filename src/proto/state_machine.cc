#include "proto/state_machine.h"

#include <algorithm>

#include "proto/overloaded.h"
#include "proto/timing.h"

namespace carp::proto {
namespace {

// OpenBSD ip_carp.c carp_send_ad: CARP_SENDAD_MAX_ERRORS and CARP_SENDAD_MIN_SUCCESS.
constexpr int kSendErrorsToDemote = 3;
constexpr int kSendSuccessesToRecover = 3;
// The repeat of the gratuitous ARP comes with the second advertisement after the first one
// (OpenBSD carp_master_down sets sc_delayed_arp = 2; "to deal w/ some L3 switches").
constexpr int kDelayedAnnounceAdverts = 2;
// FreeBSD ip_carp.c CARP_MAXSKEW: the cap of advskew + demotion.
constexpr int kFreeBsdMaxSkew = 240;
constexpr std::uint8_t kBowOut = 255;

TimerId masterDownTimer(Family family) {
  return family == Family::kIPv4 ? TimerId::kMasterDownV4 : TimerId::kMasterDownV6;
}

}  // namespace

const char* toString(Reason reason) noexcept {
  switch (reason) {
    case Reason::kStarted:
      return "started";
    case Reason::kMasterDown:
      return "master down: no advertisement within the master-down interval";
    case Reason::kPreempt:
      return "preempt: we advertise more often than the master";
    case Reason::kPeerDemoted:
      return "the master is more demoted than we are";
    case Reason::kPeerTooSlow:
      return "the master advertises slower than our master-down interval (bow-out)";
    case Reason::kPeerBetter:
      return "heard an equal or better advertisement";
    case Reason::kLinkDown:
      return "link down";
    case Reason::kForced:
      return "forced by carpctl";
    case Reason::kMaintenance:
      return "maintenance mode";
    case Reason::kStopped:
      return "stopped";
    case Reason::kResumed:
      return "resumed: MASTER before a restart, within the master-down interval";
  }
  return "?";
}

VhidMachine::VhidMachine(const VhidSettings& settings) noexcept : settings_(settings) {}

std::uint8_t VhidMachine::wireDemote() const noexcept {
  return maintenance_ ? std::uint8_t{255} : demote_.value();
}

std::uint8_t VhidMachine::wireAdvskew() const noexcept {
  const int skew = settings_.advskew.steps();
  if (!settings_.demotion_in_advskew) return static_cast<std::uint8_t>(skew);
  // FreeBSD DEMOTE_ADVSKEW: advskew + demotion, clamped to [0, 240]; a configured skew above
  // 240 is kept as it is.
  const int folded = skew + wireDemote();
  if (folded <= kFreeBsdMaxSkew) return static_cast<std::uint8_t>(folded);
  return static_cast<std::uint8_t>(std::max(skew, kFreeBsdMaxSkew));
}

Duration VhidMachine::myInterval() const noexcept {
  return advertisementInterval(settings_.advbase.seconds(), wireAdvskew());
}

ActionList VhidMachine::handle(const Event& event, TimePoint now) noexcept {
  ActionList out;
  std::visit(Overloaded{
                 [&](const event::Start& e) { onStart(e, now, out); },
                 [&](const event::Stop&) { onStop(out); },
                 [&](const event::Advert& e) { onAdvert(e, now, out); },
                 [&](const event::TimerFired& e) { onTimer(e, now, out); },
                 [&](const event::LinkDown&) { onLinkDown(out); },
                 [&](const event::LinkUp&) { onLinkUp(now, out); },
                 [&](const event::DemotionChanged& e) { onDemotion(e, now, out); },
                 [&](const event::ForceState& e) { onForce(e, now, out); },
                 [&](const event::Maintenance& e) { onMaintenance(e, now, out); },
                 [&](const event::SendResult& e) { onSendResult(e, out); },
             },
             event);
  return out;
}

void VhidMachine::onStart(const event::Start& e, TimePoint now, ActionList& out) noexcept {
  if (state_ != State::kInit) return;
  if (!e.link_up) {
    // OpenBSD carp_carpdev_state: a parent without link suppresses the VHID and demotes.
    if (!link_suppressed_) {
      link_suppressed_ = true;
      out.push(action::AdjustDemotion{+1, DemotionCause::kLinkDown});
    }
    return;
  }
  // A host in maintenance or demoted would hand over again at once: let it start as BACKUP.
  if (e.resume_master && !maintenance_ && demote_.value() == 0) {
    becomeMaster(Reason::kResumed, now, out);
    return;
  }
  becomeBackup(Reason::kStarted, now, out);
}

void VhidMachine::onStop(ActionList& out) noexcept {
  if (state_ == State::kMaster) {
    // OpenBSD carp_ioctl (interface going down): one bow-out advertisement, so that a backup
    // takes over at once instead of waiting for the master-down interval.
    out.push(action::SendAdvert{kBowOut, kBowOut, wireDemote(), true});
    out.push(action::RemoveAddresses{});
  }
  cancelAllTimers(out);
  if (state_ != State::kInit) setState(State::kInit, Reason::kStopped, out);
  // Give back what this VHID added to its groups, so that a VHID removed by a reload leaves
  // the counters as they were.
  if (link_suppressed_) {
    link_suppressed_ = false;
    out.push(action::AdjustDemotion{-1, DemotionCause::kLinkDown});
  }
  if (send_error_demoted_) {
    send_error_demoted_ = false;
    out.push(action::AdjustDemotion{-1, DemotionCause::kSendErrors});
  }
}

void VhidMachine::onAdvert(const event::Advert& e, TimePoint now, ActionList& out) noexcept {
  // OpenBSD carp_proto_input_c. The own demotion is not folded into my_tv there; with
  // demotion_in_advskew it is, as FreeBSD does with DEMOTE_ADVSKEW.
  const Duration my_tv = advertisementTv(settings_.advbase.seconds(), wireAdvskew());
  const Duration ch_tv = advertisementTv(e.advbase, e.advskew);
  const int my_dem = wireDemote();
  const int ch_dem = e.demote;

  switch (state_) {
    case State::kInit:
      return;
    case State::kMaster:
      // A peer with a lower demote count always wins; otherwise an equal-or-faster peer that
      // is not more demoted wins. A tie makes the receiver yield (no address tie-breaker in
      // either kernel).
      if ((ch_tv <= my_tv && ch_dem <= my_dem) || ch_dem < my_dem) {
        leaveMaster(Reason::kPeerBetter, now, out);
        return;
      }
      // We stay MASTER and a worse MASTER is on the segment (a partition healing): announce
      // again so that switches and clients that followed it come back. At most once per
      // master-down interval, so a peer that never yields cannot make us flood.
      if (now - last_reannounce_ >= masterDownInterval(settings_.advbase.seconds(), 0)) {
        last_reannounce_ = now;
        out.push(action::Announce{});
      }
      return;
    case State::kBackup:
      // Rule 1: preempt a slower master that is not less demoted than we are.
      if (settings_.preempt && my_tv < ch_tv && ch_dem >= my_dem) {
        becomeMaster(Reason::kPreempt, now, out);
        return;
      }
      // Rule 2: take over from a more demoted master, even without preempt.
      if (ch_dem > my_dem) {
        becomeMaster(Reason::kPeerDemoted, now, out);
        return;
      }
      // Rule 3: a master slower than our master-down interval would time out anyway; this
      // catches bow-outs (advbase 255). The own skew is not tripled here, as in OpenBSD.
      if (settings_.advbase.seconds() != 0 &&
          Duration(3LL * settings_.advbase.seconds() * 1'000'000) +
                  (advertisementTv(0, wireAdvskew())) <
              ch_tv) {
        becomeMaster(Reason::kPeerTooSlow, now, out);
        return;
      }
      // Rule 4: the master is alive: re-arm this family's master-down timer only.
      armMasterDown(e.family, now, out);
      return;
  }
}

void VhidMachine::onTimer(const event::TimerFired& e, TimePoint now, ActionList& out) noexcept {
  switch (e.timer) {
    case TimerId::kAdvertise:
      if (state_ != State::kMaster) return;
      sendAdvert(now, out);
      if (delayed_announce_ > 0 && --delayed_announce_ == 0) {
        delayed_announce_ = -1;
        out.push(action::Announce{});
      }
      return;
    case TimerId::kMasterDownV4:
    case TimerId::kMasterDownV6:
      if (state_ == State::kBackup) becomeMaster(Reason::kMasterDown, now, out);
      return;
  }
}

void VhidMachine::onLinkDown(ActionList& out) noexcept {
  // OpenBSD carp_carpdev_state: cancel everything, INIT, suppress, and demote the groups by 1
  // once. Nothing is sent: the link is gone.
  cancelAllTimers(out);
  if (state_ == State::kMaster) out.push(action::RemoveAddresses{});
  if (state_ != State::kInit) setState(State::kInit, Reason::kLinkDown, out);
  delayed_announce_ = -1;
  if (!link_suppressed_) {
    link_suppressed_ = true;
    out.push(action::AdjustDemotion{+1, DemotionCause::kLinkDown});
  }
}

void VhidMachine::onLinkUp(TimePoint now, ActionList& out) noexcept {
  if (!link_suppressed_ && state_ != State::kInit) return;
  if (link_suppressed_) {
    link_suppressed_ = false;
    out.push(action::AdjustDemotion{-1, DemotionCause::kLinkDown});
  }
  if (state_ == State::kInit) becomeBackup(Reason::kStarted, now, out);
}

void VhidMachine::onDemotion(const event::DemotionChanged& e, TimePoint now,
                             ActionList& out) noexcept {
  const std::uint8_t before = wireDemote();
  demote_ = e.demote;
  // A MASTER advertises its new demotion at once, so that backups can take over without
  // waiting for the next interval (OpenBSD carp_send_ad_all, FreeBSD carp_demote_adj).
  if (state_ == State::kMaster && wireDemote() != before) sendAdvert(now, out);
}

void VhidMachine::onForce(const event::ForceState& e, TimePoint now, ActionList& out) noexcept {
  if (state_ == State::kInit) return;  // link down or not started: nothing to force
  if (e.state == State::kMaster && state_ == State::kBackup) {
    becomeMaster(Reason::kForced, now, out);
  } else if (e.state == State::kBackup && state_ == State::kMaster) {
    leaveMaster(Reason::kForced, now, out, /*bow_out=*/true);
  }
}

void VhidMachine::onMaintenance(const event::Maintenance& e, TimePoint now,
                                ActionList& out) noexcept {
  if (maintenance_ == e.on) return;
  maintenance_ = e.on;
  if (e.on && state_ == State::kMaster) {
    leaveMaster(Reason::kMaintenance, now, out, /*bow_out=*/true);
  } else if (state_ == State::kMaster) {
    // Leaving maintenance while MASTER (no other host took over): show the lower demotion.
    sendAdvert(now, out);
  }
}

void VhidMachine::onSendResult(const event::SendResult& e, ActionList& out) noexcept {
  // OpenBSD carp_send_ad: demote after repeated send errors, undo after repeated successes.
  if (!e.ok) {
    send_successes_ = 0;
    if (++send_errors_ >= kSendErrorsToDemote && !send_error_demoted_) {
      send_error_demoted_ = true;
      out.push(action::AdjustDemotion{+1, DemotionCause::kSendErrors});
    }
    return;
  }
  send_errors_ = 0;
  if (send_error_demoted_ && ++send_successes_ >= kSendSuccessesToRecover) {
    send_error_demoted_ = false;
    send_successes_ = 0;
    out.push(action::AdjustDemotion{-1, DemotionCause::kSendErrors});
  }
}

void VhidMachine::becomeMaster(Reason reason, TimePoint now, ActionList& out) noexcept {
  // OpenBSD carp_master_down: state MASTER, advertise at once, gratuitous ARP / NA now and
  // again with the second following advertisement.
  setState(State::kMaster, reason, out);
  out.push(action::AddAddresses{});
  out.push(action::CancelTimer{TimerId::kMasterDownV4});
  out.push(action::CancelTimer{TimerId::kMasterDownV6});
  sendAdvert(now, out);
  out.push(action::Announce{});
  delayed_announce_ = kDelayedAnnounceAdverts;
  last_reannounce_ = now;
}

void VhidMachine::becomeBackup(Reason reason, TimePoint now, ActionList& out) noexcept {
  setState(State::kBackup, reason, out);
  armMasterDown(now, out);
}

void VhidMachine::leaveMaster(Reason reason, TimePoint now, ActionList& out,
                              bool bow_out) noexcept {
  if (bow_out) out.push(action::SendAdvert{kBowOut, kBowOut, wireDemote(), true});
  out.push(action::CancelTimer{TimerId::kAdvertise});
  out.push(action::RemoveAddresses{});
  delayed_announce_ = -1;
  becomeBackup(reason, now, out);
}

void VhidMachine::sendAdvert(TimePoint now, ActionList& out) noexcept {
  out.push(action::SendAdvert{settings_.advbase.seconds(), wireAdvskew(), wireDemote(), false});
  out.push(action::ArmTimer{TimerId::kAdvertise, now + myInterval()});
}

void VhidMachine::armMasterDown(TimePoint now, ActionList& out) noexcept {
  // OpenBSD carp_setrun, BACKUP: one timer per address family the VHID has.
  if (settings_.has_ipv4) armMasterDown(Family::kIPv4, now, out);
  if (settings_.has_ipv6) armMasterDown(Family::kIPv6, now, out);
}

void VhidMachine::armMasterDown(Family family, TimePoint now, ActionList& out) noexcept {
  if (family == Family::kIPv4 && !settings_.has_ipv4) return;
  if (family == Family::kIPv6 && !settings_.has_ipv6) return;
  // The configured skew, without demotion: OpenBSD carp_setrun uses vhe->advskew and FreeBSD
  // the raw sc_advskew for the master-down interval.
  out.push(
      action::ArmTimer{masterDownTimer(family),
                       now + masterDownInterval(settings_.advbase.seconds(),
                                                settings_.advskew.steps(), settings_.master_down)});
}

void VhidMachine::cancelAllTimers(ActionList& out) noexcept {
  out.push(action::CancelTimer{TimerId::kAdvertise});
  out.push(action::CancelTimer{TimerId::kMasterDownV4});
  out.push(action::CancelTimer{TimerId::kMasterDownV6});
}

void VhidMachine::setState(State to, Reason reason, ActionList& out) noexcept {
  out.push(action::Transition{state_, to, reason});
  state_ = to;
}

}  // namespace carp::proto
