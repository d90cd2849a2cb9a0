#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "loop/loop_tags.h"
#include "os/signals.h"
#include "os/spawn.h"
#include "util/clock.h"
#include "util/format.h"

extern char** environ;

namespace corefork {
namespace {

using std::chrono::milliseconds;

// After SIGKILL, how long to wait for the kernel to finish the kill before
// corefork exits anyway (a process stuck in uninterruptible sleep).
constexpr milliseconds kKillGrace{5'000};

// Variables corefork sets for workers; inherited values are dropped.
constexpr const char* kContractVars[] = {"LISTEN_FDS",
                                         "LISTEN_PID",
                                         "LISTEN_FDNAMES",
                                         "NOTIFY_SOCKET",
                                         "PORT",
                                         "COREFORK_WORKER_ID",
                                         "COREFORK_WORKERS",
                                         "COREFORK_NOTIFY_FD",
                                         "COREFORK_CONTROL_SOCKET",
                                         "WATCHDOG_USEC",
                                         "WATCHDOG_PID",
                                         "COREFORK_SHIM_PORTS",
                                         "NODE_CHANNEL_FD",
                                         "NODE_CHANNEL_SERIALIZATION_MODE"};

bool IsContractVar(const std::string& key) {
  return std::any_of(std::begin(kContractVars), std::end(kContractVars),
                     [&](const char* name) { return key == name; });
}

}  // namespace

Supervisor::Supervisor(const Config& config, SupervisorContext context)
    : config_(config),
      context_(std::move(context)),
      desired_(context_.sizing.workers),
      dev_null_(open("/dev/null", O_RDONLY | O_CLOEXEC)) {
  for (int id = 0; id < desired_; ++id) slots_.emplace_back(id, config.restart);
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    std::string key = entry.substr(0, entry.find('='));
    if (!IsContractVar(key) && config_.env.count(key) == 0) {
      base_env_.push_back(std::move(entry));
    }
  }
  for (const auto& [key, value] : config_.env) {
    base_env_.push_back(key + "=" + value);
  }
}

Status Supervisor::SetUpLoop() {
  if (!dev_null_.valid()) return PosixError("open /dev/null (workers' stdin)");
  epoll_.Reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) return PosixError("epoll_create1");
  Result<Fd> signal_fd = OpenSignalFd();
  if (!signal_fd.ok()) return signal_fd.status();
  signal_fd_ = std::move(signal_fd).value();
  Status s = Watch(epoll_.get(), signal_fd_.get(), LoopTag::kSignal);
  if (s.ok() && context_.commands != nullptr) {
    s = Watch(epoll_.get(), context_.commands->fd(), LoopTag::kCommands);
  }
  if (s.ok() && !context_.notify_socket_path.empty()) {
    Result<NotifySocket> notify =
        NotifySocket::Bind(context_.notify_socket_path);
    if (!notify.ok()) return notify.status();
    notify_socket_.emplace(std::move(notify).value());
    s = Watch(epoll_.get(), notify_socket_->fd(), LoopTag::kNotifySocket);
  }
  JobRunner::Options jobs;
  jobs.jobs = config_.jobs;
  jobs.history = config_.job_history;
  jobs.default_concurrency = context_.job_concurrency;
  jobs.base_env = base_env_;
  jobs.epoll_fd = epoll_.get();
  jobs.metrics = context_.metrics;
  jobs_ = std::make_unique<JobRunner>(std::move(jobs));
  if (config_.log.workers != WorkerLogMode::kRaw) {
    WorkerOutput::Options output;
    output.mode = config_.log.workers;
    output.epoll_fd = epoll_.get();
    output.metrics = context_.metrics;
    worker_output_ = std::make_unique<WorkerOutput>(output);
  }
  return s;
}

