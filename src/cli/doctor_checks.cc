#include "cli/doctor_checks.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

namespace carp::cli {
namespace {

using nlohmann::json;

constexpr int kCarpProtocol = 112;
// A sender heard within this many seconds counts as advertising now: three intervals at the
// default advbase of 1 s, the master-down interval.
constexpr double kRecentSeconds = 3.5;
// A bad HMAC older than this is reported as a warning: it may be a peer since fixed.
constexpr double kStaleBadAuthSeconds = 60;

std::string maxText(int all, int value) {
  return std::to_string(std::max(all, value)) + " (all " + std::to_string(all) + ", interface " +
         std::to_string(value) + ")";
}

// Protocol 112 by any of the names nft and /etc/protocols give it.
bool isCarpProtocol(const json& value) {
  if (value.is_number_integer()) return value.get<int>() == kCarpProtocol;
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    return s == "vrrp" || s == "carp" || s == "112";
  }
  if (value.is_object() && value.contains("set")) {
    const auto& set = value["set"];
    return set.is_array() && std::any_of(set.begin(), set.end(), isCarpProtocol);
  }
  return false;
}

bool isProtocolField(const json& left) {
  if (!left.is_object()) return false;
  if (const auto p = left.find("payload"); p != left.end() && p->is_object()) {
    const std::string protocol = p->value("protocol", "");
    const std::string field = p->value("field", "");
    return (protocol == "ip" && field == "protocol") || (protocol == "ip6" && field == "nexthdr");
  }
  if (const auto m = left.find("meta"); m != left.end() && m->is_object()) {
    return m->value("key", "") == "l4proto";
  }
  return false;
}

bool isInterfaceField(const json& left) {
  if (!left.is_object()) return false;
  const auto m = left.find("meta");
  if (m == left.end() || !m->is_object()) return false;
  const std::string key = m->value("key", "");
  return key == "iifname" || key == "iif";
}

// nft interface names may end in '*' (a prefix match).
bool interfaceMatches(const json& right, const std::string& interface) {
  if (!right.is_string()) return false;
  const auto& name = right.get_ref<const std::string&>();
  if (!name.empty() && name.back() == '*') {
    return interface.starts_with(name.substr(0, name.size() - 1));
  }
  return name == interface;
}

enum class MatchResult { kTrue, kFalse, kUnknown };

MatchResult evaluate(const json& match, const std::string& interface, bool& names_protocol) {
  const std::string op = match.value("op", "==");
  const json left = match.value("left", json());
  const json right = match.value("right", json());
  bool result = false;
  if (isProtocolField(left)) {
    names_protocol = true;
    result = isCarpProtocol(right);
  } else if (isInterfaceField(left)) {
    result = interfaceMatches(right, interface);
  } else {
    return MatchResult::kUnknown;
  }
  if (op == "!=") result = !result;
  return result ? MatchResult::kTrue : MatchResult::kFalse;
}

enum class Decision { kNone, kAccept, kDrop };

struct RuleVerdict {
  Decision decision = Decision::kNone;
  std::string verb;  // "drops" or "rejects"
};

// What a rule does to a protocol-112 packet arriving on `interface`, as far as can be told:
// a drop needs no condition, or a protocol match; an accept counts only when every condition
// is known to hold (a `ct state established accept` does not let advertisements in: multicast
// never establishes a connection).
RuleVerdict judgeRule(const json& expressions, const std::string& interface) {
  bool names_protocol = false;
  bool unknown = false;
  std::string verdict;
  for (const auto& e : expressions) {
    if (!e.is_object()) continue;
    if (const auto m = e.find("match"); m != e.end()) {
      const MatchResult r = evaluate(*m, interface, names_protocol);
      if (r == MatchResult::kFalse) return {};
      if (r == MatchResult::kUnknown) unknown = true;
    } else if (e.contains("accept")) {
      verdict = "accept";
    } else if (e.contains("drop")) {
      verdict = "drops";
    } else if (e.contains("reject")) {
      verdict = "rejects";
    } else if (e.contains("jump") || e.contains("goto")) {
      return {};
    }
  }
  if (verdict == "accept") {
    return unknown ? RuleVerdict{} : RuleVerdict{Decision::kAccept, ""};
  }
  if (!verdict.empty() && (names_protocol || !unknown)) return {Decision::kDrop, verdict};
  return {};
}

bool isFilteringHook(const std::string& family, const std::string& hook) {
  if (family == "ip" || family == "ip6" || family == "inet") {
    return hook == "input" || hook == "prerouting" || hook == "ingress";
  }
  return family == "netdev" && hook == "ingress";
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> words(std::string_view line) {
  std::istringstream in{std::string(line)};
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string commaSeparated(const std::vector<std::string>& items, const char* if_empty = "") {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out.empty() ? if_empty : out;
}

// 00:00:5e:00:01:NN, the MAC of VRRP router / CARP VHID `number` (RFC 5798 §7.3).
std::string virtualMacText(int number) {
  char text[18];
  std::snprintf(text, sizeof text, "00:00:5e:00:01:%02x", number & 0xff);
  return text;
}

}  // namespace

const char* toString(Severity severity) noexcept {
  switch (severity) {
    case Severity::kOk:
      return "ok";
    case Severity::kWarn:
      return "warn";
    case Severity::kFail:
      return "fail";
  }
  return "?";
}

Finding checkRpFilter(const std::string& interface, int all, int value) {
  Finding f{Severity::kOk, "rp_filter", interface, "", ""};
  const int effective = std::max(all, value);
  if (effective == 1) {
    f.severity = Severity::kWarn;
    f.text = "strict reverse-path filtering, rp_filter " + maxText(all, value) +
             ": advertisements from a peer whose address is not routed back through " + interface +
             " (another subnet, a unicast peer over another path) are dropped";
    f.fix = "sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf." + interface +
            ".rp_filter=2  (loose mode; persist it in /etc/sysctl.d/)";
  } else {
    f.text = "rp_filter " + maxText(all, value) + (effective == 2 ? " (loose)" : " (off)");
  }
  return f;
}

Finding checkArpSysctls(const std::string& interface, int ignore_all, int ignore_value,
                        int announce_all, int announce_value) {
  Finding f{Severity::kOk, "arp", interface, "", ""};
  const int ignore = std::max(ignore_all, ignore_value);
  const int announce = std::max(announce_all, announce_value);
  if (ignore < 1 || announce < 2) {
    f.severity = Severity::kWarn;
    f.text = "arp_ignore " + maxText(ignore_all, ignore_value) + ", arp_announce " +
             maxText(announce_all, announce_value) + ": " + interface +
             " also answers ARP for the virtual addresses, with the NIC's MAC instead of the "
             "virtual MAC, and clients keep a stale entry after a failover";
    f.fix = "sysctl -w net.ipv4.conf." + interface + ".arp_ignore=1 net.ipv4.conf." + interface +
            ".arp_announce=2  (carpd sets these at start; something reset them)";
  } else {
    f.text = "arp_ignore " + std::to_string(ignore) + ", arp_announce " + std::to_string(announce) +
             ": only the virtual-MAC interface answers for the virtual addresses";
  }
  return f;
}

std::vector<Finding> analyzeNftRuleset(const json& ruleset, const std::string& interface) {
  std::vector<Finding> out;
  const auto items = ruleset.find("nftables");
  if (items == ruleset.end() || !items->is_array()) return out;
  for (const auto& item : *items) {
    const auto chain = item.find("chain");
    if (chain == item.end() || !chain->is_object()) continue;
    const std::string family = chain->value("family", "");
    const std::string table = chain->value("table", "");
    const std::string name = chain->value("name", "");
    if (!isFilteringHook(family, chain->value("hook", ""))) continue;
    const std::string where = family + " " + table + " " + name;
    const std::string accept_fix = "nft insert rule " + where + " meta l4proto 112 accept";

    Decision decision = Decision::kNone;
    for (const auto& other : *items) {
      const auto rule = other.find("rule");
      if (rule == other.end() || !rule->is_object()) continue;
      if (rule->value("family", "") != family || rule->value("table", "") != table ||
          rule->value("chain", "") != name) {
        continue;
      }
      const RuleVerdict v = judgeRule(rule->value("expr", json::array()), interface);
      if (v.decision == Decision::kNone) continue;
      decision = v.decision;
      if (v.decision == Decision::kDrop) {
        const std::string handle = std::to_string(rule->value("handle", 0));
        out.push_back({Severity::kFail, "firewall", "nft " + where,
                       "rule handle " + handle + " " + v.verb +
                           " IP protocol 112 (CARP advertisements) arriving on " + interface,
                       "nft delete rule " + where + " handle " + handle + "  or  " + accept_fix});
      }
      break;
    }
    if (decision == Decision::kNone && chain->value("policy", "accept") == "drop") {
      out.push_back({Severity::kFail, "firewall", "nft " + where,
                     "policy drop and no rule accepting IP protocol 112 (CARP advertisements) "
                     "on " +
                         interface,
                     accept_fix});
    }
  }
  return out;
}

std::vector<Finding> analyzeIptablesSave(std::string_view save, const std::string& interface,
                                         const std::string& tool) {
  std::vector<Finding> out;
  std::istringstream in{std::string(save)};
  std::string table;
  std::map<std::string, std::string> policies;  // chain -> policy, for the current table
  std::map<std::string, Decision> decided;
  const auto finishTable = [&] {
    for (const auto& [chain, policy] : policies) {
      if (policy == "DROP" && decided[chain] == Decision::kNone) {
        out.push_back({Severity::kFail, "firewall", tool + " -t " + table + " " + chain,
                       "policy DROP and no rule accepting IP protocol 112 (CARP advertisements) "
                       "on " +
                           interface,
                       tool + " -t " + table + " -I " + chain + " -p 112 -j ACCEPT"});
      }
    }
    policies.clear();
    decided.clear();
  };
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (line.starts_with("*")) {
      table = line.substr(1);
    } else if (line == "COMMIT") {
      finishTable();
    } else if (line.starts_with(":")) {
      const auto w = words(line.substr(1));
      if (w.size() >= 2 && (w[0] == "INPUT" || w[0] == "PREROUTING")) policies[w[0]] = w[1];
    } else if (line.starts_with("-A ")) {
      const auto w = words(line);
      if (w.size() < 2 || (w[1] != "INPUT" && w[1] != "PREROUTING")) continue;
      const std::string& chain = w[1];
      if (decided[chain] != Decision::kNone) continue;
      bool negate = false;
      bool names_protocol = false;
      bool applies = true;
      bool unknown = false;
      std::string target;
      for (std::size_t i = 2; i < w.size(); ++i) {
        if (w[i] == "!") {
          negate = true;
          continue;
        }
        const bool has_value = i + 1 < w.size();
        if ((w[i] == "-p" || w[i] == "--protocol") && has_value) {
          const std::string& p = w[++i];
          bool match = p == "112" || p == "vrrp" || p == "carp";
          names_protocol = true;
          if (negate) match = !match;
          if (!match) applies = false;
        } else if ((w[i] == "-i" || w[i] == "--in-interface") && has_value) {
          const std::string& name = w[++i];
          bool match = name.back() == '+' ? interface.starts_with(name.substr(0, name.size() - 1))
                                          : name == interface;
          if (negate) match = !match;
          if (!match) applies = false;
        } else if ((w[i] == "-j" || w[i] == "--jump") && has_value) {
          target = w[++i];
        } else if (w[i].starts_with("-")) {
          unknown = true;
        }
        negate = false;
      }
      if (!applies || target.empty()) continue;
      if (target == "ACCEPT" && !unknown) {
        decided[chain] = Decision::kAccept;
      } else if ((target == "DROP" || target == "REJECT") && (names_protocol || !unknown)) {
        decided[chain] = Decision::kDrop;
        out.push_back({Severity::kFail, "firewall", tool + " -t " + table + " " + chain,
                       "rule '" + line + "' drops IP protocol 112 (CARP advertisements)",
                       tool + " -t " + table + " -D " + line.substr(3) + "  or  " + tool + " -t " +
                           table + " -I " + chain + " -p 112 -j ACCEPT"});
      }
    }
  }
  return out;
}

bool igmpJoined(std::string_view proc_net_igmp, const std::string& interface) {
  // "2\teth0      :     2      V3" starts a device; its groups follow on indented lines as
  // the raw network-order word in hex: 224.0.0.18 is 120000E0 on a little-endian host.
  std::istringstream in{std::string(proc_net_igmp)};
  bool in_device = false;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto w = words(line);
    if (w.empty()) continue;
    if (line[0] != '\t' && line[0] != ' ') {
      in_device = w.size() >= 2 && w[1] == interface;
      continue;
    }
    if (!in_device) continue;
    const std::string& group = w[0];
    unsigned long value = 0;
    if (std::sscanf(group.c_str(), "%lx", &value) != 1) continue;
    const auto raw = static_cast<std::uint32_t>(value);
    // Both byte orders: the file prints the word as the host stored it.
    if (raw == 0xe0000012U || raw == 0x120000e0U) return true;
  }
  return false;
}

