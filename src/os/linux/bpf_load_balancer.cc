#include "os/linux/bpf_load_balancer.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "os/linux/bpf/carp_lb_map.h"

namespace carp::os::lnx {

// The object file of bpf/carp_lb.bpf.c, embedded at build time (carp_lb_object.cc).
extern const unsigned char kCarpLbObject[];
extern const std::size_t kCarpLbObjectSize;

namespace {

std::string errnoText(int error) { return std::strerror(error < 0 ? -error : error); }

// libbpf writes its warnings to stderr by default; carpd reports failures itself.
int quiet(enum libbpf_print_level, const char*, va_list) { return 0; }

bpf_tc_hook ingressHook(int ifindex) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = BPF_TC_INGRESS;
  return hook;
}

bpf_tc_opts ourFilter(int program_fd) {
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = BpfLoadBalancer::kTcHandle;
  opts.priority = BpfLoadBalancer::kTcPriority;
  opts.prog_fd = program_fd;
  return opts;
}

void detachFilter(int ifindex) noexcept {
  const bpf_tc_hook hook = ingressHook(ifindex);
  const bpf_tc_opts opts = ourFilter(0);
  (void)bpf_tc_detach(&hook, &opts);  // ENOENT when there is none: fine
}

std::uint32_t networkOrder(const proto::IpAddress& a) {
  std::uint32_t out = 0;
  std::memcpy(&out, a.bytes.data(), 4);
  return out;
}

}  // namespace

// Before anything of libbpf runs, not only in load(): removeStale() runs at every start, also
// without balancing, and libbpf's default callback prints the expected "Parent Qdisc doesn't
// exists" of its tc queries raw on stderr (issue 12). carpd reports libbpf's failures itself,
// from the return values.
BpfLoadBalancer::BpfLoadBalancer() { libbpf_set_print(quiet); }

BpfLoadBalancer::~BpfLoadBalancer() {
  while (!interfaces_.empty()) release(interfaces_.begin()->first);
  if (object_ != nullptr) bpf_object__close(object_);
}

tl::expected<void, std::string> BpfLoadBalancer::load() {
  if (object_ != nullptr) return {};
  bpf_object_open_opts opts{};
  opts.sz = sizeof(opts);
  opts.object_name = "carp_lb";
  bpf_object* object = bpf_object__open_mem(kCarpLbObject, kCarpLbObjectSize, &opts);
  if (object == nullptr) return tl::unexpected("open BPF object: " + errnoText(errno));
  if (const int err = bpf_object__load(object); err != 0) {
    bpf_object__close(object);
    return tl::unexpected("load BPF program (needs CAP_BPF and CAP_NET_ADMIN): " + errnoText(err));
  }
  bpf_program* program = bpf_object__find_program_by_name(object, "carp_lb_ingress");
  bpf_map* map = bpf_object__find_map_by_name(object, "carp_lb_groups");
  if (program == nullptr || map == nullptr) {
    bpf_object__close(object);
    return tl::unexpected(std::string("BPF object lacks carp_lb_ingress or carp_lb_groups"));
  }
  object_ = object;
  program_fd_ = bpf_program__fd(program);
  map_fd_ = bpf_map__fd(map);
  return {};
}

int BpfLoadBalancer::programFd() const noexcept { return program_fd_; }
int BpfLoadBalancer::mapFd() const noexcept { return map_fd_; }

void BpfLoadBalancer::removeStale() noexcept {
  struct if_nameindex* names = if_nameindex();
  if (names == nullptr) return;
  for (const struct if_nameindex* n = names; n->if_index != 0; ++n) {
    if (!interfaces_.contains(static_cast<int>(n->if_index))) {
      detachFilter(static_cast<int>(n->if_index));
    }
  }
  if_freenameindex(names);
}