ExitCode Supervisor::Run() {
  Status s = SetUpLoop();
  if (!s.ok()) {
    spdlog::critical("event loop setup failed: {}", s.message());
    return ExitCode::kStartup;
  }
  started_unix_seconds_ = UnixSeconds();
  now_ = Clock::now();
  jobs_->BeginStartup(now_);
  SetUpSteering();
  SetUpRecycling();
  Reconcile();
  PublishState();
  while (!Finished()) {
    WaitForEvents();
    HandleSignals();
    HandleCommands();
    ReapChildren();
    EnforceDeadlines();
    Reconcile();
    UpdateSteering();
    RetireLeavingWorkers();
    StartProbes();
    PublishState();
  }
  // A worker's own children (its process group) must not outlive corefork.
  for (pid_t group : groups_) kill(-group, SIGKILL);
  if (getpid() == 1) EndEveryProcess();
  // The workers' last lines (and unterminated ones) before corefork exits.
  if (worker_output_) worker_output_->DrainAll();
  return exit_code_;
}

// As PID 1, whatever is left in the namespace (daemons that setsid'd away
// from a worker or job) would be SIGKILLed by the kernel the moment we exit.
// Give them SIGTERM and a short, bounded chance first, as tini does.
void Supervisor::EndEveryProcess() {
  constexpr milliseconds kGrace{2'000};
  if (kill(-1, SIGTERM) != 0) return;  // ESRCH: nobody else is left
  spdlog::info("sent SIGTERM to every remaining process; SIGKILL in {}",
               FormatDuration(kGrace));
  const TimePoint until = Clock::now() + kGrace;
  for (;;) {
    pid_t reaped;
    while ((reaped = waitpid(-1, nullptr, WNOHANG)) > 0) {
    }
    if (reaped < 0 || Clock::now() >= until) break;  // ECHILD: all gone
    auto left = std::chrono::ceil<milliseconds>(until - Clock::now());
    pollfd wait_for_sigchld = {signal_fd_.get(), POLLIN, 0};
    poll(&wait_for_sigchld, 1, static_cast<int>(left.count()));
    signalfd_siginfo info;
    while (read(signal_fd_.get(), &info, sizeof info) == sizeof info) {
    }
  }
  kill(-1, SIGKILL);
}

void Supervisor::WaitForEvents() {
  int timeout_ms = -1;
  TimePoint deadline = NextDeadline();
  if (deadline != TimePoint::max()) {
    auto wait = std::chrono::ceil<milliseconds>(deadline - Clock::now());
    timeout_ms =
        static_cast<int>(std::clamp<int64_t>(wait.count(), 0, 1 << 30));
  }
  epoll_event events[32];
  int n = epoll_wait(epoll_.get(), events, 32, timeout_ms);
  now_ = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto [tag, serial] = SplitTag(events[i].data.u64);
    // Signals, commands and exits are drained every turn anyway; only the
    // notify channels need dispatching here.
    if (tag == LoopTag::kNotifySocket) ReadNotifySocket();
    if (tag == LoopTag::kNotifyPipe) ReadNotifyPipe(serial);
    if (tag == LoopTag::kJobPipe) jobs_->OnPipeReadable(serial);
    if (tag == LoopTag::kJobPipeOut) jobs_->OnPipeWritable(serial);
    if (tag == LoopTag::kNodeIpc) ReadIpc(serial);
    if (tag == LoopTag::kProbe) OnProbeEvent(serial);
    if (tag == LoopTag::kWorkerOutput) worker_output_->OnReadable(serial);
  }
  // Reading took time: deadlines are judged against the time after it.
  now_ = Clock::now();
}

Supervisor::TimePoint Supervisor::NextDeadline() const {
  TimePoint next = TimePoint::max();
  if (phase_ == Phase::kDraining) next = drain_until_;
  if (phase_ == Phase::kStopping) {
    next = killed_ ? final_deadline_ : stop_deadline_;
  }
  for (const auto& [pid, worker] : workers_) {
    next = std::min(next, worker.deadline);
    if (worker.probe) next = std::min(next, worker.probe_deadline);
    if (ProbesOn() && worker.state == WorkerState::kReady && !worker.probe &&
        worker.next_probe != TimePoint{}) {
      next = std::min(next, worker.next_probe);
    }
    // A worker above desired_ waits for its slot's queue to empty.
    if (worker.slot >= desired_ && !worker.retiring) {
      next = std::min(next, now_ + std::chrono::milliseconds(20));
    }
  }
  next = std::min(next, jobs_->NextDeadline());
  if (Following()) next = std::min(next, follow_at_);
  next = std::min(next, NextRecycleDeadline());
  if (phase_ != Phase::kStopping) {
    for (int id = 0; id < desired_; ++id) {
      if (!HasPrimaryWorker(id)) {
        next = std::min(next, slots_[id].restart_at);
      }
    }
  }
  return next;
}

