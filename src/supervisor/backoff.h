// RestartBackoff: the restart policy of one worker slot. A worker ready for
// at least `reset_after` had a good run and clears the slot's record. The
// first failure after a good run restarts at once, as Node's cluster, PM2
// and gunicorn do; further restarts in a row wait initial_delay, growing by
// `factor` up to max_delay; max_failures of the app's own failures in a row
// make corefork give up so the kubelet's own back-off takes over. A worker
// killed from outside is not the app's failure (see OnExit). Plain value,
// owned by its slot.
#pragma once

#include <optional>

#include "config/config.h"

namespace corefork {

class RestartBackoff {
 public:
  explicit RestartBackoff(const RestartConfig& config);

  // How a worker ended, as far as the policy cares.
  enum class Cause {
    kApp,      // it exited, crashed, or hung (corefork killed it for that)
    kOutside,  // SIGKILL/SIGTERM/SIGINT/SIGHUP that corefork did not send:
               // the OOM killer, a chaos test, an operator's kill
  };

  // Records an unexpected exit of a worker that had been ready for
  // `ready_for` (zero if it never got ready). Returns how long to wait before
  // starting its replacement, or nullopt to give up. A kill from outside
  // never makes corefork give up; after the worker got ready it is replaced
  // at once and counts for nothing, before that it waits initial_delay
  // (a start-up that the OOM killer ends every time must not spin a CPU)
  // and the delay does not grow.
  std::optional<Duration> OnExit(Duration ready_for, Cause cause);

  // The app's own failures in a row so far (0 after a good run).
  int consecutive_failures() const { return failures_; }
  // Restarts in a row that were not after a good run: what the delay grows
  // with.
  int streak() const { return streak_; }

 private:
  RestartConfig config_;
  int failures_ = 0;
  int streak_ = 0;
  Duration next_delay_;
};

}  // namespace corefork
