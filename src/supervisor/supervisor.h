// Supervisor: the event loop that owns every worker process. It starts one
// worker per slot, tracks readiness (notify socket / notify pipe) and the
// watchdog, restarts workers that die (with backoff), reloads and scales on
// request, forwards signals, reaps every child (orphans too), runs the
// shutdown timeline, and publishes a StateView after every turn.
// Single-threaded by design: construct, then Run() on the main thread, which
// must have blocked HandledSignals() first (see os/signals.h).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cgroup/cgroup.h"
#include "cgroup/sizing.h"
#include "config/config.h"
#include "jobs/job_runner.h"
#include "loop/commands.h"
#include "loop/line_splitter.h"
#include "metrics/metrics.h"
#include "net/line_http.h"
#include "net/listener.h"
#include "os/exit_codes.h"
#include "os/fd.h"
#include "supervisor/backoff.h"
#include "supervisor/compat.h"
#include "supervisor/notify.h"
#include "supervisor/recycle.h"
#include "supervisor/state.h"
#include "supervisor/worker_output.h"

namespace corefork {

// What main hands the loop besides the Config. Pointers are borrowed and
// must outlive Run().
struct SupervisorContext {
  std::string executable;            // resolved path of config.command[0]
  ListenerSet* listeners = nullptr;  // bound for the initial worker count
  CgroupInfo cgroup;
  SizingDecision sizing;  // sizing.workers = initial worker count
  StateBoard* board = nullptr;
  CommandQueue* commands = nullptr;
  Metrics* metrics = nullptr;
  std::string notify_socket_path;   // "" = no NOTIFY_SOCKET
  std::string control_socket_path;  // passed as COREFORK_CONTROL_SOCKET
  int job_concurrency = 1;          // default per-job concurrency (CPU count)
  CompatPlan compat;  // shim and Node IPC; config.ready.mode is resolved
  // sizing.follow re-reads the limits under this root (detect's --root),
  // with the same COREFORK_CPU_REQUEST as at start.
  std::string cgroup_root = "/";
  std::optional<long> cpu_request_millicores;
};

class Supervisor {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  Supervisor(const Config& config, SupervisorContext context);

  // Runs until shutdown completes; returns corefork's exit code.
  ExitCode Run();

 private:
  enum class Phase { kRunning, kDraining, kStopping };
  static constexpr size_t kMaxNotifyLine = 4096;       // a notify pipe line
  static constexpr size_t kMaxIpcMessage = 64 * 1024;  // a Node IPC message
  enum class WorkerState { kStarting, kReady, kStopping };

  // One worker process. A slot normally has one; during a reload it also has
  // a successor, and a retiring worker may outlive its slot (scale down).
  struct Worker {
    pid_t pid = -1;
    int slot = 0;
    uint64_t serial = 0;  // unique per process: tags its notify pipe in epoll
    WorkerState state = WorkerState::kStarting;
    TimePoint started_at;
    std::optional<TimePoint> ready_at;  // set once, when it got ready
    // kStarting: ready timeout; kReady: watchdog; kStopping: SIGKILL.
    TimePoint deadline = TimePoint::max();
    bool successor = false;   // reload: replaces the slot's worker once ready
    bool retiring = false;    // asked to stop; its exit is expected
    bool aborted = false;     // watchdog sent SIGABRT; SIGKILL at deadline
    std::string fail_reason;  // "ready_timeout", "watchdog" when we killed it
    std::string status_text;  // last STATUS=
    Fd notify_pipe;           // read end of COREFORK_NOTIFY_FD
    LineSplitter notify_lines{kMaxNotifyLine};
    Fd ipc;  // our end of the Node IPC channel, if any
    LineSplitter ipc_lines{kMaxIpcMessage};  // one JSON message per line
    // health.worker: the probe in flight, when it must have answered, when
    // the next one starts, and failures in a row.
    std::unique_ptr<LineRequest> probe;
    TimePoint probe_deadline{};
    TimePoint next_probe{};
    int probe_failures = 0;
    std::string replaces_because = "reload";  // a successor's restart reason
    bool tree_truncated_logged = false;       // recycle: said once per worker
    // recycle.max_lifetime: its drawn lifetime (0: none) and when it is due
    // for recycling (pushed back by check_interval after an attempt).
    Duration lifetime{0};
    TimePoint recycle_at = TimePoint::max();
  };