void Supervisor::HandleSignals() {
  signalfd_siginfo info;
  while (read(signal_fd_.get(), &info, sizeof info) == sizeof info) {
    OnSignal(static_cast<int>(info.ssi_signo));
  }
}

void Supervisor::OnSignal(int signo) {
  const bool stopping = phase_ == Phase::kStopping;
  switch (signo) {
    case SIGCHLD:
      break;  // ReapChildren runs every turn
    case SIGTERM:
    case SIGINT:
      if (phase_ == Phase::kRunning && !ever_started_) {
        // Still in the at-start jobs: no worker serves, nothing to drain,
        // and none may start now.
        spdlog::info("{} before any worker started: stopping",
                     SignalName(signo));
        BeginStop();
      } else if (phase_ == Phase::kRunning) {
        spdlog::info("{}: graceful shutdown, draining for {}",
                     SignalName(signo),
                     FormatDuration(config_.shutdown.drain_delay));
        BeginDrain();
      } else if (phase_ == Phase::kDraining) {
        spdlog::info("{} again: skipping the rest of the drain delay",
                     SignalName(signo));
        drain_until_ = now_;
      }
      break;
    case SIGQUIT:
      spdlog::warn("SIGQUIT: fast shutdown, killing every worker now");
      FastShutdown();
      break;
    case SIGHUP:
      if (!stopping) {
        CommandReply reply = StartReload();
        if (reply.http_status >= 300) spdlog::warn("SIGHUP: {}", reply.body);
      }
      break;
    case SIGTTIN:
    case SIGTTOU:
      if (!stopping) {
        CommandReply reply = Scale(desired_ + (signo == SIGTTIN ? 1 : -1));
        if (reply.http_status >= 300) {
          spdlog::warn("{}: {}", SignalName(signo), reply.body);
        }
      }
      break;
    case SIGUSR1:
    case SIGUSR2:
    case SIGWINCH:
      spdlog::info("{}: forwarding to every worker", SignalName(signo));
      SignalWorkers(signo);
      break;
    default:
      spdlog::info("{}: ignored", SignalName(signo));
  }
}

void Supervisor::ReapChildren() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;  // 0: nothing more has exited; -1: no children
    if (workers_.count(pid) != 0) {
      OnWorkerExit(pid, status);
    } else if (jobs_->OwnsPid(pid)) {
      jobs_->OnExit(pid, status, now_);
    } else {
      spdlog::debug("reaped orphan pid {} ({})", pid,
                    DescribeWaitStatus(status));
    }
  }
}

void Supervisor::OnWorkerExit(pid_t pid, int status) {
  auto node = workers_.extract(pid);
  Worker& worker = node.mapped();
  Slot& slot = slots_[worker.slot];
  slot.last_exit = DescribeWaitStatus(status);
  if (kill(-pid, 0) != 0) std::erase(groups_, pid);  // its group is empty
  if (context_.metrics != nullptr) context_.metrics->CountExit(status);
  if (worker_output_) worker_output_->OnWorkerExit(worker.serial);
  const std::string who =
      fmt::format("worker {} (pid {})", worker.slot, worker.pid);

  if (phase_ == Phase::kStopping) {
    bool clean = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                 (WIFSIGNALED(status) && !killed_ &&
                  WTERMSIG(status) == config_.shutdown.stop_signal);
    spdlog::info("{} {}", who, slot.last_exit);
    if (!clean) FailWith(ExitCode::kWorkerFailed);
    return;
  }
  if (worker.retiring) {
    spdlog::info("{} {}", who, slot.last_exit);
    if (reload_.active && reload_.old_pid == pid) {
      ++reload_.slot;
      ReloadStep();
    }
    CloseUnusedSlots();
    return;
  }
  if (worker.successor) {
    AbortReplacement(
        fmt::format("new {} {} before it was ready", who, slot.last_exit));
    return;
  }
  OnUnexpectedExit(worker, status);
}

