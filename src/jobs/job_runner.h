// JobRunner: configured jobs run as child processes, owned by the event loop
// (one thread: every method is called from the loop). It keeps each job's
// queue and runs, starts runs within the job's concurrency, feeds stdin from
// a memfd, captures stdout/stderr through non-blocking pipes the loop watches,
// enforces timeouts on the run's whole process group, retries, fires
// schedules, and keeps a bounded history of finished runs. A job with a
// `pool` keeps long-lived processes instead and hands each run to an idle one
// over a line protocol (job_pool.cc). The loop tells it about readable and
// writable pipes, exited pids and the passing of time; it tells the loop its
// next deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "jobs/output_capture.h"
#include "jobs/pool_protocol.h"
#include "jobs/run_history.h"
#include "loop/commands.h"
#include "metrics/metrics.h"
#include "os/spawn.h"

namespace corefork {

class JobRunner {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  struct Options {
    std::map<std::string, JobConfig> jobs;
    JobHistoryConfig history;
    int default_concurrency = 1;        // the detected CPU count
    std::vector<std::string> base_env;  // environment every run starts with
    int epoll_fd = -1;                  // the loop's; pipes are added to it
    Metrics* metrics = nullptr;         // may be null
  };

  explicit JobRunner(Options options);
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // At-start jobs run one at a time in name order before any worker starts.
  void BeginStartup(TimePoint now);
  bool StartupPending() const;
  // Non-empty once a required at-start job has failed for good.
  const std::string& startup_failure() const { return startup_failure_; }
  // Schedules fire only after startup.
  void StartSchedules(TimePoint now);

  // kRunJob, kGetRun, kCancelRun, kListJobs. Answers the command's promise,
  // now or (kRunJob with wait) when the run ends.
  void HandleCommand(Command& command, TimePoint now);

  bool OwnsPid(pid_t pid) const;
  void OnExit(pid_t pid, int status, TimePoint now);
  void OnPipeReadable(uint64_t serial);
  // A pool process's stdin can take more of a request (LoopTag::kJobPipeOut).
  void OnPipeWritable(uint64_t serial);
  TimePoint NextDeadline() const;
  // Timeouts, kill graces, retries due, schedules due, then starts what fits.
  void Tick(TimePoint now);

  // No more scheduled runs (SIGTERM: the drain begins). On-demand runs are
  // still accepted: the workers keep serving during the drain.
  void StopSchedules();
  // No more scheduling or accepting; queued runs end as cancelled. Running
  // runs go on until they end or KillAll().
  void BeginShutdown(TimePoint now);
  // SIGKILL every running run's process group (they end as cancelled).
  void KillAll();
  int running() const;
  // Pool processes alive (corefork exits only when they are gone too).
  int pool_processes() const { return static_cast<int>(pool_procs_.size()); }
  // Why a pool with `readiness: true` keeps /readyz at 503, or "".
  std::string NotReadyReason() const;

 private:
  struct Run;
  struct Job;
  struct PoolProcess;

  Run* NewRun(Job& job, const std::string& trigger, std::string input,
              TimePoint now);
  void Dispatch(TimePoint now);
  void StartRun(Job& job, Run& run, TimePoint now);
  void FailToStart(Job& job, Run& run, int exit_code, const std::string& why,
                   TimePoint now);
  // How a run's or a pool process's process starts: the job's command,
  // environment (plus COREFORK_JOB and `extra_env`), workdir and user.
  SpawnOptions JobSpawnOptions(const Job& job, const std::string& extra_env,
                               int stdin_fd, int stdout_fd,
                               int stderr_fd) const;
  void Finish(Job& job, Run& run, TimePoint now);
  void FireSchedule(Job& job, TimePoint now);
  void ScheduleNext(Job& job, TimePoint now);
  // Reads at most `max_bytes` of the run's stdout (0) or stderr (1).
  void ReadPipe(Run& run, int stream, size_t max_bytes);
  void EnforceRunDeadline(Run& run, TimePoint now);
  void StartNextStartupJob(TimePoint now);
  // Frees the output and forgets the runs the history no longer keeps.
  void Apply(const RunHistory::Evictions& evictions);
  CommandReply Submit(Command& command, TimePoint now, bool* deferred);
  CommandReply Cancel(uint64_t id, TimePoint now);
  CommandReply List() const;
  Run* FindRun(uint64_t id);
  void UpdateGauges(const Job& job);
  // A run's attempt ended (state set): retried after its back-off, or done.
  void EndAttempt(Job& job, Run& run, const std::string& how, TimePoint now);

  // Pools (job_pool.cc).
  bool PoolCanTake(const Job& job, TimePoint now) const;
  void StartPoolRun(Job& job, Run& run, TimePoint now);
  // Null when it cannot start: *why and *exit_code say why (126, 127).
  PoolProcess* StartPoolProcess(Job& job, TimePoint now, std::string* why,
                                int* exit_code);
  void Send(Job& job, PoolProcess& process, Run& run);
  void WritePending(PoolProcess& process);
  void ReadAnswers(PoolProcess& process, size_t max_bytes, TimePoint now);
  void ReadPoolStderr(PoolProcess& process, size_t max_bytes, TimePoint now);
  void Answered(Job& job, PoolProcess& process, const PoolAnswer& answer,
                TimePoint now);
  void BreakProtocol(PoolProcess& process, const std::string& why);
  // It closed stdout or stdin (`what`): no run again; killed as a protocol
  // break unless it exits within a short grace.
  void Closed(PoolProcess& process, const std::string& what, TimePoint now);
  void RetirePoolProcess(Job& job, PoolProcess& process,
                         const std::string& reason, TimePoint now);
  void OnPoolExit(PoolProcess& process, int status, TimePoint now);
  void TickPools(TimePoint now);
  TimePoint NextPoolDeadline() const;
  void StartWarmPools(TimePoint now);
  void UpdatePoolGauges(const Job& job);
  int LivePoolProcesses(const Job& job) const;  // not retiring

  Options options_;
  std::map<std::string, std::unique_ptr<Job>> jobs_;
  std::map<uint64_t, std::unique_ptr<Run>> runs_;  // every run by id
  RunHistory history_;                             // the finished ones
  size_t freed_since_trim_ = 0;                    // bytes, see Apply()
  // Runs not finished yet (queued or running), and the running ones by pid:
  // the loop asks about these on every turn, so never scan the history.
  std::set<uint64_t> active_;
  std::map<pid_t, uint64_t> by_pid_;
  std::map<uint64_t, std::pair<uint64_t, int>> pipes_;  // serial -> run, fd#
  std::map<pid_t, std::unique_ptr<PoolProcess>> pool_procs_;
  // serial -> pool process, stream (0 stdout, 1 stderr, 2 stdin)
  std::map<uint64_t, std::pair<pid_t, int>> pool_pipes_;
  uint64_t next_run_id_ = 1;
  uint64_t next_serial_ = 1;
  bool accepting_ = true;
  bool schedules_started_ = false;
  std::vector<std::string> startup_order_;
  size_t startup_next_ = 0;
  uint64_t startup_run_ = 0;  // the at-start run going on, 0 if none
  std::string startup_failure_;
};

}  // namespace corefork
