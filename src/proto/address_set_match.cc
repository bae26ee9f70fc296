#include "proto/address_set_match.h"

#include <algorithm>

#include "proto/hmac.h"

namespace carp::proto {
namespace {

std::vector<IpAddress> ofFamily(std::span<const IpAddress> addresses, Family family) {
  std::vector<IpAddress> out;
  std::copy_if(addresses.begin(), addresses.end(), std::back_inserter(out),
               [family](const IpAddress& a) { return a.family == family; });
  return out;
}

// The order in which the HMAC sees them: two lists with the same addresses sign alike.
std::vector<IpAddress> canonical(std::vector<IpAddress> addresses) {
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  return addresses;
}

}  // namespace

std::vector<AddressSetCandidate> addressSetCandidates(std::span<const IpAddress> configured,
                                                      std::string (*format)(const IpAddress&)) {
  std::vector<AddressSetCandidate> out;
  // A set met again keeps its place; a single address renames it, as that says more ("only
  // 192.0.2.1 (as ucarp signs)" rather than "the IPv4 addresses only").
  const auto add = [&](std::string description, std::vector<IpAddress> addresses) {
    addresses = canonical(std::move(addresses));
    if (addresses.empty()) return;
    const auto seen = std::find_if(out.begin(), out.end(), [&](const AddressSetCandidate& c) {
      return c.addresses == addresses;
    });
    if (seen == out.end()) {
      out.push_back({std::move(description), std::move(addresses)});
    } else if (addresses.size() == 1 && seen != out.begin()) {
      seen->description = std::move(description);
    }
  };
  add("every configured address", {configured.begin(), configured.end()});
  add("the IPv4 addresses only", ofFamily(configured, Family::kIPv4));
  add("the IPv6 addresses only", ofFamily(configured, Family::kIPv6));
  for (const IpAddress& a : configured) {
    // ucarp (ucarp.c) hashes the one address given with -a, IPv4 only.
    add("only " + format(a) + (a.family == Family::kIPv4 ? " (as ucarp signs)" : ""), {a});
  }
  return out;
}

std::optional<AddressSetCandidate> findMatchingAddressSet(const SecretKey& key, Vhid vhid,
                                                          std::span<const IpAddress> configured,
                                                          const CarpCounter& counter,
                                                          const CarpDigest& digest,
                                                          std::string (*format)(const IpAddress&)) {
  for (auto& candidate : addressSetCandidates(configured, format)) {
    auto signer = HmacSigner::make(key, vhid, std::span<const IpAddress>(candidate.addresses));
    if (signer && signer->verify(counter, digest)) return std::move(candidate);
  }
  return std::nullopt;
}

}  // namespace carp::proto
