// Which address set a peer signed, with the carp-wire.md §2.8 vectors (copied into
// test_vectors.h): each vector's digest is what a peer with that address set sends.

#include "proto/address_set_match.h"

#include <gtest/gtest.h>

#include "test_vectors.h"

namespace carp::proto {
namespace {

using tv::arrayFromHex;
using tv::v4;
using tv::v6;

std::string text(const IpAddress& a) {
  if (a.family == Family::kIPv4) {
    return std::to_string(a.bytes[0]) + "." + std::to_string(a.bytes[1]) + "." +
           std::to_string(a.bytes[2]) + "." + std::to_string(a.bytes[3]);
  }
  return tv::toHex(a.bytes);
}

tv::Vector vector(std::string_view name) {
  for (auto& v : tv::allVectors()) {
    if (name == v.name) return v;
  }
  ADD_FAILURE() << "no vector " << name;
  return {};
}

std::optional<AddressSetCandidate> match(const tv::Vector& signed_by,
                                         std::string_view our_passphrase,
                                         const std::vector<IpAddress>& ours) {
  return findMatchingAddressSet(
      SecretKey::fromPassphrase(our_passphrase), *Vhid::make(signed_by.vhid), ours,
      arrayFromHex<8>(signed_by.counter), arrayFromHex<20>(signed_by.md), text);
}

TEST(AddressSetMatch, UcarpSigningOneIpv4AddressOfOurs) {
  // TV1: 192.168.1.1 alone, as ucarp signs it; we list it with an IPv6 address.
  const auto v = vector("TV1");
  const auto found =
      match(v, "secret", {v4(192, 168, 1, 1), v6("20010db8000000000000000000000001")});
  ASSERT_TRUE(found);
  EXPECT_EQ(found->addresses, std::vector<IpAddress>{v4(192, 168, 1, 1)});
  EXPECT_EQ(found->description, "only 192.168.1.1 (as ucarp signs)");
}

TEST(AddressSetMatch, PeerWithOnlyTheIpv4Half) {
  // TV2: 10.0.0.20 and 10.0.0.3; we also have an IPv6 address the peer lacks.
  const auto v = vector("TV2");
  const auto found =
      match(v, "mekmitasdigoat",
            {v4(10, 0, 0, 3), v6("20010db8000000000000000000000001"), v4(10, 0, 0, 20)});
  ASSERT_TRUE(found);
  EXPECT_EQ(found->description, "the IPv4 addresses only");
  EXPECT_EQ(found->addresses, (std::vector<IpAddress>{v4(10, 0, 0, 3), v4(10, 0, 0, 20)}));
}

TEST(AddressSetMatch, PeerWithOnlyTheIpv6Half) {
  // TV3a signs 2001:db8::1 (and the link-local, skipped in that variant).
  const auto v = vector("TV3a");
  const auto found = match(v, "carp6", {v4(192, 0, 2, 1), v6("20010db8000000000000000000000001")});
  ASSERT_TRUE(found);
  EXPECT_EQ(found->addresses, std::vector<IpAddress>{v6("20010db8000000000000000000000001")});
}

TEST(AddressSetMatch, FreeBsdHashingTheLinkLocalMatchesTheFullSet) {
  // TV3b: FreeBSD's ORIG variant, link-local included; our set has the same two addresses.
  const auto v = vector("TV3b");
  const auto found = match(v, "carp6", v.addresses);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->description, "every configured address");
}

TEST(AddressSetMatch, MixedFamiliesSignedInFull) {
  const auto v = vector("TV4");
  const auto found = match(v, "this-passphrase-is-longer-than-19", v.addresses);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->description, "every configured address");
}

TEST(AddressSetMatch, AnotherPassphraseMatchesNothing) {
  const auto v = vector("TV1");
  EXPECT_FALSE(match(v, "not-secret", {v4(192, 168, 1, 1)}));
  EXPECT_FALSE(match(v, "secret", {v4(192, 168, 1, 2), v4(192, 168, 1, 3)}))
      << "an address set we do not have";
}

TEST(AddressSetMatch, CandidatesComeOnceInOrder) {
  const auto candidates = addressSetCandidates(
      std::vector<IpAddress>{v4(192, 0, 2, 2), v4(192, 0, 2, 1), v4(192, 0, 2, 1)}, text);
  std::vector<std::string> names;
  for (const auto& c : candidates) names.push_back(c.description);
  // The IPv4-only set equals the full set; the IPv6-only set is empty.
  EXPECT_EQ(names,
            (std::vector<std::string>{"every configured address", "only 192.0.2.2 (as ucarp signs)",
                                      "only 192.0.2.1 (as ucarp signs)"}));
}

}  // namespace
}  // namespace carp::proto
