#include "supervisor/backoff.h"

#include <algorithm>

namespace corefork {

RestartBackoff::RestartBackoff(const RestartConfig& config)
    : config_(config), next_delay_(config.initial_delay) {}

std::optional<Duration> RestartBackoff::OnExit(Duration ready_for,
                                               Cause cause) {
  if (ready_for >= config_.reset_after) {
    failures_ = 0;
    streak_ = 0;
    next_delay_ = config_.initial_delay;
  }
  const bool was_ready = ready_for.count() > 0;
  if (cause == Cause::kOutside && was_ready) return Duration::zero();
  if (cause == Cause::kApp) {
    ++failures_;
    if (config_.max_failures > 0 && failures_ >= config_.max_failures) {
      return std::nullopt;
    }
  }
  // The first restart after a good run is at once: whatever ended it, it
  // is not (yet) a loop.
  if (++streak_ == 1) return Duration::zero();
  // Killed from outside while starting: wait initial_delay, never longer.
  // A growing delay would leave the slot empty, with the connections
  // queued on it waiting, for as long as a chaos test or an operator keeps
  // killing; initial_delay still keeps a start that the OOM killer ends
  // every time from restarting faster than that.
  if (cause == Cause::kOutside) return config_.initial_delay;
  Duration delay = next_delay_;
  auto grown = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double, std::milli>(next_delay_.count() *
                                                config_.factor));
  next_delay_ = std::min(std::max(grown, next_delay_), config_.max_delay);
  return delay;
}

}  // namespace corefork
