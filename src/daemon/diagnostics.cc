#include "daemon/diagnostics.h"

#include <algorithm>

namespace carp::daemon {

void VhidDiagnostics::recordBadAuth(const proto::IpAddress& source, const proto::CarpHeader& header,
                                    proto::TimePoint now) {
  const std::uint64_t count = bad_auth ? bad_auth->count : 0;
  bad_auth = BadAuthHeard{source, header.counter, header.digest, now, count + 1};
}

void VhidDiagnostics::recordPeer(const proto::IpAddress& source, const proto::CarpHeader& header,
                                 proto::TimePoint now) {
  auto it = std::find_if(peers.begin(), peers.end(),
                         [&](const PeerHeard& p) { return p.source == source; });
  if (it == peers.end()) {
    if (peers.size() < kMaxPeersHeard) {
      it = peers.insert(peers.end(), PeerHeard{source});
    } else {
      it = std::min_element(peers.begin(), peers.end(),
                            [](const PeerHeard& a, const PeerHeard& b) { return a.last < b.last; });
      *it = PeerHeard{source};
    }
  }
  it->advbase = header.advbase;
  it->advskew = header.advskew;
  it->demote = header.demote;
  it->last = now;
  ++it->count;
}

void InterfaceDiagnostics::recordVrrp(const proto::IpAddress& source, proto::VrrpAdvert advert,
                                      proto::TimePoint now) {
  VrrpHeard& heard = vrrp[advert.vrid];
  heard.source = source;
  heard.advert = std::move(advert);
  heard.last = now;
  ++heard.count;
}

}  // namespace carp::daemon