void Supervisor::OnUnexpectedExit(const Worker& worker, int status) {
  Slot& slot = slots_[worker.slot];
  if (!worker.fail_reason.empty()) slot.restart_reason = worker.fail_reason;
  Worker* successor = nullptr;
  for (auto& [pid, w] : workers_) {
    if (w.slot == worker.slot && w.successor) successor = &w;
  }
  auto uptime =
      std::chrono::duration_cast<milliseconds>(now_ - worker.started_at);
  std::string what =
      fmt::format("worker {} (pid {}) {} after {}", worker.slot, worker.pid,
                  DescribeWaitStatus(status), FormatDuration(uptime));
  if (successor != nullptr) {
    // Mid-reload: the replacement takes over the slot as soon as it is ready.
    spdlog::warn("{}; its replacement (pid {}) takes over", what,
                 successor->pid);
    successor->successor = false;
    if (successor->state == WorkerState::kReady) OnSuccessorReady(*successor);
    return;
  }
  milliseconds ready_for(0);
  if (worker.ready_at) {
    ready_for =
        std::chrono::duration_cast<milliseconds>(now_ - *worker.ready_at);
  }
  ScheduleRestart(slot, ready_for, CauseOf(worker, status), what);
}

RestartBackoff::Cause Supervisor::CauseOf(const Worker& worker, int status) {
  if (!worker.fail_reason.empty() || worker.aborted || !WIFSIGNALED(status)) {
    return RestartBackoff::Cause::kApp;
  }
  switch (WTERMSIG(status)) {
    case SIGKILL:
    case SIGTERM:
    case SIGINT:
    case SIGHUP:
      return RestartBackoff::Cause::kOutside;
    default:  // SIGSEGV, SIGABRT, SIGBUS, ...: the app crashed
      return RestartBackoff::Cause::kApp;
  }
}

void Supervisor::ScheduleRestart(Slot& slot, milliseconds ready_for,
                                 RestartBackoff::Cause cause,
                                 const std::string& what) {
  std::optional<Duration> delay = slot.backoff.OnExit(ready_for, cause);
  if (!delay) {
    spdlog::error("{}; slot {} failed {} times in a row, giving up{}", what,
                  slot.id, slot.backoff.consecutive_failures(),
                  CrashLoopHint());
    FailWith(ExitCode::kCrashLoop);
    BeginStop();
    return;
  }
  if (delay->count() == 0) {
    spdlog::warn("{}; restarting now", what);
  } else {
    spdlog::warn(
        "{}; restarting in {} ({} restarts in a row, {} of them "
        "failures of the app)",
        what, FormatDuration(*delay), slot.backoff.streak(),
        slot.backoff.consecutive_failures());
  }
  slot.restart_at = now_ + *delay;
}

void Supervisor::EnforceDeadlines() {
  if (phase_ == Phase::kDraining && now_ >= drain_until_) BeginStop();
  if (phase_ == Phase::kStopping && !killed_ && now_ >= stop_deadline_) {
    spdlog::warn("shutdown timeout ({}) passed",
                 FormatDuration(config_.shutdown.timeout));
    KillRemaining();
  }
  for (auto& [pid, worker] : workers_) {
    if (now_ >= worker.deadline) EnforceWorkerDeadline(worker);
  }
  EnforceProbeDeadlines();
  if (Following() && now_ >= follow_at_) FollowLimits();
  RecycleWorkers();
  jobs_->Tick(now_);
}