  struct Slot {
    Slot(int id, const RestartConfig& restart) : id(id), backoff(restart) {}
    int id;
    RestartBackoff backoff;
    TimePoint restart_at;                  // no worker: start the next one then
    std::string restart_reason = "crash";  // label of the next restart
    TimePoint leaving_since{};  // above desired_: steered away since then
    bool has_run = false;
    int restarts = 0;
    std::string last_exit;
  };

  struct Reload {
    bool active = false;
    std::string reason = "reload";  // the successors' restart reason
    int slot = 0;                   // the slot being replaced
    pid_t old_pid = -1;  // retiring worker whose exit moves to the next slot
    int replaced = 0;
  };

  // The loop, in order (supervisor.cc).
  Status SetUpLoop();
  void WaitForEvents();
  void HandleSignals();
  void ReapChildren();
  void EnforceDeadlines();
  void Reconcile();
  bool StartJobsDone();
  void PublishState();
  bool Finished() const;

  void OnSignal(int signo);
  void OnWorkerExit(pid_t pid, int status);
  void OnUnexpectedExit(const Worker& worker, int status);
  // Whether an unexpected exit was the app's doing or a kill from outside.
  static RestartBackoff::Cause CauseOf(const Worker& worker, int status);
  void ScheduleRestart(Slot& slot, std::chrono::milliseconds ready_for,
                       RestartBackoff::Cause cause, const std::string& what);
  // A successor's `replaces_because` is its restart reason once it takes
  // over (set before it can be marked ready).
  Worker* StartWorker(Slot& slot, bool successor,
                      const std::string& replaces_because = "reload");
  std::vector<std::string> WorkerEnvironment(const Slot& slot) const;
  void EnforceWorkerDeadline(Worker& worker);

  // Readiness and notify messages (supervisor_notify.cc).
  void ReadNotifySocket();
  void ReadNotifyPipe(uint64_t serial);
  void OnNotify(Worker& worker, const std::string& text);
  void MarkReady(Worker& worker);
  Worker* FindWorkerOfSender(pid_t sender);

  // Drop-in compatibility (supervisor_compat.cc): the listen shim's requests
  // on the notify socket, and the Node IPC channel.
  bool OnShimMessage(Worker& worker, const NotifySocket::Datagram& d);
  void AddCompatEnvironment(std::vector<std::string>* env, int next_fd) const;
  static Status OpenIpc(Fd* ours, Fd* child_end);
  void ReadIpc(uint64_t serial);
  void OnIpcMessage(Worker& worker, const std::string& json);
  void CloseIpc(Worker& worker, const std::string& why);
  // The stop signal, or PM2's 'shutdown' message when so configured.
  void AskToStop(Worker& worker);
  std::string CrashLoopHint() const;

  // Steering new connections (supervisor_steering.cc): attach corefork's
  // program to each reuseport group and keep its serving set (ready slots
  // below the desired count) current; scale-down lets a slot's queue empty
  // before its worker stops.
  void SetUpSteering();
  void UpdateSteering();
  bool AttachSteeringTo(size_t listener, const std::vector<int>& serving);
  void StopSteering(const std::string& why);
  void RetireLeavingWorkers();
  size_t QueuedConnections(int slot) const;
  LinesView Lines() const;

  // In-place resize (supervisor_follow.cc): re-read the limits every
  // sizing.follow_interval; scale once two reads in a row agree on a new
  // worker count.
  bool Following() const;
  void FollowLimits();

  // Recycling (supervisor_recycle.cc): max_rss, max_lifetime with jitter,
  // the cron schedule and the memory-pressure guard, one slot at a time
  // through Replace (or StartReload for the schedule), only while no
  // replacement, reload or scale-down is under way.
  bool RecyclingOn() const;
  bool ReplacementUnderWay() const;
  bool Recyclable(const Worker& worker) const;
  void SetUpRecycling();
  void AssignLifetime(Worker& worker);
  void RecycleWorkers();
  void EndRecycle();
  bool RecycleForMemory();
  bool RecycleForPressure(const std::vector<WorkerMemory>& sizes);
  void RecycleExpired();
  void Recycle(Worker& worker, const std::string& reason,
               const std::string& detail);
  void NoteRecycle(int slot, pid_t pid, const std::string& reason,
                   const std::string& detail);
  TimePoint NextRecycleDeadline() const;

