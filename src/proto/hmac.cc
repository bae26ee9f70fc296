#include "proto/hmac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>

namespace carp::proto {
namespace {

struct MacDeleter {
  void operator()(EVP_MAC* mac) const noexcept { EVP_MAC_free(mac); }
};

using Ipv4Word = std::uint32_t;
using Ipv6Bytes = std::array<std::uint8_t, 16>;

// Builds M (carp-wire.md §2.2) for one variant. OpenBSD ip_carp.c carp_hmac_prepare_ctx and
// FreeBSD carp_hmac_prepare walk the address list with a selection sort that starts from
// "last = all zeros, cur = all ones" and keeps only addresses strictly between them; sorting,
// removing duplicates and dropping those two extremes gives the same byte string.
std::vector<std::uint8_t> buildMessage(Vhid vhid, std::span<const IpAddress> addresses,
                                       bool with_link_local,
                                       const std::optional<MacAddress>& lladdr) {
  std::vector<Ipv4Word> v4;
  std::vector<Ipv6Bytes> v6;
  for (const IpAddress& a : addresses) {
    if (a.family == Family::kIPv4) {
      // Compared as host-order unsigned numbers, hashed in network order (§2.3).
      const Ipv4Word w = static_cast<Ipv4Word>(a.bytes[0]) << 24 |
                         static_cast<Ipv4Word>(a.bytes[1]) << 16 |
                         static_cast<Ipv4Word>(a.bytes[2]) << 8 | a.bytes[3];
      if (w != 0 && w != 0xffffffffu) v4.push_back(w);
      continue;
    }
    Ipv6Bytes b = a.bytes;
    if (a.isIpv6LinkLocal()) {
      // OpenBSD HMAC_NOV6LL skips scope-embedded addresses; HMAC_ORIG (and FreeBSD) hash them
      // with the KAME embedded interface index (bytes 2-3) zeroed, i.e. in their wire form.
      if (!with_link_local) continue;
      b[2] = 0;
      b[3] = 0;
    }
    const bool all_zero = std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0; });
    const bool all_ones = std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0xff; });
    if (!all_zero && !all_ones) v6.push_back(b);
  }
  std::sort(v4.begin(), v4.end());
  v4.erase(std::unique(v4.begin(), v4.end()), v4.end());
  // memcmp order on the (zeroed) bytes, as both kernels compare IPv6 addresses.
  std::sort(v6.begin(), v6.end());
  v6.erase(std::unique(v6.begin(), v6.end()), v6.end());

  std::vector<std::uint8_t> m;
  m.reserve(3 + 6 + 4 * v4.size() + 16 * v6.size());
  m.push_back(kCarpVersion);
  m.push_back(kCarpAdvertisement);
  if (lladdr) m.insert(m.end(), lladdr->begin(), lladdr->end());
  m.push_back(vhid.value());
  for (Ipv4Word w : v4) {
    m.push_back(static_cast<std::uint8_t>(w >> 24));
    m.push_back(static_cast<std::uint8_t>(w >> 16));
    m.push_back(static_cast<std::uint8_t>(w >> 8));
    m.push_back(static_cast<std::uint8_t>(w));
  }
  for (const Ipv6Bytes& b : v6) m.insert(m.end(), b.begin(), b.end());
  return m;
}

}  // namespace

