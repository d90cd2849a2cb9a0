// Job pools (docs/jobs.md, "Pools"): up to `size` long-lived processes of a
// job's command, each taking runs one after another over the line protocol
// of pool_protocol.h. The runs themselves (queue, timeout, retries, history)
// are JobRunner's as for any job; this file owns the processes: starting
// them with a run already written to their stdin, feeding requests without
// blocking, reading answers within a bound, and ending them (max_runs,
// max_rss, idle, protocol breaks, crashes with back-off, shutdown).
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "jobs/job_runner.h"
#include "jobs/job_runner_internal.h"
#include "loop/loop_tags.h"
#include "metrics/proc_stats.h"
#include "os/exit_codes.h"
#include "os/spawn.h"
#include "util/clock.h"
#include "util/format.h"

namespace corefork {
namespace {

using std::chrono::milliseconds;

// After a process crashed or broke the protocol, the next start waits this
// long, doubled per consecutive failure up to kMaxBackoff.
constexpr milliseconds kFirstBackoff{100};
constexpr milliseconds kMaxBackoff{10'000};
// A process that closed its stdout or stdin is usually exiting: its exit,
// with its status, is awaited this long before it counts as a protocol
// break and is killed.
constexpr milliseconds kClosedGrace{200};

milliseconds Backoff(int failures) {
  milliseconds delay = kFirstBackoff * (1 << std::min(failures - 1, 10));
  return std::min(delay, kMaxBackoff);
}

}  // namespace

int JobRunner::LivePoolProcesses(const Job& job) const {
  int live = 0;
  for (pid_t pid : job.pool->processes) {
    if (!pool_procs_.at(pid)->retiring) ++live;
  }
  return live;
}

bool JobRunner::PoolCanTake(const Job& job, TimePoint now) const {
  for (pid_t pid : job.pool->processes) {
    if (pool_procs_.at(pid)->Idle()) return true;
  }
  // Retiring processes are not counted in size, but at most size of them
  // at once: ones that ignore their SIGTERM for kill_grace must not pile up.
  const int all = static_cast<int>(job.pool->processes.size());
  return LivePoolProcesses(job) < job.pool->size && all < 2 * job.pool->size &&
         now >= job.pool->next_start;
}

void JobRunner::StartPoolRun(Job& job, Run& run, TimePoint now) {
  job.pool->started = true;
  // The most recently idle process: the others stay idle long enough for
  // idle_timeout to stop them when the load falls.
  PoolProcess* chosen = nullptr;
  for (pid_t pid : job.pool->processes) {
    PoolProcess& p = *pool_procs_.at(pid);
    if (!p.Idle()) continue;
    if (chosen == nullptr || p.idle_since > chosen->idle_since) chosen = &p;
  }
  if (chosen == nullptr) {
    if (!job.resolve_error.empty()) {
      int code =
          job.resolve_errno ? ExitCodeForExecError(job.resolve_errno) : 126;
      return FailToStart(job, run, code, job.resolve_error, now);
    }
    std::string why;
    int code = 126;
    chosen = StartPoolProcess(job, now, &why, &code);
    if (chosen == nullptr) return FailToStart(job, run, code, why, now);
  }
  Send(job, *chosen, run);
}

JobRunner::PoolProcess* JobRunner::StartPoolProcess(Job& job, TimePoint now,
                                                    std::string* why,
                                                    int* exit_code) {
  JobPool& pool = *job.pool;
  // stdin, stdout, stderr: the child's ends and ours.
  Fd child_ends[3];
  Fd our_ends[3];
  for (int i = 0; i < 3; ++i) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      *why = PosixError("pipe").message();
      spdlog::error("job {}: cannot start a pool process: {}", job.config.name,
                    *why);
      return nullptr;
    }
    // stdin: the child reads fds[0]; stdout and stderr: it writes fds[1].
    child_ends[i].Reset(i == 0 ? fds[0] : fds[1]);
    our_ends[i].Reset(i == 0 ? fds[1] : fds[0]);
    fcntl(our_ends[i].get(), F_SETFL, O_NONBLOCK);
  }
  SpawnOptions options = JobSpawnOptions(
      job, "COREFORK_POOL_SIZE=" + std::to_string(pool.size),
      child_ends[0].get(), child_ends[1].get(), child_ends[2].get());
  SpawnFailure failure;
  Result<pid_t> pid = Spawn(options, &failure);
  ++pool.starts;
  if (!pid.ok()) {
    *why = pid.status().message();
    *exit_code = ExitCodeForExecError(failure.error);
    spdlog::error("job {}: cannot start a pool process: {}", job.config.name,
                  *why);
    ++pool.failures;
    pool.next_start = now + Backoff(pool.failures);
    return nullptr;
  }
  auto process = std::make_unique<PoolProcess>(pool.config.max_answer);
  PoolProcess& p = *process;
  p.pid = *pid;
  p.job = job.config.name;
  p.in = std::move(our_ends[0]);
  p.out = std::move(our_ends[1]);
  p.err = std::move(our_ends[2]);
  p.idle_since = now;
  p.log_budget = LogBudget(LogBudget::Limits{}, now);
  p.idle_err = OutputCapture(
      fmt::format("job {} pool process {} stderr", p.job, p.pid), 0);
  const int streams[2] = {p.out.get(), p.err.get()};
  for (int i = 0; i < 2; ++i) {
    p.serials[i] = next_serial_++;
    pool_pipes_[p.serials[i]] = {p.pid, i};
    Status watched =
        Watch(options_.epoll_fd, streams[i], LoopTag::kJobPipe, p.serials[i]);
    if (!watched.ok()) {
      // Unread, its answers would never arrive: replace it.
      BreakProtocol(p, "cannot read its output: " + watched.message());
    }
  }
  p.serials[2] = next_serial_++;
  pool_procs_[p.pid] = std::move(process);
  pool.processes.insert(p.pid);
  spdlog::info("job {}: pool process {} started ({} of {})", job.config.name,
               p.pid, LivePoolProcesses(job), pool.size);
  UpdatePoolGauges(job);
  return &p;
}

