#include "supervisor/recycle.h"

#include <algorithm>
#include <cmath>

namespace corefork {

Duration DrawLifetime(Duration max_lifetime, double jitter, double u) {
  jitter = std::clamp(jitter, 0.0, 1.0);
  u = std::clamp(u, 0.0, 1.0);
  const double factor = 1 - jitter + 2 * jitter * u;
  const double ms =
      std::round(static_cast<double>(max_lifetime.count()) * factor);
  return Duration(std::max<int64_t>(static_cast<int64_t>(ms), 1));
}

std::optional<WorkerMemory> Biggest(std::span<const WorkerMemory> workers) {
  std::optional<WorkerMemory> biggest;
  for (const WorkerMemory& w : workers) {
    if (!biggest || w.rss_bytes > biggest->rss_bytes ||
        (w.rss_bytes == biggest->rss_bytes && w.slot < biggest->slot)) {
      biggest = w;
    }
  }
  return biggest;
}

std::optional<WorkerMemory> BiggestOver(std::span<const WorkerMemory> workers,
                                        uint64_t max_rss) {
  std::optional<WorkerMemory> biggest = Biggest(workers);
  if (!biggest || biggest->rss_bytes <= max_rss) return std::nullopt;
  return biggest;
}

bool OverPressure(uint64_t used_bytes, uint64_t limit_bytes, double fraction) {
  if (limit_bytes == 0) return false;
  return static_cast<double>(used_bytes) >
         static_cast<double>(limit_bytes) * fraction;
}

PressureBackoff::PressureBackoff(Duration check_interval, Duration cap)
    : check_interval_(std::max(check_interval, Duration(1))),
      cap_(std::max(cap, check_interval_)) {}

PressureBackoff::Decision PressureBackoff::Over(TimePoint now) {
  Decision d;
  if (judging_) {
    // The last pressure recycle has finished (the loop checks only once no
    // replacement is under way) and the use is still over.
    judging_ = false;
    ++streak_;
    Duration wait = check_interval_;
    for (int i = 1; i < streak_ && wait < cap_; ++i) wait *= 2;
    wait = std::min(wait, cap_);
    not_before_ = now + wait;
    d.wait = wait;
    d.first_wait = streak_ == 1;
    d.after_slot = last_slot_;
    return d;
  }
  d.recycle = now >= not_before_;
  return d;
}

void PressureBackoff::Recycled(int slot) {
  judging_ = true;
  last_slot_ = slot;
}

bool PressureBackoff::Relieved() {
  const bool was = streak_ > 0;
  judging_ = false;
  streak_ = 0;
  not_before_ = TimePoint{};
  return was;
}

JobSchedule RecycleSchedule(const RecycleConfig& config) {
  if (!config.schedule) return JobSchedule();
  JobConfig job;
  job.name = "recycle";
  job.schedule = config.schedule;
  job.timezone = config.timezone;
  return JobSchedule(job);
}

}  // namespace corefork