void Supervisor::EnforceWorkerDeadline(Worker& worker) {
  worker.deadline = TimePoint::max();
  switch (worker.state) {
    case WorkerState::kStarting:
      spdlog::warn("worker {} (pid {}) not ready within {}", worker.slot,
                   worker.pid, FormatDuration(config_.ready.timeout));
      if (worker.successor) {
        AbortReplacement("the new worker did not become ready in time");
      } else {
        KillWorker(worker, "ready_timeout");
      }
      break;
    case WorkerState::kReady:
      // The gunicorn hung-worker check, without heartbeat files: SIGABRT
      // first so the app can dump its stack, SIGKILL after the grace.
      spdlog::warn("worker {} (pid {}) sent no WATCHDOG=1 for {}; SIGABRT",
                   worker.slot, worker.pid,
                   FormatDuration(config_.watchdog.timeout));
      worker.fail_reason = "watchdog";
      worker.aborted = true;
      worker.state = WorkerState::kStopping;
      kill(worker.pid, SIGABRT);
      worker.deadline = now_ + config_.watchdog.grace;
      break;
    case WorkerState::kStopping:
      if (phase_ != Phase::kStopping) {
        spdlog::warn("worker {} (pid {}) still running; SIGKILL", worker.slot,
                     worker.pid);
        kill(-worker.pid, SIGKILL);
        kill(worker.pid, SIGKILL);
      }
      break;
  }
}

// Workers start only once the at-start jobs are done; a required one that
// failed stops corefork instead.
bool Supervisor::StartJobsDone() {
  if (!jobs_->startup_failure().empty()) {
    spdlog::critical("{}", jobs_->startup_failure());
    FailWith(ExitCode::kStartJobFailed);
    BeginStop();
    return false;
  }
  if (jobs_->StartupPending()) return false;
  if (!schedules_started_) {
    schedules_started_ = true;
    jobs_->StartSchedules(now_);
  }
  return true;
}

void Supervisor::Reconcile() {
  if (phase_ == Phase::kStopping || !StartJobsDone()) return;
  for (int id = 0; id < desired_; ++id) {
    Slot& slot = slots_[id];
    if (PrimaryWorker(id) == nullptr && now_ >= slot.restart_at) {
      StartWorker(slot, /*successor=*/false);
    }
    if (phase_ == Phase::kStopping) return;  // the start failed for good
  }
}

std::vector<std::string> Supervisor::WorkerEnvironment(const Slot& slot) const {
  std::vector<std::string> env = base_env_;
  const ListenerSet& listeners = *context_.listeners;
  const size_t listener_count = listeners.configs().size();
  env.push_back("COREFORK_WORKER_ID=" + std::to_string(slot.id));
  env.push_back("COREFORK_WORKERS=" + std::to_string(desired_));
  env.push_back("PORT=" + std::to_string(listeners.FirstPort()));
  env.push_back("LISTEN_FDS=" + std::to_string(listener_count));
  env.push_back("LISTEN_FDNAMES=" + listeners.FdNames());
  // The notify pipe's write end follows the listeners: fd 3 + count, then
  // the Node IPC channel.
  env.push_back("COREFORK_NOTIFY_FD=" + std::to_string(3 + listener_count));
  AddCompatEnvironment(&env, static_cast<int>(4 + listener_count));
  if (notify_socket_) env.push_back("NOTIFY_SOCKET=" + notify_socket_->path());
  if (!context_.control_socket_path.empty()) {
    env.push_back("COREFORK_CONTROL_SOCKET=" + context_.control_socket_path);
  }
  if (config_.watchdog.timeout.count() > 0) {
    env.push_back("WATCHDOG_USEC=" +
                  std::to_string(config_.watchdog.timeout.count() * 1000));
  }
  return env;
}

