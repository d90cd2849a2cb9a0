#include "jobs/job_schedule.h"

#include <gtest/gtest.h>

namespace corefork {
namespace {

using std::chrono::seconds;
using TimePoint = JobSchedule::TimePoint;

// Unix seconds of a UTC civil time.
int64_t Utc(int64_t y, int mon, int d, int h = 0, int min = 0, int s = 0) {
  return DaysFromCivil(y, mon, d) * kSecondsPerDay + h * 3600 + min * 60 + s;
}

// Any steady time will do: only differences count.
const TimePoint kSteady = TimePoint() + std::chrono::hours(1000);

JobConfig Cron(const char* expr, const char* zone = "UTC") {
  JobConfig config;
  config.schedule = *CronSchedule::Parse(expr);
  Result<TimeZone> tz = TimeZone::Load(zone);
  EXPECT_TRUE(tz.ok()) << zone << ": " << tz.status().message();
  if (tz.ok()) config.timezone = *tz;
  return config;
}

TEST(JobScheduleTest, NoScheduleNeverFires) {
  JobSchedule none;
  EXPECT_FALSE(none.Due(TimePoint::max() - seconds(1)));
  JobConfig on_demand;
  on_demand.on_demand = true;
  JobSchedule schedule(on_demand);
  schedule.Arm(kSteady, 1e9);
  EXPECT_EQ(schedule.next(), TimePoint::max());
  EXPECT_EQ(schedule.next_unix(), 0);
}

TEST(JobScheduleTest, EveryCountsFromNow) {
  JobConfig config;
  config.every = Duration(90'000);
  JobSchedule schedule(config);
  schedule.Arm(kSteady, 1000.5);
  EXPECT_EQ(schedule.next(), kSteady + seconds(90));
  EXPECT_DOUBLE_EQ(schedule.next_unix(), 1090.5);
  EXPECT_FALSE(schedule.Due(kSteady + seconds(89)));
  EXPECT_TRUE(schedule.Due(kSteady + seconds(90)));
  // Fired late: the next one counts from when it fired.
  schedule.Arm(kSteady + seconds(95), 1095.5);
  EXPECT_EQ(schedule.next(), kSteady + seconds(185));
  EXPECT_DOUBLE_EQ(schedule.next_unix(), 1185.5);
}

TEST(JobScheduleTest, CronMapsTheWallTimeOntoTheSteadyClock) {
  JobSchedule schedule(Cron("*/15 * * * *"));
  const double now = static_cast<double>(Utc(2024, 1, 1, 10, 7, 30));
  schedule.Arm(kSteady, now);
  EXPECT_EQ(schedule.next_unix(), Utc(2024, 1, 1, 10, 15));
  EXPECT_EQ(schedule.next(), kSteady + seconds(7 * 60 + 30));
  EXPECT_FALSE(schedule.Due(kSteady + seconds(7 * 60 + 29)));
  EXPECT_TRUE(schedule.Due(kSteady + seconds(7 * 60 + 30)));
}

TEST(JobScheduleTest, CronUsesTheJobsTimeZone) {
  JobSchedule kolkata(Cron("@hourly", "Asia/Kolkata"));
  kolkata.Arm(kSteady, static_cast<double>(Utc(2024, 1, 1, 10, 0, 1)));
  EXPECT_EQ(kolkata.next_unix(), Utc(2024, 1, 1, 10, 30));
  JobSchedule berlin(Cron("30 2 * * *", "Europe/Berlin"));
  // 02:30 does not exist on 2024-03-31 in Berlin: the next day's.
  berlin.Arm(kSteady, static_cast<double>(Utc(2024, 3, 30, 12)));
  EXPECT_EQ(berlin.next_unix(), Utc(2024, 4, 1, 0, 30));
  // 02:30 happens twice on 2024-10-27: fires at the first only.
  berlin.Disarm();
  berlin.Arm(kSteady, static_cast<double>(Utc(2024, 10, 26, 12)));
  EXPECT_EQ(berlin.next_unix(), Utc(2024, 10, 27, 0, 30));
  berlin.Arm(kSteady, static_cast<double>(Utc(2024, 10, 27, 0, 30)));
  EXPECT_EQ(berlin.next_unix(), Utc(2024, 10, 28, 1, 30));
}

// The loop wakes on the steady clock; if the wall clock runs a little behind
// it, re-arming "after now" would find the same minute again and fire twice.
TEST(JobScheduleTest, ReArmingNeverRepeatsAFiring) {
  JobSchedule schedule(Cron("* * * * *"));
  const int64_t minute = Utc(2024, 1, 1, 12, 0);
  schedule.Arm(kSteady, static_cast<double>(minute - 30));
  ASSERT_EQ(schedule.next_unix(), minute);
  // Woken at the deadline, but the wall clock says 0.2 s before it.
  const TimePoint woke = schedule.next();
  schedule.Arm(woke, static_cast<double>(minute) - 0.2);
  EXPECT_EQ(schedule.next_unix(), minute + 60);
  // (Doubles near 1.7e9 s resolve about 0.2 us.)
  EXPECT_NEAR(std::chrono::duration<double>(schedule.next() - woke).count(),
              60.2, 1e-3);
  // After Disarm it counts from now again.
  schedule.Disarm();
  EXPECT_EQ(schedule.next(), TimePoint::max());
  EXPECT_EQ(schedule.next_unix(), 0);
  schedule.Arm(kSteady, static_cast<double>(minute) - 0.2);
  EXPECT_EQ(schedule.next_unix(), minute);
}

TEST(JobScheduleTest, ImpossibleCronStaysDisarmed) {
  JobSchedule schedule(Cron("0 0 30 2 *"));
  schedule.Arm(kSteady, static_cast<double>(Utc(2024, 1, 1)));
  EXPECT_EQ(schedule.next(), TimePoint::max());
  EXPECT_EQ(schedule.next_unix(), 0);
}

TEST(JobScheduleTest, OverlapRules) {
  struct Case {
    Overlap overlap;
    int running;
    size_t queued;
    OverlapAction action;
  };
  const Case cases[] = {
      {Overlap::kSkip, 0, 0, OverlapAction::kStart},
      {Overlap::kSkip, 1, 0, OverlapAction::kSkipBusy},
      {Overlap::kSkip, 0, 1, OverlapAction::kSkipBusy},
      {Overlap::kQueue, 0, 0, OverlapAction::kStartAfterRunning},
      {Overlap::kQueue, 3, 0, OverlapAction::kStartAfterRunning},
      {Overlap::kQueue, 1, 1, OverlapAction::kSkipQueued},
      {Overlap::kQueue, 0, 1, OverlapAction::kSkipQueued},
      {Overlap::kAllow, 0, 0, OverlapAction::kStart},
      {Overlap::kAllow, 5, 7, OverlapAction::kStart},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DecideOverlap(c.overlap, c.running, c.queued), c.action)
        << static_cast<int>(c.overlap) << " running " << c.running << " queued "
        << c.queued;
  }
}

}  // namespace
}  // namespace corefork
