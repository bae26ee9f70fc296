// The load-balancing BPF program run by the kernel on crafted frames (BPF_PROG_TEST_RUN): its
// verdicts must equal the pure carp_lsdrop hash of proto/load_balance.h. Needs root (CAP_BPF);
// skips otherwise. Touches no interface: the map entries are keyed by the loopback's ifindex,
// which is where the kernel runs a test frame.
#include "os/linux/bpf_load_balancer.h"

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <vector>

#include "os/linux/bpf/carp_lb_map.h"
#include "proto/load_balance.h"

namespace carp::os::lnx {
namespace {

using proto::IpAddress;
using proto::MacAddress;

constexpr int kLoopback = 1;
const IpAddress kShared = IpAddress::v4({192, 0, 2, 50});
constexpr MacAddress kLladdr{0x01, 0x00, 0x5e, 0x00, 0x01, 0x01};
constexpr MacAddress kFrameSource{0x02, 0x00, 0x00, 0x00, 0x00, 0x11};
constexpr MacAddress kClientMac{0x02, 0x00, 0x00, 0x00, 0x01, 0x00};

std::uint64_t monotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

void put(std::vector<std::uint8_t>& f, std::initializer_list<std::uint8_t> bytes) {
  f.insert(f.end(), bytes);
}
void put(std::vector<std::uint8_t>& f, const MacAddress& mac) {
  f.insert(f.end(), mac.begin(), mac.end());
}
void put(std::vector<std::uint8_t>& f, const IpAddress& a) {
  f.insert(f.end(), a.bytes.begin(), a.bytes.begin() + 4);
}

// IPv4 header without options; the checksum is not checked on tc ingress.
void ipv4(std::vector<std::uint8_t>& f, std::uint8_t protocol, const IpAddress& src,
          const IpAddress& dst, std::uint8_t length) {
  put(f, {0x45, 0, 0, length, 0, 0, 0x40, 0, 64, protocol, 0, 0});
  put(f, src);
  put(f, dst);
}

std::vector<std::uint8_t> udpFrame(const IpAddress& src, const IpAddress& dst) {
  std::vector<std::uint8_t> f;
  put(f, kLladdr);
  put(f, kClientMac);
  put(f, {0x08, 0x00});
  ipv4(f, 17, src, dst, 28);
  put(f, {0x30, 0x39, 0x1b, 0x5f, 0, 8, 0, 0});
  return f;
}

// An ICMP port unreachable from `router` quoting a packet from the shared address to `peer`.
std::vector<std::uint8_t> icmpErrorFrame(const IpAddress& router, const IpAddress& peer) {
  std::vector<std::uint8_t> f;
  put(f, kLladdr);
  put(f, kClientMac);
  put(f, {0x08, 0x00});
  ipv4(f, 1, router, kShared, 56);
  put(f, {3, 3, 0, 0, 0, 0, 0, 0});
  ipv4(f, 17, kShared, peer, 28);
  put(f, {0x1b, 0x5f, 0x30, 0x39, 0, 8, 0, 0});
  return f;
}

std::vector<std::uint8_t> arpRequest(const IpAddress& sender, const IpAddress& target) {
  std::vector<std::uint8_t> f;
  put(f, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  put(f, kClientMac);
  put(f, {0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1});
  put(f, kClientMac);
  put(f, sender);
  put(f, MacAddress{});
  put(f, target);
  return f;
}

class BpfFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_BPF) to load the BPF program";
    if (auto loaded = lb_.load(); !loaded) {
      GTEST_SKIP() << "BPF not permitted here: " << loaded.error();
    }
  }

  void setEntry(std::uint32_t lsmask, std::uint32_t count, bool leader, std::uint64_t valid_until) {
    carp_lb_key key{kLoopback, 0};
    std::memcpy(&key.address, kShared.bytes.data(), 4);
    carp_lb_value value{};
    value.lsmask = lsmask;
    value.node_count = count;
    value.leader = leader ? 1 : 0;
    value.valid_until_ns = valid_until;
    std::memcpy(value.lladdr, kLladdr.data(), 6);
    std::memcpy(value.frame_source, kFrameSource.data(), 6);
    ASSERT_EQ(bpf_map_update_elem(lb_.mapFd(), &key, &value, BPF_ANY), 0);
  }

  struct Run {
    int verdict = -1;
    std::vector<std::uint8_t> out;
  };
  Run run(std::vector<std::uint8_t> frame) {
    Run r;
    r.out.resize(frame.size() + 64);
    __sk_buff ctx{};
    ctx.ifindex = kLoopback;
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<__u32>(frame.size());
    opts.data_out = r.out.data();
    opts.data_size_out = static_cast<__u32>(r.out.size());
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
    opts.repeat = 1;
    EXPECT_EQ(bpf_prog_test_run_opts(lb_.programFd(), &opts), 0) << std::strerror(errno);
    r.verdict = static_cast<int>(opts.retval);
    r.out.resize(opts.data_size_out);
    return r;
  }

