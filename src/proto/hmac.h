#pragma once
// The CARP advertisement digest: HMAC-SHA1 over a per-VHID message and the 8 counter bytes,
// exactly as OpenBSD ip_carp.c (carp_hmac_prepare_ctx, carp_hmac_generate, carp_hmac_verify)
// and FreeBSD ip_carp.c (carp_hmac_prepare, carp_hmac_generate) build it (carp-wire.md §2).

#include <openssl/evp.h>

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "proto/address.h"
#include "proto/header.h"
#include "proto/secret_key.h"
#include "proto/types.h"

namespace carp::proto {

// Holds the HMAC state after key and the per-VHID message M have been absorbed, so that each
// packet costs one context copy plus 8 bytes (the BSDs keep the same precomputed state):
//   M = 0x02 0x01 [6-byte OpenBSD custom lladdr] vhid
//       IPv4 addresses, de-duplicated, ascending, 4 bytes each in network order
//       IPv6 addresses, de-duplicated, ascending by bytes, 16 bytes each,
//            link-local fe80::/10 with bytes 2-3 zeroed
// The BSD selection sort starts from all-zeros and all-ones with strict comparisons, so
// 0.0.0.0, 255.255.255.255, :: and ffff:...:ffff are never hashed.
// Two variants, as OpenBSD keeps: ORIG (link-locals included) and NOV6LL (skipped).
// Move-only; the key never leaves the OpenSSL context.
class HmacSigner {
 public:
  // `include_link_local` selects the variant used by sign(): false (default) sends NOV6LL as
  // OpenBSD carp_prepare_ad does; true sends ORIG, for FreeBSD peers that attach fe80::
  // addresses to the VHID. `openbsd_lladdr` is hashed after the type byte, as OpenBSD does
  // for the leader VHID of a carp interface with a user-set lladdr (§2.5); FreeBSD never does.
  // Fails only when OpenSSL cannot provide HMAC-SHA1.
  static tl::expected<HmacSigner, std::string> make(const SecretKey& key, Vhid vhid,
                                                    std::span<const IpAddress> addresses,
                                                    bool include_link_local = false,
                                                    std::optional<MacAddress> openbsd_lladdr = {});
  static tl::expected<HmacSigner, std::string> make(const SecretKey& key, Vhid vhid,
                                                    std::span<const InterfaceAddress> addresses,
                                                    bool include_link_local = false,
                                                    std::optional<MacAddress> openbsd_lladdr = {});

  HmacSigner(HmacSigner&&) noexcept = default;
  HmacSigner& operator=(HmacSigner&&) noexcept = default;
  HmacSigner(const HmacSigner&) = delete;
  HmacSigner& operator=(const HmacSigner&) = delete;
  ~HmacSigner() = default;

  // The digest for header bytes 16..35, given header bytes 8..15. On an OpenSSL allocation
  // failure returns all zeros, which no peer accepts (the packet path does not throw).
  CarpDigest sign(const CarpCounter& counter) const noexcept;

  // True if `digest` matches the ORIG or the NOV6LL variant (OpenBSD carp_hmac_verify),
  // compared in constant time.
  bool verify(const CarpCounter& counter, const CarpDigest& digest) const noexcept;

  // The exact message M of each variant (without the counter). For tests and diagnostics:
  // it holds addresses, never the key.
  const std::vector<std::uint8_t>& messageWithLinkLocal() const noexcept { return message_orig_; }
  const std::vector<std::uint8_t>& messageWithoutLinkLocal() const noexcept {
    return message_nov6ll_;
  }

 private:
  struct CtxDeleter {
    void operator()(EVP_MAC_CTX* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }
  };
  using CtxPtr = std::unique_ptr<EVP_MAC_CTX, CtxDeleter>;

  HmacSigner() = default;
  static bool digestWith(EVP_MAC_CTX* keyed, const std::vector<std::uint8_t>& message,
                         const CarpCounter& counter, CarpDigest& out) noexcept;

  CtxPtr orig_;
  CtxPtr nov6ll_;
  bool send_orig_ = false;
  std::vector<std::uint8_t> message_orig_;
  std::vector<std::uint8_t> message_nov6ll_;
};

// A random 8-byte counter: OpenBSD carp_prepare_ad fills its "replay cookie" once with
// arc4random_buf and sends it unchanged forever; receivers drop adverts carrying their own
// cookie (§2.6). Uses OpenSSL RAND_bytes; aborts if the DRBG has no entropy, since a daemon
// that cannot draw random numbers should not run.
CarpCounter randomCounter() noexcept;

}  // namespace carp::proto
