#pragma once
// The 20-byte CARP key. Move-only, wiped on destruction, never printable.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace carp::proto {

class SecretKey {
 public:
  static constexpr std::size_t kLength = 20;  // CARP_KEY_LEN in both BSDs' ip_carp.h
  // Both BSD ifconfig implementations strlcpy the passphrase into the 20-byte key: the first
  // 19 bytes, then zero bytes. An empty passphrase gives 20 zero bytes (carp-wire.md §2.1).
  static constexpr std::size_t kMaxPassphraseBytes = kLength - 1;

  static SecretKey fromPassphrase(std::string_view passphrase) noexcept;
  static SecretKey empty() noexcept { return SecretKey(); }

  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey();

  // A deliberate, explicit copy (for reload diffs and the simulated LAN).
  SecretKey clone() const noexcept;
  std::span<const std::uint8_t, kLength> bytes() const noexcept { return bytes_; }
  // Constant-time equality (CRYPTO_memcmp).
  bool sameAs(const SecretKey& other) const noexcept;

 private:
  SecretKey() = default;
  void wipe() noexcept;
  std::array<std::uint8_t, kLength> bytes_{};
};

}  // namespace carp::proto
