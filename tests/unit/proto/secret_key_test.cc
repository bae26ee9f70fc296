#include "proto/secret_key.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>

namespace carp::proto {
namespace {

std::string bytesOf(const SecretKey& key) {
  const auto b = key.bytes();
  return std::string(b.begin(), b.end());
}

// Also called on moved-from keys: the wipe on move is part of the contract.
bool allZero(const SecretKey& key) {
  const auto b = key.bytes();  // NOLINT(clang-analyzer-cplusplus.Move)
  return std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0; });
}

TEST(SecretKey, ShortPassphraseIsZeroPadded) {
  const SecretKey key = SecretKey::fromPassphrase("secret");
  EXPECT_EQ(bytesOf(key), std::string("secret") + std::string(14, '\0'));
}

TEST(SecretKey, EmptyPassphraseIsTwentyZeroBytes) {
  EXPECT_TRUE(allZero(SecretKey::fromPassphrase("")));
  EXPECT_TRUE(allZero(SecretKey::empty()));
  EXPECT_TRUE(SecretKey::fromPassphrase("").sameAs(SecretKey::empty()));
}

TEST(SecretKey, NineteenBytesFitWithTrailingNul) {
  const std::string p(19, 'x');
  const SecretKey key = SecretKey::fromPassphrase(p);
  EXPECT_EQ(bytesOf(key), p + '\0');
}

TEST(SecretKey, LongPassphraseIsCutToNineteenBytes) {
  // carp-wire.md §2.8 TV4: strlcpy keeps "this-passphrase-is-" and a NUL.
  const SecretKey key = SecretKey::fromPassphrase("this-passphrase-is-longer-than-19");
  EXPECT_EQ(bytesOf(key), std::string("this-passphrase-is-") + '\0');
  EXPECT_TRUE(key.sameAs(
      SecretKey::fromPassphrase(std::string(20, 'y').replace(0, 19, "this-passphrase-is-"))));
  EXPECT_TRUE(SecretKey::fromPassphrase(std::string(19, 'a'))
                  .sameAs(SecretKey::fromPassphrase(std::string(40, 'a'))));
}

TEST(SecretKey, EmbeddedNulIsKeptAsIs) {
  const SecretKey key = SecretKey::fromPassphrase(std::string_view("a\0b", 3));
  EXPECT_EQ(bytesOf(key), std::string("a\0b", 3) + std::string(17, '\0'));
}

TEST(SecretKey, SameAsComparesAllBytes) {
  const SecretKey a = SecretKey::fromPassphrase("secret");
  EXPECT_TRUE(a.sameAs(SecretKey::fromPassphrase("secret")));
  EXPECT_FALSE(a.sameAs(SecretKey::fromPassphrase("secreT")));
  EXPECT_FALSE(a.sameAs(SecretKey::fromPassphrase("secret1")));
  EXPECT_FALSE(a.sameAs(SecretKey::empty()));
}

TEST(SecretKey, CloneIsAnEqualIndependentCopy) {
  SecretKey a = SecretKey::fromPassphrase("secret");
  const SecretKey b = a.clone();
  EXPECT_TRUE(a.sameAs(b));
  a = SecretKey::fromPassphrase("other");
  EXPECT_FALSE(a.sameAs(b));
  EXPECT_TRUE(b.sameAs(SecretKey::fromPassphrase("secret")));
}

TEST(SecretKey, MoveTransfersAndWipesTheSource) {
  SecretKey a = SecretKey::fromPassphrase("secret");
  SecretKey b(std::move(a));
  EXPECT_TRUE(b.sameAs(SecretKey::fromPassphrase("secret")));
  EXPECT_TRUE(allZero(a));  // NOLINT(bugprone-use-after-move): the wipe is the contract

  SecretKey c = SecretKey::fromPassphrase("x");
  c = std::move(b);
  EXPECT_TRUE(c.sameAs(SecretKey::fromPassphrase("secret")));
  EXPECT_TRUE(allZero(b));  // NOLINT(bugprone-use-after-move)
}

TEST(SecretKey, SelfMoveAssignmentKeepsTheKey) {
  SecretKey a = SecretKey::fromPassphrase("secret");
  SecretKey& alias = a;
  a = std::move(alias);
  EXPECT_TRUE(a.sameAs(SecretKey::fromPassphrase("secret")));
}

}  // namespace
}  // namespace carp::proto
