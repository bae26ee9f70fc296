#pragma once
// LoadBalancer on Linux: the eBPF program bpf/carp_lb.bpf.c (built with clang at build time and
// embedded) on the tc ingress hook of each parent interface of a balancing group, with a hash
// map keyed by (ifindex, shared IPv4 address) that update() fills.
//
// What it does to an interface while it has a group there, all undone by remove():
//   - a cls_bpf filter with carpd's own handle and priority (kTcHandle, kTcPriority) in the
//     clsact qdisc (created when missing, left in place: others may use it);
//   - the shared MAC in the NIC's receive filter, through an AF_PACKET membership that the
//     kernel drops when the socket closes (so also when carpd is killed);
//   - arp_announce raised to 2: the host's own ARP requests must never carry a shared address
//     as sender, or clients would point it at this host's MAC.
// A carpd killed with -9 leaves the filter; its entries stop accepting at valid_until, and
// removeStale() at the next start takes the filter away.

#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <tl/expected.hpp>

#include "os/linux/fd.h"
#include "os/linux/sysctl.h"
#include "os/load_balancer.h"

struct bpf_object;

namespace carp::os::lnx {

class BpfLoadBalancer final : public LoadBalancer {
 public:
  // tc filter identity: the stale-filter cleanup removes exactly this one.
  static constexpr unsigned kTcHandle = 0xca4d;
  static constexpr unsigned kTcPriority = 0xca4d;

  BpfLoadBalancer();
  ~BpfLoadBalancer() override;
  BpfLoadBalancer(const BpfLoadBalancer&) = delete;
  BpfLoadBalancer& operator=(const BpfLoadBalancer&) = delete;

  // Loads the program into the kernel (needs CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN);
  // does nothing when it is loaded. carpd calls it before dropping privileges.
  tl::expected<void, std::string> load();
  bool loaded() const noexcept { return object_ != nullptr; }

  void removeStale() noexcept override;
  tl::expected<void, std::string> update(const BalancingState& state) override;
  void remove(int ifindex, std::span<const proto::IpAddress> addresses) noexcept override;

  // For tests (BPF_PROG_TEST_RUN): the program and map file descriptors, -1 before load().
  int programFd() const noexcept;
  int mapFd() const noexcept;

 private:
  struct Interface {
    std::set<proto::IpAddress> addresses;
    UniqueFd membership;  // AF_PACKET socket holding the shared MAC in the NIC filter
    proto::MacAddress member_mac{};
    SysctlGuard sysctls;
  };
  tl::expected<void, std::string> prepare(const BalancingState& state, Interface& iface);
  void release(int ifindex) noexcept;

  bpf_object* object_ = nullptr;
  int program_fd_ = -1;
  int map_fd_ = -1;
  std::map<int, Interface> interfaces_;
};

}  // namespace carp::os::lnx
