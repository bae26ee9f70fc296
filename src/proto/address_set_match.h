#pragma once
// Which address set a peer signed: a CARP digest covers the passphrase, the VHID and the
// peer's address set (hmac.h), so an advertisement that fails HMAC with the right passphrase
// was signed over other addresses. The usual causes each give a candidate built from our own
// configured addresses: ucarp hashes only its one IPv4 address; a host configured with only
// the IPv4 (or only the IPv6) half of the group; FreeBSD, which hashes link-local addresses
// attached to the VHID (HmacSigner::verify tries with and without them).

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "proto/address.h"
#include "proto/header.h"
#include "proto/secret_key.h"
#include "proto/types.h"

namespace carp::proto {

struct AddressSetCandidate {
  std::string description;  // "the IPv4 addresses only", "only 192.0.2.1 (as ucarp signs)"
  std::vector<IpAddress> addresses;
  bool operator==(const AddressSetCandidate&) const = default;
};

// The candidates in the order they are tried, without duplicates: every configured address,
// then the IPv4 ones only and the IPv6 ones only, then each single address. `format` turns an
// address into text for the descriptions.
std::vector<AddressSetCandidate> addressSetCandidates(std::span<const IpAddress> configured,
                                                      std::string (*format)(const IpAddress&));

// The first candidate whose digest for `counter`, with `key` and `vhid`, equals `digest`
// (either link-local variant), or nullopt when none does: then the passphrase differs, or the
// peer signs addresses that we do not have at all.
std::optional<AddressSetCandidate> findMatchingAddressSet(const SecretKey& key, Vhid vhid,
                                                          std::span<const IpAddress> configured,
                                                          const CarpCounter& counter,
                                                          const CarpDigest& digest,
                                                          std::string (*format)(const IpAddress&));

}  // namespace carp::proto
