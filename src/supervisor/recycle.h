// The decisions of recycling (recycle.* in the config), as pure functions so
// they can be tested without processes or clocks: each worker's lifetime
// drawn with jitter, which worker is over max_rss, which is the biggest,
// whether the container is over its memory-pressure threshold, and when the
// cron schedule fires next. supervisor_recycle.cc applies them on the loop.
#pragma once

#include <sys/types.h>

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

// recycle.schedule in recycle.timezone as a JobSchedule (the jobs' cron
// scheduler: Arm it with the steady and wall-clock now); a schedule that
// never fires when the config has none.
JobSchedule RecycleSchedule(const RecycleConfig& config);

}  // namespace corefork