  // Worker probes through the lines (supervisor_probe.cc).
  bool ProbesOn() const;
  void StartProbes();
  void OnProbeEvent(uint64_t serial);
  void EnforceProbeDeadlines();
  void FinishProbe(Worker& worker, const Status& failure);
  // Starts a successor for `worker`'s slot; the worker retires once it is
  // ready (the reload machinery, for one slot).
  void Replace(Worker& worker, const std::string& reason);
  void AbortReplacement(const std::string& why);

  // Shutdown (supervisor.cc).
  void BeginDrain();
  void BeginStop();
  void FastShutdown();
  void KillRemaining();
  void EndEveryProcess();
  void SignalWorkers(int signo);
  void Retire(Worker& worker, const std::string& why);
  void KillWorker(Worker& worker, const std::string& reason);
  void FailWith(ExitCode code);

  // Commands, reload and scaling (supervisor_control.cc).
  void HandleCommands();
  // reason: the successors' restart reason ("reload", "schedule").
  CommandReply StartReload(const std::string& reason = "reload");
  void ReloadStep();
  void OnSuccessorReady(Worker& successor);
  void AbortReload(const std::string& why);
  CommandReply Scale(int workers);
  void CloseUnusedSlots();

  TimePoint NextDeadline() const;
  Worker* PrimaryWorker(int slot);  // the slot's serving, non-retiring worker
  bool HasPrimaryWorker(int slot) const;
  Worker* FindWorker(pid_t pid);
  int ReadyWorkers() const;
  int MinReadyWorkers() const;

  Config config_;
  SupervisorContext context_;
  std::vector<std::string> base_env_;  // environ + config env
  std::vector<Slot> slots_;            // index = slot id; may exceed desired_
  int desired_ = 0;
  std::map<pid_t, Worker> workers_;
  std::vector<pid_t> groups_;  // process groups of workers, until empty
  uint64_t next_serial_ = 1;
  Reload reload_;
  std::unique_ptr<JobRunner> jobs_;
  bool schedules_started_ = false;
  bool steering_ = false;     // our program decides, not the kernel
  std::vector<int> steered_;  // serving slots the program was built for
  std::vector<size_t> steered_groups_;  // group sizes it was built for
  bool lines_ipv6_ = false;             // the first listener's family
  TimePoint follow_at_{};               // next limits read (sizing.follow)
  std::optional<int> follow_pending_;   // a new count seen once, not yet twice
  std::optional<LimitChangeView> last_limit_change_;  // for /status
  // recycle.*: the next RSS / memory read, the cron schedule, the lifetime
  // draws, the pressure guard's back-off, the last recycle started (for
  // /status).
  TimePoint recycle_check_at_{};
  JobSchedule recycle_schedule_;
  std::mt19937_64 lifetime_rng_{std::random_device{}()};
  bool pressure_unlimited_logged_ = false;
  // The worker a max_rss / max_lifetime / memory_pressure recycle is
  // replacing, until that replacement has ended; -1 when none.
  pid_t recycling_pid_ = -1;
  // Set up from check_interval in SetUpRecycling.
  PressureBackoff pressure_backoff_{Duration(5'000), Duration(300'000)};
  std::optional<RecycleView> last_recycle_;

  Fd epoll_;
  Fd signal_fd_;
  std::optional<NotifySocket> notify_socket_;
  Fd dev_null_;  // workers' stdin
  // logs.workers tagged/json: the workers' stdout/stderr pipes; null in raw
  // mode (workers write to corefork's own fds).
  std::unique_ptr<WorkerOutput> worker_output_;
  TimePoint now_;
  double started_unix_seconds_ = 0;
  uint64_t publish_version_ = 0;
  Phase phase_ = Phase::kRunning;
  TimePoint drain_until_;
  TimePoint stop_deadline_;    // stop signal sent; SIGKILL after this
  TimePoint final_deadline_;   // SIGKILL sent; stop waiting after this
  bool killed_ = false;        // SIGKILL was needed at shutdown
  bool ever_started_ = false;  // some worker has been spawned successfully
  ExitCode exit_code_ = ExitCode::kOk;
};

}  // namespace corefork
