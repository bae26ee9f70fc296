// Micro-benchmarks of the packet path: what one received advertisement costs, from the bare
// SHA-1 work the protocol forces on us up to the whole engine, and what one sent one costs.
// items_per_second is packets per second on one core. Numbers: docs/performance.md.

// The low-level SHA1_* API is deprecated in OpenSSL 3, but it is the only way to measure the
// compression function alone and to try the BSDs' "copy a SHA1_CTX" HMAC (carp_hmac_generate)
// without EVP's allocations; both live only in this file, never in src/.
#define OPENSSL_SUPPRESS_DEPRECATED

#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/address_text.h"
#include "config/config.h"
#include "daemon/engine.h"
#include "daemon/timer_queue.h"
#include "os/packet_io.h"
#include "proto/frames.h"
#include "proto/header.h"
#include "proto/hmac.h"
#include "proto/secret_key.h"
#include "proto/validate.h"
#include "support/fakes.h"

namespace carp::bench {
namespace {

constexpr proto::CarpCounter kPeerCounter = {9, 9, 9, 9, 9, 9, 9, 9};
constexpr const char* kPass = "secret";

proto::IpAddress ip(const std::string& text) {
  auto a = config::parseIpAddress(text);
  if (!a) throw std::runtime_error("bad address " + text);
  return *a;
}

// 192.0.2.1 .. 192.0.2.n: IPv4 only, so M + counter stays within one SHA-1 block whatever n
// is up to 12, and the per-packet work is the same for 1 and 8 addresses.
std::vector<proto::IpAddress> addresses(int n) {
  std::vector<proto::IpAddress> out;
  for (int i = 1; i <= n; ++i) out.push_back(ip("192.0.2." + std::to_string(i)));
  return out;
}

proto::HmacSigner makeSigner(const char* pass, int address_count) {
  auto signer = proto::HmacSigner::make(proto::SecretKey::fromPassphrase(pass),
                                        *proto::Vhid::make(1), addresses(address_count));
  if (!signer) throw std::runtime_error(signer.error());
  return std::move(*signer);
}

// A 36-byte advertisement for VHID 1 as a MASTER with advskew 0 sends it, signed with `pass`.
std::array<std::uint8_t, proto::kCarpHeaderSize> advert(const char* pass, int address_count) {
  const proto::HmacSigner signer = makeSigner(pass, address_count);
  proto::CarpHeader h;
  h.vhid = 1;
  h.advbase = 1;
  h.advskew = 0;
  h.counter = kPeerCounter;
  h.digest = signer.sign(kPeerCounter);
  return proto::encodeHeader(h);
}

class OneVhidDirectory final : public proto::VhidDirectory {
 public:
  explicit OneVhidDirectory(const proto::HmacSigner& signer)
      : credentials_{&signer, {1, 2, 3, 4, 5, 6, 7, 8}, false} {}
  const proto::VhidCredentials* find(std::uint8_t vhid) const noexcept override {
    return vhid == 1 ? &credentials_ : nullptr;
  }

