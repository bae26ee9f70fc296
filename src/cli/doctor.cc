#include "cli/doctor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "proto/frames.h"

extern char** environ;

namespace carp::cli {
namespace {

using std::chrono::steady_clock;

constexpr std::size_t kMaxProbeTargets = 4;
constexpr int kProbeRounds = 3;
constexpr auto kProbeWait = std::chrono::milliseconds(400);

std::optional<int> readInt(DoctorHost& host, const std::string& path) {
  const auto text = host.readFile(path);
  if (!text) return std::nullopt;
  try {
    return std::stoi(*text);
  } catch (...) {
    return std::nullopt;
  }
}

std::string ipv4Conf(const std::string& interface, const char* key) {
  return "/proc/sys/net/ipv4/conf/" + interface + "/" + key;
}

bool isIpv4Text(const std::string& address) { return address.find(':') == std::string::npos; }

std::string withoutPrefix(const std::string& address) {
  return address.substr(0, address.find('/'));
}

std::optional<proto::MacAddress> parseMac(const std::string& text) {
  proto::MacAddress mac{};
  unsigned int b[6];
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) !=
      6) {
    return std::nullopt;
  }
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<std::uint8_t>(b[i]);
  return mac;
}

std::string formatMac(const proto::MacAddress& mac) {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return text;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

void checkSysctls(const control::DoctorReport& report, DoctorHost& host,
                  std::vector<Finding>& out) {
  std::set<std::string> done;
  for (const auto& v : report.vhids) {
    if (!done.insert(v.interface).second) continue;
    const auto same_interface = [&](auto predicate) {
      return std::any_of(report.vhids.begin(), report.vhids.end(),
                         [&](const auto& w) { return w.interface == v.interface && predicate(w); });
    };
    const bool ipv4 = same_interface([](const control::DoctorVhid& w) {
      return std::any_of(w.addresses.begin(), w.addresses.end(), isIpv4Text);
    });
    if (!ipv4) continue;
    const auto all = readInt(host, ipv4Conf("all", "rp_filter"));
    const auto own = readInt(host, ipv4Conf(v.interface, "rp_filter"));
    if (all && own) out.push_back(checkRpFilter(v.interface, *all, *own));
    if (!same_interface([](const control::DoctorVhid& w) { return w.vmac; })) continue;
    const auto ignore_all = readInt(host, ipv4Conf("all", "arp_ignore"));
    const auto ignore = readInt(host, ipv4Conf(v.interface, "arp_ignore"));
    const auto announce_all = readInt(host, ipv4Conf("all", "arp_announce"));
    const auto announce = readInt(host, ipv4Conf(v.interface, "arp_announce"));
    if (ignore_all && ignore && announce_all && announce) {
      out.push_back(checkArpSysctls(v.interface, *ignore_all, *ignore, *announce_all, *announce));
    }
  }
}

void checkFirewall(const std::vector<std::string>& interfaces, DoctorHost& host,
                   std::vector<Finding>& out) {
  if (const auto text = host.run({"nft", "-j", "list", "ruleset"})) {
    nlohmann::json ruleset = nlohmann::json::parse(*text, nullptr, false);
    for (const auto& interface : interfaces) {
      auto found = analyzeNftRuleset(ruleset, interface);
      if (ruleset.is_discarded()) {
        out.push_back({Severity::kWarn, "firewall", "nft", "cannot read `nft -j list ruleset`",
                       "check the nftables ruleset by hand for rules about IP protocol 112"});
        break;
      }
      if (found.empty()) {
        found.push_back({Severity::kOk, "firewall", "nft",
                         "no nftables rule blocks IP protocol 112 on " + interface, ""});
      }
      out.insert(out.end(), found.begin(), found.end());
    }
  } else if (host.run({"nft", "--version"})) {
    // Installed but refused: a firewall that cannot be read is no firewall found.
    out.push_back({Severity::kWarn, "firewall", "nft",
                   "`nft -j list ruleset` failed, so nftables rules were not checked",
                   "run carpctl doctor as root (nft needs CAP_NET_ADMIN)"});
  }
  // iptables-nft rules are part of the nft ruleset above; legacy iptables has its own tables.
  for (const std::string tool : {"iptables", "ip6tables"}) {
    const auto text = host.run({tool + "-legacy-save"});
    if (!text || text->find('*') == std::string::npos) continue;
    for (const auto& interface : interfaces) {
      auto found = analyzeIptablesSave(*text, interface, tool + "-legacy");
      out.insert(out.end(), found.begin(), found.end());
    }
  }
}

void checkMulticast(const control::DoctorReport& report, DoctorHost& host,
                    std::vector<Finding>& out) {
  const auto igmp = host.readFile("/proc/net/igmp");
  const auto igmp6 = host.readFile("/proc/net/igmp6");
  std::set<std::pair<std::string, bool>> done;
  for (const auto& v : report.vhids) {
    for (const bool six : {false, true}) {
      if (!(six ? v.multicast6 : v.multicast) || !done.insert({v.interface, six}).second) continue;
      const auto& text = six ? igmp6 : igmp;
      if (!text) continue;
      const std::string group = six ? "ff02::12" : "224.0.0.18";
      const bool joined = six ? igmp6Joined(*text, v.interface) : igmpJoined(*text, v.interface);
      if (joined) {
        out.push_back({Severity::kOk, "multicast", v.interface, group + " joined", ""});
      } else {
        out.push_back({Severity::kFail, "multicast", v.interface,
                       group + " is not joined: carpd does not hear the other hosts' "
                               "advertisements and every host becomes MASTER",
                       "restart carpd (systemctl restart carpd), e.g. after " + v.interface +
                           " was recreated; if carpd runs in another network namespace, run "
                           "carpctl doctor there"});
      }
    }
  }
}

void checkVirtualMac(const control::DoctorReport& report, DoctorHost& host,
                     std::vector<Finding>& out) {
  const auto arp = host.readFile("/proc/net/arp");
  for (const auto& v : report.vhids) {
    if (v.state != "MASTER" || !v.vmac || v.vhid < 1 || v.vhid > 255) continue;
    if (std::none_of(v.addresses.begin(), v.addresses.end(), isIpv4Text)) continue;
    const std::string subject = v.interface + " vhid " + std::to_string(v.vhid);
    const proto::MacAddress vmac = proto::virtualMac(*proto::Vhid::make(v.vhid));

    std::vector<std::string> virtual_addresses;
    for (const auto& a : v.addresses) virtual_addresses.push_back(withoutPrefix(a));
    std::vector<std::string> candidates =
        arp ? arpNeighbours(*arp, v.interface) : std::vector<std::string>{};
    for (const auto& p : v.peers) {
      if (isIpv4Text(p.source)) candidates.push_back(p.source);
    }
    std::vector<std::string> targets;
    for (const auto& c : candidates) {
      if (targets.size() == kMaxProbeTargets) break;
      if (std::find(virtual_addresses.begin(), virtual_addresses.end(), c) !=
              virtual_addresses.end() ||
          std::find(targets.begin(), targets.end(), c) != targets.end()) {
        continue;
      }
      targets.push_back(c);
    }
    if (targets.empty()) {
      out.push_back(
          {Severity::kWarn, "vmac", subject,
           "no IPv4 neighbour known on " + v.interface + " to test that frames from " +
               formatMac(vmac) + " get through",
           "ping a neighbour on " + v.interface + " (the gateway) and run carpctl doctor again"});
      continue;
    }
    const auto answered = host.arpProbe(v.interface, vmac, targets);
    if (!answered) {
      out.push_back({Severity::kWarn, "vmac", subject, "cannot probe: " + answered.error(),
                     "run carpctl doctor as root (it needs CAP_NET_RAW)"});
      continue;
    }
    if (!answered->empty()) {
      out.push_back(
          {Severity::kOk, "vmac", subject,
           joined(*answered) + " answered ARP sent from the virtual MAC " + formatMac(vmac), ""});
      continue;
    }
    // Nobody answered the virtual MAC: the neighbours may just be gone. Ask again from the
    // NIC's own MAC to tell the two apart.
    const auto nic_text = host.readFile("/sys/class/net/" + v.interface + "/address");
    const auto nic = nic_text ? parseMac(*nic_text) : std::nullopt;
    const auto control = nic ? host.arpProbe(v.interface, *nic, targets)
                             : tl::expected<std::vector<std::string>, std::string>{};
    if (control && !control->empty()) {
      out.push_back(
          {Severity::kFail, "vmac", subject,
           joined(*control) + " answered ARP from the NIC's MAC but not from the virtual MAC " +
               formatMac(vmac) +
               ": a hypervisor or bridge drops frames with a MAC that is not the NIC's own, so "
               "the other hosts never hear this MASTER and clients cannot reach the addresses",
           "allow MAC changes / forged transmits on the virtual switch port (VMware), disable MAC "
           "spoof checking (Proxmox/libvirt/OpenStack port security), or set vmac = false for "
           "this VHID"});
    } else {
      out.push_back({Severity::kWarn, "vmac", subject,
                     "no neighbour (" + joined(targets) +
                         ") answered ARP, neither from the virtual MAC nor from the NIC's MAC",
                     "ping a neighbour on " + v.interface +
                         " that is up (the gateway) and run carpctl doctor again"});
    }
  }
}

int severityRank(Severity s) { return s == Severity::kFail ? 0 : s == Severity::kWarn ? 1 : 2; }

}  // namespace

