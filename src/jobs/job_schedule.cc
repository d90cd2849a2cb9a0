#include "jobs/job_schedule.h"

#include <algorithm>
#include <cmath>

namespace corefork {

JobSchedule::JobSchedule(const JobConfig& config)
    : every_(config.every), cron_(config.schedule), tz_(config.timezone) {
  if (every_.count() > 0) cron_.reset();
}

void JobSchedule::Arm(TimePoint now, double unix_now) {
  if (every_.count() > 0) {
    next_ = now + every_;
    next_unix_ = unix_now + static_cast<double>(every_.count()) / 1000.0;
    return;
  }
  const double previous = next_unix_;
  Disarm();
  if (!cron_) return;
  const auto after =
      static_cast<int64_t>(std::floor(std::max(unix_now, previous)));
  const int64_t next = cron_->Next(after, tz_);
  if (next < 0) return;
  next_unix_ = static_cast<double>(next);
  next_ = now + std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(next_unix_ - unix_now));
}

void JobSchedule::Disarm() {
  next_ = TimePoint::max();
  next_unix_ = 0;
}

OverlapAction DecideOverlap(Overlap overlap, int running, size_t queued) {
  switch (overlap) {
    case Overlap::kSkip:
      return running > 0 || queued > 0 ? OverlapAction::kSkipBusy
                                       : OverlapAction::kStart;
    case Overlap::kQueue:
      return queued > 0 ? OverlapAction::kSkipQueued
                        : OverlapAction::kStartAfterRunning;
    case Overlap::kAllow:
      return OverlapAction::kStart;
  }
  return OverlapAction::kStart;
}

}  // namespace corefork
