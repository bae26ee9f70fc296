#include "daemon/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <unordered_map>
#include <variant>

#include "config/address_text.h"
#include "proto/frames.h"
#include "proto/header.h"
#include "proto/vrrp.h"

namespace carp::daemon {
namespace {

using proto::Family;
using proto::State;

// At most one log line per (interface, drop reason) in this interval: a flood of forged
// packets must not flood the journal too.
constexpr auto kDropLogInterval = std::chrono::seconds(10);

bool hasFamily(const config::VhidConfig& c, Family f) {
  return std::any_of(c.addresses.begin(), c.addresses.end(),
                     [f](const proto::InterfaceAddress& a) { return a.address.family == f; });
}

const std::optional<proto::IpAddress>& peerFor(const config::VhidConfig& c, Family f) {
  return f == Family::kIPv4 ? c.peer : c.peer6;
}

bool sameVhidConfig(const config::VhidConfig& a, const config::VhidConfig& b) {
  return a.interface == b.interface && a.vhid == b.vhid && a.advbase == b.advbase &&
         a.balancing == b.balancing && a.nodes == b.nodes && a.advskew == b.advskew &&
         a.key.sameAs(b.key) && a.addresses == b.addresses && a.peer == b.peer &&
         a.peer6 == b.peer6 && a.groups == b.groups && a.vmac == b.vmac &&
         a.demotion_in_advskew == b.demotion_in_advskew && a.hmac_link_local == b.hmac_link_local &&
         a.master_down == b.master_down && a.manage_addresses == b.manage_addresses;
}

std::string vhidName(const VhidRuntime& v) {
  return v.config.interface + " vhid " + std::to_string(v.config.vhid.value());
}

const char* demotionCauseText(proto::DemotionCause cause) {
  switch (cause) {
    case proto::DemotionCause::kLinkDown:
      return "link state";
    case proto::DemotionCause::kSendErrors:
      return "send errors";
  }
  return "?";
}

const char* dropText(proto::DropReason reason) {
  switch (reason) {
    case proto::DropReason::kBadLength:
      return "too short";
    case proto::DropReason::kBadVersion:
      return "not CARP version 2";
    case proto::DropReason::kBadChecksum:
      return "bad checksum";
    case proto::DropReason::kUnknownVhid:
      return "no such VHID here";
    case proto::DropReason::kBadTtl:
      return "TTL/hop limit is not 255 (routed, or forged)";
    case proto::DropReason::kBadAuth:
      return "HMAC mismatch: different passphrase or address set";
    case proto::DropReason::kOwnCounter:
      return "our own counter echoed back (loop or replay)";
  }
  return "?";
}

}  // namespace

Engine::Engine(EngineDeps deps, config::Config config, bool maintenance)
    : deps_(std::move(deps)),
      global_(config.global),
      maintenance_(maintenance),
      ip_ids_(std::random_device{}()) {
  if (auto claimed = claimAll(config.vhids); !claimed) throw std::runtime_error(claimed.error());
  for (auto& c : config.vhids) vhids_.push_back(makeVhid(std::move(c)));
  reindex();
}

tl::expected<void, std::string> Engine::claimAll(const std::vector<config::VhidConfig>& configs) {
  if (deps_.claims == nullptr) return {};
  std::vector<const config::VhidConfig*> claimed;
  for (const auto& c : configs) {
    if (findVhid(c.interface, c.vhid.value()) != nullptr) continue;  // ours already
    std::vector<proto::IpAddress> addresses;
    for (const auto& a : c.addresses) addresses.push_back(a.address);
    if (auto r = deps_.claims->claim(c.interface, c.vhid, addresses); !r) {
      for (const auto* done : claimed) deps_.claims->release(done->interface, done->vhid);
      return tl::unexpected(r.error().message);
    }
    claimed.push_back(&c);
  }
  return {};
}

void Engine::reindex() {
  by_id_.clear();
  for (auto& v : vhids_) by_id_.emplace(v->id, v.get());
  by_ifindex_.clear();
  for (auto& [name, iface] : interfaces_) by_ifindex_.emplace(iface->info.ifindex, iface.get());
}

Engine::~Engine() = default;

InterfaceRuntime& Engine::interfaceFor(const std::string& name) {
  auto it = interfaces_.find(name);
  if (it != interfaces_.end()) return *it->second;
  auto info = deps_.interfaces.find(name);
  if (!info) throw std::runtime_error("interface " + name + " does not exist");
  auto iface = std::make_unique<InterfaceRuntime>();
  iface->name = name;
  iface->info = *info;
  return *interfaces_.emplace(name, std::move(iface)).first->second;
}

std::unique_ptr<VhidRuntime> Engine::makeVhid(config::VhidConfig c) {
  InterfaceRuntime& iface = interfaceFor(c.interface);
  auto signer = proto::HmacSigner::make(c.key, c.vhid, c.addresses, c.hmac_link_local);
  if (!signer) {
    throw std::runtime_error(c.interface + " vhid " + std::to_string(c.vhid.value()) +
                             ": cannot prepare HMAC: " + signer.error());
  }
  proto::VhidSettings settings{c.vhid, c.advbase, c.advskew};
  settings.preempt = global_.preempt;
  settings.has_ipv4 = hasFamily(c, Family::kIPv4);
  settings.has_ipv6 = hasFamily(c, Family::kIPv6);
  settings.demotion_in_advskew = c.demotion_in_advskew;
  settings.master_down = c.master_down;
  const bool unicast = c.peer.has_value() || c.peer6.has_value();
  os::VhidBinding binding{iface.info.ifindex, iface.name, c.vhid, c.vmac};
  auto v = std::unique_ptr<VhidRuntime>(new VhidRuntime{
      .id = next_id_++,
      .config = std::move(c),
      .machine = proto::VhidMachine(settings),
      .signer = std::move(*signer),
      .credentials = {},
      .binding = binding,
      .iface = &iface,
      .counters = {},
      .master = {},
      .since = deps_.wall_clock(),
      .addresses_on = false,
      .last_heard = {},
      .last_takeover = std::nullopt,
      .transitions = {},
      .diagnostics = {},
      .balancer_error = {},
  });
  v->credentials = proto::VhidCredentials{&v->signer, proto::randomCounter(), unicast};
  return v;
}

void Engine::start(proto::TimePoint now) {
  // Only what no other live carpd of this namespace runs is stale (product.md: "Instances
  // never touch each other").
  os::StaleFilter others;
  if (deps_.claims != nullptr) {
    if (auto in_use = deps_.claims->othersInUse()) {
      others = std::move(*in_use);
    } else {
      deps_.log->warn("cannot read other carpd processes' VHIDs ({}): sweeping nothing",
                      in_use.error().message);
      others.vhid_in_use = [](std::string_view, proto::Vhid) { return true; };
      others.address_in_use = [](const proto::IpAddress&) { return true; };
    }
  }
  const auto swept = deps_.addresses.removeStale(others);
  for (const auto& k : swept.kept) deps_.log->info("kept {}: another carpd runs it", k);
  for (const auto& r : swept.removed) deps_.log->info("removed stale {}", r);
  for (const auto& e : swept.failed) deps_.log->warn("stale sweep: {}", e.message);
  if (deps_.balancer != nullptr) deps_.balancer->removeStale();
  for (auto& v : vhids_) v->iface->by_vhid[v->config.vhid.value()] = v.get();
  for (auto& v : vhids_) {
    for (const auto& g : v->config.groups) groups_.ensure(g);
  }
  started_ = true;
  for (auto& v : vhids_) attachAndStart(*v, now);
}

proto::Duration resumeWindow(proto::AdvBase advbase) noexcept {
  return std::chrono::seconds(2LL * advbase.seconds());
}

bool Engine::mayResume(const VhidRuntime& v, proto::TimePoint now) const noexcept {
  if (deps_.master_record == nullptr) return false;
  const auto last = deps_.master_record->lastMasterAdvert(v.config.interface, v.config.vhid);
  return last && *last <= now && now - *last < resumeWindow(v.config.advbase);
}

void Engine::attachAndStart(VhidRuntime& v, proto::TimePoint now) {
  if (auto attached = deps_.addresses.attach(v.binding); !attached) {
    deps_.log->error("{}: cannot prepare the virtual MAC interface: {}", vhidName(v),
                     attached.error().message);
  }
  if (maintenance_) dispatch(v, proto::event::Maintenance{true}, now);
  dispatch(v, proto::event::DemotionChanged{groups_.demoteFor(v.config.groups)}, now);
  if (!v.iface->info.running) deps_.log->warn("{}: {} has no link", vhidName(v), v.iface->name);
  dispatch(v, proto::event::Start{v.iface->info.running, mayResume(v, now)}, now);
}

void Engine::stopVhid(VhidRuntime& v, proto::TimePoint now) noexcept {
  dispatch(v, proto::event::Stop{}, now);
  timers_.cancelOwner(v.id);
  deps_.addresses.detach(v.binding);
}

void Engine::stop(proto::TimePoint now) noexcept {
  if (!started_) return;
  stopping_ = true;
  for (auto& v : vhids_) stopVhid(*v, now);
  for (auto& v : vhids_) {
    if (!v->config.nodes.empty() && &balancingLeader(*v) == v.get()) removeBalancing(*v);
  }
  stopping_ = false;
  started_ = false;
}

proto::Duration balancingLease(proto::AdvBase advbase) noexcept {
  return std::max<proto::Duration>(std::chrono::seconds(3LL * advbase.seconds()),
                                   std::chrono::seconds(1));
}

std::vector<VhidRuntime*> Engine::balancingGroup(const VhidRuntime& v) const {
  std::vector<VhidRuntime*> group;
  for (const auto& other : vhids_) {
    if (other->config.interface == v.config.interface && other->config.nodes == v.config.nodes) {
      group.push_back(other.get());
    }
  }
  return group;
}

VhidRuntime& Engine::balancingLeader(const VhidRuntime& v) const {
  const proto::Vhid leader = proto::leaderOf(v.config.nodes);
  for (VhidRuntime* member : balancingGroup(v)) {
    if (member->config.vhid == leader) return *member;
  }
  return const_cast<VhidRuntime&>(v);  // not reached: the config lists every node
}

void Engine::syncBalancing(const VhidRuntime& v, proto::TimePoint now) noexcept {
  if (stopping_ || !started_) return;
  VhidRuntime& leader = balancingLeader(v);
  std::uint32_t mask = 0;
  for (const VhidRuntime* member : balancingGroup(v)) {
    if (member->machine.state() != State::kMaster) continue;
    const int position = proto::nodePosition(v.config.nodes, member->config.vhid);
    if (position >= 0) mask |= 1U << position;
  }
  // OpenBSD keeps the addresses on the carp interface whatever the nodes' states; here they
  // are on while this host serves a share, so that a host with none does not hold them.
  bool want_on = mask != 0;
  // Off before the filter stops accepting, on only after it accepts.
  if (!want_on && leader.addresses_on) setAddresses(leader, false);
  if (deps_.balancer != nullptr) {
    os::BalancingState state;
    state.ifindex = v.iface->info.ifindex;
    state.interface = v.iface->name;
    for (const auto& a : v.config.addresses) state.addresses.push_back(a.address);
    state.mode = v.config.balancing;
    state.node_count = static_cast<std::uint32_t>(v.config.nodes.size());
    state.lsmask = mask;
    state.leader = leader.machine.state() == State::kMaster;
    state.macs = proto::balancingMacs(v.config.balancing, leader.config.vhid, v.iface->info.mac);
    state.valid_until = now + balancingLease(v.config.advbase);
    auto updated = deps_.balancer->update(state);
    const std::string error = updated ? std::string() : updated.error();
    if (error != leader.balancer_error) {
      if (!error.empty()) {
        deps_.log->error("{}: load balancing filter: {}; the shared addresses stay off here",
                         vhidName(leader), error);
      } else {
        deps_.log->info("{}: load balancing filter working again", vhidName(leader));
      }
      leader.balancer_error = error;
    }
    // Without its filter this host would take every flow (and answer ARP with its own MAC):
    // fail closed.
    if (!updated) want_on = false;
  }
  if (want_on != leader.addresses_on) setAddresses(leader, want_on);
}

void Engine::removeBalancing(const VhidRuntime& v) noexcept {
  if (deps_.balancer == nullptr) return;
  std::vector<proto::IpAddress> addresses;
  for (const auto& a : v.config.addresses) addresses.push_back(a.address);
  deps_.balancer->remove(v.iface->info.ifindex, addresses);
}

void Engine::dispatch(VhidRuntime& v, const proto::Event& event, proto::TimePoint now) noexcept {
  // Events that carrying out actions produces (a send's result, a demotion change for every
  // VHID) wait until the action list in progress is complete: applied recursively, a list
  // could be interleaved with another of the same VHID and re-arm an older timer over a newer
  // one. OpenBSD guards the same case (carp_send_ad re-entered from carp_group_demote_adj).
  pending_.push_back({&v, event});
  if (dispatching_) return;
  dispatching_ = true;
  while (!pending_.empty()) {
    const PendingEvent next = pending_.front();
    pending_.pop_front();
    const proto::ActionList actions = next.vhid->machine.handle(next.event, now);
    if (actions.overflowed()) {
      deps_.log->error("{}: internal error: the state machine produced more than {} actions",
                       vhidName(*next.vhid), proto::ActionList::kCapacity);
    }
    apply(*next.vhid, actions, now);
  }
  dispatching_ = false;
}

void Engine::apply(VhidRuntime& v, const proto::ActionList& actions,
                   proto::TimePoint now) noexcept {
  namespace action = proto::action;
  const bool balanced = !v.config.nodes.empty();
  bool sync_balancing = false;
  // Reported once the whole list is carried out, so that a hook never delays a takeover and
  // always sees the addresses added and the first advertisement sent.
  std::vector<TransitionEvent> transitions;
  for (const proto::Action& a : actions) {
    if (balanced && (std::holds_alternative<action::AddAddresses>(a) ||
                     std::holds_alternative<action::RemoveAddresses>(a))) {
      // The group's addresses follow all its nodes together (syncBalancing).
      sync_balancing = true;
      continue;
    }
    if (balanced && std::holds_alternative<action::SendAdvert>(a)) {
      sync_balancing = true;  // renews the filter's lease while a node is MASTER here
    }
    if (const auto* send = std::get_if<action::SendAdvert>(&a)) {
      const bool ok = sendAdvert(v, *send);
      if (ok && !send->bow_out && deps_.master_record != nullptr &&
          v.machine.state() == State::kMaster) {
        deps_.master_record->masterAdvertised(v.config.interface, v.config.vhid, now);
      }
      dispatch(v, proto::event::SendResult{ok}, now);
    } else if (const auto* arm = std::get_if<action::ArmTimer>(&a)) {
      timers_.arm({v.id, arm->timer}, arm->at);
    } else if (const auto* cancel = std::get_if<action::CancelTimer>(&a)) {
      timers_.cancel({v.id, cancel->timer});
    } else if (std::holds_alternative<action::AddAddresses>(a)) {
      setAddresses(v, true);
    } else if (std::holds_alternative<action::RemoveAddresses>(a)) {
      setAddresses(v, false);
    } else if (std::holds_alternative<action::Announce>(a)) {
      announce(v);
    } else if (const auto* t = std::get_if<action::Transition>(&a)) {
      sync_balancing = balanced;
      deps_.log->info("{}: {} -> {} ({})", vhidName(v), proto::toString(t->from),
                      proto::toString(t->to), proto::toString(t->reason));
      v.since = deps_.wall_clock();
      ++v.transitions[t->reason];
      if (t->from == State::kMaster && deps_.master_record != nullptr) {
        deps_.master_record->masterLeft(v.config.interface, v.config.vhid);
      }
      if (deps_.on_transition) {
        transitions.push_back(TransitionEvent{v.config.interface, v.config.vhid.value(), t->from,
                                              t->to, t->reason, v.since});
      }
      if (t->to == State::kMaster && v.last_heard != proto::TimePoint{}) {
        v.last_takeover = now - v.last_heard;
      }
      if (t->to == State::kMaster) {
        if (t->from == State::kBackup) {
          // OpenBSD carp_master_down counts every BACKUP -> MASTER as carps_preempt.
          v.counters.add(Counter::kPreempt);
          stats_.add(Counter::kPreempt);
        }
        const auto own =
            advertSource(v, v.machine.settings().has_ipv4 ? Family::kIPv4 : Family::kIPv6);
        v.master = own;
      } else if (t->from == State::kMaster || t->to == State::kInit) {
        v.master.reset();  // unknown until the new MASTER is heard
      }
    } else if (const auto* adj = std::get_if<action::AdjustDemotion>(&a)) {
      deps_.log->info("{}: demotion {:+d} ({})", vhidName(v), adj->delta,
                      demotionCauseText(adj->cause));
      adjustDemotion(v, adj->delta, now);
    }
  }
  if (sync_balancing) syncBalancing(v, now);
  for (const TransitionEvent& t : transitions) deps_.on_transition(t);
}

std::optional<proto::IpAddress> Engine::advertSource(const VhidRuntime& v, Family f) const {
  // OpenBSD carp_send_ad: the first address of that family on the parent interface; for IPv6
  // the link-local, which is what the parent normally has first.
  const auto& info = v.iface->info;
  if (f == Family::kIPv4) {
    if (!info.ipv4.empty()) return info.ipv4.front();
    return std::nullopt;
  }
  // A routed peer6 needs a global source: routers never forward a link-local one (RFC 4291),
  // so FreeBSD's carp_best_ifa picks the best address for the destination, not the link-local.
  const auto& peer = v.config.peer6;
  const bool want_link_local = !peer || peer->isIpv6LinkLocal();
  for (const auto& a : info.ipv6) {
    if (a.isIpv6LinkLocal() == want_link_local) return a;
  }
  if (!info.ipv6.empty()) return info.ipv6.front();
  return std::nullopt;
}

bool Engine::sendAdvert(VhidRuntime& v, const proto::action::SendAdvert& advert) noexcept {
  proto::CarpHeader h;
  h.vhid = v.config.vhid.value();
  h.advskew = advert.advskew;
  h.advbase = advert.advbase;
  h.demote = advert.demote;
  h.counter = v.credentials.own_counter;
  h.digest = v.signer.sign(h.counter);
  const auto payload = proto::encodeHeader(h);

  bool all_ok = true;
  for (Family f : {Family::kIPv4, Family::kIPv6}) {
    const bool has =
        f == Family::kIPv4 ? v.machine.settings().has_ipv4 : v.machine.settings().has_ipv6;
    if (!has) continue;
    const auto source = advertSource(v, f);
    const auto& peer = peerFor(v.config, f);
    tl::expected<void, os::Errno> sent;
    if (peer) {
      // Unicast: the kernel routes it and resolves the peer's MAC; the source MAC is the
      // NIC's own, as FreeBSD sends untagged unicast advertisements.
      if (!source) {
        sent = tl::unexpected(EADDRNOTAVAIL);
      } else {
        sent = deps_.ip.sendIp(v.iface->info.ifindex, *source, *peer, payload);
      }
    } else {
      const proto::MacAddress mac =
          v.config.vmac ? proto::virtualMac(v.config.vhid) : v.iface->info.mac;
      std::vector<std::uint8_t> frame;
      if (f == Family::kIPv4) {
        const auto src = source.value_or(proto::IpAddress::v4({0, 0, 0, 0}));
        frame = proto::buildAdvertFrameV4(mac, src, proto::carpGroupV4(),
                                          static_cast<std::uint16_t>(ip_ids_()), proto::kTosOpenBsd,
                                          payload);
      } else {
        const auto src = source.value_or(proto::IpAddress::v6({}));
        frame = proto::buildAdvertFrameV6(mac, src, proto::carpGroupV6(), 0, payload);
      }
      sent = deps_.frames.sendFrame(v.iface->info.ifindex, frame);
    }
    if (sent) {
      const Counter c = f == Family::kIPv4 ? Counter::kOpackets : Counter::kOpackets6;
      v.counters.add(c);
      stats_.add(c);
    } else {
      all_ok = false;
      deps_.log->warn("{}: cannot send advertisement: {}", vhidName(v),
                      std::system_category().message(sent.error()));
    }
  }
  return all_ok;
}

void Engine::announce(VhidRuntime& v) noexcept {
  if (!v.config.nodes.empty()) {
    // Load balancing: only the leader announces, the shared MAC as sender hardware address
    // from the source that §5.1 allows for the mode.
    if (&balancingLeader(v) != &v) return;
    const auto macs = proto::balancingMacs(v.config.balancing, v.config.vhid, v.iface->info.mac);
    for (const auto& a : v.config.addresses) {
      const auto frame = proto::buildGratuitousArp(macs.frame_source, a.address, macs.lladdr);
      if (auto sent = deps_.frames.sendFrame(v.iface->info.ifindex, frame); !sent) {
        deps_.log->warn("{}: cannot announce {}: {}", vhidName(v),
                        config::formatInterfaceAddress(a),
                        std::system_category().message(sent.error()));
      }
    }
    return;
  }
  // OpenBSD carp_send_arp / carp_send_na: one gratuitous ARP request per IPv4 address and one
  // unsolicited NA (Override) per IPv6 address, from the MAC that answers for them.
  const proto::MacAddress mac =
      v.config.vmac ? proto::virtualMac(v.config.vhid) : v.iface->info.mac;
  for (const auto& a : v.config.addresses) {
    const auto frame = a.address.family == Family::kIPv4
                           ? proto::buildGratuitousArp(mac, a.address)
                           : proto::buildUnsolicitedNa(mac, a.address, /*router=*/false);
    if (auto sent = deps_.frames.sendFrame(v.iface->info.ifindex, frame); !sent) {
      deps_.log->warn("{}: cannot announce {}: {}", vhidName(v), config::formatInterfaceAddress(a),
                      std::system_category().message(sent.error()));
    }
  }
}

void Engine::setAddresses(VhidRuntime& v, bool on) noexcept {
  v.addresses_on = on;
  // carpd --ucarp: the up and down scripts own the addresses, as under ucarp.
  if (!v.config.manage_addresses) return;
  auto result = on ? deps_.addresses.add(v.binding, v.config.addresses)
                   : deps_.addresses.remove(v.binding, v.config.addresses);
  if (!result) {
    deps_.log->error("{}: {} virtual addresses: {}", vhidName(v), on ? "adding" : "removing",
                     result.error().message);
  }
}

void Engine::adjustDemotion(VhidRuntime& v, int delta, proto::TimePoint now) noexcept {
  for (const auto& g : v.config.groups) groups_.adjust(g, delta);
  refreshDemotion(now);
}

void Engine::refreshDemotion(proto::TimePoint now) noexcept {
  for (auto& v : vhids_) {
    dispatch(*v, proto::event::DemotionChanged{groups_.demoteFor(v->config.groups)}, now);
  }
}

void Engine::onPacket(const os::ReceivedPacket& packet, Family family,
                      proto::TimePoint now) noexcept {
  stats_.add(family == Family::kIPv4 ? Counter::kIpackets : Counter::kIpackets6);
  auto found = by_ifindex_.find(packet.ifindex);
  InterfaceRuntime* iface = found == by_ifindex_.end() ? nullptr : found->second;
  if (!iface) {
    stats_.add(Counter::kBadif);
    return;
  }
  auto valid = proto::validateAdvert(packet.payload, packet.ttl, *iface);
  if (!valid) {
    const Counter c = counterFor(valid.error());
    stats_.add(c);
    // Past the VHID lookup a drop can be attributed to the VHID it was aimed at.
    if ((c == Counter::kBadttl || c == Counter::kBadauth || c == Counter::kLoop) &&
        packet.payload.size() > 1) {
      if (VhidRuntime* v = iface->by_vhid[packet.payload[1]]) v->counters.add(c);
    }
    recordDrop(*iface, valid.error(), packet, family, now);
    logDrop(*iface, valid.error(), packet.source, now);
    return;
  }
  const proto::CarpHeader& h = valid->header;
  VhidRuntime& v = *iface->by_vhid[h.vhid];
  v.counters.add(family == Family::kIPv4 ? Counter::kIpackets : Counter::kIpackets6);
  v.last_heard = now;
  v.diagnostics.recordPeer(packet.source, h, now);
  dispatch(v, proto::event::Advert{family, h.advbase, h.advskew, h.demote}, now);
  if (v.machine.state() == State::kBackup) v.master = packet.source;
}

void Engine::recordDrop(InterfaceRuntime& iface, proto::DropReason reason,
                        const os::ReceivedPacket& packet, Family family,
                        proto::TimePoint now) noexcept {
  // A VRRP advertisement fails CARP validation as too short (VRRPv2 with fewer than five
  // addresses), wrong version (VRRPv3), bad checksum, unknown VHID or bad HMAC; a CARP header
  // never decodes as VRRP (vrrp.h), so trying the decoder on every drop is safe.
  if (auto vrrp = proto::decodeVrrp(packet.payload, family)) {
    iface.diagnostics.recordVrrp(packet.source, std::move(*vrrp), now);
    return;
  }
  if (reason == proto::DropReason::kBadAuth) {
    auto header = proto::decodeHeader(packet.payload);
    VhidRuntime* v = header ? iface.by_vhid[header->vhid] : nullptr;
    if (v) v->diagnostics.recordBadAuth(packet.source, *header, now);
  }
}

void Engine::logDrop(const InterfaceRuntime& iface, proto::DropReason reason,
                     const proto::IpAddress& source, proto::TimePoint now) noexcept {
  auto& last = last_drop_log_[{iface.info.ifindex, reason}];
  if (last != proto::TimePoint{} && now - last < kDropLogInterval) return;
  last = now;
  deps_.log->info(
      "{}: dropped CARP packet from {}: {} ({}; further drops for this reason "
      "are counted, not logged, for {} s)",
      iface.name, config::formatAddress(source), proto::toString(reason), dropText(reason),
      kDropLogInterval.count());
}

void Engine::onDeadline(proto::TimePoint now) noexcept {
  while (const auto key = timers_.popDue(now)) {
    auto it = by_id_.find(key->owner);
    if (it != by_id_.end()) dispatch(*it->second, proto::event::TimerFired{key->timer}, now);
  }
}

void Engine::onLink(int ifindex, bool running, proto::TimePoint now) noexcept {
  for (auto& [name, iface] : interfaces_) {
    if (iface->info.ifindex != ifindex || iface->info.running == running) continue;
    iface->info.running = running;
    deps_.log->warn("{}: link {}", name, running ? "up" : "down");
    for (auto& v : vhids_) {
      if (v->iface != iface.get()) continue;
      if (running) {
        dispatch(*v, proto::event::LinkUp{}, now);
      } else {
        dispatch(*v, proto::event::LinkDown{}, now);
      }
    }
  }
}

void Engine::onAddressRemoved(int /*ifindex*/, const proto::InterfaceAddress& address) noexcept {
  for (auto& v : vhids_) {
    // A balancing group's addresses are on its leader's binding while any node is MASTER,
    // whatever the leader's own state.
    const bool serving = v->config.nodes.empty() ? v->machine.state() == State::kMaster
                                                 : &balancingLeader(*v) == v.get();
    if (!v->addresses_on || !serving) continue;
    const auto& list = v->config.addresses;
    if (std::find_if(list.begin(), list.end(), [&](const proto::InterfaceAddress& a) {
          return a.address == address.address;
        }) == list.end()) {
      continue;
    }
    deps_.log->warn("{}: virtual address {} was removed by someone else; putting it back",
                    vhidName(*v), config::formatInterfaceAddress(address));
    setAddresses(*v, true);
  }
}

void Engine::onInterfaceChanged(int ifindex) noexcept {
  for (auto& [name, iface] : interfaces_) {
    if (iface->info.ifindex != ifindex) continue;
    if (auto fresh = deps_.interfaces.find(ifindex)) {
      const bool running = iface->info.running;  // link changes arrive through onLink
      iface->info = *fresh;
      iface->info.running = running;
    }
  }
}

const InterfaceRuntime* Engine::interfaceRuntime(const std::string& name) const {
  const auto it = interfaces_.find(name);
  return it == interfaces_.end() ? nullptr : it->second.get();
}

VhidRuntime* Engine::findVhid(const std::string& interface, int vhid) const {
  for (const auto& v : vhids_) {
    if (v->config.interface == interface && v->config.vhid.value() == vhid) return v.get();
  }
  return nullptr;
}

tl::expected<void, std::string> Engine::demote(const std::string& group, long long delta,
                                               proto::TimePoint now) {
  if (!groups_.contains(group)) {
    std::string known;
    for (const auto& [name, value] : groups_.counters())
      known += (known.empty() ? "" : ", ") + name;
    return tl::unexpected("no VHID is in demotion group '" + group + "' (groups: " + known + ")");
  }
  const long long value = groups_.adjust(group, delta);
  deps_.log->info("demotion group {}: {:+d} by carpctl, now {}", group, delta, value);
  refreshDemotion(now);
  return {};
}

tl::expected<void, std::string> Engine::forceState(const std::string& interface, int vhid,
                                                   State state, proto::TimePoint now) {
  VhidRuntime* v = findVhid(interface, vhid);
  if (!v) return tl::unexpected("no vhid " + std::to_string(vhid) + " on " + interface);
  if (v->machine.state() == State::kInit) {
    return tl::unexpected(vhidName(*v) + " is INIT (no link); cannot force a state");
  }
  dispatch(*v, proto::event::ForceState{state}, now);
  return {};
}

tl::expected<void, std::string> Engine::setMaintenance(bool on, proto::TimePoint now) {
  if (maintenance_ != on) deps_.log->warn("maintenance mode {}", on ? "on" : "off");
  maintenance_ = on;
  for (auto& v : vhids_) dispatch(*v, proto::event::Maintenance{on}, now);
  return {};
}

tl::expected<void, std::string> Engine::reload(config::Config config, proto::TimePoint now) {
  if (config.global.control_socket != global_.control_socket ||
      config.global.state_dir != global_.state_dir || config.global.metrics != global_.metrics ||
      config.global.realtime != global_.realtime ||
      config.global.hook_capabilities != global_.hook_capabilities) {
    deps_.log->warn(
        "control_socket, state_dir, metrics, realtime and hook_capabilities take effect at the "
        "next start");
  }

  // Phase 1: claim and build everything new; any failure leaves the running configuration
  // untouched.
  std::vector<std::pair<std::string, proto::Vhid>> fresh;  // claimed by this reload
  for (const auto& c : config.vhids) {
    if (findVhid(c.interface, c.vhid.value()) == nullptr) fresh.emplace_back(c.interface, c.vhid);
  }
  if (auto claimed = claimAll(config.vhids); !claimed) return tl::unexpected(claimed.error());
  std::vector<std::unique_ptr<VhidRuntime>> next;
  std::vector<VhidRuntime*> kept;
  const config::GlobalConfig old_global = global_;
  global_.preempt = config.global.preempt;
  try {
    for (auto& c : config.vhids) {
      VhidRuntime* old = findVhid(c.interface, c.vhid.value());
      if (old && sameVhidConfig(old->config, c)) {
        kept.push_back(old);
        next.push_back(nullptr);  // placeholder, filled from vhids_ below
      } else {
        next.push_back(makeVhid(std::move(c)));
      }
    }
  } catch (const std::exception& e) {
    global_ = old_global;
    dropUnusedInterfaces();
    reindex();
    if (deps_.claims != nullptr) {
      for (const auto& [interface, vhid] : fresh) deps_.claims->release(interface, vhid);
    }
    return tl::unexpected(std::string(e.what()));
  }
  global_.log_level = config.global.log_level;
  // preempt is a host-wide setting that the machines can take in place (no restart).
  for (VhidRuntime* k : kept) k->machine.setPreempt(global_.preempt);

  // Phase 2: stop what goes away or changes, then swap and start what is new.
  std::vector<std::unique_ptr<VhidRuntime>> old_list = std::move(vhids_);
  vhids_.clear();
  std::size_t kept_index = 0;
  for (auto& n : next) {
    if (n) {
      vhids_.push_back(std::move(n));
      continue;
    }
    VhidRuntime* k = kept[kept_index++];
    auto it =
        std::find_if(old_list.begin(), old_list.end(), [k](const auto& p) { return p.get() == k; });
    vhids_.push_back(std::move(*it));
  }
  stopping_ = true;
  for (auto& old : old_list) {
    if (!old) continue;
    deps_.log->info("{}: removed or changed by reload", vhidName(*old));
    old->iface->by_vhid[old->config.vhid.value()] = nullptr;
    stopVhid(*old, now);
    const bool still_configured = std::any_of(vhids_.begin(), vhids_.end(), [&](const auto& v) {
      return v->config.interface == old->config.interface && v->config.vhid == old->config.vhid;
    });
    if (deps_.claims != nullptr && !still_configured) {
      deps_.claims->release(old->config.interface, old->config.vhid);
    }
  }
  stopping_ = false;
  // The filter entries of removed or changed groups; a changed group installs its own again
  // when its nodes start.
  for (auto& old : old_list) {
    if (old && !old->config.nodes.empty()) removeBalancing(*old);
  }
  old_list.clear();
  dropUnusedInterfaces();
  reindex();
  for (auto& v : vhids_) {
    for (const auto& g : v->config.groups) groups_.ensure(g);
  }
  for (auto& v : vhids_) {
    if (v->iface->by_vhid[v->config.vhid.value()] == v.get()) continue;  // kept
    v->iface->by_vhid[v->config.vhid.value()] = v.get();
    deps_.log->info("{}: started by reload", vhidName(*v));
    attachAndStart(*v, now);
  }
  for (auto& v : vhids_) {
    if (!v->config.nodes.empty()) syncBalancing(*v, now);
  }
  return {};
}

void Engine::dropUnusedInterfaces() {
  for (auto it = interfaces_.begin(); it != interfaces_.end();) {
    const bool used = std::any_of(vhids_.begin(), vhids_.end(),
                                  [&](const auto& v) { return v->iface == it->second.get(); });
    it = used ? std::next(it) : interfaces_.erase(it);
  }
}

std::vector<Listener> Engine::listeners() const {
  std::vector<Listener> out;
  for (const auto& [name, iface] : interfaces_) {
    for (Family f : {Family::kIPv4, Family::kIPv6}) {
      bool needed = false;
      bool multicast = false;
      for (const auto& v : vhids_) {
        if (v->iface != iface.get() || !hasFamily(v->config, f)) continue;
        needed = true;
        if (!peerFor(v->config, f)) multicast = true;
      }
      if (needed) out.push_back({iface->info.ifindex, name, f, multicast});
    }
  }
  return out;
}

}  // namespace carp::daemon