std::vector<Finding> diagnose(const control::DoctorReport& report, DoctorHost& host,
                              const DoctorOptions& options) {
  std::vector<Finding> out;
  std::vector<std::string> interfaces;
  for (const auto& v : report.vhids) {
    if (std::find(interfaces.begin(), interfaces.end(), v.interface) == interfaces.end()) {
      interfaces.push_back(v.interface);
    }
  }
  checkSysctls(report, host, out);
  checkFirewall(interfaces, host, out);
  checkMulticast(report, host, out);
  const auto heard = analyzeHeard(report);
  out.insert(out.end(), heard.begin(), heard.end());
  if (options.arp_probe) checkVirtualMac(report, host, out);
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    return severityRank(a.severity) < severityRank(b.severity);
  });
  return out;
}

int printFindings(const std::vector<Finding>& findings, const control::DoctorReport& report,
                  bool json, std::ostream& out) {
  const auto count = [&](Severity s) {
    return std::count_if(findings.begin(), findings.end(),
                         [s](const Finding& f) { return f.severity == s; });
  };
  const auto failures = count(Severity::kFail);
  if (json) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& f : findings) {
      items.push_back({{"severity", toString(f.severity)},
                       {"check", f.check},
                       {"subject", f.subject},
                       {"text", f.text},
                       {"fix", f.fix}});
    }
    out << nlohmann::json{{"ok", failures == 0},
                          {"findings", items},
                          {"heard", control::toJson(report)}}
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
  } else {
    for (const auto& f : findings) {
      const char* tag = f.severity == Severity::kFail   ? "FAIL"
                        : f.severity == Severity::kWarn ? "WARN"
                                                        : "ok  ";
      out << tag << " " << f.check << " " << f.subject << ": " << f.text << "\n";
      if (!f.fix.empty()) out << "     fix: " << f.fix << "\n";
    }
    out << failures << " failed, " << count(Severity::kWarn) << " warning(s), "
        << count(Severity::kOk) << " ok\n";
  }
  out.flush();
  return failures == 0 ? 0 : 1;
}

