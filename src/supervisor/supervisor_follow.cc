// sizing.follow: the container's limits can change while it runs
// (Kubernetes' in-place pod resize rewrites cpu.max / cpu.cfs_quota_us and
// the memory limit of the running cgroup). Every follow_interval the loop
// re-reads them with the same detection as at start (a few small files) and,
// once two reads in a row agree on a new worker count, scales to it: up
// starts workers, down steers the top slots away and drains them first. A
// fixed `workers: N` is never changed.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <string>

#include "cgroup/cgroup.h"
#include "cgroup/sizing.h"
#include "supervisor/supervisor.h"
#include "util/clock.h"

namespace corefork {
namespace {

std::string Cores(const std::optional<double>& cores) {
  return cores ? fmt::format("{:g}", *cores) : "none";
}

std::string Bytes(const std::optional<uint64_t>& bytes) {
  if (!bytes) return "none";
  if (*bytes % (1u << 20) == 0) return fmt::format("{}Mi", *bytes >> 20);
  return std::to_string(*bytes);
}

// "cpu quota 1 -> 2, memory none -> 512Mi": only what changed.
std::string LimitChanges(const CgroupInfo& before, const CgroupInfo& after) {
  std::string out;
  auto add = [&out](const std::string& what, const std::string& from,
                    const std::string& to) {
    if (from == to) return;
    if (!out.empty()) out += ", ";
    out += what + " " + from + " -> " + to;
  };
  add("cpu quota", Cores(before.cpu_quota_cores), Cores(after.cpu_quota_cores));
  add("cpuset",
      before.cpuset_cpus ? std::to_string(*before.cpuset_cpus) : "none",
      after.cpuset_cpus ? std::to_string(*after.cpuset_cpus) : "none");
  add("affinity", std::to_string(before.affinity_cpus),
      std::to_string(after.affinity_cpus));
  add("memory", Bytes(before.memory_limit_bytes),
      Bytes(after.memory_limit_bytes));
  return out;
}

}  // namespace

bool Supervisor::Following() const {
  return config_.workers.follow && !config_.workers.count &&
         phase_ == Phase::kRunning;
}

void Supervisor::FollowLimits() {
  follow_at_ = now_ + config_.workers.follow_interval;
  CgroupInfo info = DetectCgroup(context_.cgroup_root);
  const std::string changes = LimitChanges(context_.cgroup, info);
  SizingDecision decision =
      DecideWorkers(info, config_.workers, context_.cpu_request_millicores);
  if (!changes.empty()) {
    spdlog::info("limits changed: {}; {} -> {} worker(s) ({})", changes,
                 context_.sizing.workers, decision.workers, decision.reason);
    last_limit_change_ = LimitChangeView{UnixSeconds(),
                                         changes,
                                         context_.cgroup.cpu_quota_cores,
                                         info.cpu_quota_cores,
                                         context_.cgroup.memory_limit_bytes,
                                         info.memory_limit_bytes,
                                         context_.sizing.workers,
                                         decision.workers,
                                         decision.reason};
    if (context_.metrics != nullptr) {
      context_.metrics->CountLimitChange();
      context_.metrics->SetLimits(info.cpu_quota_cores,
                                  info.memory_limit_bytes);
    }
    context_.cgroup = info;
  }
  if (decision.workers == context_.sizing.workers) {
    context_.sizing = decision;  // the same count for a new reason
    follow_pending_.reset();     // or a flap back: nothing to do
    return;
  }
  // Hysteresis: a limit that flaps within one interval does not scale.
  if (follow_pending_ != decision.workers) {
    follow_pending_ = decision.workers;
    return;
  }
  if (reload_.active) return;  // Scale refuses; try again next interval
  const int before = context_.sizing.workers;
  CommandReply reply = Scale(decision.workers);
  if (reply.http_status != 200) {
    spdlog::warn("sizing.follow: cannot scale to {}: {}", decision.workers,
                 reply.body);
    return;
  }
  spdlog::info("sizing.follow: {} -> {} worker(s): {}", before,
               decision.workers, decision.reason);
  context_.sizing = decision;
  follow_pending_.reset();
}

}  // namespace corefork