void JobRunner::Send(Job& job, PoolProcess& process, Run& run) {
  process.run = run.id;
  run.Start(process.pid, job.config.timeout);
  ++job.running;
  process.pending = EncodeRequest(run.id, run.input, run.input_is_json);
  process.pending_from = 0;
  WritePending(process);
  UpdatePoolGauges(job);
}

void JobRunner::WritePending(PoolProcess& process) {
  while (process.in.valid() && process.pending_from < process.pending.size()) {
    const ssize_t n =
        write(process.in.get(), process.pending.data() + process.pending_from,
              process.pending.size() - process.pending_from);
    if (n > 0) {
      process.pending_from += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      // The pipe is full: the rest goes when the process has read some.
      if (!process.in_watched) {
        Status watched =
            Watch(options_.epoll_fd, process.in.get(), LoopTag::kJobPipeOut,
                  process.serials[2], EPOLLOUT);
        if (!watched.ok()) {
          return BreakProtocol(
              process, "cannot write its request: " + watched.message());
        }
        process.in_watched = true;
        pool_pipes_[process.serials[2]] = {process.pid, 2};
      }
      return;
    }
    // EPIPE: it closed its stdin (or is exiting), so it can take no
    // request again.
    return Closed(process, "closed its stdin", Clock::now());
  }
  if (process.in_watched) {
    epoll_ctl(options_.epoll_fd, EPOLL_CTL_DEL, process.in.get(), nullptr);
    process.in_watched = false;
    pool_pipes_.erase(process.serials[2]);
  }
  process.pending.clear();
  process.pending.shrink_to_fit();
  process.pending_from = 0;
}

void JobRunner::OnPipeWritable(uint64_t serial) {
  auto it = pool_pipes_.find(serial);
  if (it == pool_pipes_.end()) return;
  WritePending(*pool_procs_.at(it->second.first));
}