std::optional<std::string> LinuxDoctorHost::readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

std::optional<std::string> LinuxDoctorHost::run(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return std::nullopt;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  std::string output;
  if (spawned == 0) {
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
      if (n > 0) {
        output.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
  }
  ::close(pipe_fds[0]);
  if (spawned != 0) return std::nullopt;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return output;
}

tl::expected<std::vector<std::string>, std::string> LinuxDoctorHost::arpProbe(
    const std::string& interface, const proto::MacAddress& source_mac,
    const std::vector<std::string>& targets) {
  const auto fail = [](const std::string& what) {
    return tl::make_unexpected(what + ": " + std::strerror(errno));
  };
  const unsigned int ifindex = ::if_nametoindex(interface.c_str());
  if (ifindex == 0) return fail("interface " + interface);
  // ETH_P_ALL: a tap sees the replies before a macvlan holding the virtual MAC takes them.
  const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) return fail("AF_PACKET socket");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ALL);
  address.sll_ifindex = static_cast<int>(ifindex);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return fail("bind to " + interface);
  }

  std::vector<proto::IpAddress> target_ips;
  for (const auto& t : targets) {
    std::array<std::uint8_t, 4> bytes{};
    if (::inet_pton(AF_INET, t.c_str(), bytes.data()) == 1) {
      target_ips.push_back(proto::IpAddress::v4(bytes));
    }
  }
  const proto::IpAddress unspecified = proto::IpAddress::v4({0, 0, 0, 0});
  std::vector<std::string> answered;
  for (int round = 0; round < kProbeRounds && answered.empty(); ++round) {
    for (const auto& target : target_ips) {
      const auto frame = proto::buildArpRequest(source_mac, unspecified, target);
      if (::send(fd, frame.data(), frame.size(), 0) < 0) return fail("send on " + interface);
    }
    const auto deadline = steady_clock::now() + kProbeWait;
    std::array<std::uint8_t, 2048> buffer{};
    while (steady_clock::now() < deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
      const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
      if (n <= 0) continue;
      const auto arp = proto::decodeArpFrame(std::span(buffer.data(), static_cast<std::size_t>(n)));
      if (!arp || arp->operation != 2 || arp->target_mac != source_mac) continue;
      for (std::size_t i = 0; i < target_ips.size(); ++i) {
        if (arp->sender_ip == target_ips[i] &&
            std::find(answered.begin(), answered.end(), targets[i]) == answered.end()) {
          answered.push_back(targets[i]);
        }
      }
    }
  }
  return answered;
}

}  // namespace carp::cli
