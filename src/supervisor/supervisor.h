// Supervisor: the event loop that owns every worker process. It starts one
// worker per slot, restarts the ones that die (with backoff), forwards
// signals, reaps every child (orphans too), and runs the shutdown timeline.
// Single-threaded by design: construct, then Run() on the main thread, which
// must have blocked HandledSignals() first (see os/signals.h).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "config/config.h"
#include "net/listener.h"
#include "os/exit_codes.h"
#include "os/fd.h"
#include "supervisor/backoff.h"

namespace corefork {

class Supervisor {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  // `executable` is the resolved path of config.command[0]; `listeners`
  // are already bound for `workers` slots.
  Supervisor(const Config& config, int workers, std::string executable,
             ListenerSet* listeners);

  // Runs until shutdown completes; returns corefork's exit code.
  ExitCode Run();

 private:
  enum class Phase { kRunning, kDraining, kStopping };

  struct Slot {
    explicit Slot(int id, const RestartConfig& restart)
        : id(id), backoff(restart) {}
    int id;
    pid_t pid = -1;  // -1 while no worker runs in the slot
    TimePoint started_at;
    TimePoint restart_at;  // when pid == -1: start the next worker then
    RestartBackoff backoff;
    int restarts = 0;
    int last_status = -1;  // wait status of the previous worker
  };

  // One turn of the loop, in order.
  void WaitForEvents();
  void HandleSignals();
  void ReapChildren();
  void EnforceDeadlines();
  void Reconcile();
  bool Finished() const;

  void OnSignal(int signo);
  void OnWorkerExit(Slot& slot, int status);
  void ScheduleRestart(Slot& slot, std::chrono::milliseconds uptime,
                       const std::string& what);
  void StartWorker(Slot& slot);
  void BeginDrain();
  void BeginStop();
  void FastShutdown();
  void KillRemaining();
  void SignalWorkers(int signo);
  void FailWith(ExitCode code);
  TimePoint NextDeadline() const;
  std::vector<std::string> BaseEnvironment() const;

  Config config_;
  std::string executable_;
  ListenerSet* listeners_;
  std::vector<std::string> base_env_;  // environ + config env, no per-slot vars
  std::vector<Slot> slots_;
  std::vector<pid_t> groups_;  // process groups of workers, until empty
  Fd dev_null_;                // workers' stdin

  Fd epoll_;
  Fd signal_fd_;
  TimePoint now_;
  Phase phase_ = Phase::kRunning;
  TimePoint drain_until_;
  TimePoint stop_deadline_;    // stop signal sent; SIGKILL after this
  TimePoint final_deadline_;   // SIGKILL sent; stop waiting after this
  bool killed_ = false;        // SIGKILL was needed
  bool ever_started_ = false;  // some worker has been spawned successfully
  ExitCode exit_code_ = ExitCode::kOk;
};

}  // namespace corefork