tl::expected<void, std::string> BpfLoadBalancer::prepare(const BalancingState& state,
                                                         Interface& iface) {
  if (!iface.membership || iface.member_mac != state.macs.lladdr) {
    // PACKET_MR_MULTICAST for the ip mode's group MAC, PACKET_MR_UNICAST otherwise: the NIC
    // then passes frames to the shared MAC without going promiscuous.
    UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (!fd) return tl::unexpected("AF_PACKET socket: " + errnoText(errno));
    packet_mreq mreq{};
    mreq.mr_ifindex = state.ifindex;
    const bool multicast = (state.macs.lladdr[0] & 0x01) != 0;
    mreq.mr_type = multicast ? PACKET_MR_MULTICAST : PACKET_MR_UNICAST;
    mreq.mr_alen = ETH_ALEN;
    std::memcpy(mreq.mr_address, state.macs.lladdr.data(), ETH_ALEN);
    if (::setsockopt(fd.get(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0) {
      return tl::unexpected("receive the shared MAC: " + errnoText(errno));
    }
    iface.membership = std::move(fd);
    iface.member_mac = state.macs.lladdr;
  }
  if (iface.sysctls.empty()) {
    const std::string path = "/proc/sys/net/ipv4/conf/" + state.interface + "/arp_announce";
    auto current = readSysctl(path);
    if (!current) return tl::unexpected(current.error());
    if (current->empty() || (*current)[0] < '2') {
      if (auto set = iface.sysctls.set(path, "2"); !set) return set;
    }
  }
  bpf_tc_hook hook = ingressHook(state.ifindex);
  if (const int err = bpf_tc_hook_create(&hook); err != 0 && err != -EEXIST) {
    return tl::unexpected("create the clsact qdisc: " + errnoText(err));
  }
  bpf_tc_opts opts = ourFilter(program_fd_);
  opts.flags = BPF_TC_F_REPLACE;  // also replaces a filter a killed carpd left
  if (const int err = bpf_tc_attach(&hook, &opts); err != 0) {
    return tl::unexpected("attach the tc ingress filter: " + errnoText(err));
  }
  return {};
}

tl::expected<void, std::string> BpfLoadBalancer::update(const BalancingState& state) {
  if (auto loaded_now = load(); !loaded_now) return loaded_now;
  const bool fresh = !interfaces_.contains(state.ifindex);
  Interface& iface = interfaces_[state.ifindex];
  if (fresh || iface.member_mac != state.macs.lladdr) {
    if (auto prepared = prepare(state, iface); !prepared) {
      if (fresh) release(state.ifindex);
      return tl::unexpected(state.interface + ": " + prepared.error());
    }
  }
  carp_lb_value value{};
  value.lsmask = state.lsmask;
  value.node_count = state.node_count;
  value.valid_until_ns = static_cast<__u64>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(state.valid_until.time_since_epoch())
          .count());
  value.leader = state.leader ? 1 : 0;
  std::memcpy(value.lladdr, state.macs.lladdr.data(), ETH_ALEN);
  std::memcpy(value.frame_source, state.macs.frame_source.data(), ETH_ALEN);
  for (const auto& address : state.addresses) {
    if (address.family != proto::Family::kIPv4) continue;
    carp_lb_key key{static_cast<__u32>(state.ifindex), networkOrder(address)};
    if (bpf_map_update_elem(map_fd_, &key, &value, BPF_ANY) != 0) {
      return tl::unexpected(state.interface + ": update the BPF map: " + errnoText(errno));
    }
    iface.addresses.insert(address);
  }
  return {};
}

void BpfLoadBalancer::remove(int ifindex, std::span<const proto::IpAddress> addresses) noexcept {
  const auto it = interfaces_.find(ifindex);
  if (it == interfaces_.end()) return;
  for (const auto& address : addresses) {
    carp_lb_key key{static_cast<__u32>(ifindex), networkOrder(address)};
    (void)bpf_map_delete_elem(map_fd_, &key);
    it->second.addresses.erase(address);
  }
  if (it->second.addresses.empty()) release(ifindex);
}

void BpfLoadBalancer::release(int ifindex) noexcept {
  const auto it = interfaces_.find(ifindex);
  if (it == interfaces_.end()) return;
  for (const auto& address : it->second.addresses) {
    carp_lb_key key{static_cast<__u32>(ifindex), networkOrder(address)};
    (void)bpf_map_delete_elem(map_fd_, &key);
  }
  detachFilter(ifindex);
  interfaces_.erase(it);  // closes the membership socket, restores arp_announce
}

}  // namespace carp::os::lnx
