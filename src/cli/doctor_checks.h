#pragma once
// carpctl doctor's checks of the host itself, as pure functions of what the host shows
// (sysctl values, `nft -j list ruleset`, iptables-save text, /proc/net/igmp, /proc/net/arp)
// and of what carpd heard (control/doctor.h). Each problem found says how to fix it. Reading
// the host is doctor.cc's business; these only judge, so tests feed them planted text.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/doctor.h"

namespace carp::cli {

enum class Severity { kOk, kWarn, kFail };

// "ok", "warn", "fail".
const char* toString(Severity severity) noexcept;

struct Finding {
  Severity severity = Severity::kOk;
  std::string check;    // rp_filter, arp, firewall, multicast, vrrp, hmac, masters, vmac
  std::string subject;  // what was looked at: "eth0", "eth0 vhid 1", "nft inet filter input"
  std::string text;     // what is wrong (or, for kOk, what was verified)
  std::string fix;      // the command or configuration key that fixes it; empty for kOk
  bool operator==(const Finding&) const = default;
};

// net.ipv4.conf.{all,IFACE}.rp_filter: the kernel applies the larger of the two; strict mode
// (1) drops advertisements whose source is not routed back through `interface` (a peer in
// another subnet, a unicast peer behind an asymmetric route).
Finding checkRpFilter(const std::string& interface, int all, int value);

// arp_ignore / arp_announce of a parent with virtual-MAC VHIDs, the larger of all and the
// interface applying: carpd raises them to 1 and 2 at start; lower, the parent answers ARP for
// the virtual addresses with the NIC's MAC and clients lose them at the next failover.
Finding checkArpSysctls(const std::string& interface, int ignore_all, int ignore_value,
                        int announce_all, int announce_value);

// Whether IP protocol 112 reaches carpd through the nftables `ruleset` (the output of
// `nft -j list ruleset`) on `interface`: a rule that drops or rejects protocol 112 (ip
// protocol, ip6 nexthdr, meta l4proto; as 112, vrrp or carp) or unconditionally, before any
// rule that accepts it, in a base chain at the input, prerouting or ingress hook; or a drop
// policy with no such accept. Jumps to other chains are not followed. One finding per chain
// that blocks; none when nothing blocks.
std::vector<Finding> analyzeNftRuleset(const nlohmann::json& ruleset, const std::string& interface);

// The same for iptables-save / ip6tables-save text (legacy iptables: iptables-nft rules are
// in the nft ruleset already): INPUT and PREROUTING chains of every table. `tool` names the
// command in the fix ("iptables" or "ip6tables").
std::vector<Finding> analyzeIptablesSave(std::string_view save, const std::string& interface,
                                         const std::string& tool);

// Whether /proc/net/igmp text lists 224.0.0.18 on `interface`, and /proc/net/igmp6 text
// ff02::12.
bool igmpJoined(std::string_view proc_net_igmp, const std::string& interface);
bool igmp6Joined(std::string_view proc_net_igmp6, const std::string& interface);

// The IPv4 neighbours with a complete entry on `interface` in /proc/net/arp text.
std::vector<std::string> arpNeighbours(std::string_view proc_net_arp, const std::string& interface);

// What carpd heard: a VRRP router using the number of one of our VHIDs (and so its virtual
// MAC), bad HMACs (with the address set that matches when one does), a second MASTER.
std::vector<Finding> analyzeHeard(const control::DoctorReport& report);

}  // namespace carp::cli