Supervisor::Worker* Supervisor::StartWorker(
    Slot& slot, bool successor, const std::string& replaces_because) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    ScheduleRestart(
        slot, milliseconds(0), RestartBackoff::Cause::kApp,
        PosixError("worker " + std::to_string(slot.id) + ": pipe").message());
    return nullptr;
  }
  Fd notify_read(pipe_fds[0]), notify_write(pipe_fds[1]);
  fcntl(notify_read.get(), F_SETFL, O_NONBLOCK);
  Fd ipc, ipc_child;
  if (context_.compat.node_ipc) {
    Status s = OpenIpc(&ipc, &ipc_child);
    if (!s.ok()) spdlog::warn("worker {}: {}", slot.id, s.message());
  }

  SpawnOptions options;
  options.path = context_.executable;
  options.argv = config_.command;
  options.env = WorkerEnvironment(slot);
  options.pid_env_var = "LISTEN_PID";
  options.pass_fds = context_.listeners->FdsForSlot(slot.id);
  options.pass_fds.push_back(notify_write.get());
  if (ipc_child.valid()) options.pass_fds.push_back(ipc_child.get());
  options.stdin_fd = dev_null_.get();
  // logs.workers tagged/json: stdout and stderr are pipes the loop reads
  // (watched before the spawn, under the serial the worker will get).
  // Without them the worker still runs, on corefork's own fds.
  std::optional<WorkerOutput::Pipes> output;
  if (worker_output_) {
    Result<WorkerOutput::Pipes> pipes = WorkerOutput::OpenPipes();
    Status s = pipes.ok() ? worker_output_->Add(next_serial_, slot.id, &*pipes)
                          : pipes.status();
    if (s.ok()) {
      output.emplace(std::move(pipes).value());
      options.stdout_fd = output->out_write.get();
      options.stderr_fd = output->err_write.get();
    } else {
      spdlog::warn("worker {}: output not tagged: {}", slot.id, s.message());
    }
  }

  SpawnFailure failure;
  Result<pid_t> pid = Spawn(options, &failure);
  if (!pid.ok()) {
    if (output) worker_output_->Remove(next_serial_);
    if (!ever_started_ && failure.step == "execve") {
      // The app cannot run at all: no point in retrying.
      spdlog::critical("cannot run {}", pid.status().message());
      exit_code_ = static_cast<ExitCode>(ExitCodeForExecError(failure.error));
      BeginStop();
    } else if (successor) {
      AbortReload("cannot start the new worker: " + pid.status().message());
    } else {
      ScheduleRestart(slot, milliseconds(0), RestartBackoff::Cause::kApp,
                      "worker " + std::to_string(slot.id) +
                          " failed to start: " + pid.status().message());
    }
    return nullptr;
  }
  if (slot.has_run && !successor) {
    ++slot.restarts;
    if (context_.metrics) context_.metrics->CountRestart(slot.restart_reason);
  }
  slot.has_run = true;
  slot.restart_reason = "crash";
  ever_started_ = true;
  groups_.push_back(*pid);

  Worker& worker = workers_[*pid];
  worker.pid = *pid;
  worker.slot = slot.id;
  worker.serial = next_serial_++;
  worker.started_at = now_;
  worker.successor = successor;
  worker.replaces_because = replaces_because;
  AssignLifetime(worker);
  worker.notify_pipe = std::move(notify_read);
  if (output) worker_output_->SetPid(worker.serial, *pid);
  // Unwatched, the worker can still become ready by its listen report or
  // time out at ready.timeout, which names the cause: log why here.
  if (Status s = Watch(epoll_.get(), worker.notify_pipe.get(),
                       LoopTag::kNotifyPipe, worker.serial);
      !s.ok()) {
    spdlog::error("worker {}: its notify pipe is not read: {}", slot.id,
                  s.message());
  }
  if (ipc.valid()) {
    worker.ipc = std::move(ipc);
    if (Status s = Watch(epoll_.get(), worker.ipc.get(), LoopTag::kNodeIpc,
                         worker.serial);
        !s.ok()) {
      spdlog::error("worker {}: its IPC channel is not read: {}", slot.id,
                    s.message());
    }
  }
  spdlog::info("worker {} started (pid {}){}", slot.id, *pid,
               successor ? " to replace the current one" : "");
  if (config_.ready.mode == ReadyMode::kNone) {
    MarkReady(worker);
  } else {
    worker.deadline = now_ + config_.ready.timeout;
  }
  return &worker;
}

