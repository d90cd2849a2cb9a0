#include "admin/resource_sampler.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "metrics/proc_stats.h"
#include "util/clock.h"

namespace corefork {

ResourceSampler::ResourceSampler(const StateBoard* board, SampleRing* ring,
                                 std::chrono::milliseconds interval,
                                 std::string proc_root)
    : board_(board),
      ring_(ring),
      interval_(std::max(interval, std::chrono::milliseconds(10))),
      proc_root_(std::move(proc_root)) {}

ResourceSampler::~ResourceSampler() { Stop(); }

void ResourceSampler::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void ResourceSampler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int ResourceSampler::SampleOnce() {
  std::shared_ptr<const StateView> view = board_->Current();
  // One process per slot: the serving one, not a retiring worker or a
  // reload's successor that shares the slot for a moment.
  std::map<int, pid_t> pids;
  for (int id = 0; id < view->desired_workers; ++id) pids[id] = -1;
  for (const WorkerView& w : view->workers) {
    auto [it, added] = pids.emplace(w.id, -1);
    if (w.pid > 0 && (it->second <= 0 || w.state != "stopping")) {
      it->second = w.pid;
    }
  }
  const double now = UnixSeconds();
  int read = 0;
  std::vector<std::pair<int, std::optional<SampleRing::Reading>>> round;
  for (const auto& [slot, pid] : pids) {
    if (static_cast<size_t>(slot) >= ring_->max_slots()) break;
    std::optional<SampleRing::Reading> reading;
    if (pid > 0) {
      if (std::optional<ProcStats> s = ReadProcStats(pid, proc_root_)) {
        reading = SampleRing::Reading{pid, s->cpu_seconds, s->resident_bytes,
                                      s->start_time_seconds};
        ++read;
      }
    }
    round.emplace_back(slot, reading);
  }
  // Before any worker has run (at-start jobs, the first spawn), rounds of
  // nothing would only push real samples out sooner.
  if (read == 0 && !warm_) return 0;
  warm_ = true;
  for (const auto& [slot, reading] : round) ring_->Add(slot, now, reading);
  return read;
}

void ResourceSampler::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    const bool warm = SampleOnce() > 0 || warm_;
    lock.lock();
    const auto wait =
        warm ? interval_ : std::min(interval_, std::chrono::milliseconds(1000));
    wake_.wait_for(lock, wait, [this] { return stop_; });
  }
}

}  // namespace corefork
