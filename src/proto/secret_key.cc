#include "proto/secret_key.h"

#include <openssl/crypto.h>

#include <algorithm>

namespace carp::proto {

SecretKey SecretKey::fromPassphrase(std::string_view passphrase) noexcept {
  // OpenBSD ifconfig.c setcarp_passwd and FreeBSD carp.c setcarp_callback strlcpy the
  // passphrase into the 20-byte carpr_key: at most 19 bytes, then a NUL, then the zeroed rest.
  SecretKey key;
  const std::size_t n = std::min(passphrase.size(), kMaxPassphraseBytes);
  std::copy_n(passphrase.begin(), n, key.bytes_.begin());
  return key;
}

SecretKey::SecretKey(SecretKey&& other) noexcept : bytes_(other.bytes_) { other.wipe(); }

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    other.wipe();
  }
  return *this;
}

SecretKey::~SecretKey() { wipe(); }

SecretKey SecretKey::clone() const noexcept {
  SecretKey copy;
  copy.bytes_ = bytes_;
  return copy;
}

bool SecretKey::sameAs(const SecretKey& other) const noexcept {
  return CRYPTO_memcmp(bytes_.data(), other.bytes_.data(), kLength) == 0;
}

void SecretKey::wipe() noexcept {
  // OPENSSL_cleanse, unlike memset, is not removed by the optimiser as a dead store.
  OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

}  // namespace carp::proto
