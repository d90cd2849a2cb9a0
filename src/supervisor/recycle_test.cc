#include "supervisor/recycle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

namespace corefork {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

TEST(DrawLifetimeTest, BoundsAndExactValues) {
  const Duration six_hours = hours(6);
  EXPECT_EQ(DrawLifetime(six_hours, 0.1, 0.0), milliseconds(19'440'000));
  EXPECT_EQ(DrawLifetime(six_hours, 0.1, 0.5), six_hours);
  EXPECT_EQ(DrawLifetime(six_hours, 0.1, 1.0), milliseconds(23'760'000));
  EXPECT_EQ(DrawLifetime(six_hours, 0.0, 0.93), six_hours) << "no jitter";
  EXPECT_EQ(DrawLifetime(milliseconds(1'000), 0.5, 0.0), milliseconds(500));
  EXPECT_EQ(DrawLifetime(milliseconds(1'000), 0.5, 0.999), milliseconds(1'499));
  EXPECT_EQ(DrawLifetime(milliseconds(1), 0.9, 0.0), milliseconds(1))
      << "never 0";
}

// 10,000 draws for 6h +-10% with the generator the loop uses: all within
// bounds, mean within 0.5% of 6h, each tenth of the range gets 10% +- 1.5%.
TEST(DrawLifetimeTest, ManyDrawsSpreadUniformly) {
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double lo = 6 * 3600e3 * 0.9, hi = 6 * 3600e3 * 1.1;
  constexpr int kDraws = 10'000;
  std::vector<int> buckets(10, 0);
  double sum = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double ms =
        static_cast<double>(DrawLifetime(hours(6), 0.1, u(rng)).count());
    ASSERT_GE(ms, lo);
    ASSERT_LE(ms, hi);
    sum += ms;
    buckets[std::min(9, static_cast<int>((ms - lo) / (hi - lo) * 10))]++;
  }
  EXPECT_NEAR(sum / kDraws, 6 * 3600e3, 6 * 3600e3 * 0.005);
  for (int i = 0; i < 10; ++i) {
    EXPECT_NEAR(buckets[i], kDraws / 10, kDraws * 0.015) << "bucket " << i;
  }
}

// 20 workers at 1s +-50%: lifetimes spread over most of [0.5s, 1.5s], with
// no two thirds of them in the same tenth of it (no herd).
TEST(DrawLifetimeTest, TwentyWorkersDoNotRecycleTogether) {
  for (uint64_t seed : {1u, 2u, 3u, 42u, 2026u}) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<int64_t> ms;
    for (int i = 0; i < 20; ++i) {
      ms.push_back(DrawLifetime(milliseconds(1'000), 0.5, u(rng)).count());
    }
    std::sort(ms.begin(), ms.end());
    EXPECT_GE(ms.front(), 500) << seed;
    EXPECT_LT(ms.back(), 1'500) << seed;
    EXPECT_GE(ms.back() - ms.front(), 600) << "seed " << seed;
    std::vector<int> tenths(10, 0);
    for (int64_t m : ms) tenths[std::min<int64_t>(9, (m - 500) / 100)]++;
    EXPECT_LE(*std::max_element(tenths.begin(), tenths.end()), 13) << seed;
  }
}

TEST(PickWorkerTest, BiggestAndOverLimit) {
  const std::vector<WorkerMemory> workers = {{0, 100, 300u << 20},
                                             {1, 101, 700u << 20},
                                             {2, 102, 700u << 20},
                                             {3, 103, 200u << 20}};
  ASSERT_TRUE(Biggest(workers).has_value());
  EXPECT_EQ(Biggest(workers)->slot, 1) << "ties: the lowest slot";
  EXPECT_EQ(BiggestOver(workers, 512u << 20)->pid, 101);
  EXPECT_FALSE(BiggestOver(workers, 700u << 20).has_value()) << "strictly";
  EXPECT_FALSE(Biggest({}).has_value());
  EXPECT_FALSE(BiggestOver({}, 1).has_value());
}

TEST(PressureTest, StrictlyOverTheShareOfTheLimit) {
  const uint64_t limit = 1000u << 20;
  EXPECT_FALSE(OverPressure(900u << 20, limit, 0.9));
  EXPECT_TRUE(OverPressure((900u << 20) + 1, limit, 0.9));
  EXPECT_FALSE(OverPressure(1, 0, 0.9)) << "no limit: off";
  EXPECT_TRUE(OverPressure(limit, limit, 0.99));
  EXPECT_FALSE(OverPressure(limit, limit, 1.0));
}

// Use that recycling cannot free: the first check over recycles; each check
// after a pressure recycle that still finds it over waits check_interval,
// then twice that, up to the cap; a check under resets it.
TEST(PressureBackoffTest, DoublesFromCheckIntervalToTheCapAndResets) {
  using std::chrono::seconds;
  PressureBackoff b(seconds(5), std::chrono::minutes(5));
  PressureBackoff::TimePoint t{};
  PressureBackoff::Decision d = b.Over(t);
  EXPECT_TRUE(d.recycle);
  EXPECT_FALSE(d.wait.has_value());
  b.Recycled(3);
  const std::vector<int64_t> want_s = {5, 10, 20, 40, 80, 160, 300, 300};
  for (size_t i = 0; i < want_s.size(); ++i) {
    t += seconds(5);  // the check after the replacement: still over
    d = b.Over(t);
    EXPECT_FALSE(d.recycle) << "wait " << i;
    ASSERT_TRUE(d.wait.has_value()) << "wait " << i;
    EXPECT_EQ(*d.wait, seconds(want_s[i])) << "wait " << i;
    EXPECT_EQ(d.first_wait, i == 0) << "wait " << i;
    EXPECT_EQ(d.after_slot, i == 0 ? 3 : 1) << "wait " << i;
    EXPECT_TRUE(b.backing_off()) << "wait " << i;
    EXPECT_FALSE(b.Over(t + *d.wait - milliseconds(1)).recycle)
        << "early, wait " << i;
    t += *d.wait;
    d = b.Over(t);
    EXPECT_TRUE(d.recycle) << "due, wait " << i;
    EXPECT_FALSE(d.wait.has_value()) << "due, wait " << i;
    b.Recycled(1);
  }
  // Relief: the back-off ends, and the next pressure recycles at once.
  EXPECT_TRUE(b.Relieved());
  EXPECT_FALSE(b.backing_off());
  EXPECT_FALSE(b.Relieved()) << "already reset";
  EXPECT_TRUE(b.Over(t).recycle);
  b.Recycled(0);
  d = b.Over(t + seconds(5));
  ASSERT_TRUE(d.wait.has_value());
  EXPECT_EQ(*d.wait, seconds(5)) << "the streak starts over";
  EXPECT_TRUE(d.first_wait);
}

// A pressure recycle that did relieve it: no back-off; a check_interval
// above the cap is the cap.
TEST(PressureBackoffTest, ReliefBeforeTheNextCheckAndALongCheckInterval) {
  PressureBackoff b(milliseconds(200), std::chrono::minutes(5));
  PressureBackoff::TimePoint t{};
  ASSERT_TRUE(b.Over(t).recycle);
  b.Recycled(0);
  EXPECT_FALSE(b.Relieved()) << "it never backed off";
  EXPECT_TRUE(b.Over(t + milliseconds(200)).recycle);

  PressureBackoff slow(hours(1), std::chrono::minutes(5));
  ASSERT_TRUE(slow.Over(t).recycle);
  slow.Recycled(0);
  PressureBackoff::Decision d = slow.Over(t + hours(1));
  ASSERT_TRUE(d.wait.has_value());
  EXPECT_EQ(*d.wait, hours(1));
}

// recycle.schedule is the jobs' cron: 04:00 in Berlin is 02:00 UTC in
// summer and 03:00 UTC in winter.
TEST(RecycleScheduleTest, FiresAtTheWallClockOfItsZone) {
  RecycleConfig config;
  EXPECT_EQ(RecycleSchedule(config).next(), JobSchedule::TimePoint::max());
  config.schedule = *CronSchedule::Parse("0 4 * * *");
  config.timezone = *TimeZone::Load("Europe/Berlin");
  JobSchedule schedule = RecycleSchedule(config);
  const auto now = JobSchedule::Clock::now();
  const double summer = 1782900000;  // 2026-07-01T10:00:00Z
  schedule.Arm(now, summer);
  EXPECT_EQ(schedule.next_unix(), 1782957600);  // 2026-07-02T02:00:00Z
  EXPECT_FALSE(schedule.Due(now));
  EXPECT_TRUE(schedule.Due(now + std::chrono::seconds(57600)));
  const double winter = 1798632000;  // 2026-12-30T12:00:00Z
  JobSchedule w = RecycleSchedule(config);
  w.Arm(now, winter);
  EXPECT_EQ(w.next_unix(), 1798686000);  // 2026-12-31T03:00:00Z
}

}  // namespace
}  // namespace corefork
