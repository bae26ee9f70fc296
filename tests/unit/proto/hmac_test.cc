#include "proto/hmac.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "test_vectors.h"

namespace carp::proto {
namespace {

using tv::arrayFromHex;
using tv::toHex;
using tv::v4;
using tv::v6;

Vhid vhidOf(int n) { return Vhid::make(n).value(); }

HmacSigner signerFor(const tv::Vector& v) {
  const SecretKey key = SecretKey::fromPassphrase(v.passphrase);
  std::optional<MacAddress> lladdr;
  if (v.has_lladdr) lladdr = v.lladdr;
  auto signer = HmacSigner::make(key, vhidOf(v.vhid), v.addresses, v.include_link_local, lladdr);
  EXPECT_TRUE(signer.has_value()) << signer.error();
  return std::move(*signer);
}

TEST(Hmac, KeysMatchTheVectors) {
  for (const auto& v : tv::allVectors()) {
    if (v.key.empty()) continue;
    const SecretKey key = SecretKey::fromPassphrase(v.passphrase);
    EXPECT_EQ(toHex(key.bytes()), v.key) << v.name;
  }
}

TEST(Hmac, MessageIsTheBsdInput) {
  for (const auto& v : tv::allVectors()) {
    const HmacSigner s = signerFor(v);
    const auto& sent =
        v.include_link_local ? s.messageWithLinkLocal() : s.messageWithoutLinkLocal();
    EXPECT_EQ(toHex(sent), v.message) << v.name;
  }
}

TEST(Hmac, SignReproducesEveryVector) {
  for (const auto& v : tv::allVectors()) {
    const HmacSigner s = signerFor(v);
    EXPECT_EQ(toHex(s.sign(arrayFromHex<8>(v.counter))), v.md) << v.name;
  }
}

TEST(Hmac, VerifyAcceptsEveryVector) {
  for (const auto& v : tv::allVectors()) {
    const HmacSigner s = signerFor(v);
    EXPECT_TRUE(s.verify(arrayFromHex<8>(v.counter), arrayFromHex<20>(v.md))) << v.name;
  }
}

TEST(Hmac, LinkLocalVariantsTv3) {
  // OpenBSD sends NOV6LL (TV3a) and accepts ORIG (TV3b) as well, whichever it sends.
  const std::vector<IpAddress> addrs = {v6("20010db8000000000000000000000001"),
                                        v6("fe800000000000000000000000000001")};
  const auto counter = arrayFromHex<8>("1122334455667788");
  const auto tv3a = arrayFromHex<20>("ccfcd6f8fa7bd576291cabbd0b38a3c01c1cd151");
  const auto tv3b = arrayFromHex<20>("f46493b3724d998370b610f4b4e7b26e29ab8c0a");
  const SecretKey key = SecretKey::fromPassphrase("carp6");
  for (bool include : {false, true}) {
    const auto s = HmacSigner::make(key, vhidOf(3), addrs, include);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->sign(counter), include ? tv3b : tv3a);
    EXPECT_TRUE(s->verify(counter, tv3a)) << include;
    EXPECT_TRUE(s->verify(counter, tv3b)) << include;
  }
  // A FreeBSD peer with only the global address attached produces TV3a too.
  const std::vector<IpAddress> global_only = {addrs[0]};
  const auto fbsd = HmacSigner::make(key, vhidOf(3), global_only, true);
  ASSERT_TRUE(fbsd.has_value());
  EXPECT_EQ(fbsd->sign(counter), tv3a);
  EXPECT_FALSE(fbsd->verify(counter, tv3b));
}

TEST(Hmac, LinkLocalScopeBytesAreZeroed) {
  // A KAME-style embedded scope (interface 5 in bytes 2-3) hashes like plain fe80::1.
  const std::vector<IpAddress> addrs = {v6("20010db8000000000000000000000001"),
                                        v6("fe800005000000000000000000000001")};
  const auto s = HmacSigner::make(SecretKey::fromPassphrase("carp6"), vhidOf(3), addrs, true);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(toHex(s->sign(arrayFromHex<8>("1122334455667788"))),
            "f46493b3724d998370b610f4b4e7b26e29ab8c0a");
  // Only fe80::/10 is treated so: fec0:5:: keeps its bytes.
  const std::vector<IpAddress> site = {v6("fec00005000000000000000000000001")};
  const auto t = HmacSigner::make(SecretKey::empty(), vhidOf(3), site, true);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(toHex(t->messageWithoutLinkLocal()), "020103fec00005000000000000000000000001");
}

TEST(Hmac, AddressesAreSortedAndDeduplicated) {
  const std::vector<IpAddress> addrs = {
      v6("20010db8000000000000000000000002"), v4(10, 0, 0, 20), v4(10, 0, 0, 3),
      v6("20010db8000000000000000000000001"), v4(10, 0, 0, 3),  v4(9, 255, 255, 255),
      v6("20010db8000000000000000000000002"), v4(128, 0, 0, 1)};
  const auto s = HmacSigner::make(SecretKey::empty(), vhidOf(9), addrs);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(toHex(s->messageWithoutLinkLocal()),
            "020109"
            "09ffffff0a0000030a00001480000001"
            "20010db8000000000000000000000001"
            "20010db8000000000000000000000002");
}

TEST(Hmac, SelectionSortEdgesAreNeverHashed) {
  const std::vector<IpAddress> addrs = {v4(0, 0, 0, 0),
                                        v4(255, 255, 255, 255),
                                        v4(1, 2, 3, 4),
                                        v6("00000000000000000000000000000000"),
                                        v6("ffffffffffffffffffffffffffffffff"),
                                        v6("00000000000000000000000000000001")};
  const auto s = HmacSigner::make(SecretKey::empty(), vhidOf(1), addrs, true);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(toHex(s->messageWithLinkLocal()),
            "02010101020304"
            "00000000000000000000000000000001");
}

TEST(Hmac, InterfaceAddressesIgnoreThePrefix) {
  const std::vector<InterfaceAddress> with_prefix = {{v4(192, 168, 1, 1), 24}};
  const auto s = HmacSigner::make(SecretKey::fromPassphrase("secret"), vhidOf(1), with_prefix);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(toHex(s->sign(arrayFromHex<8>("0102030405060708"))),
            "adea55cad5e9881574e82c1c92cb99ca28c1d1f8");
}

TEST(Hmac, NoAddressesStillSigns) {
  const auto s = HmacSigner::make(SecretKey::empty(), vhidOf(1), std::span<const IpAddress>{});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(toHex(s->messageWithoutLinkLocal()), "020101");
  const CarpCounter c{};
  EXPECT_TRUE(s->verify(c, s->sign(c)));
}

TEST(Hmac, VerifyRejectsWrongKeyCounterDigestVhidOrAddresses) {
  const auto v = tv::allVectors().front();
  const auto counter = arrayFromHex<8>(v.counter);
  const auto md = arrayFromHex<20>(v.md);
  const HmacSigner good = signerFor(v);
  ASSERT_TRUE(good.verify(counter, md));

  auto other_counter = counter;
  other_counter[7] ^= 1;
  EXPECT_FALSE(good.verify(other_counter, md));
  for (std::size_t i = 0; i < md.size(); ++i) {
    auto bad = md;
    bad[i] ^= 0x80;
    EXPECT_FALSE(good.verify(counter, bad)) << i;
  }
  const auto wrong_key =
      HmacSigner::make(SecretKey::fromPassphrase("Secret"), vhidOf(1), v.addresses);
  EXPECT_FALSE(wrong_key->verify(counter, md));
  const auto wrong_vhid =
      HmacSigner::make(SecretKey::fromPassphrase("secret"), vhidOf(2), v.addresses);
  EXPECT_FALSE(wrong_vhid->verify(counter, md));
  const std::vector<IpAddress> other = {v4(192, 168, 1, 2)};
  const auto wrong_addr = HmacSigner::make(SecretKey::fromPassphrase("secret"), vhidOf(1), other);
  EXPECT_FALSE(wrong_addr->verify(counter, md));
  // TV5's lladdr changes the digest; FreeBSD-style signers never match it.
  const auto tv5 = arrayFromHex<20>("d0b45ff6f3eaae8fc505de7ea616fefc21da999b");
  EXPECT_FALSE(good.verify(counter, tv5));
}

TEST(Hmac, SignerIsMovable) {
  const auto v = tv::allVectors().front();
  HmacSigner a = signerFor(v);
  HmacSigner b(std::move(a));
  EXPECT_EQ(toHex(b.sign(arrayFromHex<8>(v.counter))), v.md);
  HmacSigner c = signerFor(tv::allVectors().back());
  c = std::move(b);
  EXPECT_EQ(toHex(c.sign(arrayFromHex<8>(v.counter))), v.md);
  // A moved-from signer fails closed instead of crashing.
  EXPECT_FALSE(a.verify(arrayFromHex<8>(v.counter), arrayFromHex<20>(v.md)));  // NOLINT
  EXPECT_EQ(a.sign(arrayFromHex<8>(v.counter)), CarpDigest{});                 // NOLINT
}

TEST(Hmac, SigningIsRepeatable) {
  const auto v = tv::allVectors().front();
  const HmacSigner s = signerFor(v);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(toHex(s.sign(arrayFromHex<8>(v.counter))), v.md);
}

TEST(RandomCounter, DrawsFreshValues) {
  const CarpCounter a = randomCounter();
  const CarpCounter b = randomCounter();
  EXPECT_NE(a, b);  // fails with probability 2^-64
}

}  // namespace
}  // namespace carp::proto