tl::expected<HmacSigner, std::string> HmacSigner::make(const SecretKey& key, Vhid vhid,
                                                       std::span<const IpAddress> addresses,
                                                       bool include_link_local,
                                                       std::optional<MacAddress> openbsd_lladdr) {
  const std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) return tl::unexpected(std::string("OpenSSL: HMAC is not available"));

  HmacSigner signer;
  signer.send_orig_ = include_link_local;
  signer.message_orig_ = buildMessage(vhid, addresses, true, openbsd_lladdr);
  signer.message_nov6ll_ = buildMessage(vhid, addresses, false, openbsd_lladdr);

  // The key is the 20-byte array exactly as stored, zero padding included (§2.1).
  const auto key_bytes = key.bytes();
  auto prepare = [&](const std::vector<std::uint8_t>& message) -> CtxPtr {
    CtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
    if (!ctx) return nullptr;
    char digest_name[] = "SHA1";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx.get(), key_bytes.data(), key_bytes.size(), params) != 1) return nullptr;
    if (EVP_MAC_update(ctx.get(), message.data(), message.size()) != 1) return nullptr;
    return ctx;
  };
  signer.orig_ = prepare(signer.message_orig_);
  signer.nov6ll_ = prepare(signer.message_nov6ll_);
  if (!signer.orig_ || !signer.nov6ll_) {
    return tl::unexpected(std::string("OpenSSL: cannot initialise HMAC-SHA1"));
  }
  return signer;
}

tl::expected<HmacSigner, std::string> HmacSigner::make(const SecretKey& key, Vhid vhid,
                                                       std::span<const InterfaceAddress> addresses,
                                                       bool include_link_local,
                                                       std::optional<MacAddress> openbsd_lladdr) {
  // Prefix lengths never enter the HMAC (§2.3).
  std::vector<IpAddress> plain;
  plain.reserve(addresses.size());
  for (const InterfaceAddress& a : addresses) plain.push_back(a.address);
  return make(key, vhid, plain, include_link_local, openbsd_lladdr);
}

bool HmacSigner::digestWith(EVP_MAC_CTX* keyed, const std::vector<std::uint8_t>& message,
                            const CarpCounter& counter, CarpDigest& out) noexcept {
  // OpenBSD carp_hmac_generate copies a context that has absorbed ipad and M. Re-initialising a
  // keyed EVP_MAC context (NULL key: keep the key) and hashing M again is measured faster than
  // EVP_MAC_CTX_dup, whose allocations cost more than the extra SHA-1 block (bench/,
  // docs/performance.md). Not reentrant: carpd has one thread.
  if (keyed == nullptr) return false;  // a moved-from signer
  if (EVP_MAC_init(keyed, nullptr, 0, nullptr) != 1) return false;
  if (EVP_MAC_update(keyed, message.data(), message.size()) != 1) return false;
  if (EVP_MAC_update(keyed, counter.data(), counter.size()) != 1) return false;
  std::size_t length = 0;
  if (EVP_MAC_final(keyed, out.data(), &length, out.size()) != 1) return false;
  return length == out.size();
}

CarpDigest HmacSigner::sign(const CarpCounter& counter) const noexcept {
  CarpDigest digest{};
  // OpenBSD carp_prepare_ad: "do not include the IPv6 linklayer addresses" (HMAC_NOV6LL).
  const bool ok = send_orig_ ? digestWith(orig_.get(), message_orig_, counter, digest)
                             : digestWith(nov6ll_.get(), message_nov6ll_, counter, digest);
  if (!ok) digest.fill(0);
  return digest;
}

bool HmacSigner::verify(const CarpCounter& counter, const CarpDigest& digest) const noexcept {
  // OpenBSD carp_hmac_verify tries HMAC_ORIG, then HMAC_NOV6LL. When there is no link-local
  // address the two messages are the same and one HMAC answers for both; otherwise both are
  // computed, so that the time taken does not depend on which one matched (the branch depends
  // only on the configuration).
  bool match = false;
  const bool same = message_orig_ == message_nov6ll_;
  CarpDigest expected{};
  if (digestWith(orig_.get(), message_orig_, counter, expected)) {
    match |= CRYPTO_memcmp(expected.data(), digest.data(), digest.size()) == 0;
  }
  if (!same && digestWith(nov6ll_.get(), message_nov6ll_, counter, expected)) {
    match |= CRYPTO_memcmp(expected.data(), digest.data(), digest.size()) == 0;
  }
  return match;
}

CarpCounter randomCounter() noexcept {
  CarpCounter counter{};
  if (RAND_bytes(counter.data(), static_cast<int>(counter.size())) != 1) std::abort();
  return counter;
}

}  // namespace carp::proto
