#include "supervisor/backoff.h"

#include <algorithm>

namespace corefork {

RestartBackoff::RestartBackoff(const RestartConfig& config)
    : config_(config), next_delay_(config.initial_delay) {}

std::optional<Duration> RestartBackoff::OnExit(Duration ready_for) {
  if (ready_for >= config_.reset_after) {
    failures_ = 0;
    next_delay_ = config_.initial_delay;
  }
  ++failures_;
  if (config_.max_failures > 0 && failures_ >= config_.max_failures) {
    return std::nullopt;
  }
  // A worker killed from outside (OOM, a node drain, chaos testing) after
  // serving well is not a crash loop: connections queued on its slot wait
  // only for the replacement's start.
  if (failures_ == 1) return Duration::zero();
  Duration delay = next_delay_;
  auto grown = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double, std::milli>(next_delay_.count() *
                                                config_.factor));
  next_delay_ = std::min(std::max(grown, next_delay_), config_.max_delay);
  return delay;
}

}  // namespace corefork