void Supervisor::BeginDrain() {
  phase_ = Phase::kDraining;
  jobs_->StopSchedules();
  drain_until_ = now_ + config_.shutdown.drain_delay;
}

void Supervisor::BeginStop() {
  if (phase_ == Phase::kStopping) return;
  phase_ = Phase::kStopping;
  if (reload_.active) reload_.active = false;
  context_.listeners->CloseAll();
  jobs_->BeginShutdown(now_);
  if (jobs_->running() > 0) {
    spdlog::info("waiting for {} job run(s) to finish", jobs_->running());
  }
  stop_deadline_ = now_ + config_.shutdown.timeout;
  if (!workers_.empty()) {
    spdlog::info("sending {} to {} worker(s); SIGKILL in {}",
                 config_.shutdown.message
                     ? "'shutdown' (or " +
                           SignalName(config_.shutdown.stop_signal) +
                           " without an IPC channel)"
                     : SignalName(config_.shutdown.stop_signal),
                 workers_.size(), FormatDuration(config_.shutdown.timeout));
  }
  for (auto& [pid, worker] : workers_) {
    worker.state = WorkerState::kStopping;
    worker.deadline = TimePoint::max();  // the global deadline rules now
    AskToStop(worker);
  }
}

void Supervisor::FastShutdown() {
  BeginStop();
  exit_code_ = ExitCode::kFastShutdown;
  KillRemaining();
}

void Supervisor::KillRemaining() {
  killed_ = true;
  final_deadline_ = now_ + kKillGrace;
  for (const auto& [pid, worker] : workers_) {
    spdlog::warn("killing worker {} (pid {}) and its process group",
                 worker.slot, pid);
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    FailWith(ExitCode::kWorkerFailed);
  }
  jobs_->KillAll();
}

void Supervisor::SignalWorkers(int signo) {
  for (const auto& [pid, worker] : workers_) kill(pid, signo);
}

void Supervisor::Retire(Worker& worker, const std::string& why) {
  spdlog::info("stopping worker {} (pid {}): {}", worker.slot, worker.pid, why);
  worker.retiring = true;
  worker.successor = false;
  worker.state = WorkerState::kStopping;
  worker.deadline = now_ + config_.shutdown.timeout;
  AskToStop(worker);
}

void Supervisor::KillWorker(Worker& worker, const std::string& reason) {
  worker.fail_reason = reason;
  worker.state = WorkerState::kStopping;
  worker.deadline = TimePoint::max();
  kill(-worker.pid, SIGKILL);
  kill(worker.pid, SIGKILL);
}

void Supervisor::FailWith(ExitCode code) {
  if (exit_code_ == ExitCode::kOk) exit_code_ = code;
}

bool Supervisor::Finished() const {
  if (phase_ != Phase::kStopping) return false;
  if (workers_.empty() && jobs_->running() == 0 &&
      jobs_->pool_processes() == 0) {
    return true;
  }
  if (killed_ && now_ >= final_deadline_) {
    spdlog::error("workers still alive {} after SIGKILL; exiting anyway",
                  FormatDuration(kKillGrace));
    return true;
  }
  return false;
}

Supervisor::Worker* Supervisor::PrimaryWorker(int slot) {
  for (auto& [pid, worker] : workers_) {
    if (worker.slot == slot && !worker.retiring && !worker.successor) {
      return &worker;
    }
  }
  return nullptr;
}

bool Supervisor::HasPrimaryWorker(int slot) const {
  return std::any_of(workers_.begin(), workers_.end(), [slot](const auto& e) {
    const Worker& w = e.second;
    return w.slot == slot && !w.retiring && !w.successor;
  });
}

Supervisor::Worker* Supervisor::FindWorker(pid_t pid) {
  auto it = workers_.find(pid);
  return it == workers_.end() ? nullptr : &it->second;
}

}  // namespace corefork
