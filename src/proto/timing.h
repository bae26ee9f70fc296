#pragma once
// CARP timer arithmetic. Follows OpenBSD ip_carp.c rev 1.370 (carp_setrun, carp_send_ad,
// carp_proto_input_c): the interval is advbase s + advskew/256 s in integer microseconds,
// the master-down interval is three whole intervals (skew tripled too, unlike OpenBSD <= 2015
// and FreeBSD, which use 3*advbase + advskew/256; the difference is at most 2*advskew/256 s).

#include <cstdint>

#include "proto/types.h"

namespace carp::proto {

// advbase s + floor(advskew * 10^6 / 256) us, as a `struct timeval` in carp_proto_input_c.
// Used to compare our advertisement rate with a peer's. No special case for zero.
constexpr Duration advertisementTv(std::uint8_t advbase, std::uint8_t advskew) {
  return Duration(static_cast<std::int64_t>(advbase) * 1'000'000 +
                  static_cast<std::int64_t>(advskew) * 1'000'000 / 256);
}

// How often a MASTER advertises. advbase 0 and advskew 0 would be a zero interval; OpenBSD
// uses 1/256 s (3906 us) instead (carp_send_ad).
constexpr Duration advertisementInterval(std::uint8_t advbase, std::uint8_t advskew) {
  const Duration tv = advertisementTv(advbase, advskew);
  return tv.count() == 0 ? Duration(1'000'000 / 256) : tv;
}

// Which kernel's master-down formula a BACKUP follows (carp-wire.md §4.4, ambiguity A3).
enum class MasterDownFormula : std::uint8_t {
  kOpenBsd,  // 3 x (advbase + advskew/256): OpenBSD 1.370 carp_setrun, BACKUP case
  kFreeBsd,  // 3 x advbase + advskew/256: FreeBSD carp_setrun (and OpenBSD <= 2015); advbase >= 1
};

// How long a BACKUP waits without hearing the MASTER before taking over, from its own
// advbase/advskew.
constexpr Duration masterDownInterval(std::uint8_t advbase, std::uint8_t advskew,
                                      MasterDownFormula formula = MasterDownFormula::kOpenBsd) {
  if (formula == MasterDownFormula::kFreeBsd) {
    return 3 * advertisementTv(advbase, 0) + advertisementTv(0, advskew);
  }
  return 3 * advertisementInterval(advbase, advskew);
}

}  // namespace carp::proto
