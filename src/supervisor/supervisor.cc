#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "os/signals.h"
#include "os/spawn.h"

extern char** environ;

namespace corefork {
namespace {

using std::chrono::milliseconds;

// After SIGKILL, how long to wait for the kernel to finish the kill before
// corefork exits anyway (a process stuck in uninterruptible sleep).
constexpr milliseconds kKillGrace{5'000};

// Variables corefork sets for every worker; inherited values are dropped.
constexpr const char* kContractVars[] = {
    "LISTEN_FDS", "LISTEN_PID",         "LISTEN_FDNAMES",  "NOTIFY_SOCKET",
    "PORT",       "COREFORK_WORKER_ID", "COREFORK_WORKERS"};

bool IsContractVar(const std::string& entry) {
  for (const char* name : kContractVars) {
    size_t n = std::char_traits<char>::length(name);
    if (entry.size() > n && entry.compare(0, n, name) == 0 && entry[n] == '=') {
      return true;
    }
  }
  return false;
}

std::string FormatDuration(milliseconds d) {
  if (d.count() < 1000) return std::to_string(d.count()) + "ms";
  return fmt::format("{:.1f}s", d.count() / 1000.0);
}

}  // namespace

Supervisor::Supervisor(const Config& config, int workers,
                       std::string executable, ListenerSet* listeners)
    : config_(config),
      executable_(std::move(executable)),
      listeners_(listeners),
      dev_null_(open("/dev/null", O_RDONLY | O_CLOEXEC)) {
  for (int id = 0; id < workers; ++id) slots_.emplace_back(id, config.restart);
  base_env_ = BaseEnvironment();
}

std::vector<std::string> Supervisor::BaseEnvironment() const {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    std::string key = entry.substr(0, entry.find('='));
    if (!IsContractVar(entry) && config_.env.count(key) == 0) {
      env.push_back(std::move(entry));
    }
  }
  for (const auto& [key, value] : config_.env) env.push_back(key + "=" + value);
  return env;
}

ExitCode Supervisor::Run() {
  epoll_.Reset(epoll_create1(EPOLL_CLOEXEC));
  Result<Fd> signal_fd = OpenSignalFd();
  if (!epoll_.valid() || !signal_fd.ok()) {
    spdlog::critical(
        "event loop setup failed: {}",
        signal_fd.ok() ? "epoll_create1" : signal_fd.status().message());
    return ExitCode::kStartup;
  }
  signal_fd_ = std::move(signal_fd).value();
  epoll_event ev = {};
  ev.events = EPOLLIN;
  epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, signal_fd_.get(), &ev);

  now_ = Clock::now();
  Reconcile();
  while (!Finished()) {
    WaitForEvents();
    HandleSignals();
    ReapChildren();
    EnforceDeadlines();
    Reconcile();
  }
  // A worker's own children (its process group) must not outlive corefork.
  for (pid_t group : groups_) kill(-group, SIGKILL);
  return exit_code_;
}

void Supervisor::WaitForEvents() {
  int timeout_ms = -1;
  TimePoint deadline = NextDeadline();
  if (deadline != TimePoint::max()) {
    auto wait = std::chrono::ceil<milliseconds>(deadline - Clock::now());
    timeout_ms = static_cast<int>(std::max<int64_t>(0, wait.count()));
  }
  epoll_event events[8];
  epoll_wait(epoll_.get(), events, 8, timeout_ms);  // EINTR: just go round
  now_ = Clock::now();
}

