#pragma once
// What carpd hears that it does not act upon, kept for `carpctl doctor`: the reasons CARP
// fails silently are on the wire (a VRRP router using a VHID's number and so its virtual MAC,
// a peer whose HMAC does not match, a second MASTER), and counters alone do not say who sent
// what. Bounded: one entry per VRRP router number, one bad-HMAC sender, a few peers.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "proto/address.h"
#include "proto/header.h"
#include "proto/types.h"
#include "proto/vrrp.h"

namespace carp::daemon {

// A VRRP advertisement heard on an interface, the last one per router number.
struct VrrpHeard {
  proto::IpAddress source;
  proto::VrrpAdvert advert;
  proto::TimePoint last{};
  std::uint64_t count = 0;
};

// The last advertisement for a VHID that failed HMAC: the counter and digest are what the
// address-set match needs (they are not secret: they are on the wire).
struct BadAuthHeard {
  proto::IpAddress source;
  proto::CarpCounter counter{};
  proto::CarpDigest digest{};
  proto::TimePoint last{};
  std::uint64_t count = 0;  // bad-HMAC advertisements from any source
};

// A sender of valid advertisements for a VHID.
struct PeerHeard {
  proto::IpAddress source;
  std::uint8_t advbase = 0;
  std::uint8_t advskew = 0;
  std::uint8_t demote = 0;
  proto::TimePoint last{};
  std::uint64_t count = 0;
};

inline constexpr std::size_t kMaxPeersHeard = 8;

struct VhidDiagnostics {
  std::optional<BadAuthHeard> bad_auth;
  std::vector<PeerHeard> peers;  // by first heard; the least recently heard is replaced

  void recordBadAuth(const proto::IpAddress& source, const proto::CarpHeader& header,
                     proto::TimePoint now);
  void recordPeer(const proto::IpAddress& source, const proto::CarpHeader& header,
                  proto::TimePoint now);
};

struct InterfaceDiagnostics {
  std::map<std::uint8_t, VrrpHeard> vrrp;  // by VRID

  void recordVrrp(const proto::IpAddress& source, proto::VrrpAdvert advert, proto::TimePoint now);
};

}  // namespace carp::daemon
