// recycle: workers are replaced before they become a problem. A worker whose
// process tree grew past max_rss, one whose own lifetime (max_lifetime with
// jitter) is over, every worker on the cron schedule, and, when the
// container's memory use passes memory_pressure of its limit, the biggest
// worker first, before the OOM killer picks one or kills the pod. Every
// recycle is a readiness-gated replacement of one slot (Replace: the
// successor is ready before the worker stops; the schedule uses the rolling
// reload), and none starts while a replacement, a reload or a scale-down is
// under way, so capacity never drops below the desired count.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "cgroup/cgroup.h"
#include "metrics/proc_stats.h"
#include "supervisor/recycle.h"
#include "supervisor/supervisor.h"
#include "util/clock.h"
#include "util/format.h"

namespace corefork {
namespace {

double Percent(const MemoryUsage& usage) {
  return 100.0 * static_cast<double>(usage.used_bytes) /
         static_cast<double>(usage.limit_bytes);
}

// The pressure guard's longest wait between recycles that do not relieve it.
constexpr Duration kPressureBackoffCap = std::chrono::minutes(5);

// Milliseconds matter for short lifetimes (tests, demos), not for hours.
std::string LifetimeText(Duration d) {
  const double seconds = static_cast<double>(d.count()) / 1000.0;
  if (seconds < 3600) return fmt::format("{:.3f}s", seconds);
  return fmt::format("{:.2f}h", seconds / 3600);
}

}  // namespace

bool Supervisor::RecyclingOn() const {
  return config_.recycle.On() && phase_ == Phase::kRunning && ever_started_;
}

bool Supervisor::ReplacementUnderWay() const {
  if (reload_.active) return true;
  return std::any_of(workers_.begin(), workers_.end(), [this](const auto& e) {
    const Worker& w = e.second;
    return w.successor || w.retiring || w.slot >= desired_;
  });
}

bool Supervisor::Recyclable(const Worker& worker) const {
  return worker.state == WorkerState::kReady && !worker.retiring &&
         !worker.successor && worker.slot < desired_;
}

void Supervisor::SetUpRecycling() {
  if (!config_.recycle.On()) return;
  recycle_check_at_ = now_ + config_.recycle.check_interval;
  pressure_backoff_ =
      PressureBackoff(config_.recycle.check_interval, kPressureBackoffCap);
  recycle_schedule_ = RecycleSchedule(config_.recycle);
  recycle_schedule_.Arm(now_, UnixSeconds());
}

void Supervisor::AssignLifetime(Worker& worker) {
  const RecycleConfig& r = config_.recycle;
  if (r.max_lifetime.count() <= 0) return;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  worker.lifetime = DrawLifetime(r.max_lifetime, r.jitter, u(lifetime_rng_));
  worker.recycle_at = worker.started_at + worker.lifetime;
}

void Supervisor::RecycleWorkers() {
  EndRecycle();
  if (!RecyclingOn() || ReplacementUnderWay()) return;  // one at a time
  if (recycle_schedule_.Due(now_)) {
    recycle_schedule_.Arm(now_, UnixSeconds());
    spdlog::info("recycle.schedule: rolling restart of {} worker(s)", desired_);
    CommandReply reply = StartReload("schedule");
    if (reply.http_status >= 300) {
      spdlog::warn("recycle.schedule: {}", reply.body);
    }
    return;
  }
  if (now_ >= recycle_check_at_) {
    recycle_check_at_ = now_ + config_.recycle.check_interval;
    if (RecycleForMemory()) return;
  }
  RecycleExpired();
}

// Reads each worker's tree RSS (and the cgroup's usage for the pressure
// guard): a few small /proc and cgroup files per worker, every
// check_interval.
bool Supervisor::RecycleForMemory() {
  const RecycleConfig& r = config_.recycle;
  if (!r.max_rss && !r.memory_pressure) return false;
  std::vector<WorkerMemory> sizes;
  for (auto& [pid, worker] : workers_) {
    if (!Recyclable(worker)) continue;
    if (std::optional<TreeRss> tree = ReadTreeRss(pid)) {
      sizes.push_back(WorkerMemory{worker.slot, pid, tree->bytes});
      if (tree->truncated && !worker.tree_truncated_logged) {
        worker.tree_truncated_logged = true;
        spdlog::warn(
            "worker {} (pid {}): its process tree is larger than corefork "
            "walks ({} processes counted); its RSS ({}) is a lower bound",
            worker.slot, pid, tree->processes, FormatMiB(tree->bytes));
      }
    }
  }
  if (r.max_rss) {
    if (std::optional<WorkerMemory> over = BiggestOver(sizes, *r.max_rss)) {
      Recycle(workers_.at(over->pid), "max_rss",
              fmt::format("max_rss: {} > {}", FormatMiB(over->rss_bytes),
                          FormatMiB(*r.max_rss)));
      return true;
    }
  }
  return RecycleForPressure(sizes);
}

bool Supervisor::RecycleForPressure(const std::vector<WorkerMemory>& sizes) {
  const RecycleConfig& r = config_.recycle;
  if (!r.memory_pressure) return false;
  std::optional<MemoryUsage> usage = ReadMemoryUsage(context_.cgroup_root);
  if (!usage) {
    pressure_backoff_.Relieved();
    if (!pressure_unlimited_logged_) {
      spdlog::info(
          "recycle.memory_pressure: no memory limit found; the guard is off "
          "until there is one");
      pressure_unlimited_logged_ = true;
    }
    return false;
  }
  pressure_unlimited_logged_ = false;
  if (!OverPressure(usage->used_bytes, usage->limit_bytes,
                    *r.memory_pressure)) {
    if (pressure_backoff_.Relieved()) {
      spdlog::info("recycle.memory_pressure: down to {:.0f}%; back-off ended",
                   Percent(*usage));
    }
    return false;
  }
  const PressureBackoff::Decision d = pressure_backoff_.Over(now_);
  if (d.first_wait) {
    spdlog::warn(
        "recycle.memory_pressure: still at {:.0f}% after recycling worker {}; "
        "next pressure recycle in {}",
        Percent(*usage), d.after_slot, LifetimeText(*d.wait));
  }
  if (!d.recycle) return false;
  std::optional<WorkerMemory> biggest = Biggest(sizes);
  if (!biggest) return false;
  pressure_backoff_.Recycled(biggest->slot);
  Recycle(workers_.at(biggest->pid), "memory_pressure",
          fmt::format("memory_pressure: container uses {} of its {} limit "
                      "({:.0f}% > {:g}%), this worker {}",
                      FormatMiB(usage->used_bytes),
                      FormatMiB(usage->limit_bytes), Percent(*usage),
                      *r.memory_pressure * 100, FormatMiB(biggest->rss_bytes)));
  return true;
}

void Supervisor::RecycleExpired() {
  Worker* due = nullptr;
  for (auto& [pid, worker] : workers_) {
    if (!Recyclable(worker) || now_ < worker.recycle_at) continue;
    if (due == nullptr || worker.recycle_at < due->recycle_at) due = &worker;
  }
  if (due == nullptr) return;
  auto lived = std::chrono::duration_cast<Duration>(now_ - due->started_at);
  Recycle(*due, "max_lifetime",
          fmt::format("max_lifetime: up {}, its lifetime {}",
                      LifetimeText(lived), LifetimeText(due->lifetime)));
}

void Supervisor::Recycle(Worker& worker, const std::string& reason,
                         const std::string& detail) {
  NoteRecycle(worker.slot, worker.pid, reason, detail);
  // Should the replacement fail, the worker is tried again later, not on
  // every turn (EndRecycle counts from the failure).
  worker.recycle_at =
      std::max(worker.recycle_at, now_ + config_.recycle.check_interval);
  recycling_pid_ = worker.pid;
  Replace(worker, reason);
}

// A recycle's replacement has ended with its worker still in place (the
// successor was not ready within ready.timeout, exited, or did not start):
// that worker and the memory checks wait one check_interval from now, not
// from when the recycle started, since ready.timeout is usually the longer.
void Supervisor::EndRecycle() {
  if (recycling_pid_ < 0 || ReplacementUnderWay()) return;
  auto it = workers_.find(recycling_pid_);
  recycling_pid_ = -1;
  if (it == workers_.end() || it->second.retiring) return;  // replaced
  const TimePoint retry = now_ + config_.recycle.check_interval;
  it->second.recycle_at = std::max(it->second.recycle_at, retry);
  recycle_check_at_ = std::max(recycle_check_at_, retry);
}

void Supervisor::NoteRecycle(int slot, pid_t pid, const std::string& reason,
                             const std::string& detail) {
  spdlog::warn("worker {} (pid {}): recycling it ({})", slot, pid, detail);
  if (context_.metrics != nullptr) context_.metrics->CountRecycle(reason);
  last_recycle_ = RecycleView{UnixSeconds(), slot, pid, reason, detail};
}

Supervisor::TimePoint Supervisor::NextRecycleDeadline() const {
  // While something is under way, its end (an exit, a readiness) wakes the
  // loop, which looks again: no deadline, or a past one would spin.
  if (!RecyclingOn() || ReplacementUnderWay()) return TimePoint::max();
  TimePoint next = recycle_schedule_.next();
  if (config_.recycle.max_rss || config_.recycle.memory_pressure) {
    next = std::min(next, recycle_check_at_);
  }
  for (const auto& [pid, worker] : workers_) {
    if (Recyclable(worker)) next = std::min(next, worker.recycle_at);
  }
  return next;
}

}  // namespace corefork