Supervisor::TimePoint Supervisor::NextDeadline() const {
  TimePoint next = TimePoint::max();
  switch (phase_) {
    case Phase::kRunning:
      break;
    case Phase::kDraining:
      next = drain_until_;
      break;
    case Phase::kStopping:
      return killed_ ? final_deadline_ : stop_deadline_;
  }
  for (const Slot& slot : slots_) {
    if (slot.pid < 0) next = std::min(next, slot.restart_at);
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
  switch (signo) {
    case SIGCHLD:
      break;  // ReapChildren runs every turn
    case SIGTERM:
    case SIGINT:
      if (phase_ == Phase::kRunning) {
        spdlog::info("{}: graceful shutdown, draining for {}",
                     SignalName(signo),
                     FormatDuration(config_.shutdown.drain_delay));
        BeginDrain();
      } else if (phase_ == Phase::kDraining) {
        spdlog::info("{} again: skipping the rest of the drain delay",
                     SignalName(signo));
        drain_until_ = now_;
      } else {
        spdlog::info("{}: already stopping workers", SignalName(signo));
      }
      break;
    case SIGQUIT:
      spdlog::warn("SIGQUIT: fast shutdown, killing every worker now");
      FastShutdown();
      break;
    case SIGHUP:
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
    auto slot = std::find_if(slots_.begin(), slots_.end(),
                             [pid](const Slot& s) { return s.pid == pid; });
    if (slot != slots_.end()) {
      OnWorkerExit(*slot, status);
    } else {
      spdlog::debug("reaped orphan pid {} ({})", pid,
                    DescribeWaitStatus(status));
    }
  }
}

void Supervisor::OnWorkerExit(Slot& slot, int status) {
  const pid_t pid = slot.pid;
  slot.pid = -1;
  slot.last_status = status;
  if (kill(-pid, 0) != 0) std::erase(groups_, pid);  // group is empty
  auto uptime =
      std::chrono::duration_cast<milliseconds>(now_ - slot.started_at);
  if (phase_ == Phase::kStopping) {
    bool clean = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                 (WIFSIGNALED(status) && !killed_ &&
                  WTERMSIG(status) == config_.shutdown.stop_signal);
    spdlog::info("worker {} (pid {}) {}", slot.id, pid,
                 DescribeWaitStatus(status));
    if (!clean) FailWith(ExitCode::kWorkerFailed);
    return;
  }
  ScheduleRestart(
      slot, uptime,
      fmt::format("worker {} (pid {}) {} after {}", slot.id, pid,
                  DescribeWaitStatus(status), FormatDuration(uptime)));
}

void Supervisor::ScheduleRestart(Slot& slot, milliseconds uptime,
                                 const std::string& what) {
  std::optional<Duration> delay = slot.backoff.OnExit(uptime);
  if (!delay) {
    spdlog::error("{}; slot {} failed {} times in a row, giving up", what,
                  slot.id, slot.backoff.consecutive_failures());
    FailWith(ExitCode::kCrashLoop);
    BeginStop();
    return;
  }
  spdlog::warn("{}; restarting in {}", what, FormatDuration(*delay));
  slot.restart_at = now_ + *delay;
}

void Supervisor::Reconcile() {
  if (phase_ == Phase::kStopping) return;
  for (Slot& slot : slots_) {
    if (slot.pid < 0 && now_ >= slot.restart_at) StartWorker(slot);
    if (phase_ == Phase::kStopping) return;  // the start failed for good
  }
}

void Supervisor::StartWorker(Slot& slot) {
  SpawnOptions options;
  options.path = executable_;
  options.argv = config_.command;
  options.env = base_env_;
  options.env.push_back("COREFORK_WORKER_ID=" + std::to_string(slot.id));
  options.env.push_back("COREFORK_WORKERS=" + std::to_string(slots_.size()));
  options.env.push_back("PORT=" + std::to_string(listeners_->FirstPort()));
  options.env.push_back("LISTEN_FDS=" +
                        std::to_string(listeners_->configs().size()));
  options.env.push_back("LISTEN_FDNAMES=" + listeners_->FdNames());
  options.pid_env_var = "LISTEN_PID";
  options.pass_fds = listeners_->FdsForSlot(slot.id);
  options.stdin_fd = dev_null_.get();

  SpawnFailure failure;
  Result<pid_t> pid = Spawn(options, &failure);
  if (!pid.ok()) {
    if (!ever_started_ && failure.step == "execve") {
      // The app cannot run at all: no point in retrying.
      spdlog::critical("cannot run {}: {}", config_.command[0],
                       pid.status().message());
      exit_code_ = static_cast<ExitCode>(ExitCodeForExecError(failure.error));
      BeginStop();
      return;
    }
    ScheduleRestart(slot, milliseconds(0),
                    "worker " + std::to_string(slot.id) +
                        " failed to start: " + pid.status().message());
    return;
  }
  if (slot.last_status != -1) ++slot.restarts;
  ever_started_ = true;
  slot.pid = *pid;
  slot.started_at = now_;
  groups_.push_back(*pid);
  spdlog::info("worker {} started (pid {})", slot.id, *pid);
}

void Supervisor::BeginDrain() {
  phase_ = Phase::kDraining;
  drain_until_ = now_ + config_.shutdown.drain_delay;
}

void Supervisor::BeginStop() {
  if (phase_ == Phase::kStopping) return;
  phase_ = Phase::kStopping;
  listeners_->CloseAll();
  stop_deadline_ = now_ + config_.shutdown.timeout;
  int live = 0;
  for (const Slot& slot : slots_) live += slot.pid > 0;
  if (live > 0) {
    spdlog::info("sending {} to {} worker(s); SIGKILL in {}",
                 SignalName(config_.shutdown.stop_signal), live,
                 FormatDuration(config_.shutdown.timeout));
  }
  SignalWorkers(config_.shutdown.stop_signal);
}

void Supervisor::FastShutdown() {
  phase_ = Phase::kStopping;
  listeners_->CloseAll();
  exit_code_ = ExitCode::kFastShutdown;
  KillRemaining();
}

void Supervisor::EnforceDeadlines() {
  if (phase_ == Phase::kDraining && now_ >= drain_until_) BeginStop();
  if (phase_ == Phase::kStopping && !killed_ && now_ >= stop_deadline_) {
    spdlog::warn("shutdown timeout ({}) passed",
                 FormatDuration(config_.shutdown.timeout));
    KillRemaining();
  }
}

void Supervisor::KillRemaining() {
  killed_ = true;
  final_deadline_ = now_ + kKillGrace;
  for (const Slot& slot : slots_) {
    if (slot.pid <= 0) continue;
    spdlog::warn("killing worker {} (pid {}) and its process group", slot.id,
                 slot.pid);
    kill(-slot.pid, SIGKILL);
    kill(slot.pid, SIGKILL);
    FailWith(ExitCode::kWorkerFailed);
  }
}

void Supervisor::SignalWorkers(int signo) {
  for (const Slot& slot : slots_) {
    if (slot.pid > 0) kill(slot.pid, signo);
  }
}

void Supervisor::FailWith(ExitCode code) {
  if (exit_code_ == ExitCode::kOk) exit_code_ = code;
}

bool Supervisor::Finished() const {
  if (phase_ != Phase::kStopping) return false;
  bool any_alive = std::any_of(slots_.begin(), slots_.end(),
                               [](const Slot& s) { return s.pid > 0; });
  if (!any_alive) return true;
  if (killed_ && now_ >= final_deadline_) {
    spdlog::error("workers still alive {} after SIGKILL; exiting anyway",
                  FormatDuration(kKillGrace));
    return true;
  }
  return false;
}

}  // namespace corefork
