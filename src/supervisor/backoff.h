// RestartBackoff: the restart policy of one worker slot. Exponential delay
// between restarts, reset once a worker stays up for `reset_after`, and a
// limit on consecutive failures after which corefork gives up so the
// kubelet's own back-off takes over. Plain value, owned by its slot.
#pragma once

#include <optional>

#include "config/config.h"

namespace corefork {

class RestartBackoff {
 public:
  explicit RestartBackoff(const RestartConfig& config);

  // Records an unexpected exit of a worker that ran for `uptime`. Returns how
  // long to wait before starting its replacement, or nullopt to give up.
  std::optional<Duration> OnExit(Duration uptime);

  // Failures in a row so far (0 after a long enough run).
  int consecutive_failures() const { return failures_; }

 private:
  RestartConfig config_;
  int failures_ = 0;
  Duration next_delay_;
};

}  // namespace corefork
