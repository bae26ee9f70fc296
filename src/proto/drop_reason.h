#pragma once
// Why a received advertisement was dropped. Each value maps to one BSD `struct carpstats`
// counter (OpenBSD ip_carp.h, FreeBSD ip_carp.h), so carpd's counters read like netstat -s.

#include <cstddef>
#include <cstdint>

namespace carp::proto {

enum class DropReason : std::uint8_t {
  kBadLength,    // carps_badlen: shorter than the 36-byte header
  kBadVersion,   // carps_badver: version nibble is not 2
  kBadChecksum,  // carps_badsum: Internet checksum over the 36 bytes is not 0
  kUnknownVhid,  // carps_badvhid: no VHID of ours has that number
  kBadTtl,       // carps_badttl: TTL / hop limit is not 255 (multicast VHIDs)
  kBadAuth,      // carps_badauth: HMAC-SHA1 matches neither address-set variant
  kOwnCounter,   // OpenBSD "replay or network loop detected": the counter is our own cookie
};

inline constexpr std::size_t kDropReasonCount = 7;

// The BSD carpstats field name without its "carps_" prefix ("badlen", "badver", "badsum",
// "badvhid", "badttl", "badauth"), and "loop" for kOwnCounter, which has no BSD counter of
// its own (OpenBSD counts it as badauth only on IFF_SIMPLEX parents).
const char* toString(DropReason reason) noexcept;

}  // namespace carp::proto
