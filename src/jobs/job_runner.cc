#include "jobs/job_runner.h"

#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "config/values.h"
#include "jobs/job_runner_internal.h"
#include "jobs/job_schedule.h"
#include "loop/loop_tags.h"
#include "os/exit_codes.h"
#include "os/fd.h"
#include "os/spawn.h"
#include "util/clock.h"
#include "util/format.h"
#include "util/json.h"

namespace corefork {

namespace {

using std::chrono::milliseconds;

// Freed output bytes after which the heap is trimmed: glibc keeps freed
// large blocks in the heap, and RSS would stay at its high-water mark.
constexpr size_t kTrimAfterBytes = 1024 * 1024;

Json Rfc3339(double unix_seconds) {
  if (unix_seconds <= 0) return nullptr;
  time_t secs = static_cast<time_t>(unix_seconds);
  tm utc;
  gmtime_r(&secs, &utc);
  int millis =
      static_cast<int>((unix_seconds - static_cast<double>(secs)) * 1000);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                     utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                     utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
}

CommandReply Error(int status, const std::string& message) {
  return CommandReply{status, JsonDump(Json{{"error", message}}), {}};
}

}  // namespace

const char* StateName(RunState s) {
  switch (s) {
    case RunState::kQueued:
      return "queued";
    case RunState::kRunning:
      return "running";
    case RunState::kSucceeded:
      return "succeeded";
    case RunState::kFailed:
      return "failed";
    case RunState::kTimedOut:
      return "timed_out";
    case RunState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

void JobRunner::Run::Start(pid_t process, Duration timeout) {
  pid = process;
  state = RunState::kRunning;
  // The timeout counts from now (after the exec, or the hand-off to a pool
  // process), not from the loop turn's start: the run may never be cut
  // short of what `timeout` promises.
  started = Clock::now();
  started_at = UnixSeconds();
  deadline = timeout.count() > 0 ? started + timeout : TimePoint::max();
}

std::string JobRunner::Run::Json() const {
  using corefork::Json;  // the type, not this function
  Json json;
  json["id"] = id;
  json["job"] = job;
  json["trigger"] = trigger;
  json["state"] = StateName(state);
  json["attempt"] = attempt;
  json["pid"] = pid > 0 ? Json(pid) : Json();
  json["exit_code"] = exit_code >= 0 ? Json(exit_code) : Json();
  json["signal"] = signal > 0 ? Json(SignalName(signal)) : Json();
  json["error"] = error.empty() ? Json() : Json(error);
  json["queued_at"] = Rfc3339(queued_at);
  json["started_at"] = Rfc3339(started_at);
  json["finished_at"] = Rfc3339(finished_at);
  json["duration_seconds"] =
      started_at > 0 && finished_at > 0
          ? JsonNumber(std::round((finished_at - started_at) * 1000) / 1000)
          : Json();
  json["stdout"] = out[0].kept();
  json["stdout_truncated"] = out[0].truncated();
  json["stderr"] = out[1].kept();
  json["stderr_truncated"] = out[1].truncated();
  json["output_dropped"] = output_dropped;
  return JsonDump(json);
}

JobRunner::JobRunner(Options options)
    : options_(std::move(options)), history_(options_.history) {
  const char* path = std::getenv("PATH");
  for (const auto& [name, config] : options_.jobs) {
    auto job = std::make_unique<Job>();
    job->config = config;
    job->concurrency = config.concurrency > 0 ? config.concurrency
                                              : options_.default_concurrency;
    Result<std::string> exe = ResolveExecutable(
        config.command[0], path ? path : "/usr/local/bin:/usr/bin:/bin",
        &job->resolve_errno);
    if (exe.ok()) {
      job->executable = *exe;
    } else {
      job->resolve_error = exe.status().message();
      spdlog::warn("job {}: {}", name, job->resolve_error);
    }
    job->schedule = JobSchedule(config);
    if (!config.user.empty() || !config.group.empty()) {
      if (geteuid() != 0) {
        spdlog::warn("job {}: not running as root; user/group ignored", name);
      } else {
        if (passwd* pw =
                config.user.empty() ? nullptr : getpwnam(config.user.c_str())) {
          job->uid = pw->pw_uid;
          job->gid = pw->pw_gid;
        } else if (!config.user.empty()) {
          job->resolve_error = "unknown user \"" + config.user + "\"";
        }
        if (group* gr = config.group.empty() ? nullptr
                                             : getgrnam(config.group.c_str())) {
          job->gid = gr->gr_gid;
        } else if (!config.group.empty()) {
          job->resolve_error = "unknown group \"" + config.group + "\"";
        }
      }
    }
    if (config.pool) {
      JobPool pool;
      pool.config = *config.pool;
      pool.size = config.pool->size > 0 ? config.pool->size
                                        : options_.default_concurrency;
      pool.min =
          std::min(config.pool->min.value_or(config.pool->warm ? pool.size : 0),
                   pool.size);
      job->concurrency = pool.size;
      job->pool = pool;
      if (options_.metrics != nullptr) options_.metrics->DeclareJobPool(name);
    }
    if (config.at_start) startup_order_.push_back(name);
    jobs_[name] = std::move(job);
    UpdateGauges(*jobs_[name]);
  }
}

JobRunner::~JobRunner() { KillAll(); }

void JobRunner::UpdateGauges(const Job& job) {
  if (options_.metrics == nullptr) return;
  options_.metrics->SetJobCounts(job.config.name, job.running,
                                 static_cast<int>(job.queue.size()));
}

void JobRunner::BeginStartup(TimePoint now) { StartNextStartupJob(now); }

bool JobRunner::StartupPending() const {
  return startup_failure_.empty() &&
         (startup_run_ != 0 || startup_next_ < startup_order_.size());
}

void JobRunner::StartNextStartupJob(TimePoint now) {
  startup_run_ = 0;
  if (!startup_failure_.empty() || startup_next_ >= startup_order_.size())
    return;
  Job& job = *jobs_[startup_order_[startup_next_++]];
  spdlog::info("running start job {}", job.config.name);
  startup_run_ = NewRun(job, "at_start", "", now)->id;
  Dispatch(now);
}

void JobRunner::StartSchedules(TimePoint now) {
  schedules_started_ = true;
  for (auto& [name, job] : jobs_) ScheduleNext(*job, now);
  StartWarmPools(now);
}

void JobRunner::ScheduleNext(Job& job, TimePoint now) {
  if (!accepting_ || !schedules_started_) return job.schedule.Disarm();
  job.schedule.Arm(now, UnixSeconds());
}

JobRunner::Run* JobRunner::NewRun(Job& job, const std::string& trigger,
                                  std::string input, TimePoint now) {
  auto run = std::make_unique<Run>();
  run->id = next_run_id_++;
  run->job = job.config.name;
  run->trigger = trigger;
  run->input = std::move(input);
  run->queued_at = UnixSeconds();
  run->not_before = now;
  const std::string label = fmt::format("job {} run {} ", run->job, run->id);
  run->out[0] = OutputCapture(label + "stdout", job.config.max_output);
  run->out[1] = OutputCapture(label + "stderr", job.config.max_output);
  run->log_budget = LogBudget(LogBudget::Limits{}, now);
  Run* raw = run.get();
  runs_[raw->id] = std::move(run);
  active_.insert(raw->id);
  job.queue.push_back(raw->id);
  UpdateGauges(job);
  return raw;
}

void JobRunner::FireSchedule(Job& job, TimePoint now) {
  const OverlapAction action =
      DecideOverlap(job.config.overlap, job.running, job.queue.size());
  if (action == OverlapAction::kSkipBusy) {
    spdlog::info("job {}: previous run still going; skipping this one",
                 job.config.name);
  }
  if (action == OverlapAction::kSkipBusy ||
      action == OverlapAction::kSkipQueued) {
    if (options_.metrics)
      options_.metrics->CountJobRejection(job.config.name, "overlap");
  } else {
    NewRun(job, "schedule", "", now)->serial =
        action == OverlapAction::kStartAfterRunning;
  }
  ScheduleNext(job, now);
}

void JobRunner::Dispatch(TimePoint now) {
  for (auto& [name, job] : jobs_) {
    while (job->running < job->concurrency && !job->queue.empty()) {
      Run& run = *runs_[job->queue.front()];
      if (run.not_before > now || (run.serial && job->running > 0)) break;
      if (job->pool && !PoolCanTake(*job, now)) break;
      job->queue.pop_front();
      if (job->pool) {
        StartPoolRun(*job, run, now);
      } else {
        StartRun(*job, run, now);
      }
    }
    UpdateGauges(*job);
  }
}

void JobRunner::StartRun(Job& job, Run& run, TimePoint now) {
  if (!job.resolve_error.empty()) {
    int code =
        job.resolve_errno ? ExitCodeForExecError(job.resolve_errno) : 126;
    return FailToStart(job, run, code, job.resolve_error, now);
  }
  Fd input(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!run.input.empty()) {
    // A memfd holds the whole body: no pipe to feed while the run goes on.
    input.Reset(memfd_create("corefork-job-stdin", MFD_CLOEXEC));
    if (!input.valid() ||
        write(input.get(), run.input.data(), run.input.size()) !=
            static_cast<ssize_t>(run.input.size()) ||
        lseek(input.get(), 0, SEEK_SET) != 0) {
      return FailToStart(job, run, 126, PosixError("job stdin").message(), now);
    }
  }
  Fd write_ends[2];
  for (int i = 0; i < 2; ++i) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      return FailToStart(job, run, 126, PosixError("pipe").message(), now);
    }
    run.pipes[i].Reset(fds[0]);
    write_ends[i].Reset(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
  }
  SpawnOptions options =
      JobSpawnOptions(job, "COREFORK_RUN_ID=" + std::to_string(run.id),
                      input.get(), write_ends[0].get(), write_ends[1].get());
  SpawnFailure failure;
  Result<pid_t> pid = Spawn(options, &failure);
  if (!pid.ok()) {
    run.pipes[0].Reset();
    run.pipes[1].Reset();
    return FailToStart(job, run, ExitCodeForExecError(failure.error),
                       pid.status().message(), now);
  }
  run.Start(*pid, job.config.timeout);
  by_pid_[run.pid] = run.id;
  for (int i = 0; i < 2; ++i) {
    run.serials[i] = next_serial_++;
    pipes_[run.serials[i]] = {run.id, i};
    Status watched = Watch(options_.epoll_fd, run.pipes[i].get(),
                           LoopTag::kJobPipe, run.serials[i]);
    if (!watched.ok()) {
      // Unread, the pipe would fill and stall the job: closing it makes the
      // job's writes fail (EPIPE) instead, which its exit then shows.
      spdlog::error("job {} run {}: cannot read its output: {}", run.job,
                    run.id, watched.message());
      run.pipes[i].Reset();
    }
  }
  ++job.running;
  spdlog::debug("job {} run {} started (pid {})", run.job, run.id, run.pid);
}

SpawnOptions JobRunner::JobSpawnOptions(const Job& job,
                                        const std::string& extra_env,
                                        int stdin_fd, int stdout_fd,
                                        int stderr_fd) const {
  SpawnOptions options;
  options.path = job.executable;
  options.argv = job.config.command;
  options.env = options_.base_env;
  for (const auto& [key, value] : job.config.env)
    options.env.push_back(key + "=" + value);
  options.env.push_back("COREFORK_JOB=" + job.config.name);
  options.env.push_back(extra_env);
  options.stdin_fd = stdin_fd;
  options.stdout_fd = stdout_fd;
  options.stderr_fd = stderr_fd;
  options.workdir = job.config.workdir;
  options.uid = job.uid;
  options.gid = job.gid;
  return options;
}

void JobRunner::FailToStart(Job& job, Run& run, int exit_code,
                            const std::string& why, TimePoint now) {
  spdlog::error("job {} run {}: cannot start: {}", run.job, run.id, why);
  run.exit_code = exit_code;
  run.out[1].set_kept(why + "\n");
  run.started_at = UnixSeconds();
  run.state = RunState::kFailed;
  ++job.running;  // Finish() balances it
  Finish(job, run, now);
}

bool JobRunner::OwnsPid(pid_t pid) const {
  return by_pid_.count(pid) != 0 || pool_procs_.count(pid) != 0;
}

void JobRunner::ReadPipe(Run& run, int stream, size_t max_bytes) {
  if (!run.pipes[stream].valid()) return;
  if (!run.out[stream].Read(run.pipes[stream].get(), max_bytes, run.log_budget,
                            Clock::now())) {
    // EOF: every writer is gone. Closing removes it from the epoll set.
    pipes_.erase(run.serials[stream]);
    run.pipes[stream].Reset();
  }
}

void JobRunner::OnPipeReadable(uint64_t serial) {
  if (auto pool = pool_pipes_.find(serial); pool != pool_pipes_.end()) {
    auto [pid, stream] = pool->second;
    PoolProcess& process = *pool_procs_.at(pid);
    if (stream == 0) ReadAnswers(process, kReadPerTurn, Clock::now());
    if (stream == 1) ReadPoolStderr(process, kReadPerTurn, Clock::now());
    return;
  }
  auto it = pipes_.find(serial);
  if (it == pipes_.end()) return;
  auto [run_id, stream] = it->second;
  if (Run* run = FindRun(run_id)) ReadPipe(*run, stream, kReadPerTurn);
}

void JobRunner::OnExit(pid_t pid, int status, TimePoint now) {
  if (auto pool = pool_procs_.find(pid); pool != pool_procs_.end()) {
    return OnPoolExit(*pool->second, status, now);
  }
  auto owner = by_pid_.find(pid);
  if (owner == by_pid_.end()) return;
  Run* found = FindRun(owner->second);
  by_pid_.erase(owner);
  if (found == nullptr) return;
  Run& run = *found;
  Job& job = *jobs_[run.job];
  // Everything the run wrote is in the pipes by now; its leftover children
  // are not part of the run: killed first, so that reading what is left is
  // bounded by the pipes' capacity, not by how fast they write.
  kill(-pid, SIGKILL);
  for (int i = 0; i < 2; ++i) {
    ReadPipe(run, i, kReadAtExit);
    pipes_.erase(run.serials[i]);
    run.pipes[i].Reset();
    run.out[i].EndAttempt(run.log_budget, now);
  }
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) run.signal = WTERMSIG(status);
  if (run.cancelled) {
    run.state = RunState::kCancelled;
  } else if (run.timed_out) {
    run.state = RunState::kTimedOut;
  } else {
    run.state = run.exit_code == 0 ? RunState::kSucceeded : RunState::kFailed;
  }
  EndAttempt(job, run, DescribeWaitStatus(status), now);
}

void JobRunner::EndAttempt(Job& job, Run& run, const std::string& how,
                           TimePoint now) {
  const bool retry =
      (run.state == RunState::kFailed || run.state == RunState::kTimedOut) &&
      run.attempt <= job.config.retries && accepting_;
  if (retry) {
    --job.running;
    // Doubled per attempt, but never past the longest duration the config
    // accepts: now + delay must not overflow the clock.
    Duration delay = std::min<Duration>(
        job.config.retry_delay * (1 << std::min(run.attempt - 1, 16)),
        kMaxDuration);
    spdlog::warn("job {} run {} {} ({}); retry {} of {} in {}", run.job, run.id,
                 StateName(run.state), how, run.attempt, job.config.retries,
                 FormatDuration(delay));
    ++run.attempt;
    run.state = RunState::kQueued;
    run.exit_code = -1;
    run.signal = 0;
    run.error.clear();
    run.term_sent = run.timed_out = false;
    // A run reports its last attempt: earlier output was logged already.
    for (OutputCapture& out : run.out) out.Clear();
    run.deadline = TimePoint::max();
    run.not_before = now + delay;
    job.queue.push_front(run.id);
    return;
  }
  Finish(job, run, now);
}

void JobRunner::Finish(Job& job, Run& run, TimePoint now) {
  --job.running;
  run.finished_at = UnixSeconds();
  run.deadline = TimePoint::max();
  job.last_result = StateName(run.state);
  job.last_finished = run.finished_at;
  const double seconds =
      run.started_at > 0 ? run.finished_at - run.started_at : 0;
  if (options_.metrics != nullptr) {
    options_.metrics->CountJobRun(run.job, job.last_result, seconds);
  }
  if (run.state == RunState::kSucceeded) {
    spdlog::debug("job {} run {} succeeded in {:.3f}s", run.job, run.id,
                  seconds);
  } else {
    spdlog::warn("job {} run {} {}{}{}", run.job, run.id, job.last_result,
                 run.exit_code >= 0
                     ? " with exit code " + std::to_string(run.exit_code)
                 : run.signal > 0 ? " by " + SignalName(run.signal)
                                  : "",
                 run.error.empty() ? "" : ": " + run.error.substr(0, 500));
  }
  if (!run.waiters.empty()) {  // the JSON of a big output costs a copy
    CommandReply reply{200, run.Json(), {}};
    for (auto& waiter : run.waiters) waiter.set_value(reply);
    run.waiters.clear();
  }
  run.input.clear();
  run.input.shrink_to_fit();
  active_.erase(run.id);
  for (OutputCapture& out : run.out) out.Shrink();
  if (run.id == startup_run_) {
    if (run.state != RunState::kSucceeded && job.config.required) {
      startup_failure_ = fmt::format(
          "start job {} {}{}: {}", run.job, job.last_result,
          run.exit_code >= 0
              ? " with exit code " + std::to_string(run.exit_code)
              : "",
          run.out[1].kept().empty() ? "(no stderr)"
                                    : run.out[1].kept().substr(0, 2000));
    }
    StartNextStartupJob(now);
  }
  UpdateGauges(job);
  const uint64_t id = run.id;  // `run` may be gone after Apply()
  Apply(history_.Add(id, run.finished_at,
                     run.out[0].kept().size() + run.out[1].kept().size(),
                     UnixSeconds()));
}

void JobRunner::Apply(const RunHistory::Evictions& evictions) {
  for (uint64_t id : evictions.drop_output) {
    if (Run* run = FindRun(id)) {
      for (OutputCapture& out : run->out) {
        const size_t freed = out.Drop();
        freed_since_trim_ += freed;
        run->output_dropped = run->output_dropped || freed > 0;
      }
    }
  }
  for (uint64_t id : evictions.forget) {
    if (Run* run = FindRun(id)) {
      for (OutputCapture& out : run->out) freed_since_trim_ += out.Drop();
      runs_.erase(id);
    }
  }
  if (freed_since_trim_ >= kTrimAfterBytes) {
    // Give the freed pages back to the kernel (glibc keeps them otherwise).
    malloc_trim(0);
    freed_since_trim_ = 0;
  }
}

void JobRunner::EnforceRunDeadline(Run& run, TimePoint now) {
  const Job& job = *jobs_[run.job];
  if (!run.term_sent) {
    if (!run.cancelled) {
      run.timed_out = true;
      spdlog::warn("job {} run {} timed out after {}; SIGTERM to its group",
                   run.job, run.id, FormatDuration(job.config.timeout));
    }
    run.term_sent = true;
    kill(-run.pid, SIGTERM);
    run.deadline = now + job.config.kill_grace;
  } else {
    kill(-run.pid, SIGKILL);
    run.deadline = TimePoint::max();
  }
}

void JobRunner::Tick(TimePoint now) {
  for (uint64_t id : active_) {
    Run& run = *runs_[id];
    if (run.state == RunState::kRunning && now >= run.deadline) {
      EnforceRunDeadline(run, now);
    }
  }
  for (auto& [name, job] : jobs_) {
    if (job->schedule.Due(now)) FireSchedule(*job, now);
  }
  TickPools(now);
  if (accepting_ || !startup_order_.empty()) Dispatch(now);
}

JobRunner::TimePoint JobRunner::NextDeadline() const {
  TimePoint next = TimePoint::max();
  const TimePoint now = Clock::now();
  for (uint64_t id : active_) {
    const Run& run = *runs_.at(id);
    if (run.state == RunState::kRunning) next = std::min(next, run.deadline);
    // A retry's back-off. A run that waits for a free slot or process is
    // woken by that slot's end (an exit, an answer), not by a deadline: a
    // past not_before here would make the loop spin while it waits.
    if (run.state == RunState::kQueued && run.not_before > now) {
      next = std::min(next, run.not_before);
    }
  }
  for (const auto& [name, job] : jobs_) {
    next = std::min(next, job->schedule.next());
  }
  return std::min(next, NextPoolDeadline());
}

void JobRunner::StopSchedules() {
  schedules_started_ = false;
  for (auto& [name, job] : jobs_) job->schedule.Disarm();
}

void JobRunner::BeginShutdown(TimePoint now) {
  accepting_ = false;
  for (auto& [name, job] : jobs_) {
    job->schedule.Disarm();
    while (!job->queue.empty()) {
      Run& run = *runs_[job->queue.front()];
      job->queue.pop_front();
      run.state = RunState::kCancelled;
      ++job->running;  // Finish() balances it
      Finish(*job, run, now);
    }
  }
  // Idle pool processes go now; busy ones when their run ends (Answered).
  for (auto& [pid, process] : pool_procs_) {
    if (process->run == 0 && !process->retiring) {
      RetirePoolProcess(*jobs_[process->job], *process, "shutdown", now);
    }
  }
}

void JobRunner::KillAll() {
  for (const auto& [pid, id] : by_pid_) {
    runs_[id]->cancelled = true;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
  }
  for (auto& [pid, process] : pool_procs_) {
    if (process->run != 0) runs_[process->run]->cancelled = true;
    if (process->stop_reason.empty()) process->stop_reason = "shutdown";
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
  }
}

int JobRunner::running() const {
  int n = 0;
  for (const auto& [name, job] : jobs_) n += job->running;
  return n;
}

JobRunner::Run* JobRunner::FindRun(uint64_t id) {
  auto it = runs_.find(id);
  return it == runs_.end() ? nullptr : it->second.get();
}

void JobRunner::HandleCommand(Command& command, TimePoint now) {
  bool deferred = false;
  CommandReply reply;
  switch (command.kind) {
    case Command::Kind::kRunJob:
      reply = Submit(command, now, &deferred);
      break;
    case Command::Kind::kGetRun:
      if (Run* run = FindRun(command.run_id)) {
        reply = CommandReply{200, run->Json(), {}};
      } else {
        reply = Error(
            404,
            fmt::format("no run {} (finished runs are kept for a while only)",
                        command.run_id));
      }
      break;
    case Command::Kind::kCancelRun:
      reply = Cancel(command.run_id, now);
      break;
    case Command::Kind::kListJobs:
      reply = List();
      break;
    default:
      reply = Error(400, "not a job command");
  }
  if (!deferred) command.reply.set_value(std::move(reply));
}

CommandReply JobRunner::Submit(Command& command, TimePoint now,
                               bool* deferred) {
  auto it = jobs_.find(command.name);
  if (it == jobs_.end())
    return Error(404, "no job named \"" + command.name + "\"");
  Job& job = *it->second;
  auto reject = [&](int status, const std::string& reason,
                    const std::string& message) {
    if (options_.metrics)
      options_.metrics->CountJobRejection(job.config.name, reason);
    return Error(status, message);
  };
  if (!accepting_) return reject(503, "shutting_down", "shutting down");
  if (!job.config.on_demand) {
    return reject(409, "not_on_demand",
                  "job " + job.config.name + " is not on_demand");
  }
  // Refused when it would wait and the queue is full. A run that would wait
  // although fewer than `concurrency` run (a pool in its crash back-off, a
  // retry ahead of it) counts against the queue too.
  const bool starts_now = job.running < job.concurrency && job.queue.empty() &&
                          (!job.pool || PoolCanTake(job, now));
  if (!starts_now &&
      job.queue.size() >= static_cast<size_t>(job.config.queue)) {
    CommandReply reply = reject(
        429, "queue_full",
        fmt::format("job {} has {} runs waiting (queue: {})", job.config.name,
                    job.queue.size(), job.config.queue));
    reply.headers["Retry-After"] = "1";
    return reply;
  }
  Run* run = NewRun(job, "on_demand", std::move(command.body), now);
  run->input_is_json = command.body_is_json;
  const uint64_t id = run->id;
  if (command.wait) {
    run->waiters.push_back(std::move(command.reply));
    *deferred = true;
  }
  Dispatch(now);  // may finish it at once (e.g. cannot start)
  if (*deferred) return {};
  Run* current = FindRun(id);
  CommandReply reply{202, current ? current->Json() : "{}", {}};
  reply.headers["Location"] = fmt::format("/jobs/runs/{}", id);
  return reply;
}

CommandReply JobRunner::Cancel(uint64_t id, TimePoint now) {
  Run* run = FindRun(id);
  if (run == nullptr) return Error(404, fmt::format("no run {}", id));
  Job& job = *jobs_[run->job];
  if (run->state == RunState::kQueued) {
    std::erase(job.queue, id);
    run->state = RunState::kCancelled;
    ++job.running;  // Finish() balances it
    Finish(job, *run, now);
    return CommandReply{200, run->Json(), {}};
  }
  if (run->state != RunState::kRunning) {
    return Error(409,
                 fmt::format("run {} already {}", id, StateName(run->state)));
  }
  run->cancelled = true;
  // SIGTERM now, SIGKILL after the grace; a run already being stopped (a
  // timeout, an earlier cancel) keeps its SIGKILL deadline: repeating DELETE
  // must not postpone it.
  if (!run->term_sent) EnforceRunDeadline(*run, now);
  return CommandReply{202, run->Json(), {}};
}

CommandReply JobRunner::List() const {
  Json jobs = Json::array();
  for (const auto& [name, job] : jobs_) {
    const JobConfig& c = job->config;
    Json triggers = Json::array();
    auto add = [&](const std::string& t) { triggers.push_back(t); };
    if (c.at_start) add("at_start");
    if (c.schedule) {
      add("schedule " + c.schedule->ToString() + " " + c.timezone.name());
    }
    if (c.every.count() > 0) add("every " + FormatDuration(c.every));
    if (c.on_demand) add("on_demand");
    Json entry;
    entry["name"] = name;
    entry["triggers"] = std::move(triggers);
    entry["concurrency"] = job->concurrency;
    entry["queue"] = c.queue;
    entry["running"] = job->running;
    entry["queued"] = job->queue.size();
    entry["last_result"] =
        job->last_result.empty() ? Json() : Json(job->last_result);
    entry["last_finished_at"] = Rfc3339(job->last_finished);
    entry["next_run_at"] = Rfc3339(job->schedule.next_unix());
    entry["pool"] = nullptr;
    if (job->pool) {
      const JobPool& pool = *job->pool;
      int idle = 0, busy = 0, retiring = 0;
      for (pid_t pid : pool.processes) {
        const PoolProcess& p = *pool_procs_.at(pid);
        (p.retiring ? retiring : p.run != 0 ? busy : idle)++;
      }
      const double backoff =
          std::chrono::duration<double>(pool.next_start - Clock::now()).count();
      entry["pool"] = {
          {"size", pool.size},
          {"min", pool.min},
          {"processes", pool.processes.size()},
          {"idle", idle},
          {"busy", busy},
          {"retiring", retiring},
          {"starts", pool.starts},
          {"backoff_seconds",
           JsonNumber(std::round(std::max(backoff, 0.0) * 1000) / 1000)}};
    }
    jobs.push_back(std::move(entry));
  }
  return CommandReply{200, JsonDump(Json{{"jobs", std::move(jobs)}}), {}};
}

}  // namespace corefork
