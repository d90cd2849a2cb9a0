// The decisions of recycling (recycle.* in the config), as pure functions so
// they can be tested without processes or clocks: each worker's lifetime
// drawn with jitter, which worker is over max_rss, which is the biggest,
// whether the container is over its memory-pressure threshold, how long the
// pressure guard backs off when recycling does not relieve it, and when the
// cron schedule fires next. supervisor_recycle.cc applies them on the loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>

#include "config/config.h"
#include "jobs/job_schedule.h"

namespace corefork {

// A worker's own lifetime: max_lifetime * (1 - jitter + 2 * jitter * u),
// i.e. uniform in [max_lifetime * (1 - jitter), max_lifetime * (1 + jitter)]
// for u uniform in [0, 1). Rounded to the millisecond, at least 1 ms.
// jitter 0 gives max_lifetime exactly.
Duration DrawLifetime(Duration max_lifetime, double jitter, double u);

// The memory of one worker's process tree, as sampled.
struct WorkerMemory {
  int slot = 0;
  pid_t pid = -1;
  uint64_t rss_bytes = 0;
};

// The biggest worker by tree RSS; ties go to the lowest slot. nullopt for
// no workers.
std::optional<WorkerMemory> Biggest(std::span<const WorkerMemory> workers);

// The biggest worker whose tree RSS is over `max_rss` (strictly), if any.
std::optional<WorkerMemory> BiggestOver(std::span<const WorkerMemory> workers,
                                        uint64_t max_rss);

// Whether `used_bytes` passes `fraction` (0..1] of `limit_bytes` (strictly).
bool OverPressure(uint64_t used_bytes, uint64_t limit_bytes, double fraction);

// The memory-pressure guard's back-off. Memory that recycling cannot free (a
// job, a sidecar in the same cgroup, page cache counted as active, a leak in
// corefork itself) must not make the guard replace a worker at every check
// forever, each replacement briefly needing one more worker's memory. After a
// pressure recycle, a check that still finds the use over makes the next one
// wait: check_interval, then twice that each time, up to `cap`; a check that
// finds the use under (or no limit) ends the back-off. Passive: the loop
// feeds it its checks and the time; it owns no clock.
class PressureBackoff {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // What a check over the threshold decides.
  struct Decision {
    bool recycle = false;  // start a pressure recycle now
    // Set when this check judged the last pressure recycle a failure and
    // armed a wait: its length, and whether it is the first of the streak
    // (the one to log), and the slot that recycle replaced.
    std::optional<Duration> wait;
    bool first_wait = false;
    int after_slot = -1;
  };

  PressureBackoff(Duration check_interval, Duration cap);

  // A check found the use over the threshold at `now`.
  Decision Over(TimePoint now);
  // A pressure recycle of `slot` started (after Over said recycle).
  void Recycled(int slot);
  // A check found the use at or under the threshold, or no limit. Whether
  // the guard was backing off.
  bool Relieved();

  bool backing_off() const { return streak_ > 0; }
  TimePoint not_before() const { return not_before_; }

 private:
  Duration check_interval_;
  Duration cap_;
  bool judging_ = false;  // a pressure recycle started, no check since
  int last_slot_ = -1;
  int streak_ = 0;  // pressure recycles in a row that did not relieve it
  TimePoint not_before_{};
};

// recycle.schedule in recycle.timezone as a JobSchedule (the jobs' cron
// scheduler: Arm it with the steady and wall-clock now); a schedule that
// never fires when the config has none.
JobSchedule RecycleSchedule(const RecycleConfig& config);

}  // namespace corefork
