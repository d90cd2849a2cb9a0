// Supervisor: commands from other threads, rolling reload, scaling, and the
// published StateView. Part of the event loop; see supervisor.h.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

#include "supervisor/supervisor.h"
#include "util/clock.h"
#include "util/format.h"
#include "util/json.h"

namespace corefork {
namespace {

CommandReply Reply(int status, std::string body) {
  return CommandReply{status, std::move(body), {}};
}

CommandReply ErrorReply(int status, const std::string& message) {
  return Reply(status, JsonDump(Json{{"error", message}}));
}

// The previous view's exits plus the processes it showed that `next` no
// longer has, newest first. Workers leave the table in the turn they are
// reaped, which also sets their slot's last_exit (two exits of one slot in
// one turn both get the later reason). `reason_of` maps a slot id to it.
template <typename ReasonOf>
std::shared_ptr<const std::vector<ExitView>> RecentExits(
    const StateView& previous, const StateView& next,
    std::chrono::steady_clock::time_point now, const ReasonOf& reason_of) {
  std::vector<ExitView> gone;
  for (const WorkerView& w : previous.workers) {
    if (w.pid <= 0) continue;
    bool alive =
        std::any_of(next.workers.begin(), next.workers.end(),
                    [&](const WorkerView& v) { return v.pid == w.pid; });
    if (alive) continue;
    ExitView e;
    e.slot = w.id;
    e.pid = w.pid;
    e.reason = reason_of(w.id);
    e.unix_seconds = UnixSeconds();
    e.lived_seconds = std::chrono::duration<double>(now - w.started_at).count();
    gone.push_back(std::move(e));
  }
  if (gone.empty()) return previous.recent_exits;
  auto exits = std::make_shared<std::vector<ExitView>>(std::move(gone));
  if (previous.recent_exits) {
    for (const ExitView& e : *previous.recent_exits) {
      if (exits->size() >= StateView::kMaxRecentExits) break;
      exits->push_back(e);
    }
  }
  if (exits->size() > StateView::kMaxRecentExits) {
    exits->resize(StateView::kMaxRecentExits);
  }
  return exits;
}

const char* StateName(bool has_worker, bool ready, bool stopping) {
  if (!has_worker) return "backoff";
  if (stopping) return "stopping";
  return ready ? "ready" : "starting";
}

}  // namespace

void Supervisor::HandleCommands() {
  if (context_.commands == nullptr) return;
  for (std::unique_ptr<Command>& command : context_.commands->TakeAll()) {
    switch (command->kind) {
      case Command::Kind::kPing:
        command->reply.set_value(Reply(200, JsonDump(Json{{"live", true}})));
        break;
      case Command::Kind::kReload:
        command->reply.set_value(StartReload());
        break;
      case Command::Kind::kScale:
        command->reply.set_value(Scale(command->count));
        break;
      case Command::Kind::kScaleBy:
        command->reply.set_value(Scale(desired_ + command->count));
        break;
      case Command::Kind::kRunJob:
      case Command::Kind::kGetRun:
      case Command::Kind::kCancelRun:
      case Command::Kind::kListJobs:
        jobs_->HandleCommand(*command, now_);
        break;
    }
  }
}

CommandReply Supervisor::StartReload(const std::string& reason) {
  if (phase_ != Phase::kRunning) return ErrorReply(503, "shutting down");
  if (reload_.active) {
    return ErrorReply(409, "a reload is already in progress");
  }
  spdlog::info("reload: replacing {} worker(s) one at a time", desired_);
  reload_ = Reload{};
  reload_.active = true;
  reload_.reason = reason;
  ReloadStep();
  return Reply(202,
               JsonDump(Json{{"reload", "started"}, {"workers", desired_}}));
}

void Supervisor::ReloadStep() {
  while (reload_.active && reload_.slot < desired_) {
    if (PrimaryWorker(reload_.slot) == nullptr) {
      // An empty slot's next start runs the new code anyway.
      ++reload_.slot;
      continue;
    }
    const pid_t old_pid = PrimaryWorker(reload_.slot)->pid;
    Worker* successor =
        StartWorker(slots_[reload_.slot], /*successor=*/true, reload_.reason);
    if (successor != nullptr && reload_.reason == "schedule") {
      NoteRecycle(reload_.slot, old_pid, "schedule", "recycle.schedule");
    }
    return;  // continues in OnSuccessorReady, then when the old one exits
  }
  if (reload_.active) {
    reload_.active = false;
    spdlog::info("reload complete: {} worker(s) replaced", reload_.replaced);
  }
}

void Supervisor::OnSuccessorReady(Worker& successor) {
  successor.successor = false;
  Slot& slot = slots_[successor.slot];
  ++slot.restarts;
  if (context_.metrics != nullptr) {
    context_.metrics->CountRestart(successor.replaces_because);
  }
  // A probe's replacement is one slot's reload, outside any reload.
  const bool reloading = reload_.active && successor.slot == reload_.slot;
  if (reloading) ++reload_.replaced;
  Worker* old = nullptr;
  for (auto& [pid, w] : workers_) {
    if (w.slot == successor.slot && pid != successor.pid && !w.retiring &&
        !w.successor) {
      old = &w;
    }
  }
  if (old != nullptr) {
    if (reloading) reload_.old_pid = old->pid;
    Retire(*old, fmt::format("replaced by pid {}", successor.pid));
    return;  // the next slot starts when this one has exited
  }
  if (!reloading) return;
  ++reload_.slot;
  ReloadStep();
}

void Supervisor::AbortReplacement(const std::string& why) {
  if (reload_.active) return AbortReload(why);
  spdlog::error("replacing a worker failed: {}; the current one keeps serving",
                why);
  for (auto& [pid, worker] : workers_) {
    if (!worker.successor) continue;
    worker.successor = false;
    worker.retiring = true;
    KillWorker(worker, worker.replaces_because);
  }
}

void Supervisor::AbortReload(const std::string& why) {
  spdlog::error("reload aborted: {}; the current workers keep serving", why);
  reload_.active = false;
  for (auto& [pid, worker] : workers_) {
    if (!worker.successor) continue;
    worker.successor = false;
    worker.retiring = true;
    KillWorker(worker, "reload");
  }
}

CommandReply Supervisor::Scale(int workers) {
  if (phase_ != Phase::kRunning) return ErrorReply(503, "shutting down");
  if (reload_.active) return ErrorReply(409, "a reload is in progress");
  if (workers < 1 || workers > config_.workers.max) {
    return ErrorReply(400, fmt::format("workers must be 1..{}, got {}",
                                       config_.workers.max, workers));
  }
  const int previous = desired_;
  for (int id = previous; id < workers; ++id) {
    // A slot (re)created by scaling starts fresh: its first worker is no
    // restart, and an earlier life's failures do not count.
    if (id >= static_cast<int>(slots_.size())) {
      slots_.emplace_back(id, config_.restart);
    } else {
      slots_[id] = Slot(id, config_.restart);
    }
    slots_[id].restart_at = now_;
    Status s = context_.listeners->EnsureSlot(id);
    if (!s.ok()) {
      CloseUnusedSlots();
      return ErrorReply(500, "cannot add worker slot: " + s.message());
    }
  }
  if (workers != previous) {
    spdlog::info("scaling from {} to {} worker(s)", previous, workers);
  }
  desired_ = workers;
  RetireLeavingWorkers();  // at once without steering, else once drained
  CloseUnusedSlots();
  return Reply(200,
               JsonDump(Json{{"workers", workers}, {"previous", previous}}));
}

void Supervisor::CloseUnusedSlots() {
  // From the top down, stopping at a slot still in use: closing a socket
  // in the middle of a reuseport group moves the group's last socket into
  // its place, and the group would no longer be in slot order.
  for (int id = static_cast<int>(slots_.size()) - 1; id >= desired_; --id) {
    bool in_use =
        std::any_of(workers_.begin(), workers_.end(),
                    [id](const auto& w) { return w.second.slot == id; });
    if (in_use) break;
    context_.listeners->CloseSlot(id);
  }
}

int Supervisor::ReadyWorkers() const {
  return static_cast<int>(
      std::count_if(workers_.begin(), workers_.end(), [](const auto& entry) {
        return entry.second.state == WorkerState::kReady &&
               !entry.second.retiring;
      }));
}

int Supervisor::MinReadyWorkers() const {
  if (config_.ready.min_workers_percent) {
    return static_cast<int>(
        std::ceil(desired_ * config_.ready.min_workers / 100.0));
  }
  return std::min(config_.ready.min_workers, desired_);
}

void Supervisor::PublishState() {
  auto view = std::make_shared<StateView>();
  view->version = ++publish_version_;
  view->draining = phase_ != Phase::kRunning;
  view->stopping = phase_ == Phase::kStopping;
  view->desired_workers = desired_;
  view->ready_workers = ReadyWorkers();
  view->min_ready_workers = MinReadyWorkers();
  view->jobs_not_ready = jobs_->NotReadyReason();
  view->reloading = reload_.active;
  view->cgroup = context_.cgroup;
  view->sizing = context_.sizing;
  view->started_unix_seconds = started_unix_seconds_;
  view->lines = Lines();
  view->last_recycle = last_recycle_;
  view->last_limit_change = last_limit_change_;
  view->next_scheduled_recycle_unix = recycle_schedule_.next_unix();

  std::map<std::string, int> counts = {
      {"starting", 0}, {"ready", 0}, {"stopping", 0}, {"backoff", 0}};
  for (const auto& [pid, w] : workers_) {
    bool stopping = w.state == WorkerState::kStopping || w.retiring;
    counts[StateName(true, w.state == WorkerState::kReady, stopping)]++;
    WorkerView v;
    v.id = w.slot;
    v.pid = pid;
    v.state = StateName(true, w.state == WorkerState::kReady, stopping);
    v.ready = w.state == WorkerState::kReady && !w.retiring;
    v.restarts = slots_[w.slot].restarts;
    v.last_exit = slots_[w.slot].last_exit;
    v.started_at = w.started_at;
    v.status_text = w.status_text;
    v.recycle_at = w.recycle_at;
    v.lifetime_ms = w.lifetime.count();
    view->workers.push_back(std::move(v));
  }
  for (int id = 0; id < desired_ && phase_ != Phase::kStopping; ++id) {
    bool has_worker =
        std::any_of(view->workers.begin(), view->workers.end(),
                    [id](const WorkerView& v) { return v.id == id; });
    if (has_worker) continue;
    counts["backoff"]++;
    WorkerView v;
    v.id = id;
    v.state = "backoff";
    v.restarts = slots_[id].restarts;
    v.last_exit = slots_[id].last_exit;
    view->workers.push_back(std::move(v));
  }
  std::sort(view->workers.begin(), view->workers.end(),
            [](const WorkerView& a, const WorkerView& b) {
              return a.id != b.id ? a.id < b.id : a.pid < b.pid;
            });
  if (context_.metrics != nullptr) {
    context_.metrics->SetWorkers(desired_, counts);
    context_.metrics->SetDraining(view->draining);
    context_.metrics->SetReady(!view->draining &&
                               view->ready_workers >= view->min_ready_workers &&
                               view->jobs_not_ready.empty());
  }
  if (context_.board != nullptr) {
    // The loop is the board's only writer: Current() is our last view.
    view->recent_exits =
        RecentExits(*context_.board->Current(), *view, now_, [this](int id) {
          return id < static_cast<int>(slots_.size()) ? slots_[id].last_exit
                                                      : std::string();
        });
    context_.board->Publish(std::move(view));
  }
}

}  // namespace corefork
