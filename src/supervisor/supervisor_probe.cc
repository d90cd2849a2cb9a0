// health.worker: an HTTP GET to each ready worker through its line, so a
// worker that is alive but answers nothing (a busy loop, a deadlock) is
// found and replaced, readiness-gated, like a reload of its one slot.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>

#include "loop/loop_tags.h"
#include "net/steering.h"
#include "supervisor/supervisor.h"
#include "util/format.h"

namespace corefork {
namespace {

constexpr size_t kMaxProbeAnswer = 64 * 1024;

}  // namespace

bool Supervisor::ProbesOn() const {
  return !config_.worker_probe.path.empty() && steering_ &&
         phase_ == Phase::kRunning;
}

void Supervisor::StartProbes() {
  if (!ProbesOn()) return;
  const LinesView lines = Lines();
  if (!lines.on) return;
  for (auto& [pid, worker] : workers_) {
    if (worker.state != WorkerState::kReady || worker.retiring ||
        worker.successor || worker.probe || worker.slot >= desired_ ||
        worker.slot >= lines.group_size) {
      continue;
    }
    if (worker.next_probe == TimePoint{}) {
      // The first probe one interval after the worker became ready.
      worker.next_probe = now_ + config_.worker_probe.interval;
    }
    if (now_ < worker.next_probe) continue;
    // The scraper uses turn 3 of each slot's ports first; probes 0-2.
    LinePorts ports{static_cast<uint16_t>(lines.line_base), 4};
    Result<Fd> fd = ConnectLine(lines.ipv6, lines.port, ports, worker.slot,
                                lines.group_size, worker.probe_failures % 3);
    worker.probe_deadline = now_ + config_.worker_probe.timeout;
    if (!fd.ok()) {
      FinishProbe(worker, fd.status());
      continue;
    }
    worker.probe = std::make_unique<LineRequest>(
        std::move(fd).value(), config_.worker_probe.path, kMaxProbeAnswer);
    epoll_event ev = {};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = MakeTag(LoopTag::kProbe, worker.serial);
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, worker.probe->fd(), &ev) != 0) {
      FinishProbe(worker, PosixError("epoll_ctl ADD (probe)"));
    }
  }
}

void Supervisor::OnProbeEvent(uint64_t serial) {
  for (auto& [pid, worker] : workers_) {
    if (worker.serial != serial || !worker.probe) continue;
    if (!worker.probe->OnReady()) {
      // Request sent: wait for the answer only.
      if (worker.probe->events() == POLLIN) {
        epoll_event ev = {};
        ev.events = EPOLLIN;
        ev.data.u64 = MakeTag(LoopTag::kProbe, worker.serial);
        epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, worker.probe->fd(), &ev);
      }
      return;
    }
    Result<HttpReply> reply = worker.probe->Take();
    Status failure;
    if (!reply.ok()) {
      failure = reply.status();
    } else if (reply->status < 200 || reply->status >= 400) {
      failure =
          Status::Unavailable("answered " + std::to_string(reply->status));
    }
    FinishProbe(worker, failure);
    return;
  }
}

void Supervisor::EnforceProbeDeadlines() {
  for (auto& [pid, worker] : workers_) {
    if (worker.probe && now_ >= worker.probe_deadline) {
      FinishProbe(worker, Status::DeadlineExceeded(
                              "no answer within " +
                              FormatDuration(config_.worker_probe.timeout)));
    }
  }
}

void Supervisor::FinishProbe(Worker& worker, const Status& failure) {
  worker.probe.reset();  // closing the fd also leaves the epoll set
  worker.next_probe = now_ + config_.worker_probe.interval;
  if (failure.ok()) {
    worker.probe_failures = 0;
    return;
  }
  ++worker.probe_failures;
  if (context_.metrics != nullptr) context_.metrics->CountProbeFailure();
  spdlog::warn("worker {} (pid {}): GET {} failed ({} of {}): {}", worker.slot,
               worker.pid, config_.worker_probe.path, worker.probe_failures,
               config_.worker_probe.failures, failure.message());
  if (worker.probe_failures >= config_.worker_probe.failures) {
    Replace(worker, "probe");
  }
}

void Supervisor::Replace(Worker& worker, const std::string& reason) {
  for (const auto& [pid, w] : workers_) {
    if (w.slot == worker.slot && w.successor) return;  // already under way
  }
  if (reload_.active) return;  // the reload replaces it anyway
  worker.probe_failures = 0;
  spdlog::warn("worker {} (pid {}): replacing it ({})", worker.slot, worker.pid,
               reason);
  const int slot = worker.slot;  // StartWorker may move `worker` in the map
  StartWorker(slots_[slot], /*successor=*/true, reason);
}

}  // namespace corefork
