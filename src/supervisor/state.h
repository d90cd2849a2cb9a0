// What the event loop shows the rest of the program. The loop (the only
// writer) publishes an immutable StateView after every change; HTTP threads
// read the current one without locks on process state. StateBoard is the
// hand-off point: Publish() from the loop thread, Current() from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cgroup/cgroup.h"
#include "cgroup/sizing.h"

namespace corefork {

struct WorkerView {
  int id = 0;
  pid_t pid = -1;     // -1 while the slot has no process
  std::string state;  // "starting", "ready", "stopping", "backoff"
  bool ready = false;
  int restarts = 0;
  std::string last_exit;  // "exited with 3", "killed by SIGKILL", "" if none
  // When the process started (steady clock); the epoch without a process.
  // A time point, not an uptime: readers compute durations when they answer,
  // since a view may be read long after it was published.
  std::chrono::steady_clock::time_point started_at{};
  std::string status_text;  // last STATUS=... the worker sent
  // recycle.max_lifetime: when its lifetime ends (steady clock); max() when
  // it has none (off, or no process).
  std::chrono::steady_clock::time_point recycle_at =
      std::chrono::steady_clock::time_point::max();
  int64_t lifetime_ms = 0;  // its drawn lifetime; 0 = none
};

// The last recycle the loop started (recycle.*).
struct RecycleView {
  double unix_seconds = 0;
  int slot = 0;
  pid_t pid = -1;      // the worker recycled
  std::string reason;  // max_rss, max_lifetime, schedule, memory_pressure
  std::string detail;  // "max_rss: 612 MiB > 512 MiB"
};

// The last change of the container's limits seen by sizing.follow.
struct LimitChangeView {
  double unix_seconds = 0;
  std::string changes;  // "cpu quota 1 -> 2, memory none -> 512Mi"
  std::optional<double> cpu_before, cpu_after;          // quota in cores
  std::optional<uint64_t> memory_before, memory_after;  // bytes
  int workers_before = 0;
  int workers_after = 0;  // the count decided from the new limits
  std::string reason;     // the sizing decision's reason
};

// One worker process that has exited (any reason: crash, kill, reload).
struct ExitView {
  int slot = 0;
  pid_t pid = -1;
  std::string reason;        // the slot's last_exit: "killed by SIGKILL"
  double unix_seconds = 0;   // when the loop reaped it
  double lived_seconds = 0;  // from start to exit
};

// How to reach one worker through the first listener (net/steering.h):
// connect from loopback port line_base + slot + k * group_size.
struct LinesView {
  bool on = false;  // steering is attached and passed its self-test
  int port = 0;     // the first listener's port
  bool ipv6 = false;
  int line_base = 0;
  int group_size = 0;
};

struct StateView {
  uint64_t version = 0;   // increases with every publish
  bool draining = false;  // SIGTERM seen: readiness must say 503
  bool stopping = false;  // workers are being stopped
  int desired_workers = 0;
  int ready_workers = 0;
  int min_ready_workers = 1;  // ready.min_workers resolved to a count
  // A job pool with `readiness: true` that has no process running: why
  // /readyz says 503 (JobRunner::NotReadyReason); "" when none.
  std::string jobs_not_ready;
  bool reloading = false;
  std::vector<WorkerView> workers;
  CgroupInfo cgroup;
  SizingDecision sizing;
  double started_unix_seconds = 0;  // when corefork started
  LinesView lines;
  // The last kMaxRecentExits exits, newest first. Shared between views and
  // replaced only when a worker exits, so publishing stays cheap.
  static constexpr size_t kMaxRecentExits = 20;
  std::shared_ptr<const std::vector<ExitView>> recent_exits;
  std::optional<RecycleView> last_recycle;
  std::optional<LimitChangeView> last_limit_change;
  double next_scheduled_recycle_unix = 0;  // recycle.schedule; 0 = none
};

class StateBoard {
 public:
  StateBoard() : current_(std::make_shared<StateView>()) {}

  void Publish(std::shared_ptr<const StateView> view) {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(view);
  }
  std::shared_ptr<const StateView> Current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const StateView> current_;
};

}  // namespace corefork
