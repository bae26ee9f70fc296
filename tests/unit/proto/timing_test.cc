#include "proto/timing.h"

#include <gtest/gtest.h>

namespace carp::proto {
namespace {

using std::chrono::microseconds;

TEST(Timing, IntervalIsAdvbasePlusSkewOver256InWholeMicroseconds) {
  EXPECT_EQ(advertisementInterval(1, 0), microseconds(1'000'000));
  EXPECT_EQ(advertisementInterval(1, 100), microseconds(1'390'625));
  EXPECT_EQ(advertisementInterval(2, 1), microseconds(2'003'906));  // floor(10^6/256)
  EXPECT_EQ(advertisementInterval(255, 254), microseconds(255'992'187));
}

TEST(Timing, SubSecondModeUsesTheSkewAlone) {
  EXPECT_EQ(advertisementInterval(0, 128), microseconds(500'000));
  EXPECT_EQ(advertisementInterval(0, 1), microseconds(3'906));
  // advbase 0, advskew 0 would be a zero interval: OpenBSD uses 1/256 s.
  EXPECT_EQ(advertisementInterval(0, 0), microseconds(3'906));
}

TEST(Timing, MasterDownIsThreeWholeIntervalsAsInOpenBsd1370) {
  EXPECT_EQ(masterDownInterval(1, 0), microseconds(3'000'000));
  EXPECT_EQ(masterDownInterval(1, 100), microseconds(4'171'875));
  EXPECT_EQ(masterDownInterval(0, 0), microseconds(11'718));
  EXPECT_EQ(masterDownInterval(0, 40), microseconds(468'750));
}

TEST(Timing, FreeBsdMasterDownCountsTheSkewOnce) {
  // FreeBSD carp_setrun: 3 * advbase + advskew/256, so a BACKUP at advskew 100 waits
  // 3.390625 s instead of OpenBSD's 4.171875 s; with no skew both agree.
  EXPECT_EQ(masterDownInterval(1, 100, MasterDownFormula::kFreeBsd), microseconds(3'390'625));
  EXPECT_EQ(masterDownInterval(1, 0, MasterDownFormula::kFreeBsd), microseconds(3'000'000));
  EXPECT_EQ(masterDownInterval(2, 240, MasterDownFormula::kFreeBsd), microseconds(6'937'500));
  EXPECT_EQ(masterDownInterval(1, 100, MasterDownFormula::kOpenBsd), masterDownInterval(1, 100));
}

TEST(Timing, ComparisonValueHasNoZeroSpecialCase) {
  EXPECT_EQ(advertisementTv(0, 0), microseconds(0));
  EXPECT_EQ(advertisementTv(255, 255), microseconds(255'996'093));
}

}  // namespace
}  // namespace carp::proto
