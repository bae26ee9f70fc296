#include "daemon/metrics.h"

#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <utility>

namespace carp::daemon {
namespace {

using proto::Reason;
using proto::State;

// Every Reason, in declaration order: each VHID exports all of them (0 until the first one).
constexpr std::array kReasons = {
    Reason::kStarted,     Reason::kMasterDown, Reason::kPreempt,  Reason::kPeerDemoted,
    Reason::kPeerTooSlow, Reason::kPeerBetter, Reason::kLinkDown, Reason::kForced,
    Reason::kMaintenance, Reason::kStopped,    Reason::kResumed,
};
constexpr std::array kStates = {State::kInit, State::kBackup, State::kMaster};
// The daemon-wide drop counters (struct carpstats), in the order netstat -s -p carp shows them.
constexpr std::array kDrops = {Counter::kBadttl, Counter::kBadsum,  Counter::kBadver,
                               Counter::kBadlen, Counter::kBadauth, Counter::kBadvhid,
                               Counter::kBadif,  Counter::kHdrops,  Counter::kLoop};
// The drops the engine can attribute to one VHID: the others happen before the VHID is known.
constexpr std::array kVhidDrops = {Counter::kBadttl, Counter::kBadauth, Counter::kLoop};

using Label = std::pair<std::string_view, std::string_view>;

// Text exposition format 0.0.4: a family's samples follow its # HELP and # TYPE lines.
class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;  // constant text of this file: no backslash or newline to escape
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  template <class Value>
  void sample(std::string_view name, std::initializer_list<Label> labels, Value value) {
    out_ += name;
    if (labels.size() != 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [label, text] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += label;
        out_ += "=\"";
        appendEscaped(text);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    appendValue(value);
    out_ += '\n';
  }

  std::string take() { return std::move(out_); }

 private:
  // Label values may be anything the configuration allows (an interface name with a quote or
  // a backslash): the format escapes exactly these three.
  void appendEscaped(std::string_view text) {
    for (const char c : text) {
      switch (c) {
        case '\\':
          out_ += "\\\\";
          break;
        case '"':
          out_ += "\\\"";
          break;
        case '\n':
          out_ += "\\n";
          break;
        default:
          out_ += c;
      }
    }
  }

  void appendValue(double value) {
    // Shortest text that reads back as the same double (3.390625, 0.5, 12).
    std::array<char, 32> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    out_.append(buffer.data(), result.ptr);
  }
  template <class Integer>
  void appendValue(Integer value) {
    out_ += std::to_string(value);
  }

  std::string out_;
};

// The labels that identify a VHID; `vhid` keeps the text alive while the labels are used.
struct VhidLabels {
  explicit VhidLabels(const VhidRuntime& v)
      : interface(v.config.interface), vhid(std::to_string(v.config.vhid.value())) {}
  std::string_view interface;
  std::string vhid;
};

std::uint64_t transitionsOf(const VhidRuntime& v, Reason reason) {
  const auto it = v.transitions.find(reason);
  return it == v.transitions.end() ? 0 : it->second;
}

}  // namespace

const char* metricsLabel(Reason reason) noexcept {
  switch (reason) {
    case Reason::kStarted:
      return "started";
    case Reason::kMasterDown:
      return "master_down";
    case Reason::kPreempt:
      return "preempt";
    case Reason::kPeerDemoted:
      return "peer_demoted";
    case Reason::kPeerTooSlow:
      return "peer_too_slow";
    case Reason::kPeerBetter:
      return "peer_better";
    case Reason::kLinkDown:
      return "link_down";
    case Reason::kForced:
      return "forced";
    case Reason::kMaintenance:
      return "maintenance";
    case Reason::kStopped:
      return "stopped";
    case Reason::kResumed:
      return "resumed";
  }
  return "unknown";
}

std::string renderMetrics(const Engine& engine, std::string_view version) {
  Exposition m;
  std::vector<VhidLabels> ids;
  ids.reserve(engine.vhids().size());
  for (const auto& v : engine.vhids()) ids.emplace_back(*v);
  // Visits every VHID with its labels, for the families that have one sample set per VHID.
  auto each = [&](auto&& emit) {
    for (std::size_t i = 0; i < ids.size(); ++i) emit(*engine.vhids()[i], ids[i]);
  };

  m.family("carpd_vhid_state", "gauge",
           "Current state of the VHID: 1 for the state it is in, 0 for the others.");
  each([&](const VhidRuntime& v, const VhidLabels& id) {
    for (const State s : kStates) {
      m.sample("carpd_vhid_state",
               {{"interface", id.interface}, {"vhid", id.vhid}, {"state", proto::toString(s)}},
               v.machine.state() == s ? 1 : 0);
    }
  });

  m.family("carpd_vhid_advbase", "gauge", "Advertisement base interval in seconds.");
  each([&](const VhidRuntime& v, const VhidLabels& id) {
    m.sample("carpd_vhid_advbase", {{"interface", id.interface}, {"vhid", id.vhid}},
             static_cast<unsigned>(v.config.advbase.seconds()));
  });
  m.family("carpd_vhid_advskew", "gauge",
           "Advertisement skew in 1/256 s, as advertised (with the demotion for FreeBSD peers).");
  each([&](const VhidRuntime& v, const VhidLabels& id) {
    m.sample("carpd_vhid_advskew", {{"interface", id.interface}, {"vhid", id.vhid}},
             static_cast<unsigned>(v.machine.wireAdvskew()));
  });
  m.family("carpd_vhid_demote", "gauge",
           "Advertised demote count: the sum of the VHID's demotion groups, at most 255.");
  each([&](const VhidRuntime& v, const VhidLabels& id) {
    m.sample("carpd_vhid_demote", {{"interface", id.interface}, {"vhid", id.vhid}},
             static_cast<unsigned>(v.machine.wireDemote()));
  });

  m.family("carpd_vhid_transitions_total", "counter", "State changes of the VHID by reason.");
  each([&](const VhidRuntime& v, const VhidLabels& id) {
    for (const Reason r : kReasons) {
      m.sample("carpd_vhid_transitions_total",
               {{"interface", id.interface}, {"vhid", id.vhid}, {"reason", metricsLabel(r)}},
               transitionsOf(v, r));
    }
  });

  m.family("carpd_vhid_advertisements_sent_total", "counter",
           "Advertisements sent by the VHID, by address family.");
  each([&](const VhidRuntime& v, const VhidLabels& id) {
    m.sample("carpd_vhid_advertisements_sent_total",
             {{"interface", id.interface}, {"vhid", id.vhid}, {"family", "ipv4"}},
             v.counters.get(Counter::kOpackets));
    m.sample("carpd_vhid_advertisements_sent_total",
             {{"interface", id.interface}, {"vhid", id.vhid}, {"family", "ipv6"}},
             v.counters.get(Counter::kOpackets6));
  });
  m.family("carpd_vhid_advertisements_received_total", "counter",
           "Valid advertisements received for the VHID, by address family.");
  each([&](const VhidRuntime& v, const VhidLabels& id) {
    m.sample("carpd_vhid_advertisements_received_total",
             {{"interface", id.interface}, {"vhid", id.vhid}, {"family", "ipv4"}},
             v.counters.get(Counter::kIpackets));
    m.sample("carpd_vhid_advertisements_received_total",
             {{"interface", id.interface}, {"vhid", id.vhid}, {"family", "ipv6"}},
             v.counters.get(Counter::kIpackets6));
  });

  m.family("carpd_vhid_drops_total", "counter",
           "Advertisements for the VHID dropped, by reason (badttl, badauth, loop: our own "
           "advertisement echoed back).");
  each([&](const VhidRuntime& v, const VhidLabels& id) {
    for (const Counter c : kVhidDrops) {
      m.sample("carpd_vhid_drops_total",
               {{"interface", id.interface}, {"vhid", id.vhid}, {"reason", counterName(c)}},
               v.counters.get(c));
    }
  });

  m.family("carpd_vhid_last_takeover_seconds", "gauge",
           "Detection time of the last takeover: from the last advertisement of the previous "
           "MASTER to our transition to MASTER.");
  each([&](const VhidRuntime& v, const VhidLabels& id) {
    if (!v.last_takeover) return;
    m.sample("carpd_vhid_last_takeover_seconds", {{"interface", id.interface}, {"vhid", id.vhid}},
             std::chrono::duration<double>(*v.last_takeover).count());
  });

  m.family("carpd_drops_total", "counter",
           "Received CARP packets dropped, by reason (the counters of netstat -s -p carp).");
  for (const Counter c : kDrops) {
    m.sample("carpd_drops_total", {{"reason", counterName(c)}}, engine.stats().get(c));
  }

  m.family("carpd_demotion", "gauge", "Demotion counter of each demotion group.");
  for (const auto& [group, value] : engine.groups().counters()) {
    m.sample("carpd_demotion", {{"group", group}}, value);
  }

  m.family("carpd_maintenance", "gauge", "1 while maintenance mode is on.");
  m.sample("carpd_maintenance", {}, engine.maintenance() ? 1 : 0);

  m.family("carpd_build_info", "gauge", "Always 1; the version of carpd as a label.");
  m.sample("carpd_build_info", {{"version", version}}, 1);
  return m.take();
}

}  // namespace carp::daemon
