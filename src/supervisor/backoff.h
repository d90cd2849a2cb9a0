// RestartBackoff: the restart policy of one worker slot. The first failure
// after a good run (a worker ready for at least `reset_after`) restarts at
// once, as Node's cluster, PM2 and gunicorn do; failures in a row after that
// wait initial_delay, then grow by `factor` up to max_delay; after
// max_failures in a row corefork gives up so the kubelet's own back-off takes
// over. Plain value, owned by its slot.
#pragma once

#include <optional>

#include "config/config.h"

namespace corefork {

class RestartBackoff {
 public:
  explicit RestartBackoff(const RestartConfig& config);

  // Records an unexpected exit of a worker that had been ready for
  // `ready_for` (zero if it never got ready). Returns how long to wait before
  // starting its replacement, or nullopt to give up.
  std::optional<Duration> OnExit(Duration ready_for);

  // Failures in a row so far (0 after a long enough run).
  int consecutive_failures() const { return failures_; }

 private:
  RestartConfig config_;
  int failures_ = 0;
  Duration next_delay_;
};

}  // namespace corefork
