// Supervisor: readiness and the notify channels (NOTIFY_SOCKET datagrams and
// COREFORK_NOTIFY_FD lines). Part of the event loop; see supervisor.h.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "supervisor/supervisor.h"
#include "util/file.h"
#include "util/format.h"

namespace corefork {
namespace {

// Per loop turn, so that no worker can keep the loop from its other work;
// level-triggered epoll brings it back for the rest.
constexpr int kMaxDatagramsPerTurn = 256;
constexpr int kMaxPipeReadsPerTurn = 16;  // x 4 KiB

// The parent pid of `pid` from /proc/PID/stat, or 0.
pid_t ParentOf(pid_t pid) {
  Result<std::string> read =
      ReadFileBounded("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!read.ok()) return 0;
  const std::string& text = *read;
  size_t close = text.rfind(')');  // comm may contain spaces and parens
  if (close == std::string::npos) return 0;
  char state = 0;
  int ppid = 0;
  if (std::sscanf(text.c_str() + close + 1, " %c %d", &state, &ppid) != 2) {
    return 0;
  }
  return ppid;
}

}  // namespace

void Supervisor::ReadNotifySocket() {
  if (!notify_socket_) return;
  // A bounded number per turn: a chatty worker cannot hold the loop.
  for (int i = 0; i < kMaxDatagramsPerTurn; ++i) {
    std::optional<NotifySocket::Datagram> d = notify_socket_->Receive();
    if (!d) return;
    Worker* worker = FindWorkerOfSender(d->sender);
    if (worker == nullptr) {
      spdlog::debug("notify message from pid {} (not a worker): {:.200}",
                    d->sender, d->text);
      continue;
    }
    if (!OnShimMessage(*worker, *d)) OnNotify(*worker, d->text);
  }
}

void Supervisor::ReadNotifyPipe(uint64_t serial) {
  // Not `auto& [pid, worker]`: clang 14 cannot capture a structured
  // binding in the lambda below (C++20 P1091, clang 16+).
  for (auto& entry : workers_) {
    Worker& worker = entry.second;
    if (worker.serial != serial || !worker.notify_pipe.valid()) continue;
    char buf[4096];
    ssize_t n = 0;
    for (int reads = 0;
         reads < kMaxPipeReadsPerTurn &&
         (n = read(worker.notify_pipe.get(), buf, sizeof buf)) > 0;
         ++reads) {
      // A cut line is not a message anyone sent: drop it.
      worker.notify_lines.Feed(std::string_view(buf, static_cast<size_t>(n)),
                               [&](std::string_view line, bool cut) {
                                 if (!cut) OnNotify(worker, std::string(line));
                                 return true;
                               });
    }
    // End of file stays readable forever (level-triggered): stop watching.
    if (n == 0) worker.notify_pipe.Reset();
    return;
  }
}

Supervisor::Worker* Supervisor::FindWorkerOfSender(pid_t sender) {
  if (Worker* w = FindWorker(sender)) return w;
  // Workers lead their process groups, so most descendants share the
  // worker's pgid; a descendant that made its own group is found by
  // walking up its parents.
  if (Worker* w = FindWorker(getpgid(sender))) return w;
  pid_t pid = sender;
  for (int depth = 0; depth < 32 && pid > 1; ++depth) {
    pid = ParentOf(pid);
    if (Worker* w = FindWorker(pid)) return w;
  }
  return nullptr;
}

void Supervisor::OnNotify(Worker& worker, const std::string& text) {
  for (const auto& [key, value] : ParseNotifyMessage(text)) {
    if (key == "READY" && value == "1") {
      MarkReady(worker);
    } else if (key == "STATUS") {
      worker.status_text = value.substr(0, 256);
    } else if (key == "WATCHDOG" && value == "1") {
      if (worker.state == WorkerState::kReady &&
          config_.watchdog.timeout.count() > 0) {
        worker.deadline = now_ + config_.watchdog.timeout;
      }
    } else if (key == "WATCHDOG" && value == "trigger") {
      if (worker.state == WorkerState::kReady) worker.deadline = now_;
    } else if (key == "STOPPING" && value == "1") {
      if (worker.state != WorkerState::kStopping) {
        spdlog::info("worker {} (pid {}) says it is stopping", worker.slot,
                     worker.pid);
        worker.state = WorkerState::kStopping;
        worker.deadline = TimePoint::max();
      }
    }
  }
}

void Supervisor::MarkReady(Worker& worker) {
  if (worker.state != WorkerState::kStarting) return;
  worker.state = WorkerState::kReady;
  worker.ready_at = now_;
  worker.deadline = config_.watchdog.timeout.count() > 0
                        ? now_ + config_.watchdog.timeout
                        : TimePoint::max();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      now_ - worker.started_at);
  if (context_.metrics != nullptr) {
    context_.metrics->ObserveReadySeconds(took.count() / 1000.0);
  }
  if (config_.ready.mode != ReadyMode::kNone) {
    spdlog::info("worker {} (pid {}) ready after {}", worker.slot, worker.pid,
                 FormatDuration(took));
  }
  if (worker.successor) OnSuccessorReady(worker);
}

}  // namespace corefork