bool igmp6Joined(std::string_view proc_net_igmp6, const std::string& interface) {
  std::istringstream in{std::string(proc_net_igmp6)};
  for (std::string line; std::getline(in, line);) {
    const auto w = words(line);
    if (w.size() >= 3 && w[1] == interface && w[2] == "ff020000000000000000000000000012") {
      return true;
    }
  }
  return false;
}

std::vector<std::string> arpNeighbours(std::string_view proc_net_arp,
                                       const std::string& interface) {
  // "IP address  HW type  Flags  HW address  Mask  Device"; flag 0x2 is ATF_COM (complete).
  std::vector<std::string> out;
  std::istringstream in{std::string(proc_net_arp)};
  for (std::string line; std::getline(in, line);) {
    const auto w = words(line);
    if (w.size() < 6 || w[5] != interface) continue;
    unsigned long flags = 0;
    if (std::sscanf(w[2].c_str(), "%lx", &flags) != 1 || (flags & 0x2) == 0) continue;
    out.push_back(w[0]);
  }
  return out;
}

std::vector<Finding> analyzeHeard(const control::DoctorReport& report) {
  std::vector<Finding> out;
  for (const auto& v : report.vhids) {
    const std::string subject = v.interface + " vhid " + std::to_string(v.vhid);
    for (const auto& r : report.vrrp) {
      if (r.interface != v.interface || r.vrid != v.vhid) continue;
      out.push_back({Severity::kFail, "vrrp", subject,
                     "a VRRPv" + std::to_string(r.version) + " router (" + r.source +
                         ", priority " + std::to_string(r.priority) + ", addresses " +
                         commaSeparated(r.addresses, "none") + ") uses router number " +
                         std::to_string(r.vrid) +
                         " on this segment: VRRP and CARP share IP protocol 112, the group "
                         "224.0.0.18 and the virtual MAC " +
                         virtualMacText(r.vrid) +
                         ", so one number can serve only one of them (each drops the other's "
                         "advertisements, and a switch moves the MAC between them)",
                     "give one of them another number: vhid in carpd.toml, or virtual_router_id "
                     "in keepalived.conf"});
    }
    if (v.bad_auth) {
      const auto& b = *v.bad_auth;
      const bool stale = b.age_seconds > kStaleBadAuthSeconds;
      Finding f{stale ? Severity::kWarn : Severity::kFail, "hmac", subject, "", ""};
      char age[32];
      std::snprintf(age, sizeof age, "%.1f", b.age_seconds);
      f.text = std::to_string(b.count) + " advertisement(s) from " + b.source +
               " failed HMAC (last " + age + " s ago)";
      if (!b.matching_set.empty()) {
        f.text += ": the peer signs " + b.matching_set + " [" +
                  commaSeparated(b.matching_addresses) +
                  "], the same passphrase over a different address set";
        f.fix =
            "make both sides list the same addresses: addresses = [...] here, or the peer's "
            "address list (ucarp signs only its one IPv4 -a address: give carpd exactly "
            "that one IPv4 address)";
      } else {
        f.text += ": no address set built from ours reproduces the peer's digest";
        f.fix =
            "the passphrase differs (pass / pass_file; only its first 19 bytes count), or "
            "the peer has addresses this host does not list";
      }
      out.push_back(std::move(f));
    }
    // A carpd advertises over IPv4 and IPv6 from two addresses: count senders per family.
    std::vector<std::string> recent;
    std::size_t recent4 = 0;
    std::size_t recent6 = 0;
    for (const auto& p : v.peers) {
      if (p.age_seconds > kRecentSeconds) continue;
      recent.push_back(p.source);
      ++(p.source.find(':') == std::string::npos ? recent4 : recent6);
    }
    const std::size_t allowed = v.state == "MASTER" ? 0 : 1;
    if (recent4 > allowed || recent6 > allowed) {
      std::string list;
      for (const auto& r : recent) list += (list.empty() ? "" : ", ") + r;
      out.push_back({Severity::kWarn, "masters", subject,
                     (v.state == "MASTER" ? "this host is MASTER and also hears " + list
                                          : "more than one MASTER is advertising: " + list),
                     "look for a network partition, a host with preempt and a better advskew, "
                     "or frames from the virtual MAC dropped between the hosts (see the vmac "
                     "check)"});
    }
  }
  return out;
}

}  // namespace carp::cli
