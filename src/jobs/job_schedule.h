// JobSchedule: when one job's schedule fires next (its cron expression in its
// time zone, or its fixed `every` interval), and DecideOverlap: what a due
// firing does while earlier runs of the job are queued or running. Values
// inside JobRunner, used on the loop thread only. Neither reads a clock: the
// caller passes the steady and the wall-clock "now", so tests can drive them
// through any date.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "config/config.h"
#include "schedule/cron.h"
#include "schedule/zone.h"

namespace corefork {

class JobSchedule {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  JobSchedule() = default;  // never fires
  // The job's `every`, else its `schedule` in its `timezone` (the config
  // refuses both at once).
  explicit JobSchedule(const JobConfig& config);

  // Sets the next firing. `every`: `now` plus the interval. Cron: the first
  // matching instant after `unix_now` and after the firing armed before, if
  // any, so that a firing never repeats when the wall clock lags the steady
  // clock that woke the loop. A cron expression that matches nothing within
  // CronSchedule::kSearchYears leaves it disarmed. `now` and `unix_now` are
  // the same instant on the two clocks.
  void Arm(TimePoint now, double unix_now);
  void Disarm();

  bool Due(TimePoint now) const { return now >= next_; }
  // TimePoint::max() when disarmed.
  TimePoint next() const { return next_; }
  // The next firing as Unix seconds, for GET /jobs; 0 when disarmed.
  double next_unix() const { return next_unix_; }

 private:
  Duration every_{0};
  std::optional<CronSchedule> cron_;
  TimeZone tz_;
  TimePoint next_ = TimePoint::max();
  double next_unix_ = 0;
};

enum class OverlapAction {
  kStart,              // a new run, started as soon as concurrency allows
  kStartAfterRunning,  // a new run that waits until none is running
  kSkipBusy,    // skipped: a run is still queued or running (overlap: skip)
  kSkipQueued,  // skipped: a scheduled run already waits (queue)
};

// skip: no new run while one is queued or running. queue: one new run
// waiting at most (more would pile up forever behind a slow job), started
// when the running ones are done. allow: always a new run.
OverlapAction DecideOverlap(Overlap overlap, int running, size_t queued);

}  // namespace corefork