  BpfLoadBalancer lb_;
};

TEST_F(BpfFilterTest, VerdictsFollowTheCarpLsdropHash) {
  for (const std::uint32_t count : {2U, 3U, 5U, 32U}) {
    for (const std::uint32_t mask : {0b1U, 0b10U, 0b101U, 0x80000001U}) {
      setEntry(mask, count, false, monotonicNs() + 60'000'000'000ULL);
      int accepted = 0;
      for (int i = 1; i <= 64; ++i) {
        const auto src = IpAddress::v4({198, 51, 100, static_cast<std::uint8_t>(i)});
        const bool want = proto::accepts(mask, count, src, kShared);
        const int verdict = run(udpFrame(src, kShared)).verdict;
        EXPECT_EQ(verdict, want ? TC_ACT_OK : TC_ACT_SHOT)
            << "count " << count << " mask " << mask << " source 198.51.100." << i;
        accepted += want ? 1 : 0;
      }
      if (count == 2 && mask == 0b1U) {
        EXPECT_EQ(accepted, 32);
      }
    }
  }
}

TEST_F(BpfFilterTest, OtherDestinationsAndProtocolsPass) {
  setEntry(0, 2, false, monotonicNs() + 60'000'000'000ULL);
  const auto src = IpAddress::v4({198, 51, 100, 1});
  EXPECT_EQ(run(udpFrame(src, IpAddress::v4({192, 0, 2, 51}))).verdict, TC_ACT_OK);
  EXPECT_EQ(run(udpFrame(src, kShared)).verdict, TC_ACT_SHOT);
  std::vector<std::uint8_t> ipv6;
  put(ipv6, kLladdr);
  put(ipv6, kClientMac);
  put(ipv6, {0x86, 0xdd, 0x60});
  ipv6.resize(14 + 40 + 8);
  ipv6[18] = 8;   // payload length
  ipv6[20] = 17;  // UDP
  ipv6[21] = 64;  // hop limit
  EXPECT_EQ(run(ipv6).verdict, TC_ACT_OK);
}

TEST_F(BpfFilterTest, AnExpiredLeaseAcceptsNothing) {
  setEntry(0b11, 2, true, monotonicNs() - 1);
  EXPECT_EQ(run(udpFrame(IpAddress::v4({198, 51, 100, 1}), kShared)).verdict, TC_ACT_SHOT);
  EXPECT_EQ(run(arpRequest(IpAddress::v4({192, 0, 2, 100}), kShared)).verdict, TC_ACT_SHOT);
}

TEST_F(BpfFilterTest, IcmpErrorsHashAsTheFlowTheyQuote) {
  // OpenBSD icmp_input: (quoted destination, our address), not the router's address.
  const auto router = IpAddress::v4({203, 0, 113, 1});
  for (int i = 1; i <= 16; ++i) {
    const auto peer = IpAddress::v4({198, 51, 100, static_cast<std::uint8_t>(i)});
    setEntry(0b01, 2, false, monotonicNs() + 60'000'000'000ULL);
    const bool want = proto::accepts(0b01, 2, peer, kShared);
    EXPECT_EQ(run(icmpErrorFrame(router, peer)).verdict, want ? TC_ACT_OK : TC_ACT_SHOT) << i;
  }
}

TEST_F(BpfFilterTest, OnlyTheLeaderAnswersArpWithTheSharedMac) {
  const auto client = IpAddress::v4({192, 0, 2, 100});
  setEntry(0b10, 2, false, monotonicNs() + 60'000'000'000ULL);
  EXPECT_EQ(run(arpRequest(client, kShared)).verdict, TC_ACT_SHOT);
  // A peer's gratuitous ARP is never answered.
  setEntry(0b01, 2, true, monotonicNs() + 60'000'000'000ULL);
  EXPECT_EQ(run(arpRequest(kShared, kShared)).verdict, TC_ACT_SHOT);
  // ARP for other addresses is the kernel's.
  EXPECT_EQ(run(arpRequest(client, IpAddress::v4({192, 0, 2, 11}))).verdict, TC_ACT_OK);

  const Run reply = run(arpRequest(client, kShared));
  EXPECT_EQ(reply.verdict, TC_ACT_REDIRECT);
  std::vector<std::uint8_t> want;
  put(want, kClientMac);
  put(want, kFrameSource);
  put(want, {0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 2});
  put(want, kLladdr);
  put(want, kShared);
  put(want, kClientMac);
  put(want, client);
  ASSERT_GE(reply.out.size(), want.size());
  EXPECT_EQ(std::vector<std::uint8_t>(reply.out.begin(), reply.out.begin() + 42), want);
}

}  // namespace
}  // namespace carp::os::lnx