void JobRunner::ReadAnswers(PoolProcess& process, size_t max_bytes,
                            TimePoint now) {
  if (!process.out.valid()) return;
  char buffer[16 * 1024];
  std::vector<PoolAnswer> answers;
  size_t total = 0;
  bool eof = false;
  Status fed;
  while (total < max_bytes && fed.ok()) {
    const ssize_t n = read(process.out.get(), buffer,
                           std::min(sizeof buffer, max_bytes - total));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;  // EAGAIN: all read for now
    if (n == 0) {
      eof = true;
      break;
    }
    total += static_cast<size_t>(n);
    fed = process.reader.Feed(std::string_view(buffer, n), &answers);
  }
  Job& job = *jobs_[process.job];
  for (const PoolAnswer& answer : answers) {
    if (!process.broken.empty()) break;
    if (process.run == 0 || answer.id != process.run) {
      BreakProtocol(
          process,
          process.run == 0
              ? fmt::format("answered id {} with no request pending", answer.id)
              : fmt::format("answered id {}, expected {}", answer.id,
                            process.run));
      break;
    }
    // The rest of its request would be read as the next one's start.
    const bool unread = process.pending_from < process.pending.size();
    Answered(job, process, answer, now);
    if (unread) {
      BreakProtocol(process, "answered before reading all of its request");
    }
  }
  if (!fed.ok()) return BreakProtocol(process, fed.message());
  if (eof) Closed(process, "closed its stdout", now);
}

void JobRunner::Closed(PoolProcess& process, const std::string& what,
                       TimePoint now) {
  if (what == "closed its stdout") {
    // Nothing more to read. Its stdin stays open: told "end of input", it
    // would exit 0 and look like a crash rather than the break it is.
    if (process.out.valid()) {
      pool_pipes_.erase(process.serials[0]);
      process.out.Reset();
    }
  } else if (process.in.valid()) {  // EPIPE: nothing more can be written
    pool_pipes_.erase(process.serials[2]);
    process.in_watched = false;
    process.in.Reset();
  }
  if (!process.closed.empty() || !process.broken.empty()) return;
  process.closed = what;
  // It takes no run again. Its exit usually follows at once (a crash, or the
  // SIGTERM of a timeout or cancel); if not, TickPools breaks the protocol.
  if (!process.retiring || process.stop_reason.empty()) {
    process.retiring = true;
    process.kill_at = std::min(process.kill_at, now + kClosedGrace);
    UpdatePoolGauges(*jobs_[process.job]);
  }
}

void JobRunner::ReadPoolStderr(PoolProcess& process, size_t max_bytes,
                               TimePoint now) {
  if (!process.err.valid()) return;
  Run* run = process.run != 0 ? FindRun(process.run) : nullptr;
  const bool open =
      run != nullptr
          ? run->out[1].Read(process.err.get(), max_bytes, run->log_budget, now)
          : process.idle_err.Read(process.err.get(), max_bytes,
                                  process.log_budget, now);
  if (!open) {
    pool_pipes_.erase(process.serials[1]);
    process.err.Reset();
  }
}

void JobRunner::Answered(Job& job, PoolProcess& process,
                         const PoolAnswer& answer, TimePoint now) {
  Run& run = *runs_.at(process.run);
  // What it wrote to stderr for this run belongs to the run's record.
  ReadPoolStderr(process, kReadPerTurn, now);
  process.run = 0;
  ++process.runs;
  process.idle_since = now;
  job.pool->failures = 0;
  job.pool->next_start = TimePoint{};
  run.out[0].set_output(answer.output);
  for (OutputCapture& out : run.out) out.EndAttempt(run.log_budget, now);
  if (answer.error) {
    run.error = answer.error->empty() ? "(empty error)" : *answer.error;
    run.state = RunState::kFailed;
  } else {
    run.state = run.cancelled   ? RunState::kCancelled
                : run.timed_out ? RunState::kTimedOut
                                : RunState::kSucceeded;
  }
  // An answer after a SIGTERM (timeout or cancel) still ends the run, but
  // the process has been told to go: it is retired below.
  const char* signalled = !run.term_sent  ? nullptr
                          : run.cancelled ? "cancelled"
                                          : "timeout";
  // `run` may be gone after this (the history forgets old runs).
  EndAttempt(job, run, run.error.empty() ? "answered" : run.error, now);

  std::string reason;
  if (signalled != nullptr) {
    reason = signalled;
  } else if (!accepting_) {
    reason = "shutdown";
  } else if (job.pool->config.max_runs > 0 &&
             process.runs >= job.pool->config.max_runs) {
    reason = "max_runs";
  } else if (job.pool->config.max_rss) {
    std::optional<TreeRss> rss = ReadTreeRss(process.pid);
    if (rss && rss->bytes > *job.pool->config.max_rss) {
      spdlog::info("job {}: pool process {} uses {} (max_rss {})",
                   job.config.name, process.pid, FormatMiB(rss->bytes),
                   FormatMiB(*job.pool->config.max_rss));
      reason = "memory";
    }
  }
  if (!reason.empty()) RetirePoolProcess(job, process, reason, now);
  UpdatePoolGauges(job);
}