 private:
  proto::VhidCredentials credentials_;
};

// --- The floor ----------------------------------------------------------------------------

// With the inner and outer pads precomputed, an HMAC-SHA1 over M + counter (under 56 bytes for
// any IPv4-only VHID of up to 12 addresses) needs two compressions: the inner block and the
// outer block over the 20-byte inner digest. A 55-byte SHA-1 is exactly one compression, so
// two of them are the least any HMAC implementation can do per packet. This is the EVP
// one-shot, i.e. with EVP's per-call context set-up included.
void BM_Sha1TwoBlocks(benchmark::State& state) {
  std::array<std::uint8_t, 55> message{};
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
  for (auto _ : state) {
    unsigned int length = 0;
    EVP_Digest(message.data(), message.size(), digest.data(), &length, EVP_sha1(), nullptr);
    benchmark::DoNotOptimize(digest);
    EVP_Digest(message.data(), message.size(), digest.data(), &length, EVP_sha1(), nullptr);
    benchmark::DoNotOptimize(digest);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sha1TwoBlocks);

// The same two compressions through the low-level API on a stack SHA_CTX: no allocation, no
// provider dispatch, so this is the compression function alone (the true floor).
void BM_Sha1TwoBlocksLowLevel(benchmark::State& state) {
  std::array<std::uint8_t, 55> message{};
  std::array<std::uint8_t, SHA_DIGEST_LENGTH> digest{};
  for (auto _ : state) {
    // Not SHA1(): in OpenSSL 3 that one-shot goes through EVP_Q_digest and fetches.
    for (int block = 0; block < 2; ++block) {
      SHA_CTX ctx;
      SHA1_Init(&ctx);
      SHA1_Update(&ctx, message.data(), message.size());
      SHA1_Final(digest.data(), &ctx);
      benchmark::DoNotOptimize(digest);
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sha1TwoBlocksLowLevel);

// --- Receive path, proto layer --------------------------------------------------------------

void BM_DecodeOnly(benchmark::State& state) {
  const auto bytes = advert(kPass, 1);
  for (auto _ : state) {
    auto h = proto::decodeHeader(bytes);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeOnly);

// A valid advertisement: decode, checksum, VHID lookup, TTL, HMAC (both OpenBSD variants,
// ORIG and NOV6LL, are always computed), own-counter check.
void BM_VerifyAdvert(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const proto::HmacSigner signer = makeSigner(kPass, n);
  const OneVhidDirectory directory(signer);
  const auto bytes = advert(kPass, n);
  if (!proto::validateAdvert(bytes, 255, directory)) state.SkipWithError("advert not valid");
  for (auto _ : state) {
    auto valid = proto::validateAdvert(bytes, 255, directory);
    benchmark::DoNotOptimize(valid);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyAdvert)->ArgName("addresses")->Arg(1)->Arg(8);

// The flood case: right VHID, wrong key. The HMAC is the last check a forger cannot pass, so
// this is the most expensive packet an attacker on the segment can make us drop.
void BM_VerifyForgedAdvert(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const proto::HmacSigner signer = makeSigner(kPass, n);
  const OneVhidDirectory directory(signer);
  const auto bytes = advert("wrong key", n);
  if (proto::validateAdvert(bytes, 255, directory).error() != proto::DropReason::kBadAuth) {
    state.SkipWithError("forged advert not dropped as kBadAuth");
  }
  for (auto _ : state) {
    auto valid = proto::validateAdvert(bytes, 255, directory);
    benchmark::DoNotOptimize(valid);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyForgedAdvert)->ArgName("addresses")->Arg(1)->Arg(8);

// --- Receive path, whole engine -------------------------------------------------------------

// An engine with fake OS edges and one VHID on eth0, as engine_test.cc builds it.
class EngineFixture {
 public:
  EngineFixture(int address_count, int advskew) {
    log_ =
        std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
    os::InterfaceInfo eth0;
    eth0.ifindex = 2;
    eth0.name = "eth0";
    eth0.mac = {0x02, 0, 0, 0, 0, 0x11};
    eth0.running = true;
    eth0.ipv4 = {ip("192.0.2.201")};
    directory_.interfaces.push_back(eth0);

    std::string text =
        "[[vhid]]\ninterface = \"eth0\"\nvhid = 1\nadvskew = " + std::to_string(advskew) +
        "\npass = \"" + kPass + "\"\naddresses = [";
    for (int i = 1; i <= address_count; ++i) {
      text += (i > 1 ? ", " : "") + std::string("\"192.0.2.") + std::to_string(i) + "/24\"";
    }
    text += "]\n";
    auto parsed = config::parseText(text, "bench.toml");
    if (!parsed.ok()) throw std::runtime_error(parsed.diagnostics.at(0).toString());

    daemon::EngineDeps deps{frames_,
                            ip_,
                            addresses_,
                            directory_,
                            [] { return std::chrono::system_clock::time_point{}; },
                            log_};
    engine_ = std::make_unique<daemon::Engine>(deps, std::move(*parsed.config), false);
    engine_->start(now_);
  }

  void receive(std::span<const std::uint8_t> payload) {
    const os::ReceivedPacket p{2, source_, group_, 255, payload};
    engine_->onPacket(p, proto::Family::kIPv4, now_);
  }
  proto::State state() const { return engine_->vhids().front()->machine.state(); }
  const daemon::Engine& engine() const { return *engine_; }

 private:
  std::shared_ptr<spdlog::logger> log_;
  testing::FakeFrameSender frames_;
  testing::FakeIpSender ip_;
  testing::FakeAddressManager addresses_;
  testing::FakeInterfaceDirectory directory_;
  std::unique_ptr<daemon::Engine> engine_;
  // Time stands still: the master-down timer is re-armed by every advert and never fires, and
  // the drop log line is written once, then rate-limited, as in a flood.
  proto::TimePoint now_{std::chrono::seconds(1000)};
  proto::IpAddress source_ = ip("192.0.2.202");
  proto::IpAddress group_ = ip("224.0.0.18");
};

// The steady state of a BACKUP: the MASTER's advertisement every advbase. Validates, feeds the
// state machine (which re-arms the master-down timer) and records who the MASTER is.
void BM_EngineOnPacket(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  EngineFixture f(n, /*advskew=*/100);  // the peer's advskew 0 wins
  const auto bytes = advert(kPass, n);
  f.receive(bytes);
  if (f.state() != proto::State::kBackup) state.SkipWithError("not BACKUP");
  for (auto _ : state) f.receive(bytes);
  if (f.state() != proto::State::kBackup) state.SkipWithError("left BACKUP");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EngineOnPacket)->ArgName("addresses")->Arg(1)->Arg(8);

// A flood of forged advertisements: validation fails at the HMAC, a counter goes up and the
// drop is logged once per 10 s.
void BM_EngineOnForgedPacket(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  EngineFixture f(n, /*advskew=*/100);
  const auto bytes = advert("wrong key", n);
  for (auto _ : state) f.receive(bytes);
  if (f.engine().stats().get(daemon::Counter::kBadauth) == 0) {
    state.SkipWithError("forged adverts were not counted as badauth");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EngineOnForgedPacket)->ArgName("addresses")->Arg(1)->Arg(8);

// --- Where the engine's time goes beyond validateAdvert ------------------------------------

// Engine::onPacket re-formats the MASTER's source address into VhidRuntime::master on every
// advertisement a BACKUP accepts (inet_ntop, which goes through vfprintf, plus a string).
void BM_FormatAddress(benchmark::State& state) {
  const proto::IpAddress source = ip("192.0.2.202");
  for (auto _ : state) {
    auto text = config::formatAddress(source);
    benchmark::DoNotOptimize(text);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FormatAddress);

// Rule 4 of a BACKUP's onAdvert: the master-down timer is re-armed (a std::set node freed and
// allocated) on every accepted advertisement.
void BM_TimerQueueRearm(benchmark::State& state) {
  daemon::TimerQueue timers;
  const daemon::TimerQueue::Key key{1, proto::TimerId::kMasterDownV4};
  proto::TimePoint at{std::chrono::seconds(1000)};
  for (auto _ : state) {
    timers.arm(key, at);
    at += proto::Duration(1);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerQueueRearm);

// --- Send path ------------------------------------------------------------------------------

// What a MASTER does every advbase before the frame is built: sign (one HMAC, NOV6LL) and
// encode (with checksum).
void BM_SignAdvert(benchmark::State& state) {
  const proto::HmacSigner signer = makeSigner(kPass, 1);
  proto::CarpHeader h;
  h.vhid = 1;
  h.advbase = 1;
  h.counter = kPeerCounter;
  for (auto _ : state) {
    h.digest = signer.sign(h.counter);
    auto bytes = proto::encodeHeader(h);
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignAdvert);

void BM_BuildFrame(benchmark::State& state) {
  const auto payload = advert(kPass, 1);
  const proto::MacAddress mac = proto::virtualMac(*proto::Vhid::make(1));
  const proto::IpAddress source = ip("192.0.2.201");
  const proto::IpAddress group = proto::carpGroupV4();
  std::uint16_t ip_id = 0;
  for (auto _ : state) {
    auto frame =
        proto::buildAdvertFrameV4(mac, source, group, ip_id++, proto::kTosOpenBsd, payload);
    benchmark::DoNotOptimize(frame);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BuildFrame);

// --- Where the HMAC time goes: alternatives to HmacSigner's per-packet EVP_MAC_CTX_dup -------
// Each computes ONE HMAC-SHA1 over M + counter with the key absorbed once, and checks itself
// against HmacSigner::sign, so the three are comparable with BM_SignAdvert and with half of
// BM_VerifyAdvert.

// Message M for VHID 1 with 192.0.2.1, as HmacSigner builds it.
const std::vector<std::uint8_t>& messageM() {
  static const std::vector<std::uint8_t> m = makeSigner(kPass, 1).messageWithoutLinkLocal();
  return m;
}

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const noexcept { EVP_MAC_CTX_free(c); }
};
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

MacCtx keyedHmacCtx() {
  std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr),
                                                        &EVP_MAC_free);
  MacCtx ctx(EVP_MAC_CTX_new(mac.get()));
  char digest_name[] = "SHA1";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  const auto key = proto::SecretKey::fromPassphrase(kPass);
  if (!ctx || EVP_MAC_init(ctx.get(), key.bytes().data(), key.bytes().size(), params) != 1) {
    throw std::runtime_error("HMAC-SHA1 unavailable");
  }
  return ctx;
}

void checkAgainstSigner(benchmark::State& state, const proto::CarpDigest& digest) {
  if (digest != makeSigner(kPass, 1).sign(kPeerCounter)) state.SkipWithError("wrong digest");
}

// What HmacSigner::sign does today (and verify twice): dup the keyed+M context, add the
// counter, finish, free.
void BM_HmacCtxDup(benchmark::State& state) {
  MacCtx base = keyedHmacCtx();
  EVP_MAC_update(base.get(), messageM().data(), messageM().size());
  proto::CarpDigest digest{};
  for (auto _ : state) {
    MacCtx ctx(EVP_MAC_CTX_dup(base.get()));
    std::size_t length = 0;
    EVP_MAC_update(ctx.get(), kPeerCounter.data(), kPeerCounter.size());
    EVP_MAC_final(ctx.get(), digest.data(), &length, digest.size());
    benchmark::DoNotOptimize(digest);
  }
  checkAgainstSigner(state, digest);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HmacCtxDup);

// One long-lived keyed context re-initialised per packet: EVP_MAC_init with a null key keeps
// the key schedule (OpenSSL HMAC_Init_ex restores the ipad state), then M is absorbed again,
// which costs no extra compression while M + counter fits one block. No EVP_MAC_CTX
// allocation, but the context is mutable, so a signer would need one per thread (carpd has
// one thread).
void BM_HmacReinit(benchmark::State& state) {
  MacCtx ctx = keyedHmacCtx();
  proto::CarpDigest digest{};
  for (auto _ : state) {
    std::size_t length = 0;
    EVP_MAC_init(ctx.get(), nullptr, 0, nullptr);
    EVP_MAC_update(ctx.get(), messageM().data(), messageM().size());
    EVP_MAC_update(ctx.get(), kPeerCounter.data(), kPeerCounter.size());
    EVP_MAC_final(ctx.get(), digest.data(), &length, digest.size());
    benchmark::DoNotOptimize(digest);
  }
  checkAgainstSigner(state, digest);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HmacReinit);

// The BSD way (OpenBSD carp_hmac_generate): precomputed inner (ipad + M) and outer (opad)
// SHA1_CTX states, copied by value per packet. Deprecated API in OpenSSL 3.
void BM_HmacShaCtxCopy(benchmark::State& state) {
  const auto key = proto::SecretKey::fromPassphrase(kPass);
  std::array<std::uint8_t, SHA_CBLOCK> ipad{};
  std::array<std::uint8_t, SHA_CBLOCK> opad{};
  for (std::size_t i = 0; i < ipad.size(); ++i) {
    const std::uint8_t k = i < key.bytes().size() ? key.bytes()[i] : 0;
    ipad[i] = static_cast<std::uint8_t>(k ^ 0x36);
    opad[i] = static_cast<std::uint8_t>(k ^ 0x5c);
  }
  SHA_CTX inner_base;
  SHA_CTX outer_base;
  SHA1_Init(&inner_base);
  SHA1_Update(&inner_base, ipad.data(), ipad.size());
  SHA1_Update(&inner_base, messageM().data(), messageM().size());
  SHA1_Init(&outer_base);
  SHA1_Update(&outer_base, opad.data(), opad.size());
  proto::CarpDigest digest{};
  for (auto _ : state) {
    SHA_CTX ctx = inner_base;
    std::array<std::uint8_t, SHA_DIGEST_LENGTH> inner{};
    SHA1_Update(&ctx, kPeerCounter.data(), kPeerCounter.size());
    SHA1_Final(inner.data(), &ctx);
    ctx = outer_base;
    SHA1_Update(&ctx, inner.data(), inner.size());
    SHA1_Final(digest.data(), &ctx);
    benchmark::DoNotOptimize(digest);
  }
  OPENSSL_cleanse(&inner_base, sizeof inner_base);
  checkAgainstSigner(state, digest);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HmacShaCtxCopy);

}  // namespace
}  // namespace carp::bench
