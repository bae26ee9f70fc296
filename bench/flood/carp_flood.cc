// carp_flood: sends forged CARP advertisements (right VHID, wrong key) on one interface as fast
// as it can, for the flood benchmark (bench/flood/run.py). Not a test and not installed.
//
//   carp_flood --iface eth0 --vhid 1 --source 192.0.2.100 --seconds 30 [--batch 64]
//
// Every frame is a well-formed IPv4 advertisement (TTL 255, valid IP and CARP checksums,
// advbase 1, advskew 0) whose HMAC is random bytes: a receiver must compute the HMAC to reject
// it, which is the most expensive drop a forger can cause. The counter changes per frame so
// that no two frames are identical. Prints one JSON line when done: frames sent, seconds, rate.

#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "config/address_text.h"
#include "proto/frames.h"
#include "proto/header.h"

namespace {

using carp::proto::CarpHeader;
using carp::proto::kCarpHeaderSize;

constexpr std::size_t kEthernetAndIpv4 = 14 + 20;  // where the CARP header starts in a frame

struct Options {
  std::string iface = "eth0";
  int vhid = 1;
  std::string source = "192.0.2.100";
  double seconds = 10;
  unsigned batch = 64;
  int advskew = 0;
  int advbase = 1;
};

carp::proto::MacAddress interfaceMac(int fd, const std::string& name) {
  ifreq request{};
  std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  carp::proto::MacAddress mac{};
  if (::ioctl(fd, SIOCGIFHWADDR, &request) == 0) {
    std::memcpy(mac.data(), request.ifr_hwaddr.sa_data, mac.size());
  }
  return mac;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Floods forged CARP advertisements (right VHID, wrong key) on one interface"};
  app.add_option("--iface", o.iface, "interface to send on")->capture_default_str();
  app.add_option("--vhid", o.vhid, "VHID of the forged adverts")->check(CLI::Range(1, 255));
  app.add_option("--source", o.source, "IPv4 source address")->capture_default_str();
  app.add_option("--seconds", o.seconds, "how long to send")->capture_default_str();
  app.add_option("--batch", o.batch, "frames per sendmmsg")->check(CLI::Range(1, 1024));
  app.add_option("--advskew", o.advskew, "advskew of the forged adverts")
      ->check(CLI::Range(0, 255));
  app.add_option("--advbase", o.advbase, "advbase of the forged adverts")
      ->check(CLI::Range(0, 255));
  CLI11_PARSE(app, argc, argv);

  auto source = carp::config::parseIpAddress(o.source);
  if (!source || source->family != carp::proto::Family::kIPv4) {
    std::fprintf(stderr, "carp_flood: --source must be an IPv4 address\n");
    return 2;
  }
  const int fd = ::socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: send only, never receives
  if (fd < 0) {
    std::perror("carp_flood: socket(AF_PACKET)");
    return 1;
  }
  const unsigned ifindex = ::if_nametoindex(o.iface.c_str());
  if (ifindex == 0) {
    std::perror(("carp_flood: " + o.iface).c_str());
    return 1;
  }
  const auto mac = interfaceMac(fd, o.iface);

  std::mt19937_64 random(std::random_device{}());
  CarpHeader header;
  header.vhid = static_cast<std::uint8_t>(o.vhid);
  header.advskew = static_cast<std::uint8_t>(o.advskew);
  header.advbase = static_cast<std::uint8_t>(o.advbase);
  for (auto& b : header.digest) b = static_cast<std::uint8_t>(random());
  std::uint64_t counter = random();

  // One frame per batch slot, built once; only the CARP part is rewritten per send.
  const auto payload = carp::proto::encodeHeader(header);
  const auto first = carp::proto::buildAdvertFrameV4(mac, *source, carp::proto::carpGroupV4(), 0,
                                                     carp::proto::kTosOpenBsd, payload);
  std::vector<std::vector<std::uint8_t>> frames(o.batch, first);
  std::vector<iovec> iovs(o.batch);
  std::vector<mmsghdr> messages(o.batch);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = static_cast<int>(ifindex);
  to.sll_halen = ETH_ALEN;
  std::memcpy(to.sll_addr, first.data(), ETH_ALEN);
  for (unsigned i = 0; i < o.batch; ++i) {
    iovs[i] = {frames[i].data(), frames[i].size()};
    messages[i].msg_hdr.msg_name = &to;
    messages[i].msg_hdr.msg_namelen = sizeof to;
    messages[i].msg_hdr.msg_iov = &iovs[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }

  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::duration<double>(o.seconds);
  std::uint64_t sent = 0;
  std::uint64_t errors = 0;
  int last_errno = 0;
  while (std::chrono::steady_clock::now() < until) {
    for (auto& frame : frames) {
      ++counter;
      for (std::size_t b = 0; b < header.counter.size(); ++b) {
        header.counter[b] = static_cast<std::uint8_t>(counter >> (8 * (7 - b)));
      }
      const auto carp = carp::proto::encodeHeader(header);
      std::memcpy(frame.data() + kEthernetAndIpv4, carp.data(), kCarpHeaderSize);
    }
    const int n = ::sendmmsg(fd, messages.data(), o.batch, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      ++errors;
      last_errno = errno;
      if (errno != ENOBUFS && errno != EAGAIN) break;
      continue;
    }
    sent += static_cast<std::uint64_t>(n);
  }
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"sent\": %llu, \"seconds\": %.3f, \"pps\": %.0f, \"batch\": %u, \"errors\": %llu, "
      "\"last_errno\": \"%s\"}\n",
      static_cast<unsigned long long>(sent), took,
      took > 0 ? static_cast<double>(sent) / took : 0.0, o.batch,
      static_cast<unsigned long long>(errors), last_errno ? std::strerror(last_errno) : "");
  ::close(fd);
  return sent > 0 ? 0 : 1;
}