void JobRunner::BreakProtocol(PoolProcess& process, const std::string& why) {
  if (!process.broken.empty()) return;
  spdlog::error("job {}: pool process {} broke the protocol: {}; killing it",
                process.job, process.pid, why);
  process.broken = why;
  process.retiring = true;  // takes no run again; not counted in size
  if (process.stop_reason.empty()) process.stop_reason = "protocol";
  // Nothing more is read from it or written to it: its exit ends the run
  // it held.
  if (process.out.valid()) {
    pool_pipes_.erase(process.serials[0]);
    process.out.Reset();
  }
  pool_pipes_.erase(process.serials[2]);
  process.in_watched = false;
  process.in.Reset();
  kill(-process.pid, SIGKILL);
  kill(process.pid, SIGKILL);
}

void JobRunner::RetirePoolProcess(Job& job, PoolProcess& process,
                                  const std::string& reason, TimePoint now) {
  if (process.retiring) return;
  spdlog::info("job {}: retiring pool process {} ({}, after {} run(s))",
               job.config.name, process.pid, reason, process.runs);
  process.retiring = true;
  if (process.stop_reason.empty()) process.stop_reason = reason;
  // End of file on stdin: a worker that reads lines to the end exits by
  // itself; SIGTERM for one that does not, SIGKILL after the grace.
  if (process.in_watched) pool_pipes_.erase(process.serials[2]);
  process.in_watched = false;
  process.in.Reset();
  kill(-process.pid, SIGTERM);
  process.kill_at = now + job.config.kill_grace;
  UpdatePoolGauges(job);
}

void JobRunner::OnPoolExit(PoolProcess& process, int status, TimePoint now) {
  const pid_t pid = process.pid;
  Job& job = *jobs_[process.job];
  // An answer written just before it exited still counts.
  ReadAnswers(process, kReadAtExit, now);
  kill(-pid, SIGKILL);  // its leftover children are not part of the pool
  ReadPoolStderr(process, kReadAtExit, now);
  process.idle_err.EndAttempt(process.log_budget, now);
  std::string reason = process.stop_reason;
  if (process.run != 0) {
    Run& run = *runs_.at(process.run);
    if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) run.signal = WTERMSIG(status);
    for (OutputCapture& out : run.out) out.EndAttempt(run.log_budget, now);
    if (run.cancelled) {
      run.state = RunState::kCancelled;
      if (reason.empty()) reason = "cancelled";
    } else if (run.timed_out) {
      run.state = RunState::kTimedOut;
      if (reason.empty()) reason = "timeout";
    } else {
      run.state = RunState::kFailed;
      run.error = !process.broken.empty()
                      ? process.broken
                      : "pool process exited during the run (" +
                            DescribeWaitStatus(status) + ")";
    }
    process.run = 0;
    EndAttempt(job, run, DescribeWaitStatus(status), now);
  }
  if (reason.empty()) reason = "crashed";
  if (reason == "crashed" || reason == "protocol") {
    ++job.pool->failures;
    job.pool->next_start = now + Backoff(job.pool->failures);
    spdlog::warn("job {}: pool process {} ended ({}, {}); next start in {}",
                 job.config.name, pid, reason, DescribeWaitStatus(status),
                 FormatDuration(Backoff(job.pool->failures)));
  } else {
    spdlog::info("job {}: pool process {} ended ({})", job.config.name, pid,
                 reason);
  }
  if (options_.metrics != nullptr) {
    options_.metrics->CountJobPoolExit(job.config.name, reason);
  }
  for (uint64_t serial : process.serials) pool_pipes_.erase(serial);
  job.pool->processes.erase(pid);
  pool_procs_.erase(pid);  // closes its pipes, which leaves the epoll set
  UpdatePoolGauges(job);
}

void JobRunner::TickPools(TimePoint now) {
  for (auto& [pid, process] : pool_procs_) {
    if (process->retiring && now >= process->kill_at) {
      process->kill_at = TimePoint::max();
      if (!process->closed.empty() && process->stop_reason.empty()) {
        BreakProtocol(*process, process->closed);
        continue;
      }
      spdlog::warn("job {}: pool process {} still running; SIGKILL",
                   process->job, pid);
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
    }
  }
  for (auto& [name, job] : jobs_) {
    if (!job->pool) continue;
    JobPool& pool = *job->pool;
    int live = LivePoolProcesses(*job);
    const Duration idle_timeout = pool.config.idle_timeout;
    if (idle_timeout.count() > 0) {
      for (pid_t pid :
           std::vector<pid_t>(pool.processes.begin(), pool.processes.end())) {
        PoolProcess& p = *pool_procs_.at(pid);
        if (live <= pool.min) break;
        if (!p.retiring && p.run == 0 && now - p.idle_since >= idle_timeout) {
          RetirePoolProcess(*job, p, "idle", now);
          --live;
        }
      }
    }
    // Keep min running (replacing one that died), once the pool is in use.
    while (accepting_ && pool.started && live < pool.min &&
           now >= pool.next_start) {
      std::string why;
      int code = 0;
      if (!job->resolve_error.empty() ||
          StartPoolProcess(*job, now, &why, &code) == nullptr) {
        break;
      }
      ++live;
    }
  }
}

JobRunner::TimePoint JobRunner::NextPoolDeadline() const {
  TimePoint next = TimePoint::max();
  for (const auto& [pid, process] : pool_procs_) {
    if (process->retiring) next = std::min(next, process->kill_at);
  }
  for (const auto& [name, job] : jobs_) {
    if (!job->pool) continue;
    const JobPool& pool = *job->pool;
    const int live = LivePoolProcesses(*job);
    if (pool.config.idle_timeout.count() > 0 && live > pool.min) {
      for (pid_t pid : pool.processes) {
        const PoolProcess& p = *pool_procs_.at(pid);
        if (!p.retiring && p.run == 0) {
          next = std::min(next, p.idle_since + pool.config.idle_timeout);
        }
      }
    }
    // A start waits for the back-off: wake when it is over, if anything
    // (a queued run, or min) needs one.
    const bool wants_start = (!job->queue.empty() && live < pool.size) ||
                             (accepting_ && pool.started && live < pool.min);
    if (wants_start && job->resolve_error.empty()) {
      next = std::min(next, pool.next_start);
    }
  }
  return next;
}

void JobRunner::StartWarmPools(TimePoint now) {
  for (auto& [name, job] : jobs_) {
    if (!job->pool || !job->pool->config.warm) continue;
    job->pool->started = true;
    spdlog::info("job {}: starting {} warm pool process(es)", name,
                 job->pool->min);
  }
  TickPools(now);
}

void JobRunner::UpdatePoolGauges(const Job& job) {
  if (options_.metrics == nullptr || !job.pool) return;
  int idle = 0, busy = 0, retiring = 0;
  for (pid_t pid : job.pool->processes) {
    const PoolProcess& p = *pool_procs_.at(pid);
    (p.retiring ? retiring : p.run != 0 ? busy : idle)++;
  }
  options_.metrics->SetJobPoolProcesses(job.config.name, idle, busy, retiring);
}

std::string JobRunner::NotReadyReason() const {
  for (const auto& [name, job] : jobs_) {
    if (!job->pool || !job->pool->config.readiness) continue;
    if (LivePoolProcesses(*job) == 0) {
      return "job " + name + ": no pool process running";
    }
  }
  return "";
}

}  // namespace corefork
